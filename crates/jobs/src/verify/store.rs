//! The verifier's store: every request and record a follower's chain carried and its verdict on
//! each, in RocksDB. A block's events and the scan cursor go in one synced write, so a crash
//! resumes at the first block not fully taken in; a verdict is one synced write of its own.

use super::{Mismatch, OnChain};
use crate::{
    JobsError,
    db::{Db, encode},
    journal::RequestInfo,
};
use alloy_primitives::{Address, B256, Bytes};
use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};
use std::path::Path;

const ENTRIES: &str = "entries";
/// The ids of entries with a record and a request but no verdict yet.
const OPEN: &str = "open";
const META: &str = "meta";
const COLUMNS: [&str; 3] = [ENTRIES, OPEN, META];
const SCANNED: &[u8] = b"scanned";

/// A record as its `AttributionRecorded` event announced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recorded {
    /// The attestor that wrote it.
    pub attestor: Address,
    /// The block that carried it.
    pub block: u64,
    /// What it says (its `tokens` are those of the fulfilment, once seen).
    pub record: OnChain,
}

/// What the verifier concluded about a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum Verdict {
    /// Not checked yet (the record, its request or its inputs are not all there).
    Unchecked,
    /// Reproduced bit for bit.
    Agrees {
        /// The recomputed `(tokensIn, tokensOut)`, checked against the fulfilment when it
        /// comes.
        tokens: (u32, u32),
    },
    /// Not reproduced.
    Mismatch {
        /// The fields that differ.
        mismatches: Vec<Mismatch>,
        /// The recomputed tokens, when the request could be served here.
        tokens: Option<(u32, u32)>,
    },
    /// Cannot be checked from what is public (a private prompt).
    Unverifiable {
        /// Why.
        reason: String,
    },
}

impl Verdict {
    /// A short name, for logs, metrics and `ol_verification`.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Unchecked => "unchecked",
            Self::Agrees { .. } => "agrees",
            Self::Mismatch { .. } => "mismatch",
            Self::Unverifiable { .. } => "unverifiable",
        }
    }
}

/// One request id and what the verifier knows of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The request id.
    pub request_id: B256,
    /// The request, once its `Requested` event is seen.
    pub request: Option<RequestInfo>,
    /// Its prompt, when published on chain (`PromptSubmitted`).
    pub prompt: Option<Bytes>,
    /// Its record, once seen.
    pub recorded: Option<Recorded>,
    /// The verdict.
    pub verdict: Verdict,
}

impl Entry {
    /// An entry that knows nothing yet.
    pub const fn new(request_id: B256) -> Self {
        Self {
            request_id,
            request: None,
            prompt: None,
            recorded: None,
            verdict: Verdict::Unchecked,
        }
    }

    /// Whether it waits for a verdict that can now be computed.
    pub const fn is_open(&self) -> bool {
        self.request.is_some()
            && self.recorded.is_some()
            && matches!(self.verdict, Verdict::Unchecked)
    }
}

/// The store on RocksDB.
#[derive(Debug)]
pub struct Verifications {
    db: Db,
}

impl Verifications {
    /// Opens (or creates) the store under `path`.
    pub fn open(path: &Path) -> Result<Self, JobsError> {
        Ok(Self {
            db: Db::open(path, &COLUMNS)?,
        })
    }

    /// The last block taken in (0 before the first).
    pub fn scanned(&self) -> Result<u64, JobsError> {
        self.db.counter(META, SCANNED)
    }

    /// The entry of `request_id`.
    pub fn get(&self, request_id: B256) -> Result<Option<Entry>, JobsError> {
        self.db.get(ENTRIES, request_id)
    }

    /// Stores `entries` (what block `number` changed) with the cursor at `number`, in one
    /// synced write.
    pub fn commit_block<'a>(
        &self,
        number: u64,
        entries: impl IntoIterator<Item = &'a Entry>,
    ) -> Result<(), JobsError> {
        let mut batch = WriteBatch::default();
        for entry in entries {
            self.stage_in(&mut batch, entry)?;
        }
        batch.put_cf(self.db.cf(META), SCANNED, number.to_be_bytes());
        self.db.write(batch)
    }

    /// Stores `entry` (one synced write).
    pub fn put(&self, entry: &Entry) -> Result<(), JobsError> {
        let mut batch = WriteBatch::default();
        self.stage_in(&mut batch, entry)?;
        self.db.write(batch)
    }

    fn stage_in(&self, batch: &mut WriteBatch, entry: &Entry) -> Result<(), JobsError> {
        let id = entry.request_id;
        batch.put_cf(self.db.cf(ENTRIES), id, encode(entry)?);
        if entry.is_open() {
            batch.put_cf(self.db.cf(OPEN), id, []);
        } else {
            batch.delete_cf(self.db.cf(OPEN), id);
        }
        Ok(())
    }

    /// Every entry waiting for a verdict, oldest record first.
    pub fn open_entries(&self) -> Result<Vec<Entry>, JobsError> {
        let mut entries = Vec::new();
        for id in self.db.ids(OPEN)? {
            if let Some(entry) = self.get(id)?
                && entry.is_open()
            {
                entries.push(entry);
            }
        }
        entries.sort_by_key(|e| (e.recorded.as_ref().map(|r| r.block), e.request_id));
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::U256;

    fn recorded() -> Recorded {
        Recorded {
            attestor: Address::repeat_byte(1),
            block: 9,
            record: OnChain {
                output_hash: B256::repeat_byte(2),
                method: 2,
                contributors: vec![Address::repeat_byte(3)],
                weights_ppm: vec![1_000_000],
                evidence_root: B256::repeat_byte(4),
                tokens: None,
            },
        }
    }

    #[test]
    fn an_entry_is_open_from_record_and_request_to_its_verdict_across_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let id = B256::repeat_byte(7);
        {
            let store = Verifications::open(dir.path()).unwrap();
            // A record before its request (it can be written first: ids are predictable).
            let mut entry = Entry::new(id);
            entry.recorded = Some(recorded());
            store.commit_block(9, [&entry]).unwrap();
            assert!(store.open_entries().unwrap().is_empty());
            entry.request = Some(RequestInfo {
                request_id: id,
                requester: Address::repeat_byte(5),
                adapter_id: U256::from(1),
                prompt_hash: B256::repeat_byte(6),
                max_tokens_in: 8,
                max_tokens_out: 8,
                expiry_block: 100,
                block: 10,
            });
            store.commit_block(10, [&entry]).unwrap();
        }
        let store = Verifications::open(dir.path()).unwrap();
        assert_eq!(store.scanned().unwrap(), 10);
        let mut open = store.open_entries().unwrap();
        assert_eq!(open.len(), 1);
        open[0].verdict = Verdict::Mismatch {
            mismatches: vec![Mismatch {
                field: "weightsPpm".into(),
                recorded: "[1]".into(),
                recomputed: "[2]".into(),
            }],
            tokens: Some((3, 4)),
        };
        store.put(&open[0]).unwrap();
        assert!(store.open_entries().unwrap().is_empty());
        assert_eq!(store.get(id).unwrap().unwrap().verdict.name(), "mismatch");
    }
}
