//! `openledger bench unwind`: how fast the chain goes back, against how fast it went forward.
//!
//! 1. Forward: the workload's transfers (the setup, then ETH, then ERC-20), a fixed number per
//!    block, through the pool and block production in process; the measured blocks' production
//!    time is the baseline.
//! 2. One unwind of all of them (`openledger db unwind` of a long stretch), in blocks/s.
//! 3. The same transactions again, in the same blocks: every block hash must come out equal
//!    (the unwound state is exactly the state before, or the roots would differ).
//! 4. Reorg-sized unwinds: one block at a time, back over a stretch, with the latency of each
//!    (p50/p99).

use super::{ceiling::InProcess, workload::Workload};
use alloy_primitives::B256;
use clap::Args;
use eyre::{WrapErr, ensure, eyre};
use ol_chain::Chain;
use serde::Serialize;
use std::{path::PathBuf, time::Instant};

/// Measure unwinding the chain against block production (see the README's Benchmark section)
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct BenchUnwindCommand {
    /// Blocks of transfers to produce and unwind
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(2..=100_000))]
    pub blocks: u64,

    /// Transfers per block
    #[arg(long = "txs-per-block", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub txs_per_block: u64,

    /// Senders, each a fresh account funded in the setup
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub senders: u64,

    /// Blocks unwound one at a time in the reorg-sized part (at most --blocks)
    #[arg(long = "single-steps", default_value_t = 100)]
    pub single_steps: u64,

    /// Also write the results as JSON to this file
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Also write the results as an HTML page of tables to this file
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct UnwindReport {
    blocks: u64,
    txs_per_block: u64,
    /// Producing the measured blocks (execution, state root, commit), blocks/s.
    forward_blocks_per_s: f64,
    /// One unwind over all of them, blocks/s.
    unwind_blocks_per_s: f64,
    /// Unwind speed over production speed.
    unwind_over_forward: f64,
    /// Accounts and slots the long unwind restored.
    restored_keys: usize,
    /// Whether producing the same blocks again gave the same hashes.
    forward_again_identical: bool,
    /// One-block unwinds: how many, blocks/s, and latency.
    single_steps: u64,
    single_blocks_per_s: f64,
    single_p50_ms: f64,
    single_p99_ms: f64,
}

impl BenchUnwindCommand {
    /// Runs the benchmark.
    pub fn execute(self) -> eyre::Result<()> {
        let (workload, transfers) =
            Workload::of_transfers(self.senders, self.blocks * self.txs_per_block)?;
        let chunks: Vec<_> = transfers.chunks(self.txs_per_block as usize).collect();
        println!(
            "forward: {} blocks of {} transfers ({} senders)…",
            chunks.len(),
            self.txs_per_block,
            self.senders
        );
        // A gas limit that takes a whole chunk (an ERC-20 transfer spends at most 60,000).
        let node = InProcess::new((self.txs_per_block * 60_000 + 1_000_000).max(30_000_000))?;
        node.admit(&workload.setup)?;
        node.drain()?;
        let base = node.chain.head().number;

        let produce = |node: &InProcess| -> eyre::Result<(f64, Vec<B256>)> {
            let mut seconds = 0.0;
            let mut hashes = Vec::with_capacity(chunks.len());
            for chunk in &chunks {
                node.admit(chunk)?;
                let started = Instant::now();
                let (_, _, blocks) = node.drain()?;
                seconds += started.elapsed().as_secs_f64();
                ensure!(blocks == 1, "a chunk took {blocks} blocks");
                hashes.push(node.chain.head().hash());
            }
            Ok((seconds, hashes))
        };
        let (forward_seconds, hashes) = produce(&node)?;
        let blocks = hashes.len() as u64;

        println!("unwind: {blocks} blocks in one unwind…");
        let started = Instant::now();
        let unwound = unwind(&node.chain, base)?;
        let unwind_seconds = started.elapsed().as_secs_f64();

        println!("forward again: the same transactions…");
        let (_, again) = produce(&node)?;
        let forward_again_identical = again == hashes;
        ensure!(
            forward_again_identical,
            "producing the unwound blocks again gave other hashes: the unwound state differs"
        );

        let steps = self.single_steps.min(blocks);
        println!("unwind: {steps} blocks one at a time…");
        let mut latencies = Vec::with_capacity(steps as usize);
        let head = node.chain.head().number;
        for target in (head - steps..head).rev() {
            let started = Instant::now();
            unwind(&node.chain, target)?;
            latencies.push(started.elapsed().as_secs_f64());
        }
        latencies.sort_by(f64::total_cmp);
        let percentile = |p: f64| {
            latencies
                .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
                .map_or(0.0, |seconds| seconds * 1e3)
        };
        let single_seconds: f64 = latencies.iter().sum();
        let forward_blocks_per_s = blocks as f64 / forward_seconds;
        let unwind_blocks_per_s = blocks as f64 / unwind_seconds;
        let report = UnwindReport {
            blocks,
            txs_per_block: self.txs_per_block,
            forward_blocks_per_s,
            unwind_blocks_per_s,
            unwind_over_forward: unwind_blocks_per_s / forward_blocks_per_s,
            restored_keys: unwound.report.restored_keys,
            forward_again_identical,
            single_steps: steps,
            single_blocks_per_s: steps as f64 / single_seconds,
            single_p50_ms: percentile(0.5),
            single_p99_ms: percentile(0.99),
        };
        println!(
            "forward {:.1} blocks/s; one unwind of {} blocks {:.1} blocks/s ({:.2}× forward, {} keys restored); \
             forward again identical: {}; one-block unwinds {:.1} blocks/s, p50 {:.2} ms, p99 {:.2} ms",
            report.forward_blocks_per_s,
            report.blocks,
            report.unwind_blocks_per_s,
            report.unwind_over_forward,
            report.restored_keys,
            report.forward_again_identical,
            report.single_blocks_per_s,
            report.single_p50_ms,
            report.single_p99_ms
        );
        crate::write_results(
            &report,
            "the unwind benchmark",
            self.json.as_deref(),
            self.report.as_deref(),
        )
    }
}

fn unwind(chain: &Chain, target: u64) -> eyre::Result<ol_chain::Unwound> {
    chain
        .unwind_to(target)
        .wrap_err_with(|| eyre!("unwinding to block {target}"))
}
