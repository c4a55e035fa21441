//! The batcher's durable progress, in its own RocksDB under the data directory
//! (`<datadir>/batcher`).
//!
//! A separate database rather than a column family in the node's: the batcher's writes (one per
//! signed transaction) then never contend with or wait for block commits, the node's schema and
//! consistency check stay untouched, and an operator can wipe batcher progress (forcing a
//! resubmission from a given block) without touching the chain. The two need no cross-database
//! atomicity: the batcher only reads sealed blocks, which never change on the sequencer, and it
//! checks on every block that the chain still extends the last block it handed on.
//!
//! What is kept, all written with synced writes:
//! * the cursor: the last L2 block handed to a sealed channel (blocks of a channel still open
//!   are not recorded, and are read again after a restart);
//! * one [`ChannelRecord`] per sealed channel not yet finally included: its blocks, its
//!   compressed bytes, how it is being posted, and every transaction signed for it (raw bytes
//!   included, so that a restart re-sends the very same transaction rather than a second one).

use crate::BatcherError;
use alloy_primitives::{B256, Bytes};
use ol_primitives::L1BlockRef;
use ol_rollup::ChannelId;
use rocksdb::{DB, IteratorMode, Options, WriteBatch, WriteOptions};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::{collections::BTreeMap, path::Path};

const CURSOR_KEY: &[u8] = b"cursor";
const CHANNEL_PREFIX: &[u8] = b"channel/";

/// The last L2 block handed to a sealed channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
}

/// How a channel is being posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Plan {
    /// One DA payload with every frame; one inbox transaction carrying `0x01 ++ commitment`.
    Da {
        /// The encoded commitment the DA service returned.
        commitment: Bytes,
    },
    /// DA failed over: `frames` frames, one inbox transaction (`0x00 ++ frame`) each.
    Calldata {
        /// Number of frames.
        frames: u16,
    },
}

/// A transaction signed for a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRecord {
    /// Transaction hash.
    pub hash: B256,
    /// Its nonce.
    pub nonce: u64,
    /// The signed EIP-2718 bytes.
    pub raw: Bytes,
    /// Which item of the plan it carries: 0 for the commitment, the frame number for calldata.
    pub item: u16,
    /// Whether the endpoint has accepted it (or said it already had it).
    pub broadcast: bool,
    /// The L1 block it was seen included in, while that block is canonical.
    pub included: Option<L1BlockRef>,
}

/// A sealed channel and its submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRecord {
    /// Sequence number among the batcher's channels (their submission order).
    pub seq: u64,
    /// The channel id.
    pub id: ChannelId,
    /// First L2 block carried.
    pub first_block: u64,
    /// Last L2 block carried.
    pub last_block: u64,
    /// The compressed channel (version byte included); framed when posted.
    pub data: Bytes,
    /// How it is posted, once decided.
    pub plan: Option<Plan>,
    /// L1 head number when its first transaction was signed (the channel timeout counts from
    /// there, conservatively: the first inclusion can only be later).
    pub submitted_at: Option<u64>,
    /// Transactions signed for it, in nonce order.
    pub txs: Vec<TxRecord>,
}

impl ChannelRecord {
    /// Transactions the plan needs in all.
    pub fn planned_txs(&self) -> Option<usize> {
        self.plan.as_ref().map(|plan| match plan {
            Plan::Da { .. } => 1,
            Plan::Calldata { frames } => usize::from(*frames),
        })
    }

    /// Whether every planned transaction is signed and seen included.
    pub fn fully_included(&self) -> bool {
        self.planned_txs() == Some(self.txs.len())
            && self.txs.iter().all(|tx| tx.included.is_some())
    }

    /// Number of L2 blocks carried.
    pub const fn block_count(&self) -> u64 {
        self.last_block - self.first_block + 1
    }
}

/// The batcher's database.
#[derive(Debug)]
pub struct BatcherStore {
    db: DB,
}

