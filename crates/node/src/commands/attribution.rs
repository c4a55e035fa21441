//! `openledger attribution`: build and query suffix-array lineage indexes, run the evaluation
//! harness and the benchmarks of the Proof of Attribution engine (`ol-attribution`), with jobs
//! run by the in-process worker pool (`ol-workers`).

use alloy_primitives::{B256, keccak256};
use clap::{Args, Subcommand};
use eyre::{WrapErr, bail, eyre};
use indicatif::{ProgressBar, ProgressStyle};
use ol_attribution::{
    bench,
    corpus::read_documents,
    corpus_eval::{CorpusEvalSpec, eval_corpus},
    dataset::{TabularTasks, read_csv},
    eval::{self, EvalSpec},
    lineage::{BuildStage, EvidenceThreshold, LineageIndex, TextDocument, TokenWidth, TraceConfig},
    tokenizer::TextTokenizer,
    weights::contributor_weights,
};
use ol_workers::{DevicePreference, PoolConfig, Priority, WorkerPool, thread_budget};
use serde_json::json;
use std::{
    path::{Path, PathBuf},
    time::Instant,
};

/// Proof of Attribution tools.
#[derive(Debug, Clone, Args)]
pub struct AttributionCommand {
    /// The attribution command.
    #[command(subcommand)]
    pub command: AttributionSubcommand,

    /// Compute threads (default: the cores minus one, so the node keeps a core).
    #[arg(long = "threads", global = true, value_name = "N")]
    pub threads: Option<usize>,

    /// Device for model computations: cpu, cuda or cuda:<ordinal> (falls back to the CPU with a
    /// warning when CUDA is unavailable).
    #[arg(
        long = "device",
        global = true,
        default_value = "cpu",
        value_name = "DEVICE"
    )]
    pub device: DevicePreference,
}

/// The attribution commands.
#[derive(Debug, Clone, Subcommand)]
pub enum AttributionSubcommand {
    /// Suffix-array lineage indexes.
    #[command(subcommand)]
    Index(IndexCommand),
    /// Trace a text or a model output to documents and contributors
    ///
    /// Finds the maximal spans of the output that occur in the indexed Datanet documents
    /// (OLMoTrace-style), weighs them by length and rarity, keeps those above the index's
    /// evidence threshold (calibrated on text that occurs nowhere in the corpus), and prints
    /// the contributors' and Datanets' weights in parts per million with the evidence Merkle
    /// root. An output without evidence attributes nothing.
    #[command(verbatim_doc_comment)]
    Query(QueryCommand),
    /// Run the evaluation harness
    ///
    /// LDS against real retraining and leave-one-out correlation on logistic regression, LDS on
    /// an MLP, mislabel detection, and planted-canary recall for DataInf and suffix lineage, on
    /// data generated here; prints our numbers beside the published ones and fails when a
    /// target is missed.
    ///
    /// With --corpus DIR (a documents folder, as for `index build`): suffix lineage on real
    /// text. Holds out some contributors for invented sentences, indexes the rest, and reports
    /// on outputs that splice two contributors' passages around an invented sentence the share
    /// of the ppm on the true sources (precision), the share of true sources found (recall) and
    /// whether they rank first, and on outputs of invented sentences only the false-payout
    /// rate; with and without the calibrated evidence threshold. Fails when a goal is missed.
    #[command(verbatim_doc_comment)]
    Eval(EvalCommand),
    /// Run the benchmarks
    ///
    /// DataInf/TracIn query latency over gradient stores of N points × D projected dimensions,
    /// with the scan rate beside the memory bandwidth measured in the same run; suffix-array
    /// build throughput and 256-token trace latency over synthetic corpora.
    #[command(verbatim_doc_comment)]
    Bench(BenchCommand),
    /// Re-check a paid inference's record
    ///
    /// Reads the request, its prompt, the adapter and the approved contributions of its
    /// Datanets from a node (chain state at the request's block; the content store with reads
    /// signed by --key), re-runs the inference on the base model's files and the attribution,
    /// and compares output hash, method, contributors, weights, evidence root and token counts
    /// with the record on chain. Exits non-zero on any difference.
    #[command(verbatim_doc_comment)]
    Verify(super::verify::VerifyCommand),
}

