//! Decode throughput and time to first token: the base model alone and mixed-adapter batches
//! through one engine, and the two one-request-at-a-time baselines (the adapter merged into a
//! copy of the base, and the unmerged adapter path with a batch of one). The caller interleaves
//! the configurations it compares, round by round, so that a passing slowdown of the machine
//! (another process) lands on all of them rather than on one.

use super::setup::{KernelChoice, LoraTime, TimedLoraKernel, prompt};
use eyre::ensure;
use ol_inference::{Batch, Engine, LlamaModel, LoraAdapter, Request, SamplingParams};
use serde::Serialize;
use std::{sync::Arc, time::Instant};

/// How each request of a run looks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// Prompt tokens per request.
    pub(crate) prompt_tokens: usize,
    /// Tokens generated per request.
    pub(crate) max_tokens: usize,
    /// Worker threads of every engine.
    pub(crate) threads: usize,
    /// The LoRA kernel of every engine.
    pub(crate) kernel: KernelChoice,
}

/// One measured configuration.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunResult {
    /// `base` (no adapter), `mixed` (one batch, a distinct adapter per request), `merged` or
    /// `unmerged` (one request at a time).
    pub(crate) path: &'static str,
    /// Requests in the batch (1 for the one-at-a-time paths).
    pub(crate) batch: usize,
    /// Distinct adapters in the batch.
    pub(crate) adapters: usize,
    /// Their rank (`None` for the base).
    pub(crate) rank: Option<usize>,
    /// Requests measured.
    pub(crate) requests: usize,
    /// Tokens sampled after each request's first, per second of the steps that sampled them.
    pub(crate) decode_tokens_per_s: f64,
    /// Mean time from a request's start to its first token (the prefill step).
    pub(crate) ttft_ms: f64,
    /// Share of the decode steps spent in the LoRA kernel.
    pub(crate) lora_share: f64,
    /// Mean milliseconds to merge one adapter into a copy of the base (`merged` only).
    pub(crate) merge_ms: Option<f64>,
    /// `decode_tokens_per_s` over the base model's at the same batch size.
    pub(crate) vs_base: Option<f64>,
}

/// Totals of one or more batches.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Totals {
    requests: usize,
    batches: usize,
    ttft_seconds: f64,
    decode_seconds: f64,
    decode_tokens: usize,
    lora_seconds: f64,
}

impl Totals {
    /// Both totals together.
    pub(crate) fn add(self, other: Self) -> Self {
        Self {
            requests: self.requests + other.requests,
            batches: self.batches + other.batches,
            ttft_seconds: self.ttft_seconds + other.ttft_seconds,
            decode_seconds: self.decode_seconds + other.decode_seconds,
            decode_tokens: self.decode_tokens + other.decode_tokens,
            lora_seconds: self.lora_seconds + other.lora_seconds,
        }
    }

    fn result(
        self,
        path: &'static str,
        batch: usize,
        adapters: usize,
        rank: Option<usize>,
    ) -> RunResult {
        RunResult {
            path,
            batch,
            adapters,
            rank,
            requests: self.requests,
            decode_tokens_per_s: self.decode_tokens as f64 / self.decode_seconds.max(1e-9),
            ttft_ms: self.ttft_seconds * 1e3 / self.batches.max(1) as f64,
            lora_share: self.lora_seconds / self.decode_seconds.max(1e-9),
            merge_ms: None,
            vs_base: None,
        }
    }
}

/// An engine over `model` whose LoRA kernel reports to `time`.
pub(crate) fn engine(
    model: Arc<LlamaModel>,
    shape: Shape,
    time: &Arc<LoraTime>,
) -> eyre::Result<Engine> {
    let mut engine = Engine::new(model, shape.threads)?;
    engine.set_lora_kernel(Box::new(TimedLoraKernel {
        time: time.clone(),
        kernel: shape.kernel,
    }));
    Ok(engine)
}

