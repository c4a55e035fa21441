//! The printed and the HTML form of the inference benchmark's report.

use super::{Report, batches::RunResult};
use ol_report::{Axis, Chart, SeriesKind, Table};

fn row(label: &str, run: &RunResult) {
    let rank = run.rank.map_or_else(|| "-".to_owned(), |r| r.to_string());
    let ratio = run.vs_base.map_or(String::new(), |v| format!("{v:.2}x"));
    let share = if run.path == "base" || run.path == "merged" {
        String::new()
    } else {
        format!("{:.0}%", run.lora_share * 100.0)
    };
    let merge = run
        .merge_ms
        .map_or(String::new(), |ms| format!("  (merge {ms:.1} ms/adapter)"));
    println!(
        "  {label:<30}{:>6}{:>6}{:>10.1}{:>10.1}{:>9}{:>9}{merge}",
        run.batch, rank, run.decode_tokens_per_s, run.ttft_ms, ratio, share
    );
}

/// Prints `report` as tables.
pub(super) fn print(report: &Report) {
    println!(
        "\ndecode tokens/s (after each request's first token) and time to first token (the \
         prefill step), {} requests at least per row",
        report.plan.baseline_requests
    );
    println!(
        "  {:<30}{:>6}{:>6}{:>10}{:>10}{:>9}{:>9}",
        "path", "batch", "rank", "tok/s", "TTFT ms", "vs base", "LoRA"
    );
    for &b in &report.plan.batches {
        for run in report.batches.iter().filter(|r| r.batch == b) {
            let label = match run.path {
                "base" => "base alone".to_owned(),
                _ => format!(
                    "mixed, {} adapter{}",
                    run.adapters,
                    if run.adapters == 1 { "" } else { "s" }
                ),
            };
            row(&label, run);
        }
    }
    for run in &report.baselines {
        let label = match run.path {
            "merged" => "one at a time, merged",
            _ => "one at a time, unmerged",
        };
        row(label, run);
    }
    println!(
        "  (vs base: against the base alone at the same batch size, 1 for one at a time; LoRA: \
         share of decode time in the LoRA kernel)"
    );
    for goal in &report.goal {
        println!(
            "goal: {} adapters in a batch at >= {:.0}% of the base's tokens/s, rank {}: {:.1}% ({})",
            goal.batch,
            goal.target * 100.0,
            goal.rank,
            goal.ratio * 100.0,
            if goal.met { "met" } else { "missed" }
        );
    }
    for base in &report.baselines {
        let best = report
            .batches
            .iter()
            .filter(|r| r.path == "mixed" && r.rank == base.rank)
            .max_by_key(|r| r.batch);
        if let Some(mixed) = best {
            println!(
                "batching: {} adapters of rank {} in one batch decode {:.1}x as fast as one at a \
                 time {}",
                mixed.adapters,
                mixed.rank.unwrap_or_default(),
                mixed.decode_tokens_per_s / base.decode_tokens_per_s,
                base.path
            );
        }
    }

    println!(
        "\nadapter cold loads (AdapterCache::load of a new name: parse, validate, convert; F32 \
         files, disk reads from the page cache)"
    );
    println!(
        "  {:<8}{:>6}{:>10}{:>9}{:>10}{:>10}{:>10}",
        "source", "rank", "file MB", "loads", "p50 ms", "p99 ms", "max ms"
    );
    for load in &report.cold_loads {
        println!(
            "  {:<8}{:>6}{:>10.2}{:>9}{:>10.2}{:>10.2}{:>10.2}",
            load.source,
            load.rank,
            load.file_bytes as f64 / 1e6,
            load.samples,
            load.p50_ms,
            load.p99_ms,
            load.max_ms
        );
    }

    let c = &report.cache;
    println!(
        "\nadapter cache: {} registered (rank {}, {:.2} MB resident each, {} distinct files), a \
         budget of {:.0} MB = {} adapters, Zipf({}) over the names",
        c.registered,
        c.rank,
        c.adapter_bytes as f64 / 1e6,
        c.distinct_files,
        c.budget_bytes as f64 / 1e6,
        c.budget_adapters,
        c.zipf_s
    );
    for (label, phase) in [
        ("acquire (look up, load on a miss)", &c.acquire),
        ("serve (scheduler, closed loop)", &c.serve),
    ] {
        let tokens = match (phase.tokens_per_s, phase.prompt_tokens_per_s) {
            (Some(t), Some(p)) => format!(", {t:.0} generated + {p:.0} prompt tokens/s"),
            _ => String::new(),
        };
        println!(
            "  {label}: {} in {:.2} s: {:.0}/s{tokens}, hit rate {:.1}%, {} loads, {} evictions, \
             p50 {:.2} ms, p99 {:.2} ms",
            phase.requests,
            phase.seconds,
            phase.requests_per_s,
            phase.hit_rate * 100.0,
            phase.loads,
            phase.evictions,
            phase.p50_ms,
            phase.p99_ms
        );
    }
    println!(
        "  (serve: {} clients in flight, {} tokens per request; {} adapters resident at the end)",
        c.concurrency, c.max_tokens, c.resident_after
    );
}