fn channel_key(seq: u64) -> Vec<u8> {
    let mut key = CHANNEL_PREFIX.to_vec();
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn decode<T: DeserializeOwned>(key: &[u8], raw: &[u8]) -> Result<T, BatcherError> {
    serde_json::from_slice(raw).map_err(|err| BatcherError::CorruptRecord {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: err.to_string(),
    })
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // These records hold only plain data: serialising them cannot fail.
    serde_json::to_vec(value).expect("batcher records serialise")
}

impl BatcherStore {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, BatcherError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        Ok(Self {
            db: DB::open(&options, path)?,
        })
    }

    fn write(&self, batch: WriteBatch) -> Result<(), BatcherError> {
        let mut options = WriteOptions::default();
        options.set_sync(true);
        self.db.write_opt(batch, &options)?;
        Ok(())
    }

    /// The last L2 block handed to a sealed channel, `None` before the first.
    pub fn cursor(&self) -> Result<Option<Cursor>, BatcherError> {
        self.db
            .get(CURSOR_KEY)?
            .map(|raw| decode(CURSOR_KEY, &raw))
            .transpose()
    }

    /// Every recorded channel by sequence number.
    pub fn channels(&self) -> Result<BTreeMap<u64, ChannelRecord>, BatcherError> {
        let mut out = BTreeMap::new();
        let iter = self.db.iterator(IteratorMode::From(
            CHANNEL_PREFIX,
            rocksdb::Direction::Forward,
        ));
        for entry in iter {
            let (key, value) = entry?;
            if !key.starts_with(CHANNEL_PREFIX) {
                break;
            }
            let record: ChannelRecord = decode(&key, &value)?;
            out.insert(record.seq, record);
        }
        Ok(out)
    }

    /// Records a newly sealed channel and moves the cursor past its blocks, atomically.
    pub fn seal(&self, record: &ChannelRecord, cursor: Cursor) -> Result<(), BatcherError> {
        let mut batch = WriteBatch::default();
        batch.put(channel_key(record.seq), encode(record));
        batch.put(CURSOR_KEY, encode(&cursor));
        self.write(batch)
    }

    /// Replaces a channel's record.
    pub fn update(&self, record: &ChannelRecord) -> Result<(), BatcherError> {
        let mut batch = WriteBatch::default();
        batch.put(channel_key(record.seq), encode(record));
        self.write(batch)
    }

    /// Forgets channels `seqs` (finally included).
    pub fn forget(&self, seqs: impl IntoIterator<Item = u64>) -> Result<(), BatcherError> {
        let mut batch = WriteBatch::default();
        for seq in seqs {
            batch.delete(channel_key(seq));
        }
        self.write(batch)
    }

    /// Drops channels `seqs` and moves the cursor back to `cursor`, atomically: their blocks
    /// will be batched again.
    pub fn rewind(
        &self,
        seqs: impl IntoIterator<Item = u64>,
        cursor: Cursor,
    ) -> Result<(), BatcherError> {
        let mut batch = WriteBatch::default();
        for seq in seqs {
            batch.delete(channel_key(seq));
        }
        batch.put(CURSOR_KEY, encode(&cursor));
        self.write(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64) -> ChannelRecord {
        ChannelRecord {
            seq,
            id: ChannelId::repeat_byte(seq as u8),
            first_block: seq * 10 + 1,
            last_block: seq * 10 + 10,
            data: Bytes::from_static(b"\x01channel"),
            plan: Some(Plan::Calldata { frames: 2 }),
            submitted_at: Some(7),
            txs: vec![TxRecord {
                hash: B256::repeat_byte(1),
                nonce: 3,
                raw: Bytes::from_static(b"raw"),
                item: 0,
                broadcast: true,
                included: Some(L1BlockRef {
                    hash: B256::repeat_byte(2),
                    number: 9,
                }),
            }],
        }
    }

    #[test]
    fn records_survive_reopening_and_rewind_is_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let cursor = |number| Cursor {
            number,
            hash: B256::with_last_byte(number as u8),
        };
        {
            let store = BatcherStore::open(dir.path()).unwrap();
            assert_eq!(store.cursor().unwrap(), None);
            for seq in 0..3 {
                store.seal(&record(seq), cursor(seq * 10 + 10)).unwrap();
            }
            let mut changed = record(1);
            changed.txs[0].included = None;
            store.update(&changed).unwrap();
        }
        let store = BatcherStore::open(dir.path()).unwrap();
        assert_eq!(store.cursor().unwrap(), Some(cursor(30)));
        let channels = store.channels().unwrap();
        assert_eq!(channels.keys().copied().collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(channels[&0], record(0));
        assert_eq!(channels[&1].txs[0].included, None);
        assert!(!channels[&1].fully_included());

        store.rewind([1, 2], cursor(10)).unwrap();
        assert_eq!(store.cursor().unwrap(), Some(cursor(10)));
        assert_eq!(store.channels().unwrap().len(), 1);
        store.forget([0]).unwrap();
        assert!(store.channels().unwrap().is_empty());
    }

    #[test]
    fn a_corrupt_record_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = BatcherStore::open(dir.path()).unwrap();
        store.db.put(channel_key(0), b"{not json").unwrap();
        assert!(matches!(
            store.channels(),
            Err(BatcherError::CorruptRecord { .. })
        ));
    }
}
