//! What derivation must ignore: inbox transactions from the wrong sender or to the wrong
//! address, batches that do not build on the safe head, and malformed data of every kind.

use crate::common::{Da, Event, World, assert_model_blocks, derived, run};
use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::{Address, B256};
use ol_da::{Commitment, DaClient, PutMode};
use ol_rollup::{ChannelId, Frame, frame::encode_batcher_payload};
use rand::{Rng, SeedableRng, rngs::StdRng};

#[tokio::test]
async fn transactions_from_another_sender_or_to_another_address_are_ignored() {
    let mut world = World::new(3600);
    world.sequence_to(3, 1);
    let frames = world.span_channel(1, world.blocks(1, 3), 100_000);
    let stranger = PrivateKeySigner::random();
    let inbox = world.rollup.batch_inbox_address;
    let payload = encode_batcher_payload(&frames).unwrap();
    // Valid frames, but sent by someone else, or by the batcher elsewhere.
    world.send(&stranger, inbox, payload.clone()).await;
    world
        .send(&world.batcher, Address::repeat_byte(0xee), payload.clone())
        .await;
    world.mine();
    world.mine();
    let da = Da::start(PutMode::Generic).await;
    let mut pipeline = world.pipeline(da.client.clone());
    let events = run(&mut pipeline, 2).await;
    assert!(derived(&events).is_empty(), "{events:?}");
    assert_eq!(pipeline.safe_head(), &world.genesis());

    // The same bytes from the batcher to the inbox are derived.
    world.send(&world.batcher, inbox, payload).await;
    let block3 = world.mine();
    let events = run(&mut pipeline, 3).await;
    let blocks = derived(&events);
    assert_eq!(blocks.len(), 3);
    assert_model_blocks(&world, &blocks, 1, block3.number);
}

#[tokio::test]
async fn batches_with_a_gap_or_a_wrong_parent_are_dropped_and_the_next_valid_one_used() {
    let mut world = World::new(3600);
    world.sequence_to(6, 1);
    let batch = |n: u64| world.chain[n as usize].batch();
    // Channel 1: blocks 1 and 2, valid.
    let valid = world.singular_channel(1, &[batch(1), batch(2)]);
    // Channel 2: block 4 (a gap: block 3 is missing): dropped with its channel, so block 5
    // behind it in the same channel goes too.
    let gap = world.singular_channel(2, &[batch(4), batch(5)]);
    // Channel 3: block 3 on a wrong parent.
    let mut wrong_parent = batch(3);
    wrong_parent.parent_hash = B256::repeat_byte(0xbd);
    let wrong = world.singular_channel(3, &[wrong_parent]);
    // Channel 4: a span batch of blocks 3..=4 whose parent check names another chain.
    let mut forked = world.blocks(3, 4).to_vec();
    forked[0].info.parent_hash = B256::repeat_byte(0xfe);
    let forked = world.span_channel(4, &forked, 100_000);
    // Channel 5: blocks 3..=6 as a span batch, valid.
    let good = world.span_channel(5, world.blocks(3, 6), 100_000);
    for frames in [&valid, &gap, &wrong, &forked] {
        world.post_calldata(frames).await;
    }
    let block1 = world.mine();
    world.post_calldata(&good).await;
    let block2 = world.mine();

    let da = Da::start(PutMode::Generic).await;
    let mut pipeline = world.pipeline(da.client.clone());
    let events = run(&mut pipeline, 2).await;
    let blocks = derived(&events);
    assert_eq!(
        blocks.iter().map(|b| b.number()).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    assert_model_blocks(&world, &blocks[..2], 1, block1.number);
    assert_model_blocks(&world, &blocks[2..], 3, block2.number);
}

#[tokio::test]
async fn malformed_data_never_panics_and_valid_data_after_it_is_derived() {
    let mut world = World::new(3600);
    world.sequence_to(4, 2);
    let da = Da::start(PutMode::Generic).await;
    let inbox = world.rollup.batch_inbox_address;
    let batcher = world.batcher.clone();
    let mut rng = StdRng::seed_from_u64(7);

    // Undecodable commitments and unknown versions.
    let bad_inputs: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x01],
        vec![0x01, 0x02, 0xaa],
        [&[0x01, 0x00][..], &[0u8; 31]].concat(),
        vec![0x01, 0x01, 0x7f, 0x01],
        vec![0x01, 0x01, 0x00],
        vec![0x05, 0x01, 0x02],
        vec![0x00],
        [&[0x00][..], &garbage(&mut rng, 40)].concat(),
    ];
    for input in bad_inputs {
        world.send(&batcher, inbox, input).await;
    }
    // Garbage behind valid commitments: DA payloads that are not frames, or frames whose
    // channel does not decompress.
    for payload in [
        garbage(&mut rng, 100),
        [&[0x00][..], &garbage(&mut rng, 64)].concat(),
    ] {
        let commitment = da.client.put(payload.into()).await.unwrap();
        world.send(&batcher, inbox, commitment.to_tx_data()).await;
    }
    let junk_channel = vec![Frame {
        channel_id: ChannelId::repeat_byte(0x66),
        number: 0,
        data: garbage(&mut rng, 300).into(),
        is_last: true,
    }];
    world.post_da(&da.client, &junk_channel).await;
    world.post_calldata(&junk_channel).await;
    // A keccak commitment over a payload larger than the Alt-DA limit is skipped, even though
    // it carries the valid channel (were it read, blocks 1..=4 would come from L1 block 1).
    let keccak = Da::start(PutMode::Keccak).await;
    let mut oversized = world.span_channel(1, world.blocks(1, 4), 100_000);
    oversized.push(Frame {
        channel_id: ChannelId::repeat_byte(0x77),
        number: 0,
        data: garbage(&mut rng, ol_derive::retrieval::MAX_KECCAK_INPUT_SIZE).into(),
        is_last: false,
    });
    let big = encode_batcher_payload(&oversized).unwrap();
    let commitment = keccak.client.put(big.into()).await.unwrap();
    assert!(matches!(commitment, Commitment::Keccak(_)));
    world.send(&batcher, inbox, commitment.to_tx_data()).await;
    world.mine();
    // Random bytes as frames, many times.
    for _ in 0..50 {
        let len = rng.random_range(0..200);
        let mut input = garbage(&mut rng, len);
        if let Some(first) = input.first_mut() {
            *first = 0x00;
        }
        world.send(&batcher, inbox, input).await;
    }
    world.mine();
    // Then the real channel.
    let frames = world.span_channel(1, world.blocks(1, 4), 100_000);
    world.post_da(&da.client, &frames).await;
    let block3 = world.mine();

    // The pipeline reads keccak commitments from the keccak server; generic ones are not
    // there, but none is fetched from it except the oversized payload.
    let mut pipeline = world.pipeline(Either {
        generic: da.client.clone(),
        keccak: keccak.client.clone(),
    });
    let events = run(&mut pipeline, 3).await;
    let blocks = derived(&events);
    assert_eq!(blocks.len(), 4, "{events:?}");
    assert_model_blocks(&world, &blocks, 1, block3.number);
    assert!(matches!(events.last(), Some(Event::Consumed(3))));
}

