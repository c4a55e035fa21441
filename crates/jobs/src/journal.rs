//! The job journal: every request the service has seen and how far it got, in RocksDB, each
//! change one synced write, so that a crash at any point resumes where it stopped.
//!
//! The chain, not the journal, says whether a record or a fulfilment happened: the journal
//! keeps what is costly or impossible to recover (the answer computed for a request, the hash
//! of the transaction last sent for it) and the last block scanned for requests. After a
//! restart the service re-reads `isRecorded` and the request's status before sending
//! anything, so a transaction sent just before a crash is never sent twice once mined, and
//! one lost with the pool is sent again.

use crate::JobsError;
use crate::db::{Db, encode};
use alloy_primitives::{Address, B256, Bytes, U256};
use ol_attribution::merkle::{EvidenceLeaf, EvidenceTree};
use ol_primitives::contracts::InferenceMarket;
use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};
use std::path::Path;

const JOBS: &str = "jobs";
/// The ids of the jobs not yet final, so a pass reads only those, however long the history.
const OPEN: &str = "open";
const META: &str = "meta";
const COLUMNS: [&str; 3] = [JOBS, OPEN, META];
const SCANNED: &[u8] = b"scanned";

/// A paid request as `InferenceMarket.Requested` announced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestInfo {
    /// The request id (the PoA record key).
    pub request_id: B256,
    /// Who paid.
    pub requester: Address,
    /// The adapter asked for.
    pub adapter_id: U256,
    /// keccak-256 of the prompt.
    pub prompt_hash: B256,
    /// Declared prompt-token bound.
    pub max_tokens_in: u32,
    /// Output-token bound.
    pub max_tokens_out: u32,
    /// Last block in which it may be fulfilled.
    pub expiry_block: u64,
    /// The block that carried it.
    pub block: u64,
}

impl RequestInfo {
    /// The request `event` announced in block `block`.
    pub fn from_event(event: &InferenceMarket::Requested, block: u64) -> Self {
        Self {
            request_id: event.requestId,
            requester: event.requester,
            adapter_id: event.adapterId,
            prompt_hash: event.promptHash,
            max_tokens_in: event.maxTokensIn,
            max_tokens_out: event.maxTokensOut,
            expiry_block: event.expiryBlock,
            block,
        }
    }
}

/// What the worker pool computed for a request: the output and its attribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    /// The output text.
    pub output: String,
    /// keccak-256 of the output's UTF-8 bytes (the record's `outputHash`).
    pub output_hash: B256,
    /// Counted prompt tokens.
    pub tokens_in: u32,
    /// Counted output tokens.
    pub tokens_out: u32,
    /// The attribution method id (`AttributionMethod`).
    pub method: u8,
    /// Attributed contributors, ascending.
    pub contributors: Vec<Address>,
    /// Their weights, parts per million summing to 1,000,000 (empty with no contributor).
    pub weights_ppm: Vec<u32>,
    /// The evidence tree's root (zero without evidence).
    pub evidence_root: B256,
    /// The evidence leaves `(datapoint, contributor, score)`, in tree order.
    pub evidence: Vec<(B256, Address, U256)>,
    /// The data snapshot attributed over (root of its sorted datapoints).
    pub snapshot: B256,
    /// The spans of the output that earned (lineage attribution): what an explorer highlights.
    /// Not part of the record; empty for the gradient methods and for an abstention.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<OutputSpan>,
}

/// A span of the output found verbatim in the Datanet's documents, OLMoTrace-style.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputSpan {
    /// Its first byte in the output text.
    pub start: u32,
    /// The byte after its last (exclusive).
    pub end: u32,
    /// Its occurrences in the Datanet's documents.
    pub count: u64,
    /// The documents credited for it.
    pub documents: Vec<SpanDocument>,
}

/// A document a span was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpanDocument {
    /// The datapoint (its contribution's content hash).
    pub datapoint: B256,
    /// Its contributor.
    pub contributor: Address,
}

/// One contributor's evidence: a leaf of the record's evidence tree with its Merkle proof, as
/// the precompile's `verifyEvidence(requestId, leaf, proof)` checks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// The datapoint (the contribution's `contentHash`).
    pub datapoint: B256,
    /// Its contributor.
    pub contributor: Address,
    /// Its score (the largest is 10^18).
    pub score: U256,
    /// The leaf hash.
    pub leaf: B256,
    /// Sibling hashes from the leaf up to the root.
    pub proof: Vec<B256>,
}

