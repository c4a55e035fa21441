//! `openledger bench inference`: OpenLoRA serving on one machine, in one run.
//!
//! The model is a Llama of about 30M parameters with random weights (until the Model Factory
//! trains the project's own), written in the Hugging Face layout to a temporary folder and read
//! back with [`load_model_dir`](ol_inference::load_model_dir), the path `openledger serve` takes.
//! The adapters are random PEFT adapters on all seven projections of every block.
//!
//! 1. Decode tokens/s and time to first token of batches of 1, 8, 32 and 128 requests: the
//!    base model alone, and mixed batches where every request has its own adapter (rank 8 and
//!    64), against two one-request-at-a-time baselines measured in the same run: the adapter
//!    merged into a copy of the base (`LlamaModel::merged`), and the naive unmerged path (each
//!    request alone through the engine). Ratios are against the base at the same batch size;
//!    the share of decode time spent in the LoRA kernel is the profile.
//! 2. Adapter cold loads through the adapter cache, from a PEFT folder and from bytes.
//! 3. 5,000 registered adapters under a byte budget that holds 500, Zipf(1.1) requests: bare
//!    acquisitions, then requests end to end through the serving loop.

mod batches;
mod cache;
mod loads;
mod report;
mod setup;

use crate::load::quantile;
use batches::{RunResult, Shape};
use cache::{CacheResult, CacheSetup};
use clap::Args;
use eyre::{WrapErr, ensure};
use indicatif::{ProgressBar, ProgressStyle};
use loads::LoadResult;
use serde::Serialize;
use setup::{LoraTime, ModelInfo};

pub use setup::KernelChoice;
use std::{path::PathBuf, sync::Arc};

/// The Zipf exponent of the cache benchmark's request mix (the 1.1).
const ZIPF_S: f64 = 1.1;
/// The batch size the goal is stated for.
const GOAL_BATCH: usize = 32;
/// The goal: mixed batches of `GOAL_BATCH` adapters at this share of the base's tokens/s.
const GOAL_RATIO: f64 = 0.9;

/// Measure OpenLoRA inference (see the README's Benchmark section)
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct BenchInferenceCommand {
    /// A CI-sized smoke run: a 2-block model 64 wide, batches of 1 and 4, a few tokens, 200
    /// registered adapters (every other default below shrinks with it)
    #[arg(long)]
    pub quick: bool,

    /// Engine threads [default: the machine's cores]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,

    /// Tokens generated per request [default: 32; quick 4]
    #[arg(long = "max-tokens", value_parser = clap::value_parser!(u64).range(2..=512))]
    pub max_tokens: Option<u64>,

    /// Prompt tokens per request [default: 32; quick 8]
    #[arg(long = "prompt-tokens", value_parser = clap::value_parser!(u64).range(1..=512))]
    pub prompt_tokens: Option<u64>,

    /// Batch sizes, comma-separated [default: 1,8,32,128; quick 1,4]
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub batches: Option<Vec<u64>>,

    /// Adapter ranks, comma-separated [default: 8,64; quick 8,16]
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u64).range(1..=512))]
    pub ranks: Option<Vec<u64>>,

    /// Requests of each one-at-a-time baseline, and the fewest requests any batch size is
    /// timed over [default: 8; quick 2]
    #[arg(long = "baseline-requests", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub baseline_requests: Option<u64>,

    /// Cold loads timed per rank and source [default: 100; quick 10]
    #[arg(long = "load-samples", value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub load_samples: Option<u64>,

    /// Adapters registered in the cache benchmark [default: 5000; quick 200]
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..=1_000_000))]
    pub registered: Option<u64>,

    /// Adapters the cache's byte budget holds [default: registered / 10]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub resident: Option<u64>,

    /// Acquisitions (look up, load on a miss) timed in the cache benchmark [default: 20000;
    /// quick 500]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub lookups: Option<u64>,

    /// Requests served end to end in the cache benchmark [default: 512; quick 16]
    #[arg(long = "serve-requests", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub serve_requests: Option<u64>,

    /// Clients in flight while serving [default: 32; quick 4]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub concurrency: Option<u64>,

    /// The CPU LoRA kernel (per-adapter: the one before the gathered pass, to compare)
    #[arg(long = "lora-kernel", value_enum, default_value_t = KernelChoice::Gathered)]
    pub lora_kernel: KernelChoice,

    /// Also write the results as JSON to this file
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Also write the results as an HTML page with charts (tokens/s per adapter count) to this
    /// file
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

