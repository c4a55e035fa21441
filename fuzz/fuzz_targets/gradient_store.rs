//! The gradient store loader and the scans over what it accepts never panic: stores arrive
//! inside adapter bundles that anyone can upload and register, and the sequencer's job service
//! opens them and runs DataInf or the Gauss-Newton estimator over them. Inputs are raw bytes,
//! or a valid store (two checkpoints, three layers, four rows, with the curvature section of a
//! Gauss-Newton store; rows in f32, f16 or int8 with its scales) with bytes patched and its
//! length cut, which reaches the header and the sections behind the magic.
#![no_main]

use alloy_primitives::{Address, B256};
use libfuzzer_sys::fuzz_target;
use ol_attribution::{
    influence::{self, ScanOptions, gauss_newton::CurvatureBuilder},
    projection::ProjectionSpec,
    store::{GradientStore, Precision, RowMeta, StoreWriter},
};
use std::{path::PathBuf, sync::OnceLock};

/// A per-process scratch file (the store is memory-mapped, so it must be a file).
fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("ol-fuzz-gradient-store-{}", std::process::id()))
}

/// The bytes of a small valid store with rows at `precision`.
fn seed(precision: Precision) -> &'static [u8] {
    static SEEDS: [OnceLock<Vec<u8>>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = Precision::ALL
        .iter()
        .position(|p| *p == precision)
        .expect("a precision");
    SEEDS[slot].get_or_init(|| {
        let path = scratch().with_extension(format!("seed-{precision}"));
        let groups = [
            ("a".to_string(), 40),
            ("b".to_string(), 6),
            ("c".to_string(), 20),
        ];
        let projection = ProjectionSpec::new(3, &groups, 16);
        let block = projection.output_dim();
        let mut curvature =
            CurvatureBuilder::new(&projection, 2, 1.0).expect("the seed's curvature");
        let mut writer = StoreWriter::create(
            &path,
            influence::GAUSS_NEWTON,
            B256::repeat_byte(1),
            projection,
            vec![0.1, 0.05],
            vec![B256::repeat_byte(2)],
        )
        .expect("the seed store is created")
        .with_precision(precision);
        for i in 0..4u8 {
            let row: Vec<f32> = (0..block * 2)
                .map(|j| f32::from(i) - (j % 7) as f32 * 0.25)
                .collect();
            let meta = RowMeta {
                datapoint: B256::repeat_byte(i),
                contributor: Address::repeat_byte(i + 1),
                datanet: 0,
                label: u32::from(i % 2),
            };
            for (c, grad) in row.chunks(block).enumerate() {
                curvature.add(c, grad, 1.0);
            }
            curvature.example_done("empirical-fisher");
            writer.push(meta, &row).expect("a seed row");
        }
        let (info, factors) = curvature.finish().expect("the seed's factors");
        writer
            .set_curvature(info, factors)
            .expect("the seed's curvature fits");
        writer.finish(None).expect("the seed store is written");
        let bytes = std::fs::read(&path).expect("the seed store is read");
        let _ = std::fs::remove_file(&path);
        bytes
    })
}

/// Opens `bytes` as a store and, when it is accepted, runs every scan the job service and
/// the evaluation run over it with queries of the sizes the header declares.
fn check(bytes: &[u8]) {
    let path = scratch();
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    let Ok(store) = GradientStore::open(&path) else {
        return;
    };
    let header = store.header().clone();
    // An empty store may declare any width; queries are built from the model's own gradient
    // in the node, never from the header, so only widths a model could have are tried here.
    if header.row_dim() > 1 << 16 {
        return;
    }
    let opts = ScanOptions::default();
    let block = vec![0.5f32; header.block_dim()];
    let row = vec![0.25f32; header.row_dim()];
    let _ = influence::datainf_scores(&store, &block, opts);
    let _ = influence::datainf_noise(&store, &block, opts);
    let _ = influence::tracin_scores(&store, &row, opts);
    let _ = influence::tracin_noise(&store, &row);
    let _ = influence::datainf_self_influence(&store, opts);
    let _ = influence::tracin_self_influence(&store);
    let _ = influence::gauss_newton_scores(&store, &row, opts);
    let _ = influence::gauss_newton_noise(&store, &row);
    let _ = influence::gauss_newton_self_influence(&store, opts);
    // A query of the wrong size is an error, not a panic.
    let _ = influence::datainf_scores(&store, &block[..block.len() / 2], opts);
    let _ = influence::tracin_scores(&store, &[], opts);
    let _ = influence::gauss_newton_scores(&store, &block, opts);
    let mut buf = Vec::new();
    for i in 0..store.len().min(8) {
        let _ = store.meta(i);
        let _ = store.row(i);
        let _ = store.block_into(i, header.checkpoints.len() - 1, &mut buf);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        check(payload);
        return;
    }
    // Patches: (offset u16, byte) pairs applied to a seed store, then a cut.
    let mut bytes = seed(Precision::ALL[usize::from(mode / 2) % 3]).to_vec();
    let mut chunks = payload.chunks_exact(3);
    for patch in &mut chunks {
        let at = usize::from(u16::from_le_bytes([patch[0], patch[1]])) % bytes.len();
        bytes[at] = patch[2];
    }
    if let [cut, ..] = chunks.remainder() {
        let keep = bytes.len() - usize::from(*cut) % bytes.len().min(64);
        bytes.truncate(keep);
    }
    check(&bytes);
});
