//! The benchmarks of the `openledger` binary (`openledger bench …`), kept in their own crate as
//! reth keeps `reth-bench`: the node depends on this crate for [`BenchCommand`], never the other
//! way round, so the benchmarks can drive the node's crates (and the node binary itself) without
//! weighing on them.
//!
//! - `openledger bench`: the throughput benchmark against anvil. It signs one workload (an
//!   ERC-20 deployment and the funding of many senders, then N native transfers and N ERC-20
//!   transfers, interleaved across senders), then for each target (this node as a dev
//!   sequencer, and anvil with the same chain id, accounts, block time and gas limit) starts
//!   it, runs the setup, and runs each phase: batched concurrent `eth_sendRawTransaction` until
//!   every transaction is mined. It reports throughput, latency and gas rates per target with
//!   the ratios, the node's own block execution + state root + commit rate from its Prometheus
//!   metrics, and the ceiling: the same transactions through the node's pool and block
//!   production in process, without RPC.
//! - `openledger bench rollup`: the batcher's and the follower's data paths ([`rollup`]).
//! - `openledger bench inference`: OpenLoRA serving on a small random Llama model: mixed-adapter
//!   batches against the base model and the one-at-a-time baselines, adapter cold loads, and an
//!   adapter cache under a Zipf request mix ([`inference`]).
//! - `openledger bench factory`: Model Factory training tokens/s and peak memory for LoRA ranks
//!   and full training against the forward pass alone ([`factory`]).
//! - `openledger bench unwind`: unwinding the chain against producing it, and the same blocks
//!   produced again bit for bit ([`unwind`]).
//! - `openledger bench gossip`: a sealed block to a follower's unsafe head over libp2p, against
//!   the block time ([`gossip`]).

mod ceiling;
mod client;
pub mod factory;
pub mod gossip;
pub mod inference;
pub mod lifecycle;
mod load;
pub mod rollup;
mod target;
pub mod unwind;
mod workload;

use clap::Args;
use eyre::{WrapErr, bail};
use load::PhaseResult;
use serde::Serialize;
use std::{collections::HashMap, path::PathBuf, time::Duration};
use target::Target;
use workload::Workload;

pub use factory::BenchFactoryCommand;
pub use gossip::BenchGossipCommand;
pub use inference::BenchInferenceCommand;
pub use rollup::BenchRollupCommand;
pub use unwind::BenchUnwindCommand;

/// Measure throughput against anvil (see the README's Benchmark section)
#[derive(Debug, Clone, PartialEq, Eq, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchCommand {
    /// Another benchmark instead of the throughput one
    #[command(subcommand)]
    pub other: Option<BenchSubcommand>,

    /// Senders, each a fresh account funded in the setup
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub senders: u64,

    /// Transactions of each kind per sender: a phase sends senders × rounds transactions
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub rounds: u64,

    /// Transactions per JSON-RPC batch
    #[arg(long = "batch-size", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub batch_size: u64,

    /// Batches in flight at once
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub concurrency: u64,

    /// Block gas limit of both targets
    #[arg(long = "gas-limit", default_value_t = 1_000_000_000)]
    pub gas_limit: u64,

    /// Seconds between blocks on both targets
    #[arg(long = "block-time", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub block_time: u64,

    /// The anvil binary (default: the npm-installed one of this checkout, else `anvil` on PATH)
    #[arg(long, value_name = "PATH")]
    pub anvil: Option<PathBuf>,

    /// Skip anvil (no ratios)
    #[arg(long = "no-anvil")]
    pub no_anvil: bool,

    /// Also write the results as JSON to this file
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Also write the results as an HTML page of tables to this file
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

/// The other benchmarks.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum BenchSubcommand {
    /// The batcher (blocks/s, MB/s into DA, brotli against zlib) and follower derivation
    /// (blocks/s, Mgas/s) against the sequencer's own block production
    Rollup(BenchRollupCommand),
    /// OpenLoRA inference on a small random Llama model: decode tokens/s and time to first
    /// token of mixed-adapter batches against the base model and the merged and unmerged
    /// one-at-a-time paths, adapter cold loads, and an adapter cache under a Zipf request mix
    Inference(BenchInferenceCommand),
    /// Model Factory training: tokens/s of a training step (forward, backward, AdamW) for LoRA
    /// ranks and full training against the forward pass alone, with peak memory
    Factory(BenchFactoryCommand),
    /// Paid inference end to end through the chain: fulfilled requests/s, request-to-fulfil
    /// latency in blocks and seconds, attribution time against inference time, worker busy
    Lifecycle(lifecycle::BenchLifecycleCommand),
    /// Unwinding the chain (one long unwind and reorg-sized one-block unwinds) against block
    /// production, and the same blocks produced again bit for bit
    Unwind(BenchUnwindCommand),
    /// Unsafe blocks over libp2p gossip: sequencer seal to follower executed (p50/p99) against
    /// the block time, and the follower's head lag, at 1,000 transfers per block
    Gossip(BenchGossipCommand),
}

