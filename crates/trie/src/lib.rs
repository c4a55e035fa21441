//! Incremental Merkle-Patricia state and storage roots over path-keyed stored nodes.
//!
//! This crate computes the real Ethereum Merkle-Patricia trie root (the account trie's state root
//! and each account's storage root) *incrementally*: a block's changes are applied to the nodes
//! already stored, touching only the nodes on the paths of the changed keys.
//!
//! # Model
//!
//! * **Secure trie.** Every key is a 32-byte hash (`keccak(address)` or `keccak(slot)`), i.e.
//!   exactly [`KEY_NIBBLES`] nibbles, so branch nodes never carry values.
//! * **Values** are opaque, non-empty byte strings: the account RLP for the account trie, the RLP
//!   of a non-zero `U256` for storage tries (see [`storage_value_rlp`]). An empty value is treated
//!   as a deletion.
//! * **Node storage by path.** Every node, including nodes small enough to be inlined in their
//!   parent (RLP shorter than 32 bytes), is stored under its *path*: the nibbles from the root to
//!   the node, **one byte per nibble** (`0..=15`); the root's path is empty. The stored bytes are
//!   the node's standard RLP encoding (leaf `[hex_prefix(rest, leaf), value]`, extension
//!   `[hex_prefix(key, ext), child_ref]`, branch `[c0, .., c15, ""]`), where a child reference is
//!   the child's RLP when shorter than 32 bytes and `rlp(keccak(child_rlp))` otherwise. A branch's
//!   child `n` lives at `path ++ [n]`, an extension's child at `path ++ key`.
//! * One [`NodeReader`] serves **one** trie. A store holding several tries (the account trie and a
//!   storage trie per account) must namespace the paths itself, e.g. by prefixing storage-trie
//!   paths with the 32-byte hashed address.
//!
//! # Usage
//!
//! [`apply_changes`] returns the new root and the node writes (`Some(rlp)`) and deletions
//! (`None`) to persist atomically with the block; [`apply_to_map`] does the same for the in-memory
//! [`BTreeMap`] store. [`full_root`] recomputes a root from scratch with `alloy_trie`'s
//! [`HashBuilder`] and serves as an oracle.
//!
//! ```
//! use alloy_primitives::{B256, U256};
//! use ol_trie::{apply_to_map, full_root, storage_value_rlp};
//! use std::collections::BTreeMap;
//!
//! let mut store = BTreeMap::new();
//! let slot = B256::repeat_byte(0x11);
//! let value = storage_value_rlp(U256::from(42)).unwrap();
//! let changes = BTreeMap::from([(slot, Some(value.clone()))]);
//! let root = apply_to_map(&mut store, &changes).unwrap();
//! assert_eq!(root, full_root([(slot, value)]));
//! ```

mod node;
mod update;

use alloy_primitives::{B256, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, HashBuilder, Nibbles};
use std::collections::BTreeMap;
use update::{Change, Updater, key_nibbles};

/// Number of nibbles in every key of a secure trie (32 bytes).
pub const KEY_NIBBLES: usize = 64;

/// Errors raised while reading or updating a trie. Bad stored data is always reported as an error,
/// never a panic. Paths are shown as one hex digit per nibble.
#[derive(Debug, thiserror::Error)]
pub enum TrieError {
    /// A node that its parent references (or that a change needs) is not in the store.
    #[error("missing trie node at path [{}]", fmt_path(path))]
    MissingNode {
        /// The path of the missing node.
        path: Vec<u8>,
    },
    /// The stored bytes at a path are not a decodable trie node.
    #[error("undecodable trie node at path [{}]: {source}", fmt_path(path))]
    Decode {
        /// The path of the node.
        path: Vec<u8>,
        /// The RLP error.
        source: alloy_rlp::Error,
    },
    /// The stored node decodes but cannot be valid at its path.
    #[error("invalid trie node at path [{}]: {reason}", fmt_path(path))]
    InvalidNode {
        /// The path of the node.
        path: Vec<u8>,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The stored node does not match the reference (hash or inline RLP) its parent holds.
    #[error(
        "trie node at path [{}] does not match its parent's reference",
        fmt_path(path)
    )]
    ReferenceMismatch {
        /// The path of the node.
        path: Vec<u8>,
    },
    /// The underlying store failed.
    #[error("trie node store: {0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

