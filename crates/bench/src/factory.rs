//! `openledger bench factory`: Model Factory training throughput on one machine, in one run.
//!
//! For a Llama model (a trained one from `--model DIR`, or random weights of the CI size and of
//! the larger size), measures tokens/s of the forward pass alone (the loss without gradients)
//! and of a whole training step (forward, backward, AdamW) for LoRA adapters of ranks 8 and 64
//! on all seven projections and for full training of every weight, on the same batches, with
//! the peak resident memory of each configuration. The ratio forward / training per token is
//! what the goal is stated in (a training step within 4× a forward pass).

use candle_core::Device;
use clap::Args;
use eyre::{WrapErr, ensure};
use ol_factory::{
    Checkpoints, LoraSpec, TrainSpec, Trainee,
    trainer::{mean_loss, train},
};
use ol_inference::{
    LlamaModel, ModelConfig, load_model_dir,
    sampling::Rng,
    train::{AdapterVars, ModelVars},
};
use serde::Serialize;
use serde_json::json;
use std::{path::PathBuf, time::Instant};

/// The goal: a training step costs at most this many forward passes per token.
const GOAL_RATIO: f64 = 4.0;

/// Measure Model Factory training throughput (see the README's Benchmark section)
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct BenchFactoryCommand {
    /// A CI-sized smoke run: the CI model only, two steps per configuration
    #[arg(long)]
    pub quick: bool,

    /// A model folder (Hugging Face layout) instead of the random CI and larger models
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,

    /// Sequences per batch
    #[arg(long = "batch-size", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub batch_size: u64,

    /// Tokens per sequence
    #[arg(long = "seq-len", default_value_t = 128, value_parser = clap::value_parser!(u64).range(2..=8192))]
    pub seq_len: u64,

    /// Training steps timed per configuration [default: 6; quick 2]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub steps: Option<u64>,

    /// LoRA ranks, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "8,64", value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub ranks: Vec<u64>,

    /// Compute threads [default: the machine's cores]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,

    /// Also write the results as JSON to this file
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Also write the results as an HTML page of tables to this file
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

/// One measured configuration.
#[derive(Debug, Clone, Serialize)]
struct Row {
    model: String,
    parameters: usize,
    what: String,
    trained_parameters: usize,
    forward_tokens_per_s: f64,
    train_tokens_per_s: f64,
    /// Forward tokens/s over training tokens/s: how many forward passes a step costs.
    step_over_forward: f64,
    peak_rss_mib: Option<f64>,
    goal_met: bool,
}

/// The peak resident set of this process since the last reset, in MiB (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Resets the peak resident set to the current one (Linux ≥ 4.0), so each configuration
/// reports its own peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn config(
    hidden: usize,
    intermediate: usize,
    layers: usize,
    heads: usize,
    kv: usize,
    vocab: usize,
) -> eyre::Result<ModelConfig> {
    let value = json!({
        "model_type": "llama", "hidden_size": hidden, "intermediate_size": intermediate,
        "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv,
        "vocab_size": vocab, "max_position_embeddings": 2048, "rms_norm_eps": 1e-5,
    });
    ModelConfig::from_json(value.to_string().as_bytes()).wrap_err("the benchmark model config")
}

impl BenchFactoryCommand {
    /// Runs the benchmark and prints the table.
    pub fn execute(self) -> eyre::Result<()> {
        let threads = self.threads.map_or_else(
            || std::thread::available_parallelism().map_or(1, |n| n.get()),
            |t| t as usize,
        );
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .wrap_err("starting the compute threads")?;
        let models: Vec<(String, LlamaModel)> = match &self.model {
            Some(dir) => vec![(
                dir.display().to_string(),
                load_model_dir(dir, &Device::Cpu)?.model,
            )],
            None => {
                let mut m = vec![(
                    "ci (random)".to_string(),
                    LlamaModel::random(config(64, 128, 2, 4, 2, 400)?, 1, &Device::Cpu)?,
                )];
                if !self.quick {
                    m.push((
                        "larger (random)".to_string(),
                        LlamaModel::random(config(256, 688, 6, 8, 4, 2048)?, 1, &Device::Cpu)?,
                    ));
                }
                m
            }
        };
        let steps = self
            .steps
            .map_or(if self.quick { 2 } else { 6 }, |s| s as usize);
        println!(
            "{threads} threads; batches of {} sequences × {} tokens; {steps} timed steps per configuration",
            self.batch_size, self.seq_len
        );
        let mut rows = Vec::new();
        for (name, model) in &models {
            rows.extend(pool.install(|| self.measure(name, model, steps))?);
        }
        println!(
            "{:<18} {:>8} {:<10} {:>10} {:>12} {:>12} {:>10} {:>10}",
            "model",
            "params",
            "training",
            "trained",
            "fwd tok/s",
            "train tok/s",
            "step/fwd",
            "peak MiB"
        );
        for r in &rows {
            println!(
                "{:<18} {:>7.2}M {:<10} {:>10} {:>12.0} {:>12.0} {:>9.2}× {:>10}",
                r.model,
                r.parameters as f64 / 1e6,
                r.what,
                r.trained_parameters,
                r.forward_tokens_per_s,
                r.train_tokens_per_s,
                r.step_over_forward,
                r.peak_rss_mib
                    .map_or_else(|| "-".into(), |m| format!("{m:.0}")),
            );
        }
        let met = rows.iter().filter(|r| r.goal_met).count();
        println!(
            "goal (a training step ≤ {GOAL_RATIO}× a forward pass per token): met by {met} of {} configurations",
            rows.len()
        );
        crate::write_results(
            &rows,
            "the Model Factory benchmark",
            self.json.as_deref(),
            self.report.as_deref(),
        )?;
        Ok(())
    }

