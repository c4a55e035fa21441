//! `viem`: a dApp's round trip with the npm `viem` client (`tests/viem/dapp.mjs`, run by node)
//! against the real binary over HTTP and WebSocket: deploy, transactions, receipts, a decoded
//! custom-error revert and a WebSocket event subscription that must deliver exactly the events
//! emitted. The script checks what it sees and exits non-zero on a mismatch; this test checks
//! its exit status and output, and cross-checks what it reports with alloy.

use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
};
use eyre::{Result, ensure, eyre};
use ol_e2e::{
    TestNode, contracts::EventEmitter, dev_address, dev_private_key_hex, repo_file, repo_root,
    run_command,
};
use serde_json::Value;
use std::path::Path;

/// The dev account the script signs with.
const ACCOUNT: u32 = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viem_dapp_round_trip() -> Result<()> {
    let script = repo_file("tests/viem/dapp.mjs")?;
    repo_file("node_modules/viem/package.json").map_err(|err| {
        err.wrap_err("viem is not installed: run `npm install` (scripts/setup.sh)")
    })?;
    let node = TestNode::start_with_ws().await?;
    let provider = node.provider();
    let ws_url = node
        .ws_url()
        .ok_or_else(|| eyre!("the node serves no WebSocket"))?;
    let http_url = node.url().to_string();
    let key = dev_private_key_hex(ACCOUNT);
    let output = run_command(
        Path::new("node"),
        &[
            script.as_os_str(),
            "--http".as_ref(),
            http_url.as_ref(),
            "--ws".as_ref(),
            ws_url.as_ref(),
            "--key".as_ref(),
            key.as_ref(),
        ],
        &repo_root(),
    )
    .await?
    .ensure_success()?;
    eprintln!("{}", output.stdout);

    for step in [
        "deployed EventEmitter at ",
        "stored 11, 22, 33 in blocks ",
        "fail() reverted with Refused(77)",
        "transferred 123456789 wei to ",
        "subscription delivered 3 events (1 through the filtered one)",
    ] {
        ensure!(
            output.stdout.contains(step),
            "the script did not report {step:?}:\n{output}"
        );
    }
    let summary = output.last_line_json()?;
    assert_eq!(summary["ok"], Value::Bool(true), "{summary}");
    assert_eq!(summary["chainId"], ol_e2e::DEV_CHAIN_ID, "{summary}");
    let new_values: Vec<&str> = summary["events"]
        .as_array()
        .ok_or_else(|| eyre!("no events in {summary}"))?
        .iter()
        .filter_map(|event| event["newValue"].as_str())
        .collect();
    assert_eq!(new_values, ["11", "22", "33"], "the events, in order");

    // What the script reports is on chain.
    let contract: Address = summary["contract"]
        .as_str()
        .ok_or_else(|| eyre!("no contract in {summary}"))?
        .parse()?;
    let emitter = EventEmitter::new(contract, provider.clone());
    assert_eq!(emitter.value().call().await?, U256::from(33u64));
    for (event, store) in summary["events"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(summary["stores"].as_array().into_iter().flatten())
    {
        assert_eq!(
            event["tx"], *store,
            "each event comes from its store transaction"
        );
        let hash: B256 = store
            .as_str()
            .ok_or_else(|| eyre!("bad hash {store}"))?
            .parse()?;
        let receipt = provider
            .get_transaction_receipt(hash)
            .await?
            .ok_or_else(|| eyre!("no receipt for {hash}"))?;
        ensure!(receipt.status(), "store {hash} failed");
        assert_eq!(receipt.from, dev_address(ACCOUNT));
    }
    // Deployment, three stores and the transfer.
    assert_eq!(
        provider.get_transaction_count(dev_address(ACCOUNT)).await?,
        5,
        "five transactions sent by the script"
    );
    node.finish().await
}
