//! Channels end to end: blocks through the builder, frames through batcher payloads and the
//! channel bank in any order, batches back out of the reader; the bank's rules; compression
//! sizes on load-like blocks.

use crate::common::{
    BLOCK_TIME, CHAIN_ID, GENESIS_TIMESTAMP, blocks, build_channel, config, l1_hash, load_blocks,
    span_mode,
};
use alloy_primitives::Bytes;
use ol_rollup::{
    Batch, SingleBatch,
    batch::SpanBatch,
    channel::{
        AddBlockError, BatchMode, ChannelAssembler, ChannelAssemblerConfig, ChannelBank,
        ChannelBankConfig, ChannelBuilder, ChannelReader, FrameRejected, FullReason,
        MAX_RLP_BYTES_PER_CHANNEL_FJORD,
    },
    compression::CompressionAlgo,
    frame::{ChannelId, Frame, encode_batcher_payload, parse_batcher_payload},
};
use proptest::prelude::*;

/// Reads every batch of a channel and expands span batches back into blocks.
fn read_blocks(data: &[u8], parent: alloy_primitives::B256) -> Vec<SingleBatch> {
    let mut out = Vec::new();
    for batch in ChannelReader::new(data, MAX_RLP_BYTES_PER_CHANNEL_FJORD, true).unwrap() {
        match batch.unwrap() {
            Batch::Single(single) => out.push(single),
            Batch::Span(raw) => {
                let span =
                    SpanBatch::from_raw(&raw, GENESIS_TIMESTAMP, BLOCK_TIME, CHAIN_ID).unwrap();
                out.extend(
                    span.to_singular_batches(parent, |n| Some(l1_hash(n)))
                        .unwrap(),
                );
            }
        }
    }
    out
}

fn same_blocks(got: &[SingleBatch], want: &[SingleBatch], span: bool) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if span && i > 0 {
            // Span batches carry only the first parent hash.
            assert_eq!(
                SingleBatch {
                    parent_hash: w.parent_hash,
                    ..g.clone()
                },
                *w
            );
        } else {
            assert_eq!(g, w);
        }
    }
}

const MODES: [(CompressionAlgo, bool); 4] = [
    (CompressionAlgo::BROTLI_10, true),
    (CompressionAlgo::ZLIB_BEST, true),
    (CompressionAlgo::BROTLI_10, false),
    (CompressionAlgo::ZLIB_BEST, false),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn channels_roundtrip_through_shuffled_frames(
        blocks in blocks(6),
        order in any::<u64>(),
        mode in 0usize..4,
    ) {
        let (compression, span) = MODES[mode];
        let batch_mode = if span { span_mode() } else { BatchMode::Singular };
        let id = ChannelId::repeat_byte(7);
        let sealed = build_channel(id, config(compression, batch_mode), &blocks);
        prop_assert_eq!(&sealed.blocks, &blocks);
        prop_assert!(sealed.returned.is_empty());
        prop_assert!(sealed.frames.iter().all(|f| f.encoded_len() <= 300));
        prop_assert_eq!(sealed.frames.iter().filter(|f| f.is_last).count(), 1);

        // Frames travel two per batcher payload, in a scrambled order, some sent twice.
        let mut frames = sealed.frames;
        let n = frames.len();
        for i in (1..n).rev() {
            frames.swap(i, (order as usize).wrapping_mul(i + 31) % (i + 1));
        }
        frames.extend(frames.clone().into_iter().take(2));
        let mut bank = ChannelBank::new(ChannelBankConfig::default());
        let mut ready = None;
        let mut rejected = 0;
        for chunk in frames.chunks(2) {
            let payload = encode_batcher_payload(chunk).unwrap();
            for frame in parse_batcher_payload(&payload).unwrap() {
                match bank.add_frame(frame, 101) {
                    Ok(()) => {}
                    Err(FrameRejected::Duplicate { .. } | FrameRejected::DuplicateClose { .. }) => {
                        rejected += 1;
                    }
                    Err(other) => prop_assert!(false, "unexpected rejection {other}"),
                }
                if ready.is_none() {
                    ready = bank.read(101);
                }
            }
        }
        prop_assert!(rejected <= 2);
        let ready = ready.expect("channel completes");
        prop_assert_eq!(ready.id, id);
        prop_assert_eq!(ready.opened_at, 101);
        let got = read_blocks(&ready.data, blocks[0].parent_hash);
        same_blocks(&got, &blocks, span);
    }
}

fn frame(id: u8, number: u16, is_last: bool, data: &[u8]) -> Frame {
    Frame {
        channel_id: ChannelId::repeat_byte(id),
        number,
        data: Bytes::copy_from_slice(data),
        is_last,
    }
}

