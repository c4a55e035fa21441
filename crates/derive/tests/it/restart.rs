//! Restarts and retries: a pipeline reset to a safe head in the middle of the chain derives
//! exactly the remaining blocks, and a transient L1 or DA failure is retried to the same result.

use crate::common::{Da, Event, World, deposit_log, derived, l2_hash, run};
use alloy_primitives::Address;
use ol_da::{Commitment, DaClient, DaError, PutMode};
use ol_derive::{DeriveError, DerivedBlock, Pipeline, Step, reset_start};
use ol_rollup::frame::encode_batcher_payload;

/// The fields that identify a derived block.
fn key(block: &DerivedBlock) -> (u64, u64, u64, u64, usize, usize, u64) {
    (
        block.number(),
        block.attributes.timestamp,
        block.epoch.number,
        block.sequence_number(),
        block.transactions.len(),
        block.attributes.deposits.len(),
        block.derived_from.number,
    )
}

/// 80 L1 blocks with deposits in blocks 1 and 55; every 7 L1 blocks the batcher posts the
/// blocks sequenced so far as one span-batch channel of small frames, half of them in that L1
/// block and the rest two blocks later, so channels straddle L1 blocks.
async fn busy_world() -> World {
    let mut world = World::new(3600);
    let mut batched = 0u64;
    let mut rest = Vec::new();
    for n in 1..=80u64 {
        if n == 1 || n == 55 {
            world
                .l1
                .mine_with(vec![deposit_log(Address::repeat_byte(n as u8), n as u8)]);
        } else {
            world.mine();
        }
        // Frames held back from two blocks ago.
        if n % 7 == 2 && !rest.is_empty() {
            world.post_calldata(&std::mem::take(&mut rest)).await;
        }
        if n % 7 == 0 {
            // Blocks up to the end of the epoch of L1 block n (origin n at most), posted in
            // L1 block n + 1.
            let last = (n * 12 + 10) / 2;
            world.sequence_to(last, n % 3);
            let frames = world.span_channel(n as u8, world.blocks(batched + 1, last), 400);
            batched = last;
            let half = frames.len().div_ceil(2);
            world.post_calldata(&frames[..half]).await;
            rest = frames[half..].to_vec();
        }
    }
    world
}

fn lookup(world: &World) -> ol_derive::L2Lookup {
    let chain: Vec<_> = world.chain.iter().map(|b| b.info).collect();
    Box::new(move |number| chain.get(number as usize).copied())
}

#[tokio::test]
async fn a_reset_to_a_mid_way_safe_head_yields_exactly_the_remaining_blocks() {
    let world = busy_world().await;
    let da = Da::start(PutMode::Generic).await;
    let head = world.l1.head().number;
    let mut full = world.pipeline(da.client.clone());
    let all = derived(&run(&mut full, head).await);
    let last = all.last().unwrap().number();
    assert_eq!(last, (77 * 12 + 10) / 2, "every batched block is derived");
    assert_eq!(
        all.iter().map(|b| b.number()).collect::<Vec<_>>(),
        (1..=last).collect::<Vec<_>>()
    );
    for (block, model) in all.iter().zip(&world.chain[1..]) {
        assert_eq!(block.block_info(model.info.hash), model.info);
        assert_eq!(block.transactions, model.txs);
    }

    // Restart from several safe heads, some in the middle of a span batch, some with an L1
    // origin more than a channel timeout past genesis.
    let mut reused = world.pipeline(da.client.clone());
    reused.set_l2_lookup(lookup(&world));
    for k in [1u64, 13, 100, 250, 333, 401, 440, last - 1, last] {
        let safe = world.chain[k as usize].info;
        let start = reset_start(&world.rollup, safe.l1_origin.number);
        assert_eq!(start, safe.l1_origin.number.saturating_sub(50));
        let mut fresh = Pipeline::new(
            world.rollup.clone(),
            world.l1.clone(),
            da.client.clone(),
            safe,
            start,
        )
        .unwrap();
        fresh.set_l2_lookup(lookup(&world));
        reused.reset(safe, start);
        for pipeline in [&mut fresh, &mut reused] {
            let rest = derived(&run(pipeline, head).await);
            assert_eq!(
                rest.iter().map(key).collect::<Vec<_>>(),
                all[k as usize..].iter().map(key).collect::<Vec<_>>(),
                "restart at block {k} (L1 origin {}, start {start})",
                safe.l1_origin.number
            );
            for (a, b) in rest.iter().zip(&all[k as usize..]) {
                assert_eq!(a.transactions, b.transactions);
                assert_eq!(a.parent, b.parent);
            }
        }
    }
}

#[tokio::test]
async fn an_l1_reorg_under_the_pipeline_is_reported_for_a_reset() {
    let world = busy_world().await;
    let da = Da::start(PutMode::Generic).await;
    let mut pipeline = world.pipeline(da.client.clone());
    run(&mut pipeline, 78).await;
    world.l1.reorg(3, 3);
    let err = pipeline.step(80).await.unwrap_err();
    assert!(err.needs_reset(), "{err}");
    assert!(
        matches!(err, DeriveError::L1Reorg { number: 79, .. }),
        "{err}"
    );
    // Unchanged: the same step fails the same way until a reset.
    assert!(pipeline.step(80).await.unwrap_err().needs_reset());
    assert_eq!(pipeline.origin().map(|o| o.number), Some(78));
}

