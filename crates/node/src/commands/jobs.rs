//! Building and running the job service, the Model Factory's trainer and the attribution
//! verifier (`ol-jobs`) inside `openledger node`.

use super::{remote::RpcInputs, rollup::TaskResult};
use crate::args::{JobsArgs, VerifyArgs, read_key_file};
use alloy_primitives::Address;
use eyre::{WrapErr as _, eyre};
use ol_chain::Chain;
use ol_content::ContentStore;
use ol_jobs::{
    Attestor, ContentSource, Executor, JobService, Journal, TrainingConfig, TrainingService,
    Verifications, Verifier,
};
use ol_txpool::TxPool;
use ol_workers::{PoolConfig, WorkerPool};
use std::{path::Path, sync::Arc};
use tokio::{sync::watch, task::JoinSet};
use tracing::info;

/// The sequencer's Proof of Attribution services.
pub(super) struct Services {
    /// The job service of paid requests.
    pub jobs: Arc<JobService>,
    /// The Model Factory's trainer of `ol_trainAdapter`.
    pub training: Arc<TrainingService>,
}

/// Builds the job service and the trainer when `--jobs.base-model` is set: their journal,
/// indexes and training jobs live under `<datadir>/jobs`. Paid jobs run on the node's worker
/// pool `workers` (shared with the inference API's steps, which go first); the trainer has a
/// pool of its own, so a long training never holds back a paid request.
pub(super) fn build(
    args: &JobsArgs,
    dev: bool,
    datadir: &Path,
    chain: Arc<Chain>,
    pool: Arc<TxPool>,
    content: Arc<dyn ContentStore>,
    workers: &NodeWorkers,
) -> eyre::Result<Option<Services>> {
    let Some(model) = &args.base_model else {
        return Ok(None);
    };
    let signer = args.attestor(dev)?;
    let root = datadir.join("jobs");
    let journal = Journal::open(&root.join("journal"))
        .wrap_err_with(|| format!("opening the job journal in {}", root.display()))?;
    let executor = engine(model, &root, args.threads, "job service")?;
    let attestor = Attestor::new(signer, chain.clone(), pool);
    info!(base = %executor.base_hash(), attestor = %attestor.address(), "job service configured");
    let training = TrainingService::start(
        chain.clone(),
        content.clone(),
        TrainingConfig {
            base_dir: model.clone(),
            base_hash: executor.base_hash(),
            root: root.join("training"),
            reader: attestor.address(),
        },
        pool_of(args.threads, "trainer")?,
    )
    .wrap_err("starting the Model Factory's trainer")?;
    let mut service = JobService::new(chain, content, journal, executor, attestor, workers.get()?);
    if args.settle {
        service = service.with_settle();
    }
    if let Some(point) = args.halt_after {
        service = service.with_halt_after(point);
    }
    Ok(Some(Services {
        jobs: Arc::new(service),
        training,
    }))
}

/// Builds the verifier when `--verify-attributions` is set: its verdicts and indexes live
/// under `<datadir>/verify`; content it lacks is read from `--verify.content-rpc` (else the
/// sequencer, `sequencer_http`) with `--verify.key`. Its re-runs go on the node's worker pool
/// `workers` at low priority.
pub(super) fn build_verifier(
    args: &VerifyArgs,
    sequencer_http: Option<&str>,
    datadir: &Path,
    chain: Arc<Chain>,
    content: Arc<dyn ContentStore>,
    workers: &NodeWorkers,
) -> eyre::Result<Option<Arc<Verifier>>> {
    if !args.enabled {
        return Ok(None);
    }
    let model = args
        .base_model
        .as_ref()
        .ok_or_else(|| eyre!("--verify-attributions needs --verify.base-model"))?;
    let signer = args
        .key
        .as_ref()
        .map(|path| read_key_file(path, "--verify.key"))
        .transpose()?;
    let reader = signer.as_ref().map_or(Address::ZERO, |s| s.address());
    let source: Option<Arc<dyn ContentSource>> = match (
        signer,
        args.content_rpc.as_deref().or(sequencer_http),
    ) {
        (Some(signer), Some(url)) => {
            let url = url
                .parse()
                .wrap_err_with(|| format!("--verify.content-rpc {url}"))?;
            Some(Arc::new(RpcInputs::new(
                tokio::runtime::Handle::current(),
                &url,
                signer,
                chain.chain_id(),
            )))
        }
        (Some(_), None) => eyre::bail!(
            "--verify.key needs --verify.content-rpc or --rollup.sequencer-http: the node to read content from"
        ),
        (None, _) => None,
    };
    let root = datadir.join("verify");
    let store = Verifications::open(&root.join("verdicts"))
        .wrap_err_with(|| format!("opening the verifier's store in {}", root.display()))?;
    let executor = engine(model, &root, args.threads, "verifier")?;
    info!(base = %executor.base_hash(), %reader, replicates = source.is_some(), "attribution verifier configured");
    Ok(Some(Arc::new(Verifier::new(
        chain,
        content,
        source,
        store,
        executor,
        workers.get()?,
        reader,
    ))))
}

