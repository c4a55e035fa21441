//! Time limits: the sequencing window (empty blocks when no batch comes) and the channel
//! timeout (an incomplete channel is dropped).

use crate::common::{Da, Event, World, assert_model_blocks, deposit_log, derived, run};
use alloy_primitives::Address;
use ol_da::PutMode;

fn shape(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            Event::Derived(b) => format!("b{}", b.number()),
            Event::Consumed(n) => format!("L1#{n}"),
        })
        .collect()
}

#[tokio::test]
async fn an_expired_sequencing_window_yields_empty_blocks_with_deposits() {
    // A 4-block sequencing window. L1 block 1 holds a deposit; the batcher posts blocks
    // 1..=3 in L1 block 1 and then nothing.
    let mut world = World::new(4);
    world.sequence_to(3, 1);
    let frames = world.span_channel(1, world.blocks(1, 3), 100_000);
    world.post_calldata(&frames).await;
    world
        .l1
        .mine_with(vec![deposit_log(Address::repeat_byte(3), 9)]);
    for _ in 2..=6 {
        world.mine();
    }
    world.sequence_to(17, 0);

    let da = Da::start(PutMode::Generic).await;
    let mut pipeline = world.pipeline(da.client.clone());
    let events = run(&mut pipeline, 6).await;
    // Epoch 0's window ends at L1 block 4: empty blocks 4 and 5 fill epoch 0 up to L1 block
    // 1's time; epoch 1's ends at 5: blocks 6..=11; epoch 2's at 6: blocks 12..=17.
    let mut expected: Vec<String> = vec!["L1#0".into()];
    expected.extend(["b1", "b2", "b3", "L1#1", "L1#2", "L1#3"].map(String::from));
    expected.extend(["b4", "b5", "L1#4"].map(String::from));
    expected.extend((6..=11).map(|n| format!("b{n}")));
    expected.push("L1#5".into());
    expected.extend((12..=17).map(|n| format!("b{n}")));
    expected.push("L1#6".into());
    assert_eq!(shape(&events), expected);

    let blocks = derived(&events);
    assert_model_blocks(&world, &blocks[..3], 1, 1);
    assert_model_blocks(&world, &blocks[3..5], 4, 4);
    assert_model_blocks(&world, &blocks[5..11], 6, 5);
    assert_model_blocks(&world, &blocks[11..], 12, 6);
    for block in &blocks[3..] {
        assert!(block.transactions.is_empty());
    }
    let epoch1 = world.l1.block(1).unwrap();
    assert_eq!(blocks[5].epoch, epoch1);
    assert_eq!(blocks[5].sequence_number(), 0);
    assert_eq!(
        blocks[5].attributes.deposits.len(),
        1,
        "deposits still go in"
    );
    assert_eq!(blocks[5].attributes.deposits[0].mint, 9);
    assert!(
        blocks
            .iter()
            .filter(|b| b.number() != 6)
            .all(|b| b.attributes.deposits.is_empty())
    );
}

/// Posts the first frame of a channel in L1 block 1 and the rest `gap` blocks later; returns
/// the derived block numbers and the L1 blocks they came from.
async fn split_channel(gap: u64) -> (World, Vec<(u64, u64)>) {
    let mut world = World::new(3600);
    world.sequence_to(3, 3);
    let frames = world.span_channel(1, world.blocks(1, 3), 120);
    assert!(frames.len() >= 2);
    world.post_calldata(&frames[..1]).await;
    world.mine();
    world.l1.mine(gap - 1);
    world.post_calldata(&frames[1..]).await;
    world.mine();
    let da = Da::start(PutMode::Generic).await;
    let mut pipeline = world.pipeline(da.client.clone());
    let head = world.l1.head().number;
    let blocks = derived(&run(&mut pipeline, head).await)
        .iter()
        .map(|b| (b.number(), b.derived_from.number))
        .collect();
    (world, blocks)
}

#[tokio::test]
async fn a_channel_completed_within_the_timeout_is_read() {
    // Opened in L1 block 1, closed in block 51 = 1 + CHANNEL_TIMEOUT: still in time.
    let (_, blocks) = split_channel(50).await;
    assert_eq!(blocks, [(1, 51), (2, 51), (3, 51)]);
}

#[tokio::test]
async fn a_channel_timeout_drops_the_incomplete_channel() {
    // Closed in block 52: the channel timed out and its frames are dropped.
    let (world, blocks) = split_channel(51).await;
    assert!(blocks.is_empty(), "{blocks:?}");
    // A new channel with the same blocks is derived.
    let frames = world.span_channel(2, world.blocks(1, 3), 100_000);
    world.post_calldata(&frames).await;
    let block53 = world.mine();
    let da = Da::start(PutMode::Generic).await;
    let mut pipeline = world.pipeline(da.client.clone());
    let events = run(&mut pipeline, block53.number).await;
    let derived = derived(&events);
    assert_eq!(derived.len(), 3);
    assert_model_blocks(&world, &derived, 1, 53);
}
