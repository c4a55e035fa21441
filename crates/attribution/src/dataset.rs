//! The tabular tasks of the evaluation ([`crate::eval`]) on data the user brings: a CSV file
//! with a header row, one label column (any values: each distinct value is a class) and numeric
//! feature columns. Features are standardised with the training split's mean and standard
//! deviation; the train/test split is seeded. Without a file the tasks run on the seeded
//! Gaussian mixtures of [`crate::data`].

use crate::{
    AttributionError, Result,
    data::{self, ClassificationSpec, TabularData},
    rng::Rng,
};
use std::{collections::BTreeMap, path::Path};

/// Share of a dataset's rows held out as test points.
const TEST_FRACTION: f64 = 0.2;
/// Largest CSV file read, in bytes.
const MAX_CSV_BYTES: u64 = 256 << 20;

/// The data of the tabular tasks: logistic regression and the MLP (LDS, leave-one-out) and
/// mislabel detection (whose training labels the task flips).
#[derive(Debug, Clone)]
pub struct TabularTasks {
    /// What the data is, for the report.
    pub description: String,
    /// Logistic regression: training and test points.
    pub logreg: (TabularData, TabularData),
    /// The MLP: training and test points.
    pub mlp: (TabularData, TabularData),
    /// Mislabel detection: training points (labels still clean) and clean test points.
    pub mislabel: (TabularData, TabularData),
}

/// Sizes and seed of the synthetic tasks.
#[derive(Debug, Clone, Copy)]
pub struct SyntheticSizes {
    /// Training points of the LDS tasks.
    pub n_train: usize,
    /// Test points.
    pub n_test: usize,
    /// Training points of the mislabel task.
    pub mislabel_n: usize,
    /// Features.
    pub features: usize,
    /// Classes.
    pub classes: usize,
    /// Seed of the task.
    pub seed: u64,
}

impl TabularTasks {
    /// The seeded Gaussian mixtures (class-mean spread 0.6 for the LDS tasks, 1.0 for
    /// mislabel detection, where a flipped label must be wrong to be found).
    pub fn synthetic(sizes: SyntheticSizes) -> Self {
        let task = |n, sample_seed, separation| {
            data::classification(ClassificationSpec {
                n,
                features: sizes.features,
                classes: sizes.classes,
                separation,
                task_seed: sizes.seed,
                sample_seed,
            })
        };
        Self {
            description: format!(
                "Gaussian mixture, {} features, {} classes",
                sizes.features, sizes.classes
            ),
            logreg: (task(sizes.n_train, 1, 0.6), task(sizes.n_test, 2, 0.6)),
            mlp: (task(sizes.n_train, 3, 0.6), task(sizes.n_test, 4, 0.6)),
            mislabel: (
                task(sizes.mislabel_n, 5, 1.0),
                task(sizes.n_test.max(100), 6, 1.0),
            ),
        }
    }

    /// One dataset for every task: a seeded split (a fifth held out, at most `max_train`
    /// training points), features standardised with the training split's statistics.
    pub fn from_dataset(
        name: &str,
        data: &TabularData,
        max_train: usize,
        seed: u64,
    ) -> Result<Self> {
        let n = data.len();
        let n_test = ((n as f64 * TEST_FRACTION).round() as usize).max(1);
        if n < 10 || n_test >= n {
            return Err(AttributionError::invalid(format!(
                "{name}: {n} rows; the evaluation needs at least 10"
            )));
        }
        let mut order: Vec<usize> = (0..n).collect();
        Rng::from_words(&[seed, 0x5e11]).shuffle(&mut order);
        let (test_idx, train_idx) = order.split_at(n_test);
        let train_idx = &train_idx[..train_idx.len().min(max_train.max(2))];
        let mut train = data.select(train_idx);
        let mut test = data.select(test_idx);
        standardise(&mut train, &mut test);
        let present: std::collections::BTreeSet<u32> = train.y.iter().copied().collect();
        if present.len() < 2 {
            return Err(AttributionError::invalid(format!(
                "{name}: the training split has one class only"
            )));
        }
        Ok(Self {
            description: format!(
                "{name} ({n} rows, {} features, {} classes, standardised, {} train / {} test)",
                data.features(),
                data.classes,
                train.len(),
                test.len()
            ),
            logreg: (train.clone(), test.clone()),
            mlp: (train.clone(), test.clone()),
            mislabel: (train, test),
        })
    }
}

/// Centres and scales every feature by the training split's mean and standard deviation
/// (a constant feature is only centred).
fn standardise(train: &mut TabularData, test: &mut TabularData) {
    let d = train.features();
    let n = train.len() as f64;
    for j in 0..d {
        let mean = train.x.iter().map(|r| r[j]).sum::<f64>() / n;
        let var = train.x.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / n;
        let scale = if var > 0.0 { var.sqrt() } else { 1.0 };
        for row in train.x.iter_mut().chain(test.x.iter_mut()) {
            row[j] = (row[j] - mean) / scale;
        }
    }
}

