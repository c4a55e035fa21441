//! The training jobs a node accepted, in RocksDB: each one written (synced) when it is
//! accepted and at every change of stage, so a node that stops mid-job resumes it on restart
//! and never loses one it answered a job id for.

use crate::{
    JobsError,
    db::{Db, encode},
};
use alloy_primitives::{Address, B256, U256};
use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};
use std::path::Path;

const JOBS: &str = "training";
const COLUMNS: [&str; 1] = [JOBS];

/// A Datanet an adapter was trained on, as `ModelRegistry.registerAdapter` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatanetUse {
    /// The Datanet.
    pub datanet_id: U256,
    /// Approved contributions trained on.
    pub contribution_count: u64,
}

/// What a finished job made: what the owner registers, and where to read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainedAdapter {
    /// keccak-256 of the adapter bundle, stored in the content store under it (the
    /// `adapterHash` to register).
    pub adapter_hash: B256,
    /// keccak-256 of the job's manifest, also in the content store.
    pub manifest_hash: B256,
    /// The Datanets and contribution counts to register.
    pub datanets: Vec<DatanetUse>,
    /// The block whose state the contributions were read at.
    pub block: u64,
    /// The Merkle root of the data snapshot trained on.
    pub snapshot: B256,
    /// Optimiser steps taken.
    pub steps: u64,
    /// Mean training loss of the last step.
    pub train_loss: f64,
    /// Held-out loss, when documents were held out.
    pub heldout_loss: Option<f64>,
    /// Seconds the job took.
    pub wall_time_s: f64,
}

/// How far a job got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "stage")]
pub enum TrainingStage {
    /// Accepted, waiting for the trainer.
    Queued,
    /// The trainer works on it (its progress is kept in memory).
    Running {
        /// The block whose state the contributions are read at (kept, so that a resumed job
        /// trains on the same documents as the run it continues).
        block: u64,
    },
    /// Finished.
    Trained(TrainedAdapter),
    /// Stopped for good.
    Failed {
        /// Why.
        reason: String,
    },
}

impl TrainingStage {
    /// Whether the job will not change any more.
    pub const fn is_final(&self) -> bool {
        matches!(self, Self::Trained(_) | Self::Failed { .. })
    }
}

/// A training job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainingJob {
    /// Its id (the signed request's EIP-712 hash).
    pub id: B256,
    /// The base model's owner, who signed it and owns what it makes.
    pub owner: Address,
    /// The registered base model.
    pub base_model_id: U256,
    /// The Datanet trained on.
    pub datanet_id: U256,
    /// The hyper-parameter text as signed.
    pub hyperparameters: String,
    /// Unix time it was accepted.
    pub accepted_at: u64,
    /// How far it got.
    pub stage: TrainingStage,
}

/// The store of training jobs.
#[derive(Debug)]
pub struct TrainingStore {
    db: Db,
}

impl TrainingStore {
    /// Opens (or creates) the store under `path`.
    pub fn open(path: &Path) -> Result<Self, JobsError> {
        Ok(Self {
            db: Db::open(path, &COLUMNS)?,
        })
    }

    /// The job `id`, if accepted.
    pub fn get(&self, id: B256) -> Result<Option<TrainingJob>, JobsError> {
        self.db.get(JOBS, id)
    }

    /// Writes `job` (synced).
    pub fn put(&self, job: &TrainingJob) -> Result<(), JobsError> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.db.cf(JOBS), job.id, encode(job)?);
        self.db.write(batch)
    }

    /// Every job not final, in id order.
    pub fn unfinished(&self) -> Result<Vec<TrainingJob>, JobsError> {
        let mut out = Vec::new();
        for id in self.db.ids(JOBS)? {
            if let Some(job) = self.get(id)?
                && !job.stage.is_final()
            {
                out.push(job);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: u8, stage: TrainingStage) -> TrainingJob {
        TrainingJob {
            id: B256::repeat_byte(id),
            owner: Address::repeat_byte(1),
            base_model_id: U256::from(1),
            datanet_id: U256::from(2),
            hyperparameters: "{}".into(),
            accepted_at: 7,
            stage,
        }
    }

    #[test]
    fn jobs_survive_a_reopen_and_unfinished_lists_the_open_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = TrainingStore::open(dir.path()).expect("open");
            store.put(&job(1, TrainingStage::Queued)).expect("put");
            store
                .put(&job(2, TrainingStage::Running { block: 4 }))
                .expect("put");
            store
                .put(&job(
                    3,
                    TrainingStage::Failed {
                        reason: "no documents".into(),
                    },
                ))
                .expect("put");
        }
        let store = TrainingStore::open(dir.path()).expect("reopen");
        let open: Vec<B256> = store
            .unfinished()
            .expect("list")
            .into_iter()
            .map(|j| j.id)
            .collect();
        assert_eq!(open, vec![B256::repeat_byte(1), B256::repeat_byte(2)]);
        assert_eq!(
            store.get(B256::repeat_byte(3)).expect("get"),
            Some(job(
                3,
                TrainingStage::Failed {
                    reason: "no documents".into()
                }
            ))
        );
        assert_eq!(store.get(B256::repeat_byte(9)).expect("get"), None);
    }
}
