//! The Model Factory inside the node (`ol_trainAdapter`): the owner of a registered base model
//! signs a request to train an adapter on a Datanet; the node reads the Datanet's approved
//! contributions from chain state and its own content store (each checked against its
//! `contentHash`), trains the adapter with `ol-factory` on a worker pool of its own, builds its
//! attribution artifacts in the same job, and stores the adapter bundle and the manifest in
//! the content store under the owner, so that registering the adapter
//! (`ModelRegistry.registerAdapter` with the answered hash and contribution counts) is all that
//! is left before the job service serves it.
//!
//! Jobs are kept in RocksDB ([`store`]); one accepted before a crash is resumed from its last
//! checkpoint on restart, on the documents of the block it first read, bit for bit as if it had
//! not stopped.

pub mod request;
pub mod store;

pub use request::{SignedTraining, TrainAdapter, TrainError, TrainingParams, training_domain};
pub use store::{DatanetUse, TrainedAdapter, TrainingJob, TrainingStage, TrainingStore};

use crate::{JobsError, inputs::LocalInputs};
use alloy_primitives::{Address, B256};
use alloy_sol_types::Eip712Domain;
use ol_chain::Chain;
use ol_content::ContentStore;
use ol_factory::{ADAPTER_BUNDLE, AdapterJob, FactoryError, JobEvent, Manifest};
use ol_primitives::{addresses::dev_suite::MODEL_REGISTRY, contracts::ModelRegistry};
use ol_workers::{JobContext, JobError, Priority, SubmitError, WorkerPool};
use parking_lot::Mutex;
use serde::Serialize;
use std::{collections::HashMap, path::PathBuf, sync::Arc};
use tracing::{info, warn};

/// Jobs that may wait for the trainer at once.
pub const MAX_QUEUED: usize = 4;

/// A running job's progress, as `ol_jobStatus` reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// `loading`, `training`, `gradients`, `index` or `saving`.
    pub phase: &'static str,
    /// Optimiser steps done.
    pub step: u64,
    /// Optimiser steps in the job.
    pub total_steps: u64,
    /// The last step's mean training loss.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// Training tokens per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_per_second: Option<f64>,
    /// Progress inside the phase (documents of the gradient store, ...).
    pub done: u64,
    /// Out of.
    pub total: u64,
}

/// Where a training job's files go and what it trains from.
#[derive(Debug, Clone)]
pub struct TrainingConfig {
    /// The base model the node serves (Hugging Face layout).
    pub base_dir: PathBuf,
    /// Its Model Factory hash (the registered `weightsHash`).
    pub base_hash: B256,
    /// Where job folders and the store live.
    pub root: PathBuf,
    /// The caller of view functions.
    pub reader: Address,
}

/// The node's trainer.
pub struct TrainingService {
    chain: Arc<Chain>,
    content: Arc<dyn ContentStore>,
    store: TrainingStore,
    config: TrainingConfig,
    workers: WorkerPool,
    progress: Mutex<HashMap<B256, Progress>>,
    /// Serialises acceptance, so that one signed request is queued once.
    accepting: Mutex<()>,
}