impl Answer {
    /// Every evidence leaf with its proof.
    pub fn evidence_proofs(&self) -> Vec<Evidence> {
        let tree = EvidenceTree::new(
            self.evidence
                .iter()
                .map(|&(datapoint, contributor, score)| EvidenceLeaf {
                    datapoint,
                    contributor,
                    score,
                })
                .collect(),
        );
        tree.leaves()
            .iter()
            .enumerate()
            .map(|(i, leaf)| Evidence {
                datapoint: leaf.datapoint,
                contributor: leaf.contributor,
                score: leaf.score,
                leaf: leaf.hash(),
                proof: tree.proof(i),
            })
            .collect()
    }
}

/// How far a job got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "stage")]
pub enum Stage {
    /// Seen; not yet served (a hash-only request waits for its prompt here).
    Pending,
    /// Served and attributed; the record is not known to be on chain.
    Answered {
        /// The answer.
        answer: Answer,
        /// The last `record` transaction sent, if any.
        record_tx: Option<B256>,
    },
    /// Recorded on chain; the fulfilment is not known to be.
    Recorded {
        /// The answer.
        answer: Answer,
        /// The last `fulfill` transaction sent, if any.
        fulfill_tx: Option<B256>,
    },
    /// Fulfilled on chain; the service settles it (`--jobs.settle`).
    Settling {
        /// The answer.
        answer: Answer,
        /// The last `settle` transaction sent, if any.
        settle_tx: Option<B256>,
    },
    /// Fulfilled on chain (and settled, when the service settles).
    Fulfilled {
        /// The answer.
        answer: Answer,
    },
    /// Not servable, for good (the reason is logged and kept); the requester's escrow comes
    /// back through `refundExpired`.
    Refused {
        /// Why.
        reason: String,
    },
    /// Expired before it could be fulfilled.
    Expired,
}

impl Stage {
    /// Whether nothing more is to be done.
    pub const fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Fulfilled { .. } | Self::Refused { .. } | Self::Expired
        )
    }

    /// The answer, once computed.
    pub const fn answer(&self) -> Option<&Answer> {
        match self {
            Self::Answered { answer, .. }
            | Self::Recorded { answer, .. }
            | Self::Settling { answer, .. }
            | Self::Fulfilled { answer } => Some(answer),
            _ => None,
        }
    }

    /// The transaction last sent for this stage, if any.
    pub const fn last_transaction(&self) -> Option<B256> {
        match self {
            Self::Answered { record_tx, .. } => *record_tx,
            Self::Recorded { fulfill_tx, .. } => *fulfill_tx,
            Self::Settling { settle_tx, .. } => *settle_tx,
            _ => None,
        }
    }

    /// Names `hash` as the transaction last sent for this stage (a replacement of a stuck
    /// one); stages that send nothing are left as they are.
    pub const fn set_last_transaction(&mut self, hash: B256) {
        match self {
            Self::Answered { record_tx: tx, .. }
            | Self::Recorded { fulfill_tx: tx, .. }
            | Self::Settling { settle_tx: tx, .. } => *tx = Some(hash),
            _ => {}
        }
    }

    /// A short name, for logs, metrics and `ol_jobStatus`.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Answered { .. } => "answered",
            Self::Recorded { .. } => "recorded",
            Self::Settling { .. } => "settling",
            Self::Fulfilled { .. } => "fulfilled",
            Self::Refused { .. } => "refused",
            Self::Expired => "expired",
        }
    }
}

/// One request and its progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// The request.
    pub request: RequestInfo,
    /// The prompt, once known (from `PromptSubmitted`, or `ol_submitPrompt`).
    pub prompt: Option<Bytes>,
    /// Whether the prompt came off chain (`ol_submitPrompt`): its output is then the
    /// requester's only.
    #[serde(default)]
    pub private: bool,
    /// Progress.
    pub stage: Stage,
}

/// The journal on RocksDB.
#[derive(Debug)]
pub struct Journal {
    db: Db,
}

impl Journal {
    /// Opens (or creates) the journal under `path`.
    pub fn open(path: &Path) -> Result<Self, JobsError> {
        Ok(Self {
            db: Db::open(path, &COLUMNS)?,
        })
    }

    /// The last block scanned for requests (0 before the first scan).
    pub fn scanned(&self) -> Result<u64, JobsError> {
        self.db.counter(META, SCANNED)
    }

