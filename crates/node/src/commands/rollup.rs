//! The rollup roles of `openledger node` with `--l1.rpc`: the L1 watcher, derivation (the safe
//! head of a sequencer, the whole chain of a follower), the L1-following sequencer, the batcher
//! and the proposer, each a task that stops when the node shuts down.

use crate::args::{DaPutMode, RollupArgs};
use eyre::{WrapErr, bail, eyre};
use ol_batcher::Batcher;
use ol_chain::{
    Chain, Derivation, L1Epochs, Sequencer, SequencerConfig, derivation::UnwoundHandler,
};
use ol_da::{DaServer, DaServerConfig, DaStore, HttpDaClient, PutMode};
use ol_l1::{HttpL1Client, L1Client, L1Watcher, RetryConfig, WatcherConfig};
use ol_proposer::{Proposer, ProposerConfig};
use ol_txpool::TxPool;
use std::{path::Path, sync::Arc};
use tokio::{sync::watch, task::JoinSet};
use tracing::info;

/// Starts the built-in DA server in this process; returns its URL. It stops at shutdown.
async fn serve_da(
    datadir: &Path,
    addr: std::net::SocketAddr,
    shutdown: &watch::Receiver<bool>,
    tasks: &mut JoinSet<TaskResult>,
) -> eyre::Result<String> {
    let path = crate::dirs::da_path(datadir);
    std::fs::create_dir_all(&path).wrap_err_with(|| format!("cannot create {}", path.display()))?;
    let store = DaStore::open(&path)
        .wrap_err_with(|| format!("cannot open the DA store in {}", path.display()))?;
    let server = DaServer::start(store, addr, DaServerConfig::default())
        .await
        .wrap_err_with(|| format!("cannot serve DA on {addr}"))?;
    let url = format!("http://{}", server.local_addr());
    info!(url, "built-in DA server started");
    let mut stop = shutdown.clone();
    tasks.spawn(async move {
        let _ = stop.wait_for(|stop| *stop).await;
        let stopped = server.stop().await.wrap_err("stopping the DA server");
        ("DA server", stopped)
    });
    Ok(url)
}

/// Consumes watcher events nobody needs, so that the watcher (whose channel is bounded) never
/// waits on them; ends when the watcher stops.
async fn drain(mut events: tokio::sync::mpsc::Receiver<ol_l1::L1Event>) -> TaskResult {
    while events.recv().await.is_some() {}
    ("L1 events", Ok(()))
}

