//! `ethers` v6: a script's round trip with the npm `ethers` client (`tests/ethers/dapp.mjs`,
//! run by node) against the real binary: a ContractFactory deployment, transactions, event
//! queries with indexed-argument filters, a decoded custom-error revert, and a plain transfer
//! estimated at exactly 21,000. The script checks what it sees and exits non-zero on a mismatch;
//! this test checks its output and cross-checks what it reports with alloy.

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
const ACCOUNT: u32 = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ethers_script_round_trip() -> Result<()> {
    let script = repo_file("tests/ethers/dapp.mjs")?;
    repo_file("node_modules/ethers/package.json").map_err(|err| {
        err.wrap_err("ethers is not installed: run `npm install` (scripts/setup.sh)")
    })?;
    let node = TestNode::start().await?;
    let provider = node.provider();
    let http_url = node.url().to_string();
    let key = dev_private_key_hex(ACCOUNT);
    let output = run_command(
        Path::new("node"),
        &[
            script.as_os_str(),
            "--http".as_ref(),
            http_url.as_ref(),
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
        "queried 3 events (1 through the indexed filter)",
        "fail() reverted with Refused(41)",
        "transferred 987654321 wei to ",
    ] {
        ensure!(
            output.stdout.contains(step),
            "the script did not report {step:?}:\n{output}"
        );
    }
    let summary = output.last_line_json()?;
    assert_eq!(summary["ok"], Value::Bool(true), "{summary}");
    assert_eq!(summary["chainId"], ol_e2e::DEV_CHAIN_ID, "{summary}");

    // What the script reports is on chain.
    let contract: Address = summary["address"]
        .as_str()
        .ok_or_else(|| eyre!("no address in {summary}"))?
        .parse()?;
    let emitter = EventEmitter::new(contract, provider.clone());
    assert_eq!(emitter.value().call().await?, U256::from(7u64));
    let transfer: B256 = summary["transfer"]
        .as_str()
        .ok_or_else(|| eyre!("no transfer in {summary}"))?
        .parse()?;
    let receipt = provider
        .get_transaction_receipt(transfer)
        .await?
        .ok_or_else(|| eyre!("no receipt for {transfer}"))?;
    ensure!(receipt.status(), "the transfer failed");
    assert_eq!(receipt.gas_used, 21_000);
    // Deployment, three stores and the transfer.
    assert_eq!(
        provider.get_transaction_count(dev_address(ACCOUNT)).await?,
        5,
        "five transactions sent by the script"
    );
    node.finish().await
}
