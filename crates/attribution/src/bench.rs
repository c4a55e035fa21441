//! Benchmarks: query latency of the gradient-store scans against the memory bandwidth measured
//! in the same run, and suffix-array build and query speed. Run by
//! `openledger attribution bench` (release build); not part of the test suite.

use crate::{
    Result,
    influence::{self, ScanOptions},
    lineage::{DocMeta, LineageIndex, TokenWidth, TraceConfig},
    projection::ProjectionSpec,
    rng::Rng,
    scan,
    store::{GradientStore, Precision, RowMeta, StoreWriter},
};
use alloy_primitives::{Address, B256, keccak256};
use serde::Serialize;
use std::{path::Path, time::Instant};

/// Read bandwidth of a `bytes`-sized buffer summed with `threads` threads (best of 3), GB/s
/// (10⁹ bytes per second).
pub fn memory_bandwidth(bytes: usize, threads: usize) -> f64 {
    let n = bytes / 4;
    let data: Vec<f32> = (0..n).map(|i| (i % 1024) as f32).collect();
    let row = 4096;
    let rows = n / row;
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        let partial = scan::par_chunks(rows, threads, None, |_, r| {
            scan::sum_all(&data[r.start * row..r.end * row])
        })
        .unwrap_or_default();
        std::hint::black_box(partial);
        best = best.min(t.elapsed().as_secs_f64());
    }
    (rows * row * 4) as f64 / best / 1e9
}

/// One scan measurement.
#[derive(Debug, Clone, Serialize)]
pub struct ScanBench {
    /// Rows (training points).
    pub points: usize,
    /// Projected dimension.
    pub dim: usize,
    /// The number type of the rows.
    pub precision: Precision,
    /// Size of the rows section, bytes.
    pub store_bytes: usize,
    /// DataInf query latency (two passes), milliseconds (median of runs).
    pub datainf_ms: f64,
    /// DataInf effective read rate, GB/s.
    pub datainf_gbs: f64,
    /// TracIn query latency (one pass, one checkpoint), milliseconds.
    pub tracin_ms: f64,
    /// TracIn read rate, GB/s.
    pub tracin_gbs: f64,
    /// A plain pass (a sum) over the same mapped rows with the same threads, GB/s (median of
    /// the same number of runs): the bandwidth the scans are measured against.
    pub plain_pass_gbs: f64,
}

/// Median seconds of a plain pass over `rows` (`row_len` floats per row) with `threads` threads.
fn plain_pass_seconds(rows: &[f32], row_len: usize, threads: usize, runs: usize) -> f64 {
    let n_rows = rows.len() / row_len.max(1);
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let partial = scan::par_chunks(n_rows, threads, None, |_, r| {
            scan::sum_all(&rows[r.start * row_len..r.end * row_len])
        });
        std::hint::black_box(partial);
        times.push(t.elapsed().as_secs_f64());
    }
    median(times)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Writes a store of `points` random rows of `dim` values (one layer, one checkpoint) to `path`
/// at `precision`.
pub fn synthetic_store(
    path: &Path,
    points: usize,
    dim: usize,
    precision: Precision,
    seed: u64,
) -> Result<GradientStore> {
    let projection = ProjectionSpec::new(seed, &[("layer".into(), dim)], dim);
    let mut w = StoreWriter::create(
        path,
        "datainf",
        B256::ZERO,
        projection,
        vec![1.0],
        vec![B256::ZERO],
    )?
    .with_precision(precision);
    let mut rng = Rng::new(seed);
    let mut row = vec![0.0f32; dim];
    for i in 0..points {
        for v in &mut row {
            *v = (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
        }
        let meta = RowMeta {
            datapoint: keccak256((i as u64).to_le_bytes()),
            contributor: Address::with_last_byte((i % 251) as u8),
            datanet: 0,
            label: 0,
        };
        w.push(meta, &row)?;
    }
    w.finish(None)?;
    GradientStore::open(path)
}

/// Measures DataInf and TracIn query latency over a synthetic store.
pub fn scan_bench(
    dir: &Path,
    points: usize,
    dim: usize,
    precision: Precision,
    threads: usize,
    runs: usize,
) -> Result<ScanBench> {
    let path = dir.join(format!("bench-{points}-{dim}-{precision}.olgs"));
    let store = synthetic_store(&path, points, dim, precision, 7)?;
    let query: Vec<f32> = store.row(0).to_vec();
    let opts = ScanOptions {
        threads,
        cancel: None,
    };
    // Warm the page cache.
    std::hint::black_box(influence::tracin_scores(&store, &query, opts)?);
    let mut di = Vec::new();
    let mut tr = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        std::hint::black_box(influence::datainf_scores(&store, &query, opts)?);
        di.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        std::hint::black_box(influence::tracin_scores(&store, &query, opts)?);
        tr.push(t.elapsed().as_secs_f64());
    }
    let bytes = store.rows_bytes();
    let (d, t) = (median(di), median(tr));
    // The baseline reads the same bytes: the rows section as 4-byte lanes, whatever the
    // precision.
    let raw = store.rows_raw();
    let plain = plain_pass_seconds(raw, (raw.len() / points.max(1)).max(1), threads, runs);
    drop(store);
    let _ = std::fs::remove_file(&path);
    Ok(ScanBench {
        points,
        dim,
        precision,
        store_bytes: bytes,
        datainf_ms: d * 1e3,
        datainf_gbs: 2.0 * bytes as f64 / d / 1e9,
        tracin_ms: t * 1e3,
        tracin_gbs: bytes as f64 / t / 1e9,
        plain_pass_gbs: bytes as f64 / plain / 1e9,
    })
}

