//! A gossiped block message, raw or as snappy-compressed bytes, decodes or is refused without a
//! panic, and the validator gives every message a verdict; the same bytes as a `payload_by_number`
//! response body decode or are refused.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ol_p2p::decode_block(data, 1611);
    let _ = ol_p2p::decode_payload(data);
    if let Ok(compressed) = snap::raw::Encoder::new().compress_vec(data) {
        let mut validator = ol_p2p::Validator::new(1611, alloy_primitives::Address::ZERO);
        let _ = validator.validate(&compressed, 1_700_000_000);
    }
});
