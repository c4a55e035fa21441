//! The batcher against a real node database, the built-in DA server over HTTP and an in-memory
//! L1: blocks reach DA with their commitment in the inbox and decode back to exactly their
//! transactions; DA failover posts calldata; restarts neither lose nor repeat blocks; L1 reorgs
//! and channel timeouts make the batcher post the lost blocks again.

mod flaky;
mod harness;

use flaky::SendMode;
use harness::{Bench, quick_config};
use ol_batcher::{BatcherConfig, BatcherError, Plan};
use ol_da::Commitment;
use ol_l1::{L1Watcher, WatcherConfig};
use std::time::Duration;

#[tokio::test]
async fn blocks_go_to_da_and_the_inbox_carries_their_commitment() {
    let mut bench = Bench::new().await;
    for i in 0..6 {
        bench.commit_block(i % 4, 64);
    }
    let mut batcher = bench.batcher(quick_config());
    let report = batcher.step(bench.l1_head()).await.unwrap();
    assert_eq!(
        (
            report.channels_sealed,
            report.blocks_batched,
            report.txs_sent
        ),
        (1, 6, 1)
    );
    assert_eq!(batcher.cursor().number, 6);
    let record = batcher.channels().values().next().unwrap().clone();
    let Some(Plan::Da { commitment }) = &record.plan else {
        panic!("posted through DA: {:?}", record.plan)
    };

    let block = bench.chain.mine(1);
    batcher.step(bench.l1_head()).await.unwrap();
    let tx = &batcher.channels()[&record.seq].txs[0];
    assert_eq!(tx.included.map(|b| b.hash), Some(block.hash));

    let inbox = bench.read_inbox().await;
    assert_eq!((inbox.commitment_txs, inbox.calldata_txs), (1, 0));
    bench.assert_all_blocks_once(&inbox);
    let txs = ol_l1::L1Client::block_transactions(&*bench.chain, block.hash)
        .await
        .unwrap();
    let mut expected_input = vec![0x01];
    expected_input.extend_from_slice(commitment);
    assert_eq!(txs[0].input.as_ref(), expected_input.as_slice());
    assert!(matches!(
        Commitment::from_tx_data(&txs[0].input).unwrap(),
        Commitment::Generic { .. }
    ));

    // Finally included channels are forgotten once deep enough.
    bench.chain.mine(3);
    let report = batcher.step(bench.l1_head()).await.unwrap();
    assert_eq!(report.channels_done, 1);
    assert!(batcher.channels().is_empty());
}

#[tokio::test]
async fn large_blocks_fill_several_channels_of_several_frames() {
    let mut bench = Bench::new().await;
    // Random data does not compress: about 30 KB per block.
    bench.commit_blocks(12, 2, 15_000);
    let config = BatcherConfig {
        max_frame_size: 20_000,
        max_channel_size: 70_000,
        ..quick_config()
    };
    let mut batcher = bench.batcher(config);
    let report = batcher.step(bench.l1_head()).await.unwrap();
    assert!(report.channels_sealed >= 4, "{report:?}");
    assert_eq!(report.blocks_batched, 12);
    bench.chain.mine(1);
    batcher.step(bench.l1_head()).await.unwrap();
    let inbox = bench.read_inbox().await;
    assert_eq!(inbox.commitment_txs as u64, report.channels_sealed);
    assert!(inbox.max_frames_per_payload >= 2, "{inbox:?}");
    bench.assert_all_blocks_once(&inbox);
}

#[tokio::test]
async fn da_503_falls_back_to_calldata_frames_that_decode_to_the_same_blocks() {
    let mut bench = Bench::new().await;
    bench.commit_blocks(6, 1, 300);
    bench.set_da_failover(true).await;
    let config = BatcherConfig {
        calldata_max_tx_size: 600,
        ..quick_config()
    };
    let mut batcher = bench.batcher(config);
    let report = batcher.step(bench.l1_head()).await.unwrap();
    assert_eq!(report.fallbacks, 1);
    assert!(report.txs_sent >= 3, "{report:?}");
    bench.chain.mine(1);
    batcher.step(bench.l1_head()).await.unwrap();
    let inbox = bench.read_inbox().await;
    assert_eq!(inbox.commitment_txs, 0);
    assert_eq!(inbox.calldata_txs as u64, report.txs_sent);
    assert!(inbox.max_calldata_len <= 600, "{inbox:?}");
    bench.assert_all_blocks_once(&inbox);

    // DA back: the next channel goes to DA again.
    bench.set_da_failover(false).await;
    bench.commit_blocks(2, 1, 300);
    let report = batcher.step(bench.l1_head()).await.unwrap();
    assert_eq!((report.fallbacks, report.txs_sent), (0, 1));
    bench.chain.mine(1);
    let inbox = bench.read_inbox().await;
    assert_eq!(inbox.commitment_txs, 1);
    bench.assert_all_blocks_once(&inbox);
}

