//! `openledger node`.

use super::{
    CATCH_UP_WARN_SLOTS, missed_slots,
    rollup::{self, TaskResult},
    signals::Signals,
    unix_now,
};
use crate::{
    args::{
        ContentArgs, DatadirArgs, DevArgs, InferenceArgs, JobsArgs, MetricsArgs, NodeInferenceArgs,
        RollupArgs, RpcServerArgs, SequencerArgs, TxPoolArgs, VerifyArgs,
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
        let jobs = super::jobs::build(
            &self.jobs,
            self.dev.dev,
            &datadir,
            chain.clone(),
            pool.clone(),
            content.store().clone(),
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
        )?;
        let mut api = ol_rpc::EthRpc::with_config(chain.clone(), pool.clone(), &rpc_config)
            .with_content(content);
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
        if let Err(err) = self.start_inference(&shutdown_rx, &mut tasks).await {
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
                    block_time,
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
mod tests {
    use super::*;
    use crate::cli::{Cli, Commands};
    use clap::Parser;
    use std::{
        ffi::OsStr,
        net::{IpAddr, Ipv4Addr, SocketAddr},
    };

    fn parse(args: &[&str]) -> NodeCommand {
        let cli = Cli::try_parse_from(["openledger", "node"].iter().chain(args)).unwrap();
        match cli.command {
            Commands::Node(command) => *command,
            other => panic!("parsed {other:?}"),
        }
    }

    fn home_default(chain: &str) -> Option<PathBuf> {
        dirs::default_datadir_from(None, Some(OsStr::new("/home/op")), chain)
    }

    #[test]
    fn defaults() {
        let node = parse(&[]);
        assert_eq!(node.chain, None);
        assert_eq!(node.datadir, DatadirArgs::default());
        assert_eq!(node.rpc, RpcServerArgs::default());
        assert_eq!(node.txpool, TxPoolArgs::default());
        assert_eq!(node.sequencer, SequencerArgs::default());
        assert_eq!(node.dev, DevArgs::default());
        assert_eq!(node.metrics, MetricsArgs::default());
        assert_eq!(node.content, crate::args::ContentArgs::default());
        assert_eq!(node.jobs, JobsArgs::default());
        assert_eq!(node.verify, VerifyArgs::default());
        assert_eq!(node.content.limits(), ol_content::ContentLimits::default());
        assert_eq!(node.rollup.l1_confirmations, 4);
        assert!(node.rollup.l1_rpc.is_none() && !node.rollup.follow);

        assert_eq!(node.rpc.rpc_config(), ol_rpc::RpcConfig::default());
        assert_eq!(node.rpc.http_addr, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(node.rpc.http_port, 8545);
        assert_eq!(node.rpc.max_batch_size, 1000);
        assert_eq!(node.rpc.gas_cap, 50_000_000);
        assert_eq!(node.rpc.max_request_size_mb, 15);
        assert_eq!(node.rpc.max_response_size_mb, 160);
        assert!(!node.rpc.ws_requested());
        assert_eq!(node.rpc.rpc_config().ws, None);
        assert_eq!(node.rpc.max_blocks_per_filter, 100_000);
        assert_eq!(node.rpc.max_logs_per_response, 20_000);
        assert_eq!(node.rpc.evm_timeout, Duration::from_secs(5));
        assert_eq!(node.rpc.tx_fee_cap_wei, 1_000_000_000_000_000_000);
        assert_eq!(node.rpc.rate_limit, 0);
        assert_eq!(node.txpool.pool_config(), ol_txpool::PoolConfig::default());
        assert_eq!(node.txpool.lifetime_secs, 3 * 60 * 60);
    }

    #[test]
    fn full_flag_set() {
        let node = parse(&[
            "--dev",
            "--dev.chain-id",
            "4242",
            "--datadir",
            "/tmp/ol",
            "--http",
            "--http.addr",
            "0.0.0.0",
            "--http.port",
            "9545",
            "--ws",
            "--ws.addr",
            "::1",
            "--ws.port",
            "9546",
            "--rpc.max-connections",
            "42",
            "--rpc.max-request-size",
            "2",
            "--rpc.max-response-size",
            "3",
            "--rpc.max-batch-size",
            "7",
            "--rpc.gascap",
            "1000000",
            "--rpc.max-subscriptions-per-connection",
            "9",
            "--rpc.max-blocks-per-filter",
            "500",
            "--rpc.max-logs-per-response",
            "600",
            "--rpc.evmtimeout",
            "1500ms",
            "--rpc.txfeecap",
            "2.5",
            "--rpc.rate-limit",
            "50",
            "--rpc.max-filters",
            "77",
            "--rpc.max-filters-per-connection",
            "5",
            "--rpc.blocking-threads",
            "3",
            "--rpc.max-blocking-io-requests",
            "64",
            "--rpc.max-tracing-requests",
            "2",
            "--rpc.max-trace-size",
            "8",
            "--txpool.pending-max-size",
            "7",
            "--txpool.queued-max-size",
            "3",
            "--txpool.max-nonce-gap",
            "12",
            "--txpool.max-account-slots",
            "4",
            "--txpool.pending-max-count",
            "100",
            "--txpool.queued-max-count",
            "50",
            "--txpool.pricebump",
            "25",
            "--txpool.lifetime",
            "60",
            "--block-time",
            "2",
            "--gas-limit",
            "30000000",
            "--metrics",
            "127.0.0.1:9001",
            "-vv",
            "--log.format",
            "json",
        ]);
        assert_eq!(
            node.dev,
            DevArgs {
                dev: true,
                chain_id: Some(4242)
            }
        );
        assert_eq!(node.datadir.datadir, Some(PathBuf::from("/tmp/ol")));
        assert_eq!(
            node.rpc.rpc_config(),
            ol_rpc::RpcConfig {
                http_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                http_port: 9545,
                max_connections: 42,
                max_request_body_bytes: 2 * 1024 * 1024,
                max_response_body_bytes: 3 * 1024 * 1024,
                max_batch_len: 7,
                gas_cap: 1_000_000,
                ws: Some(SocketAddr::from(("::1".parse::<IpAddr>().unwrap(), 9546))),
                max_subscriptions_per_connection: 9,
                max_blocks_per_filter: 500,
                max_logs_per_response: 600,
                filters: ol_rpc::FilterLimits {
                    max_filters: 77,
                    max_per_connection: 5,
                    ..ol_rpc::FilterLimits::default()
                },
                blocking: ol_rpc::BlockingConfig {
                    threads: 3,
                    max_requests: 64,
                },
                max_tracing_requests: 2,
                max_trace_bytes: 8 * 1024 * 1024,
                evm_timeout: Duration::from_millis(1500),
                tx_fee_cap: 2_500_000_000_000_000_000,
                rate_limit: 50,
                transactions: ol_rpc::TxSubmission::Pool,
            }
        );
        assert!(node.rpc.http && node.rpc.ws_requested());
        assert_eq!(node.rpc.ws_addr, Some("::1".parse().unwrap()));
        assert_eq!(node.rpc.ws_port, Some(9546));
        let pool = node.txpool.pool_config();
        assert_eq!(pool.max_account_slots, 4);
        assert_eq!(pool.pending_max_count, 100);
        assert_eq!(pool.queued_max_count, 50);
        assert_eq!(pool.price_bump_percent, 25);
        assert_eq!(pool.queued_lifetime, Duration::from_secs(60));
        assert_eq!(pool.pending_max_bytes, 7 * 1024 * 1024);
        assert_eq!(pool.queued_max_bytes, 3 * 1024 * 1024);
        assert_eq!(pool.max_nonce_gap, 12);
        assert_eq!(
            pool.max_tx_bytes,
            ol_txpool::PoolConfig::default().max_tx_bytes
        );
        assert_eq!(
            node.sequencer,
            SequencerArgs {
                block_time: Some(2),
                gas_limit: Some(30_000_000)
            }
        );
        assert_eq!(
            node.metrics.prometheus,
            Some(SocketAddr::from(([127, 0, 0, 1], 9001)))
        );
    }

    #[test]
    fn ws_is_served_only_with_the_ws_flag() {
        assert_eq!(
            parse(&["--ws"]).rpc.rpc_config().ws,
            Some(SocketAddr::from(([127, 0, 0, 1], 8546)))
        );
        assert_eq!(
            parse(&["--ws", "--ws.port", "0"]).rpc.rpc_config().ws,
            Some(SocketAddr::from(([127, 0, 0, 1], 0)))
        );
        let without = parse(&["--ws.port", "9000"]);
        assert!(without.rpc.ws_requested());
        assert_eq!(without.rpc.rpc_config().ws, None);
    }

    #[test]
    fn chain_and_rollup_config_go_together() {
        let node = parse(&["--chain", "g.json", "--rollup-config", "r.json"]);
        assert_eq!(node.chain, Some(PathBuf::from("g.json")));
        assert_eq!(node.rollup_config, Some(PathBuf::from("r.json")));
        for args in [
            &["node", "--chain", "g.json"][..],
            &["node", "--rollup-config", "r.json"],
            &[
                "node",
                "--dev",
                "--chain",
                "g.json",
                "--rollup-config",
                "r.json",
            ],
            &["node", "--dev.chain-id", "5"],
        ] {
            let result =
                Cli::try_parse_from(std::iter::once("openledger").chain(args.iter().copied()));
            assert!(result.is_err(), "{args:?} must be refused");
        }
    }

    #[test]
    fn out_of_range_values_are_refused() {
        for args in [
            &["node", "--block-time", "0"][..],
            &["node", "--gas-limit", "21000"],
            &["node", "--txpool.max-account-slots", "0"],
            &["node", "--rpc.max-batch-size", "0"],
            &["node", "--http.addr", "localhost"],
            &["node", "--ws.port", "65536"],
            &["node", "--metrics", "9001"],
            &["node", "--log.format", "xml"],
        ] {
            let result =
                Cli::try_parse_from(std::iter::once("openledger").chain(args.iter().copied()));
            assert!(result.is_err(), "{args:?} must be refused");
        }
    }

    #[test]
    fn rollup_flags_parse_and_conflict_as_documented() {
        let node = parse(&[
            "--l1.rpc",
            "http://127.0.0.1:8545",
            "--l1.confirmations",
            "2",
            "--l1.poll-interval",
            "500ms",
            "--da.url",
            "http://127.0.0.1:3100",
            "--batcher.key",
            "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
            "--batcher.max-channel-duration",
            "3",
            "--batcher.compression",
            "zlib",
            "--proposer.key",
            "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
            "--proposer.l2oo",
            "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
        ]);
        let rollup = &node.rollup;
        assert_eq!(rollup.l1_rpc.as_deref(), Some("http://127.0.0.1:8545"));
        assert_eq!(rollup.l1_confirmations, 2);
        assert_eq!(rollup.l1_poll_interval, Duration::from_millis(500));
        let batcher = rollup.batcher_config();
        assert_eq!(batcher.max_channel_age_l1, 3);
        assert_eq!(batcher.compression, ol_rollup::CompressionAlgo::ZLIB_BEST);
        assert_eq!(
            crate::args::signer(rollup.batcher_key.as_ref().unwrap(), "--batcher.key")
                .unwrap()
                .address(),
            ol_primitives::dev::dev_signer(8).address()
        );
        assert!(rollup.proposer_oracle.is_some());
        for args in [
            &["node", "--follow"][..],
            &[
                "node",
                "--l1.rpc",
                "http://x",
                "--follow",
                "--batcher.key",
                "0x01",
            ],
            &[
                "node",
                "--l1.rpc",
                "http://x",
                "--da.url",
                "http://d",
                "--da.builtin",
                "127.0.0.1:3100",
            ],
            &["node", "--l1.rpc", "http://x", "--proposer.key", "0x01"],
            &["node", "--batcher.key", "0x01"],
        ] {
            let result =
                Cli::try_parse_from(std::iter::once("openledger").chain(args.iter().copied()));
            assert!(result.is_err(), "{args:?} must be refused");
        }
    }

    #[test]
    fn datadir_resolution() {
        let explicit = parse(&["--dev", "--datadir", "/srv/ol"]);
        assert_eq!(
            explicit.resolve_datadir(None, home_default).unwrap(),
            PathBuf::from("/srv/ol")
        );

        let dev = parse(&["--dev"]);
        assert_eq!(
            dev.resolve_datadir(None, home_default).unwrap(),
            PathBuf::from("/home/op/.local/share/openledger/dev")
        );

        let chain = parse(&["--chain", "g.json", "--rollup-config", "r.json"]);
        assert_eq!(
            chain.resolve_datadir(Some(10), home_default).unwrap(),
            PathBuf::from("/home/op/.local/share/openledger/10")
        );

        let nothing = parse(&[]);
        let err = nothing
            .resolve_datadir(None, home_default)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--datadir") && err.contains("--dev"), "{err}");

        let no_home = dev.resolve_datadir(None, |_| None).unwrap_err().to_string();
        assert!(no_home.contains("HOME"), "{no_home}");
    }

    #[test]
    fn missed_slots_count_whole_block_times() {
        assert_eq!(missed_slots(100, 100, 1), 0);
        assert_eq!(missed_slots(100, 99, 1), 0);
        assert_eq!(missed_slots(100, 161, 2), 30);
    }

    #[test]
    fn block_time_defaults() {
        let mut spec = ol_primitives::dev::dev_chain_spec(None, 0).unwrap();
        spec.rollup.block_time = 2;
        assert_eq!(parse(&["--dev"]).block_time(&spec), 1);
        assert_eq!(parse(&[]).block_time(&spec), 2);
        assert_eq!(parse(&["--dev", "--block-time", "5"]).block_time(&spec), 5);
    }
}
