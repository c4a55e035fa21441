//! The RocksDB layer under the job journal and the verifier's store: column families opened
//! together, synced writes, JSON values.

use crate::JobsError;
use rocksdb::{ColumnFamilyDescriptor, DB, Options, WriteBatch, WriteOptions};
use serde::{Serialize, de::DeserializeOwned};
use std::path::Path;

/// A database whose every write is synced before it returns.
pub(crate) struct Db {
    db: DB,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.db.path()).finish()
    }
}

impl Db {
    /// Opens (or creates) the database under `path` with `columns`.
    pub(crate) fn open(path: &Path, columns: &[&str]) -> Result<Self, JobsError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let descriptors = columns
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        Ok(Self {
            db: DB::open_cf_descriptors(&options, path, descriptors)?,
        })
    }

    pub(crate) fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("every column family is created on open")
    }

    /// Writes `batch` and syncs it.
    pub(crate) fn write(&self, batch: WriteBatch) -> Result<(), JobsError> {
        let mut options = WriteOptions::default();
        options.set_sync(true);
        self.db.write_opt(batch, &options)?;
        Ok(())
    }

    /// The JSON value under `key` in `column`.
    pub(crate) fn get<T: DeserializeOwned>(
        &self,
        column: &str,
        key: impl AsRef<[u8]>,
    ) -> Result<Option<T>, JobsError> {
        self.db
            .get_cf(self.cf(column), key)?
            .map(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| JobsError::Journal(e.to_string()))
            })
            .transpose()
    }

    /// The big-endian `u64` under `key` in `column` (0 when absent).
    pub(crate) fn counter(&self, column: &str, key: &[u8]) -> Result<u64, JobsError> {
        Ok(self
            .db
            .get_cf(self.cf(column), key)?
            .and_then(|bytes| bytes.try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0))
    }

    /// Every key of `column` read as a 32-byte id, in key order.
    pub(crate) fn ids(&self, column: &str) -> Result<Vec<alloy_primitives::B256>, JobsError> {
        let mut ids = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(column), rocksdb::IteratorMode::Start)
        {
            let (id, _) = item?;
            ids.push(
                alloy_primitives::B256::try_from(&*id)
                    .map_err(|e| JobsError::Journal(e.to_string()))?,
            );
        }
        Ok(ids)
    }
}

/// `value` as the JSON the stores keep.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, JobsError> {
    serde_json::to_vec(value).map_err(|e| JobsError::Journal(e.to_string()))
}
