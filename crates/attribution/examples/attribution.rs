//! The evaluation and the benchmarks without the node binary (which needs RocksDB and the EVM
//! to build): `cargo run --release -p ol-attribution --example attribution -- eval|eval-fast|bench
//! [points=1000,10000 dims=256,1024 tokens=10000000 threads=2 runs=5 queries=50]`. The node's
//! `openledger attribution eval|bench` runs the same code.
//!
//! Real text: `registry-corpus OUT [docs=600]` assembles a documents folder from the Markdown
//! files of the crates in the local cargo registry (one contributor per repository owner), and
//! `corpus-eval DIR [outputs=60 seed=1]` runs `openledger attribution eval --corpus DIR`'s
//! measurement on it.

use ol_attribution::{bench, corpus, corpus_eval, eval, tokenizer::TextTokenizer};

fn list(v: &str) -> Vec<usize> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("a number"))
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut log = |line: &str| println!("{line}");
    match args.first().map(String::as_str) {
        Some(mode @ ("eval" | "eval-fast")) => {
            let mut spec = if mode == "eval" {
                eval::EvalSpec::full()
            } else {
                eval::EvalSpec::fast()
            };
            for a in &args[1..] {
                if let Some(v) = a.strip_prefix("threads=") {
                    spec.threads = v.parse().expect("threads");
                }
            }
            let report = eval::run(&spec, dir.path(), &mut log).expect("evaluation");
            println!("{}", report.render());
            let missed = report.missed_targets();
            if !missed.is_empty() {
                eprintln!("targets missed:\n  {}", missed.join("\n  "));
                std::process::exit(1);
            }
        }
        Some("bench") => {
            let mut config = bench::BenchConfig::default();
            for a in &args[1..] {
                let (k, v) = a.split_once('=').expect("key=value");
                match k {
                    "points" => config.points = list(v),
                    "dims" => config.dims = list(v),
                    "tokens" => config.tokens = list(v),
                    "threads" => config.threads = v.parse().expect("threads"),
                    "runs" => config.runs = v.parse().expect("runs"),
                    "queries" => config.queries = v.parse().expect("queries"),
                    other => panic!("unknown setting {other}"),
                }
            }
            bench::run(&config, dir.path(), &mut log).expect("benchmarks");
        }
        Some("registry-corpus") => {
            let out = args.get(1).expect("registry-corpus OUT [docs=N]");
            let mut docs = 600;
            for a in &args[2..] {
                if let Some(v) = a.strip_prefix("docs=") {
                    docs = v.parse().expect("docs");
                }
            }
            let sources = corpus::cargo_registry_sources();
            if sources.is_empty() {
                eprintln!("no cargo registry sources under $CARGO_HOME/registry/src");
                std::process::exit(1);
            }
            let made = corpus::assemble_registry_corpus(
                &sources,
                std::path::Path::new(out),
                docs,
                256 * 1024,
            )
            .expect("assembling the corpus");
            println!(
                "{out}: {} documents, {:.1} MB, {} contributors, from {} crates",
                made.documents,
                made.bytes as f64 / 1e6,
                made.contributors,
                made.crates
            );
        }
        Some("corpus-eval") => {
            let folder = args.get(1).expect("corpus-eval DIR [outputs=N seed=S]");
            let mut spec = corpus_eval::CorpusEvalSpec::default();
            for a in &args[2..] {
                let (k, v) = a.split_once('=').expect("key=value");
                match k {
                    "outputs" => spec.outputs = v.parse().expect("outputs"),
                    "seed" => spec.seed = v.parse().expect("seed"),
                    other => panic!("unknown setting {other}"),
                }
            }
            let docs =
                corpus::read_documents(std::path::Path::new(folder), alloy_primitives::B256::ZERO)
                    .expect("reading the corpus");
            let tokenizer = TextTokenizer::default_tokenizer().expect("tokenizer");
            let report = corpus_eval::eval_corpus(
                &docs,
                &tokenizer,
                &spec,
                &dir.path().join("index"),
                &mut log,
            )
            .expect("evaluation");
            print!("{}", report.render());
            let missed = report.missed_goals();
            if !missed.is_empty() {
                eprintln!("goals missed:\n  {}", missed.join("\n  "));
                std::process::exit(1);
            }
        }
        _ => {
            eprintln!(
                "usage: attribution eval|eval-fast|bench|registry-corpus|corpus-eval [key=value ...]"
            );
            std::process::exit(2);
        }
    }
}