/// One target's results.
#[derive(Debug, Default, Serialize)]
struct TargetReport {
    phases: Vec<PhaseResult>,
    /// The node's block execution + state root + commit rate per phase, from its metrics.
    node_block_mgas_per_s: Vec<Option<f64>>,
}

#[derive(Debug, Serialize)]
struct Report {
    senders: u64,
    rounds: u64,
    gas_limit: u64,
    block_time: u64,
    phases: Vec<&'static str>,
    targets: HashMap<&'static str, TargetReport>,
    ceiling: Vec<ceiling::CeilingResult>,
}

/// Writes `results` as JSON to `json` and as an HTML page of tables titled `title` to `report`,
/// each when given.
pub(crate) fn write_results(
    results: &impl Serialize,
    title: &str,
    json: Option<&std::path::Path>,
    report: Option<&std::path::Path>,
) -> eyre::Result<()> {
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_string_pretty(results)? + "\n")
            .wrap_err_with(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = report {
        let value = serde_json::to_value(results)?;
        let mut page = ol_report::Report::new(format!("openledger: {title}"));
        page.json_section("results", &value);
        page.write(path)
            .wrap_err_with(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Seconds of block execution, state root and commit, and gas, from the node's metrics.
fn block_work(samples: &HashMap<String, f64>) -> (f64, f64) {
    let get = |name: &str| samples.get(name).copied().unwrap_or_default();
    (
        get("sequencer_block_execution_seconds_sum")
            + get("sequencer_block_state_root_seconds_sum")
            + get("sequencer_block_commit_seconds_sum"),
        get("sequencer_block_gas_used_sum"),
    )
}

impl BenchCommand {
    /// Runs the benchmark on a new tokio runtime.
    pub fn execute(self) -> eyre::Result<()> {
        match self.other {
            Some(BenchSubcommand::Rollup(command)) => return command.execute(),
            Some(BenchSubcommand::Inference(command)) => return command.execute(),
            Some(BenchSubcommand::Factory(command)) => return command.execute(),
            Some(BenchSubcommand::Lifecycle(command)) => return command.execute(),
            Some(BenchSubcommand::Unwind(command)) => return command.execute(),
            Some(BenchSubcommand::Gossip(command)) => return command.execute(),
            None => {}
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .wrap_err("cannot start the tokio runtime")?;
        runtime.block_on(self.run())
    }

    async fn run_target(&self, target: &Target, workload: &Workload) -> eyre::Result<TargetReport> {
        let (concurrency, batch) = (self.concurrency as usize, self.batch_size as usize);
        let setup = load::run_phase(
            target.client.clone(),
            &workload.setup,
            concurrency,
            batch,
            &format!("{} setup", target.name),
        )
        .await?;
        if setup.included != workload.setup.len() || setup.failed > 0 {
            bail!(
                "{}: the setup did not complete ({} of {} mined, {} failed, first refusal: {:?})",
                target.name,
                setup.included,
                workload.setup.len(),
                setup.failed,
                setup.first_refusal
            );
        }
        let mut report = TargetReport::default();
        for (kind, txs) in &workload.phases {
            let before = match target.metrics_url {
                Some(_) => Some(target.scrape().await?),
                None => None,
            };
            let result = load::run_phase(
                target.client.clone(),
                txs,
                concurrency,
                batch,
                &format!("{} {}", target.name, kind.label()),
            )
            .await?;
            let node_rate = match before {
                Some(before) => {
                    // Let the block holding the last transaction land in the histograms.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let (seconds_after, gas_after) = block_work(&target.scrape().await?);
                    let (seconds_before, gas_before) = block_work(&before);
                    let seconds = seconds_after - seconds_before;
                    (seconds > 0.0).then(|| (gas_after - gas_before) / 1e6 / seconds)
                }
                None => None,
            };
            report.phases.push(result);
            report.node_block_mgas_per_s.push(node_rate);
        }
        Ok(report)
    }

    async fn run(self) -> eyre::Result<()> {
        let chain_id = ol_primitives::dev::DEV_CHAIN_ID;
        let workload = Workload::new(chain_id, self.senders as usize, self.rounds as usize)?;
        let per_phase = self.senders * self.rounds;
        println!(
            "workload: {} senders; {per_phase} ETH transfers, then {per_phase} ERC-20 transfers \
             (token {}); {} s blocks, gas limit {}; batches of {}, {} in flight",
            self.senders,
            workload.token,
            self.block_time,
            self.gas_limit,
            self.batch_size,
            self.concurrency
        );

        let mut targets = HashMap::new();
        let node = Target::openledger(self.gas_limit, self.block_time).await?;
        let outcome = self.run_target(&node, &workload).await;
        if outcome.is_err() {
            eprintln!("the node's last log lines:\n{}", node.log_tail(20));
        }
        node.stop().await;
        targets.insert("openledger", outcome.wrap_err("openledger")?);
        if !self.no_anvil {
            let bin = target::find_anvil(self.anvil.as_deref());
            let anvil = Target::anvil(&bin, self.gas_limit, self.block_time)
                .await
                .wrap_err_with(|| format!("starting anvil ({})", bin.display()))?;
            let outcome = self.run_target(&anvil, &workload).await;
            anvil.stop().await;
            targets.insert("anvil", outcome.wrap_err("anvil")?);
        }
        println!(
            "in-process ceiling: the same transactions through the pool and block production…"
        );
        let ceiling = tokio::task::block_in_place(|| ceiling::run(&workload, self.gas_limit))?;

        let report = Report {
            senders: self.senders,
            rounds: self.rounds,
            gas_limit: self.gas_limit,
            block_time: self.block_time,
            phases: workload
                .phases
                .iter()
                .map(|(kind, _)| kind.label())
                .collect(),
            targets,
            ceiling,
        };
        print_report(&report);
        crate::write_results(
            &report,
            "the throughput benchmark",
            self.json.as_deref(),
            self.report.as_deref(),
        )?;
        Ok(())
    }
}

fn print_report(report: &Report) {
    let ours = &report.targets["openledger"];
    let anvil = report.targets.get("anvil");
    for (index, label) in report.phases.iter().enumerate() {
        let node = &ours.phases[index];
        let other = anvil.map(|anvil| &anvil.phases[index]);
        println!("\n{label}: {} sent", node.sent);
        println!(
            "  {:<34}{:>14}{:>14}{:>10}",
            "", "openledger", "anvil", "ratio"
        );
        let row = |name: &str, value: fn(&PhaseResult) -> f64, higher_is_better: bool| {
            let ours = value(node);
            match other {
                Some(other) => {
                    let theirs = value(other);
                    let ratio = if higher_is_better {
                        ours / theirs
                    } else {
                        theirs / ours
                    };
                    println!("  {name:<34}{ours:>14.1}{theirs:>14.1}{ratio:>9.2}x");
                }
                None => println!("  {name:<34}{ours:>14.1}"),
            }
        };
        row("mined", |r| r.included as f64, true);
        row("tx/s (first submit → last mined)", |r| r.tx_per_s, true);
        row("p50 submit → mined (ms)", |r| r.p50_ms, false);
        row("p99 submit → mined (ms)", |r| r.p99_ms, false);
        row("Mgas/s end to end", |r| r.mgas_per_s, true);
        if let Some(rate) = ours.node_block_mgas_per_s[index] {
            println!(
                "  node block execution + state root + commit: {rate:.1} Mgas/s (its metrics)"
            );
        }
        if let Some(ceiling) = report.ceiling.get(index) {
            println!(
                "  in-process ceiling: {:.0} tx/s, {:.1} Mgas/s of block production ({} blocks); \
                 pool admission {:.0} tx/s",
                ceiling.tx_per_s,
                ceiling.mgas_per_s,
                ceiling.blocks,
                ceiling.included as f64 / ceiling.admission_seconds
            );
        }
        if node.refused > 0 || other.is_some_and(|other| other.refused > 0) {
            println!(
                "  refused: openledger {} ({:?}), anvil {}",
                node.refused,
                node.first_refusal,
                other.map_or(0, |other| other.refused)
            );
        }
    }
}
