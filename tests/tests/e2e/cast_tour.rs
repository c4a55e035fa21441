//! `cast_tour`: Foundry's `cast` (the pinned npm build) against the node — send value, read the
//! receipt and balances, deploy EventEmitter, call and transact.

use std::path::Path;

use alloy::primitives::{Address, Bytes, U256};
use eyre::{Context as _, Result, ensure, eyre};
use ol_e2e::{
    CommandOutput, DEV_CHAIN_ID, TestNode, contracts::EventEmitter, dev_address,
    dev_private_key_hex, npm_tool, one_ether, repo_file, run_command,
};
use serde_json::Value;

/// Runs `cast <args..>` and requires exit status 0.
async fn cast(cwd: &Path, args: &[&str]) -> Result<CommandOutput> {
    run_command(&npm_tool("cast")?, args, cwd)
        .await?
        .ensure_success()
}

/// First whitespace-separated token of `cast`'s output (`cast call` may append `[1e18]`).
fn first_token(output: &CommandOutput) -> Result<&str> {
    output
        .stdout
        .split_whitespace()
        .next()
        .ok_or_else(|| eyre!("empty output:\n{output}"))
}

fn status_of(receipt: &Value) -> Option<&str> {
    receipt.get("status").and_then(Value::as_str)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cast_tour() -> Result<()> {
    let node = TestNode::start().await?;
    let url = node.url().to_string();
    let url = url.as_str();
    let cwd = node.temp_dir().to_path_buf();
    let cwd = cwd.as_path();
    let key = dev_private_key_hex(0);
    let recipient = dev_address(1).to_string();

    let chain_id = cast(cwd, &["chain-id", "--rpc-url", url]).await?;
    assert_eq!(
        first_token(&chain_id)?,
        DEV_CHAIN_ID.to_string(),
        "cast chain-id"
    );
    cast(cwd, &["block-number", "--rpc-url", url]).await?;

    // --- send 1 ether and read the receipt -----------------------------------------------------
    let balance = |output: &CommandOutput| -> Result<U256> {
        first_token(output)?
            .parse::<U256>()
            .wrap_err_with(|| format!("cast balance output:\n{output}"))
    };
    let before = balance(&cast(cwd, &["balance", &recipient, "--rpc-url", url]).await?)?;
    let sent = cast(
        cwd,
        &[
            "send",
            "--private-key",
            &key,
            &recipient,
            "--value",
            "1ether",
            "--rpc-url",
            url,
            "--json",
        ],
    )
    .await?;
    let sent_receipt = sent.json()?;
    assert_eq!(
        status_of(&sent_receipt),
        Some("0x1"),
        "cast send receipt status:\n{sent}"
    );
    let hash = sent_receipt
        .get("transactionHash")
        .and_then(Value::as_str)
        .ok_or_else(|| eyre!("cast send --json printed no transactionHash:\n{sent}"))?
        .to_owned();

    let receipt_output = cast(cwd, &["receipt", &hash, "--rpc-url", url, "--json"]).await?;
    let receipt = receipt_output.json()?;
    assert_eq!(
        status_of(&receipt),
        Some("0x1"),
        "cast receipt status:\n{receipt_output}"
    );
    assert_eq!(
        receipt.get("transactionHash").and_then(Value::as_str),
        Some(hash.as_str()),
        "cast receipt is the receipt of the sent tx"
    );
    assert!(
        receipt.get("l1Fee").is_some(),
        "the receipt carries the OP field l1Fee:\n{receipt}"
    );

    let after = balance(&cast(cwd, &["balance", &recipient, "--rpc-url", url]).await?)?;
    assert_eq!(
        after - before,
        one_ether(),
        "cast balance: the recipient gained exactly 1 ether"
    );

    // --- deploy EventEmitter, call and transact -------------------------------------------------
    let artifact: Value = serde_json::from_str(&std::fs::read_to_string(repo_file(
        "contracts/artifacts/EventEmitter.json",
    )?)?)?;
    let bytecode = artifact
        .get("bytecode")
        .and_then(Value::as_str)
        .ok_or_else(|| eyre!("EventEmitter.json has no string `bytecode`"))?
        .to_owned();
    // Options go before `--create`: everything after the code is taken as constructor input.
    let deployed = cast(
        cwd,
        &[
            "send",
            "--private-key",
            &key,
            "--rpc-url",
            url,
            "--json",
            "--create",
            &bytecode,
        ],
    )
    .await?;
    let deploy_receipt = deployed.json()?;
    assert_eq!(
        status_of(&deploy_receipt),
        Some("0x1"),
        "deployment status:\n{deployed}"
    );
    let contract: Address = deploy_receipt
        .get("contractAddress")
        .and_then(Value::as_str)
        .ok_or_else(|| eyre!("deployment receipt has no contractAddress:\n{deployed}"))?
        .parse()?;
    let contract = contract.to_string();

    let code = cast(cwd, &["code", &contract, "--rpc-url", url]).await?;
    let code: Bytes = first_token(&code)?.parse()?;
    assert_eq!(
        code,
        EventEmitter::DEPLOYED_BYTECODE,
        "cast code returns the deployed bytecode"
    );

    let value = cast(
        cwd,
        &["call", &contract, "value()(uint256)", "--rpc-url", url],
    )
    .await?;
    assert_eq!(
        first_token(&value)?,
        "0",
        "value() right after deployment:\n{value}"
    );

    let stored = cast(
        cwd,
        &[
            "send",
            &contract,
            "store(uint256)",
            "5",
            "--private-key",
            &key,
            "--rpc-url",
            url,
            "--json",
        ],
    )
    .await?;
    let stored_receipt = stored.json()?;
    assert_eq!(
        status_of(&stored_receipt),
        Some("0x1"),
        "store(5) status:\n{stored}"
    );
    let logs = stored_receipt
        .get("logs")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    assert_eq!(logs, 1, "store(5) emits one log:\n{stored}");

    let value = cast(
        cwd,
        &["call", &contract, "value()(uint256)", "--rpc-url", url],
    )
    .await?;
    assert_eq!(
        first_token(&value)?,
        "5",
        "value() after store(5):\n{value}"
    );

    // A reverting call makes cast fail.
    let failed = run_command(
        &npm_tool("cast")?,
        &["call", &contract, "fail(uint256)", "7", "--rpc-url", url],
        cwd,
    )
    .await?;
    ensure!(
        !failed.status.success(),
        "cast call fail(7) must fail (revert):\n{failed}"
    );

    node.finish().await
}