fn fmt_path(path: &[u8]) -> String {
    path.iter()
        .map(|&nibble| char::from_digit(u32::from(nibble), 16).unwrap_or('?'))
        .collect()
}

/// Read access to stored nodes of ONE trie (the account trie, or one account's storage trie).
pub trait NodeReader {
    /// Returns the RLP of the node stored at `path` (one byte per nibble, root = empty path), or
    /// `None` if there is none.
    fn node(&self, path: &[u8]) -> Result<Option<Vec<u8>>, TrieError>;
}

impl<T: NodeReader + ?Sized> NodeReader for &T {
    fn node(&self, path: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        (**self).node(path)
    }
}

/// The in-memory node store: path → node RLP.
impl NodeReader for BTreeMap<Vec<u8>, Vec<u8>> {
    fn node(&self, path: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        Ok(self.get(path).cloned())
    }
}

/// The result of applying changes: new root and the node writes/deletes to persist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrieUpdate {
    /// The new root hash ([`EMPTY_ROOT_HASH`] when the trie became empty).
    pub root: B256,
    /// Node writes sorted by path: `(path, Some(node_rlp))` to store, `(path, None)` to delete.
    /// Nodes whose bytes did not change are not included.
    pub writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

/// Apply a batch of changes (key = hashed key, value None = delete, Some(rlp) = insert/update) to
/// the trie whose nodes `reader` holds, and return the new root and node writes. Must only touch
/// nodes on paths of changed keys (plus the few siblings needed to collapse a branch).
///
/// Deleting a key that is absent is a no-op; `Some` of an empty value is treated as a deletion.
/// With no changes, the stored root is returned and nothing is written. Node reads are
/// `O(changes × depth)`; every loaded node is checked against its parent's reference.
pub fn apply_changes(
    reader: &impl NodeReader,
    changes: &BTreeMap<B256, Option<Vec<u8>>>,
) -> Result<TrieUpdate, TrieError> {
    if changes.is_empty() {
        return Ok(TrieUpdate {
            root: root_of(reader)?,
            writes: Vec::new(),
        });
    }
    let changes: Vec<Change<'_>> = changes
        .iter()
        .map(|(key, value)| Change {
            key: key_nibbles(key),
            value: value.as_deref().filter(|value| !value.is_empty()),
        })
        .collect();
    Updater::new(reader).run(&changes)
}

/// Root of the trie from its stored root node (EMPTY_ROOT_HASH when there is none).
pub fn root_of(reader: &impl NodeReader) -> Result<B256, TrieError> {
    Ok(reader.node(&[])?.map_or(EMPTY_ROOT_HASH, keccak256))
}

/// Applies `changes` to the in-memory store `map` (writing and deleting nodes) and returns the
/// new root. On error the map is left unchanged.
pub fn apply_to_map(
    map: &mut BTreeMap<Vec<u8>, Vec<u8>>,
    changes: &BTreeMap<B256, Option<Vec<u8>>>,
) -> Result<B256, TrieError> {
    let update = apply_changes(map, changes)?;
    for (path, write) in update.writes {
        match write {
            Some(rlp) => map.insert(path, rlp),
            None => map.remove(&path),
        };
    }
    Ok(update.root)
}

/// The storage-trie value for a slot: `rlp(value)`, or `None` for zero (zero slots are deleted).
pub fn storage_value_rlp(value: U256) -> Option<Vec<u8>> {
    (!value.is_zero()).then(|| alloy_rlp::encode(value))
}

/// Full recomputation of the root over `(hashed key, value)` entries with `alloy_trie`'s
/// `HashBuilder` (later duplicates win, empty values are skipped). Used as the test oracle and for
/// sanity checks; it costs `O(entries)`.
pub fn full_root(entries: impl IntoIterator<Item = (B256, Vec<u8>)>) -> B256 {
    let sorted: BTreeMap<B256, Vec<u8>> = entries.into_iter().collect();
    let mut builder = HashBuilder::default();
    for (key, value) in sorted.iter().filter(|(_, value)| !value.is_empty()) {
        builder.add_leaf(Nibbles::unpack(key), value);
    }
    builder.root()
}
