//! Every class of malformed input is rejected with its own error, and nothing panics.

use crate::common::{BLOCK_TIME, CHAIN_ID, GENESIS_TIMESTAMP, blocks, l1_hash};
use ol_rollup::{
    Batch, BatchError, SingleBatch,
    batch::{RawSpanBatch, SpanBatch, SpanBatchError, span::MAX_SPAN_BATCH_ELEMENT_COUNT},
    channel::{ChannelError, ChannelReader, MAX_RLP_BYTES_PER_CHANNEL_BEDROCK},
    compression::{CompressionAlgo, CompressionError},
    frame::{ChannelId, Frame, FrameError, MAX_FRAME_LEN, parse_batcher_payload},
};
use proptest::prelude::*;

fn uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Span prefix (rel_timestamp 5, origin 9, check bytes) followed by `block_count`.
fn span_head(block_count: u64) -> Vec<u8> {
    let mut out = Vec::new();
    uvarint(&mut out, 5);
    uvarint(&mut out, 9);
    out.extend_from_slice(&[0xaa; 40]);
    uvarint(&mut out, block_count);
    out
}

fn valid_span() -> Vec<u8> {
    let blocks: Vec<SingleBatch> = (0..3)
        .map(|i| SingleBatch {
            epoch_num: 9,
            epoch_hash: l1_hash(9),
            timestamp: GENESIS_TIMESTAMP + i * BLOCK_TIME,
            ..Default::default()
        })
        .collect();
    SpanBatch::from_singular_batches(&blocks, true)
        .unwrap()
        .to_raw(GENESIS_TIMESTAMP, BLOCK_TIME, CHAIN_ID)
        .unwrap()
        .encode_to_vec()
        .unwrap()
}

#[test]
fn truncated() {
    let frame = Frame {
        channel_id: ChannelId::ZERO,
        number: 0,
        data: vec![1; 10].into(),
        is_last: true,
    }
    .encode()
    .unwrap();
    assert_eq!(
        Frame::decode_exact(&frame[..frame.len() - 1]),
        Err(FrameError::Truncated {
            needed: 1,
            available: 0
        })
    );
    let span = valid_span();
    for cut in 0..span.len() {
        assert!(
            matches!(
                RawSpanBatch::decode_exact(&span[..cut]),
                Err(SpanBatchError::Truncated(_))
            ),
            "cut at {cut}"
        );
    }
    let single = Batch::Single(SingleBatch::default())
        .encode_typed()
        .unwrap();
    assert_eq!(
        Batch::decode_typed(&single[..single.len() - 1]),
        Err(BatchError::Rlp(alloy_rlp::Error::InputTooShort))
    );
}

#[test]
fn bad_version() {
    assert_eq!(
        parse_batcher_payload(&[0x01, 0xaa]),
        Err(FrameError::UnknownVersion(1))
    );
    assert_eq!(
        parse_batcher_payload(&[0x7f]),
        Err(FrameError::UnknownVersion(0x7f))
    );
    assert_eq!(
        ChannelReader::new(&[0x02, 0, 0], 1000, true).err(),
        Some(ChannelError::Compression(CompressionError::UnknownVersion(
            2
        )))
    );
    let brotli = CompressionAlgo::BROTLI_10.compress(&[0xc0]).unwrap();
    assert_eq!(
        ChannelReader::new(&brotli, 1000, false).err(),
        Some(ChannelError::Compression(CompressionError::BrotliNotActive))
    );
    assert_eq!(
        Batch::decode_typed(&[0x02, 0xc0]),
        Err(BatchError::UnknownType(2))
    );
    assert_eq!(Batch::decode_typed(&[]), Err(BatchError::Empty));
}

#[test]
fn bad_is_last() {
    let mut frame = Frame {
        channel_id: ChannelId::ZERO,
        number: 0,
        data: vec![].into(),
        is_last: false,
    }
    .encode()
    .unwrap();
    for bad in [2u8, 0xff] {
        *frame.last_mut().unwrap() = bad;
        assert_eq!(
            Frame::decode_exact(&frame),
            Err(FrameError::InvalidIsLast(bad))
        );
        let mut payload = vec![0];
        payload.extend_from_slice(&frame);
        assert_eq!(
            parse_batcher_payload(&payload),
            Err(FrameError::InvalidIsLast(bad))
        );
    }
}

