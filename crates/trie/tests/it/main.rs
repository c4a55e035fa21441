//! Integration tests for `ol-trie`: known vectors, randomized incremental updates checked against
//! a full `HashBuilder` recomputation and a store walker, incrementality bounds, and robustness
//! against corrupt stores.

use alloy_primitives::{B256, U256, b256, hex, keccak256};
use alloy_rlp::Decodable;
use alloy_trie::{
    EMPTY_ROOT_HASH,
    nodes::{RlpNode, TrieNode},
};
use ol_trie::{
    NodeReader, TrieError, apply_changes, apply_to_map, full_root, root_of, storage_value_rlp,
};
use proptest::{prelude::*, sample::Index};
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::{
    cell::Cell,
    collections::{BTreeMap, BTreeSet},
};

type Store = BTreeMap<Vec<u8>, Vec<u8>>;
type Changes = BTreeMap<B256, Option<Vec<u8>>>;
/// A sequence of `(key, value)` steps of an Ethereum trie test; `None` deletes.
type Steps<'a> = &'a [(&'a str, Option<&'a str>)];
/// One randomized batch: a "delete everything first" flag and `(key index, value)` operations.
type Batch = (bool, Vec<(Index, Option<Vec<u8>>)>);

fn nibbles(key: &B256) -> Vec<u8> {
    key.iter()
        .flat_map(|byte| [byte >> 4, byte & 0x0f])
        .collect()
}

fn from_nibbles(nibbles: &[u8]) -> B256 {
    let mut out = B256::ZERO;
    for (i, pair) in nibbles.chunks(2).enumerate() {
        out[i] = (pair[0] << 4) | pair[1];
    }
    out
}

/// Walks the store from the root, checking every reference, and returns the leaves found and the
/// set of reachable paths.
fn walk(store: &Store) -> (BTreeMap<B256, Vec<u8>>, BTreeSet<Vec<u8>>) {
    fn visit(
        store: &Store,
        path: Vec<u8>,
        reference: Option<&RlpNode>,
        leaves: &mut BTreeMap<B256, Vec<u8>>,
        seen: &mut BTreeSet<Vec<u8>>,
    ) {
        let rlp = store
            .get(&path)
            .unwrap_or_else(|| panic!("missing node at {path:?}"));
        if let Some(reference) = reference {
            assert_eq!(
                &RlpNode::from_rlp(rlp),
                reference,
                "reference mismatch at {path:?}"
            );
        }
        assert!(seen.insert(path.clone()));
        match TrieNode::decode(&mut &rlp[..]).expect("decodable node") {
            TrieNode::EmptyRoot => panic!("empty node stored at {path:?}"),
            TrieNode::Leaf(leaf) => {
                let key = [&path[..], &leaf.key.to_vec()].concat();
                assert_eq!(key.len(), 64);
                assert!(!leaf.value.is_empty());
                leaves.insert(from_nibbles(&key), leaf.value);
            }
            TrieNode::Extension(ext) => {
                assert!(!ext.key.is_empty());
                let child = [&path[..], &ext.key.to_vec()].concat();
                let child_rlp = store.get(&child).expect("extension child");
                assert!(
                    matches!(
                        TrieNode::decode(&mut &child_rlp[..]),
                        Ok(TrieNode::Branch(_))
                    ),
                    "extension child must be a branch at {child:?}"
                );
                visit(store, child, Some(&ext.child), leaves, seen);
            }
            TrieNode::Branch(branch) => {
                assert!(
                    branch.stack.len() >= 2,
                    "branch with < 2 children at {path:?}"
                );
                let mut stack = branch.stack.iter();
                for nibble in 0..16u8 {
                    if branch.state_mask.is_bit_set(nibble) {
                        let child = [&path[..], &[nibble]].concat();
                        visit(store, child, stack.next(), leaves, seen);
                    }
                }
            }
        }
    }
    let mut leaves = BTreeMap::new();
    let mut seen = BTreeSet::new();
    if store.contains_key(&Vec::new()) {
        visit(store, Vec::new(), None, &mut leaves, &mut seen);
    }
    (leaves, seen)
}