#[tokio::test]
async fn a_restart_mid_way_neither_loses_nor_repeats_a_block() {
    let mut bench = Bench::new().await;
    bench.commit_blocks(3, 1, 100);
    {
        let mut batcher = bench.batcher(quick_config());
        batcher.step(bench.l1_head()).await.unwrap();
    }
    bench.chain.mine(1);

    // Blocks 4..6 sit in an open channel when the batcher dies: nothing of them is recorded.
    bench.commit_blocks(3, 1, 100);
    {
        let slow = BatcherConfig {
            max_channel_age_l1: 1_000,
            max_channel_age: Duration::from_secs(3_600),
            ..quick_config()
        };
        let mut batcher = bench.batcher(slow);
        let report = batcher.step(bench.l1_head()).await.unwrap();
        assert_eq!(report.channels_sealed, 0);
        assert_eq!(batcher.cursor().number, 3);
    }

    // Sealed, stored in DA and signed, but the send fails: then the batcher dies.
    {
        bench.l1.set(SendMode::Fail);
        let mut batcher = bench.batcher(quick_config());
        assert!(matches!(
            batcher.step(bench.l1_head()).await,
            Err(BatcherError::L1(_))
        ));
        assert_eq!(batcher.cursor().number, 6);
    }

    // The re-send reaches L1 but its answer is lost, and the batcher dies again.
    bench.commit_blocks(2, 1, 100);
    {
        bench.l1.set(SendMode::DeliverThenFail);
        let mut batcher = bench.batcher(quick_config());
        assert!(batcher.step(bench.l1_head()).await.is_err());
    }

    // Healthy again: the already delivered transaction is not sent a second time.
    bench.l1.set(SendMode::Normal);
    let mut batcher = bench.batcher(quick_config());
    batcher.step(bench.l1_head()).await.unwrap();
    bench.chain.mine(1);
    batcher.step(bench.l1_head()).await.unwrap();
    assert_eq!(batcher.cursor().number, 8);
    assert!(batcher.channels().values().all(|c| c.fully_included()));

    let inbox = bench.read_inbox().await;
    assert_eq!(inbox.commitment_txs, 3, "one inbox transaction per channel");
    bench.assert_all_blocks_once(&inbox);
}

#[tokio::test]
async fn an_l1_reorg_that_drops_an_inbox_tx_is_resubmitted() {
    let mut bench = Bench::new().await;
    bench.commit_blocks(4, 2, 80);
    let mut batcher = bench.batcher(quick_config());
    batcher.step(bench.l1_head()).await.unwrap();
    bench.chain.mine(1);
    batcher.step(bench.l1_head()).await.unwrap();
    let first = bench.read_inbox().await;
    bench.assert_all_blocks_once(&first);

    // The block holding the inbox transaction is replaced.
    bench.chain.reorg(1, 2);
    assert!(bench.read_inbox().await.blocks.is_empty());
    let report = batcher.step(bench.l1_head()).await.unwrap();
    assert_eq!(report.blocks_rewound, 4);
    assert_eq!((report.channels_sealed, report.txs_sent), (1, 1));
    bench.chain.mine(1);
    batcher.step(bench.l1_head()).await.unwrap();

    let inbox = bench.read_inbox().await;
    bench.assert_all_blocks_once(&inbox);
    assert_eq!(inbox.tx_hashes.len(), 1);
    assert_ne!(inbox.tx_hashes, first.tx_hashes, "a new transaction");
}

