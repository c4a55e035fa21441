//! The pool's decoder and stateless checks never panic on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ol_txpool::{PoolConfig, validate::decode_and_check};

fuzz_target!(|data: &[u8]| {
    let _ = decode_and_check(data, &PoolConfig::default(), 1611, 60_000_000);
});
