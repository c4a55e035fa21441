//! Batch decoding never panics; singular batches re-encode exactly; span batches re-encode to
//! bytes that decode to the same batch, and a span that derives converts back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ol_rollup::{Batch, batch::SpanBatch};

const GENESIS_TIMESTAMP: u64 = 1_700_000_000;
const BLOCK_TIME: u64 = 2;
const CHAIN_ID: u64 = 1_612;

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = Batch::decode_typed(data) else {
        return;
    };
    let encoded = batch.encode_typed().expect("decoded batch encodes");
    match &batch {
        Batch::Single(_) => assert_eq!(encoded, data),
        Batch::Span(raw) => {
            // Non-minimal varints decode (as in op-node) but re-encode minimally.
            assert_eq!(
                Batch::decode_typed(&encoded).expect("re-encoded batch decodes"),
                batch
            );
            if let Ok(span) = SpanBatch::from_raw(raw, GENESIS_TIMESTAMP, BLOCK_TIME, CHAIN_ID) {
                let again = span
                    .to_raw(GENESIS_TIMESTAMP, BLOCK_TIME, CHAIN_ID)
                    .expect("derived span converts back");
                assert_eq!(&again, raw);
            }
        }
    }
});