#[tokio::test]
async fn a_channel_not_included_within_the_channel_timeout_is_rebuilt() {
    let mut bench = Bench::new().await;
    let mut rollup = bench.spec.rollup.clone();
    rollup.channel_timeout = 4;
    bench.commit_blocks(3, 1, 50);
    let mut batcher = bench.batcher_with(quick_config(), rollup);

    // The endpoint acknowledges the transaction, which then never gets mined.
    bench.l1.set(SendMode::Swallow);
    let submitted_at = bench.l1_head();
    batcher.step(submitted_at).await.unwrap();
    let lost_channel = batcher.channels().values().next().unwrap().id;
    bench.l1.set(SendMode::Normal);
    bench.chain.mine(4);
    let report = batcher.step(bench.l1_head()).await.unwrap();
    assert_eq!(
        report.blocks_rewound, 0,
        "within the timeout: still waiting"
    );

    bench.chain.mine(1);
    let report = batcher.step(bench.l1_head()).await.unwrap();
    assert_eq!(report.blocks_rewound, 3);
    assert_eq!((report.channels_sealed, report.txs_sent), (1, 1));
    bench.chain.mine(1);
    batcher.step(bench.l1_head()).await.unwrap();

    let inbox = bench.read_inbox().await;
    bench.assert_all_blocks_once(&inbox);
    assert_eq!(inbox.channels.len(), 1);
    assert_ne!(inbox.channels[0], lost_channel, "a rebuilt channel");
}

#[tokio::test]
async fn a_restart_resends_transactions_the_endpoint_lost() {
    let mut bench = Bench::new().await;
    bench.commit_blocks(3, 1, 40);
    {
        // Accepted by the endpoint, then lost from its pool; the batcher dies before noticing.
        bench.l1.set(SendMode::Swallow);
        let mut batcher = bench.batcher(quick_config());
        batcher.step(bench.l1_head()).await.unwrap();
        assert!(batcher.channels().values().all(|c| c.txs[0].broadcast));
    }
    bench.l1.set(SendMode::Normal);
    bench.chain.mine(1);
    assert!(bench.read_inbox().await.blocks.is_empty());

    let mut batcher = bench.batcher(quick_config());
    let report = batcher.step(bench.l1_head()).await.unwrap();
    assert_eq!((report.txs_sent, report.channels_sealed), (1, 0));
    bench.chain.mine(1);
    batcher.step(bench.l1_head()).await.unwrap();
    let inbox = bench.read_inbox().await;
    bench.assert_all_blocks_once(&inbox);
    assert!(batcher.channels().values().all(|c| c.fully_included()));
}

/// Mines L1 blocks until the inbox shows every committed block once through a transaction not
/// in `old`, and returns the inbox.
async fn mine_until_batched(bench: &Bench, old: &[alloy_primitives::B256]) -> harness::Inbox {
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        let inbox = bench.read_inbox().await;
        let numbers: Vec<u64> = inbox.blocks.iter().map(|(n, _)| *n).collect();
        let expected: Vec<u64> = bench.expected.iter().map(|(n, _)| *n).collect();
        if numbers == expected && inbox.tx_hashes.iter().all(|hash| !old.contains(hash)) {
            return inbox;
        }
        bench.chain.mine(1);
    }
    panic!("the blocks never reached the inbox");
}

#[tokio::test]
async fn run_follows_l1_watcher_events_and_resubmits_after_a_reorg() {
    let mut bench = Bench::new().await;
    bench.commit_blocks(4, 1, 60);
    let batcher = bench.batcher(quick_config());
    let (watcher, events, _view) = L1Watcher::new(
        bench.chain.clone(),
        WatcherConfig {
            poll_interval: Duration::from_millis(10),
            ..WatcherConfig::default()
        },
    );
    let watcher = tokio::spawn(watcher.run());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(batcher.run(events, stopped));

    let first = mine_until_batched(&bench, &[]).await;
    bench.assert_all_blocks_once(&first);

    // Replace every L1 block from the one holding the inbox transaction on.
    let mut included = None;
    for number in 0..=bench.l1_head() {
        let block = bench.chain.block(number).unwrap();
        let txs = ol_l1::L1Client::block_transactions(&*bench.chain, block.hash)
            .await
            .unwrap();
        if txs.iter().any(|tx| tx.hash == first.tx_hashes[0]) {
            included = Some(number);
            break;
        }
    }
    let included = included.expect("the inbox transaction is in a canonical block");
    bench.chain.reorg(bench.l1_head() - included + 1, 1);
    assert!(bench.read_inbox().await.blocks.is_empty());

    // More L2 blocks meanwhile: they follow the resubmitted ones.
    bench.commit_blocks(2, 1, 60);
    let second = mine_until_batched(&bench, &first.tx_hashes).await;
    bench.assert_all_blocks_once(&second);

    stop.send(true).unwrap();
    running.await.unwrap();
    watcher.await.unwrap();
}