/// A named task's outcome.
pub(crate) type TaskResult = (&'static str, eyre::Result<()>);

/// Starts the rollup roles onto `tasks`. Returns the watcher's task, which the caller aborts
/// at shutdown (it polls L1 until its consumers are gone).
pub(crate) async fn start(
    args: &RollupArgs,
    chain: Arc<Chain>,
    pool: Arc<TxPool>,
    datadir: &Path,
    p2p: &ol_rpc::P2pSlot,
    shutdown: &watch::Receiver<bool>,
    tasks: &mut JoinSet<TaskResult>,
) -> eyre::Result<tokio::task::JoinHandle<()>> {
    let l1_url = args
        .l1_rpc
        .as_deref()
        .ok_or_else(|| eyre!("the rollup roles need --l1.rpc"))?;
    let rollup = chain.spec().rollup.clone();
    let block_time = rollup.block_time;
    let l1 = Arc::new(
        HttpL1Client::new(l1_url, RetryConfig::default())
            .wrap_err_with(|| format!("invalid --l1.rpc {l1_url}"))?,
    );
    let l1_chain_id = l1
        .chain_id()
        .await
        .wrap_err_with(|| format!("cannot reach L1 at {l1_url}"))?;
    if l1_chain_id != rollup.l1_chain_id {
        bail!(
            "L1 at {l1_url} has chain id {l1_chain_id}, the rollup config expects {}",
            rollup.l1_chain_id
        );
    }
    let da_url = match (args.da_builtin, &args.da_url) {
        (Some(addr), _) => serve_da(datadir, addr, shutdown, tasks).await?,
        (None, Some(url)) => url.clone(),
        (None, None) => {
            bail!("--l1.rpc needs --da.url (or --da.builtin): batches are resolved through DA")
        }
    };
    let da_url = da_url.as_str();
    let mode = match args.da_put_mode {
        DaPutMode::Generic => PutMode::Generic,
        DaPutMode::Keccak => PutMode::Keccak,
    };
    let da = HttpDaClient::new(da_url, mode, args.da_timeout)
        .wrap_err_with(|| format!("invalid --da.url {da_url}"))?;

    let (watcher, events, view) = L1Watcher::new(
        l1.clone(),
        WatcherConfig {
            confirmations: args.l1_confirmations,
            poll_interval: args.l1_poll_interval,
            ..WatcherConfig::default()
        },
    );
    let watcher = tokio::spawn(watcher.run());
    info!(
        url = l1_url,
        chain_id = l1_chain_id,
        confirmations = args.l1_confirmations,
        "following L1"
    );

    crate::metrics::describe_derivation();
    let mut derivation = Derivation::new(chain.clone(), l1.clone(), da.clone(), view.clone())
        .wrap_err("cannot start derivation")?;
    if !args.follow {
        // A sequencer block that L1 replaced: its transactions go back into the pool.
        let (pool, chain) = (pool.clone(), chain.clone());
        derivation = derivation.on_unwound(UnwoundHandler(Arc::new(move |unwound| {
            let requeued = ol_chain::requeue(&pool, &chain, unwound);
            info!(
                requeued,
                "transactions of the replaced blocks back in the pool"
            );
        })));
    }
    let stop = shutdown.clone();
    tasks.spawn(async move {
        (
            "derivation",
            derivation.run(stop).await.wrap_err("derivation failed"),
        )
    });

    if args.follow {
        info!("follower: safe blocks come from L1 + DA, unsafe ones from gossip");
        // Nobody else consumes the watcher's events; derivation reads its view.
        tasks.spawn(drain(events));
        super::p2p::start(args, chain, l1.clone(), datadir, p2p, shutdown, tasks).await?;
        return Ok(watcher);
    }

    crate::metrics::describe_sequencer();
    let sequencer = Sequencer::with_epochs(
        chain.clone(),
        pool,
        SequencerConfig { block_time },
        L1Epochs::new(l1.clone(), view),
    );
    let stop = shutdown.clone();
    tasks.spawn(async move {
        (
            "sequencer",
            sequencer.run(stop).await.wrap_err("the sequencer failed"),
        )
    });
    info!(block_time, "sequencer started on L1 origins");
    super::p2p::start(
        args,
        chain.clone(),
        l1.clone(),
        datadir,
        p2p,
        shutdown,
        tasks,
    )
    .await?;

    if let Some(signer) = args.batcher_signer()? {
        if signer.address() != rollup.genesis.system_config.batcher_addr {
            bail!(
                "--batcher.key is for {}, but the rollup's batcher is {}: followers would ignore its batches",
                signer.address(),
                rollup.genesis.system_config.batcher_addr
            );
        }
        crate::metrics::describe_batcher();
        let config = args.batcher_config();
        config
            .validate()
            .map_err(|err| eyre!("batcher settings: {err}"))?;
        let batcher = Batcher::open(
            &datadir.join("batcher"),
            config,
            rollup.clone(),
            chain.storage().clone(),
            l1.clone(),
            da,
            signer,
        )
        .wrap_err("cannot open the batcher")?;
        let stop = shutdown.clone();
        tasks.spawn(async move {
            batcher.run(events, stop).await;
            ("batcher", Ok(()))
        });
        info!(da = da_url, "batcher started");
    } else {
        tasks.spawn(drain(events));
    }

    if let (Some(signer), Some(oracle)) = (args.proposer_signer()?, args.proposer_oracle) {
        crate::metrics::describe_proposer();
        let proposer = Proposer::new(
            ProposerConfig::new(oracle),
            chain.storage().clone(),
            l1.clone(),
            signer,
        );
        let safe = chain.subscribe_safe();
        let stop = shutdown.clone();
        tasks.spawn(async move {
            (
                "proposer",
                proposer
                    .run(safe, stop)
                    .await
                    .wrap_err("the proposer failed"),
            )
        });
        info!(%oracle, "proposer started");
    }
    Ok(watcher)
}
