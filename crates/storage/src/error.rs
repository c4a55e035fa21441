//! Storage errors.

use alloy_primitives::B256;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// RocksDB failed.
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// A stored value could not be decoded: the database is corrupt or from another version.
    #[error("corrupt {table} entry: {reason}")]
    Corrupt {
        /// Column family.
        table: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The trie layer failed.
    #[error("trie: {0}")]
    Trie(#[from] ol_trie::TrieError),
    /// The database has not been initialised with a genesis.
    #[error("the data directory holds no chain; run `openledger init` or start with --dev")]
    NotInitialized,
    /// The database already holds a chain with another genesis.
    #[error(
        "the data directory already holds a chain with genesis {existing}; refusing to init {requested}"
    )]
    GenesisMismatch {
        /// Genesis hash on disk.
        existing: B256,
        /// Genesis hash requested.
        requested: B256,
    },
    /// The consistency check on open failed and cannot be repaired.
    #[error("database inconsistent: {0}")]
    Inconsistent(String),
    /// An unwind was asked to go forward.
    #[error("cannot unwind to block {target}: the head is {head}")]
    UnwindAboveHead {
        /// The block asked for.
        target: u64,
        /// The current head.
        head: u64,
    },
    /// A commit does not extend the current head.
    #[error("block {number} does not extend head {head}")]
    NotNextBlock {
        /// The block being committed.
        number: u64,
        /// The current head.
        head: u64,
    },
}

impl StorageError {
    pub(crate) fn corrupt(table: &'static str, reason: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            table,
            reason: reason.to_string(),
        }
    }
}
