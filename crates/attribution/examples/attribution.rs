//! The evaluation and the benchmarks without the node binary (which needs RocksDB and the EVM
//! to build): `cargo run --release -p ol-attribution --example attribution -- eval|eval-fast|bench
//! [points=1000,10000 dims=256,1024 tokens=10000000 threads=2 runs=5 queries=50]`. The node's
//! `openledger attribution eval|bench` runs the same code.

use ol_attribution::{bench, eval};

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
        _ => {
            eprintln!("usage: attribution eval|eval-fast|bench [key=value ...]");
            std::process::exit(2);
        }
    }
}