    fn measure(&self, name: &str, model: &LlamaModel, steps: usize) -> eyre::Result<Vec<Row>> {
        let c = model.config();
        let seq_len = (self.seq_len as usize).min(c.max_position_embeddings);
        let batch = self.batch_size as usize;
        let mut rng = Rng::new(7);
        let seqs: Vec<Vec<u32>> = (0..batch * steps)
            .map(|_| {
                (0..seq_len)
                    .map(|_| (rng.next_u64() % c.vocab_size as u64) as u32)
                    .collect()
            })
            .collect();
        let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
        let parameters: usize = model
            .to_tensors()?
            .values()
            .map(candle_core::Tensor::elem_count)
            .sum();
        let predicted = (refs.len() * (seq_len - 1)) as f64;
        let dir = tempfile::tempdir()?;
        let mut rows = Vec::new();
        let mut configs: Vec<Option<usize>> =
            self.ranks.iter().map(|&r| Some(r as usize)).collect();
        configs.push(None);
        for rank in configs {
            reset_peak_rss();
            let spec = TrainSpec {
                lora: rank.map(|r| LoraSpec {
                    rank: r,
                    alpha: 2.0 * r as f64,
                    target_modules: ol_inference::Target::ALL
                        .iter()
                        .map(|t| t.name().to_string())
                        .collect(),
                }),
                epochs: 1,
                batch_size: batch,
                max_seq_len: seq_len,
                checkpoint_every: 0,
                learning_rate: 1e-4,
                ..TrainSpec::default()
            };
            let trainee = match &spec.lora {
                Some(lora) => {
                    let init = AdapterVars::init(
                        lora.adapter_config(None),
                        c,
                        1,
                        candle_core::DType::F32,
                        &Device::Cpu,
                    );
                    match init {
                        Ok(adapter) => Trainee::Lora {
                            base: model.clone(),
                            adapter,
                        },
                        // A rank above a projection's width: the factory refuses it, so
                        // does the benchmark, and goes on with the other configurations.
                        Err(e @ ol_inference::InferenceError::AdapterMismatch(_)) => {
                            println!("{name}: skipped: {e}");
                            continue;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                None => Trainee::Full(ModelVars::from_model(model)?),
            };
            let trained: usize = trainee.vars().iter().map(|(_, v)| v.elem_count()).sum();
            // Forward only: the same batches, no gradients (the adapter, if any, applied).
            let (served, adapter) = match &trainee {
                Trainee::Lora { base, adapter } => (base.clone(), Some(adapter.snapshot()?)),
                Trainee::Full(vars) => (vars.snapshot()?, None),
            };
            let started = Instant::now();
            mean_loss(&served, adapter.as_ref(), &refs, batch)?;
            let forward = predicted / started.elapsed().as_secs_f64();
            let checkpoints = Checkpoints::new(&dir.path().join("unused"), String::new());
            let started = Instant::now();
            let outcome = train(&trainee, &refs, &spec, &checkpoints, false, None, |_| {})?;
            let training = outcome.tokens as f64 / started.elapsed().as_secs_f64();
            ensure!(
                outcome.steps == steps,
                "the run took {} steps",
                outcome.steps
            );
            let ratio = forward / training;
            rows.push(Row {
                model: name.to_string(),
                parameters,
                what: rank.map_or_else(|| "full".to_string(), |r| format!("LoRA r{r}")),
                trained_parameters: trained,
                forward_tokens_per_s: forward,
                train_tokens_per_s: training,
                step_over_forward: ratio,
                peak_rss_mib: peak_rss_mib(),
                goal_met: ratio <= GOAL_RATIO,
            });
        }
        Ok(rows)
    }
}