fn request(index: usize, adapter: Option<Arc<LoraAdapter>>, shape: Shape) -> Request {
    Request {
        prompt: prompt(index, shape.prompt_tokens),
        adapter,
        params: SamplingParams {
            max_tokens: shape.max_tokens,
            ignore_eos: true,
            seed: index as u64,
            ..SamplingParams::default()
        },
    }
}

/// Runs `requests` as one batch to completion: the first step is every prefill (each
/// request's first token), the rest decode one token per request.
fn run_batch(engine: &Engine, requests: Vec<Request>, time: &LoraTime) -> eyre::Result<Totals> {
    let mut batch = Batch::new();
    let n = requests.len();
    for r in requests {
        engine.add(&mut batch, r)?;
    }
    let started = Instant::now();
    let first = engine.step(&mut batch)?;
    let ttft_seconds = started.elapsed().as_secs_f64();
    ensure!(
        first.len() == n,
        "the prefill step sampled {} of {n}",
        first.len()
    );
    time.reset();
    let started = Instant::now();
    let mut decode_tokens = 0;
    while batch.active() > 0 {
        decode_tokens += engine.step(&mut batch)?.len();
    }
    Ok(Totals {
        requests: n,
        batches: 1,
        ttft_seconds,
        decode_seconds: started.elapsed().as_secs_f64(),
        decode_tokens,
        lora_seconds: time.seconds(),
    })
}

/// One batch of `batch` requests, number `round` of its configuration: request `i` gets
/// adapter `i` of `adapters` (none when empty), so every request of a batch has its own.
pub(crate) fn batch_round(
    engine: &Engine,
    time: &LoraTime,
    batch: usize,
    round: usize,
    adapters: &[Arc<LoraAdapter>],
    shape: Shape,
) -> eyre::Result<Totals> {
    let requests = (0..batch)
        .map(|i| {
            let index = round * batch + i;
            let adapter = (!adapters.is_empty()).then(|| adapters[index % adapters.len()].clone());
            request(index, adapter, shape)
        })
        .collect();
    run_batch(engine, requests, time)
}

/// The result of a batch configuration over its rounds.
pub(crate) fn batch_result(
    totals: Totals,
    batch: usize,
    adapters: &[Arc<LoraAdapter>],
) -> RunResult {
    match adapters.first() {
        None => totals.result("base", batch, 0, None),
        Some(a) => totals.result(
            "mixed",
            batch,
            batch.min(adapters.len()),
            Some(a.config().r),
        ),
    }
}

/// The two one-at-a-time baselines over `adapters`, request by request in turn (so a passing
/// slowdown of the machine touches both alike): each request alone on a copy of the base with
/// its adapter merged (merge time reported apart, not in the token rates), and alone through
/// `engine` with its adapter unmerged, the naive path.
pub(crate) fn one_at_a_time(
    base: &LlamaModel,
    engine: &Engine,
    time: &Arc<LoraTime>,
    adapters: &[Arc<LoraAdapter>],
    shape: Shape,
) -> eyre::Result<[RunResult; 2]> {
    let (mut merged, mut unmerged) = (Totals::default(), Totals::default());
    let mut merge_seconds = 0.0;
    for (index, a) in adapters.iter().enumerate() {
        let started = Instant::now();
        let model = Arc::new(base.merged(a)?);
        merge_seconds += started.elapsed().as_secs_f64();
        let alone = self::engine(model, shape, time)?;
        let one = vec![request(index, None, shape)];
        merged = merged.add(run_batch(&alone, one, time)?);
        let one = vec![request(index, Some(a.clone()), shape)];
        unmerged = unmerged.add(run_batch(engine, one, time)?);
    }
    let rank = adapters.first().map(|a| a.config().r);
    let mut merged = merged.result("merged", 1, 1, rank);
    merged.merge_ms = Some(merge_seconds * 1e3 / adapters.len().max(1) as f64);
    Ok([merged, unmerged.result("unmerged", 1, 1, rank)])
}
