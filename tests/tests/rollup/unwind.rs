//! Unwinding: `openledger db unwind` on a stopped follower (killed mid-unwind too), after which
//! the follower derives the removed blocks again, identical; and a sequencer whose L1 origins
//! an L1 reorg removes, which unwinds the blocks built on them, re-sequences their
//! transactions, and ends up agreeing with its follower.

use crate::devnet::{Devnet, follower_catches_up, metric};
use alloy::{
    network::TransactionBuilder,
    primitives::{Address, TxHash, U256, address, bytes},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use eyre::{Result, WrapErr, ensure, eyre};
use ol_e2e::{
    CommandOutput, TestNode, dev_address, openledger_bin, raw_rpc, wait_for_receipt, wait_until,
};
use std::time::Duration;

/// How long a follower may take to derive what it is missing.
const CATCH_UP: Duration = Duration::from_secs(150);

/// Sends `count` transfers from dev account `from` to fresh addresses and waits for them.
async fn transfers(node: &TestNode, from: u32, count: u8) -> Result<Vec<TxHash>> {
    let l2 = node.provider();
    let mut hashes = Vec::new();
    for index in 0..count {
        let sent = l2
            .send_transaction(
                TransactionRequest::default()
                    .with_from(dev_address(from))
                    .with_to(Address::repeat_byte(0x60 + index))
                    .with_value(U256::from(1_000 + u64::from(index))),
            )
            .await?;
        hashes.push(*sent.tx_hash());
    }
    for hash in &hashes {
        ensure!(
            wait_for_receipt(&l2, *hash).await?.status(),
            "transfer {hash} failed"
        );
    }
    Ok(hashes)
}

/// The head `db check` reports for a stopped node, after checking the report is ok.
async fn checked_head(node: &TestNode) -> Result<u64> {
    let (output, report) = node.db_check().await?;
    ensure!(
        report["ok"] == true && output.status.success(),
        "db check is not ok:\n{output}"
    );
    report["head"]
        .as_u64()
        .ok_or_else(|| eyre!("db check report without head: {report}"))
}

/// `openledger db unwind --datadir <node's> <flag> <value>` on a stopped node.
async fn db_unwind(node: &TestNode, flag: &str, value: u64) -> Result<CommandOutput> {
    let datadir = node
        .datadir()
        .to_str()
        .ok_or_else(|| eyre!("datadir path"))?;
    node.run_cli(&[
        "db",
        "unwind",
        "--datadir",
        datadir,
        flag,
        &value.to_string(),
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwound_follower_derives_the_same_blocks_again() -> Result<()> {
    let mut devnet = Devnet::start(2, true).await?;
    transfers(&devnet.sequencer, 0, 3).await?;
    follower_catches_up(&devnet, CATCH_UP).await?;
    transfers(&devnet.sequencer, 1, 3).await?;
    // Enough blocks for the unwinds below to reach under the safe head.
    ol_e2e::wait_for_block(&devnet.sequencer.provider(), 36).await?;
    let safe = follower_catches_up(&devnet, CATCH_UP).await?;
    devnet.follower.stop().await?;
    let datadir = devnet.follower.datadir().to_path_buf();
    let mut head = checked_head(&devnet.follower).await?;
    ensure!(
        head >= safe && head > 24,
        "the follower has only {head} blocks"
    );

    // SIGKILL at several points of an unwind: the database is at the old head or at the
    // target, never in between, and passes the consistency check.
    for delay_ms in [0u64, 5, 15, 40, 100] {
        let target = head - 3;
        let mut child = tokio::process::Command::new(openledger_bin()?)
            .args(["db", "unwind", "--datadir"])
            .arg(&datadir)
            .args(["--to", &target.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        let _ = child.start_kill();
        child.wait().await?;
        let now = checked_head(&devnet.follower).await?;
        ensure!(
            now == head || now == target,
            "after SIGKILL {delay_ms} ms into an unwind {head} → {target} the head is {now}"
        );
        head = now;
    }

    // A whole unwind, below the safe head.
    let output = db_unwind(&devnet.follower, "--num-blocks", 20)
        .await?
        .ensure_success()?;
    let report = output.last_line_json()?;
    ensure!(
        report["from"] == head && report["to"] == head - 20 && report["loweredSafe"] == true,
        "unexpected unwind report: {report}"
    );
    ensure!(
        report["restoredKeys"].as_u64().is_some_and(|keys| keys > 0),
        "the unwind restored nothing: {report}"
    );
    ensure!(
        checked_head(&devnet.follower).await? == head - 20,
        "db check head after unwind"
    );
    // A target above the head is refused and changes nothing.
    let refused = db_unwind(&devnet.follower, "--to", head + 5).await?;
    ensure!(
        !refused.status.success(),
        "an unwind above the head succeeded: {refused}"
    );
    ensure!(
        checked_head(&devnet.follower).await? == head - 20,
        "a refused unwind moved the head"
    );

    // Forward again: derivation rebuilds the removed blocks, hash for hash.
    devnet.follower.restart().await?;
    follower_catches_up(&devnet, CATCH_UP).await?;
    devnet.finish().await
}

/// The L1 block number block `number`'s L1-info deposit names (`L1Block.number()`).
async fn l1_origin_of(node: &TestNode, number: u64) -> Result<u64> {
    let call = TransactionRequest::default()
        .with_to(address!("4200000000000000000000000000000000000015"))
        .with_input(bytes!("8381f58a"));
    let raw = node.provider().call(call).block(number.into()).await?;
    Ok(U256::from_be_slice(&raw).to::<u64>())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequencer_unwinds_blocks_whose_l1_origin_is_reorged_away() -> Result<()> {
    // One L1 confirmation: the sequencer's origins are within the reach of a short reorg.
    let devnet = Devnet::start(1, true).await?;
    let l1 = devnet.anvil.provider()?;
    let l2 = devnet.sequencer.provider();
    follower_catches_up(&devnet, CATCH_UP).await?;

    let hashes = transfers(&devnet.sequencer, 2, 2).await?;
    let receipt = wait_for_receipt(&l2, hashes[1]).await?;
    let block = receipt
        .block_number
        .ok_or_else(|| eyre!("receipt without a block"))?;
    let block_hash = receipt
        .block_hash
        .ok_or_else(|| eyre!("receipt without a hash"))?;
    let origin = l1_origin_of(&devnet.sequencer, block).await?;
    let l1_head = l1.get_block_number().await?;
    // Deep enough to replace the origin of the transfer's block.
    let depth = l1_head - origin + 1;
    raw_rpc(&l1, "anvil_reorg", (depth, Vec::<()>::new()))
        .await
        .wrap_err("anvil_reorg")?;

    wait_until(
        "the sequencer to unwind",
        Duration::from_secs(60),
        Duration::from_millis(300),
        async || {
            Ok((metric(devnet.metrics.0, "sequencer_reorgs_total").await? >= 1.0).then_some(()))
        },
    )
    .await
    .wrap_err_with(|| devnet.sequencer.log_tail(40))?;
    ensure!(
        metric(devnet.metrics.0, "chain_unwinds_total").await? >= 1.0,
        "the sequencer reorged without counting an unwind"
    );
    // The transfers are mined again on the new chain, out of the pool.
    let again = wait_until(
        "the transfer to be mined again",
        Duration::from_secs(60),
        Duration::from_millis(300),
        async || {
            let receipt = l2.get_transaction_receipt(hashes[1]).await?;
            Ok(receipt.filter(|receipt| receipt.block_hash != Some(block_hash)))
        },
    )
    .await?;
    ensure!(again.status(), "the re-sequenced transfer failed");
    let new_origin =
        l1_origin_of(&devnet.sequencer, again.block_number.unwrap_or_default()).await?;
    let canonical = l1
        .get_block_by_number(new_origin.into())
        .await?
        .ok_or_else(|| eyre!("no L1 block {new_origin}"))?;
    ensure!(
        canonical.header.number == new_origin,
        "the new block's origin {new_origin} is not on L1"
    );
    // The follower, which may have derived the replaced blocks, ends on the same chain.
    transfers(&devnet.sequencer, 3, 1).await?;
    follower_catches_up(&devnet, CATCH_UP).await?;
    devnet.finish().await
}
