//! `openledger bench gossip`: how long a sealed block takes to become a follower's unsafe head
//! over real libp2p gossip, and how far the follower's head trails.
//!
//! A sequencer and a follower of one dev chain run in process, each with its own RocksDB and
//! its own `ol-p2p` network on 127.0.0.1 (the follower's static peer is the sequencer). The
//! sequencer produces one block of `--txs-per-block` transfers per block time (blocks are
//! timestamped a block time apart and gossip refuses blocks from the future, so the pace is the
//! chain's), signs and publishes it; the follower validates it, executes it on its head and
//! commits it. Latency is from the sequencer's commit to the follower's commit; the block time
//! is the baseline it is measured against (the goal: p99 below one block time).

use super::{ceiling::InProcess, load::quantile, workload::Workload};
use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::B256;
use clap::Args;
use eyre::{WrapErr, bail, ensure, eyre};
use ol_chain::Imported;
use ol_p2p::network::{Keypair, NetworkConfig, PayloadSource};
use serde::Serialize;
use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// The dev chain's block time, in seconds.
const BLOCK_TIME: u64 = 1;

/// Measure sequencer-seal-to-follower-executed latency over gossip (see the README's Benchmark
/// section)
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct BenchGossipCommand {
    /// Blocks to produce and gossip (one per second)
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(2..=10_000))]
    pub blocks: u64,

    /// Transfers per block
    #[arg(long = "txs-per-block", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub txs_per_block: u64,

    /// Senders, each a fresh account funded in the setup
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub senders: u64,

    /// Also write the results as JSON to this file
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Also write the results as an HTML page of tables to this file
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct GossipReport {
    blocks: u64,
    txs_per_block: u64,
    block_time_ms: f64,
    /// The sequencer producing one block (execution, state root, commit), median.
    production_p50_ms: f64,
    /// Sequencer commit to follower commit.
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    latency_max_ms: f64,
    /// p99 latency over the block time (the goal is below 1).
    p99_over_block_time: f64,
    /// The follower's unsafe head behind the sequencer's, sampled just before each seal.
    lag_mean_blocks: f64,
    lag_max_blocks: u64,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |now| now.as_secs())
}