/// The executor of `model` (its lineage indexes under `root`), for `what` (in error messages):
/// `threads` compute threads a job, by default the cores the node leaves to jobs.
fn engine(model: &Path, root: &Path, threads: Option<u64>, what: &str) -> eyre::Result<Executor> {
    Executor::new(model, root.join("lineage"), job_threads(threads))
        .wrap_err_with(|| format!("loading the {what}'s base model {}", model.display()))
}

/// `threads`, by default the cores the node leaves to jobs.
fn job_threads(threads: Option<u64>) -> usize {
    threads.map_or_else(|| ol_workers::thread_budget(1), |n| n as usize)
}

/// Jobs a pool holds waiting at each priority: enough that the worker never runs dry between
/// two passes of the job service (a pass refills the queue; at ~10 ms a job, 64 would last well
/// under a pass), few enough that a queued job's inputs (shared bundle and documents, its own
/// prompt) stay small.
const JOB_QUEUE_CAPACITY: usize = 1024;

/// The node's worker pool: one worker, on which the inference API's steps (high priority), paid
/// jobs (normal) and re-runs of the verifier (low) take turns, each computing with the threads
/// of its own engine, so they never compete for the cores the node leaves to them.
pub(super) fn node_pool() -> eyre::Result<Arc<WorkerPool>> {
    pool_of(None, "node").map(Arc::new)
}

/// The node's worker pool ([`node_pool`]), started by the first service that needs one, so a
/// node without inference, jobs or verification starts no worker.
#[derive(Debug, Default)]
pub(super) struct NodeWorkers(std::sync::OnceLock<Arc<WorkerPool>>);

impl NodeWorkers {
    /// The pool, started on first use.
    pub(super) fn get(&self) -> eyre::Result<Arc<WorkerPool>> {
        if let Some(pool) = self.0.get() {
            return Ok(pool.clone());
        }
        let pool = node_pool()?;
        Ok(self.0.get_or_init(|| pool).clone())
    }
}

/// A one-worker pool whose job may use `threads` compute threads, for `what`.
fn pool_of(threads: Option<u64>, what: &str) -> eyre::Result<WorkerPool> {
    WorkerPool::new(PoolConfig {
        workers: 1,
        threads_per_job: job_threads(threads),
        queue_capacity: JOB_QUEUE_CAPACITY,
        ..PoolConfig::default()
    })
    .wrap_err_with(|| format!("starting the {what}'s worker pool"))
}

/// Runs `service` until shutdown as one of the node's tasks.
pub(super) fn spawn(
    service: Arc<JobService>,
    shutdown: &watch::Receiver<bool>,
    tasks: &mut JoinSet<TaskResult>,
) {
    let stop = shutdown.clone();
    tasks.spawn(async move {
        (
            "job service",
            service.run(stop).await.wrap_err("the job service failed"),
        )
    });
}

/// Runs `verifier` until shutdown as one of the node's tasks.
pub(super) fn spawn_verifier(
    verifier: Arc<Verifier>,
    shutdown: &watch::Receiver<bool>,
    tasks: &mut JoinSet<TaskResult>,
) {
    let stop = shutdown.clone();
    tasks.spawn(async move {
        (
            "attribution verifier",
            verifier
                .run(stop)
                .await
                .wrap_err("the attribution verifier failed"),
        )
    });
}