#[tokio::test]
async fn a_transient_da_or_l1_failure_is_retried_to_the_same_blocks() {
    let mut world = World::new(3600);
    world
        .l1
        .mine_with(vec![deposit_log(Address::repeat_byte(1), 1)]);
    world.sequence_to(8, 2);
    let da = Da::start(PutMode::Keccak).await;
    let frames = world.span_channel(1, world.blocks(1, 8), 100_000);
    let payload = encode_batcher_payload(&frames).unwrap();
    let commitment = Commitment::keccak(&payload);
    // The commitment lands on L1 before the payload reaches DA.
    world
        .send(
            &world.batcher,
            world.rollup.batch_inbox_address,
            commitment.to_tx_data(),
        )
        .await;
    let block2 = world.mine();

    let mut pipeline = world.pipeline(da.client.clone());
    let events = run_until_error(&mut pipeline, 2).await;
    assert_eq!(events, [0, 1]);
    for _ in 0..2 {
        match pipeline.step(2).await {
            Err(DeriveError::Da {
                source: DaError::NotFound(_),
                commitment: c,
            }) => {
                assert_eq!(c, commitment.to_string());
            }
            other => panic!("expected a DA 404, got {other:?}"),
        }
        assert_eq!(pipeline.origin().map(|o| o.number), Some(1));
    }
    // An L1 failure is retried the same way.
    world.l1.fail_next(1);
    assert!(matches!(pipeline.step(2).await, Err(DeriveError::L1(_))));
    assert_eq!(pipeline.origin().map(|o| o.number), Some(1));

    assert_eq!(da.client.put(payload.into()).await.unwrap(), commitment);
    let after = run(&mut pipeline, 2).await;
    let blocks = derived(&after);
    assert!(matches!(after.last(), Some(Event::Consumed(2))));

    // A pipeline that never saw the failures derives the same blocks.
    let mut clean = world.pipeline(da.client.clone());
    let reference = derived(&run(&mut clean, 2).await);
    assert_eq!(blocks.len(), 8);
    assert_eq!(
        blocks.iter().map(key).collect::<Vec<_>>(),
        reference.iter().map(key).collect::<Vec<_>>()
    );
    for (a, b) in blocks.iter().zip(&reference) {
        assert_eq!(a.transactions, b.transactions);
        assert_eq!(a.attributes.deposits, b.attributes.deposits);
        assert_eq!(a.attributes.l1_info, b.attributes.l1_info);
        assert_eq!(a.derived_from, block2);
    }
    assert_eq!(blocks[5].attributes.deposits.len(), 1);
}

/// Steps until an error, executing derived blocks; returns the L1 blocks consumed.
async fn run_until_error<D: DaClient>(
    pipeline: &mut Pipeline<std::sync::Arc<ol_l1::test_utils::MemoryL1>, D>,
    limit: u64,
) -> Vec<u64> {
    let mut consumed = Vec::new();
    loop {
        match pipeline.step(limit).await {
            Ok(Step::Derived(block)) => {
                pipeline.on_block_executed(block.block_info(l2_hash(block.number())));
            }
            Ok(Step::L1Consumed(block)) => consumed.push(block.number),
            Ok(Step::Idle) => panic!("expected an error before going idle"),
            Err(_) => return consumed,
        }
    }
}

/// A channel opened well before the safe head's L1 origin (its first frame in L1 block 20,
/// its last in block 68, carrying blocks with origins 10..=66): a reset must walk back far
/// enough to see its first frame. The frames are computed on a shadow L1 that is mined the same
/// way (block hashes do not depend on the transactions), so they can be posted before the
/// blocks they describe exist.
#[tokio::test]
async fn a_reset_walks_back_to_the_first_frame_of_a_long_open_channel() {
    let mut shadow = World::new(3600);
    shadow.l1.mine(70);
    shadow.sequence_to(400, 1);
    let mut world = World::new(3600);
    world.chain = shadow.chain.clone();
    let early = world.span_channel(1, world.blocks(1, 59), 100_000);
    let long = world.span_channel(2, world.blocks(60, 400), 150);
    // More frames than L1 blocks 20..=67, so the channel closes in block 68, after its last
    // block's origin (66) exists.
    assert!(long.len() > 49, "{} frames", long.len());
    let mut long = long.into_iter();
    for n in 1..=70u64 {
        match n {
            10 => world.post_calldata(&early).await,
            20..=67 => {
                if let Some(frame) = long.next() {
                    world.post_calldata(&[frame]).await;
                }
            }
            68 => {
                world
                    .post_calldata(&long.by_ref().collect::<Vec<_>>())
                    .await
            }
            _ => {}
        }
        world.mine();
    }
    for n in 0..=70 {
        assert_eq!(world.l1.block(n), shadow.l1.block(n), "L1 block {n}");
    }
    let da = Da::start(PutMode::Generic).await;
    let mut full = world.pipeline(da.client.clone());
    let all = derived(&run(&mut full, 70).await);
    assert_eq!(all.len(), 400);
    assert!(all[59..].iter().all(|b| b.derived_from.number == 68));

    for k in [330u64, 380, 399] {
        let safe = world.chain[k as usize].info;
        let start = reset_start(&world.rollup, safe.l1_origin.number);
        assert!(start <= 20 && safe.l1_origin.number > 50, "start {start}");
        let mut pipeline = Pipeline::new(
            world.rollup.clone(),
            world.l1.clone(),
            da.client.clone(),
            safe,
            start,
        )
        .unwrap();
        pipeline.set_l2_lookup(lookup(&world));
        let rest = derived(&run(&mut pipeline, 70).await);
        assert_eq!(
            rest.iter().map(key).collect::<Vec<_>>(),
            all[k as usize..].iter().map(key).collect::<Vec<_>>(),
            "restart at block {k}"
        );
    }
}