#[test]
fn oversized() {
    let mut frame = vec![0u8; 18];
    frame.extend_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        Frame::decode_exact(&frame),
        Err(FrameError::TooLarge(u32::MAX as usize))
    );
    let big = Frame {
        channel_id: ChannelId::ZERO,
        number: 0,
        data: vec![0; MAX_FRAME_LEN + 1].into(),
        is_last: true,
    };
    assert_eq!(big.encode(), Err(FrameError::TooLarge(MAX_FRAME_LEN + 1)));
}

#[test]
fn trailing_bytes() {
    let mut frame = Frame {
        channel_id: ChannelId::ZERO,
        number: 0,
        data: vec![].into(),
        is_last: true,
    }
    .encode()
    .unwrap();
    frame.push(0);
    assert_eq!(
        Frame::decode_exact(&frame),
        Err(FrameError::TrailingBytes(1))
    );

    let mut single = Batch::Single(SingleBatch::default())
        .encode_typed()
        .unwrap();
    single.extend_from_slice(&[1, 2]);
    assert_eq!(
        Batch::decode_typed(&single),
        Err(BatchError::TrailingBytes(2))
    );

    let mut span = vec![0x01];
    span.extend_from_slice(&valid_span());
    span.push(0);
    assert_eq!(
        Batch::decode_typed(&span),
        Err(BatchError::Span(SpanBatchError::TrailingBytes(1)))
    );

    // Trailing bytes inside a tx_data list.
    let mut bytes = span_head(1);
    bytes.extend_from_slice(&[0, 1]); // origin bits, one tx
    bytes.extend_from_slice(&[0, 0]); // creation, parity
    bytes.extend_from_slice(&[0; 64 + 20]); // signature, to
    bytes.extend_from_slice(&[0xc4, 0x80, 0x80, 0x80, 0x80]); // legacy tx_data with a 4th field
    bytes.extend_from_slice(&[0, 0, 0]);
    assert!(matches!(
        RawSpanBatch::decode_exact(&bytes),
        Err(SpanBatchError::TxData(_))
    ));
}

#[test]
fn bitlist_overflow() {
    // Three blocks take one byte of origin bits; bit 3 is padding.
    let mut bytes = span_head(3);
    bytes.push(0b1000);
    bytes.extend_from_slice(&[0, 0, 0]);
    assert_eq!(
        RawSpanBatch::decode_exact(&bytes),
        Err(SpanBatchError::BitlistOverflow("origin_bits"))
    );
    // One transaction, whose y-parity bitlist sets bit 1.
    let mut bytes = span_head(1);
    bytes.extend_from_slice(&[0, 1, 0, 0b10]);
    assert_eq!(
        RawSpanBatch::decode_exact(&bytes),
        Err(SpanBatchError::BitlistOverflow("y_parity_bits"))
    );
}

#[test]
fn bad_varint() {
    let mut bytes = vec![0xff; 9];
    bytes.push(0x02);
    assert_eq!(
        RawSpanBatch::decode_exact(&bytes),
        Err(SpanBatchError::VarintOverflow("rel_timestamp"))
    );
    let mut bytes = span_head(1);
    bytes.push(0);
    bytes.extend_from_slice(&[0x80; 11]);
    assert_eq!(
        RawSpanBatch::decode_exact(&bytes),
        Err(SpanBatchError::VarintOverflow("block_tx_counts"))
    );
}

#[test]
fn too_many_elements() {
    let over = MAX_SPAN_BATCH_ELEMENT_COUNT + 1;
    assert_eq!(
        RawSpanBatch::decode_exact(&span_head(over)),
        Err(SpanBatchError::TooManyElements {
            field: "block_count",
            count: over
        })
    );
    let mut bytes = span_head(1);
    bytes.push(0);
    uvarint(&mut bytes, over);
    assert_eq!(
        RawSpanBatch::decode_exact(&bytes),
        Err(SpanBatchError::TooManyElements {
            field: "block_tx_count",
            count: over
        })
    );
    let mut bytes = span_head(2);
    bytes.push(0);
    uvarint(&mut bytes, 6_000_000);
    uvarint(&mut bytes, 6_000_000);
    assert_eq!(
        RawSpanBatch::decode_exact(&bytes),
        Err(SpanBatchError::TooManyElements {
            field: "txs",
            count: 12_000_000
        })
    );
    // A count the input cannot back is refused before anything is allocated for it.
    let mut bytes = span_head(1);
    bytes.push(0);
    uvarint(&mut bytes, MAX_SPAN_BATCH_ELEMENT_COUNT);
    assert_eq!(
        RawSpanBatch::decode_exact(&bytes),
        Err(SpanBatchError::Truncated("contract_creation_bits"))
    );
    assert_eq!(
        RawSpanBatch::decode_exact(&span_head(0)),
        Err(SpanBatchError::EmptySpanBatch)
    );
}

