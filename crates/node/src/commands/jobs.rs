//! Building and running the job service (`ol-jobs`) inside `openledger node`.

use super::rollup::TaskResult;
use crate::args::JobsArgs;
use eyre::WrapErr as _;
use ol_chain::Chain;
use ol_content::ContentStore;
use ol_jobs::{Attestor, Executor, JobService, Journal};
use ol_txpool::TxPool;
use ol_workers::{PoolConfig, WorkerPool};
use std::{path::Path, sync::Arc};
use tokio::{sync::watch, task::JoinSet};
use tracing::info;

/// Builds the job service when `--jobs.base-model` is set: its journal and indexes live under
/// `<datadir>/jobs`, its jobs run on a worker pool of its own.
pub(super) fn build(
    args: &JobsArgs,
    dev: bool,
    datadir: &Path,
    chain: Arc<Chain>,
    pool: Arc<TxPool>,
    content: Arc<dyn ContentStore>,
) -> eyre::Result<Option<Arc<JobService>>> {
    let Some(model) = &args.base_model else {
        return Ok(None);
    };
    let signer = args.attestor(dev)?;
    let root = datadir.join("jobs");
    let journal = Journal::open(&root.join("journal"))
        .wrap_err_with(|| format!("opening the job journal in {}", root.display()))?;
    let threads = args
        .threads
        .map_or_else(|| ol_workers::thread_budget(1), |n| n as usize);
    let executor = Executor::new(model, root.join("lineage"), threads)
        .wrap_err_with(|| format!("loading the job service's base model {}", model.display()))?;
    let workers = WorkerPool::new(PoolConfig {
        workers: 1,
        threads_per_job: threads,
        ..PoolConfig::default()
    })
    .wrap_err("starting the job service's worker pool")?;
    let attestor = Attestor::new(signer, chain.clone(), pool);
    info!(base = %executor.base_hash(), attestor = %attestor.address(), "job service configured");
    let mut service = JobService::new(chain, content, journal, executor, attestor, workers);
    if args.settle {
        service = service.with_settle();
    }
    if let Some(point) = args.halt_after {
        service = service.with_halt_after(point);
    }
    Ok(Some(Arc::new(service)))
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