    /// Records what block `number` carried: new requests (a request already journaled is
    /// kept as it is) and prompts, with the scan cursor, in one synced write.
    pub fn record_block(
        &self,
        number: u64,
        requests: &[RequestInfo],
        prompts: &[(B256, Bytes)],
    ) -> Result<(), JobsError> {
        let mut batch = WriteBatch::default();
        let mut fresh = std::collections::BTreeMap::new();
        for request in requests {
            if self.get(request.request_id)?.is_none() {
                fresh.insert(
                    request.request_id,
                    Job {
                        request: request.clone(),
                        prompt: None,
                        private: false,
                        stage: Stage::Pending,
                    },
                );
            }
        }
        for (id, prompt) in prompts {
            if let Some(job) = fresh.get_mut(id) {
                job.prompt = Some(prompt.clone());
            } else if let Some(mut job) = self.get(*id)?
                && job.prompt.is_none()
            {
                job.prompt = Some(prompt.clone());
                fresh.insert(*id, job);
            }
        }
        for job in fresh.values() {
            self.stage_in(&mut batch, job)?;
        }
        batch.put_cf(self.db.cf(META), SCANNED, number.to_be_bytes());
        self.db.write(batch)
    }

    /// The job of `request_id`.
    pub fn get(&self, request_id: B256) -> Result<Option<Job>, JobsError> {
        self.db.get(JOBS, request_id)
    }

    /// Stores `job` (one synced write).
    pub fn put(&self, job: &Job) -> Result<(), JobsError> {
        self.put_all(std::slice::from_ref(job))
    }

    /// Stores `jobs` together (one synced write): the jobs of one batch transaction name its
    /// hash all at once or not at all.
    pub fn put_all(&self, jobs: &[Job]) -> Result<(), JobsError> {
        let mut batch = WriteBatch::default();
        for job in jobs {
            self.stage_in(&mut batch, job)?;
        }
        self.db.write(batch)
    }

    /// Adds `job` and its place in the open set to `batch`.
    fn stage_in(&self, batch: &mut WriteBatch, job: &Job) -> Result<(), JobsError> {
        let id = job.request.request_id;
        batch.put_cf(self.db.cf(JOBS), id, encode(job)?);
        if job.stage.is_final() {
            batch.delete_cf(self.db.cf(OPEN), id);
        } else {
            batch.put_cf(self.db.cf(OPEN), id, []);
        }
        Ok(())
    }

    /// Every job not yet final, oldest request first.
    pub fn open_jobs(&self) -> Result<Vec<Job>, JobsError> {
        let mut jobs = Vec::new();
        for id in self.db.ids(OPEN)? {
            if let Some(job) = self.get(id)?
                && !job.stage.is_final()
            {
                jobs.push(job);
            }
        }
        jobs.sort_by_key(|job| (job.request.block, job.request.request_id));
        Ok(jobs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(n: u8, block: u64) -> RequestInfo {
        RequestInfo {
            request_id: B256::repeat_byte(n),
            requester: Address::repeat_byte(7),
            adapter_id: U256::from(1),
            prompt_hash: B256::repeat_byte(9),
            max_tokens_in: 64,
            max_tokens_out: 16,
            expiry_block: block + 100,
            block,
        }
    }

    #[test]
    fn blocks_requests_and_stages_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let journal = Journal::open(dir.path()).unwrap();
            assert_eq!(journal.scanned().unwrap(), 0);
            journal
                .record_block(
                    5,
                    &[request(2, 5), request(1, 5)],
                    &[(B256::repeat_byte(1), Bytes::from_static(b"hi"))],
                )
                .unwrap();
            let mut job = journal.get(B256::repeat_byte(2)).unwrap().unwrap();
            job.stage = Stage::Refused {
                reason: "unknown adapter".into(),
            };
            journal.put(&job).unwrap();
        }
        let journal = Journal::open(dir.path()).unwrap();
        assert_eq!(journal.scanned().unwrap(), 5);
        let open = journal.open_jobs().unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(
            open[0].prompt.as_ref().map(|p| p.to_vec()),
            Some(b"hi".to_vec())
        );
        // Seeing the same request again (a rescan after a crash) keeps its progress.
        journal.record_block(5, &[request(2, 5)], &[]).unwrap();
        assert_eq!(
            journal
                .get(B256::repeat_byte(2))
                .unwrap()
                .unwrap()
                .stage
                .name(),
            "refused"
        );
    }
}
