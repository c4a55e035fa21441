//! `openledger node --explorer`: the attribution explorer next to the node's own RPC. Every
//! page answers on a fresh dev chain, with the pages' security headers; bad parameters are a
//! 400 page that says what was wrong, unknown ids a 404, and an explorer whose node does not
//! answer a 502, never a crash. With more paid requests than a page holds, the lists page
//! newest first and the next page holds the rest. (The browser test of the pages after a whole lifecycle is in
//! the rollup tests: `rollup::explorer`.)

use alloy::{
    primitives::{B256, U256, keccak256},
    providers::Provider,
};
use eyre::{Result, ensure};
use ol_e2e::{
    TestNode,
    contracts::{DatanetRegistry, InferenceMarket},
    dev_address, event, free_port,
    lifecycle::{
        DATANETS, MARKET, MAX_IN, MAX_OUT, METHOD_LINEAGE, register_adapter, register_base,
    },
    mined,
};

/// One more request than a page holds: the list needs a second page.
const REQUESTS: u64 = 26;

async fn get(url: &str) -> Result<(u16, String, reqwest::header::HeaderMap)> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let response = client.get(url).send().await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Ok((status, response.text().await?, headers))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_serves_the_explorer_and_refuses_bad_parameters() -> Result<()> {
    let port = free_port()?;
    let metrics_port = free_port()?;
    let node = TestNode::start_with_args(vec![
        "--explorer".into(),
        "--explorer.port".into(),
        port.to_string(),
        "--metrics".into(),
        format!("127.0.0.1:{metrics_port}"),
    ])
    .await?;
    let base = format!("http://127.0.0.1:{port}");
    let contributor = dev_address(2);
    for page in [
        "/".to_string(),
        "/blocks".into(),
        "/blocks?page=2".into(),
        "/block/0".into(),
        "/datanets".into(),
        "/models".into(),
        "/requests".into(),
        format!("/contributor/{contributor}"),
        "/assets/explorer.js".into(),
        "/assets/explorer.css".into(),
    ] {
        let (status, body, headers) = get(&format!("{base}{page}")).await?;
        ensure!(status == 200, "{page}: {status}\n{body}");
        ensure!(
            headers
                .get("content-security-policy")
                .and_then(|v| v.to_str().ok())
                .is_some_and(
                    |csp| csp.contains("script-src 'self'") && !csp.contains("unsafe-inline")
                ),
            "{page} carries the content security policy: {headers:?}"
        );
    }
    let (_, home, _) = get(&format!("{base}/")).await?;
    ensure!(
        home.contains("OpenLedger explorer") && home.contains("data-count=\"paid inferences\">0<"),
        "the home page of a fresh chain: {home}"
    );

    for (page, status, says) in [
        ("/request/0x12", 400, "64 hex digits"),
        (
            "/request/0x00000000000000000000000000000000000000000000000000000000000000aa",
            404,
            "no paid inference",
        ),
        ("/block/99999999", 404, "no block"),
        ("/block/zz", 400, "a block is a number or a hash"),
        ("/datanet/7", 404, "no Datanet 7"),
        ("/datanet/-1", 400, "decimal"),
        ("/adapter/3", 404, "no adapter 3"),
        ("/contributor/0xnot", 400, "40 hex digits"),
        ("/requests?page=0", 400, "page must be"),
        (
            "/requests?page=99999999999999999999999",
            400,
            "page must be",
        ),
        (
            "/tx/0x0000000000000000000000000000000000000000000000000000000000000001",
            404,
            "no transaction",
        ),
        ("/search?q=%3Cscript%3E", 404, "&quot;&lt;script&gt;&quot;"),
        ("/nowhere", 404, "no such page"),
    ] {
        let (got, body, _) = get(&format!("{base}{page}")).await?;
        ensure!(
            got == status && body.contains(says) && !body.contains("<script>"),
            "{page}: expected {status} saying {says:?}, got {got}:\n{body}"
        );
    }
    // The node's metrics count the explorer's answers by status: 6 refusals, 7 unknowns.
    let (_, scrape, _) = get(&format!("http://127.0.0.1:{metrics_port}/metrics")).await?;
    let count = |status: &str| {
        scrape
            .lines()
            .find_map(|line| {
                line.strip_prefix(&format!("explorer_responses_total{{status=\"{status}\"}} "))
            })
            .and_then(|value| value.trim().parse::<f64>().ok())
    };
    ensure!(
        count("400") == Some(6.0) && count("404") == Some(7.0) && count("200") >= Some(11.0),
        "explorer_responses_total by status: 400 {:?}, 404 {:?}, 200 {:?}",
        count("400"),
        count("404"),
        count("200")
    );
    let (status, _, headers) = get(&format!("{base}/search?q={contributor}")).await?;
    ensure!(
        status == 303
            && headers.get("location").and_then(|v| v.to_str().ok())
                == Some(format!("/contributor/{contributor}").as_str()),
        "searching an address leads to its page: {status} {headers:?}"
    );
    let (status, _, headers) = get(&format!("{base}/search?q=0")).await?;
    ensure!(
        status == 303 && headers.get("location").is_some_and(|l| l == "/block/0"),
        "searching a number leads to the block"
    );
    pages_of_many_requests(&node, &base).await?;
    node.finish().await?;

    // The node is gone: the explorer process alone answers 502 pages, and keeps running.
    let port = free_port()?;
    let rpc_port = free_port()?;
    let mut explorer = tokio::process::Command::new(ol_e2e::openledger_bin()?)
        .args([
            "explorer",
            "--rpc-url",
            &format!("http://127.0.0.1:{rpc_port}"),
            "--http.port",
            &port.to_string(),
        ])
        .kill_on_drop(true)
        .spawn()?;
    let url = format!("http://127.0.0.1:{port}/");
    let answer = ol_e2e::wait_until(
        "the explorer to listen",
        std::time::Duration::from_secs(20),
        std::time::Duration::from_millis(200),
        async || Ok(get(&url).await.ok()),
    )
    .await?;
    ensure!(
        answer.0 == 502
            && answer.1.contains("did not answer")
            && !answer.1.contains(&rpc_port.to_string()),
        "a node that does not answer, its URL not shown: {answer:?}"
    );
    ensure!(
        explorer.try_wait()?.is_none(),
        "the explorer is still running"
    );
    explorer.start_kill()?;
    Ok(())
}

