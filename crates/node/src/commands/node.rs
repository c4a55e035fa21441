//! `openledger node`.

use super::{
    CATCH_UP_WARN_SLOTS,
    jobs::NodeWorkers,
    missed_slots,
    rollup::{self, TaskResult},
    signals::Signals,
    unix_now,
};
use crate::{
    args::{
        ContentArgs, DatadirArgs, DevArgs, ExplorerArgs, InferenceArgs, JobsArgs, MetricsArgs,
        NodeInferenceArgs, RollupArgs, RpcServerArgs, SequencerArgs, TxPoolArgs, VerifyArgs,
    },
    dirs,
};
use clap::Args;
use eyre::{WrapErr, bail, eyre};
use ol_chain::{Chain, Sequencer, SequencerConfig};
use ol_primitives::ChainSpec;
use ol_rpc::TxSubmission;
use ol_storage::Storage;
use ol_txpool::TxPool;
use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};
use tokio::{sync::watch, task::JoinSet};
use tracing::{info, warn};

/// Block time of `--dev` when `--block-time` is not given.
pub const DEV_BLOCK_TIME_SECS: u64 = 1;

/// Start the node.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct NodeCommand {
    /// The genesis file (go-ethereum format) of the chain to run; requires `--rollup-config`
    ///
    /// The data directory must already hold this chain (see `openledger init`): the node
    /// checks that its genesis matches, and without `--datadir` uses the default data
    /// directory of the chain id. Without `--chain` and `--dev`, `--datadir` names the chain.
    #[arg(
        long = "chain",
        value_name = "GENESIS_JSON",
        verbatim_doc_comment,
        requires = "rollup_config",
        conflicts_with = "dev"
    )]
    pub chain: Option<PathBuf>,

    /// The rollup configuration (op-node's `rollup.json` format) that goes with `--chain`.
    #[arg(long = "rollup-config", value_name = "ROLLUP_JSON", requires = "chain")]
    pub rollup_config: Option<PathBuf>,

    /// Where the node keeps its files.
    #[command(flatten)]
    pub datadir: DatadirArgs,

    /// The JSON-RPC server.
    #[command(flatten)]
    pub rpc: RpcServerArgs,

    /// The transaction pool.
    #[command(flatten)]
    pub txpool: TxPoolArgs,

    /// Block production.
    #[command(flatten)]
    pub sequencer: SequencerArgs,

    /// The development chain.
    #[command(flatten)]
    pub dev: DevArgs,

    /// Prometheus metrics.
    #[command(flatten)]
    pub metrics: MetricsArgs,

    /// The rollup: L1, DA, follower mode, batcher and proposer.
    #[command(flatten)]
    pub rollup: RollupArgs,

    /// Inference next to the chain: where the model is and where the API listens.
    #[command(flatten)]
    pub serving: NodeInferenceArgs,

    /// The inference engine and its adapter cache.
    #[command(flatten)]
    pub inference: InferenceArgs,

    /// The content store of contributions.
    #[command(flatten)]
    pub content: ContentArgs,

    /// The job service: paid inference requests served, attributed, recorded and fulfilled.
    #[command(flatten)]
    pub jobs: JobsArgs,

    /// The attribution verifier: every record re-run and compared.
    #[command(flatten)]
    pub verify: VerifyArgs,

    /// The attribution explorer.
    #[command(flatten)]
    pub explorer: ExplorerArgs,
}