impl std::fmt::Debug for TrainingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainingService")
            .field("store", &self.store)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl TrainingService {
    /// A trainer that keeps its jobs under `config.root` and runs them on `workers`; jobs a
    /// previous run left unfinished are queued again.
    pub fn start(
        chain: Arc<Chain>,
        content: Arc<dyn ContentStore>,
        config: TrainingConfig,
        workers: WorkerPool,
    ) -> Result<Arc<Self>, JobsError> {
        let store = TrainingStore::open(&config.root.join("store"))?;
        let service = Arc::new(Self {
            chain,
            content,
            store,
            config,
            workers,
            progress: Mutex::new(HashMap::new()),
            accepting: Mutex::new(()),
        });
        for job in service.store.unfinished()? {
            info!(target: "training", job = %job.id, "resuming a training job");
            if let Err(err) = service.enqueue(job.id) {
                warn!(target: "training", job = %job.id, %err, "cannot queue a resumed job");
            }
        }
        Ok(service)
    }

    /// The EIP-712 domain of `TrainAdapter` on this chain.
    pub fn domain(&self) -> Eip712Domain {
        training_domain(self.chain.chain_id(), MODEL_REGISTRY)
    }

    /// Accepts `request` at Unix time `now`: checks the signature, the hyper-parameters and
    /// that the signer owns the active base model this node serves; queues the job and returns
    /// its id. The same signed request answers the same id and is trained once.
    pub fn submit(
        self: &Arc<Self>,
        request: &SignedTraining,
        now: u64,
    ) -> Result<Result<B256, TrainError>, JobsError> {
        let domain = self.domain();
        let id = request.job_id(&domain);
        let owner = match request.signer(&domain, now) {
            Ok(owner) => owner,
            Err(err) => return Ok(Err(err)),
        };
        let _serial = self.accepting.lock();
        if let Some(job) = self.store.get(id)? {
            return Ok(if job.owner == owner {
                Ok(id)
            } else {
                Err(TrainError::BadSignature("not the job's signer".into()))
            });
        }
        if let Err(err) = TrainingParams::parse(&request.message.hyperparameters) {
            return Ok(Err(err));
        }
        if let Err(err) = self.check_base(request, owner)? {
            return Ok(Err(err));
        }
        let queued = self.workers.stats().queued;
        if queued >= MAX_QUEUED {
            return Ok(Err(TrainError::QueueFull(MAX_QUEUED)));
        }
        let job = TrainingJob {
            id,
            owner,
            base_model_id: request.message.baseModelId,
            datanet_id: request.message.datanetId,
            hyperparameters: request.message.hyperparameters.clone(),
            accepted_at: now,
            stage: TrainingStage::Queued,
        };
        self.store.put(&job)?;
        match self.enqueue(id) {
            Ok(()) => {
                info!(target: "training", job = %id, %owner, datanet = %job.datanet_id, "training job accepted");
                metrics::counter!("training_jobs_total", "outcome" => "accepted").increment(1);
                Ok(Ok(id))
            }
            Err(SubmitError::QueueFull { capacity }) => {
                self.store.put(&TrainingJob {
                    stage: TrainingStage::Failed {
                        reason: "the training queue was full".into(),
                    },
                    ..job
                })?;
                Ok(Err(TrainError::QueueFull(capacity)))
            }
            Err(err) => Err(JobsError::Workers(err.to_string())),
        }
    }

    /// The job `id` and, while it runs, its progress.
    pub fn status(&self, id: B256) -> Result<Option<(TrainingJob, Option<Progress>)>, JobsError> {
        Ok(self
            .store
            .get(id)?
            .map(|job| (job, self.progress.lock().get(&id).cloned())))
    }

    /// The signer must own the base model, which must be active and be the one served here.
    fn check_base(
        &self,
        request: &SignedTraining,
        signer: Address,
    ) -> Result<Result<(), TrainError>, JobsError> {
        let id = request.message.baseModelId;
        let call = ModelRegistry::getBaseModelCall { baseModelId: id };
        let base = match self.chain.view(self.config.reader, MODEL_REGISTRY, &call) {
            Ok(base) => base,
            Err(err) if err.revert_data().is_some() => {
                return Ok(Err(TrainError::Unservable(format!(
                    "unknown base model {id}"
                ))));
            }
            Err(err) => return Err(err.into()),
        };
        if base.owner != signer {
            return Ok(Err(TrainError::BadSignature(format!(
                "signed by {signer}, base model {id} is owned by {}",
                base.owner
            ))));
        }
        if !base.active {
            return Ok(Err(TrainError::Unservable(format!(
                "base model {id} is not active"
            ))));
        }
        if base.weightsHash != self.config.base_hash {
            return Ok(Err(TrainError::Unservable(format!(
                "base model {id} ({}) is not the one this node trains on ({})",
                base.weightsHash, self.config.base_hash
            ))));
        }
        Ok(Ok(()))
    }

    fn enqueue(self: &Arc<Self>, id: B256) -> Result<(), SubmitError> {
        let service = Arc::clone(self);
        self.workers
            .submit(&format!("train {id}"), Priority::Low, move |ctx| {
                service.run(id, ctx)
            })
            .map(drop)
    }

    /// Runs job `id` to its end; a cancelled job (the node stopping) stays unfinished and is
    /// resumed on restart.
    fn run(&self, id: B256, ctx: &JobContext<'_>) -> Result<(), JobError> {
        let outcome = self.train(id, ctx);
        self.progress.lock().remove(&id);
        let stage = match outcome {
            Ok(Ok(trained)) => {
                info!(target: "training", job = %id, adapter = %trained.adapter_hash, steps = trained.steps, loss = trained.train_loss, "adapter trained");
                metrics::counter!("training_jobs_total", "outcome" => "trained").increment(1);
                TrainingStage::Trained(trained)
            }
            Ok(Err(reason)) => {
                warn!(target: "training", job = %id, %reason, "training job failed");
                metrics::counter!("training_jobs_total", "outcome" => "failed").increment(1);
                TrainingStage::Failed { reason }
            }
            Err(JobsError::Factory(FactoryError::Cancelled)) => return Err(JobError::Cancelled),
            Err(err) => {
                warn!(target: "training", job = %id, %err, "training job failed");
                metrics::counter!("training_jobs_total", "outcome" => "failed").increment(1);
                TrainingStage::Failed {
                    reason: err.to_string(),
                }
            }
        };
        let result = self.store.get(id).and_then(|job| match job {
            Some(job) => self.store.put(&TrainingJob { stage, ..job }),
            None => Ok(()),
        });
        result.map_err(JobError::failed)
    }

    /// Trains job `id`: the adapter, or why the request cannot be trained (a reason that is
    /// the request's fault); `Err` for the node's own failures.
    fn train(
        &self,
        id: B256,
        ctx: &JobContext<'_>,
    ) -> Result<Result<TrainedAdapter, String>, JobsError> {
        let Some(mut job) = self.store.get(id)? else {
            return Ok(Err("the job is not in the store".into()));
        };
        let params = match TrainingParams::parse(&job.hyperparameters) {
            Ok(params) => params,
            Err(err) => return Ok(Err(err.to_string())),
        };
        let block = match &job.stage {
            TrainingStage::Running { block } => *block,
            _ => {
                let block = self.chain.head().number;
                job.stage = TrainingStage::Running { block };
                self.store.put(&job)?;
                block
            }
        };
        self.progress.lock().insert(id, Progress::default());
        let inputs = LocalInputs {
            chain: &self.chain,
            from: self.config.reader,
            content: &*self.content,
            replicate: None,
        };
        let documents = crate::approved_documents(&inputs, block, job.datanet_id)?;
        if documents.is_empty() {
            return Ok(Err(format!(
                "Datanet {} has no approved contribution in this node's content store at block {block}",
                job.datanet_id
            )));
        }
        let folder = self.config.root.join(format!("{id:x}"));
        let docs_dir = folder.join("docs");
        ol_factory::data::write_documents(&docs_dir, &documents)?;
        let out_dir = folder.join("adapter");
        let manifest = if out_dir.join("manifest.json").exists() {
            // Finished before a crash that came before the store was updated.
            Manifest::read(&out_dir)?
        } else {
            let job_spec = AdapterJob {
                base_dir: self.config.base_dir.clone(),
                docs_dir: docs_dir.clone(),
                datanet: B256::from(job.datanet_id),
                out_dir: out_dir.clone(),
                spec: params.spec(),
                projection_dim: params.projection_dim,
                curvature: params.curvature,
                resume: folder.join("adapter.partial").exists(),
            };
            let mut events = |event: JobEvent<'_>| self.report(id, &event);
            match job_spec.run(Some(ctx.cancel_flag()), &mut events) {
                Ok(manifest) => manifest,
                Err(FactoryError::Invalid(reason)) => return Ok(Err(reason)),
                Err(err) => return Err(err.into()),
            }
        };
        let read = |name: &str| {
            let path = out_dir.join(name);
            std::fs::read(&path).map_err(|e| JobsError::io(&path, e))
        };
        let adapter = self.content.put(job.owner, &read(ADAPTER_BUNDLE)?)?;
        let manifest_meta = self.content.put(job.owner, &read("manifest.json")?)?;
        if let Err(err) = std::fs::remove_dir_all(&docs_dir) {
            warn!(target: "training", job = %id, %err, "cannot remove the job's documents");
        }
        let results = &manifest.results;
        Ok(Ok(TrainedAdapter {
            adapter_hash: adapter.hash,
            manifest_hash: manifest_meta.hash,
            datanets: vec![DatanetUse {
                datanet_id: job.datanet_id,
                contribution_count: documents.len() as u64,
            }],
            block,
            snapshot: manifest.data.root,
            steps: results.steps as u64,
            train_loss: results.final_train_loss,
            heldout_loss: results.heldout_loss,
            wall_time_s: results.wall_time_s,
        }))
    }

    fn report(&self, id: B256, event: &JobEvent<'_>) {
        let mut progress = self.progress.lock();
        let entry = progress.entry(id).or_default();
        match event {
            JobEvent::Stage(phase) => {
                entry.phase = phase;
                entry.done = 0;
                entry.total = 0;
            }
            JobEvent::Step(report) => {
                entry.step = report.step as u64;
                entry.total_steps = report.total_steps as u64;
                entry.loss = Some(report.loss);
                entry.tokens_per_second = Some(report.tokens_per_s);
            }
            JobEvent::Count { done, total } => {
                entry.done = *done;
                entry.total = *total;
            }
        }
    }
}
