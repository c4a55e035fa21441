//! `--report FILE` of `openledger attribution eval` and `attribution bench`: the results as an
//! HTML page with charts (`ol-report`), next to the printed tables.

use ol_attribution::{
    bench::{BenchReport, ScanBench},
    corpus_eval::CorpusEvalReport,
    eval::EvalReport,
    store::Precision,
};
use ol_report::{Axis, Chart, Report, SeriesKind, Table};

/// Formats an optional figure for a table cell.
fn cell(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"))
}

/// The tabular and canary evaluation: a table per task and, for each method with an LDS, the
/// scatter of its standardised predicted against actual outputs around `y = x`.
pub(crate) fn eval_report(report: &EvalReport) -> Report {
    let mut page = Report::new("openledger attribution eval");
    page.paragraph(format!(
        "{} training points, {} test points, seed {}. LDS: mean Spearman correlation over test \
         points between a subset's summed scores and the output of a model retrained on it; the \
         scatters show those pairs, standardised per test point (the closer to the diagonal, the \
         better the ranking).",
        report.spec.n_train, report.spec.n_test, report.spec.seed
    ));
    for task in &report.tasks {
        page.heading(format!("{}: {}", task.task, task.setting));
        let mut table = Table::new(["method", "LDS", "LOO", "AUC", "top-1", "top-5"]);
        for m in &task.methods {
            table.row([
                m.method.clone(),
                cell(m.lds),
                cell(m.loo),
                cell(m.auc),
                cell(m.top1),
                cell(m.top5),
            ]);
        }
        page.table(table);
        for m in task.methods.iter().filter(|m| !m.lds_points.is_empty()) {
            page.chart(
                Chart::new(
                    format!("{}, {}: LDS {}", task.task, m.method, cell(m.lds)),
                    Axis::linear("predicted (summed scores, z)"),
                    Axis::linear("actual (retrained output, z)"),
                )
                .with_series(
                    "subset × test point",
                    SeriesKind::Scatter,
                    m.lds_points.iter().copied(),
                )
                .with_diagonal(),
            );
        }
    }
    page
}

/// The evaluation on a user's corpus: the calibrated and uncalibrated figures side by side.
pub(crate) fn corpus_eval_report(report: &CorpusEvalReport) -> Report {
    let mut page = Report::new("openledger attribution eval --corpus");
    let c = &report.corpus;
    page.paragraph(format!(
        "{} documents ({} bytes) of {} contributors, {} indexed tokens; {} spliced outputs and {} \
         invented ones; evidence threshold {:.2} nats from {} null outputs (their largest span: \
         {:.2} nats).",
        c.documents,
        c.bytes,
        c.contributors,
        c.indexed_tokens,
        report.spliced,
        report.invented,
        report.calibration.threshold,
        report.calibration.null_outputs,
        report.calibration.null_max
    ));
    let mut table = Table::new(["figure", "calibrated", "no threshold"]);
    let (a, b) = (&report.calibrated, &report.without_threshold);
    for (name, x, y) in [
        (
            "weight on the true sources (mean)",
            a.mean_precision,
            b.mean_precision,
        ),
        (
            "outputs with >= 80% on the true sources",
            a.concentrated,
            b.concentrated,
        ),
        ("true sources found (mean)", a.mean_recall, b.mean_recall),
        ("ranking kept", a.ranking_kept, b.ranking_kept),
        ("invented outputs paid out", a.false_payout, b.false_payout),
        (
            "contributors paid per invented output",
            a.mean_false_contributors,
            b.mean_false_contributors,
        ),
    ] {
        table.row([name.to_owned(), format!("{x:.3}"), format!("{y:.3}")]);
    }
    page.table(table);
    page
}

