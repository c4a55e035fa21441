//! Differential tests against kona-protocol 0.4.5, an independent Rust implementation of the
//! same formats (op-rs/kona, on alloy 1.x; it shares only alloy-primitives and alloy-rlp with
//! us). Our batcher payloads go through kona's frame parser, channel and batch reader and must
//! give back the blocks we put in; kona's span batch encoder must produce our exact bytes.

use crate::common::{
    BLOCK_TIME, CHAIN_ID, GENESIS_TIMESTAMP, blocks, build_channel, config, span_mode,
};
use kona_genesis::{ChainGenesis, HardForkConfig, RollupConfig};
use kona_protocol::{BatchReader, BlockInfo, Channel, Frame as KonaFrame};
use ol_rollup::{
    SingleBatch,
    batch::SpanBatch,
    channel::{BatchMode, MAX_RLP_BYTES_PER_CHANNEL_FJORD},
    compression::CompressionAlgo,
    frame::{ChannelId, encode_batcher_payload},
};
use proptest::prelude::*;

fn kona_config() -> RollupConfig {
    RollupConfig {
        genesis: ChainGenesis {
            l2_time: GENESIS_TIMESTAMP,
            ..Default::default()
        },
        block_time: BLOCK_TIME,
        l2_chain_id: CHAIN_ID.into(),
        hardforks: HardForkConfig {
            delta_time: Some(0),
            fjord_time: Some(0),
            isthmus_time: Some(0),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Decodes our batcher payloads with kona and returns the blocks it reads, span batches
/// flattened to (timestamp, epoch, transactions) with parent and origin checks.
fn kona_reads(
    payloads: &[Vec<u8>],
    cfg: &RollupConfig,
) -> Vec<(u64, u64, Vec<alloy_primitives::Bytes>)> {
    let mut channel: Option<Channel> = None;
    for payload in payloads {
        for frame in KonaFrame::parse_frames(payload).expect("kona parses our frames") {
            let ch = channel.get_or_insert_with(|| Channel::new(frame.id, BlockInfo::default()));
            ch.add_frame(frame, BlockInfo::default())
                .expect("kona accepts our frame");
        }
    }
    let channel = channel.expect("frames");
    assert!(channel.is_ready());
    let data = channel.frame_data().expect("complete channel");
    let mut reader = BatchReader::new(data.to_vec(), MAX_RLP_BYTES_PER_CHANNEL_FJORD);
    let mut out = Vec::new();
    while let Some(batch) = reader.next_batch(cfg) {
        match batch {
            kona_protocol::Batch::Single(b) => out.push((b.timestamp, b.epoch_num, b.transactions)),
            kona_protocol::Batch::Span(span) => out.extend(
                span.batches
                    .into_iter()
                    .map(|e| (e.timestamp, e.epoch_num, e.transactions)),
            ),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn kona_decodes_our_channels(blocks in blocks(6), mode in 0usize..4) {
        let cfg = kona_config();
        let (compression, span) = [
            (CompressionAlgo::BROTLI_10, true),
            (CompressionAlgo::ZLIB_BEST, true),
            (CompressionAlgo::BROTLI_10, false),
            (CompressionAlgo::ZLIB_BEST, false),
        ][mode];
        let batch_mode = if span { span_mode() } else { BatchMode::Singular };
        let sealed = build_channel(ChannelId::repeat_byte(0x42), config(compression, batch_mode), &blocks);
        let payloads: Vec<Vec<u8>> =
            sealed.frames.chunks(3).map(|c| encode_batcher_payload(c).unwrap()).collect();
        let got = kona_reads(&payloads, &cfg);
        let want: Vec<_> =
            blocks.iter().map(|b| (b.timestamp, b.epoch_num, b.transactions.clone())).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn kona_encodes_span_batches_to_our_bytes(blocks in blocks(8), starts_epoch: bool) {
        let ours = SpanBatch::from_singular_batches(&blocks, starts_epoch)
            .unwrap()
            .to_raw(GENESIS_TIMESTAMP, BLOCK_TIME, CHAIN_ID)
            .unwrap()
            .encode_to_vec()
            .unwrap();

        let mut kona = kona_protocol::SpanBatch {
            genesis_timestamp: GENESIS_TIMESTAMP,
            chain_id: CHAIN_ID,
            ..Default::default()
        };
        for (i, block) in blocks.iter().enumerate() {
            let SingleBatch { parent_hash, epoch_num, epoch_hash, timestamp, transactions } =
                block.clone();
            let single = kona_protocol::SingleBatch {
                parent_hash,
                epoch_num,
                epoch_hash,
                timestamp,
                transactions,
            };
            let seq_num = if i == 0 && starts_epoch { 0 } else { 1 };
            kona.append_singular_batch(single, seq_num).unwrap();
        }
        let mut theirs = Vec::new();
        kona.to_raw_span_batch().unwrap().encode(&mut theirs).unwrap();
        prop_assert_eq!(ours, theirs);
    }
}