/// `openledger attribution index`.
#[derive(Debug, Clone, Subcommand)]
pub enum IndexCommand {
    /// Build a new index from a folder of documents
    ///
    /// The folder holds one sub-folder per contributor, named by the contributor's address
    /// (0x + 40 hex digits); every regular file in it is one document (UTF-8 text) whose
    /// datapoint id is the keccak256 of its bytes. Hidden files are skipped.
    #[command(verbatim_doc_comment)]
    Build(IndexBuildArgs),
    /// Add documents to an existing index as a new shard (nothing is rebuilt).
    Add(IndexAddArgs),
    /// Print an index's shards and sizes.
    Info(IndexInfoArgs),
}

/// `openledger attribution index build`.
#[derive(Debug, Clone, Args)]
pub struct IndexBuildArgs {
    /// The documents folder (see above).
    #[arg(long = "docs", value_name = "DIR")]
    pub docs: PathBuf,
    /// Where to create the index.
    #[arg(long = "out", value_name = "DIR")]
    pub out: PathBuf,
    /// A tokenizer.json (default: the byte-level BPE shipped with the node).
    #[arg(long = "tokenizer", value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// The Datanet of the documents: a 0x-prefixed 32-byte id, or a name (hashed with keccak256).
    #[arg(long = "datanet", default_value = "default", value_name = "ID")]
    pub datanet: String,
}

/// `openledger attribution index add`.
#[derive(Debug, Clone, Args)]
pub struct IndexAddArgs {
    /// The index.
    #[arg(long = "index", value_name = "DIR")]
    pub index: PathBuf,
    /// The documents folder (same layout as for `build`).
    #[arg(long = "docs", value_name = "DIR")]
    pub docs: PathBuf,
    /// The Datanet of the documents.
    #[arg(long = "datanet", default_value = "default", value_name = "ID")]
    pub datanet: String,
}

/// `openledger attribution index info`.
#[derive(Debug, Clone, Args)]
pub struct IndexInfoArgs {
    /// The index.
    #[arg(long = "index", value_name = "DIR")]
    pub index: PathBuf,
}

/// `openledger attribution query`.
#[derive(Debug, Clone, Args)]
pub struct QueryCommand {
    /// The index.
    #[arg(long = "index", value_name = "DIR")]
    pub index: PathBuf,
    /// The text to trace.
    #[arg(long = "text", value_name = "TEXT", conflicts_with_all = ["file", "tokens"])]
    pub text: Option<String>,
    /// A file holding the text to trace.
    #[arg(long = "file", value_name = "FILE", conflicts_with = "tokens")]
    pub file: Option<PathBuf>,
    /// A model output as comma-separated token ids (of the index's tokenizer).
    #[arg(long = "tokens", value_name = "IDS", value_delimiter = ',')]
    pub tokens: Option<Vec<u32>>,
    /// Shortest span kept, in tokens.
    #[arg(long = "min-span-len", default_value_t = 4)]
    pub min_span_len: usize,
    /// Spans occurring more often than this are too common to attribute.
    #[arg(long = "max-count", default_value_t = 10)]
    pub max_count: u64,
    /// Evidence threshold in nats instead of the index's calibrated one (0: every span earns).
    #[arg(long = "min-evidence", value_name = "NATS")]
    pub min_evidence: Option<f64>,
    /// Print JSON (weights, spans, evidence with Merkle proofs) instead of tables.
    #[arg(long = "json")]
    pub json: bool,
}

