//! Many registered adapters, few resident: an [`AdapterCache`] whose byte budget holds a tenth
//! of them, under a Zipf request mix (a few adapters are hot, most are rarely asked for), first
//! as bare acquisitions (look up, load on a miss), then end to end through the serving loop
//! ([`Scheduler`]) with a fixed number of clients in flight.

use super::{
    batches::{Shape, engine},
    loads::byte_sources,
    quantile,
    setup::{LoraTime, prompt},
};
use candle_core::Device;
use eyre::{bail, eyre};
use ol_inference::{
    LlamaModel, ModelConfig, SamplingParams,
    sampling::Rng,
    serve::{AdapterCache, CacheStats, Event, GenerateRequest, Lookup, Scheduler, SchedulerConfig},
};
use serde::Serialize;
use std::{
    sync::{Arc, mpsc},
    time::{Duration, Instant},
};
use tokenizers::Tokenizer;

/// Ranks `0..n` drawn with probability proportional to `1 / (rank + 1)^s`.
#[derive(Debug, Clone)]
pub(crate) struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// The distribution over `n` items with exponent `s`.
    pub(crate) fn new(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let mut cdf: Vec<f64> = (1..=n)
            .map(|k| {
                total += (k as f64).powf(-s);
                total
            })
            .collect();
        for p in &mut cdf {
            *p /= total;
        }
        Self { cdf }
    }

    /// One draw.
    pub(crate) fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.next_f64();
        self.cdf
            .partition_point(|&p| p <= u)
            .min(self.cdf.len() - 1)
    }
}

/// What the cache benchmark was asked to do.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CacheSetup {
    /// Adapters registered.
    pub(crate) registered: usize,
    /// Adapters the byte budget holds.
    pub(crate) resident: usize,
    /// Rank of every adapter.
    pub(crate) rank: usize,
    /// Zipf exponent.
    pub(crate) zipf: f64,
    /// Distinct files behind the registered names.
    pub(crate) distinct_files: usize,
    /// Bare acquisitions timed.
    pub(crate) lookups: usize,
    /// Requests served end to end.
    pub(crate) requests: usize,
    /// Clients in flight while serving.
    pub(crate) concurrency: usize,
    /// Threads, kernel and the size of each request.
    pub(crate) shape: Shape,
}

/// Hit rate and latencies of one phase.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PhaseStats {
    pub(crate) requests: usize,
    pub(crate) seconds: f64,
    pub(crate) requests_per_s: f64,
    /// Cache lookups that found the adapter resident.
    pub(crate) hit_rate: f64,
    pub(crate) loads: u64,
    pub(crate) evictions: u64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    /// Generated tokens per second (serving only).
    pub(crate) tokens_per_s: Option<f64>,
    /// Prompt tokens prefilled per second (serving only).
    pub(crate) prompt_tokens_per_s: Option<f64>,
}

/// The cache benchmark's results.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CacheResult {
    pub(crate) registered: usize,
    pub(crate) budget_adapters: usize,
    pub(crate) budget_bytes: usize,
    pub(crate) adapter_bytes: usize,
    pub(crate) rank: usize,
    pub(crate) zipf_s: f64,
    /// Distinct weight files behind the registered names (each name still loads its own copy).
    pub(crate) distinct_files: usize,
    /// Look up, and load on a miss, with nothing else running.
    pub(crate) acquire: PhaseStats,
    /// Requests through the scheduler, `concurrency` clients in flight.
    pub(crate) serve: PhaseStats,
    pub(crate) concurrency: usize,
    pub(crate) max_tokens: usize,
    pub(crate) resident_after: usize,
}

fn delta(before: CacheStats, after: CacheStats) -> (f64, u64, u64) {
    let hits = after.hits - before.hits;
    let misses = after.misses - before.misses;
    let rate = hits as f64 / (hits + misses).max(1) as f64;
    (
        rate,
        after.loads - before.loads,
        after.evictions - before.evictions,
    )
}

