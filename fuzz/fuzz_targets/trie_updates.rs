//! Incremental trie updates from arbitrary batches agree with a full recomputation.
#![no_main]

use alloy_primitives::B256;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

fuzz_target!(|data: &[u8]| {
    let mut store = BTreeMap::new();
    let mut model: BTreeMap<B256, Vec<u8>> = BTreeMap::new();
    // Each 3-byte chunk: key selector, value (0 = delete), batch boundary flag.
    for batch in data.chunks(24) {
        let mut changes = BTreeMap::new();
        for op in batch.chunks_exact(3) {
            let mut key = B256::repeat_byte(0x11);
            key.0[31] = op[0];
            key.0[30] = op[2] & 0x0f;
            let value = (op[1] != 0).then(|| vec![op[1]]);
            match &value {
                Some(v) => model.insert(key, v.clone()),
                None => model.remove(&key),
            };
            changes.insert(key, value);
        }
        let root = ol_trie::apply_to_map(&mut store, &changes).expect("in-memory store");
        assert_eq!(
            root,
            ol_trie::full_root(model.iter().map(|(k, v)| (*k, v.clone())))
        );
    }
});