#[test]
fn bank_drops_duplicates_and_frames_past_the_end() {
    let mut bank = ChannelBank::new(ChannelBankConfig::default());
    let id = ChannelId::repeat_byte(1);
    bank.add_frame(frame(1, 1, false, b"b"), 10).unwrap();
    assert_eq!(
        bank.add_frame(frame(1, 1, false, b"x"), 10),
        Err(FrameRejected::Duplicate {
            channel: id,
            number: 1
        })
    );
    bank.add_frame(frame(1, 5, false, b"dropped by the close"), 10)
        .unwrap();
    bank.add_frame(frame(1, 2, true, b"c"), 11).unwrap();
    assert_eq!(
        bank.add_frame(frame(1, 3, true, b"x"), 11),
        Err(FrameRejected::DuplicateClose {
            channel: id,
            number: 3
        })
    );
    assert_eq!(
        bank.add_frame(frame(1, 4, false, b"x"), 11),
        Err(FrameRejected::AfterLast {
            channel: id,
            number: 4,
            last: 2
        })
    );
    assert_eq!(bank.read(11), None, "frame 0 missing");
    bank.add_frame(frame(1, 0, false, b"a"), 12).unwrap();
    let ready = bank.read(12).unwrap();
    assert_eq!(ready.data, b"abc");
    assert_eq!((ready.opened_at, ready.completed_at), (10, 12));
    assert!(bank.is_empty());
    assert_eq!(bank.size(), 0);
}

#[test]
fn bank_times_out_channels() {
    let mut bank = ChannelBank::new(ChannelBankConfig {
        channel_timeout: 5,
        max_size: 1 << 20,
    });
    bank.add_frame(frame(1, 0, false, b"a"), 10).unwrap();
    bank.add_frame(frame(1, 1, false, b"b"), 15).unwrap();
    assert_eq!(
        bank.add_frame(frame(1, 2, true, b"c"), 16),
        Err(FrameRejected::TimedOut(ChannelId::repeat_byte(1)))
    );
    // A complete channel that timed out is discarded on read.
    bank.add_frame(frame(2, 0, true, b"z"), 12).unwrap();
    assert_eq!(bank.read(18), None);
    assert!(bank.is_empty());
}

#[test]
fn bank_reads_first_ready_channel_and_prunes_oldest() {
    let mut bank = ChannelBank::new(ChannelBankConfig {
        channel_timeout: 50,
        max_size: 1_000,
    });
    bank.add_frame(frame(1, 0, false, b"incomplete"), 1)
        .unwrap();
    bank.add_frame(frame(2, 0, true, b"ready"), 2).unwrap();
    // Canyon: the first ready channel is returned even if an older one is still open.
    assert_eq!(bank.read(2).unwrap().id, ChannelId::repeat_byte(2));

    // Each frame costs its data plus 200; the fourth pushes the bank over 1,000 bytes.
    for id in 3..6 {
        bank.add_frame(frame(id, 0, false, &[0; 50]), 3).unwrap();
    }
    assert_eq!(bank.len(), 4);
    bank.add_frame(frame(6, 0, false, &[0; 50]), 3).unwrap();
    assert_eq!(bank.len(), 4, "oldest channel pruned");
    assert!(bank.size() <= 1_000);
    // Channel 1 lost its first frame to pruning: a closing frame reopens it from scratch.
    bank.add_frame(frame(1, 1, true, b"late"), 3).unwrap();
    assert_eq!(bank.read(3), None);
    bank.add_frame(frame(1, 0, false, b"new "), 3).unwrap();
    assert_eq!(bank.read(3).unwrap().data, b"new late");
}

