//! Smoke test of `openledger bench unwind` on a short chain: it produces, unwinds, produces the
//! same blocks again (the benchmark itself fails if a hash differs) and writes its figures.

use clap::Parser;
use ol_bench::BenchCommand;
use serde_json::Value;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchCommand,
}

#[test]
fn a_short_unwind_bench_reproduces_the_blocks_and_writes_its_figures() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("unwind.json");
    let cli = Cli::try_parse_from([
        "bench",
        "unwind",
        "--blocks",
        "12",
        "--txs-per-block",
        "10",
        "--senders",
        "8",
        "--single-steps",
        "5",
        "--json",
        json.to_str().unwrap(),
    ])
    .unwrap();
    cli.bench.execute().unwrap();
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["blocks"], 12);
    assert_eq!(report["forward_again_identical"], true);
    assert_eq!(report["single_steps"], 5);
    assert!(report["restored_keys"].as_u64().unwrap() > 8, "{report}");
    assert!(report["unwind_blocks_per_s"].as_f64().unwrap() > 0.0);
}