impl BenchGossipCommand {
    /// Runs the benchmark.
    pub fn execute(self) -> eyre::Result<()> {
        let (workload, transfers) =
            Workload::of_transfers(self.senders, self.blocks * self.txs_per_block)?;
        let gas_limit = (self.txs_per_block * 60_000 + 1_000_000).max(30_000_000);
        let genesis_time = unix_now();
        let sequencer = InProcess::with_genesis_time(gas_limit, genesis_time)?;
        let follower = InProcess::with_genesis_time(gas_limit, genesis_time)?;
        sequencer.admit(&workload.setup)?;
        sequencer.drain()?;
        // The setup reaches the follower directly: only the measured blocks are gossiped.
        for number in 1..=sequencer.chain.head().number {
            let (header, txs) = sequencer
                .chain
                .storage()
                .block(number)
                .ok_or_else(|| eyre!("setup block {number} missing"))?;
            match follower.chain.import_unsafe_block(&header, &txs)? {
                Ok(Imported::Applied(_)) => {}
                other => bail!("the follower did not take setup block {number}: {other:?}"),
            }
        }

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .wrap_err("cannot start the tokio runtime")?;
        let (_stop, shutdown) = tokio::sync::watch::channel(false);
        let key = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x5e))?;
        let config = |static_peers, sequencer_key| NetworkConfig {
            chain_id: sequencer.chain.chain_id(),
            listen: "/ip4/127.0.0.1/tcp/0".parse().expect("a valid multiaddr"),
            static_peers,
            keypair: Keypair::generate_secp256k1(),
            unsafe_block_signer: key.address(),
            sequencer_key,
            max_peers: 30,
        };
        let publisher = runtime.block_on(ol_p2p::network::start(
            config(Vec::new(), Some(key.clone())),
            Arc::new(sequencer.chain.storage().clone()),
            shutdown.clone(),
        ))?;
        let mut receiver = runtime.block_on(ol_p2p::network::start(
            config(publisher.handle.listen_addrs(), None),
            Arc::new(follower.chain.storage().clone()),
            shutdown,
        ))?;
        runtime.block_on(async {
            while publisher.handle.peer_count() == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // Subscriptions are exchanged on the first heartbeats.
            tokio::time::sleep(Duration::from_secs(2)).await;
        });

        // The follower: execute each gossiped block and note when it was committed.
        let executed: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
        let follower_chain = follower.chain.clone();
        let noted = executed.clone();
        let importer = runtime.spawn(async move {
            while let Some(received) = receiver.blocks.recv().await {
                let chain = follower_chain.clone();
                let block = received.block;
                let number = block.header.number;
                let imported = tokio::task::spawn_blocking(move || {
                    chain.import_unsafe_block(&block.header, &block.transactions)
                })
                .await??;
                match imported {
                    Ok(Imported::Applied(_)) => {
                        noted
                            .lock()
                            .expect("not poisoned")
                            .insert(number, Instant::now());
                    }
                    other => bail!("the follower did not apply block {number}: {other:?}"),
                }
            }
            Ok::<_, eyre::Report>(())
        });

        println!(
            "gossip: {} blocks of {} transfers, one per {BLOCK_TIME} s…",
            self.blocks, self.txs_per_block
        );
        let mut sealed = Vec::new();
        let mut production = Vec::new();
        let mut lags = Vec::new();
        for chunk in transfers.chunks(self.txs_per_block as usize) {
            let head = sequencer.chain.head();
            // Gossip refuses a block more than 5 s ahead of the clock: keep the chain's pace.
            while unix_now() < head.timestamp + BLOCK_TIME {
                std::thread::sleep(Duration::from_millis(5));
            }
            // The follower's lag as the next block is about to be sealed.
            lags.push(head.number.saturating_sub(follower.chain.head().number));
            sequencer.admit(chunk)?;
            let started = Instant::now();
            let (_, _, blocks) = sequencer.drain()?;
            ensure!(blocks == 1, "a chunk took {blocks} blocks");
            let at = Instant::now();
            production.push((at - started).as_secs_f64() * 1e3);
            let block = sequencer.chain.head();
            let body = sequencer
                .chain
                .storage()
                .body(block.number)?
                .ok_or_else(|| eyre!("block {} missing", block.number))?;
            runtime
                .block_on(publisher.handle.publish(&block, &body.transactions))
                .wrap_err_with(|| format!("publishing block {}", block.number))?;
            sealed.push((block.number, at));
        }
        let last = sequencer.chain.head().number;
        runtime.block_on(async {
            let deadline = Instant::now() + Duration::from_secs(30);
            // The importer notes a block just after committing it: wait for the note.
            while !executed.lock().expect("not poisoned").contains_key(&last)
                && Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        if importer.is_finished() {
            runtime.block_on(importer)??;
        }
        ensure!(
            follower.chain.head().hash() == sequencer.chain.head().hash(),
            "the follower ended at block {} ({}), the sequencer at {last} ({})",
            follower.chain.head().number,
            follower.chain.head().hash(),
            sequencer.chain.head().hash()
        );
        let executed = executed.lock().expect("not poisoned").clone();
        let mut latencies: Vec<f64> = sealed
            .iter()
            .map(|(number, at)| {
                executed
                    .get(number)
                    .map(|done| done.saturating_duration_since(*at).as_secs_f64() * 1e3)
                    .ok_or_else(|| eyre!("block {number} was not gossiped"))
            })
            .collect::<Result<_, _>>()?;
        latencies.sort_by(f64::total_cmp);
        production.sort_by(f64::total_cmp);
        let block_time_ms = BLOCK_TIME as f64 * 1e3;
        let report = GossipReport {
            blocks: sealed.len() as u64,
            txs_per_block: self.txs_per_block,
            block_time_ms,
            production_p50_ms: quantile(&production, 0.5),
            latency_p50_ms: quantile(&latencies, 0.5),
            latency_p99_ms: quantile(&latencies, 0.99),
            latency_max_ms: latencies.last().copied().unwrap_or(0.0),
            p99_over_block_time: quantile(&latencies, 0.99) / block_time_ms,
            lag_mean_blocks: lags.iter().sum::<u64>() as f64 / lags.len().max(1) as f64,
            lag_max_blocks: lags.iter().copied().max().unwrap_or(0),
        };
        println!(
            "{} blocks of {} transfers: production p50 {:.1} ms; seal to follower executed p50 {:.1} ms, \
             p99 {:.1} ms, max {:.1} ms ({:.3}× the {:.0} ms block time); follower lag mean {:.2}, max {} blocks",
            report.blocks,
            report.txs_per_block,
            report.production_p50_ms,
            report.latency_p50_ms,
            report.latency_p99_ms,
            report.latency_max_ms,
            report.p99_over_block_time,
            report.block_time_ms,
            report.lag_mean_blocks,
            report.lag_max_blocks
        );
        crate::write_results(
            &report,
            "the gossip benchmark",
            self.json.as_deref(),
            self.report.as_deref(),
        )
    }
}