/// One suffix-array measurement.
#[derive(Debug, Clone, Serialize)]
pub struct SuffixBench {
    /// Corpus tokens.
    pub tokens: usize,
    /// Documents.
    pub docs: usize,
    /// Time to build the shard (suffix sort and writing), seconds.
    pub build_s: f64,
    /// Build throughput, tokens per second.
    pub build_tokens_per_s: f64,
    /// Median trace latency of a 256-token output, milliseconds.
    pub query_ms: f64,
    /// 95th-percentile trace latency, milliseconds.
    pub query_p95_ms: f64,
    /// Mean spans found per query (each query copies 4 spans of 24 tokens from the corpus).
    pub spans_per_query: f64,
}

/// A Zipf(1.1) sampler over `vocab` ids.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(vocab: usize) -> Self {
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = (1..=vocab)
            .map(|r| {
                acc += 1.0 / (r as f64).powf(1.1);
                acc
            })
            .collect();
        for c in &mut cdf {
            *c /= acc;
        }
        Self { cdf }
    }

    fn sample(&self, rng: &mut Rng) -> u32 {
        let u = rng.uniform();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1) as u32
    }
}

/// Builds a `tokens`-token synthetic corpus (Zipf over 32,000 ids, 500-token documents,
/// 1,000 contributors) as one shard and traces 256-token outputs through it.
pub fn suffix_bench(dir: &Path, tokens: usize, queries: usize, seed: u64) -> Result<SuffixBench> {
    let vocab = 32_000;
    let zipf = Zipf::new(vocab);
    let mut rng = Rng::new(seed);
    let doc_len = 500;
    let n_docs = tokens.div_ceil(doc_len);
    let docs: Vec<(DocMeta, Vec<u32>)> = (0..n_docs)
        .map(|i| {
            let meta = DocMeta {
                datapoint: keccak256((i as u64).to_le_bytes()),
                contributor: Address::from_slice(&keccak256((i as u64 % 1000).to_be_bytes())[12..]),
                datanet: B256::ZERO,
            };
            let len = doc_len.min(tokens - i * doc_len);
            (meta, (0..len).map(|_| zipf.sample(&mut rng)).collect())
        })
        .collect();
    let index_dir = dir.join(format!("bench-index-{tokens}"));
    if index_dir.exists() {
        let _ = std::fs::remove_dir_all(&index_dir);
    }
    let mut index = LineageIndex::create(&index_dir, None, TokenWidth::U16)?;
    let t = Instant::now();
    index.add_token_documents(&docs, |_, _, _| {})?;
    let build_s = t.elapsed().as_secs_f64();
    let cfg = TraceConfig::default();
    let mut times = Vec::new();
    let mut spans = 0usize;
    for _ in 0..queries.max(1) {
        let mut out = Vec::with_capacity(256);
        while out.len() < 256 {
            // 40 fresh tokens, then 24 copied from a random document.
            out.extend((0..40).map(|_| zipf.sample(&mut rng)));
            let (_, d) = &docs[rng.below(docs.len() as u64) as usize];
            if d.len() > 24 {
                let at = rng.below((d.len() - 24) as u64) as usize;
                out.extend_from_slice(&d[at..at + 24]);
            }
        }
        out.truncate(256);
        let t = Instant::now();
        let trace = index.trace_tokens(&out, &cfg)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        spans += trace.spans.len();
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let p95 = sorted[(sorted.len() * 95 / 100).min(sorted.len() - 1)];
    drop(index);
    let _ = std::fs::remove_dir_all(&index_dir);
    Ok(SuffixBench {
        tokens,
        docs: n_docs,
        build_s,
        build_tokens_per_s: tokens as f64 / build_s,
        query_ms: median(times),
        query_p95_ms: p95,
        spans_per_query: spans as f64 / queries.max(1) as f64,
    })
}

/// What [`run`] measures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchConfig {
    /// Gradient-store sizes (points); empty skips the scans.
    pub points: Vec<usize>,
    /// Projected dimensions.
    pub dims: Vec<usize>,
    /// Suffix-array corpus sizes (tokens); empty skips the suffix arrays.
    pub tokens: Vec<usize>,
    /// Row precisions of the scan grid.
    pub precisions: Vec<Precision>,
    /// Measurements per scan configuration.
    pub runs: usize,
    /// 256-token traces per corpus.
    pub queries: usize,
    /// Scan threads.
    pub threads: usize,
}