/// Asserts that `store` holds exactly the canonical trie of `model` with root `root`.
fn check(store: &Store, model: &BTreeMap<B256, Vec<u8>>, root: B256) {
    let expected = full_root(model.iter().map(|(k, v)| (*k, v.clone())));
    assert_eq!(root, expected, "root differs from HashBuilder");
    assert_eq!(root_of(store).unwrap(), root);
    let (leaves, seen) = walk(store);
    assert_eq!(&leaves, model, "leaves differ from the model");
    let stored: BTreeSet<Vec<u8>> = store.keys().cloned().collect();
    assert_eq!(stored, seen, "store holds unreachable nodes");
}

fn build(entries: &BTreeMap<B256, Vec<u8>>) -> (Store, B256) {
    let mut store = Store::new();
    let changes: Changes = entries.iter().map(|(k, v)| (*k, Some(v.clone()))).collect();
    let root = apply_to_map(&mut store, &changes).unwrap();
    (store, root)
}

/// A reader that counts reads.
struct Counting<'a> {
    store: &'a Store,
    reads: Cell<usize>,
}

impl NodeReader for Counting<'_> {
    fn node(&self, path: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        self.reads.set(self.reads.get() + 1);
        self.store.node(path)
    }
}

// ---------------------------------------------------------------------------------------------
// Known vectors
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_trie() {
    let mut store = Store::new();
    assert_eq!(root_of(&store).unwrap(), EMPTY_ROOT_HASH);
    assert_eq!(full_root([]), EMPTY_ROOT_HASH);
    let update = apply_changes(&store, &Changes::new()).unwrap();
    assert_eq!(update.root, EMPTY_ROOT_HASH);
    assert!(update.writes.is_empty());
    // Deleting absent keys from an empty trie writes nothing.
    let changes = Changes::from([(B256::repeat_byte(1), None), (B256::repeat_byte(2), None)]);
    let update = apply_changes(&store, &changes).unwrap();
    assert_eq!(update.root, EMPTY_ROOT_HASH);
    assert!(update.writes.is_empty());
    assert_eq!(apply_to_map(&mut store, &changes).unwrap(), EMPTY_ROOT_HASH);
    assert!(store.is_empty());
}

#[test]
fn single_storage_slot_hand_checked() {
    // Slot 0 holding 1: key keccak(0x00..00), value rlp(1) = 0x01.
    let key = keccak256(B256::ZERO);
    let value = storage_value_rlp(U256::from(1)).unwrap();
    assert_eq!(value, [0x01]);
    assert_eq!(storage_value_rlp(U256::ZERO), None);
    assert_eq!(storage_value_rlp(U256::from(0x80)).unwrap(), [0x81, 0x80]);

    // leaf = rlp([0x20 ++ key, 0x01]) = 0xe3 (list, 35 bytes) 0xa1 (string, 33 bytes) 0x20 key 0x01
    let mut leaf = vec![0xe3, 0xa1, 0x20];
    leaf.extend_from_slice(key.as_slice());
    leaf.push(0x01);
    let expected = keccak256(&leaf);

    let mut store = Store::new();
    let root = apply_to_map(&mut store, &Changes::from([(key, Some(value.clone()))])).unwrap();
    assert_eq!(root, expected);
    assert_eq!(full_root([(key, value)]), expected);
    assert_eq!(store, Store::from([(vec![], leaf)]));
    // The well-known storage root of a contract whose slot 0 holds 1.
    assert_eq!(
        root,
        b256!("821e2556a290c86405f8160a2d662042a431ba456b9db265c79bb837c04be5f0")
    );
}