/// The flags with their defaults filled in.
#[derive(Debug, Clone, Serialize)]
struct Plan {
    quick: bool,
    threads: usize,
    prompt_tokens: usize,
    max_tokens: usize,
    batches: Vec<usize>,
    ranks: Vec<usize>,
    baseline_requests: usize,
    load_samples: usize,
    registered: usize,
    resident: usize,
    lookups: usize,
    serve_requests: usize,
    concurrency: usize,
    lora_kernel: KernelChoice,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
struct Report {
    plan: Plan,
    model: ModelInfo,
    /// Base and mixed-adapter batches, by batch size then rank.
    batches: Vec<RunResult>,
    /// One request at a time, merged and unmerged, by rank.
    baselines: Vec<RunResult>,
    /// The goal: mixed batches of 32 adapters at 90% of the base's tokens/s.
    goal: Vec<Goal>,
    cold_loads: Vec<LoadResult>,
    cache: CacheResult,
}

/// The goal's verdict for one rank.
#[derive(Debug, Clone, Serialize)]
struct Goal {
    batch: usize,
    rank: usize,
    ratio: f64,
    target: f64,
    met: bool,
}

fn pick(value: Option<u64>, full: usize, quick: usize, is_quick: bool) -> usize {
    value.map_or(if is_quick { quick } else { full }, |v| v as usize)
}

impl BenchInferenceCommand {
    fn plan(&self) -> Plan {
        let q = self.quick;
        let list = |v: &Option<Vec<u64>>, full: &[usize], quick: &[usize]| match v {
            Some(v) => v.iter().map(|&x| x as usize).collect(),
            None if q => quick.to_vec(),
            None => full.to_vec(),
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let registered = pick(self.registered, 5000, 200, q);
        Plan {
            quick: q,
            threads: self.threads.map_or(cores, |t| t as usize),
            prompt_tokens: pick(self.prompt_tokens, 32, 8, q),
            max_tokens: pick(self.max_tokens, 32, 4, q),
            batches: list(&self.batches, &[1, 8, 32, 128], &[1, 4]),
            ranks: list(&self.ranks, &[8, 64], &[8, 16]),
            baseline_requests: pick(self.baseline_requests, 8, 2, q),
            load_samples: pick(self.load_samples, 100, 10, q),
            registered,
            resident: self
                .resident
                .map_or_else(|| (registered / 10).max(1), |r| r as usize),
            lookups: pick(self.lookups, 20_000, 500, q),
            serve_requests: pick(self.serve_requests, 512, 16, q),
            concurrency: pick(self.concurrency, 32, 4, q),
            lora_kernel: self.lora_kernel,
        }
    }

    /// Runs the benchmark, prints the report, and writes it as JSON when asked.
    pub fn execute(self) -> eyre::Result<()> {
        let plan = self.plan();
        let report = run(plan)?;
        report::print(&report);
        if let Some(path) = &self.json {
            std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
                .wrap_err_with(|| format!("writing {}", path.display()))?;
        }
        if let Some(path) = &self.report {
            report::html(&report)
                .write(path)
                .wrap_err_with(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }
}

/// The progress bar: one tick per measured configuration.
fn progress(len: usize) -> eyre::Result<ProgressBar> {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>40} [{bar:30}] {pos}/{len} ({elapsed})")
            .wrap_err("progress template")?
            .progress_chars("=> "),
    );
    Ok(bar)
}

fn run(plan: Plan) -> eyre::Result<Report> {
    ensure!(
        plan.resident < plan.registered,
        "the cache must hold fewer adapters than are registered"
    );
    let dir = tempfile::tempdir()?;
    let (base, model) = setup::write_and_load(
        setup::model_config(plan.quick)?,
        1,
        &dir.path().join("model"),
    )?;
    println!(
        "model: llama, random weights, {:.1}M parameters ({} blocks, hidden {}, MLP {}, {} heads, \
         {} KV heads, vocabulary {}), written in the HF layout and loaded back with \
         load_model_dir in {:.2} s",
        model.parameters as f64 / 1e6,
        model.layers,
        model.hidden_size,
        model.intermediate_size,
        model.attention_heads,
        model.kv_heads,
        model.vocab_size,
        model.load_seconds
    );
    println!(
        "{} threads; {} prompt tokens and {} generated tokens per request, greedy; adapters on \
         all 7 projections; {:?} LoRA kernel",
        plan.threads, plan.prompt_tokens, plan.max_tokens, plan.lora_kernel
    );
    let tokenizer = Arc::new(base.tokenizer);
    let llama = Arc::new(base.model);
    let shape = Shape {
        prompt_tokens: plan.prompt_tokens,
        max_tokens: plan.max_tokens,
        threads: plan.threads,
        kernel: plan.lora_kernel,
    };
    let runs = plan.batches.len() * (1 + plan.ranks.len()) + 2 * plan.ranks.len();
    let bar = progress(runs + plan.ranks.len() + 3)?;
    let time = Arc::new(LoraTime::default());
    let engine = batches::engine(llama.clone(), shape, &time)?;
    // Untimed: the first batch pays for the allocator's first large blocks.
    batches::batch_round(&engine, &time, 2, 0, &[], shape)?;

    let most = plan.batches.iter().copied().max().unwrap_or(1);
    let mut by_rank = Vec::with_capacity(plan.ranks.len());
    for &r in &plan.ranks {
        bar.set_message(format!("rank {r}: {most} random adapters"));
        let adapters = (0..most.max(plan.baseline_requests))
            .map(|i| setup::adapter(llama.config(), r, (r * 1000 + i) as u64))
            .collect::<eyre::Result<Vec<_>>>()?;
        by_rank.push(adapters);
    }
    let mut batch_results = Vec::new();
    let mut base_rate = std::collections::BTreeMap::new();
    for &b in &plan.batches {
        // The base, then each rank, round after round.
        let configs: Vec<&[Arc<ol_inference::LoraAdapter>]> = std::iter::once(&[][..])
            .chain(by_rank.iter().map(|a| &a[..b]))
            .collect();
        let mut totals = vec![batches::Totals::default(); configs.len()];
        for round in 0..plan.baseline_requests.div_ceil(b).max(1) {
            bar.set_message(format!("batch {b}, round {}", round + 1));
            for (total, adapters) in totals.iter_mut().zip(&configs) {
                let run = batches::batch_round(&engine, &time, b, round, adapters, shape)?;
                *total = total.add(run);
            }
        }
        for (total, adapters) in totals.into_iter().zip(&configs) {
            let mut run = batches::batch_result(total, b, adapters);
            match run.path {
                "base" => {
                    base_rate.insert(b, run.decode_tokens_per_s);
                }
                _ => run.vs_base = Some(run.decode_tokens_per_s / base_rate[&b]),
            }
            batch_results.push(run);
            bar.inc(1);
        }
    }
    let mut baselines = Vec::new();
    for (adapters, r) in by_rank.iter().zip(&plan.ranks) {
        bar.set_message(format!("rank {r}, one at a time"));
        let sample = &adapters[..plan.baseline_requests];
        baselines.extend(batches::one_at_a_time(
            &llama, &engine, &time, sample, shape,
        )?);
        bar.inc(2);
    }
    drop(by_rank);
    let one = base_rate.get(&1).copied();
    for run in &mut baselines {
        run.vs_base = one.map(|base| run.decode_tokens_per_s / base);
    }
    let goal = batch_results
        .iter()
        .filter(|r| r.path == "mixed" && r.batch == GOAL_BATCH)
        .filter_map(|r| {
            Some(Goal {
                batch: r.batch,
                rank: r.rank?,
                ratio: r.vs_base?,
                target: GOAL_RATIO,
                met: r.vs_base? >= GOAL_RATIO,
            })
        })
        .collect();

    let mut cold_loads = Vec::new();
    for &r in &plan.ranks {
        bar.set_message(format!("cold loads, rank {r}"));
        let distinct = plan.load_samples.min(20);
        cold_loads.extend(loads::cold_loads(
            llama.config(),
            r,
            plan.load_samples,
            distinct,
            &dir.path().join("adapters"),
        )?);
        bar.inc(1);
    }

    let rank = plan.ranks.first().copied().unwrap_or(8);
    bar.set_message(format!(
        "cache: {} adapters, room for {}",
        plan.registered, plan.resident
    ));
    let setup = CacheSetup {
        registered: plan.registered,
        resident: plan.resident,
        rank,
        zipf: ZIPF_S,
        distinct_files: plan.registered.min(32),
        lookups: plan.lookups,
        requests: plan.serve_requests,
        concurrency: plan.concurrency,
        shape: Shape {
            max_tokens: plan.max_tokens.min(8),
            ..shape
        },
    };
    let cache = cache::run(&llama, &tokenizer, setup, || bar.inc(1))?;
    bar.finish_and_clear();
    Ok(Report {
        plan,
        model,
        batches: batch_results,
        baselines,
        goal,
        cold_loads,
        cache,
    })
}
