//! `logs`: `eth_getLogs` with address and topic filters (OR lists, `null` wildcards), block
//! ranges, `blockHash` and the range and result limits; installed filters polled with
//! `eth_getFilterChanges` and read with `eth_getFilterLogs`, and their removal.

use crate::{address_topic, deploy_emitter, number_topic, rpc_error, store};
use alloy::{
    primitives::{Address, B256, U256, address},
    providers::Provider,
    rpc::types::{Filter, Log},
    sol_types::SolEvent,
};
use eyre::{Result, ensure, eyre};
use ol_e2e::{
    TestNode, contracts::EventEmitter, dev_address, dev_signer, generous_fees, raw_rpc,
    sign_transfer, wait_for_block, wait_for_receipt,
};
use serde_json::{Value, json};

const NOBODY: Address = address!("0x00000000000000000000000000000000000e2e21");

/// A log's position: transaction hash and log index.
type Position = (B256, u64);

/// The `(transaction hash, log index)` of each log, for comparisons.
fn positions(logs: &[Log]) -> Vec<Position> {
    logs.iter()
        .map(|log| {
            (
                log.transaction_hash.unwrap_or_default(),
                log.log_index.unwrap_or_default(),
            )
        })
        .collect()
}

async fn get_logs(provider: &alloy::providers::DynProvider, filter: Value) -> Result<Vec<Log>> {
    let raw = raw_rpc(provider, "eth_getLogs", (filter.clone(),)).await?;
    serde_json::from_value(raw).map_err(|err| eyre!("eth_getLogs({filter}): {err}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_logs_filters() -> Result<()> {
    let node = TestNode::start().await?;
    let provider = node.provider();
    let signature = EventEmitter::ValueChanged::SIGNATURE_HASH;

    let (contract, deployed) = deploy_emitter(&provider).await?;
    let first = deployed.block_number.unwrap_or_default();
    // store(1) and store(2) by account 0, store(3) by account 1: oldValue 0, 1, 2.
    let r1 = store(&provider, contract, 0, 1).await?;
    let r2 = store(&provider, contract, 0, 2).await?;
    let r3 = store(&provider, contract, 1, 3).await?;
    let all: Vec<Position> = [&r1, &r2, &r3]
        .iter()
        .map(|r| {
            (
                r.transaction_hash,
                r.logs()[0].log_index.unwrap_or_default(),
            )
        })
        .collect();
    let range = json!({ "fromBlock": format!("{first:#x}"), "toBlock": "latest" });
    let with = |extra: Value| {
        let mut filter = range.clone();
        for (key, value) in extra.as_object().expect("an object") {
            filter[key] = value.clone();
        }
        filter
    };

    // --- filters that must match ------------------------------------------------------------
    let by_address = get_logs(&provider, with(json!({ "address": contract }))).await?;
    assert_eq!(
        positions(&by_address),
        all,
        "every log of the contract, in order"
    );
    for (log, receipt) in by_address.iter().zip([&r1, &r2, &r3]) {
        let expected = &receipt.logs()[0];
        assert_eq!(log, expected, "eth_getLogs returns the receipt's log");
        assert_eq!(log.block_hash, receipt.block_hash);
        assert!(!log.removed);
    }
    let cases: Vec<(&str, Value, Vec<Position>)> = vec![
        (
            "event signature",
            json!({ "topics": [signature] }),
            all.clone(),
        ),
        (
            "signature and indexed sender",
            json!({ "topics": [signature, address_topic(dev_address(1))] }),
            vec![all[2]],
        ),
        (
            "null wildcard then an OR list of senders",
            json!({ "topics": [null, [address_topic(dev_address(0)), address_topic(dev_address(1))]] }),
            all.clone(),
        ),
        (
            "two nulls then oldValue 1",
            json!({ "topics": [null, null, number_topic(1)] }),
            vec![all[1]],
        ),
        (
            "OR list of oldValues",
            json!({ "topics": [null, null, [number_topic(0), number_topic(2)]] }),
            vec![all[0], all[2]],
        ),
        (
            "OR list of addresses",
            json!({ "address": [NOBODY, contract] }),
            all.clone(),
        ),
        (
            "one address as a single-element list with a topic list",
            json!({ "address": [contract], "topics": [[signature, B256::repeat_byte(1)]] }),
            all.clone(),
        ),
    ];
    for (what, extra, expected) in cases {
        let logs = get_logs(&provider, with(extra.clone())).await?;
        assert_eq!(positions(&logs), expected, "{what}: {extra}");
    }

    // --- filters that must miss ---------------------------------------------------------------
    for (what, extra) in [
        ("another address", json!({ "address": NOBODY })),
        (
            "another event",
            json!({ "topics": [B256::repeat_byte(0xee)] }),
        ),
        (
            "a sender that never stored",
            json!({ "topics": [signature, address_topic(dev_address(5))] }),
        ),
        (
            "a fourth topic the event does not have",
            json!({ "topics": [null, null, null, B256::repeat_byte(1)] }),
        ),
    ] {
        let logs = get_logs(&provider, with(extra.clone())).await?;
        assert!(
            logs.is_empty(),
            "{what} must match nothing: {extra} -> {logs:?}"
        );
    }

    // --- block ranges -----------------------------------------------------------------------
    let n3 = r3.block_number.unwrap_or_default();
    let only_last = get_logs(
        &provider,
        json!({ "fromBlock": format!("{n3:#x}"), "toBlock": format!("{n3:#x}"), "address": contract }),
    )
    .await?;
    assert_eq!(positions(&only_last), vec![all[2]], "a one-block range");
    let before = get_logs(
        &provider,
        json!({ "fromBlock": "earliest", "toBlock": format!("{:#x}", first - 1), "address": contract }),
    )
    .await?;
    assert!(before.is_empty(), "nothing before the deployment");
    let by_hash = get_logs(
        &provider,
        json!({ "blockHash": r3.block_hash, "address": contract }),
    )
    .await?;
    assert_eq!(
        positions(&by_hash),
        vec![all[2]],
        "blockHash selects one block"
    );
    // Typed, through alloy's Filter.
    let typed = provider
        .get_logs(
            &Filter::new()
                .address(contract)
                .event_signature(signature)
                .topic1(address_topic(dev_address(0)))
                .from_block(first),
        )
        .await?;
    assert_eq!(positions(&typed), vec![all[0], all[1]], "alloy Filter");

    // --- errors -----------------------------------------------------------------------------
    let (code, message) = rpc_error(
        &provider,
        "eth_getLogs",
        (json!({ "fromBlock": "0x5", "toBlock": "0x2" }),),
    )
    .await?
    .ok_or_else(|| eyre!("a reversed range must fail"))?;
    assert_eq!(code, -32602, "{message}");
    assert!(message.contains("invalid block range"), "{message}");
    let (code, message) = rpc_error(
        &provider,
        "eth_getLogs",
        (json!({ "blockHash": B256::repeat_byte(9) }),),
    )
    .await?
    .ok_or_else(|| eyre!("an unknown blockHash must fail"))?;
    assert_eq!((code, message.as_str()), (-32000, "unknown block"));
    let refused = rpc_error(
        &provider,
        "eth_getLogs",
        (json!({ "blockHash": r3.block_hash, "fromBlock": "0x1" }),),
    )
    .await?;
    assert!(
        refused.as_ref().is_some_and(|(code, _)| *code == -32602),
        "blockHash with fromBlock is invalid: {refused:?}"
    );

    node.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_logs_limits() -> Result<()> {
    let node = TestNode::start_with_args(vec![
        "--rpc.max-blocks-per-filter".into(),
        "4".into(),
        "--rpc.max-logs-per-response".into(),
        "2".into(),
    ])
    .await?;
    let provider = node.provider();
    let (contract, _) = deploy_emitter(&provider).await?;
    wait_for_block(&provider, 6).await?;

    let (code, message) = rpc_error(
        &provider,
        "eth_getLogs",
        (json!({ "fromBlock": "0x0", "toBlock": "0x4" }),),
    )
    .await?
    .ok_or_else(|| eyre!("five blocks exceed the limit of four"))?;
    assert_eq!(code, -32602, "{message}");
    assert_eq!(message, "query exceeds max block range 4");
    assert_eq!(
        raw_rpc(
            &provider,
            "eth_getLogs",
            (json!({ "fromBlock": "0x1", "toBlock": "0x4" }),)
        )
        .await?,
        json!([]),
        "four blocks are within the limit"
    );

    // Three logs in one block (one sender, consecutive nonces) exceed two results.
    let emitter = EventEmitter::new(contract, provider.clone());
    let mut hashes = Vec::new();
    for value in 1..=3u64 {
        hashes.push(*emitter.store(U256::from(value)).send().await?.tx_hash());
    }
    let mut blocks = Vec::new();
    for hash in hashes {
        blocks.push(
            wait_for_receipt(&provider, hash)
                .await?
                .block_number
                .unwrap_or_default(),
        );
    }
    let (from, to) = (blocks[0], blocks[2]);
    ensure!(to - from < 4, "the three stores span blocks {from}..={to}");
    let (code, message) = rpc_error(
        &provider,
        "eth_getLogs",
        (json!({ "fromBlock": format!("{from:#x}"), "toBlock": format!("{to:#x}"), "address": contract }),),
    )
    .await?
    .ok_or_else(|| eyre!("three logs exceed the limit of two"))?;
    assert_eq!(code, -32602, "{message}");
    assert!(
        message.starts_with("query exceeds max results 2, retry with the range"),
        "{message}"
    );

    node.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installed_filters() -> Result<()> {
    let node = TestNode::start().await?;
    let provider = node.provider();
    let signature = EventEmitter::ValueChanged::SIGNATURE_HASH;
    let (contract, deployed) = deploy_emitter(&provider).await?;
    let early = store(&provider, contract, 0, 10).await?;

    let log_filter = provider
        .new_filter(&Filter::new().address(contract).event_signature(signature))
        .await?;
    let history_filter = provider
        .new_filter(
            &Filter::new()
                .address(contract)
                .from_block(deployed.block_number.unwrap_or_default()),
        )
        .await?;
    let missing_filter = provider.new_filter(&Filter::new().address(NOBODY)).await?;
    let block_filter = provider.new_block_filter().await?;
    let pending_filter = provider.new_pending_transactions_filter(false).await?;
    let full_pending_filter = provider.new_pending_transactions_filter(true).await?;
    let start = provider.get_block_number().await?;

    let later = store(&provider, contract, 2, 11).await?;
    let fees = generous_fees(&provider).await?;
    let (transfer, raw) = sign_transfer(&dev_signer(3), 0, NOBODY, U256::from(5u64), fees)?;
    let _ = provider.send_raw_transaction(&raw).await?;
    wait_for_receipt(&provider, transfer).await?;

    // Log filters see only what was mined after they were installed.
    let changes: Vec<Log> = provider.get_filter_changes(log_filter).await?;
    assert_eq!(
        positions(&changes),
        vec![(
            later.transaction_hash,
            later.logs()[0].log_index.unwrap_or_default()
        )],
        "the log filter sees the later store only"
    );
    assert_eq!(changes[0], later.logs()[0], "the log as in the receipt");
    let again: Vec<Log> = provider.get_filter_changes(log_filter).await?;
    assert!(again.is_empty(), "a second poll has nothing new: {again:?}");
    let none: Vec<Log> = provider.get_filter_changes(missing_filter).await?;
    assert!(
        none.is_empty(),
        "a filter of another address matches nothing"
    );

    // eth_getFilterLogs: the whole range of the filter.
    let history = provider.get_filter_logs(history_filter).await?;
    assert_eq!(
        positions(&history),
        vec![
            (
                early.transaction_hash,
                early.logs()[0].log_index.unwrap_or_default()
            ),
            (
                later.transaction_hash,
                later.logs()[0].log_index.unwrap_or_default()
            )
        ],
        "eth_getFilterLogs covers fromBlock..latest"
    );

    // The block filter: every block after installation, in order, with no gap.
    let hashes: Vec<B256> = provider.get_filter_changes(block_filter).await?;
    ensure!(!hashes.is_empty(), "new blocks were produced");
    let mut numbers = Vec::new();
    for hash in &hashes {
        let block = provider
            .get_block_by_hash(*hash)
            .await?
            .ok_or_else(|| eyre!("block {hash} of the block filter is unknown"))?;
        numbers.push(block.header.number);
    }
    // The filter was installed just before `start` was read: a block may have come in between.
    ensure!(
        numbers[0] == start || numbers[0] == start + 1,
        "the block filter starts after its installation (head {start}): {numbers:?}"
    );
    ensure!(
        numbers.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "consecutive blocks: {numbers:?}"
    );
    assert!(
        hashes.contains(&later.block_hash.unwrap_or_default()),
        "the block filter saw the store's block"
    );

    // Pending transaction filters: hashes, or whole transactions.
    let pending: Vec<B256> = provider.get_filter_changes(pending_filter).await?;
    assert!(
        pending.contains(&later.transaction_hash) && pending.contains(&transfer),
        "the pending filter saw both transactions: {pending:?}"
    );
    let full = raw_rpc(&provider, "eth_getFilterChanges", (full_pending_filter,)).await?;
    let full_hashes: Vec<B256> = full
        .as_array()
        .ok_or_else(|| eyre!("not a list: {full}"))?
        .iter()
        .map(|tx| ol_e2e::json_b256(tx, "hash"))
        .collect::<Result<_>>()?;
    assert!(
        full_hashes.contains(&transfer),
        "the full pending filter returns whole transactions: {full}"
    );
    let empty: Vec<B256> = provider.get_filter_changes(pending_filter).await?;
    assert!(empty.is_empty(), "nothing new since the last poll");

    // Removal.
    assert!(
        provider.uninstall_filter(log_filter).await?,
        "first uninstall"
    );
    assert!(
        !provider.uninstall_filter(log_filter).await?,
        "second uninstall"
    );
    let (code, message) = rpc_error(&provider, "eth_getFilterChanges", (log_filter,))
        .await?
        .ok_or_else(|| eyre!("polling an uninstalled filter must fail"))?;
    assert_eq!((code, message.as_str()), (-32000, "filter not found"));
    let (code, message) = rpc_error(&provider, "eth_getFilterLogs", (block_filter,))
        .await?
        .ok_or_else(|| eyre!("eth_getFilterLogs of a block filter must fail"))?;
    assert_eq!((code, message.as_str()), (-32000, "filter not found"));
    assert!(
        rpc_error(&provider, "eth_getFilterChanges", ("0x1234",))
            .await?
            .is_some(),
        "an id never issued is unknown"
    );
    node.finish().await
}
