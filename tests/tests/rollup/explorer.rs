//! The attribution explorer in a real browser: after the verification run (a Datanet, two
//! adapters, honest requests recorded, fulfilled and settled by the sequencer, a forged record
//! the follower flags), `openledger explorer` serves the sequencer's chain with the follower as
//! its verifier, and headless Chromium (`tests/explorer/check.mjs`, puppeteer-core) renders
//! the pages. What the DOM shows is compared with the chain: the highlighted spans and their
//! contributors with `ol_getAttribution`, the weights with the precompile's record, the paid
//! shares with the market's `Credited` events, the verdicts with the follower's, and the
//! contributor page's earnings and attributed weight with the events and `reputationOf`. A
//! prompt with markup renders as text and runs nothing. Screenshots are kept as artifacts.

use crate::devnet::Devnet;
use alloy::{
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use eyre::{Context as _, Result, ensure, eyre};
use ol_e2e::lifecycle::{DATANETS, MARKET, POA, SETTLED, pay_for};
use ol_e2e::{
    contracts::{DatanetRegistry, IProofOfAttribution, InferenceMarket},
    dev_signer, mined, raw_rpc, repo_file, repo_root, run_command, wait_until,
};
use serde_json::Value;
use std::{path::PathBuf, time::Duration};

/// A prompt whose markup would run if the page did not escape it.
const MARKUP_PROMPT: &str = "the keeper <script>window.pwned=true;document.title='pwned'</script>\
                             <img src=x onerror=\"window.pwned=true\">";

/// What the explorer check needs from the verification run.
pub(crate) struct Run {
    /// A settled request of the lineage adapter (its output has traced spans).
    pub(crate) lineage_request: B256,
    /// The request whose record another attestor forged.
    pub(crate) forged_request: B256,
    /// The lineage adapter.
    pub(crate) adapter: U256,
    /// The Datanet.
    pub(crate) datanet: U256,
    /// Its curator (the owner).
    pub(crate) curator: Address,
    /// A contributor of the Datanet.
    pub(crate) contributor: Address,
    /// The escrow of one request.
    pub(crate) escrow: U256,
    /// The paying user.
    pub(crate) user: Address,
}

/// Where the test keeps its screenshots: `$OL_TEST_ARTIFACTS/explorer`, else
/// `test-artifacts/explorer` in the cargo profile directory (`target/debug`).
fn artifacts_dir() -> Result<PathBuf> {
    let root = match std::env::var_os("OL_TEST_ARTIFACTS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => ol_e2e::profile_dir()?.join("test-artifacts"),
    };
    let dir = root.join("explorer");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Sum of the market's credits to `account` (for `request`, when given).
async fn credited(l2: &DynProvider, account: Address, request: Option<B256>) -> Result<U256> {
    let mut filter = Filter::new()
        .address(MARKET)
        .event_signature(InferenceMarket::Credited::SIGNATURE_HASH)
        .topic1(B256::left_padding_from(account.as_slice()))
        .from_block(0u64);
    if let Some(request) = request {
        filter = filter.topic2(request);
    }
    Ok(l2
        .get_logs(&filter)
        .await?
        .iter()
        .filter_map(|log| log.log_decode::<InferenceMarket::Credited>().ok())
        .fold(U256::ZERO, |sum, c| sum + c.inner.data.amount))
}

/// Serves the explorer of the run's chain and checks what Chromium renders.
pub(crate) async fn check_explorer(devnet: &Devnet, run: &Run) -> Result<()> {
    let l2 = devnet.sequencer.provider();
    let market = InferenceMarket::new(MARKET, l2.clone());
    repo_file("node_modules/puppeteer-core/package.json")
        .map_err(|err| err.wrap_err("puppeteer-core is not installed: run scripts/setup.sh"))?;
    // A curator besides the owner, and a paid prompt with markup in it.
    let helper = dev_signer(9).address();
    mined(
        &l2,
        DatanetRegistry::new(DATANETS, l2.clone())
            .setCurator(run.datanet, helper, true)
            .from(run.curator)
            .send()
            .await?,
        true,
        "setCurator",
    )
    .await?;
    let (markup_request, _) =
        pay_for(&l2, run.adapter, run.escrow, run.user, MARKUP_PROMPT).await?;
    wait_until(
        "the lineage request to be settled",
        Duration::from_secs(60),
        Duration::from_millis(500),
        async || {
            let status = market.getRequest(run.lineage_request).call().await?.status;
            Ok((status == SETTLED).then_some(()))
        },
    )
    .await
    .wrap_err_with(|| devnet.sequencer.log_tail(30))?;

    let port = ol_e2e::free_port()?;
    let mut explorer = tokio::process::Command::new(ol_e2e::openledger_bin()?)
        .args([
            "explorer",
            "--rpc-url",
            devnet.sequencer.url().as_str(),
            "--verifier-url",
            devnet.follower.url().as_str(),
            "--http.port",
            &port.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let url = format!("http://127.0.0.1:{port}");
    wait_until(
        "the explorer to answer",
        Duration::from_secs(20),
        Duration::from_millis(200),
        async || {
            Ok(reqwest::get(&url)
                .await
                .ok()
                .filter(|r| r.status().is_success()))
        },
    )
    .await?;
    let out = artifacts_dir()?;
    let output = run_command(
        std::path::Path::new("node"),
        &[
            repo_file("tests/explorer/check.mjs")?
                .to_string_lossy()
                .into_owned(),
            "--url".into(),
            url.clone(),
            "--request".into(),
            run.lineage_request.to_string(),
            "--forged".into(),
            run.forged_request.to_string(),
            "--script-request".into(),
            markup_request.to_string(),
            "--contributor".into(),
            run.contributor.to_string(),
            "--out".into(),
            out.to_string_lossy().into_owned(),
        ],
        &repo_root(),
    )
    .await?
    .ensure_success()?;
    explorer.start_kill()?;
    let report = output.last_line_json()?;
    for page in [
        "request",
        "forged",
        "script",
        "contributor",
        "home",
        "requests",
        "datanet",
        "models",
    ] {
        ensure!(
            report[format!("{page}Status")] == 200,
            "{page} page: {report}"
        );
    }
    ensure!(
        report["consoleErrors"]
            .as_array()
            .is_some_and(Vec::is_empty)
            && report["dialogs"] == 0,
        "the pages ran without script errors or dialogs: {report}"
    );

    // The spans: the journal's, each with its text and the contributors of its documents.
    let attribution = raw_rpc(&l2, "ol_getAttribution", (run.lineage_request,)).await?;
    let output_text = report["request"]["output"]
        .as_str()
        .ok_or_else(|| eyre!("no output rendered: {report}"))?;
    let published = ol_e2e::lifecycle::published_output(&l2, run.lineage_request).await?;
    ensure!(
        output_text.as_bytes() == published.as_slice(),
        "the page shows the published output"
    );
    let served_spans = attribution["spans"].as_array().cloned().unwrap_or_default();
    let shown_spans = report["request"]["spans"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    ensure!(
        !served_spans.is_empty() && served_spans.len() == shown_spans.len(),
        "every traced span is listed: {} served, {} shown",
        served_spans.len(),
        shown_spans.len()
    );
    for (served, shown) in served_spans.iter().zip(&shown_spans) {
        let start = ol_e2e::json_quantity(served, "start")?.to::<usize>();
        let end = ol_e2e::json_quantity(served, "end")?.to::<usize>();
        let count = ol_e2e::json_quantity(served, "count")?;
        let contributors: Vec<Value> = served["documents"]
            .as_array()
            .into_iter()
            .flatten()
            .take(10)
            .map(|d| Value::String(d["contributor"].as_str().unwrap_or("").to_lowercase()))
            .collect();
        let shown_contributors: Vec<Value> = shown["contributors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| Value::String(c.as_str().unwrap_or("").to_lowercase()))
            .collect();
        ensure!(
            shown["text"] == output_text[start..end]
                && shown["count"] == count.to_string()
                && shown_contributors == contributors,
            "span {start}..{end} as served ({served}) and as shown ({shown})"
        );
    }
    let marks = report["request"]["marks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    ensure!(
        !marks.is_empty(),
        "the output has highlighted spans: {report}"
    );
    let clicked = report["afterClick"]["clicked"]
        .as_str()
        .ok_or_else(|| eyre!("the click marked nothing: {report}"))?;
    let mut expected: Vec<&str> = clicked.split(' ').collect();
    let mut active: Vec<&str> = report["afterClick"]["active"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    expected.sort_unstable();
    active.sort_unstable();
    ensure!(
        expected == active,
        "a click shows the documents of the spans under it: {report}"
    );

    // Weights from the record, shares from the market's credits.
    let record = IProofOfAttribution::new(POA, l2.clone())
        .attributionOf(run.lineage_request)
        .call()
        .await?;
    let weights = report["request"]["weights"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    ensure!(
        weights.len() == record.contributors.len() && !weights.is_empty(),
        "one row per recorded contributor: {report}"
    );
    for ((row, contributor), weight) in weights
        .iter()
        .zip(&record.contributors)
        .zip(&record.weightsPpm)
    {
        let paid = credited(&l2, *contributor, Some(run.lineage_request)).await?;
        ensure!(
            row["contributor"].as_str().map(str::to_lowercase)
                == Some(contributor.to_string().to_lowercase())
                && row["weightPpm"] == *weight
                && row["paidWei"] == paid.to_string(),
            "{contributor}: weight {weight} ppm and {paid} wei credited on chain; the page shows {row}"
        );
    }

    // The verdicts are the follower's.
    for (request, page) in [
        (run.lineage_request, "request"),
        (run.forged_request, "forged"),
    ] {
        let verdict = raw_rpc(&devnet.follower.provider(), "ol_verification", (request,)).await?;
        ensure!(
            report[page]["verification"] == verdict["status"],
            "{page}: the follower says {verdict}, the page {}",
            report[page]
        );
    }
    ensure!(
        report["forged"]["verification"] == "mismatch"
            && report["forged"]["mismatches"]
                .as_array()
                .is_some_and(|m| m.iter().any(|f| f == "weightsPpm")),
        "the forged record is shown as a mismatch on its weights: {report}"
    );

    // Markup in a prompt is text.
    let script = &report["script"];
    ensure!(
        script["prompt"] == MARKUP_PROMPT
            && script["elements"] == 0
            && script["scripts"] == 1
            && script["pwned"] == false
            && script["title"]
                .as_str()
                .is_some_and(|t| !t.contains("pwned")),
        "the prompt renders as text and runs nothing: {script}"
    );

    // The contributor's page.
    let reputation = DatanetRegistry::new(DATANETS, l2.clone())
        .reputationOf(run.contributor)
        .call()
        .await?;
    let earned = credited(&l2, run.contributor, None).await?;
    let contributor = &report["contributor"];
    ensure!(
        contributor["attributedPpm"] == reputation.attributedWeightPpm.to_string()
            && contributor["earnedWei"] == earned.to_string()
            && contributor["approved"].as_str() == Some(reputation.approved.to_string().as_str())
            && !earned.is_zero()
            && contributor["contributions"].as_u64() == Some(reputation.approved),
        "the contributor page: attributed {} ppm, {earned} wei earned, {} approved; shown {contributor}",
        reputation.attributedWeightPpm,
        reputation.approved
    );

    // The lists.
    let count = market.requestCount().call().await?;
    ensure!(
        report["home"]["paid inferences"] == count.to_string()
            && report["requests"].as_array().map(Vec::len) == Some(count.to::<usize>())
            && report["requests"][0] == markup_request.to_string(),
        "the lists show every request, newest first: {report}"
    );
    ensure!(
        report["datanet"]["curators"] == serde_json::json!([helper.to_string()])
            && report["datanet"]["contributions"]
                .as_array()
                .is_some_and(|c| !c.is_empty() && c.iter().all(|s| s == "approved")),
        "the Datanet's curators and contributions: {report}"
    );
    ensure!(
        report["adapters"].as_array().is_some_and(|a| a
            .iter()
            .any(|row| row["adapter"] == run.adapter.to_string())),
        "the models page lists the adapter: {report}"
    );
    let screenshot = std::fs::metadata(out.join("request.png"))?;
    ensure!(screenshot.len() > 10_000, "the screenshot was saved");
    eprintln!("explorer screenshots in {}", out.display());
    Ok(())
}