#[test]
fn unknown_tx_type() {
    let mut bytes = span_head(1);
    bytes.extend_from_slice(&[0, 1, 0, 0]);
    bytes.extend_from_slice(&[0; 84]);
    bytes.extend_from_slice(&[0x03, 0xc0]);
    assert_eq!(
        RawSpanBatch::decode_exact(&bytes),
        Err(SpanBatchError::UnknownTxType(3))
    );
}

#[test]
fn decompression_bomb() {
    // One valid batch, then an RLP string header announcing 50 MB of zeros.
    let mut stream = Vec::new();
    Batch::Single(SingleBatch::default())
        .encode_channel_item(&mut stream)
        .unwrap();
    let huge = 50_000_000usize;
    stream.extend_from_slice(&[0xbb]);
    stream.extend_from_slice(&(huge as u32).to_be_bytes());
    stream.resize(stream.len() + huge, 0);
    for algo in [
        CompressionAlgo::ZLIB_BEST,
        CompressionAlgo::Brotli { quality: 5 },
    ] {
        let channel = algo.compress(&stream).unwrap();
        assert!(channel.len() < 200_000, "{algo:?}: {}", channel.len());
        let mut reader =
            ChannelReader::new(&channel, MAX_RLP_BYTES_PER_CHANNEL_BEDROCK, true).unwrap();
        assert_eq!(reader.decompressed_len(), MAX_RLP_BYTES_PER_CHANNEL_BEDROCK);
        assert_eq!(
            reader.next(),
            Some(Ok(Batch::Single(SingleBatch::default())))
        );
        assert_eq!(
            reader.next(),
            Some(Err(ChannelError::RlpLimitExceeded {
                limit: MAX_RLP_BYTES_PER_CHANNEL_BEDROCK
            }))
        );
        assert_eq!(reader.next(), None);
    }
}

#[test]
fn corrupt_channel_keeps_earlier_batches() {
    let mut stream = Vec::new();
    for i in 0..50u64 {
        Batch::Single(SingleBatch {
            timestamp: i,
            ..Default::default()
        })
        .encode_channel_item(&mut stream)
        .unwrap();
    }
    let channel = CompressionAlgo::ZLIB_BEST.compress(&stream).unwrap();
    let reader = ChannelReader::new(&channel[..channel.len() - 8], 1 << 20, true).unwrap();
    let results: Vec<_> = reader.collect();
    let last = results.last().unwrap();
    assert!(matches!(last, Err(ChannelError::Corrupt(_))), "{last:?}");
    assert!(results[..results.len() - 1].iter().all(Result::is_ok));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_batcher_payload(&bytes);
        let _ = Batch::decode_typed(&bytes);
        let _ = RawSpanBatch::decode_exact(&bytes);
        if let Ok(reader) = ChannelReader::new(&bytes, 10_000, true) {
            for _ in reader {}
        }
    }

    #[test]
    fn mutated_span_batches_never_panic(
        blocks in blocks(4),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let raw = SpanBatch::from_singular_batches(&blocks, true)
            .unwrap()
            .to_raw(GENESIS_TIMESTAMP, BLOCK_TIME, CHAIN_ID)
            .unwrap();
        let mut bytes = raw.encode_to_vec().unwrap();
        for (index, value) in flips {
            let i = index.index(bytes.len());
            bytes[i] ^= value;
        }
        if let Ok(decoded) = RawSpanBatch::decode_exact(&bytes) {
            let _ = SpanBatch::from_raw(&decoded, GENESIS_TIMESTAMP, BLOCK_TIME, CHAIN_ID);
        }
    }
}
