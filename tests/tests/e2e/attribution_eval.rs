//! `attribution_eval_on_a_users_csv`: `openledger attribution eval --dataset FILE.csv --label
//! COLUMN` runs the tabular protocol (LDS against retraining on logistic regression and the
//! MLP, leave-one-out, mislabel detection, the explicit influence function beside the
//! estimators) on a CSV file, and refuses a bad file with an error that says where it is wrong.

use eyre::{Result, ensure, eyre};
use ol_e2e::openledger_bin;
use serde_json::Value;
use std::process::Command;

/// A two-class mixture with three informative features and one constant, in a user's layout:
/// a header, the label in the middle, quoted class names.
fn csv() -> String {
    let mut lines = vec!["width,height,\"species\",depth,constant".to_string()];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut noise = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    for i in 0..160 {
        let class = i % 2;
        let shift = if class == 0 { -0.6 } else { 0.6 };
        let name = if class == 0 { "setosa" } else { "virginica" };
        lines.push(format!(
            "{:.4},{:.4},\"{name}\",{:.4},3",
            10.0 + shift + 2.0 * noise(),
            -4.0 + shift * 2.0 + 3.0 * noise(),
            shift + noise()
        ));
    }
    lines.join("\n")
}

fn eval(args: &[&str]) -> Result<std::process::Output> {
    Ok(Command::new(openledger_bin()?)
        .args(["attribution", "eval", "--fast"])
        .args(args)
        .output()?)
}

fn metric(report: &Value, task: &str, method: &str, metric: &str) -> Result<f64> {
    report["tasks"]
        .as_array()
        .and_then(|tasks| tasks.iter().find(|t| t["task"] == task))
        .and_then(|t| t["methods"].as_array())
        .and_then(|m| m.iter().find(|m| m["method"] == method))
        .and_then(|m| m[metric].as_f64())
        .ok_or_else(|| eyre!("no {task}/{method}/{metric} in {report}"))
}

#[test]
fn attribution_eval_on_a_users_csv() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("flowers.csv");
    std::fs::write(&file, csv())?;
    let path = file.to_str().ok_or_else(|| eyre!("path"))?;
    let html = dir.path().join("eval.html");
    let out = eval(&[
        "--dataset",
        path,
        "--label",
        "species",
        "--json",
        "--report",
        html.to_str().ok_or_else(|| eyre!("path"))?,
    ])?;
    ensure!(
        out.status.success(),
        "eval failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout)?;
    // The HTML report: one LDS scatter per method with an LDS, each with a point per test
    // point and retrained subset (a whole number of test points' worth of subsets).
    let page = std::fs::read_to_string(&html)?;
    let spec = &report["spec"];
    let count = |key: &str| {
        spec[key]
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| eyre!("spec.{key}: {spec}"))
    };
    let (lr_subsets, mlp_subsets) = (count("lr_subsets")?, count("mlp_subsets")?);
    let with_lds = report["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["methods"].as_array().into_iter().flatten())
        .filter(|m| m["lds"].is_f64())
        .count();
    let charts: Vec<&str> = page.split("<svg").skip(1).collect();
    ensure!(
        page.starts_with("<!DOCTYPE html>") && with_lds >= 5 && charts.len() == with_lds,
        "{} charts for {with_lds} methods with an LDS",
        charts.len()
    );
    for chart in charts {
        let subsets = if chart.contains("<title>logreg, ") {
            lr_subsets
        } else if chart.contains("<title>mlp, ") {
            mlp_subsets
        } else {
            eyre::bail!("a chart of no LDS task: {chart:.200}")
        };
        let points = chart.matches("<circle").count();
        ensure!(
            points > 0 && points % subsets == 0,
            "{points} points for {subsets} subsets: {chart:.200}"
        );
    }
    let tasks: Vec<&str> = report["tasks"]
        .as_array()
        .ok_or_else(|| eyre!("tasks"))?
        .iter()
        .filter_map(|t| t["task"].as_str())
        .collect();
    ensure!(
        tasks == ["logreg", "mlp", "mislabel"],
        "the tabular tasks, no canaries: {tasks:?}"
    );
    let setting = report["tasks"][0]["setting"].as_str().unwrap_or_default();
    ensure!(
        setting.contains("160 rows, 4 features, 2 classes, standardised, 128 train / 32 test"),
        "the split: {setting}"
    );
    let exact = metric(&report, "logreg", "IF (explicit)", "lds")?;
    let datainf = metric(&report, "logreg", "DataInf", "lds")?;
    ensure!(
        exact > 0.8 && datainf > 0.5 && exact >= datainf,
        "logreg LDS: exact {exact}, DataInf {datainf}"
    );
    let gauss_newton = metric(&report, "logreg", "Gauss-Newton", "lds")?;
    ensure!(
        gauss_newton >= exact - 0.05,
        "the curvature-aware estimator comes within 0.05 of exact: {gauss_newton} vs {exact}"
    );
    ensure!(
        metric(&report, "logreg", "IF (explicit)", "loo")? > 0.8,
        "leave-one-out of the exact influence function"
    );
    ensure!(
        metric(&report, "mlp", "DataInf", "lds")?.is_finite(),
        "the MLP is measured"
    );
    ensure!(
        metric(&report, "mislabel", "DataInf (self-influence)", "auc")? > 0.8,
        "flipped labels are found"
    );

    // Bad files: each a clear error, nothing measured.
    let refused = |name: &str, text: &str, label: &str| -> Result<String> {
        let bad = dir.path().join(name);
        std::fs::write(&bad, text)?;
        let out = eval(&[
            "--dataset",
            bad.to_str().ok_or_else(|| eyre!("path"))?,
            "--label",
            label,
        ])?;
        ensure!(!out.status.success(), "{name} was accepted");
        Ok(String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let missing = refused("missing.csv", "a,b\n1,2\n", "species")?;
    ensure!(missing.contains("no column \"species\""), "{missing}");
    let text = refused("text.csv", "a,species\n1,x\nwide,y\n", "species")?;
    ensure!(text.contains("line 3, column \"a\""), "{text}");
    let one = refused("one.csv", "a,species\n1,x\n2,x\n", "species")?;
    ensure!(one.contains("1 distinct value"), "{one}");
    Ok(())
}
