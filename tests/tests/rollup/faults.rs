//! The rollup under faults: DA failing over to L1 calldata, the sequencer killed while batching,
//! the follower killed, and an L1 reorg, with the follower agreeing with the sequencer after each.

use crate::devnet::{Devnet, follower_catches_up, inbox_payloads, metric};
use alloy::providers::Provider;
use eyre::{Result, ensure};
use ol_e2e::{raw_rpc, wait_until};
use std::time::Duration;

/// How far the follower must get after each fault.
const CATCH_UP: Duration = Duration::from_secs(120);

/// Turns the DA process's failover switch (puts answer 503 while on).
async fn failover(devnet: &Devnet, on: bool) -> Result<()> {
    devnet
        .da
        .as_ref()
        .ok_or_else(|| eyre::eyre!("this devnet has no DA process"))?
        .set_failover(on)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollup_survives_da_failover_kills_and_l1_reorg() -> Result<()> {
    // The sequencer keeps 4 L1 confirmations, deeper than the reorg below, so its L1 origins
    // stay canonical; the follower keeps 1, so it derives from blocks the reorg removes.
    let mut devnet = Devnet::start(4, false).await?;
    let l1 = devnet.anvil.provider()?;
    let inbox = devnet.address("batchInbox")?;
    follower_catches_up(&devnet, CATCH_UP).await?;

    // DA answers 503: the batcher posts frames as calldata (version byte 0) and the follower
    // still derives them.
    failover(&devnet, true).await?;
    let from = l1.get_block_number().await?;
    wait_until(
        "a calldata batch",
        Duration::from_secs(60),
        Duration::from_millis(500),
        async || {
            let to = l1.get_block_number().await?;
            let payloads = inbox_payloads(&l1, inbox, from, to).await?;
            Ok(payloads
                .iter()
                .any(|p| p.first() == Some(&0x00))
                .then_some(()))
        },
    )
    .await?;
    follower_catches_up(&devnet, CATCH_UP).await?;
    failover(&devnet, false).await?;

    // The sequencer is killed while it batches and restarted: nothing lost, nothing repeated
    // (a repeated block would be a batch derivation drops as already safe).
    tokio::time::sleep(Duration::from_secs(3)).await;
    devnet.sequencer.kill9().await?;
    devnet.sequencer.restart().await?;
    follower_catches_up(&devnet, CATCH_UP).await?;

    // Up to here the follower never reset, so every batch it read was new: a block batched
    // twice would show as a batch for an already-safe block.
    let past = metric(devnet.metrics.1, "derive_batches_past_total").await?;
    let dropped = metric(devnet.metrics.1, "derive_batches_dropped_total").await?;
    ensure!(
        past == 0.0 && dropped == 0.0,
        "the follower saw {past} batches of already-safe blocks and dropped {dropped}"
    );

    // The follower is killed and restarted: it continues from its safe head.
    devnet.follower.kill9().await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    devnet.follower.restart().await?;
    follower_catches_up(&devnet, CATCH_UP).await?;

    // L1 reorgs 3 blocks deep: batches in them vanish, the batcher posts them again, and the
    // follower (which derived from the lost blocks) resets and stays consistent.
    wait_until(
        "a batch in the newest L1 block",
        Duration::from_secs(60),
        Duration::from_millis(200),
        async || {
            let head = l1.get_block_number().await?;
            Ok((!inbox_payloads(&l1, inbox, head, head).await?.is_empty()).then_some(()))
        },
    )
    .await?;
    let before = l1.get_block_number().await?;
    raw_rpc(&l1, "anvil_reorg", (3u64, Vec::<()>::new())).await?;
    ensure!(
        l1.get_block_number().await? >= before,
        "anvil_reorg shortened the chain"
    );
    wait_until(
        "the follower to reset derivation",
        Duration::from_secs(60),
        Duration::from_millis(300),
        async || Ok((metric(devnet.metrics.1, "derive_resets_total").await? >= 1.0).then_some(())),
    )
    .await?;
    wait_until(
        "the batcher to resubmit",
        Duration::from_secs(60),
        Duration::from_millis(300),
        async || {
            Ok(
                (metric(devnet.metrics.0, "batcher_resubmitted_blocks_total").await? > 0.0)
                    .then_some(()),
            )
        },
    )
    .await?;
    follower_catches_up(&devnet, CATCH_UP).await?;

    devnet.finish().await
}