/// Reads a CSV file with a header row: column `label` holds the class (each distinct value,
/// in sorted order, is a class), every other column a number.
pub fn read_csv(path: &Path, label: &str) -> Result<TabularData> {
    let size = std::fs::metadata(path)
        .map_err(|e| AttributionError::io("reading", path, e))?
        .len();
    if size > MAX_CSV_BYTES {
        return Err(AttributionError::invalid(format!(
            "{}: {size} bytes, over the {MAX_CSV_BYTES}-byte limit",
            path.display()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| AttributionError::io("reading", path, e))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| AttributionError::invalid(format!("{} is not UTF-8", path.display())))?;
    parse_csv(&text, label)
        .map_err(|e| AttributionError::invalid(format!("{}: {e}", path.display())))
}

/// [`read_csv`] on text; the error says where the file is wrong.
pub fn parse_csv(text: &str, label: &str) -> std::result::Result<TabularData, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err("the file is empty".into());
    };
    let columns: Vec<&str> = header.split(',').map(|c| unquote(c.trim())).collect();
    let Some(label_at) = columns.iter().position(|c| *c == label) else {
        return Err(format!(
            "no column {label:?} (the header has {})",
            columns.join(", ")
        ));
    };
    if columns.len() < 2 {
        return Err("no feature column besides the label".into());
    }
    let mut x = Vec::new();
    let mut labels = Vec::new();
    for (number, line) in lines {
        let cells: Vec<&str> = line.split(',').map(|c| unquote(c.trim())).collect();
        if cells.len() != columns.len() {
            return Err(format!(
                "line {}: {} fields, the header has {}",
                number + 1,
                cells.len(),
                columns.len()
            ));
        }
        let mut row = Vec::with_capacity(columns.len() - 1);
        for (j, cell) in cells.iter().enumerate() {
            if j == label_at {
                continue;
            }
            let value: f64 = cell
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| {
                    format!(
                        "line {}, column {:?}: {cell:?} is not a finite number",
                        number + 1,
                        columns[j]
                    )
                })?;
            row.push(value);
        }
        x.push(row);
        labels.push(cells[label_at].to_string());
    }
    let classes: BTreeMap<&str, u32> = {
        let mut names: Vec<&str> = labels.iter().map(String::as_str).collect();
        names.sort_unstable();
        names.dedup();
        names.into_iter().zip(0..).collect()
    };
    if classes.len() < 2 {
        return Err(format!(
            "column {label:?} has {} distinct value(s); a classification needs two or more",
            classes.len()
        ));
    }
    let y = labels.iter().map(|l| classes[l.as_str()]).collect();
    Ok(TabularData {
        x,
        y,
        classes: classes.len(),
    })
}

fn unquote(cell: &str) -> &str {
    cell.strip_prefix('"')
        .and_then(|c| c.strip_suffix('"'))
        .unwrap_or(cell)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_parses_with_classes_by_sorted_value() {
        let data = parse_csv("a,kind,b\n1,dog,2\n3,cat,4.5\n\n-1,dog,0\n", "kind").unwrap();
        assert_eq!(
            data.x,
            vec![vec![1.0, 2.0], vec![3.0, 4.5], vec![-1.0, 0.0]]
        );
        assert_eq!(data.y, vec![1, 0, 1], "cat = 0, dog = 1");
        assert_eq!(data.classes, 2);
    }

    #[test]
    fn bad_files_are_clear_errors() {
        let err = |text: &str| parse_csv(text, "y").unwrap_err();
        assert!(err("").contains("empty"));
        assert!(err("a,b\n1,2\n").contains("no column \"y\""));
        assert!(err("y\n1\n2\n").contains("no feature column"));
        assert!(err("a,y\n1,0\nx,1\n").contains("line 3, column \"a\""));
        assert!(err("a,y\nNaN,0\n").contains("not a finite number"));
        assert!(err("a,y\n1,0\n2\n").contains("line 3: 1 fields"));
        assert!(err("a,y\n1,0\n2,0\n").contains("1 distinct value"));
    }

    #[test]
    fn a_dataset_splits_and_standardises() {
        let text: String = std::iter::once("f,g,y".to_string())
            .chain((0..50).map(|i| format!("{},{},{}", i, 7, i % 3)))
            .collect::<Vec<_>>()
            .join("\n");
        let data = parse_csv(&text, "y").unwrap();
        let tasks = TabularTasks::from_dataset("t", &data, 1000, 1).unwrap();
        let (train, test) = &tasks.logreg;
        assert_eq!((train.len(), test.len()), (40, 10));
        let mean: f64 = train.x.iter().map(|r| r[0]).sum::<f64>() / 40.0;
        let var: f64 = train.x.iter().map(|r| r[0] * r[0]).sum::<f64>() / 40.0;
        assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
        assert!(train.x.iter().all(|r| r[1] == 0.0), "a constant is centred");
        let again = TabularTasks::from_dataset("t", &data, 1000, 1).unwrap();
        assert_eq!(again.logreg.1.y, test.y, "the split is seeded");
        assert!(TabularTasks::from_dataset("t", &data.select(&[0, 1, 2]), 1000, 1).is_err());
    }
}
