//! The Grafana dashboard (`docker/grafana/dashboards/openledger.json`) against what the nodes
//! really export: every metric a panel's query names must be in the `/metrics` of the
//! sequencer or the follower after a run, or be listed below with the reason it is not.

use eyre::{Result, ensure, eyre};
use ol_e2e::repo_file;
use serde_json::Value;
use std::collections::BTreeSet;

/// Metrics the dashboard queries that a healthy run does not export: each is recorded only with
/// a label naming what went wrong, when it first goes wrong (no unlabelled series exists to
/// start from zero).
const ONLY_ON_FAILURE: &[(&str, &str)] = &[
    (
        "l1_rpc_errors_total",
        "labelled by the L1 method that failed; recorded on the first failed L1 call",
    ),
    (
        "derive_channels_dropped_total",
        "labelled by the reason a channel was dropped; recorded on the first dropped channel",
    ),
    (
        "rpc_errors_total",
        "labelled by method and error code; recorded on the first call answered with an error",
    ),
];

/// PromQL words that are not metric names: functions, aggregations and their modifiers.
const PROMQL_WORDS: &[&str] = &[
    "by",
    "without",
    "sum",
    "max",
    "min",
    "avg",
    "rate",
    "increase",
    "scalar",
    "histogram_quantile",
    "and",
    "or",
    "unless",
    "on",
    "ignoring",
];

/// The metric names the dashboard's queries read.
pub(crate) fn dashboard_metrics() -> Result<BTreeSet<String>> {
    let path = repo_file("docker/grafana/dashboards/openledger.json")?;
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let panels = dashboard["panels"]
        .as_array()
        .ok_or_else(|| eyre!("the dashboard has no panels"))?;
    let mut names = BTreeSet::new();
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        let targets = panel["targets"]
            .as_array()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| eyre!("panel {} has no queries", panel["title"]))?;
        for target in targets {
            let expr = target["expr"]
                .as_str()
                .ok_or_else(|| eyre!("panel {} has a query without expr", panel["title"]))?;
            names.extend(metric_names(expr));
        }
    }
    Ok(names)
}

/// The metric names of one PromQL expression: identifiers outside label matchers (`{...}`),
/// range selectors (`[...]`) and grouping clauses (`by (...)`), that are not functions.
fn metric_names(expr: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut depth = 0usize;
    for c in expr.chars() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let tokens: Vec<&str> = plain
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '(' || c == ')'))
        .flat_map(|word| word.split_inclusive(['(', ')']))
        .filter(|t| !t.is_empty())
        .collect();
    let mut names = Vec::new();
    let mut grouping = false;
    for token in tokens {
        let word = token.trim_end_matches(['(', ')']);
        if grouping {
            // The labels of `by (...)` end at the closing parenthesis.
            grouping = !token.ends_with(')');
            continue;
        }
        if word == "by" || word == "without" {
            grouping = true;
            continue;
        }
        let is_name = word
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && !token.ends_with('(')
            && !PROMQL_WORDS.contains(&word);
        if is_name {
            names.push(word.to_owned());
        }
    }
    names
}

/// The metric names in one `/metrics` scrape, as queries name them (a histogram's `_bucket`,
/// `_sum` and `_count` series each under its own name).
fn exported(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split(['{', ' ']).next())
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Checks every metric of the dashboard against the scrapes of the nodes on `ports`.
pub(crate) async fn check_dashboard_against(ports: &[u16]) -> Result<()> {
    let mut seen = BTreeSet::new();
    for port in ports {
        let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await?
            .text()
            .await?;
        seen.extend(exported(&text));
    }
    let wanted = dashboard_metrics()?;
    ensure!(
        wanted.len() >= 40,
        "the dashboard reads only {} metrics",
        wanted.len()
    );
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|name| {
            !seen.contains(name.as_str()) && !ONLY_ON_FAILURE.iter().any(|(known, _)| known == name)
        })
        .collect();
    ensure!(
        missing.is_empty(),
        "the dashboard queries metrics no node exported: {missing:?}"
    );
    Ok(())
}

#[test]
fn names_come_out_of_queries() {
    assert_eq!(
        metric_names(
            "sum by (le, method) (rate(rpc_request_duration_seconds_bucket{role=\"a\"}[5m]))"
        ),
        ["rpc_request_duration_seconds_bucket"]
    );
    assert_eq!(
        metric_names(
            "scalar(max(chain_head_number{role=\"sequencer\"})) - max by (role) (chain_safe_number)"
        ),
        ["chain_head_number", "chain_safe_number"]
    );
    assert_eq!(
        metric_names("rate(jobs_busy_microseconds_total[$__rate_interval]) / 1e6"),
        ["jobs_busy_microseconds_total"]
    );
}
