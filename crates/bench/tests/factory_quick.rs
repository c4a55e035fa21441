//! Smoke test of `openledger bench factory --quick`: it runs end to end on the CI model and
//! writes its results as JSON and as an HTML page with a table row per configuration and a
//! column per figure (the timings themselves are not checked).

use clap::Parser;
use ol_bench::BenchCommand;
use serde_json::Value;

/// The `bench` command line as the binary parses it.
#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchCommand,
}

#[test]
fn quick_factory_bench_writes_json_and_a_report_of_the_same_figures() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("factory.json");
    let html = dir.path().join("factory.html");
    let cli = Cli::try_parse_from([
        "bench",
        "factory",
        "--quick",
        "--threads",
        "2",
        "--json",
        json.to_str().unwrap(),
        "--report",
        html.to_str().unwrap(),
    ])
    .unwrap();
    cli.bench.execute().unwrap();
    let rows: Vec<Value> = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(!rows.is_empty());
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("<tr><td>").count(), rows.len(), "{page}");
    for column in [
        "what",
        "train_tokens_per_s",
        "step_over_forward",
        "peak_rss_mib",
    ] {
        assert!(
            page.contains(&format!("<th>{column}</th>")),
            "{column}: {page}"
        );
    }
    for row in &rows {
        let what = row["what"].as_str().unwrap();
        let ratio = row["step_over_forward"].as_f64().unwrap();
        assert!(page.contains(&format!("<td>{what}</td>")), "{what}: {page}");
        assert!(
            page.contains(&format!("<td>{ratio:.3}</td>")),
            "{ratio}: {page}"
        );
    }
}
