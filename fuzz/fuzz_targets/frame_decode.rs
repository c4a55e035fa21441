//! Batcher payload and frame parsing never panics, and accepted payloads re-encode exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ol_rollup::frame::{Frame, encode_batcher_payload, parse_batcher_payload};

fuzz_target!(|data: &[u8]| {
    if let Ok(frames) = parse_batcher_payload(data) {
        assert_eq!(
            encode_batcher_payload(&frames).expect("parsed frames encode"),
            data
        );
    }
    if let Ok(frame) = Frame::decode_exact(data) {
        assert_eq!(frame.encode().expect("parsed frame encodes"), data);
    }
});
