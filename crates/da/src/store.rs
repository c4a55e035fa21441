//! The built-in DA server's storage: payloads by encoded commitment in RocksDB, written with a
//! synced WAL so that nothing acknowledged is lost across a crash or restart.

use crate::{Commitment, StoreError};
use rocksdb::{DB, Options, WriteOptions};
use std::{path::Path, sync::Arc};

/// Payloads keyed by their commitment. Cheap to clone.
#[derive(Clone)]
pub struct DaStore {
    db: Arc<DB>,
}

impl std::fmt::Debug for DaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaStore")
            .field("path", &self.db.path())
            .finish()
    }
}

impl DaStore {
    /// Opens (or creates) the store under `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.set_compression_type(rocksdb::DBCompressionType::Lz4);
        Ok(Self {
            db: Arc::new(DB::open(&options, path)?),
        })
    }

    /// Stores `payload` under `commitment`, durably, before returning.
    pub fn put(&self, commitment: &Commitment, payload: &[u8]) -> Result<(), StoreError> {
        let mut options = WriteOptions::default();
        options.set_sync(true);
        self.db.put_opt(commitment.encode(), payload, &options)?;
        Ok(())
    }

    /// The payload stored under `commitment`.
    pub fn get(&self, commitment: &Commitment) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(commitment.encode())?)
    }
}
