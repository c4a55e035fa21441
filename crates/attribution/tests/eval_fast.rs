//! The fast subset of the evaluation harness: fails below the targets.
//!
//! `openledger attribution eval` runs the full-size version and prints the numbers beside the
//! published ones.

use ol_attribution::eval::{self, EvalReport, EvalSpec, TaskReport};

fn check(task: TaskReport) {
    let report = EvalReport {
        spec: EvalSpec::fast(),
        tasks: vec![task],
    };
    println!("{}", report.render());
    let missed: Vec<String> = report
        .missed_targets()
        .into_iter()
        .filter(|m| m.starts_with(&report.tasks[0].task))
        .collect();
    assert!(missed.is_empty(), "targets missed:\n{}", missed.join("\n"));
}

fn log(msg: &str) {
    println!("{msg}");
}

#[test]
fn logistic_regression_lds_and_loo() {
    let dir = tempfile::tempdir().unwrap();
    let spec = EvalSpec::fast();
    let task = eval::eval_logreg(&spec, &spec.synthetic_tasks(), dir.path(), &mut log).unwrap();
    // The curvature-aware estimator comes within 0.05 of the exact influence function.
    let lds = |name: &str| task.method(name).and_then(|m| m.lds).unwrap();
    let (gauss_newton, exact) = (lds("Gauss-Newton"), lds("IF (explicit)"));
    assert!(
        gauss_newton >= exact - 0.05,
        "Gauss-Newton LDS {gauss_newton} vs exact {exact}"
    );
    check(task);
}

#[test]
fn mlp_lds() {
    let dir = tempfile::tempdir().unwrap();
    let spec = EvalSpec::fast();
    check(eval::eval_mlp(&spec, &spec.synthetic_tasks(), dir.path(), &mut log).unwrap());
}

#[test]
fn mislabel_detection() {
    let dir = tempfile::tempdir().unwrap();
    let spec = EvalSpec::fast();
    check(eval::eval_mislabel(&spec, &spec.synthetic_tasks(), dir.path(), &mut log).unwrap());
}

#[test]
fn canary_recall() {
    let dir = tempfile::tempdir().unwrap();
    check(eval::eval_canaries(&EvalSpec::fast(), dir.path(), &mut log).unwrap());
}