/// Ethereum test vectors (`ethereum/tests` TrieTests/trieanyorder_secureTrie.json): keys are
/// hashed, values are raw bytes. Strings starting with `0x` are hex.
#[test]
fn ethereum_secure_trie_any_order() {
    let vectors: &[(&[(&str, &str)], B256)] = &[
        (
            &[("A", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")],
            b256!("e9e2935138352776cad724d31c9fa5266a5c593bb97726dd2a908fe6d53284df"),
        ),
        (
            &[
                ("doe", "reindeer"),
                ("dog", "puppy"),
                ("dogglesworth", "cat"),
            ],
            b256!("d4cd937e4a4368d7931a9cf51686b7e10abb3dce38a39000fd7902a092b64585"),
        ),
        (
            &[
                ("do", "verb"),
                ("horse", "stallion"),
                ("doge", "coin"),
                ("dog", "puppy"),
            ],
            b256!("29b235a58c3c25ab83010c327d5932bcf05324b7d6b1185e650798034783ca9d"),
        ),
        (
            &[("foo", "bar"), ("food", "bass")],
            b256!("1385f23a33021025d9e87cca5c66c00de06178807b96a9acc92b7d651ccde842"),
        ),
        (
            &[("be", "e"), ("dog", "puppy"), ("bed", "d")],
            b256!("826a4f9f9054a3e980e54b20da992c24fa20467f1ca635115ef4917be66e746f"),
        ),
        (
            &[("test", "test"), ("te", "testy")],
            b256!("aea54fb6c80499674248a462864c420c9d9f3b3d38c879c12425bade1ad76552"),
        ),
        (
            &[("0x0045", "0x0123456789"), ("0x4500", "0x9876543210")],
            b256!("bc11c02c8ab456db0c4d2728b6a2a6210d06f26a2ace4f7d8bdfc72ddf2630ab"),
        ),
    ];
    for (entries, expected) in vectors {
        let entries: Vec<(B256, Vec<u8>)> = entries
            .iter()
            .map(|(k, v)| (keccak256(bytes(k)), bytes(v)))
            .collect();
        assert_eq!(full_root(entries.clone()), *expected);
        // All at once.
        let model: BTreeMap<B256, Vec<u8>> = entries.iter().cloned().collect();
        let (store, root) = build(&model);
        assert_eq!(root, *expected);
        check(&store, &model, root);
        // One at a time, forwards and backwards.
        for order in [entries.clone(), entries.iter().rev().cloned().collect()] {
            let mut store = Store::new();
            let mut root = EMPTY_ROOT_HASH;
            for (k, v) in order {
                root = apply_to_map(&mut store, &Changes::from([(k, Some(v))])).unwrap();
            }
            assert_eq!(root, *expected);
            check(&store, &model, root);
        }
    }
}

fn bytes(s: &str) -> Vec<u8> {
    s.strip_prefix("0x")
        .map_or_else(|| s.as_bytes().to_vec(), |h| hex::decode(h).unwrap())
}

/// Ethereum test vectors with deletions (`ethereum/tests` TrieTests/trietest_secureTrie.json).
#[test]
fn ethereum_secure_trie_sequences() {
    let empty_values: Steps<'_> = &[
        ("do", Some("verb")),
        ("ether", Some("wookiedoo")),
        ("horse", Some("stallion")),
        ("shaman", Some("horse")),
        ("doge", Some("coin")),
        ("ether", None),
        ("dog", Some("puppy")),
        ("shaman", None),
    ];
    let jeff: Steps<'_> = &[
        (
            "0x0000000000000000000000000000000000000000000000000000000000000045",
            Some("0x22b224a1420a802ab51d326e29fa98e34c4f24ea"),
        ),
        (
            "0x0000000000000000000000000000000000000000000000000000000000000046",
            Some("0x67706c2076330000000000000000000000000000000000000000000000000000"),
        ),
        (
            "0x0000000000000000000000000000000000000000000000000000001234567890",
            Some("0x697c7b8c961b56f675d570498424ac8de1a918f6"),
        ),
        (
            "0x000000000000000000000000697c7b8c961b56f675d570498424ac8de1a918f6",
            Some("0x1234567890"),
        ),
        (
            "0x0000000000000000000000007ef9e639e2733cb34e4dfc576d4b23f72db776b2",
            Some("0x4655474156000000000000000000000000000000000000000000000000000000"),
        ),
        (
            "0x000000000000000000000000ec4f34c97e43fbb2816cfd95e388353c7181dab1",
            Some("0x4e616d6552656700000000000000000000000000000000000000000000000000"),
        ),
        (
            "0x4655474156000000000000000000000000000000000000000000000000000000",
            Some("0x7ef9e639e2733cb34e4dfc576d4b23f72db776b2"),
        ),
        (
            "0x4e616d6552656700000000000000000000000000000000000000000000000000",
            Some("0xec4f34c97e43fbb2816cfd95e388353c7181dab1"),
        ),
        (
            "0x0000000000000000000000000000000000000000000000000000001234567890",
            None,
        ),
        (
            "0x000000000000000000000000697c7b8c961b56f675d570498424ac8de1a918f6",
            Some("0x6f6f6f6820736f2067726561742c207265616c6c6c793f000000000000000000"),
        ),
        (
            "0x6f6f6f6820736f2067726561742c207265616c6c6c793f000000000000000000",
            Some("0x697c7b8c961b56f675d570498424ac8de1a918f6"),
        ),
    ];
    let addresses = [
        "0x04110d816c380812a427968ece99b1c963dfbce6",
        "0x095e7baea6a6c7c4c2dfeb977efac326af552d87",
        "0x0a517d755cebbf66312b30fff713666a9cb917e0",
        "0x24dd378f51adc67a50e339e8031fe9bd4aafab36",
        "0x293f982d000532a7861ab122bdc4bbfd26bf9030",
        "0x2cf5732f017b0cf1b1f13a1478e10239716bf6b5",
        "0x31c640b92c21a1f1465c91070b4b3b4d6854195f",
        "0x37f998764813b136ddf5a754f34063fd03065e36",
        "0x37fa399a749c121f8a15ce77e3d9f9bec8020d7a",
        "0x4f36659fa632310b6ec438dea4085b522a2dd077",
        "0x62c01474f089b07dae603491675dc5b5748f7049",
        "0x729af7294be595a0efd7d891c9e51f89c07950c7",
        "0x83e3e5a16d3b696a0314b30b2534804dd5e11197",
        "0x8703df2417e0d7c59d063caa9583cb10a4d20532",
        "0x8dffcd74e5b5923512916c6a64b502689cfa65e1",
        "0x95a4d7cccb5204733874fa87285a176fe1e9e240",
        "0x99b2fcba8120bedd048fe79f5262a6690ed38c39",
        "0xa4202b8b8afd5354e3e40a219bdc17f6001bf2cf",
        "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b",
        "0xa9647f4a0a14042d91dc33c0328030a7157c93ae",
        "0xaa6cffe5185732689c18f37a7f86170cb7304c2a",
        "0xaae4a2e3c51c04606dcb3723456e58f3ed214f45",
        "0xc37a43e940dfb5baf581a0b82b351d48305fc885",
        "0xd2571607e241ecf590ed94b12d87c94babe36db6",
        "0xf735071cbee190d76b704ce68384fc21e389fbe7",
    ];
    let branching: Vec<(&str, Option<&str>)> = addresses
        .iter()
        .map(|a| (*a, Some("something")))
        .chain(addresses.iter().map(|a| (*a, None)))
        .collect();
    let cases: [(Steps<'_>, B256); 3] = [
        (
            empty_values,
            b256!("29b235a58c3c25ab83010c327d5932bcf05324b7d6b1185e650798034783ca9d"),
        ),
        (&branching, EMPTY_ROOT_HASH),
        (
            jeff,
            b256!("72adb52e9d9428f808e3e8045be18d3baa77881d0cfab89a17a2bcbacee2f320"),
        ),
    ];
    for (steps, expected) in cases {
        let mut store = Store::new();
        let mut model = BTreeMap::new();
        let mut root = EMPTY_ROOT_HASH;
        for (k, v) in steps {
            let key = keccak256(bytes(k));
            let value = v.map(bytes);
            match &value {
                Some(value) => model.insert(key, value.clone()),
                None => model.remove(&key),
            };
            root = apply_to_map(&mut store, &Changes::from([(key, value)])).unwrap();
            check(&store, &model, root);
        }
        assert_eq!(root, expected);
        assert_eq!(build(&model).1, expected);
    }
}

// ---------------------------------------------------------------------------------------------
// Randomized incremental updates
// ---------------------------------------------------------------------------------------------

/// A pool of keys: a few random ones plus keys derived from earlier ones by replacing only their
/// last few nibbles, so that deep branches, extensions and inline nodes occur.
fn key_pool() -> impl Strategy<Value = Vec<B256>> {
    let tail = prop_oneof![4 => 1usize..=3, 3 => 4usize..=12, 1 => 13usize..=64];
    (
        prop::collection::vec(any::<[u8; 32]>(), 1..5),
        prop::collection::vec((any::<Index>(), tail, any::<[u8; 32]>()), 0..16),
    )
        .prop_map(|(bases, derived)| {
            let mut keys: Vec<B256> = bases.into_iter().map(B256::from).collect();
            for (from, tail, noise) in derived {
                let mut key = nibbles(&keys[from.index(keys.len())]);
                for (i, nibble) in key.iter_mut().enumerate().skip(64 - tail) {
                    *nibble = noise[i % 32] & 0x0f;
                }
                keys.push(from_nibbles(&key));
            }
            keys
        })
}

/// `None` = delete; short values make inline nodes, long ones hashed nodes.
fn value() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        2 => Just(None),
        3 => prop::collection::vec(1u8..0x80, 1..=1).prop_map(Some),
        2 => prop::collection::vec(any::<u8>(), 2..6).prop_map(Some),
        2 => prop::collection::vec(any::<u8>(), 28..70).prop_map(Some),
    ]
}