/// Routes keccak commitments to one DA server and generic ones to another.
#[derive(Debug, Clone)]
struct Either {
    generic: ol_da::HttpDaClient,
    keccak: ol_da::HttpDaClient,
}

impl DaClient for Either {
    async fn put(&self, payload: alloy_primitives::Bytes) -> Result<Commitment, ol_da::DaError> {
        self.generic.put(payload).await
    }

    async fn get(
        &self,
        commitment: &Commitment,
    ) -> Result<alloy_primitives::Bytes, ol_da::DaError> {
        match commitment {
            Commitment::Keccak(_) => self.keccak.get(commitment).await,
            Commitment::Generic { .. } => self.generic.get(commitment).await,
        }
    }
}

fn garbage(rng: &mut StdRng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.random::<u8>()).collect()
}

#[tokio::test]
async fn a_deposits_only_replacement_flushes_the_rest_of_the_span_batch() {
    let mut world = World::new(3600);
    world.sequence_to(4, 1);
    // Channel 1: blocks 1..=4 as a span batch. Channel 2: block 2 on top of a deposits-only
    // block 1 (hash 0xd0..), as a sequencer would re-batch after the replacement.
    let span = world.span_channel(1, world.blocks(1, 4), 100_000);
    let replaced = B256::repeat_byte(0xd0);
    let mut rebuilt = world.chain[2].batch();
    rebuilt.parent_hash = replaced;
    rebuilt.transactions = vec![crate::common::user_tx(777)];
    let second = world.singular_channel(2, &[rebuilt.clone()]);
    world.post_calldata(&span).await;
    world.post_calldata(&second).await;
    world.mine();
    let da = Da::start(PutMode::Generic).await;
    let mut pipeline = world.pipeline(da.client.clone());
    let first = loop {
        if let ol_derive::Step::Derived(block) = pipeline.step(1).await.unwrap() {
            break block;
        }
    };
    assert_eq!(first.number(), 1);
    assert_eq!(first.transactions, world.chain[1].txs);
    pipeline.on_deposits_only_replacement(first.block_info(replaced));
    let ol_derive::Step::Derived(next) = pipeline.step(1).await.unwrap() else {
        panic!("expected block 2");
    };
    // Not the span's block 2 (which would take the safe head as parent unchecked): the
    // re-batched one.
    assert_eq!(next.number(), 2);
    assert_eq!(next.parent.hash, replaced);
    assert_eq!(next.transactions, rebuilt.transactions);
    pipeline.on_block_executed(next.block_info(B256::repeat_byte(0xd1)));
    assert!(matches!(
        pipeline.step(1).await.unwrap(),
        ol_derive::Step::L1Consumed(_)
    ));
}