/// The scan and suffix-array benchmarks: read rate of each scan against the plain pass over
/// the same rows and the machine's memory bandwidth, by store size.
pub(crate) fn bench_report(report: &BenchReport) -> Report {
    let mut page = Report::new("openledger attribution bench");
    if !report.scan.is_empty() {
        page.heading("Gradient-store scans");
        page.paragraph(format!(
            "Memory read bandwidth with the scan threads: {:.2} GB/s (1 GiB buffer, best of 3).",
            report.memory_bandwidth_gbs
        ));
        // One set of lines per (dimension, precision), in the order measured.
        let mut groups: Vec<(usize, Precision)> = Vec::new();
        for s in &report.scan {
            if !groups.contains(&(s.dim, s.precision)) {
                groups.push((s.dim, s.precision));
            }
        }
        let mb = |s: &ScanBench| s.store_bytes as f64 / 1e6;
        let mut chart = Chart::new(
            "scan read rate against bandwidth",
            Axis::log("store size (MB)"),
            Axis::linear("GB/s"),
        );
        for &(dim, precision) in &groups {
            let rows = || {
                report
                    .scan
                    .iter()
                    .filter(move |s| (s.dim, s.precision) == (dim, precision))
            };
            let name = format!("d={dim} {precision:?}");
            chart = chart
                .with_series(
                    format!("DataInf, {name}"),
                    SeriesKind::Line,
                    rows().map(|s| (mb(s), s.datainf_gbs)),
                )
                .with_series(
                    format!("TracIn, {name}"),
                    SeriesKind::Line,
                    rows().map(|s| (mb(s), s.tracin_gbs)),
                )
                .with_series(
                    format!("plain pass, {name}"),
                    SeriesKind::Line,
                    rows().map(|s| (mb(s), s.plain_pass_gbs)),
                );
        }
        let (lo, hi) = report
            .scan
            .iter()
            .map(mb)
            .fold((f64::INFINITY, 0f64), |(lo, hi), size| {
                (lo.min(size), hi.max(size))
            });
        chart = chart.with_series(
            "memory bandwidth",
            SeriesKind::Line,
            [
                (lo, report.memory_bandwidth_gbs),
                (hi, report.memory_bandwidth_gbs),
            ],
        );
        page.chart(chart);
        let mut table = Table::new([
            "points",
            "dim",
            "precision",
            "MB",
            "DataInf ms",
            "DataInf GB/s",
            "TracIn ms",
            "TracIn GB/s",
            "pass GB/s",
        ]);
        for s in &report.scan {
            table.row([
                s.points.to_string(),
                s.dim.to_string(),
                format!("{:?}", s.precision),
                format!("{:.1}", mb(s)),
                format!("{:.2}", s.datainf_ms),
                format!("{:.2}", s.datainf_gbs),
                format!("{:.2}", s.tracin_ms),
                format!("{:.2}", s.tracin_gbs),
                format!("{:.2}", s.plain_pass_gbs),
            ]);
        }
        page.table(table);
    }
    if !report.suffix.is_empty() {
        page.heading("Suffix arrays");
        page.chart(
            Chart::new(
                "trace latency by corpus size",
                Axis::log("corpus tokens"),
                Axis::linear("ms per 256-token trace"),
            )
            .with_series(
                "median",
                SeriesKind::Line,
                report.suffix.iter().map(|s| (s.tokens as f64, s.query_ms)),
            )
            .with_series(
                "p95",
                SeriesKind::Line,
                report
                    .suffix
                    .iter()
                    .map(|s| (s.tokens as f64, s.query_p95_ms)),
            ),
        );
        let mut table = Table::new([
            "tokens",
            "documents",
            "build s",
            "build tok/s",
            "query ms",
            "p95 ms",
            "spans/query",
        ]);
        for s in &report.suffix {
            table.row([
                s.tokens.to_string(),
                s.docs.to_string(),
                format!("{:.2}", s.build_s),
                format!("{:.0}", s.build_tokens_per_s),
                format!("{:.2}", s.query_ms),
                format!("{:.2}", s.query_p95_ms),
                format!("{:.1}", s.spans_per_query),
            ]);
        }
        page.table(table);
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use ol_attribution::bench::{BenchConfig, SuffixBench};

    #[test]
    fn the_bench_report_charts_each_scan_against_the_bandwidth() {
        let scan = |points: usize| ScanBench {
            points,
            dim: 256,
            precision: Precision::F32,
            store_bytes: points * 1024,
            datainf_ms: 1.0,
            datainf_gbs: 5.0,
            tracin_ms: 0.5,
            tracin_gbs: 6.0,
            plain_pass_gbs: 7.0,
        };
        let suffix = |tokens: usize| SuffixBench {
            tokens,
            docs: 10,
            build_s: 1.0,
            build_tokens_per_s: tokens as f64,
            query_ms: 2.0,
            query_p95_ms: 3.0,
            spans_per_query: 4.0,
        };
        let report = BenchReport {
            config: BenchConfig::default(),
            memory_bandwidth_gbs: 9.5,
            scan: vec![scan(1000), scan(10_000)],
            suffix: vec![suffix(1_000_000), suffix(10_000_000)],
        };
        let html = bench_report(&report).to_html();
        assert_eq!(html.matches("<svg").count(), 2);
        // Three lines of two points per (dim, precision), the bandwidth's two ends; two lines
        // of two points for the suffix arrays.
        assert_eq!(html.matches("<polyline").count(), 4 + 2);
        assert_eq!(html.matches("<circle").count(), 3 * 2 + 2 + 2 * 2);
        assert!(html.contains("9.50 GB/s"));
        assert_eq!(html.matches("<tr>").count(), 1 + 2 + 1 + 2);
    }
}