/// Batches of `(key index, value)` operations, each with a "delete everything first" flag.
fn batches() -> impl Strategy<Value = Vec<Batch>> {
    prop::collection::vec(
        (
            prop::bool::weighted(0.1),
            prop::collection::vec((any::<Index>(), value()), 0..12),
        ),
        1..10,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn incremental_matches_full_recomputation(keys in key_pool(), batches in batches()) {
        let mut store = Store::new();
        let mut model: BTreeMap<B256, Vec<u8>> = BTreeMap::new();
        for (clear, ops) in batches {
            let mut changes = Changes::new();
            if clear {
                changes.extend(model.keys().map(|k| (*k, None)));
            }
            for (index, value) in ops {
                changes.insert(keys[index.index(keys.len())], value);
            }
            for (key, value) in &changes {
                match value {
                    Some(value) => model.insert(*key, value.clone()),
                    None => model.remove(key),
                };
            }
            let before = store.clone();
            let update = apply_changes(&store, &changes).unwrap();
            // Writes are sorted, unique, and never rewrite identical bytes.
            for pair in update.writes.windows(2) {
                prop_assert!(pair[0].0 < pair[1].0);
            }
            for (path, write) in &update.writes {
                prop_assert!(write.as_ref() != before.get(path), "no-op write at {:?}", path);
                if write.is_none() {
                    prop_assert!(before.contains_key(path), "delete of absent path {:?}", path);
                }
            }
            let root = apply_to_map(&mut store, &changes).unwrap();
            prop_assert_eq!(root, update.root);
            check(&store, &model, root);
            // The store is canonical: equal to building the same set from scratch.
            let (fresh, fresh_root) = build(&model);
            prop_assert_eq!(fresh_root, root);
            prop_assert!(fresh == store, "store differs from a fresh build");
            // Re-applying the same batch changes nothing.
            let again = apply_changes(&store, &changes).unwrap();
            prop_assert_eq!(again.root, root);
            prop_assert!(again.writes.is_empty(), "idempotent batch wrote {:?}", again.writes);
        }
    }
}

#[test]
fn deep_keys_and_inline_nodes() {
    // Keys equal except in the last nibble, with one-byte values: the leaves and even the
    // branch above them are shorter than 32 bytes and inlined in their parents.
    let base = nibbles(&B256::repeat_byte(0xab));
    let mut model = BTreeMap::new();
    let mut store = Store::new();
    for last in 0..16u8 {
        let mut key = base.clone();
        key[63] = last;
        let key = from_nibbles(&key);
        model.insert(key, vec![last + 1]);
        let root = apply_to_map(&mut store, &Changes::from([(key, Some(vec![last + 1]))])).unwrap();
        check(&store, &model, root);
    }
    // Remove them again one by one, in a shuffled order.
    let mut keys: Vec<B256> = model.keys().copied().collect();
    let mut rng = StdRng::seed_from_u64(7);
    for i in (1..keys.len()).rev() {
        keys.swap(i, rng.random_range(0..=i));
    }
    for key in keys {
        model.remove(&key);
        let root = apply_to_map(&mut store, &Changes::from([(key, None)])).unwrap();
        check(&store, &model, root);
    }
    assert!(store.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Incrementality
// ---------------------------------------------------------------------------------------------

#[test]
fn single_change_touches_only_one_path() {
    let mut rng = StdRng::seed_from_u64(42);
    let model: BTreeMap<B256, Vec<u8>> = (0..10_000)
        .map(|_| (B256::from(rng.random::<[u8; 32]>()), vec![0x42; 40]))
        .collect();
    let (mut store, root) = build(&model);
    assert_eq!(root, full_root(model.clone()));
    let depth = walk_depth(&store);
    assert!(depth <= 8, "unexpected depth {depth}");
    let bound = 2 * depth + 2;

    let existing = *model.keys().nth(1234).unwrap();
    let fresh = B256::from(rng.random::<[u8; 32]>());
    let cases = [
        Changes::from([(existing, Some(vec![0x43; 40]))]),
        Changes::from([(existing, None)]),
        Changes::from([(fresh, Some(vec![1]))]),
        Changes::from([(fresh, None)]),
    ];
    let mut model = model;
    for changes in cases {
        let reader = Counting {
            store: &store,
            reads: Cell::new(0),
        };
        let update = apply_changes(&reader, &changes).unwrap();
        assert!(
            update.writes.len() <= bound,
            "{} writes > {bound}",
            update.writes.len()
        );
        assert!(
            reader.reads.get() <= bound,
            "{} reads > {bound}",
            reader.reads.get()
        );
        for (key, value) in &changes {
            match value {
                Some(value) => model.insert(*key, value.clone()),
                None => model.remove(key),
            };
        }
        assert_eq!(apply_to_map(&mut store, &changes).unwrap(), update.root);
    }
    check(&store, &model, root_of(&store).unwrap());
}

fn walk_depth(store: &Store) -> usize {
    store.keys().map(Vec::len).max().unwrap_or(0) + 1
}

// ---------------------------------------------------------------------------------------------
// Robustness
// ---------------------------------------------------------------------------------------------

fn sample_store() -> (Store, BTreeMap<B256, Vec<u8>>) {
    let mut rng = StdRng::seed_from_u64(1);
    let model: BTreeMap<B256, Vec<u8>> = (0..300)
        .map(|_| (B256::from(rng.random::<[u8; 32]>()), vec![7; 33]))
        .collect();
    (build(&model).0, model)
}

#[test]
fn missing_and_corrupt_nodes_are_errors() {
    let (store, model) = sample_store();
    let key = *model.keys().next().unwrap();
    let changes = Changes::from([(key, Some(vec![9]))]);
    let first_child = store.keys().find(|p| p.len() == 1).unwrap().clone();

    let mut missing = store.clone();
    missing.remove(&first_child);
    let changes_under =
        Changes::from([(from_nibbles(&leaf_key_under(&store, &first_child)), None)]);
    assert!(matches!(
        apply_changes(&missing, &changes_under),
        Err(TrieError::MissingNode { path }) if path == first_child
    ));

    let mut garbage = store.clone();
    garbage.insert(first_child.clone(), vec![0xff, 0x00]);
    assert!(matches!(
        apply_changes(&garbage, &changes_under),
        Err(TrieError::ReferenceMismatch { .. })
    ));

    let mut bad_root = store;
    bad_root.insert(vec![], vec![0xc1, 0xc0]);
    assert!(apply_changes(&bad_root, &changes).is_err());
    bad_root.insert(vec![], vec![0x83, 1, 2, 3]);
    assert!(matches!(
        apply_changes(&bad_root, &changes),
        Err(TrieError::Decode { .. })
    ));
}

/// Some full key (as nibbles) of a leaf under `path`.
fn leaf_key_under(store: &Store, path: &[u8]) -> Vec<u8> {
    let (leaves, _) = walk(store);
    leaves
        .keys()
        .map(nibbles)
        .find(|k| k.starts_with(path))
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random corruption of a stored node never panics; it either errors or (if the bytes happen
    /// to be valid, e.g. unchanged) succeeds.
    #[test]
    fn corrupt_store_never_panics(
        victim in any::<Index>(),
        bytes in prop::collection::vec(any::<u8>(), 0..80),
        flip in any::<Option<(Index, u8)>>(),
        ops in prop::collection::vec((any::<Index>(), value()), 1..8),
    ) {
        let (mut store, model) = sample_store();
        let paths: Vec<Vec<u8>> = store.keys().cloned().collect();
        let path = paths[victim.index(paths.len())].clone();
        let corrupted = match flip {
            Some((at, xor)) => {
                let mut rlp = store[&path].clone();
                let i = at.index(rlp.len());
                rlp[i] ^= xor.max(1);
                rlp
            }
            None => bytes,
        };
        store.insert(path, corrupted);
        let keys: Vec<B256> = model.keys().copied().collect();
        let changes: Changes =
            ops.into_iter().map(|(i, v)| (keys[i.index(keys.len())], v)).collect();
        let _ = apply_changes(&store, &changes);
        let _ = root_of(&store);
    }
}