/// An open Datanet with one contribution, an adapter on it, and [`REQUESTS`] paid requests (no
/// job service serves them): the request lists come in pages of 25, newest first.
async fn pages_of_many_requests(node: &TestNode, base: &str) -> Result<()> {
    let l2 = node.provider();
    let owner = dev_address(1);
    let datanets = DatanetRegistry::new(DATANETS, l2.clone());
    let receipt = mined(
        &l2,
        datanets
            .createDatanet("ol://open".into(), B256::ZERO, 0, U256::ZERO, 0)
            .from(owner)
            .send()
            .await?,
        true,
        "createDatanet",
    )
    .await?;
    let datanet = event::<DatanetRegistry::DatanetCreated>(&receipt)?.datanetId;
    mined(
        &l2,
        datanets
            .contribute(datanet, keccak256("doc"), 3, "ol://doc".into())
            .from(dev_address(2))
            .send()
            .await?,
        true,
        "contribute",
    )
    .await?;
    let base_model = register_base(&l2, owner, keccak256("weights")).await?;
    let adapter = register_adapter(
        &l2,
        owner,
        base_model,
        keccak256("adapter"),
        datanet,
        1,
        METHOD_LINEAGE,
    )
    .await?;
    let market = InferenceMarket::new(MARKET, l2.clone());
    let escrow = market.quote(adapter, MAX_IN, MAX_OUT).call().await?;
    // Two users, explicit nonces, all sent before any is mined.
    let mut pending = Vec::new();
    for (user, count) in [
        (dev_address(3), REQUESTS / 2),
        (dev_address(4), REQUESTS - REQUESTS / 2),
    ] {
        let first = l2.get_transaction_count(user).await?;
        for i in 0..count {
            pending.push(
                market
                    .request(
                        adapter,
                        format!("prompt {i}").into_bytes().into(),
                        MAX_IN,
                        MAX_OUT,
                    )
                    .value(escrow)
                    .from(user)
                    .nonce(first + i)
                    .send()
                    .await?,
            );
        }
    }
    for tx in pending {
        let receipt = tx.get_receipt().await?;
        ensure!(receipt.status(), "a request failed: {receipt:?}");
    }
    ensure!(
        market.requestCount().call().await? == U256::from(REQUESTS),
        "every request made"
    );
    let id = async |n: u64| -> Result<String> {
        Ok(market.requestIdOf(U256::from(n)).call().await?.to_string())
    };
    let rows = |body: &str| -> Vec<String> {
        body.split("data-request=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next().map(str::to_string))
            .collect()
    };
    let (status, first_page, _) = get(&format!("{base}/requests")).await?;
    let first_rows = rows(&first_page);
    ensure!(
        status == 200
            && first_rows.len() == 25
            && first_rows[0] == id(REQUESTS).await?
            && first_rows[24] == id(2).await?
            && first_page.contains("rel=\"next\" href=\"/requests?page=2\"")
            && !first_page.contains("rel=\"prev\""),
        "the first page: the 25 newest, a link to the next: {first_rows:?}"
    );
    let (status, second_page, _) = get(&format!("{base}/requests?page=2")).await?;
    ensure!(
        status == 200
            && rows(&second_page) == vec![id(1).await?]
            && second_page.contains("rel=\"prev\" href=\"/requests?page=1\"")
            && !second_page.contains("rel=\"next\""),
        "the second page holds the oldest: {:?}",
        rows(&second_page)
    );
    let (_, third_page, _) = get(&format!("{base}/requests?page=3")).await?;
    ensure!(rows(&third_page).is_empty(), "past the end, an empty page");
    let (_, adapter_page, _) = get(&format!("{base}/adapter/{adapter}")).await?;
    ensure!(
        rows(&adapter_page).len() == 25
            && adapter_page.contains(&format!("Paid inferences ({REQUESTS})"))
            && adapter_page.contains(&format!("href=\"/adapter/{adapter}?page=2\"")),
        "the adapter's requests are paged too"
    );
    let (status, open_request, _) = get(&format!("{base}/request/{}", id(7).await?)).await?;
    ensure!(
        status == 200
            && open_request.contains("<div class=\"text\" id=\"prompt\">prompt ")
            && open_request.contains("No attribution is recorded yet")
            && open_request.contains("data-status=\"unavailable\""),
        "an open request on a node without job service or verifier: {open_request}"
    );
    Ok(())
}