#[test]
fn builder_seals_on_size_duration_and_rlp_limit() {
    let blocks = load_blocks(40, 10, 1);
    let mut cfg = config(CompressionAlgo::BROTLI_10, span_mode());
    cfg.target_size = 4_000;
    cfg.max_duration = 10;
    let mut builder = ChannelBuilder::new(ChannelId::repeat_byte(3), cfg, 100);
    let mut added = 0;
    let mut full = None;
    for (i, block) in blocks.iter().enumerate() {
        match builder.add_block(block, i == 0) {
            Ok(()) => added += 1,
            Err(AddBlockError::Full(reason)) => {
                full = Some(reason);
                break;
            }
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(full, Some(FullReason::Size));
    assert!(added > 1 && added < blocks.len());
    assert!(!builder.is_timed_out(109));
    assert!(builder.is_timed_out(110));
    let sealed = builder.seal().unwrap().unwrap();
    assert!(sealed.compressed_len <= 4_000, "{}", sealed.compressed_len);
    assert_eq!(sealed.blocks.len() + sealed.returned.len(), added);
    assert_eq!(sealed.blocks, blocks[..sealed.blocks.len()]);

    let mut cfg = config(CompressionAlgo::ZLIB_BEST, BatchMode::Singular);
    cfg.max_rlp_bytes = 3_000;
    let mut builder = ChannelBuilder::new(ChannelId::repeat_byte(4), cfg, 0);
    builder.add_block(&blocks[0], true).unwrap();
    assert_eq!(
        builder.add_block(&blocks[1], false),
        Err(AddBlockError::Full(FullReason::RlpLimit))
    );
    assert_eq!(builder.blocks().len(), 1);

    let mut cfg = config(CompressionAlgo::ZLIB_BEST, BatchMode::Singular);
    cfg.max_rlp_bytes = 100;
    let mut builder = ChannelBuilder::new(ChannelId::repeat_byte(4), cfg, 0);
    assert!(matches!(
        builder.add_block(&blocks[0], true),
        Err(AddBlockError::BlockTooLarge(_))
    ));
    assert_eq!(builder.seal(), Ok(None));

    // A block that does not follow the previous one is refused and the channel is unchanged.
    let mut builder = ChannelBuilder::new(
        ChannelId::repeat_byte(5),
        config(CompressionAlgo::BROTLI_10, span_mode()),
        0,
    );
    builder.add_block(&blocks[0], true).unwrap();
    assert!(matches!(
        builder.add_block(&blocks[2], false),
        Err(AddBlockError::Span(_))
    ));
    builder.add_block(&blocks[1], false).unwrap();
    assert_eq!(builder.blocks(), &blocks[..2]);
}

/// Compression ratios on load-like blocks, brotli against zlib, span against singular.
#[test]
fn compression_ratios_on_load_blocks() {
    let blocks = load_blocks(300, 25, 7);
    let mut results = Vec::new();
    for (compression, span) in MODES {
        let batch_mode = if span {
            span_mode()
        } else {
            BatchMode::Singular
        };
        let mut cfg = config(compression, batch_mode);
        cfg.max_frame_size = 130_000;
        cfg.target_size = usize::MAX;
        let started = std::time::Instant::now();
        let sealed = build_channel(ChannelId::repeat_byte(9), cfg, &blocks);
        let elapsed = started.elapsed();
        let got = read_blocks(
            &sealed
                .frames
                .iter()
                .flat_map(|f| f.data.to_vec())
                .collect::<Vec<_>>(),
            blocks[0].parent_hash,
        );
        same_blocks(&got, &blocks, span);
        let raw: usize = blocks
            .iter()
            .flat_map(|b| &b.transactions)
            .map(|t| t.len())
            .sum();
        eprintln!(
            "{compression:?} {}: {} blocks, {raw} tx bytes, {} rlp bytes -> {} compressed ({:.3} of rlp, {:.3} of tx bytes) in {elapsed:?}",
            if span { "span" } else { "singular" },
            blocks.len(),
            sealed.rlp_len,
            sealed.compressed_len,
            sealed.compressed_len as f64 / sealed.rlp_len as f64,
            sealed.compressed_len as f64 / raw as f64,
        );
        results.push(sealed.compressed_len);
    }
    // brotli beats zlib on the same batches, and span batches beat singular ones.
    assert!(
        results[0] < results[1] && results[2] < results[3],
        "{results:?}"
    );
    assert!(
        results[0] < results[2] && results[1] < results[3],
        "{results:?}"
    );
}

/// From Holocene on, frames arrive in order through the assembler; a channel abandoned half
/// way (a batcher restart) gives way to the next one.
#[test]
fn holocene_assembler_reads_in_order_channels() {
    let blocks = load_blocks(12, 6, 3);
    let (first, second) = blocks.split_at(5);
    let abandoned = build_channel(
        ChannelId::repeat_byte(1),
        config(CompressionAlgo::BROTLI_10, span_mode()),
        first,
    );
    let complete = build_channel(
        ChannelId::repeat_byte(2),
        config(CompressionAlgo::BROTLI_10, span_mode()),
        second,
    );
    assert!(abandoned.frames.len() > 2);
    let mut asm = ChannelAssembler::new(ChannelAssemblerConfig::default());
    for frame in &abandoned.frames[..2] {
        assert_eq!(asm.add_frame(frame.clone(), 7), Ok(None));
    }
    let mut ready = None;
    for frame in &complete.frames {
        if let Some(channel) = asm.add_frame(frame.clone(), 8).unwrap() {
            ready = Some(channel);
        }
    }
    // The rest of the abandoned channel is dropped frame by frame.
    for frame in &abandoned.frames[2..] {
        assert!(asm.add_frame(frame.clone(), 9).is_err());
    }
    let ready = ready.expect("second channel completes");
    assert_eq!(ready.id, ChannelId::repeat_byte(2));
    same_blocks(
        &read_blocks(&ready.data, second[0].parent_hash),
        second,
        true,
    );
}