impl NodeCommand {
    /// Runs the node on a new tokio runtime until SIGINT or SIGTERM.
    pub fn execute(self) -> eyre::Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("openledger")
            .build()
            .wrap_err("cannot start the tokio runtime")?;
        let result = runtime.block_on(self.run());
        runtime.shutdown_timeout(Duration::from_secs(5));
        result
    }

    /// The data directory: `--datadir`, else the default one of the chain (`dev` with `--dev`,
    /// the chain id of `--chain` otherwise) as `default_dir` resolves it.
    pub fn resolve_datadir(
        &self,
        requested_chain_id: Option<u64>,
        default_dir: impl FnOnce(&str) -> Option<PathBuf>,
    ) -> eyre::Result<PathBuf> {
        if let Some(datadir) = &self.datadir.datadir {
            return Ok(datadir.clone());
        }
        let chain = if self.dev.dev {
            dirs::DEV_CHAIN_DIR.to_string()
        } else if let Some(chain_id) = requested_chain_id {
            chain_id.to_string()
        } else {
            bail!(
                "which chain should the node run? Pass --datadir <DATA_DIR> (a data directory \
                 initialised with `openledger init`), --chain <GENESIS_JSON> --rollup-config \
                 <ROLLUP_JSON>, or --dev"
            );
        };
        default_dir(&chain).ok_or_else(|| {
            eyre!("cannot find a default data directory (HOME is not set): pass --datadir")
        })
    }

    /// Seconds between blocks: `--block-time`, else 1 with `--dev`, else the rollup's.
    pub fn block_time(&self, spec: &ChainSpec) -> u64 {
        self.sequencer.block_time.unwrap_or(if self.dev.dev {
            DEV_BLOCK_TIME_SECS
        } else {
            spec.rollup.block_time
        })
    }

    /// The chain of `--chain` and `--rollup-config`, when given.
    fn requested_spec(&self) -> eyre::Result<Option<ChainSpec>> {
        let (Some(genesis), Some(rollup)) = (&self.chain, &self.rollup_config) else {
            return Ok(None);
        };
        let spec = ol_primitives::load_genesis(genesis, rollup)
            .wrap_err("loading the --chain genesis and --rollup-config")?;
        Ok(Some(spec))
    }

    /// Opens the database, initialising a dev chain into an empty one with `--dev`.
    fn open_storage(&self, datadir: &Path, requested: Option<&ChainSpec>) -> eyre::Result<Storage> {
        if !self.dev.dev {
            let storage = super::open_initialized(datadir)?;
            if let Some(spec) = requested {
                super::check_stored_chain(&storage, spec)?;
            }
            return Ok(storage);
        }
        std::fs::create_dir_all(datadir)
            .wrap_err_with(|| format!("cannot create the data directory {}", datadir.display()))?;
        let storage = super::open_storage(datadir)?;
        if storage.is_initialized().wrap_err("reading the database")? {
            let existing = storage
                .chain_spec()
                .wrap_err("reading the stored chain spec")?
                .chain_id();
            if let Some(wanted) = self.dev.chain_id.filter(|wanted| *wanted != existing) {
                bail!(
                    "the data directory {} holds a chain with chain id {existing}, not the \
                     --dev.chain-id {wanted}: use another --datadir, or remove this one to start over",
                    datadir.display()
                );
            }
            info!(datadir = %datadir.display(), chain_id = existing, "reusing the dev chain in the data directory");
        } else {
            let spec = ol_primitives::dev::dev_chain_spec(self.dev.chain_id, unix_now())
                .wrap_err("loading the embedded dev genesis")?;
            let header = storage
                .init_genesis(&spec)
                .wrap_err("writing the dev genesis")?;
            info!(
                datadir = %datadir.display(),
                chain_id = spec.chain_id(),
                genesis = %header.hash(),
                timestamp = header.timestamp,
                "initialised a new dev chain"
            );
        }
        Ok(storage)
    }

    /// Starts the inference API when `--inference.model` is set (its metrics go to the node's
    /// Prometheus exporter).
    async fn start_inference(
        &self,
        shutdown: &watch::Receiver<bool>,
        tasks: &mut JoinSet<TaskResult>,
        workers: &NodeWorkers,
    ) -> eyre::Result<()> {
        let Some(model) = &self.serving.model else {
            return Ok(());
        };
        if self.metrics.prometheus.is_some() {
            crate::metrics::describe_inference();
        }
        let state = super::serve::start_api(
            model,
            self.serving.adapters.as_deref(),
            &self.inference,
            None,
            super::serve::PoolSteps::on(workers.get()?),
        )?;
        let addr = std::net::SocketAddr::new(self.serving.addr, self.serving.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .wrap_err_with(|| format!("cannot listen for the inference API on {addr}"))?;
        let bound = listener
            .local_addr()
            .wrap_err("reading the inference API address")?;
        info!(url = %format!("http://{bound}/v1"), "inference API (OpenAI-compatible) started");
        let mut stop = shutdown.clone();
        tasks.spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            (
                "inference API",
                ol_serve::serve(listener, state, stopped)
                    .await
                    .wrap_err("the inference API failed"),
            )
        });
        Ok(())
    }

    /// Starts the explorer when `--explorer` is set, reading this node's RPC at `rpc_addr`.
    async fn start_explorer(
        &self,
        rpc_addr: std::net::SocketAddr,
        shutdown: &watch::Receiver<bool>,
        tasks: &mut JoinSet<TaskResult>,
    ) -> eyre::Result<()> {
        if !self.explorer.explorer {
            return Ok(());
        }
        if self.metrics.prometheus.is_some() {
            crate::metrics::describe_explorer();
        }
        // A server bound to every interface is reached on the loopback one.
        let mut rpc_addr = rpc_addr;
        if rpc_addr.ip().is_unspecified() {
            let loopback: std::net::IpAddr = if rpc_addr.is_ipv6() {
                std::net::Ipv6Addr::LOCALHOST.into()
            } else {
                std::net::Ipv4Addr::LOCALHOST.into()
            };
            rpc_addr.set_ip(loopback);
        }
        let rpc_url = format!("http://{rpc_addr}")
            .parse()
            .wrap_err("the RPC URL of the explorer")?;
        let listener = super::explorer::bind(std::net::SocketAddr::new(
            self.explorer.addr,
            self.explorer.port,
        ))
        .await?;
        let verifier = self.explorer.verifier_url.clone();
        let mut stop = shutdown.clone();
        tasks.spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            (
                "explorer",
                super::explorer::serve(listener, rpc_url, verifier, stopped).await,
            )
        });
        Ok(())
    }

    async fn run(self) -> eyre::Result<()> {
        // Handle stop signals from the start, so that one arriving during startup still stops
        // the node gracefully.
        let mut signals = Signals::new().wrap_err("cannot install signal handlers")?;
        if self.rpc.ws_requested() && !self.rpc.ws {
            warn!("--ws.addr and --ws.port are ignored without --ws");
        }

        let requested = self.requested_spec()?;
        if self.rollup.l1_rpc.is_some() {
            if self.dev.dev {
                bail!(
                    "--l1.rpc cannot run the --dev chain, which has no L1 genesis: deploy the L1 \
                     contracts with `openledger l1 deploy` and `openledger init` the chain it writes"
                );
            }
            if self.sequencer.gas_limit.is_some() {
                bail!(
                    "--gas-limit cannot be used with --l1.rpc: the block gas limit of a rollup is \
                     its system config's, which derivation enforces"
                );
            }
        }
        let datadir = self.resolve_datadir(
            requested.as_ref().map(ChainSpec::chain_id),
            dirs::default_datadir,
        )?;
        let storage = self.open_storage(&datadir, requested.as_ref())?;
        let chain = Chain::new(storage, self.sequencer.gas_limit).wrap_err("opening the chain")?;
        let block_time = self.block_time(chain.spec());
        if self.rollup.l1_rpc.is_some() && block_time != chain.spec().rollup.block_time {
            bail!(
                "--block-time {block_time} differs from the rollup's block time {}: derivation \
                 would reject every batch",
                chain.spec().rollup.block_time
            );
        }
        let head = chain.head();
        let missed = missed_slots(head.timestamp, unix_now(), block_time);
        if missed >= CATCH_UP_WARN_SLOTS && !self.rollup.follow {
            warn!(
                head = head.number,
                head_timestamp = head.timestamp,
                missed_blocks = missed,
                "the head is behind the clock: the sequencer will produce the missed blocks back to \
                 back until it catches up (a genesis timestamp far in the past makes this very long)"
            );
        }
        info!(
            chain_id = chain.chain_id(),
            head = head.number,
            head_hash = %head.hash(),
            datadir = %datadir.display(),
            block_time,
            gas_limit = chain.gas_limit(),
            "chain opened"
        );

        if let Some(addr) = self.metrics.prometheus {
            crate::metrics::install_prometheus(addr)?;
            metrics::gauge!("chain_head_number").set(head.number as f64);
            info!(%addr, "Prometheus metrics served");
        }

        let pool = Arc::new(TxPool::new(self.txpool.pool_config(), chain.chain_id()));
        let mut rpc_config = self.rpc.rpc_config();
        if self.rollup.follow {
            rpc_config.transactions = match &self.rollup.sequencer_http {
                Some(url) => TxSubmission::Forward(url.clone()),
                None => TxSubmission::Refuse,
            };
        }
        let content = self.content.open(&datadir, chain.chain_id())?;
        if self.jobs.base_model.is_some() && self.rollup.follow {
            bail!("--jobs.base-model runs on the sequencer, not on a follower (--follow)");
        }
        if self.jobs.base_model.is_some() && self.metrics.prometheus.is_some() {
            crate::metrics::describe_jobs();
        }
        // One worker pool for the node's inference: API steps, paid jobs, verifier re-runs.
        let workers = NodeWorkers::default();
        let jobs = super::jobs::build(
            &self.jobs,
            self.dev.dev,
            &datadir,
            chain.clone(),
            pool.clone(),
            content.store().clone(),
            &workers,
        )?;
        if self.verify.enabled && self.metrics.prometheus.is_some() {
            crate::metrics::describe_verify();
        }
        let verifier = super::jobs::build_verifier(
            &self.verify,
            self.rollup.sequencer_http.as_deref(),
            &datadir,
            chain.clone(),
            content.store().clone(),
            &workers,
        )?;
        let p2p = ol_rpc::P2pSlot::default();
        let mut api = ol_rpc::EthRpc::with_config(chain.clone(), pool.clone(), &rpc_config)
            .with_content(content)
            .with_p2p(p2p.clone());
        if let Some(services) = &jobs {
            api = api
                .with_jobs(services.jobs.clone())
                .with_training(services.training.clone());
        }
        if let Some(verifier) = &verifier {
            api = api.with_verifier(verifier.clone());
        }
        let rpc = ol_rpc::start_api(&rpc_config, api)
            .await
            .wrap_err("cannot start the JSON-RPC server")?;
        info!(url = %format!("http://{}", rpc.http_addr), "RPC HTTP server started");
        if let Some((_, addr)) = &rpc.ws {
            info!(url = %format!("ws://{addr}"), "RPC WS server started");
        }

        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut tasks = JoinSet::<TaskResult>::new();
        let started = match self
            .start_inference(&shutdown_rx, &mut tasks, &workers)
            .await
        {
            Ok(()) => {
                self.start_explorer(rpc.http_addr, &shutdown_rx, &mut tasks)
                    .await
            }
            Err(err) => Err(err),
        };
        if let Err(err) = started {
            rpc.stop().await;
            return Err(err);
        }
        if let Some(services) = jobs {
            super::jobs::spawn(services.jobs, &shutdown_rx, &mut tasks);
        }
        if let Some(verifier) = verifier {
            super::jobs::spawn_verifier(verifier, &shutdown_rx, &mut tasks);
        }
        let watcher = match &self.rollup.l1_rpc {
            Some(_) => {
                let started = rollup::start(
                    &self.rollup,
                    chain,
                    pool,
                    &datadir,
                    &p2p,
                    &shutdown_rx,
                    &mut tasks,
                )
                .await;
                match started {
                    Ok(watcher) => Some(watcher),
                    Err(err) => {
                        let _ = shutdown_tx.send(true);
                        while tasks.join_next().await.is_some() {}
                        rpc.stop().await;
                        return Err(err);
                    }
                }
            }
            None => {
                let sequencer = Sequencer::new(chain, pool, SequencerConfig { block_time });
                let stop = shutdown_rx.clone();
                tasks.spawn(async move {
                    (
                        "sequencer",
                        sequencer.run(stop).await.wrap_err("the sequencer failed"),
                    )
                });
                info!(block_time, "sequencer started");
                None
            }
        };

        let outcome = tokio::select! {
            signal = signals.next() => {
                info!(signal, "received signal; shutting down");
                Ok(())
            }
            Some(joined) = tasks.join_next() => match joined {
                Ok((name, Ok(()))) => Err(eyre!("the {name} task stopped unexpectedly")),
                Ok((_, Err(err))) => Err(err),
                Err(join) => Err(eyre!("a node task panicked: {join}")),
            },
        };
        let _ = shutdown_tx.send(true);
        if let Some(watcher) = &watcher {
            watcher.abort();
        }
        loop {
            tokio::select! {
                joined = tasks.join_next() => match joined {
                    None => break,
                    Some(Ok((name, Err(err)))) => warn!(task = name, %err, "task failed while stopping"),
                    Some(_) => {}
                },
                signal = signals.next() => {
                    bail!("received {signal} again while waiting for the node's tasks; exiting")
                }
            }
        }
        // Whatever ended the node, stop serving before the database closes.
        rpc.stop().await;
        if outcome.is_ok() {
            info!("shutdown complete");
        }
        outcome
    }
}

#[cfg(test)]
mod tests;