impl Default for BenchConfig {
    /// The grid: 1k/10k/100k points × 256/1024/4096 dimensions; 10M and 100M tokens.
    fn default() -> Self {
        Self {
            points: vec![1_000, 10_000, 100_000],
            dims: vec![256, 1024, 4096],
            tokens: vec![10_000_000, 100_000_000],
            precisions: vec![Precision::F32],
            runs: 5,
            queries: 50,
            threads: 1,
        }
    }
}

/// Everything [`run`] measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The configuration.
    pub config: BenchConfig,
    /// Memory read bandwidth with the scan threads (1 GiB buffer), GB/s; 0 when scans are
    /// skipped.
    pub memory_bandwidth_gbs: f64,
    /// Scan measurements.
    pub scan: Vec<ScanBench>,
    /// Suffix-array measurements.
    pub suffix: Vec<SuffixBench>,
}

/// Runs the benchmarks in `dir`, calling `log` with each line of the report as it is measured.
pub fn run(config: &BenchConfig, dir: &Path, log: &mut dyn FnMut(&str)) -> Result<BenchReport> {
    let mut report = BenchReport {
        config: config.clone(),
        memory_bandwidth_gbs: 0.0,
        scan: Vec::new(),
        suffix: Vec::new(),
    };
    if !config.points.is_empty() {
        let bw = memory_bandwidth(1 << 30, config.threads);
        report.memory_bandwidth_gbs = bw;
        log(&format!(
            "memory read bandwidth ({} threads, 1 GiB buffer, best of 3): {bw:.2} GB/s; %bw below is \
             against a plain pass over the same mapped rows (column `pass GB/s`, median)",
            config.threads
        ));
        log(&format!(
            "{:>8} {:>6} {:>5} {:>10} {:>10} {:>12} {:>8} {:>6} {:>12} {:>8} {:>6}",
            "points",
            "dim",
            "prec",
            "store MB",
            "pass GB/s",
            "DataInf ms",
            "GB/s",
            "%bw",
            "TracIn ms",
            "GB/s",
            "%bw"
        ));
        let grid = config.points.iter().flat_map(|&p| {
            config
                .dims
                .iter()
                .flat_map(move |&d| config.precisions.iter().map(move |&q| (p, d, q)))
        });
        for (p, d, q) in grid {
            {
                let r = scan_bench(dir, p, d, q, config.threads, config.runs)?;
                log(&format!(
                    "{:>8} {:>6} {:>5} {:>10.1} {:>10.2} {:>12.3} {:>8.2} {:>5.0}% {:>12.3} {:>8.2} {:>5.0}%",
                    r.points,
                    r.dim,
                    r.precision.name(),
                    r.store_bytes as f64 / 1e6,
                    r.plain_pass_gbs,
                    r.datainf_ms,
                    r.datainf_gbs,
                    100.0 * r.datainf_gbs / r.plain_pass_gbs,
                    r.tracin_ms,
                    r.tracin_gbs,
                    100.0 * r.tracin_gbs / r.plain_pass_gbs
                ));
                report.scan.push(r);
            }
        }
    }
    if !config.tokens.is_empty() {
        log(&format!(
            "{:>12} {:>8} {:>10} {:>14} {:>10} {:>10} {:>7}",
            "tokens", "docs", "build s", "build tok/s", "trace ms", "p95 ms", "spans"
        ));
        for &t in &config.tokens {
            let r = suffix_bench(dir, t, config.queries, 3)?;
            log(&format!(
                "{:>12} {:>8} {:>10.2} {:>14.0} {:>10.3} {:>10.3} {:>7.1}",
                r.tokens,
                r.docs,
                r.build_s,
                r.build_tokens_per_s,
                r.query_ms,
                r.query_p95_ms,
                r.spans_per_query
            ));
            report.suffix.push(r);
        }
    }
    Ok(report)
}
