//! `optimism`: op-node's rollup RPC on the node: `optimism_outputAtBlock` against an output root
//! computed here from the block header and the message passer's proof, `optimism_syncStatus`,
//! `optimism_rollupConfig` and `optimism_version`.

use alloy::{
    primitives::{B256, keccak256},
    providers::Provider,
};
use eyre::{Result, ensure, eyre};
use ol_e2e::{TestNode, json_b256, raw_rpc, wait_for_block};
use serde_json::{Value, json};

const MESSAGE_PASSER: &str = "0x4200000000000000000000000000000000000016";

fn number(value: &Value) -> Result<u64> {
    value
        .as_u64()
        .ok_or_else(|| eyre!("expected a JSON number, got {value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optimism_namespace() -> Result<()> {
    let node = TestNode::start().await?;
    let provider = node.provider();
    wait_for_block(&provider, 2).await?;

    let version = raw_rpc(&provider, "optimism_version", ()).await?;
    ensure!(
        version.as_str().is_some_and(|v| v.starts_with("openledger/v")),
        "{version}"
    );

    let config = raw_rpc(&provider, "optimism_rollupConfig", ()).await?;
    assert_eq!(config["l2_chain_id"], json!(1611));
    assert_eq!(config["block_time"], json!(1));
    let genesis_l2 = provider
        .get_block_by_number(0.into())
        .await?
        .ok_or_else(|| eyre!("genesis"))?;
    assert_eq!(
        json_b256(&config["genesis"]["l2"], "hash")?,
        genesis_l2.header.hash,
        "the rollup config anchors the L2 genesis"
    );

    // The output root of the head, recomputed from its header and checked against the message
    // passer's storage root from eth_getProof.
    let head = provider.get_block_number().await?;
    let block = provider
        .get_block_by_number(head.into())
        .await?
        .ok_or_else(|| eyre!("block {head}"))?;
    let withdrawals_root = block
        .header
        .withdrawals_root
        .ok_or_else(|| eyre!("withdrawalsRoot"))?;
    let proof = raw_rpc(
        &provider,
        "eth_getProof",
        (MESSAGE_PASSER, Vec::<B256>::new(), format!("{head:#x}")),
    )
    .await?;
    assert_eq!(json_b256(&proof, "storageHash")?, withdrawals_root);
    let mut preimage = [0u8; 128];
    preimage[32..64].copy_from_slice(block.header.state_root.as_slice());
    preimage[64..96].copy_from_slice(withdrawals_root.as_slice());
    preimage[96..].copy_from_slice(block.header.hash.as_slice());
    let output = raw_rpc(&provider, "optimism_outputAtBlock", (format!("{head:#x}"),)).await?;
    assert_eq!(json_b256(&output, "outputRoot")?, keccak256(preimage));
    assert_eq!(json_b256(&output, "version")?, B256::ZERO);
    assert_eq!(json_b256(&output, "stateRoot")?, block.header.state_root);
    assert_eq!(json_b256(&output, "withdrawalStorageRoot")?, withdrawals_root);
    let block_ref = &output["blockRef"];
    assert_eq!(json_b256(block_ref, "hash")?, block.header.hash);
    assert_eq!(json_b256(block_ref, "parentHash")?, block.header.parent_hash);
    assert_eq!(number(&block_ref["number"])?, head);
    assert_eq!(number(&block_ref["timestamp"])?, block.header.timestamp);
    // Without an L1 every block is in the genesis L1 block's epoch.
    assert_eq!(block_ref["l1origin"]["hash"], config["genesis"]["l1"]["hash"]);
    assert_eq!(number(&block_ref["sequenceNumber"])?, head);

    let status = raw_rpc(&provider, "optimism_syncStatus", ()).await?;
    ensure!(number(&status["unsafe_l2"]["number"])? >= head, "{status}");
    for field in ["safe_l2", "finalized_l2", "pending_safe_l2"] {
        ensure!(status[field].is_object(), "{field} missing: {status}");
    }
    for field in ["current_l1", "head_l1", "safe_l1", "finalized_l1"] {
        assert_eq!(status[field]["hash"], config["genesis"]["l1"]["hash"], "{field}");
    }

    // A block that does not exist.
    let missing = provider
        .raw_request::<_, Value>("optimism_outputAtBlock".into(), ("0xffffff",))
        .await;
    ensure!(missing.is_err(), "an output for a future block: {missing:?}");
    node.finish().await
}
