//! `restart_keeps_everything`: after a graceful stop (SIGTERM, then SIGINT) and a restart on the
//! same data directory, every block, transaction, receipt and account reads back byte-for-byte
//! identical, and the chain continues on top of the old head.

use std::collections::BTreeMap;

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, TxHash, U256, address},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
};
use eyre::{Context as _, Result, ensure, eyre};
use ol_e2e::{
    DEV_ACCOUNT_COUNT, TestNode, contracts::EventEmitter, dev_address, json_b256, one_ether,
    raw_rpc, wait_for_block, wait_for_receipt,
};
use serde_json::Value;

const RECIPIENTS: [Address; 2] = [
    address!("0x00000000000000000000000000000000000e2e03"),
    address!("0x00000000000000000000000000000000000e2e04"),
];

/// Everything read from the node before it is stopped.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    head: u64,
    /// number → `eth_getBlockByNumber(n, false)` as JSON.
    blocks: BTreeMap<u64, Value>,
    /// hash → (`eth_getTransactionByHash`, `eth_getTransactionReceipt`) as JSON.
    transactions: BTreeMap<TxHash, (Value, Value)>,
    /// address → (balance, nonce, code, storage slot 0) at the latest block.
    accounts: BTreeMap<Address, (U256, u64, Bytes, U256)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_everything() -> Result<()> {
    let mut node = TestNode::start().await?;
    let provider = node.provider();

    // Some activity: transfers from several accounts, a deployment and a contract call.
    let mut hashes = Vec::new();
    for (i, from) in [2u32, 3, 4].into_iter().enumerate() {
        let to = RECIPIENTS[i % RECIPIENTS.len()];
        let tx = TransactionRequest::default()
            .with_from(dev_address(from))
            .with_to(to)
            .with_value(one_ether() * U256::from(i + 1));
        hashes.push(*provider.send_transaction(tx).await?.tx_hash());
    }
    let deploy = *EventEmitter::deploy_builder(provider.clone())
        .send()
        .await?
        .tx_hash();
    hashes.push(deploy);
    let deploy_receipt = wait_for_receipt(&provider, deploy).await?;
    let contract_address = deploy_receipt
        .contract_address
        .ok_or_else(|| eyre!("deployment receipt has no contractAddress"))?;
    let contract = EventEmitter::new(contract_address, provider.clone());
    hashes.push(*contract.store(U256::from(1234u64)).send().await?.tx_hash());
    for hash in &hashes {
        let receipt = wait_for_receipt(&provider, *hash).await?;
        ensure!(receipt.status(), "transaction {hash} failed: {receipt:?}");
    }
    // A few more (empty) blocks on top.
    let head = provider.get_block_number().await?;
    wait_for_block(&provider, head + 2).await?;

    let mut accounts: Vec<Address> = (0..DEV_ACCOUNT_COUNT).map(dev_address).collect();
    accounts.extend(RECIPIENTS);
    accounts.push(contract_address);

    let before = snapshot(&provider, &hashes, &accounts).await?;
    let mut previous_head = before.head;

    for (cycle, graceful) in ["SIGTERM", "SIGINT"].into_iter().enumerate() {
        match graceful {
            "SIGTERM" => node.stop().await?,
            _ => node.interrupt().await?,
        }
        node.restart()
            .await
            .wrap_err_with(|| format!("restart after {graceful}"))?;
        let provider = node.provider();

        let head = provider.get_block_number().await?;
        ensure!(
            head >= previous_head,
            "after {graceful} + restart the head went back from {previous_head} to {head}"
        );
        let after = snapshot_at(&provider, before.head, &hashes, &accounts).await?;
        compare(&before, &after).wrap_err_with(|| format!("state after {graceful} + restart"))?;

        // The chain continues on top of the old chain: new blocks, linked by parent hash.
        let new_head = wait_for_block(&provider, head + 2).await?;
        check_parent_links(&provider, new_head).await?;

        // And it still accepts transactions, with nonces continuing.
        let from = dev_address(5);
        let nonce_before = provider.get_transaction_count(from).await?;
        let tx = TransactionRequest::default()
            .with_from(from)
            .with_to(RECIPIENTS[0])
            .with_value(U256::from(cycle + 1));
        let hash = *provider.send_transaction(tx).await?.tx_hash();
        let receipt = wait_for_receipt(&provider, hash).await?;
        ensure!(
            receipt.status(),
            "post-restart transfer failed: {receipt:?}"
        );
        ensure!(
            receipt.block_number.unwrap_or_default() > before.head,
            "a new transaction landed at or below the old head {}",
            before.head
        );
        assert_eq!(
            provider.get_transaction_count(from).await?,
            nonce_before + 1,
            "nonce of {from} continues after restart"
        );
        // Account 5 and RECIPIENTS[0] changed now: compare only the others in the next cycle.
        previous_head = provider.get_block_number().await?;
        accounts.retain(|a| *a != from && *a != RECIPIENTS[0]);
    }

    node.finish().await
}