/// `openledger attribution eval`.
#[derive(Debug, Clone, Args)]
pub struct EvalCommand {
    /// Run the fast subset (what the test suite runs) instead of the full evaluation.
    #[arg(long = "fast")]
    pub fast: bool,
    /// Print the report as JSON.
    #[arg(long = "json")]
    pub json: bool,
    /// Seed of the generated data.
    #[arg(long = "seed", default_value_t = 1)]
    pub seed: u64,
    /// Working directory for stores and indexes (default: a temporary directory).
    #[arg(long = "workdir", value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Evaluate suffix lineage on this documents folder instead (see above).
    #[arg(long = "corpus", value_name = "DIR", conflicts_with = "fast")]
    pub corpus: Option<PathBuf>,
    /// With --corpus: spliced outputs, and as many invented ones.
    #[arg(long = "outputs", default_value_t = 60, requires = "corpus")]
    pub outputs: usize,
    /// With --corpus: a tokenizer.json (default: the byte-level BPE shipped with the node).
    #[arg(long = "tokenizer", value_name = "FILE", requires = "corpus")]
    pub tokenizer: Option<PathBuf>,
    /// Run the tabular tasks (logistic regression and MLP LDS, leave-one-out, mislabel
    /// detection) on this CSV file instead of the generated mixtures: a header row, numeric
    /// features, the class in `--label`; standardised, a seeded fifth held out.
    #[arg(
        long = "dataset",
        value_name = "FILE.csv",
        conflicts_with = "corpus",
        requires = "label"
    )]
    pub dataset: Option<PathBuf>,
    /// With --dataset: the label column.
    #[arg(long = "label", value_name = "COLUMN", requires = "dataset")]
    pub label: Option<String>,
    /// Also write the results as an HTML page with charts (the LDS scatters of predicted
    /// against actual) to this file.
    #[arg(long = "report", value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

/// `openledger attribution bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchCommand {
    /// Gradient-store sizes (points).
    #[arg(
        long = "points",
        value_delimiter = ',',
        default_value = "1000,10000,100000"
    )]
    pub points: Vec<usize>,
    /// Projected dimensions.
    #[arg(long = "dims", value_delimiter = ',', default_value = "256,1024,4096")]
    pub dims: Vec<usize>,
    /// Row precisions of the scanned stores (`f32`, `f16`, `int8`).
    #[arg(long = "precisions", value_delimiter = ',', default_value = "f32")]
    pub precisions: Vec<ol_attribution::store::Precision>,
    /// Suffix-array corpus sizes (tokens).
    #[arg(
        long = "tokens",
        value_delimiter = ',',
        default_value = "10000000,100000000"
    )]
    pub tokens: Vec<usize>,
    /// Measurements per configuration.
    #[arg(long = "runs", default_value_t = 5)]
    pub runs: usize,
    /// 256-token traces per corpus.
    #[arg(long = "queries", default_value_t = 50)]
    pub queries: usize,
    /// Skip the gradient-store scans.
    #[arg(long = "no-scan")]
    pub no_scan: bool,
    /// Skip the suffix arrays.
    #[arg(long = "no-suffix")]
    pub no_suffix: bool,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
    /// Working directory (default: a temporary directory).
    #[arg(long = "workdir", value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Also write the results as an HTML page with charts (scan rate against bandwidth, trace
    /// latency by corpus size) to this file.
    #[arg(long = "report", value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

