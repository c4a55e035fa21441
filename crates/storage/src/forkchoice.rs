//! The safe and finalized L2 heads, as derivation last confirmed them.
//!
//! A block is safe once derivation rebuilt it from L1 + DA, and finalized once the L1 block its
//! batch came from is finalized on L1. Each head is stored with that L1 block, so that a restart
//! resumes derivation from where it was and an L1 reorg can tell which safe blocks lost their
//! footing.

use crate::{Storage, StorageError, tables};
use ol_primitives::L1BlockRef;
use serde::{Deserialize, Serialize};

/// An L2 block that derivation confirmed, and the L1 block it was derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DerivedHead {
    /// The L2 block number.
    pub l2_number: u64,
    /// The L1 block whose data completed it (the genesis L1 block for L2 genesis).
    pub derived_from: L1BlockRef,
}

impl Storage {
    /// The safe head, `None` before derivation confirmed anything.
    pub fn safe_head(&self) -> Result<Option<DerivedHead>, StorageError> {
        self.derived_head(tables::SAFE_HEAD_KEY)
    }

    /// The finalized head, `None` before L1 finalized anything derivation used.
    pub fn finalized_head(&self) -> Result<Option<DerivedHead>, StorageError> {
        self.derived_head(tables::FINALIZED_HEAD_KEY)
    }

    /// Records the safe head (synced: a reported safe head survives a crash).
    pub fn set_safe_head(&self, head: &DerivedHead) -> Result<(), StorageError> {
        let mut batch = rocksdb::WriteBatch::default();
        self.put_derived_head(&mut batch, tables::SAFE_HEAD_KEY, head)?;
        self.write(batch)
    }

    /// Records the finalized head (synced).
    pub fn set_finalized_head(&self, head: &DerivedHead) -> Result<(), StorageError> {
        let mut batch = rocksdb::WriteBatch::default();
        self.put_derived_head(&mut batch, tables::FINALIZED_HEAD_KEY, head)?;
        self.write(batch)
    }

    /// The derived head stored under `key`.
    pub(crate) fn derived_head(&self, key: &[u8]) -> Result<Option<DerivedHead>, StorageError> {
        self.get_raw(tables::META, key)?
            .map(|raw| {
                serde_json::from_slice(&raw).map_err(|err| StorageError::corrupt(tables::META, err))
            })
            .transpose()
    }

    /// Adds the write of a derived head under `key` to `batch`.
    pub(crate) fn put_derived_head(
        &self,
        batch: &mut rocksdb::WriteBatch,
        key: &[u8],
        head: &DerivedHead,
    ) -> Result<(), StorageError> {
        let encoded =
            serde_json::to_vec(head).map_err(|err| StorageError::corrupt(tables::META, err))?;
        batch.put_cf(self.cf(tables::META), key, encoded);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;

    #[test]
    fn derived_heads_round_trip_and_start_empty() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        assert_eq!(storage.safe_head().unwrap(), None);
        assert_eq!(storage.finalized_head().unwrap(), None);
        let safe = DerivedHead {
            l2_number: 12,
            derived_from: L1BlockRef {
                hash: B256::repeat_byte(3),
                number: 40,
            },
        };
        storage.set_safe_head(&safe).unwrap();
        let finalized = DerivedHead {
            l2_number: 4,
            ..safe
        };
        storage.set_finalized_head(&finalized).unwrap();
        drop(storage);
        let reopened = Storage::open(dir.path()).unwrap();
        assert_eq!(reopened.safe_head().unwrap(), Some(safe));
        assert_eq!(reopened.finalized_head().unwrap(), Some(finalized));
    }
}
