//! Building and running the job service and the attribution verifier (`ol-jobs`) inside
//! `openledger node`.

use super::{remote::RpcInputs, rollup::TaskResult};
use crate::args::{JobsArgs, VerifyArgs, read_key_file};
use alloy_primitives::Address;
use eyre::{WrapErr as _, eyre};
use ol_chain::Chain;
use ol_content::ContentStore;
use ol_jobs::{Attestor, ContentSource, Executor, JobService, Journal, Verifications, Verifier};
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
    let (executor, workers) = engine(model, &root, args.threads, "job service")?;
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

/// Builds the verifier when `--verify-attributions` is set: its verdicts and indexes live
/// under `<datadir>/verify`; content it lacks is read from `--verify.content-rpc` (else the
/// sequencer, `sequencer_http`) with `--verify.key`.
pub(super) fn build_verifier(
    args: &VerifyArgs,
    sequencer_http: Option<&str>,
    datadir: &Path,
    chain: Arc<Chain>,
    content: Arc<dyn ContentStore>,
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
    let (executor, workers) = engine(model, &root, args.threads, "verifier")?;
    info!(base = %executor.base_hash(), %reader, replicates = source.is_some(), "attribution verifier configured");
    Ok(Some(Arc::new(Verifier::new(
        chain, content, source, store, executor, workers, reader,
    ))))
}

/// The executor of `model` (its lineage indexes under `root`) and the one-worker pool it runs
/// on, for `what` (in error messages): `threads` compute threads a job, by default the cores
/// the node leaves to jobs.
fn engine(
    model: &Path,
    root: &Path,
    threads: Option<u64>,
    what: &str,
) -> eyre::Result<(Executor, WorkerPool)> {
    let threads = threads.map_or_else(|| ol_workers::thread_budget(1), |n| n as usize);
    let executor = Executor::new(model, root.join("lineage"), threads)
        .wrap_err_with(|| format!("loading the {what}'s base model {}", model.display()))?;
    let workers = WorkerPool::new(PoolConfig {
        workers: 1,
        threads_per_job: threads,
        ..PoolConfig::default()
    })
    .wrap_err_with(|| format!("starting the {what}'s worker pool"))?;
    Ok((executor, workers))
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
