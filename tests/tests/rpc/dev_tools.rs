//! Foundry against the node, unchanged (`tests/forge/`): `forge script --broadcast --rpc-url`
//! deploys and uses a small system, and every transaction of its `broadcast/` record must be on
//! chain with the receipt and the contract it names; then `forge test --fork-url
//! --fork-block-number` runs a suite on a fork of the node at a past block, which must see that
//! block's state and not the head's. Hardhat 3 with hardhat-ethers (`tests/hardhat/`), the node
//! configured as an HTTP network, compiles, deploys and runs a test file.

use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
};
use eyre::{Result, ensure, eyre};
use ol_e2e::{
    DEV_CHAIN_ID, TestNode, contracts::EventEmitter, dev_address, dev_private_key_hex, repo_file,
    repo_root, run_command_with_env, wait_for_receipt,
};
use serde_json::Value;
use std::path::PathBuf;

/// The dev account the script broadcasts from.
const DEPLOYER: u32 = 9;

fn payee() -> Address {
    Address::repeat_byte(0x6b)
}

fn forge() -> Result<PathBuf> {
    repo_file("node_modules/.bin/forge")
        .map_err(|err| err.wrap_err("forge is not installed: run `npm install` (scripts/setup.sh)"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forge_script_broadcasts_and_forge_test_forks_a_past_block() -> Result<()> {
    let forge = forge()?;
    let project = repo_root().join("tests/forge");
    let node = TestNode::start().await?;
    let provider = node.provider();
    let url = node.url().to_string();

    // forge script: four transactions, each with its receipt.
    let env = [
        ("DEPLOYER_KEY", dev_private_key_hex(DEPLOYER)),
        ("PAYEE", format!("{:#x}", payee())),
    ];
    let script = run_command_with_env(
        &forge,
        &[
            "script",
            "script/Deploy.s.sol:Deploy",
            "--rpc-url",
            &url,
            "--broadcast",
            "--slow",
        ],
        &project,
        &env,
    )
    .await?
    .ensure_success()?;
    let record = project.join(format!(
        "broadcast/Deploy.s.sol/{DEV_CHAIN_ID}/run-latest.json"
    ));
    let record = std::fs::read_to_string(&record)
        .map_err(|err| eyre!("no broadcast record {}: {err}\n{script}", record.display()))?;
    let record: Value = serde_json::from_str(&record)?;
    let transactions = record["transactions"]
        .as_array()
        .ok_or_else(|| eyre!("no transactions in the broadcast record: {record}"))?;
    let kinds: Vec<&str> = transactions
        .iter()
        .map(|tx| tx["transactionType"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["CREATE", "CREATE", "CALL", "CALL"], "{record:#}");
    let receipts = record["receipts"]
        .as_array()
        .ok_or_else(|| eyre!("no receipts in the broadcast record"))?;
    assert_eq!(receipts.len(), transactions.len());
    let deployer = dev_address(DEPLOYER);
    let mut emitter = None;
    for (index, tx) in transactions.iter().enumerate() {
        let hash: B256 = tx["hash"]
            .as_str()
            .ok_or_else(|| eyre!("transaction without a hash: {tx}"))?
            .parse()?;
        let receipt = wait_for_receipt(&provider, hash).await?;
        ensure!(receipt.status(), "transaction {index} failed: {receipt:?}");
        assert_eq!(receipt.from, deployer);
        // forge's own copy of the receipt agrees with the node's.
        let recorded = receipts
            .iter()
            .find(|r| r["transactionHash"] == tx["hash"])
            .ok_or_else(|| eyre!("no recorded receipt for {hash}"))?;
        assert_eq!(recorded["status"], Value::from("0x1"));
        assert_eq!(
            recorded["blockNumber"],
            Value::from(format!("{:#x}", receipt.block_number.unwrap_or_default()))
        );
        if tx["transactionType"] == "CREATE" {
            let address: Address = tx["contractAddress"]
                .as_str()
                .ok_or_else(|| eyre!("a CREATE without contractAddress: {tx}"))?
                .parse()?;
            assert_eq!(receipt.contract_address, Some(address));
            ensure!(
                !provider.get_code_at(address).await?.is_empty(),
                "no code at {address}"
            );
            if tx["contractName"] == "EventEmitter" {
                emitter = Some(address);
            }
        }
    }
    let emitter = emitter.ok_or_else(|| eyre!("the record names no EventEmitter"))?;
    let contract = EventEmitter::new(emitter, provider.clone());
    assert_eq!(contract.value().call().await?, U256::from(42));
    assert_eq!(provider.get_balance(payee()).await?, U256::from(250));

    // forge test on a fork at the block of store(42), after the head has moved on to 99.
    let fork_block = wait_for_receipt(
        &provider,
        transactions[2]["hash"]
            .as_str()
            .unwrap_or_default()
            .parse()?,
    )
    .await?
    .block_number
    .ok_or_else(|| eyre!("store(42) has no block"))?;
    let hash = *contract
        .store(U256::from(99))
        .from(dev_address(DEPLOYER))
        .send()
        .await?
        .tx_hash();
    wait_for_receipt(&provider, hash).await?;
    let fork = |expected: u64| {
        let (forge, project, url) = (forge.clone(), project.clone(), url.clone());
        async move {
            let env = [
                ("EMITTER", format!("{emitter:#x}")),
                ("FORK_BLOCK", fork_block.to_string()),
                ("EXPECTED_VALUE", expected.to_string()),
            ];
            run_command_with_env(
                &forge,
                &[
                    "test",
                    "--fork-url",
                    &url,
                    "--fork-block-number",
                    &fork_block.to_string(),
                ],
                &project,
                &env,
            )
            .await
        }
    };
    // forge 1.7 exits 0 even when a test fails: its report is what tells.
    let passed = fork(42).await?.ensure_success()?;
    ensure!(
        passed
            .stdout
            .contains("[PASS] test_the_fork_reads_the_state_after_its_block")
            && passed.stdout.contains("1 passed; 0 failed"),
        "the fork test did not pass:\n{passed}"
    );
    // The control: expecting the head's value at the fork block must fail.
    let control = fork(99).await?;
    ensure!(
        control
            .stdout
            .contains("[FAIL: value after the fork block]"),
        "a fork at block {fork_block} saw the head's value:\n{control}"
    );
    node.finish().await
}

/// The dev account Hardhat deploys from.
const HARDHAT_DEPLOYER: u32 = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardhat_deploys_and_runs_a_test_file_against_the_node() -> Result<()> {
    let project = repo_root().join("tests/hardhat");
    let hardhat = repo_file("tests/hardhat/node_modules/.bin/hardhat").map_err(|err| {
        err.wrap_err(
            "Hardhat is not installed: run scripts/setup.sh (npm install in tests/hardhat)",
        )
    })?;
    let node = TestNode::start().await?;
    let provider = node.provider();
    // Hardhat 3 needs Node.js 22: the project's own `node` package comes first on PATH.
    let path = format!(
        "{}:{}",
        project.join("node_modules/.bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = [
        ("OPENLEDGER_RPC_URL", node.url().to_string()),
        ("DEPLOYER_KEY", dev_private_key_hex(HARDHAT_DEPLOYER)),
        ("PATH", path),
        ("CI", "true".to_owned()),
    ];
    let output = run_command_with_env(
        &hardhat,
        &["test", "nodejs", "--network", "openledger"],
        &project,
        &env,
    )
    .await?
    .ensure_success()?;
    ensure!(
        output.stdout.contains("2 passing") && !output.stdout.contains("failing"),
        "the Hardhat test file did not pass:\n{output}"
    );
    // What Hardhat reports is what the node holds: two deployments and two registrations, each
    // mined from the configured account.
    let deployer = dev_address(HARDHAT_DEPLOYER);
    assert_eq!(provider.get_transaction_count(deployer).await?, 4);
    let registry: Address = output
        .stdout
        .lines()
        .find_map(|line| {
            line.strip_prefix("registered alice in block ")?
                .split(" at ")
                .nth(1)
        })
        .ok_or_else(|| eyre!("the test did not report its Registry:\n{output}"))?
        .trim()
        .parse()?;
    ensure!(
        !provider.get_code_at(registry).await?.is_empty(),
        "no code at the Registry Hardhat deployed ({registry})"
    );
    node.finish().await
}