/// `report` as an HTML page: decode tokens/s and the ratio to the base alone against the
/// number of adapters in the batch, one line per rank, and the tables behind them.
pub(super) fn html(report: &Report) -> ol_report::Report {
    let mut page = ol_report::Report::new("openledger bench inference");
    page.paragraph(format!(
        "Decode tokens/s after each request's first token, {} requests at least per point; \
         mixed batches hold one adapter per sequence, against the base model alone at the same \
         batch size.",
        report.plan.baseline_requests
    ));
    let mut ranks: Vec<usize> = report.batches.iter().filter_map(|r| r.rank).collect();
    ranks.sort_unstable();
    ranks.dedup();
    let mixed = |rank: usize| {
        report
            .batches
            .iter()
            .filter(move |r| r.path == "mixed" && r.rank == Some(rank))
    };
    let mut speed = Chart::new(
        "decode tokens/s by adapters in the batch",
        Axis::log("adapters in the batch (= batch size)"),
        Axis::linear("decode tokens/s"),
    )
    .with_series(
        "base alone",
        SeriesKind::Line,
        report
            .batches
            .iter()
            .filter(|r| r.path == "base")
            .map(|r| (r.batch as f64, r.decode_tokens_per_s)),
    );
    let mut ratio = Chart::new(
        "mixed adapters against the base alone",
        Axis::log("adapters in the batch"),
        Axis::linear("tokens/s as a share of the base's"),
    );
    for &rank in &ranks {
        speed = speed.with_series(
            format!("mixed, rank {rank}"),
            SeriesKind::Line,
            mixed(rank).map(|r| (r.adapters as f64, r.decode_tokens_per_s)),
        );
        ratio = ratio.with_series(
            format!("rank {rank}"),
            SeriesKind::Line,
            mixed(rank).filter_map(|r| Some((r.adapters as f64, r.vs_base?))),
        );
    }
    page.chart(speed).chart(ratio);
    let mut table = Table::new([
        "path", "batch", "adapters", "rank", "tok/s", "TTFT ms", "vs base",
    ]);
    for run in report.batches.iter().chain(&report.baselines) {
        table.row([
            run.path.to_owned(),
            run.batch.to_string(),
            run.adapters.to_string(),
            run.rank.map_or_else(|| "-".to_owned(), |r| r.to_string()),
            format!("{:.1}", run.decode_tokens_per_s),
            format!("{:.1}", run.ttft_ms),
            run.vs_base.map_or_else(String::new, |v| format!("{v:.2}")),
        ]);
    }
    page.table(table);
    for goal in &report.goal {
        page.paragraph(format!(
            "Goal: {} adapters in a batch at >= {:.0}% of the base's tokens/s, rank {}: {:.1}% ({}).",
            goal.batch,
            goal.target * 100.0,
            goal.rank,
            goal.ratio * 100.0,
            if goal.met { "met" } else { "missed" }
        ));
    }
    page
}
