//! The L1-info calldata decoder never panics, and what it accepts re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ol_primitives::L1BlockInfo;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = L1BlockInfo::decode_jovian(data) {
        assert_eq!(info.encode_jovian().as_ref(), data);
    }
});
