//! `blocks`: transaction counts, transactions by block and index, block receipts, block tags
//! and EIP-1898 block objects, and the node's identity: `net_peerCount`, `net_listening`,
//! `net_version`, `eth_syncing`, `eth_accounts`.

use alloy::{
    primitives::{Address, B256, U256, address},
    providers::Provider,
};
use eyre::{Result, ensure, eyre};
use ol_e2e::{TestNode, dev_signer, generous_fees, json_b256, raw_rpc, sign_transfer};
use serde_json::{Value, json};

const RECIPIENT: Address = address!("0x00000000000000000000000000000000000e2e11");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_and_transaction_lookups() -> Result<()> {
    let node = TestNode::start().await?;
    let provider = node.provider();

    assert_eq!(
        raw_rpc(&provider, "net_peerCount", ()).await?,
        json!("0x0"),
        "net_peerCount"
    );
    assert_eq!(raw_rpc(&provider, "net_listening", ()).await?, json!(true));
    assert_eq!(raw_rpc(&provider, "net_version", ()).await?, json!("1611"));
    assert_eq!(raw_rpc(&provider, "eth_syncing", ()).await?, json!(false));
    assert_eq!(raw_rpc(&provider, "eth_accounts", ()).await?, json!([]));
    assert!(
        provider.get_accounts().await?.is_empty(),
        "alloy sees no accounts"
    );
    assert!(
        matches!(
            provider.syncing().await?,
            alloy::rpc::types::SyncStatus::None
        ),
        "alloy sees a node that is not syncing"
    );

    // Two transfers from two senders, sent together so that they most likely share a block.
    let fees = generous_fees(&provider).await?;
    let mut hashes = Vec::new();
    for index in [1, 2] {
        let (hash, raw) = sign_transfer(
            &dev_signer(index),
            0,
            RECIPIENT,
            U256::from(1_000 + u64::from(index)),
            fees,
        )?;
        let _ = provider.send_raw_transaction(&raw).await?;
        hashes.push(hash);
    }
    let mut receipts = Vec::new();
    for hash in &hashes {
        receipts.push(ol_e2e::wait_for_receipt(&provider, *hash).await?);
    }
    let number = receipts[0]
        .block_number
        .ok_or_else(|| eyre!("no block number"))?;
    let hash = receipts[0]
        .block_hash
        .ok_or_else(|| eyre!("no block hash"))?;
    let block = raw_rpc(
        &provider,
        "eth_getBlockByNumber",
        (format!("{number:#x}"), false),
    )
    .await?;
    let tx_hashes: Vec<B256> = serde_json::from_value(block["transactions"].clone())?;
    ensure!(
        tx_hashes.len() >= 2,
        "block {number} holds the L1-info deposit and at least one transfer: {tx_hashes:?}"
    );
    let count = format!("{:#x}", tx_hashes.len());

    // --- transaction counts ---------------------------------------------------------------
    assert_eq!(
        raw_rpc(
            &provider,
            "eth_getBlockTransactionCountByNumber",
            (format!("{number:#x}"),)
        )
        .await?,
        json!(count),
        "eth_getBlockTransactionCountByNumber"
    );
    assert_eq!(
        raw_rpc(&provider, "eth_getBlockTransactionCountByHash", (hash,)).await?,
        json!(count),
        "eth_getBlockTransactionCountByHash"
    );
    assert_eq!(
        raw_rpc(
            &provider,
            "eth_getBlockTransactionCountByNumber",
            ("earliest",)
        )
        .await?,
        json!("0x0"),
        "the genesis block has no transactions"
    );
    assert_eq!(
        raw_rpc(
            &provider,
            "eth_getBlockTransactionCountByHash",
            (B256::repeat_byte(7),)
        )
        .await?,
        Value::Null,
        "an unknown block hash has no count"
    );
    assert_eq!(
        raw_rpc(
            &provider,
            "eth_getBlockTransactionCountByNumber",
            ("0xffffffff",)
        )
        .await?,
        Value::Null,
        "a future block has no count"
    );

    // --- transactions by block and index ---------------------------------------------------
    for (index, expected) in tx_hashes.iter().enumerate() {
        let by_number = raw_rpc(
            &provider,
            "eth_getTransactionByBlockNumberAndIndex",
            (format!("{number:#x}"), format!("{index:#x}")),
        )
        .await?;
        let by_hash = raw_rpc(
            &provider,
            "eth_getTransactionByBlockHashAndIndex",
            (hash, format!("{index:#x}")),
        )
        .await?;
        let by_tx_hash = raw_rpc(&provider, "eth_getTransactionByHash", (expected,)).await?;
        assert_eq!(
            json_b256(&by_number, "hash")?,
            *expected,
            "tx {index} by number"
        );
        assert_eq!(
            by_number, by_hash,
            "tx {index}: by number and by hash agree"
        );
        assert_eq!(
            by_number, by_tx_hash,
            "tx {index}: by position and by hash agree"
        );
        assert_eq!(by_number["blockHash"], json!(hash), "tx {index} blockHash");
        assert_eq!(
            by_number["transactionIndex"],
            json!(format!("{index:#x}")),
            "tx {index} transactionIndex"
        );
    }
    let deposit = raw_rpc(
        &provider,
        "eth_getTransactionByBlockNumberAndIndex",
        (format!("{number:#x}"), "0x0"),
    )
    .await?;
    assert_eq!(
        deposit["type"],
        json!("0x7e"),
        "index 0 is the L1-info deposit"
    );
    let past_the_end = format!("{:#x}", tx_hashes.len());
    assert_eq!(
        raw_rpc(
            &provider,
            "eth_getTransactionByBlockNumberAndIndex",
            (format!("{number:#x}"), past_the_end.clone()),
        )
        .await?,
        Value::Null,
        "an index past the end is null"
    );
    assert_eq!(
        raw_rpc(
            &provider,
            "eth_getTransactionByBlockHashAndIndex",
            (B256::repeat_byte(7), "0x0")
        )
        .await?,
        Value::Null,
        "an unknown block is null"
    );

    // --- block receipts -------------------------------------------------------------------
    let block_receipts =
        raw_rpc(&provider, "eth_getBlockReceipts", (format!("{number:#x}"),)).await?;
    let list = block_receipts
        .as_array()
        .ok_or_else(|| eyre!("eth_getBlockReceipts is not a list: {block_receipts}"))?;
    assert_eq!(list.len(), tx_hashes.len(), "one receipt per transaction");
    for (index, tx_hash) in tx_hashes.iter().enumerate() {
        let single = raw_rpc(&provider, "eth_getTransactionReceipt", (tx_hash,)).await?;
        assert_eq!(
            list[index], single,
            "receipt {index} of eth_getBlockReceipts equals eth_getTransactionReceipt"
        );
    }
    assert_eq!(
        list[0]["type"],
        json!("0x7e"),
        "the deposit's receipt comes first"
    );
    for id in [
        json!(hash),
        json!({ "blockHash": hash }),
        json!({ "blockHash": hash, "requireCanonical": true }),
        json!({ "blockNumber": format!("{number:#x}") }),
    ] {
        assert_eq!(
            raw_rpc(&provider, "eth_getBlockReceipts", (id.clone(),)).await?,
            block_receipts,
            "eth_getBlockReceipts({id})"
        );
    }
    // (alloy's Ethereum receipt type cannot decode the deposit receipt, type 0x7e: the list is
    // compared as JSON above.)
    assert_eq!(
        raw_rpc(&provider, "eth_getBlockReceipts", ("earliest",)).await?,
        json!([]),
        "the genesis block has no receipts"
    );
    assert_eq!(
        raw_rpc(&provider, "eth_getBlockReceipts", (B256::repeat_byte(7),)).await?,
        Value::Null,
        "an unknown block has no receipts"
    );

    // --- block tags -------------------------------------------------------------------------
    let genesis = raw_rpc(&provider, "eth_getBlockByNumber", ("earliest", false)).await?;
    assert_eq!(
        genesis["number"],
        json!("0x0"),
        "earliest is the genesis block"
    );
    for tag in ["latest", "pending", "safe", "finalized"] {
        let before = provider.get_block_number().await?;
        let tagged = raw_rpc(&provider, "eth_getBlockByNumber", (tag, false)).await?;
        let tagged_number = ol_e2e::json_quantity(&tagged, "number")?.to::<u64>();
        let after = provider.get_block_number().await?;
        ensure!(
            (before..=after).contains(&tagged_number),
            "{tag} resolves to the head ({before}..={after}), got {tagged_number}"
        );
        let receipts = raw_rpc(&provider, "eth_getBlockReceipts", (tag,)).await?;
        ensure!(
            receipts.is_array(),
            "eth_getBlockReceipts({tag}) is a list: {receipts}"
        );
    }
    // EIP-1898 objects where state is read: the head by hash works.
    let head = raw_rpc(&provider, "eth_getBlockByNumber", ("latest", false)).await?;
    let head_hash = json_b256(&head, "hash")?;
    let balance = raw_rpc(
        &provider,
        "eth_getBalance",
        (RECIPIENT, json!({ "blockHash": head_hash })),
    )
    .await;
    // The head may have moved on since; then the node refuses the (now historical) block.
    if let Ok(balance) = balance {
        assert_eq!(balance, json!("0x7d3"), "the recipient got 1001 + 1002 wei");
    }

    node.finish().await
}