/// Writes `page` to `path` when one was asked for.
fn write_report(path: Option<&Path>, page: impl FnOnce() -> ol_report::Report) -> eyre::Result<()> {
    if let Some(path) = path {
        page()
            .write(path)
            .wrap_err_with(|| format!("writing the report {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    Ok(())
}

/// A Datanet id from the command line: a 0x-prefixed 32-byte id, or a name hashed with keccak256.
pub(crate) fn parse_datanet(s: &str) -> eyre::Result<B256> {
    if let Some(hex) = s.strip_prefix("0x") {
        return hex
            .parse::<B256>()
            .or_else(|_| s.parse::<B256>())
            .map_err(|e| eyre!("--datanet {s}: not a 32-byte hex id ({e})"));
    }
    Ok(keccak256(s.as_bytes()))
}

/// Progress bars for an index build: documents tokenised, then the suffix sort, then writing.
fn build_with_progress(index: &mut LineageIndex, docs: &[TextDocument]) -> eyre::Result<()> {
    let bar = ProgressBar::new(docs.len() as u64);
    let bar_style =
        ProgressStyle::with_template("{prefix:>12} [{bar:40}] {pos}/{len} {msg} ({elapsed})")
            .expect("valid template")
            .progress_chars("=> ");
    bar.set_style(bar_style.clone());
    bar.set_prefix("tokenizing");
    let mut stage = BuildStage::Tokenizing;
    let started = Instant::now();
    let info = index.add_text_documents(docs, |s, done, total| {
        if s != stage {
            stage = s;
            match s {
                BuildStage::Sorting => {
                    bar.set_style(
                        ProgressStyle::with_template("{prefix:>12} {spinner} {msg} ({elapsed})")
                            .expect("valid template"),
                    );
                    bar.set_prefix("sorting");
                    bar.set_message(format!("{total} tokens"));
                    bar.enable_steady_tick(std::time::Duration::from_millis(120));
                }
                BuildStage::Writing => {
                    bar.disable_steady_tick();
                    bar.set_style(bar_style.clone());
                    bar.set_prefix("writing");
                    bar.set_message("bytes");
                    bar.set_length(total);
                }
                BuildStage::Tokenizing => {}
            }
        }
        if s != BuildStage::Sorting {
            bar.set_position(done);
        }
    })?;
    bar.finish_and_clear();
    println!(
        "added shard: {} documents, {} tokens in {:.2} s; index: {} shards, {} documents, {} tokens",
        info.docs,
        info.tokens,
        started.elapsed().as_secs_f64(),
        index.shards().len(),
        index.total_docs(),
        index.total_tokens()
    );
    let cal = index.calibration();
    println!(
        "evidence threshold: {:.1} nats (calibrated on {} null tokens in {} outputs that occur nowhere else: {} chance spans, alpha {} per {} tokens)",
        cal.threshold,
        cal.null_tokens,
        cal.null_outputs,
        cal.null_spans,
        cal.spec.alpha,
        cal.spec.reference_len
    );
    Ok(())
}

impl AttributionCommand {
    /// Runs the command.
    pub fn execute(self) -> eyre::Result<()> {
        let threads = self.threads.unwrap_or_else(|| thread_budget(1));
        // SAFETY: called before this command starts any thread (the worker pool, scans, candle);
        // `openledger attribution` runs nothing else in the process.
        unsafe { ol_workers::cap_candle_threads(threads) };
        match self.command {
            AttributionSubcommand::Index(IndexCommand::Build(args)) => {
                let tokenizer = match &args.tokenizer {
                    Some(p) => TextTokenizer::from_file(p)?,
                    None => TextTokenizer::default_tokenizer()?,
                };
                let docs = read_documents(&args.docs, parse_datanet(&args.datanet)?)
                    .wrap_err("reading the documents")?;
                let mut index = LineageIndex::create(
                    &args.out,
                    Some(&tokenizer),
                    TokenWidth::for_vocab(tokenizer.vocab_size()),
                )?;
                build_with_progress(&mut index, &docs)
            }
            AttributionSubcommand::Index(IndexCommand::Add(args)) => {
                let mut index = LineageIndex::open(&args.index)?;
                let docs = read_documents(&args.docs, parse_datanet(&args.datanet)?)
                    .wrap_err("reading the documents")?;
                build_with_progress(&mut index, &docs)
            }
            AttributionSubcommand::Index(IndexCommand::Info(args)) => {
                let index = LineageIndex::open(&args.index)?;
                for (i, s) in index.shards().iter().enumerate() {
                    let info = s.info();
                    println!(
                        "shard {i}: {} documents, {} tokens, {:?}",
                        info.docs, info.tokens, info.token_width
                    );
                }
                println!(
                    "total: {} documents, {} tokens",
                    index.total_docs(),
                    index.total_tokens()
                );
                Ok(())
            }
            AttributionSubcommand::Query(args) => run_query(args, threads, self.device),
            AttributionSubcommand::Eval(args) => run_eval(&args, threads),
            AttributionSubcommand::Bench(args) => run_bench(&args, threads),
            AttributionSubcommand::Verify(args) => args.run(threads),
        }
    }
}

/// A span as printed: start, length, count, weight, text.
type SpanRow = (usize, usize, u64, f64, String);

/// Traces on the worker pool (one worker, high priority), as a node would for a paid inference.
fn run_query(args: QueryCommand, threads: usize, device: DevicePreference) -> eyre::Result<()> {
    let pool = WorkerPool::new(PoolConfig {
        workers: 1,
        queue_capacity: 4,
        threads_per_job: threads,
        reserved_cores: 0,
        device,
    })?;
    if let Some(reason) = pool.device_fallback() {
        eprintln!("warning: {reason}");
    }
    let text = match (&args.text, &args.file) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(f)) => {
            Some(std::fs::read_to_string(f).wrap_err_with(|| format!("reading {}", f.display()))?)
        }
        _ => None,
    };
    if text.is_none() && args.tokens.is_none() {
        bail!("give the output to trace with --text, --file or --tokens");
    }
    let cfg = TraceConfig {
        min_span_len: args.min_span_len,
        max_count: args.max_count,
        evidence: args
            .min_evidence
            .map_or(EvidenceThreshold::Calibrated, EvidenceThreshold::Nats),
        ..TraceConfig::default()
    };
    let index_dir = args.index.clone();
    let tokens = args.tokens.clone();
    let started = Instant::now();
    let job = pool.submit("trace", Priority::High, move |ctx| {
        ctx.check_cancelled()?;
        let index = LineageIndex::open(&index_dir).map_err(ol_workers::JobError::failed)?;
        let tokens = match (tokens, text) {
            (Some(t), _) => t,
            (None, Some(text)) => index
                .tokenizer()
                .ok_or_else(|| {
                    ol_workers::JobError::failed("the index has no tokenizer; use --tokens")
                })?
                .encode(&text)
                .map_err(ol_workers::JobError::failed)?,
            (None, None) => unreachable!("checked above"),
        };
        let trace = index
            .trace_tokens(&tokens, &cfg)
            .map_err(ol_workers::JobError::failed)?;
        let weights = contributor_weights(&trace.scores).map_err(ol_workers::JobError::failed)?;
        let describe = |spans: &[ol_attribution::lineage::Span]| -> Vec<SpanRow> {
            spans
                .iter()
                .map(|s| {
                    let text = index
                        .tokenizer()
                        .and_then(|t| t.decode(&tokens[s.start..s.start + s.len]).ok())
                        .unwrap_or_default();
                    (s.start, s.len, s.count, s.weight, text)
                })
                .collect()
        };
        let spans = describe(&trace.spans);
        let rejected = describe(&trace.rejected);
        Ok((tokens.len(), spans, rejected, trace.threshold, weights))
    })?;
    let (n_tokens, spans, rejected, threshold, weights) = job.wait()?;
    let span_json = |rows: &[SpanRow]| -> Vec<serde_json::Value> {
        rows.iter()
            .map(|(start, len, count, weight, text)| {
                json!({"start": start, "len": len, "count": count, "weight": weight, "text": text})
            })
            .collect()
    };
    let elapsed = started.elapsed();
    if args.json {
        let tree = weights.evidence_tree();
        let evidence: Vec<_> = tree
            .leaves()
            .iter()
            .enumerate()
            .map(|(i, l)| {
                json!({
                    "datapoint": l.datapoint.to_string(),
                    "contributor": l.contributor.to_checksum(None),
                    "score": l.score.to_string(),
                    "proof": tree.proof(i).iter().map(ToString::to_string).collect::<Vec<_>>(),
                })
            })
            .collect();
        let out = json!({
            "tokens": n_tokens,
            "evidenceThreshold": threshold,
            "spans": span_json(&spans),
            "rejectedSpans": span_json(&rejected),
            "contributors": weights.contributors.iter().map(|(a, w)| json!({"address": a.to_checksum(None), "ppm": w})).collect::<Vec<_>>(),
            "datanets": weights.datanets.iter().map(|(d, w)| json!({"id": d.to_string(), "ppm": w})).collect::<Vec<_>>(),
            "evidenceRoot": weights.evidence_root.to_string(),
            "evidence": evidence,
            "leafEncoding": ["bytes32", "address", "uint256"],
            "elapsedMs": elapsed.as_secs_f64() * 1e3,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{n_tokens} tokens traced in {:.1} ms; {} evidence spans (self-information above {threshold:.1} nats), {} below",
        elapsed.as_secs_f64() * 1e3,
        spans.len(),
        rejected.len()
    );
    for (start, len, count, weight, text) in &spans {
        println!("  span @{start:<5} len {len:<4} count {count:<3} weight {weight:>8.2}  {text:?}");
    }
    for (start, len, count, weight, text) in &rejected {
        println!(
            "  below @{start:<4} len {len:<4} count {count:<3} weight {weight:>8.2}  {text:?}"
        );
    }
    if weights.contributors.is_empty() {
        println!(
            "no evidence that the output comes from the index: no contributor is attributed (the record is empty and the contributors' share goes to the treasury)"
        );
        return Ok(());
    }
    println!("contributors (ppm):");
    for (a, w) in weights.ranked() {
        println!("  {}  {w:>9}", a.to_checksum(None));
    }
    println!("datanets (ppm):");
    for (d, w) in &weights.datanets {
        println!("  {d}  {w:>9}");
    }
    println!(
        "evidence root: {} ({} leaves)",
        weights.evidence_root,
        weights.evidence.len()
    );
    Ok(())
}

fn run_eval(args: &EvalCommand, threads: usize) -> eyre::Result<()> {
    if let Some(corpus) = &args.corpus {
        return run_corpus_eval(args, corpus);
    }
    let mut spec = if args.fast {
        EvalSpec::fast()
    } else {
        EvalSpec::full()
    };
    spec.seed = args.seed;
    spec.threads = threads;
    let tmp = tempfile::tempdir()?;
    let dir = args
        .workdir
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let quiet = args.json;
    let mut log = |msg: &str| {
        if !quiet {
            eprintln!("{msg}");
        }
    };
    let report = match (&args.dataset, &args.label) {
        (Some(file), Some(label)) => {
            let data = read_csv(file, label)?;
            let name = file.file_name().map_or_else(
                || file.display().to_string(),
                |n| n.to_string_lossy().into(),
            );
            let tasks = TabularTasks::from_dataset(&name, &data, spec.n_train, spec.seed)?;
            let report = eval::run_tabular(&spec, &tasks, &dir, &mut log)?;
            write_report(args.report.as_deref(), || {
                super::attribution_report::eval_report(&report)
            })?;
            // The targets are those of the generated tasks; a user's data is measured, not
            // graded.
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{}", report.render());
            }
            return Ok(());
        }
        _ => eval::run(&spec, &dir, &mut log)?,
    };
    write_report(args.report.as_deref(), || {
        super::attribution_report::eval_report(&report)
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", report.render());
    }
    let missed = report.missed_targets();
    if !missed.is_empty() {
        bail!("targets missed:\n  {}", missed.join("\n  "));
    }
    Ok(())
}

/// `eval --corpus`: suffix lineage on a folder of real documents.
fn run_corpus_eval(args: &EvalCommand, corpus: &Path) -> eyre::Result<()> {
    let tokenizer = match &args.tokenizer {
        Some(p) => TextTokenizer::from_file(p)?,
        None => TextTokenizer::default_tokenizer()?,
    };
    let docs = read_documents(corpus, keccak256(b"eval"))
        .wrap_err_with(|| format!("reading the corpus {}", corpus.display()))?;
    let tmp = tempfile::tempdir()?;
    let dir = args
        .workdir
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf())
        .join("corpus.index");
    let spec = CorpusEvalSpec {
        outputs: args.outputs,
        seed: args.seed,
        ..CorpusEvalSpec::default()
    };
    let quiet = args.json;
    let started = Instant::now();
    let report = eval_corpus(&docs, &tokenizer, &spec, &dir, &mut |msg| {
        if !quiet {
            eprintln!("{msg}");
        }
    })?;
    write_report(args.report.as_deref(), || {
        super::attribution_report::corpus_eval_report(&report)
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render());
        println!("({:.1} s)", started.elapsed().as_secs_f64());
    }
    let missed = report.missed_goals();
    if !missed.is_empty() {
        bail!("goals missed:\n  {}", missed.join("\n  "));
    }
    Ok(())
}

fn run_bench(args: &BenchCommand, threads: usize) -> eyre::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = args
        .workdir
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let config = bench::BenchConfig {
        points: if args.no_scan {
            Vec::new()
        } else {
            args.points.clone()
        },
        dims: args.dims.clone(),
        precisions: args.precisions.clone(),
        tokens: if args.no_suffix {
            Vec::new()
        } else {
            args.tokens.clone()
        },
        runs: args.runs,
        queries: args.queries,
        threads,
    };
    let quiet = args.json;
    let report = bench::run(&config, &dir, &mut |line| {
        if !quiet {
            println!("{line}");
        }
    })?;
    write_report(args.report.as_deref(), || {
        super::attribution_report::bench_report(&report)
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}
