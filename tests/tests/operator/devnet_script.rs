//! `scripts/devnet.sh` in a fresh clone (no `node_modules`, no `.venv`, no `target`): it sets up
//! what it needs itself, prints its endpoints, every one of them answers (the sequencer's job
//! service, the follower's verifier, the inference API on the base model the script trained, the
//! explorer), and Ctrl-C stops it.
//! The binary is the one under test (`OPENLEDGER_BIN`): building the release binary again in a
//! clone would double the CI time, and the script's build step is one `cargo build`.

use alloy::providers::{Provider, ProviderBuilder, WsConnect};
use eyre::{Context as _, Result, ensure, eyre};
use ol_e2e::{free_port, openledger_bin, repo_root, run_command, send_signal};
use serde_json::{Value, json};
use std::{path::Path, process::Stdio, time::Duration};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

/// npm installs the tools in the clone first (the Foundry binaries are ~100 MB).
const START_TIMEOUT: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_script_sets_up_a_fresh_clone_and_every_endpoint_answers() -> Result<()> {
    let work = tempfile::tempdir()?;
    let clone = work.path().join("clone");
    run_command(
        Path::new("git"),
        &[
            "clone".as_ref(),
            "--quiet".as_ref(),
            repo_root().as_os_str(),
            clone.as_os_str(),
        ],
        work.path(),
    )
    .await?
    .ensure_success()?;
    for absent in ["node_modules", ".venv", "target", ".devnet"] {
        ensure!(
            !clone.join(absent).exists(),
            "a fresh clone has no {absent}"
        );
    }

    let ports = [(); 9].map(|_| free_port());
    let [
        l1,
        da,
        sequencer,
        sequencer_ws,
        follower,
        sequencer_metrics,
        follower_metrics,
        inference,
        explorer,
    ] = ports.map(|p| p.map(|p| p.to_string()));
    let (inference, explorer) = (inference?, explorer?);
    let (sequencer_port, follower_port) = (sequencer?, follower?);
    let mut script = Command::new(clone.join("scripts/devnet.sh"));
    script
        .env("OPENLEDGER_BIN", openledger_bin()?)
        .env("DEVNET_DIR", work.path().join("devnet"))
        .env("L1_PORT", l1?)
        .env("DA_PORT", da?)
        .env("SEQUENCER_PORT", &sequencer_port)
        .env("SEQUENCER_WS_PORT", sequencer_ws?)
        .env("FOLLOWER_PORT", &follower_port)
        .env("SEQUENCER_METRICS_PORT", sequencer_metrics?)
        .env("FOLLOWER_METRICS_PORT", follower_metrics?)
        .env("INFERENCE_PORT", &inference)
        .env("EXPLORER_PORT", &explorer)
        .current_dir(&clone)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        // Its own process group, so that the test's SIGINT reaches the script as Ctrl-C would.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = script.spawn().wrap_err("starting scripts/devnet.sh")?;
    let pid = child
        .id()
        .ok_or_else(|| eyre!("devnet.sh exited at once"))? as i32;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| eyre!("devnet.sh has no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = Vec::new();
    tokio::time::timeout(START_TIMEOUT, async {
        while let Some(line) = lines.next_line().await? {
            println!("devnet.sh: {line}");
            let done = line.starts_with("Ctrl-C stops everything");
            banner.push(line);
            if done {
                return Ok(());
            }
        }
        Err(eyre!("devnet.sh stopped before printing its endpoints"))
    })
    .await
    .map_err(|_| eyre!("devnet.sh printed no endpoints within {START_TIMEOUT:?}"))??;
    ensure!(
        clone.join("node_modules/.bin/anvil").exists(),
        "the script installed the npm tools in the clone"
    );

    let endpoints: Vec<&str> = banner
        .iter()
        .flat_map(|line| line.split_whitespace())
        .filter(|word| word.starts_with("http://") || word.starts_with("ws://"))
        .collect();
    ensure!(
        endpoints.len() >= 9,
        "the banner names L1, DA, the sequencer's HTTP, WS and metrics, the follower's HTTP \
         and metrics, the explorer and the inference API: {endpoints:?}"
    );
    let client = reqwest::Client::new();
    for endpoint in &endpoints {
        check_endpoint(&client, endpoint)
            .await
            .wrap_err_with(|| format!("the printed endpoint {endpoint} does not answer"))?;
    }

    // The sequencer runs the job service and serves the base model the script trained; the
    // follower verifies; the explorer renders the chain.
    let sequencer_url = endpoints
        .iter()
        .find(|e| e.ends_with(&format!(":{sequencer_port}")))
        .ok_or_else(|| eyre!("no sequencer endpoint in {endpoints:?}"))?;
    let adapters = rpc(&client, sequencer_url, "ol_listAdapters", json!([])).await?;
    ensure!(
        adapters["result"] == json!([]),
        "the sequencer's job service answers: {adapters}"
    );
    let follower_url = endpoints
        .iter()
        .find(|e| e.ends_with(&format!(":{follower_port}")))
        .ok_or_else(|| eyre!("no follower endpoint in {endpoints:?}"))?;
    let verdict = rpc(
        &client,
        follower_url,
        "ol_verification",
        json!([format!("0x{}", "ab".repeat(32))]),
    )
    .await?;
    ensure!(
        verdict["result"].is_null() && verdict.get("error").is_none(),
        "the follower's verifier answers: {verdict}"
    );
    let models: Value = client
        .get(format!("http://127.0.0.1:{inference}/v1/models"))
        .send()
        .await?
        .json()
        .await?;
    ensure!(
        models["data"][0]["id"] == "model",
        "the inference API serves the base model: {models}"
    );
    let home = client
        .get(format!("http://127.0.0.1:{explorer}/"))
        .send()
        .await?
        .text()
        .await?;
    ensure!(
        home.contains("OpenLedger explorer") && home.contains("data-count=\"paid inferences\">0<"),
        "the explorer renders the devnet: {home:.300}"
    );

    // Ctrl-C stops the script and every process it started.
    send_signal(pid, libc::SIGINT)?;
    tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .map_err(|_| eyre!("devnet.sh did not stop within 60 s of Ctrl-C"))??;
    for endpoint in endpoints.iter().filter(|e| e.starts_with("http://")) {
        ensure!(
            client
                .get(*endpoint)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_err(),
            "{endpoint} still answers after Ctrl-C"
        );
    }
    Ok(())
}

/// `method` with `params` on the JSON-RPC endpoint `url`: the whole answer.
async fn rpc(client: &reqwest::Client, url: &str, method: &str, params: Value) -> Result<Value> {
    Ok(client
        .post(url)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .await?
        .json()
        .await?)
}

/// A JSON-RPC endpoint answers `eth_chainId`, a metrics endpoint serves the node's metrics, the
/// DA server its `/health`.
async fn check_endpoint(client: &reqwest::Client, endpoint: &str) -> Result<()> {
    if endpoint.starts_with("ws://") {
        let provider = ProviderBuilder::new()
            .connect_ws(WsConnect::new(endpoint))
            .await?;
        provider.get_chain_id().await?;
        return Ok(());
    }
    if endpoint.ends_with("/metrics") {
        let text = client.get(endpoint).send().await?.text().await?;
        ensure!(
            text.contains("chain_head_number"),
            "no node metrics: {text:.200}"
        );
        return Ok(());
    }
    let answer = client
        .post(endpoint)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}))
        .send()
        .await?;
    if answer.status().is_success()
        && let Ok(body) = answer.json::<Value>().await
        && body["result"].is_string()
    {
        return Ok(());
    }
    let health = client.get(format!("{endpoint}/health")).send().await?;
    ensure!(
        health.status().is_success(),
        "neither eth_chainId nor /health: {}",
        health.status()
    );
    Ok(())
}
