//! Smoke test of `openledger bench gossip`: a few small blocks over real libp2p on 127.0.0.1
//! reach the follower (the benchmark fails unless it ends on the sequencer's head) and the
//! figures are written.

use clap::Parser;
use ol_bench::BenchCommand;
use serde_json::Value;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchCommand,
}

#[test]
fn a_short_gossip_bench_ends_on_the_sequencers_head_and_writes_its_figures() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("gossip.json");
    let cli = Cli::try_parse_from([
        "bench",
        "gossip",
        "--blocks",
        "4",
        "--txs-per-block",
        "20",
        "--senders",
        "8",
        "--json",
        json.to_str().unwrap(),
    ])
    .unwrap();
    cli.bench.execute().unwrap();
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["blocks"], 4);
    let p50 = report["latency_p50_ms"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 < 10_000.0, "{report}");
}
