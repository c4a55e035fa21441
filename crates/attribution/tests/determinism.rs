//! Same inputs → bit-identical scores, contributor weights and evidence roots on the CPU, across
//! runs, scan thread counts and candle thread-pool sizes (the latter in child processes, since
//! candle sizes its pool once per process from `RAYON_NUM_THREADS`).

use alloy_primitives::{Address, B256, keccak256};
use candle_core::{DType, Device};
use ol_attribution::{
    data::{ClassificationSpec, classification},
    influence::{self, ScanOptions, StoreSpec},
    lineage::{DocMeta, LineageIndex, TokenWidth, TraceConfig},
    models::{DiffModel, Mlp, TabularBatch},
    rng::Rng,
    store::{GradientStore, RowMeta},
    train::{OptimizerKind, TrainSettings, train_steps},
    weights::{DatapointScore, contributor_weights},
};
use std::process::Command;

fn digest_scores(scores: &[f64]) -> B256 {
    keccak256(
        scores
            .iter()
            .flat_map(|s| s.to_bits().to_le_bytes())
            .collect::<Vec<u8>>(),
    )
}

/// Trains an MLP, builds a projected gradient store, runs DataInf, TracIn and DataInf
/// self-influence with `threads` scan threads, weights contributors, traces a text through a
/// lineage index; returns everything as one string.
fn pipeline(threads: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let spec = ClassificationSpec {
        n: 200,
        features: 8,
        classes: 3,
        separation: 0.8,
        task_seed: 1,
        sample_seed: 2,
    };
    let data = classification(spec);
    let test = classification(ClassificationSpec {
        n: 3,
        sample_seed: 3,
        ..spec
    });
    let model = Mlp::new(&[8, 16, 3], 7, DType::F32, &Device::Cpu).unwrap();
    let full = TabularBatch::new(&data.rows(), &data.y, DType::F32, &Device::Cpu).unwrap();
    let groups: Vec<usize> = (0..model.params().len()).collect();
    let ckpts = train_steps(
        &model,
        &groups,
        TrainSettings {
            optimizer: OptimizerKind::AdamW,
            lr: 0.02,
            weight_decay: 1e-3,
            steps: 60,
            checkpoint_every: 20,
        },
        |_| Ok(full.clone()),
        |_, _| {},
    )
    .unwrap();
    let contributors: Vec<Address> = (0..7u8).map(|i| Address::repeat_byte(i + 1)).collect();
    let examples: Vec<(RowMeta, TabularBatch)> = (0..data.len())
        .map(|i| {
            let meta = RowMeta {
                datapoint: keccak256((i as u64).to_le_bytes()),
                contributor: contributors[i % 7],
                datanet: 0,
                label: data.y[i],
            };
            let b = TabularBatch::new(
                &[data.x[i].as_slice()],
                &[data.y[i]],
                DType::F32,
                &Device::Cpu,
            )
            .unwrap();
            (meta, b)
        })
        .collect();
    let path = dir.path().join("store");
    let store_spec = StoreSpec {
        method: "tracin".into(),
        projection_dim: 64,
        projection_seed: 42,
        datanets: vec![B256::repeat_byte(3)],
        snapshot: None,
        precision: ol_attribution::store::Precision::F32,
    };
    let header = influence::build_store(
        &path,
        &model,
        &ckpts,
        &examples,
        &store_spec,
        None,
        |_, _| {},
    )
    .unwrap();
    let store = GradientStore::open(&path).unwrap();
    let opts = ScanOptions {
        threads,
        cancel: None,
    };
    let q = TabularBatch::new(
        &[test.x[0].as_slice()],
        &[test.y[0]],
        DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    let row = influence::gradient_row(&model, &q, &ckpts, &store.header().projection).unwrap();
    let datainf =
        influence::datainf_scores(&store, &influence::last_block(&store, &row), opts).unwrap();
    let tracin = influence::tracin_scores(&store, &row, opts).unwrap();
    let self_inf = influence::datainf_self_influence(&store, opts).unwrap();
    let to_dps = |scores: &[f64]| -> Vec<DatapointScore> {
        (0..store.len())
            .map(|i| {
                let m = store.meta(i);
                DatapointScore {
                    datapoint: m.datapoint,
                    contributor: m.contributor,
                    datanet: B256::repeat_byte(3),
                    score: scores[i],
                }
            })
            .collect()
    };
    let w_datainf = contributor_weights(&to_dps(&datainf)).unwrap();
    let w_tracin = contributor_weights(&to_dps(&tracin)).unwrap();
    // Lineage on random token documents.
    let mut rng = Rng::new(5);
    let docs: Vec<(DocMeta, Vec<u32>)> = (0..30)
        .map(|i| {
            let meta = DocMeta {
                datapoint: keccak256([i as u8]),
                contributor: contributors[i % 7],
                datanet: B256::repeat_byte(3),
            };
            (meta, (0..100).map(|_| rng.below(40) as u32).collect())
        })
        .collect();
    let mut index = LineageIndex::create(&dir.path().join("index"), None, TokenWidth::U16).unwrap();
    index.add_token_documents(&docs, |_, _, _| {}).unwrap();
    let mut output = docs[4].1[10..40].to_vec();
    output.extend_from_slice(&docs[17].1[50..65]);
    let trace = index
        .trace_tokens(&output, &TraceConfig::default())
        .unwrap();
    let w_lineage = contributor_weights(&trace.scores).unwrap();
    format!(
        "model {} snapshot {} datainf {} tracin {} self {} | weights {:?} root {} | tracin weights {:?} root {} | lineage {:?} root {}",
        header.model_hash,
        header.datanet_snapshot,
        digest_scores(&datainf),
        digest_scores(&tracin),
        digest_scores(&self_inf),
        w_datainf.contributors,
        w_datainf.evidence_root,
        w_tracin.contributors,
        w_tracin.evidence_root,
        w_lineage.contributors,
        w_lineage.evidence_root,
    )
}

#[test]
fn identical_across_runs_and_scan_threads() {
    let reference = pipeline(1);
    assert!(
        reference.contains("weights [("),
        "no positive influence at all: {reference}"
    );
    assert_eq!(pipeline(1), reference, "second run differs");
    assert_eq!(pipeline(2), reference, "2 scan threads differ");
    assert_eq!(pipeline(5), reference, "5 scan threads differ");
}

/// Set in the child processes of `identical_across_candle_thread_pools`: the test then only
/// prints the pipeline's digest for its parent to compare.
const CHILD_ENV: &str = "OL_DETERMINISM_CHILD";

#[test]
fn identical_across_candle_thread_pools() {
    if std::env::var_os(CHILD_ENV).is_some() {
        println!("DIGEST:{}", pipeline(3));
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let run = |threads: &str| -> String {
        let out = Command::new(&exe)
            .args([
                "identical_across_candle_thread_pools",
                "--exact",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_ENV, "1")
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "child failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .lines()
            .find_map(|l| l.split_once("DIGEST:").map(|(_, d)| d.to_string()))
            .expect("digest line")
    };
    let one = run("1");
    let three = run("3");
    assert_eq!(one, three, "candle pool of 1 vs 3 threads");
    assert_eq!(one, pipeline(2), "child vs this process");
}
