//! Blocks over several epochs derived from Alt-DA commitments and from calldata frames.

use crate::common::{Da, Event, World, assert_model_blocks, deposit_log, derived, run};
use alloy_primitives::Address;
use ol_da::PutMode;
use ol_derive::L2BlockInfo;
use ol_l1::user_deposit_source_hash;

/// L1: genesis, block 1 with a deposit, block 2; the model chain: blocks 1..=14 over epochs 0,
/// 1 and 2 (six blocks per epoch); block 6 opens epoch 1 and carries the deposit.
fn world() -> World {
    let mut world = World::new(3600);
    world
        .l1
        .mine_with(vec![deposit_log(Address::repeat_byte(7), 5)]);
    world.mine();
    world.sequence_to(14, 2);
    world
}

fn check_epochs(world: &World, blocks: &[ol_derive::DerivedBlock]) {
    let epochs: Vec<(u64, u64)> = blocks
        .iter()
        .map(|b| (b.epoch.number, b.sequence_number()))
        .collect();
    let expected: Vec<(u64, u64)> = (0..5)
        .map(|i| (0, i + 1))
        .chain((0..6).map(|i| (1, i)))
        .chain((0..3).map(|i| (2, i)))
        .collect();
    assert_eq!(epochs, expected);
    let epoch1 = world.l1.block(1).unwrap();
    for block in blocks {
        let deposits = &block.attributes.deposits;
        if block.number() == 6 {
            assert_eq!(
                deposits.len(),
                1,
                "the first block of epoch 1 carries its deposit"
            );
            assert_eq!(
                deposits[0].source_hash,
                user_deposit_source_hash(epoch1.hash, 0)
            );
            assert_eq!(deposits[0].mint, 5);
            assert_eq!(deposits[0].to, Address::repeat_byte(7).into());
        } else {
            assert!(
                deposits.is_empty(),
                "block {} has no deposits",
                block.number()
            );
        }
    }
}

#[tokio::test]
async fn alt_da_commitments_derive_blocks_over_three_epochs() {
    let world = world();
    let da = Da::start(PutMode::Generic).await;
    // Two channels: blocks 1..=8 (in L1 block 3), blocks 9..=14 (in L1 block 4).
    let first = world.span_channel(1, world.blocks(1, 8), 100_000);
    world.post_da(&da.client, &first).await;
    let block3 = world.mine();
    let second = world.span_channel(2, world.blocks(9, 14), 100_000);
    world.post_da(&da.client, &second).await;
    let block4 = world.mine();

    let mut pipeline = world.pipeline(da.client.clone());
    let events = run(&mut pipeline, 4).await;
    let shape: Vec<String> = events
        .iter()
        .map(|e| match e {
            Event::Derived(b) => format!("b{}", b.number()),
            Event::Consumed(n) => format!("L1#{n}"),
        })
        .collect();
    let mut expected: Vec<String> = ["L1#0", "L1#1", "L1#2"].map(String::from).to_vec();
    expected.extend((1..=8).map(|n| format!("b{n}")));
    expected.push("L1#3".into());
    expected.extend((9..=14).map(|n| format!("b{n}")));
    expected.push("L1#4".into());
    assert_eq!(shape, expected);

    let blocks = derived(&events);
    assert_model_blocks(&world, &blocks[..8], 1, block3.number);
    assert_model_blocks(&world, &blocks[8..], 9, block4.number);
    assert_eq!(blocks[0].derived_from, block3);
    assert_eq!(blocks[13].derived_from, block4);
    check_epochs(&world, &blocks);
    assert_eq!(pipeline.safe_head(), &world.chain[14].info);
    assert_eq!(pipeline.origin(), Some(block4));

    // Caught up: nothing more until L1 grows, and a mined empty block is only consumed.
    assert!(matches!(
        pipeline.step(4).await.unwrap(),
        ol_derive::Step::Idle
    ));
    world.mine();
    let more = run(&mut pipeline, 10).await;
    assert!(matches!(more.as_slice(), [Event::Consumed(5)]), "{more:?}");
    da.server.stop().await.unwrap();
}

#[tokio::test]
async fn calldata_frames_derive_the_same_blocks() {
    let world = world();
    // One channel in small frames, spread over L1 blocks 3 and 4.
    let frames = world.span_channel(9, world.blocks(1, 14), 200);
    assert!(frames.len() >= 4, "{} frames", frames.len());
    let half = frames.len() / 2;
    world.post_calldata(&frames[..half]).await;
    world.mine();
    world.post_calldata(&frames[half..]).await;
    let block4 = world.mine();

    // No DA is needed: a client of a closed port proves it is never asked.
    let unused = ol_da::HttpDaClient::new(
        "http://127.0.0.1:9",
        PutMode::Generic,
        std::time::Duration::from_secs(1),
    )
    .unwrap();
    let mut pipeline = world.pipeline(unused);
    let events = run(&mut pipeline, 4).await;
    let blocks = derived(&events);
    assert_eq!(blocks.len(), 14);
    assert_model_blocks(&world, &blocks, 1, block4.number);
    check_epochs(&world, &blocks);
    assert!(matches!(events.last(), Some(Event::Consumed(4))));
    let consumed: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Consumed(n) => Some(*n),
            Event::Derived(_) => None,
        })
        .collect();
    assert_eq!(consumed, [0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn a_derived_block_is_returned_again_until_executed() {
    let world = world();
    let frames = world.span_channel(3, world.blocks(1, 2), 100_000);
    world.post_calldata(&frames).await;
    world.mine();
    let da = Da::start(PutMode::Generic).await;
    let mut pipeline = world.pipeline(da.client.clone());
    let first = loop {
        if let ol_derive::Step::Derived(block) = pipeline.step(3).await.unwrap() {
            break block;
        }
    };
    let again = pipeline.step(3).await.unwrap();
    let ol_derive::Step::Derived(again) = again else {
        panic!("expected the same block, got {again:?}");
    };
    assert_eq!(again.number(), first.number());
    assert_eq!(again.transactions, first.transactions);
    let info: L2BlockInfo = first.block_info(world.chain[1].info.hash);
    pipeline.on_block_executed(info);
    let ol_derive::Step::Derived(second) = pipeline.step(3).await.unwrap() else {
        panic!("expected block 2");
    };
    assert_eq!(second.number(), 2);
    assert_eq!(second.parent, world.chain[1].info);
}