async fn snapshot(
    provider: &DynProvider,
    hashes: &[TxHash],
    accounts: &[Address],
) -> Result<Snapshot> {
    let head = provider.get_block_number().await?;
    snapshot_at(provider, head, hashes, accounts).await
}

/// Reads blocks `0..=head`, the given transactions with their receipts and the given accounts.
async fn snapshot_at(
    provider: &DynProvider,
    head: u64,
    hashes: &[TxHash],
    accounts: &[Address],
) -> Result<Snapshot> {
    let mut blocks = BTreeMap::new();
    for number in 0..=head {
        let block = raw_rpc(
            provider,
            "eth_getBlockByNumber",
            (format!("{number:#x}"), false),
        )
        .await?;
        ensure!(!block.is_null(), "block {number} not found (head {head})");
        let hash = json_b256(&block, "hash")?;
        let by_hash = raw_rpc(provider, "eth_getBlockByHash", (hash, false)).await?;
        ensure!(
            by_hash == block,
            "eth_getBlockByHash({hash}) differs from block {number}"
        );
        blocks.insert(number, block);
    }
    let mut transactions = BTreeMap::new();
    for hash in hashes {
        let tx = raw_rpc(provider, "eth_getTransactionByHash", (hash,)).await?;
        let receipt = raw_rpc(provider, "eth_getTransactionReceipt", (hash,)).await?;
        ensure!(
            !tx.is_null() && !receipt.is_null(),
            "transaction {hash} or its receipt is missing"
        );
        transactions.insert(*hash, (tx, receipt));
    }
    let mut state = BTreeMap::new();
    for address in accounts {
        let balance = provider.get_balance(*address).await?;
        let nonce = provider.get_transaction_count(*address).await?;
        let code = provider.get_code_at(*address).await?;
        let slot0 = provider.get_storage_at(*address, U256::ZERO).await?;
        state.insert(*address, (balance, nonce, code, slot0));
    }
    Ok(Snapshot {
        head,
        blocks,
        transactions,
        accounts: state,
    })
}

/// Describes how two JSON values differ: the differing fields of two objects, else both values.
fn json_diff(before: &Value, after: &Value) -> String {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .filter(|k| a.get(*k) != b.get(*k))
                .map(|k| format!("  {k}: {} -> {}", show(a.get(k)), show(b.get(k))))
                .collect::<Vec<_>>()
                .join("\n")
        }
        _ => format!("  {before} -> {after}"),
    }
}

fn show(value: Option<&Value>) -> String {
    value.map_or_else(|| "<absent>".to_owned(), Value::to_string)
}

/// Compares two snapshots, naming the first difference of each kind.
fn compare(before: &Snapshot, after: &Snapshot) -> Result<()> {
    for (number, block) in &before.blocks {
        let other = after
            .blocks
            .get(number)
            .ok_or_else(|| eyre!("block {number} missing"))?;
        ensure!(
            block == other,
            "block {number} changed:\n{}",
            json_diff(block, other)
        );
    }
    for (hash, (tx, receipt)) in &before.transactions {
        let (other_tx, other_receipt) = after
            .transactions
            .get(hash)
            .ok_or_else(|| eyre!("transaction {hash} missing"))?;
        ensure!(
            tx == other_tx,
            "transaction {hash} changed:\n{}",
            json_diff(tx, other_tx)
        );
        ensure!(
            receipt == other_receipt,
            "receipt of {hash} changed:\n{}",
            json_diff(receipt, other_receipt)
        );
    }
    for (address, account) in &before.accounts {
        if let Some(other) = after.accounts.get(address) {
            ensure!(
                account == other,
                "account {address} changed (balance, nonce, code, slot0):\nbefore: {account:?}\nafter:  {other:?}"
            );
        }
    }
    Ok(())
}

/// Checks that blocks `1..=head` link by `parentHash`.
async fn check_parent_links(provider: &DynProvider, head: u64) -> Result<()> {
    let mut previous: Option<B256> = None;
    for number in 0..=head {
        let block = provider
            .get_block_by_number(number.into())
            .await?
            .ok_or_else(|| eyre!("block {number} not found (head {head})"))?;
        if let Some(parent) = previous {
            ensure!(
                block.header.parent_hash == parent,
                "block {number}'s parentHash {} is not block {}'s hash {parent}",
                block.header.parent_hash,
                number - 1
            );
        }
        ensure!(
            block.header.number == number,
            "block {number} reports number {}",
            block.header.number
        );
        previous = Some(block.header.hash);
    }
    Ok(())
}
