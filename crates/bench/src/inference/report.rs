//! The printed form of the inference benchmark's report.

use super::{Report, batches::RunResult};

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