/// Registers `setup.registered` adapters, warms the cache, then runs both phases.
pub(crate) fn run(
    model: &Arc<LlamaModel>,
    tokenizer: &Arc<Tokenizer>,
    setup: CacheSetup,
    mut tick: impl FnMut(),
) -> eyre::Result<CacheResult> {
    let config: &ModelConfig = model.config();
    let (sources, adapter_bytes) = byte_sources(config, setup.rank, setup.distinct_files)?;
    let budget_bytes = setup.resident * adapter_bytes;
    let cache = Arc::new(AdapterCache::new(config.clone(), Device::Cpu, budget_bytes));
    for i in 0..setup.registered {
        cache.register(&name(i), sources[i % sources.len()].clone())?;
    }
    let zipf = Zipf::new(setup.registered, setup.zipf);
    let mut rng = Rng::new(0x5eed);
    // Warm-up: fill the cache to its steady state before anything is counted.
    for _ in 0..setup.resident * 2 {
        acquire(&cache, &name(zipf.sample(&mut rng)))?;
    }
    tick();

    let before = cache.stats();
    let mut ms = Vec::with_capacity(setup.lookups);
    let started = Instant::now();
    for _ in 0..setup.lookups {
        let t = Instant::now();
        acquire(&cache, &name(zipf.sample(&mut rng)))?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let seconds = started.elapsed().as_secs_f64();
    let (hit_rate, loads, evictions) = delta(before, cache.stats());
    ms.sort_by(f64::total_cmp);
    let acquire = PhaseStats {
        requests: setup.lookups,
        seconds,
        requests_per_s: setup.lookups as f64 / seconds,
        hit_rate,
        loads,
        evictions,
        p50_ms: quantile(&ms, 0.5),
        p99_ms: quantile(&ms, 0.99),
        tokens_per_s: None,
        prompt_tokens_per_s: None,
    };
    tick();

    let serve = serve(model, tokenizer, &cache, &zipf, &mut rng, setup)?;
    tick();
    Ok(CacheResult {
        registered: setup.registered,
        budget_adapters: setup.resident,
        budget_bytes,
        adapter_bytes,
        rank: setup.rank,
        zipf_s: setup.zipf,
        distinct_files: sources.len(),
        acquire,
        serve,
        concurrency: setup.concurrency,
        max_tokens: setup.shape.max_tokens,
        resident_after: cache.stats().resident,
    })
}

fn name(i: usize) -> String {
    format!("adapter-{i}")
}

fn acquire(cache: &AdapterCache, name: &str) -> eyre::Result<()> {
    match cache.lookup(name) {
        Lookup::Ready(_) => Ok(()),
        Lookup::Cold => cache.load(name).map(drop).map_err(Into::into),
        Lookup::Unknown => bail!("{name} is not registered"),
    }
}

/// A finished request: (index, completion tokens) or its failure.
type Done = (usize, Result<usize, String>);

/// Closed loop through the scheduler: `concurrency` requests in flight, a new one submitted as
/// each finishes; latency from submission to the last token.
fn serve(
    model: &Arc<LlamaModel>,
    tokenizer: &Arc<Tokenizer>,
    cache: &Arc<AdapterCache>,
    zipf: &Zipf,
    rng: &mut Rng,
    setup: CacheSetup,
) -> eyre::Result<PhaseStats> {
    let engine = engine(model.clone(), setup.shape, &Arc::new(LoraTime::default()))?;
    let scheduler = Scheduler::start(
        engine,
        tokenizer.clone(),
        cache.clone(),
        SchedulerConfig {
            max_batch_size: setup.concurrency,
            max_waiting: setup.concurrency * 2,
            ..SchedulerConfig::default()
        },
    )?;
    let (tx, rx) = mpsc::channel::<Done>();
    let mut submitted_at = Vec::with_capacity(setup.requests);
    let submit = |index: usize, rng: &mut Rng| -> eyre::Result<Instant> {
        let tx = tx.clone();
        let sink = move |event: Event| {
            match event {
                Event::Delta { .. } => {}
                Event::Finished {
                    completion_tokens, ..
                } => {
                    let _ = tx.send((index, Ok(completion_tokens)));
                }
                Event::Failed(why) => {
                    let _ = tx.send((index, Err(why)));
                }
            }
            true
        };
        let request = GenerateRequest {
            adapter: Some(name(zipf.sample(rng))),
            prompt: prompt(index, setup.shape.prompt_tokens),
            params: SamplingParams {
                max_tokens: setup.shape.max_tokens,
                ignore_eos: true,
                seed: index as u64,
                ..SamplingParams::default()
            },
            stop: Vec::new(),
            skip_special_tokens: true,
            sink: Box::new(sink),
        };
        let at = Instant::now();
        scheduler
            .submit(request)
            .map_err(|e| eyre!("submitting request {index}: {e}"))?;
        Ok(at)
    };
    let before = cache.stats();
    let started = Instant::now();
    for index in 0..setup.concurrency.min(setup.requests) {
        submitted_at.push(submit(index, rng)?);
    }
    let mut ms = vec![0.0; setup.requests];
    let mut tokens = 0;
    for _ in 0..setup.requests {
        let (index, outcome) = rx
            .recv_timeout(Duration::from_secs(600))
            .map_err(|_| eyre!("the serving loop stopped answering"))?;
        tokens += outcome.map_err(|why| eyre!("request {index} failed: {why}"))?;
        ms[index] = submitted_at[index].elapsed().as_secs_f64() * 1e3;
        let next = submitted_at.len();
        if next < setup.requests {
            submitted_at.push(submit(next, rng)?);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let (hit_rate, loads, evictions) = delta(before, cache.stats());
    drop(scheduler);
    ms.sort_by(f64::total_cmp);
    Ok(PhaseStats {
        requests: setup.requests,
        seconds,
        requests_per_s: setup.requests as f64 / seconds,
        hit_rate,
        loads,
        evictions,
        p50_ms: quantile(&ms, 0.5),
        p99_ms: quantile(&ms, 0.99),
        tokens_per_s: Some(tokens as f64 / seconds),
        prompt_tokens_per_s: Some((setup.requests * setup.shape.prompt_tokens) as f64 / seconds),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_favours_low_ranks_and_stays_in_range() {
        let zipf = Zipf::new(100, 1.1);
        let mut rng = Rng::new(1);
        let mut counts = [0usize; 100];
        for _ in 0..20_000 {
            counts[zipf.sample(&mut rng)] += 1;
        }
        assert!(counts[0] > counts[1] && counts[1] > counts[10] && counts[10] > counts[99]);
        // P(rank 0) = 1 / H(100, 1.1) ≈ 0.22.
        let p0 = counts[0] as f64 / 20_000.0;
        assert!((0.19..0.25).contains(&p0), "{p0}");
    }
}
