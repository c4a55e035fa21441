//! Smoke test of `openledger bench inference --quick`: it runs end to end on a tiny model and
//! writes a report with every section, as JSON and as an HTML page with its charts (the timings
//! themselves are not checked).

use clap::Parser;
use ol_bench::BenchCommand;
use serde_json::Value;

/// The `bench` command line as the binary parses it.
#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchCommand,
}

fn array<'a>(report: &'a Value, key: &str) -> &'a Vec<Value> {
    report[key]
        .as_array()
        .unwrap_or_else(|| panic!("`{key}` is not an array: {report}"))
}

#[test]
fn quick_inference_bench_reports_every_section() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("inference.json");
    let html = dir.path().join("inference.html");
    let cli = Cli::try_parse_from([
        "bench",
        "inference",
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
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();

    // The HTML report: the two charts, with a point for every base and mixed run and a ratio
    // for every mixed one.
    let page = std::fs::read_to_string(&html).unwrap();
    let runs = array(&report, "batches");
    let mixed = runs.iter().filter(|r| r["path"] == "mixed").count();
    assert_eq!(page.matches("<svg").count(), 2);
    assert_eq!(page.matches("<circle").count(), runs.len() + mixed);

    assert_eq!(report["model"]["weights"], "random");
    assert!(report["model"]["parameters"].as_u64().unwrap() > 0);
    assert_eq!(report["plan"]["quick"], true);

    // The base and each rank at every batch size, the two baselines per rank.
    let batches = array(&report, "batches");
    let sizes: Vec<u64> = array(&report["plan"], "batches")
        .iter()
        .map(|b| b.as_u64().unwrap())
        .collect();
    let ranks = array(&report["plan"], "ranks").len();
    assert_eq!(batches.len(), sizes.len() * (1 + ranks));
    for run in batches {
        assert!(run["decode_tokens_per_s"].as_f64().unwrap() > 0.0, "{run}");
        assert!(run["ttft_ms"].as_f64().unwrap() > 0.0, "{run}");
        match run["path"].as_str().unwrap() {
            "base" => assert!(run["rank"].is_null() && run["vs_base"].is_null()),
            "mixed" => {
                assert_eq!(run["adapters"], run["batch"]);
                assert!(run["vs_base"].as_f64().unwrap() > 0.0);
                assert!(run["lora_share"].as_f64().unwrap() > 0.0);
            }
            other => panic!("unexpected path {other}"),
        }
    }
    let baselines = array(&report, "baselines");
    assert_eq!(baselines.len(), 2 * ranks);
    for path in ["merged", "unmerged"] {
        assert_eq!(
            baselines.iter().filter(|r| r["path"] == path).count(),
            ranks
        );
    }
    assert!(
        baselines
            .iter()
            .filter(|r| r["path"] == "merged")
            .all(|r| r["merge_ms"].as_f64().is_some())
    );

    // Cold loads from disk and from bytes for each rank.
    let loads = array(&report, "cold_loads");
    assert_eq!(loads.len(), 2 * ranks);
    for load in loads {
        assert!(load["p99_ms"].as_f64().unwrap() >= load["p50_ms"].as_f64().unwrap());
    }

    // The cache stays near its budget (over it only by adapters running sequences held at the
    // last eviction) and serves every request.
    let cache = &report["cache"];
    let budget = cache["budget_adapters"].as_u64().unwrap();
    assert!(budget < cache["registered"].as_u64().unwrap());
    let slack = cache["concurrency"].as_u64().unwrap();
    assert!(cache["resident_after"].as_u64().unwrap() <= budget + slack);
    for phase in ["acquire", "serve"] {
        let hit = cache[phase]["hit_rate"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&hit), "{phase}: {hit}");
        assert!(cache[phase]["requests"].as_u64().unwrap() > 0);
    }
    assert!(cache["serve"]["tokens_per_s"].as_f64().unwrap() > 0.0);
}
