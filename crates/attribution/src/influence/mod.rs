//! Gradient-based influence over a [`GradientStore`]: DataInf, TracIn and, with the curvature
//! kept, the Gauss-Newton influence function ([`gauss_newton`]).
//!
//! **Sign convention.** Every score here is *positive when the training point helps*, i.e. when
//! up-weighting it lowers the loss of the query. DataInf's reference code returns
//! `IF = −hvp·g` (negative = helpful); we return `hvp·g`. TracIn's `Σc ηc ∇ℓ(z)·∇ℓ(q)` already has
//! that sign. Only positive scores earn rewards ([`crate::weights`]).
//!
//! **DataInf** (Kwon et al., ICLR 2024; `ykwon0407/DataInf` `compute_hvp_proposed`), per layer
//! `l` with query gradient `v_l`, training gradients `g_il` (`i = 1..n`) and
//! `λ_l = 0.1 · meanᵢ mean(g_il²)`:
//!
//! ```text
//! hvp_l = (1 / (n λ_l)) Σᵢ [ v_l − (v_l·g_il) / (λ_l + ‖g_il‖²) · g_il ]
//! score(k) = Σ_l hvp_l · g_kl
//! ```
//!
//! computed in two streaming passes (the first accumulates `Σᵢ cᵢ g_il`, the second takes one dot
//! product per row). **TracIn** (Pruthi et al., NeurIPS 2020) is
//! `score(k) = Σc ηc g_kc · q_c`: one pass.

use crate::{
    AttributionError, Result,
    models::{DiffModel, flat_grads},
    projection::ProjectionSpec,
    scan::{self, par_chunks},
    store::{GradientStore, Precision, RowMeta, StoreWriter},
    train::{Checkpoint, restore},
};
use alloy_primitives::B256;
use std::sync::atomic::AtomicBool;

pub mod gauss_newton;

pub use gauss_newton::{
    GAUSS_NEWTON, gauss_newton_noise, gauss_newton_scores, gauss_newton_self_influence,
};

/// How a scan runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanOptions<'a> {
    /// Threads (0 or 1: the calling thread only). Results do not depend on it.
    pub threads: usize,
    /// Set to stop early with [`AttributionError::Cancelled`].
    pub cancel: Option<&'a AtomicBool>,
}

fn cancelled() -> AttributionError {
    AttributionError::Cancelled
}

/// DataInf scores of every row of `store` for a query gradient `query` (one projected block:
/// the last checkpoint's layout; average several query gradients before calling for a set).
pub fn datainf_scores(
    store: &GradientStore,
    query: &[f32],
    opts: ScanOptions<'_>,
) -> Result<Vec<f64>> {
    scores_against(store, &datainf_hvp(store, query, opts)?, opts)
}

/// [`datainf_scores`] and [`datainf_noise`] for one query, sharing the first pass (what a paid
/// attribution needs: three passes over the store instead of four).
pub fn datainf_scores_with_noise(
    store: &GradientStore,
    query: &[f32],
    opts: ScanOptions<'_>,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let hvp = datainf_hvp(store, query, opts)?;
    let last = store.header().checkpoints.len() - 1;
    Ok((
        scores_against(store, &hvp, opts)?,
        noise_band(store, &[(last, &hvp, 1.0)]),
    ))
}

/// DataInf's pass 2: `score(k) = hvp · g_k` over the last checkpoint's blocks.
fn scores_against(store: &GradientStore, hvp: &[f32], opts: ScanOptions<'_>) -> Result<Vec<f64>> {
    let c = store.header().checkpoints.len() - 1;
    let scores = par_chunks(store.len(), opts.threads, opts.cancel, |_, range| {
        range
            .map(|k| f64::from(store.dot_block(k, c, hvp)))
            .collect::<Vec<f64>>()
    })
    .ok_or_else(cancelled)?;
    Ok(scores.concat())
}

/// DataInf's inverse-Hessian-vector product `hvp` for `query` (pass 1 of [`datainf_scores`]):
/// the vector every row's gradient is dotted with.
fn datainf_hvp(store: &GradientStore, query: &[f32], opts: ScanOptions<'_>) -> Result<Vec<f32>> {
    let h = store.header();
    let block = h.block_dim();
    if query.len() != block {
        return Err(AttributionError::invalid(format!(
            "query gradient has {} floats, the store's blocks {block}",
            query.len()
        )));
    }
    let c = h.checkpoints.len() - 1;
    let lambda = &h.checkpoints[c].lambda;
    let ranges = h.layer_ranges();
    let layers = h.layers();
    let n = store.len();
    let norms = store.norms();
    let n_ckpt = h.checkpoints.len();
    // Pass 1: w_l = Σᵢ (v_l·g_il) / (λ_l + ‖g_il‖²) · g_il, per chunk, combined in chunk order.
    let partials = par_chunks(n, opts.threads, opts.cancel, |_, range| {
        let mut w = vec![0.0f32; block];
        for i in range {
            for (l, &(at, len)) in ranges.iter().enumerate() {
                if lambda[l] <= 0.0 {
                    continue;
                }
                let gl = store.layer(i, c, l);
                let vg = gl.dot(&query[at..at + len]);
                let norm = norms[(i * n_ckpt + c) * layers + l];
                let coef = (f64::from(vg) / (lambda[l] + f64::from(norm))) as f32;
                gl.axpy(coef, &mut w[at..at + len]);
            }
        }
        w
    })
    .ok_or_else(cancelled)?;
    let mut w = vec![0.0f64; block];
    for p in &partials {
        for (acc, v) in w.iter_mut().zip(p) {
            *acc += f64::from(*v);
        }
    }
    let mut hvp = vec![0.0f32; block];
    for (l, &(at, len)) in ranges.iter().enumerate() {
        if lambda[l] <= 0.0 {
            continue;
        }
        for j in at..at + len {
            hvp[j] = ((f64::from(query[j]) - w[j] / n as f64) / lambda[l]) as f32;
        }
    }
    Ok(hvp)
}

/// The noise band of scores that are dot products of projected vectors: for row `k`,
/// `σ_k = Σ_c w_c · sqrt(Σ_l ‖g_kcl‖² ‖q_cl‖² / d_l)` over checkpoints `c` (weight `w_c`, query
/// block `q_c`) and layers `l` (`d_l` projected coordinates).
///
/// It is the standard deviation of what a query unrelated to the row (a random direction of
/// the same norms) scores, and, up to the small `(g·q)²/d` term, of the random projection's
/// estimate of the true dot product; summing over checkpoints (not in quadrature) keeps it an
/// upper bound whatever their correlation. A score no larger than a few `σ_k` is indistinct
/// from noise ([`crate::weights::abstain_within_noise`]). Reads the stored norms only.
fn noise_band(store: &GradientStore, queries: &[(usize, &[f32], f64)]) -> Vec<f64> {
    let h = store.header();
    let (layers, n_ckpt) = (h.layers(), h.checkpoints.len());
    let ranges = h.layer_ranges();
    let q_norms: Vec<Vec<f64>> = queries
        .iter()
        .map(|(_, q, _)| {
            ranges
                .iter()
                .map(|&(at, len)| f64::from(scan::dot(&q[at..at + len], &q[at..at + len])))
                .collect()
        })
        .collect();
    let norms = store.norms();
    (0..store.len())
        .map(|k| {
            queries
                .iter()
                .zip(&q_norms)
                .map(|(&(c, _, weight), qn)| {
                    let var: f64 = (0..layers)
                        .map(|l| {
                            let g = f64::from(norms[(k * n_ckpt + c) * layers + l]);
                            g * qn[l] / ranges[l].1.max(1) as f64
                        })
                        .sum();
                    weight.abs() * var.sqrt()
                })
                .sum()
        })
        .collect()
}

/// The noise band of [`tracin_scores`] for `query` (see `noise_band`: one term per
/// checkpoint, weighted by its learning rate).
pub fn tracin_noise(store: &GradientStore, query: &[f32]) -> Result<Vec<f64>> {
    check_row_query(store, query)?;
    let h = store.header();
    let block = h.block_dim();
    let queries: Vec<(usize, &[f32], f64)> = h
        .checkpoints
        .iter()
        .enumerate()
        .map(|(c, ck)| (c, &query[c * block..(c + 1) * block], ck.lr))
        .collect();
    Ok(noise_band(store, &queries))
}

/// The noise band of [`datainf_scores`] for `query` (see `noise_band`: the rows' last block
/// against DataInf's inverse-Hessian-vector product; one pass over the rows to form it).
pub fn datainf_noise(
    store: &GradientStore,
    query: &[f32],
    opts: ScanOptions<'_>,
) -> Result<Vec<f64>> {
    let hvp = datainf_hvp(store, query, opts)?;
    let last = store.header().checkpoints.len() - 1;
    Ok(noise_band(store, &[(last, &hvp, 1.0)]))
}

/// Refuses a query row whose length is not the store's `row_dim`.
fn check_row_query(store: &GradientStore, query: &[f32]) -> Result<()> {
    let row_dim = store.header().row_dim();
    if query.len() != row_dim {
        return Err(AttributionError::invalid(format!(
            "query gradient has {} floats, the store's rows {row_dim}",
            query.len()
        )));
    }
    Ok(())
}

/// `v · row_k` for every row: one pass over the store.
fn dot_rows(store: &GradientStore, v: &[f32], opts: ScanOptions<'_>) -> Result<Vec<f64>> {
    let scores = par_chunks(store.len(), opts.threads, opts.cancel, |_, range| {
        range
            .map(|k| f64::from(store.dot_row(k, v)))
            .collect::<Vec<f64>>()
    })
    .ok_or_else(cancelled)?;
    Ok(scores.concat())
}

/// TracIn scores of every row for a query gradient with one block per checkpoint
/// (`row_dim` floats): `Σc ηc g_kc · q_c`.
pub fn tracin_scores(
    store: &GradientStore,
    query: &[f32],
    opts: ScanOptions<'_>,
) -> Result<Vec<f64>> {
    check_row_query(store, query)?;
    let h = store.header();
    let block = h.block_dim();
    let scaled: Vec<f32> = query
        .iter()
        .enumerate()
        .map(|(j, q)| (f64::from(*q) * h.checkpoints[j / block].lr) as f32)
        .collect();
    dot_rows(store, &scaled, opts)
}

/// TracIn self-influence `Σc ηc ‖g_kc‖²` of every row (from the stored norms; no pass over
/// rows).
pub fn tracin_self_influence(store: &GradientStore) -> Vec<f64> {
    let h = store.header();
    let (layers, n_ckpt) = (h.layers(), h.checkpoints.len());
    let norms = store.norms();
    (0..store.len())
        .map(|k| {
            (0..n_ckpt)
                .map(|c| {
                    let s: f64 = (0..layers)
                        .map(|l| f64::from(norms[(k * n_ckpt + c) * layers + l]))
                        .sum();
                    h.checkpoints[c].lr * s
                })
                .sum()
        })
        .collect()
}

/// DataInf self-influence of every row, `score(k)` with the query `v = g_k`:
/// `Σ_l (1/(n λ_l)) (n ‖g_kl‖² − g_klᵀ A_l g_kl)` with `A_l = Σᵢ g_il g_ilᵀ / (λ_l + ‖g_il‖²)`,
/// which is the same formula as [`datainf_scores`] evaluated for all `k` in `O(n Σ_l k_l²)`.
/// Layers must be at most 8,192 wide after projection.
pub fn datainf_self_influence(store: &GradientStore, opts: ScanOptions<'_>) -> Result<Vec<f64>> {
    let h = store.header();
    let c = h.checkpoints.len() - 1;
    let lambda = &h.checkpoints[c].lambda;
    let ranges = h.layer_ranges();
    let layers = h.layers();
    let n_ckpt = h.checkpoints.len();
    let n = store.len();
    if let Some(&(_, len)) = ranges.iter().find(|(_, len)| *len > 8192) {
        return Err(AttributionError::invalid(format!(
            "DataInf self-influence needs layers of at most 8192 projected coordinates, got {len}"
        )));
    }
    let norms = store.norms();
    let mut out = vec![0.0f64; n];
    for (l, &(at, len)) in ranges.iter().enumerate() {
        if lambda[l] <= 0.0 {
            continue;
        }
        // A_l, accumulated per chunk (f64) and combined in chunk order.
        let partials = par_chunks(n, opts.threads, opts.cancel, |_, range| {
            let mut a = vec![0.0f64; len * len];
            let mut buf = Vec::new();
            for i in range {
                let g = &store.block_into(i, c, &mut buf)[at..at + len];
                let w = 1.0 / (lambda[l] + f64::from(norms[(i * n_ckpt + c) * layers + l]));
                for (r, gr) in g.iter().enumerate() {
                    let wr = w * f64::from(*gr);
                    let row = &mut a[r * len..(r + 1) * len];
                    for (x, gs) in row.iter_mut().zip(g) {
                        *x += wr * f64::from(*gs);
                    }
                }
            }
            a
        })
        .ok_or_else(cancelled)?;
        let mut a = vec![0.0f64; len * len];
        for p in &partials {
            for (x, y) in a.iter_mut().zip(p) {
                *x += y;
            }
        }
        let contrib = par_chunks(n, opts.threads, opts.cancel, |_, range| {
            let mut buf = Vec::new();
            range
                .map(|k| {
                    let g: Vec<f64> = store.block_into(k, c, &mut buf)[at..at + len]
                        .iter()
                        .map(|v| f64::from(*v))
                        .collect();
                    let mut quad = 0.0;
                    for r in 0..len {
                        let row = &a[r * len..(r + 1) * len];
                        quad += g[r] * row.iter().zip(&g).map(|(x, y)| x * y).sum::<f64>();
                    }
                    let sq: f64 = g.iter().map(|x| x * x).sum();
                    (n as f64 * sq - quad) / (n as f64 * lambda[l])
                })
                .collect::<Vec<f64>>()
        })
        .ok_or_else(cancelled)?;
        for (o, v) in out.iter_mut().zip(contrib.concat()) {
            *o += v;
        }
    }
    Ok(out)
}

/// KNN-Shapley values (closed form, [`crate::knn_shapley`]) of every row of `store` for query
/// points, using the last checkpoint's projected gradients as embeddings and the rows' labels
/// ([`RowMeta::label`]). An alternative to influence scores for Datanets that ask for Shapley
/// values; feed the result to [`crate::weights::contributor_weights`] like any score.
pub fn knn_shapley_scores(
    store: &GradientStore,
    queries: &[Vec<f32>],
    query_labels: &[u32],
    k: usize,
) -> Vec<f64> {
    let h = store.header();
    let c = h.checkpoints.len() - 1;
    let train: Vec<Vec<f32>> = (0..store.len())
        .map(|i| store.block_into(i, c, &mut Vec::new()).to_vec())
        .collect();
    let labels: Vec<u32> = (0..store.len()).map(|i| store.meta(i).label).collect();
    crate::knn_shapley::knn_shapley(&train, &labels, queries, query_labels, k)
}

/// The projected gradient row of `model` on `batch` at every checkpoint (one block per
/// checkpoint, concatenated), for the attribution groups of the model. The model is left at the
/// last checkpoint.
pub fn gradient_row<M: DiffModel>(
    model: &M,
    batch: &M::Batch,
    checkpoints: &[Checkpoint],
    projection: &ProjectionSpec,
) -> Result<Vec<f32>> {
    checkpoint_gradients(model, batch, checkpoints, projection, |_, _| Ok(()))
}

/// [`gradient_row`], calling `at_checkpoint(c, block)` with the model still at checkpoint `c`
/// (so a caller can take more gradients there).
fn checkpoint_gradients<M: DiffModel>(
    model: &M,
    batch: &M::Batch,
    checkpoints: &[Checkpoint],
    projection: &ProjectionSpec,
    mut at_checkpoint: impl FnMut(usize, &[f32]) -> Result<()>,
) -> Result<Vec<f32>> {
    let groups = model.attribution_groups();
    let count = checkpoints.len().max(1);
    let mut row = Vec::with_capacity(projection.output_dim() * count);
    for c in 0..count {
        if checkpoints.len() > 1 {
            restore(model.params(), &checkpoints[c].values)?;
        }
        let block = projection.project(&flat_grads(model, batch, &groups)?);
        at_checkpoint(c, &block)?;
        row.extend(block);
    }
    Ok(row)
}

/// The projection spec for `model`'s attribution groups with total dimension `dim`.
pub fn projection_for<M: DiffModel>(model: &M, dim: usize, seed: u64) -> ProjectionSpec {
    let groups: Vec<(String, usize)> = model
        .attribution_groups()
        .into_iter()
        .map(|g| {
            let p = &model.params()[g];
            (p.name.clone(), p.len())
        })
        .collect();
    ProjectionSpec::new(seed, &groups, dim)
}

/// What [`build_store`] needs to know.
#[derive(Debug, Clone)]
pub struct StoreSpec {
    /// `datainf`, `tracin` or [`GAUSS_NEWTON`] (recorded in the header; all read the same rows,
    /// and a Gauss-Newton store also carries its curvature factors).
    pub method: String,
    /// Total projected dimension per checkpoint.
    pub projection_dim: usize,
    /// Projection seed.
    pub projection_seed: u64,
    /// The Datanets the rows belong to.
    pub datanets: Vec<B256>,
    /// Overrides the Datanet snapshot id (default: hash of the rows' datapoints and
    /// contributors).
    pub snapshot: Option<B256>,
    /// The number type the rows are stored in.
    pub precision: Precision,
}

/// Computes the projected training gradient of every example at every checkpoint (the last
/// checkpoint is the model being attributed, and its hash goes in the header) and writes them
/// to a store at `path`. `progress(done, total)` is called after each example; `cancel` stops.
pub fn build_store<M: DiffModel>(
    path: &std::path::Path,
    model: &M,
    checkpoints: &[Checkpoint],
    examples: &[(RowMeta, M::Batch)],
    spec: &StoreSpec,
    cancel: Option<&AtomicBool>,
    mut progress: impl FnMut(usize, usize),
) -> Result<crate::store::StoreHeader> {
    if let Some(last) = checkpoints.last() {
        restore(model.params(), &last.values)?;
    }
    let model_hash = crate::models::model_hash(model.params())?;
    let projection = projection_for(model, spec.projection_dim, spec.projection_seed);
    let lrs = if checkpoints.is_empty() {
        vec![1.0]
    } else {
        checkpoints.iter().map(|c| c.lr).collect()
    };
    let mut writer = StoreWriter::create(
        path,
        &spec.method,
        model_hash,
        projection.clone(),
        lrs,
        spec.datanets.clone(),
    )?
    .with_precision(spec.precision);
    let mut curvature = (spec.method == GAUSS_NEWTON)
        .then(|| {
            gauss_newton::CurvatureBuilder::new(
                &projection,
                checkpoints.len().max(1),
                gauss_newton::DEFAULT_DAMPING,
            )
        })
        .transpose()?;
    let groups = model.attribution_groups();
    for (done, (meta, batch)) in examples.iter().enumerate() {
        if cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
            return Err(cancelled());
        }
        let mut kind = "empirical-fisher";
        let row = checkpoint_gradients(model, batch, checkpoints, &projection, |c, block| {
            let Some(curvature) = curvature.as_mut() else {
                return Ok(());
            };
            match model.fisher_batches(batch)? {
                None => curvature.add(c, block, 1.0),
                Some(pseudo) => {
                    kind = "fisher";
                    for (pseudo_batch, weight) in &pseudo {
                        let g = projection.project(&flat_grads(model, pseudo_batch, &groups)?);
                        curvature.add(c, &g, *weight);
                    }
                }
            }
            Ok(())
        })?;
        if let Some(curvature) = curvature.as_mut() {
            curvature.example_done(kind);
        }
        writer.push(*meta, &row)?;
        progress(done + 1, examples.len());
    }
    if let Some(last) = checkpoints.last() {
        restore(model.params(), &last.values)?;
    }
    if let Some(curvature) = curvature {
        let (info, factors) = curvature.finish()?;
        writer.set_curvature(info, factors)?;
    }
    writer.finish(spec.snapshot)
}

/// Averages several query rows into one (DataInf's `v` is the mean query gradient).
pub fn mean_rows(rows: &[Vec<f32>]) -> Vec<f32> {
    let Some(first) = rows.first() else {
        return Vec::new();
    };
    let mut acc = vec![0.0f64; first.len()];
    for r in rows {
        for (a, v) in acc.iter_mut().zip(r) {
            *a += f64::from(*v);
        }
    }
    acc.iter().map(|a| (a / rows.len() as f64) as f32).collect()
}

/// The last checkpoint's block of a query row (what [`datainf_scores`] takes).
pub fn last_block(store: &GradientStore, row: &[f32]) -> Vec<f32> {
    let block = store.header().block_dim();
    row[row.len() - block..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{projection::ProjectionSpec, rng::Rng, store::test_store};

    /// The streaming two-pass DataInf equals the reference formula written out naively.
    #[test]
    fn datainf_matches_the_reference_formula() {
        let dir = tempfile::tempdir().unwrap();
        let proj = ProjectionSpec::new(0, &[("a".into(), 5), ("b".into(), 3)], 100);
        let mut rng = Rng::new(4);
        let n = 600; // more than two chunks
        let rows: Vec<Vec<f32>> = (0..n)
            .map(|_| (0..8).map(|_| rng.normal() as f32).collect())
            .collect();
        let store = test_store(
            &dir.path().join("s"),
            "datainf",
            proj,
            &rows,
            Precision::F32,
        );
        let v: Vec<f32> = (0..8).map(|_| rng.normal() as f32).collect();
        let got = datainf_scores(&store, &v, ScanOptions::default()).unwrap();
        let got2 = datainf_scores(
            &store,
            &v,
            ScanOptions {
                threads: 3,
                cancel: None,
            },
        )
        .unwrap();
        assert_eq!(got, got2, "thread count changed the result");
        let noise = datainf_noise(&store, &v, ScanOptions::default()).unwrap();
        assert_eq!(
            datainf_scores_with_noise(&store, &v, ScanOptions::default()).unwrap(),
            (got.clone(), noise),
            "the shared first pass changes nothing"
        );
        // Reference, in f64.
        let layers = [(0usize, 5usize), (5, 3)];
        let f = |x: &[f32]| x.iter().map(|v| f64::from(*v)).collect::<Vec<f64>>();
        let dotf = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let mut expected = vec![0.0; n];
        for &(at, len) in &layers {
            let g: Vec<Vec<f64>> = rows.iter().map(|r| f(&r[at..at + len])).collect();
            let vl = f(&v[at..at + len]);
            let lambda = 0.1 * g.iter().map(|gi| dotf(gi, gi) / len as f64).sum::<f64>() / n as f64;
            let mut hvp = vec![0.0; len];
            for gi in &g {
                let c = dotf(&vl, gi) / (lambda + dotf(gi, gi));
                for j in 0..len {
                    hvp[j] += (vl[j] - c * gi[j]) / (n as f64 * lambda);
                }
            }
            for (k, gk) in g.iter().enumerate() {
                expected[k] += dotf(&hvp, gk);
            }
        }
        for (a, b) in got.iter().zip(&expected) {
            assert!((a - b).abs() <= 1e-3 * b.abs().max(1.0), "{a} vs {b}");
        }
        // Self-influence: the closed form equals scoring each row against itself.
        let selfs = datainf_self_influence(&store, ScanOptions::default()).unwrap();
        for k in [0, 17, 599] {
            let s = datainf_scores(&store, &store.row(k), ScanOptions::default()).unwrap()[k];
            assert!(
                (selfs[k] - s).abs() <= 1e-3 * s.abs().max(1.0),
                "{} vs {s}",
                selfs[k]
            );
        }
    }

    /// Every scan over an f16 or int8 store gives the same bits at any thread count, and
    /// stays close to the f32 store's scores.
    #[test]
    fn narrow_stores_scan_the_same_at_any_thread_count() {
        let dir = tempfile::tempdir().unwrap();
        let proj = ProjectionSpec::new(0, &[("a".into(), 40), ("b".into(), 9)], 1000);
        let mut rng = Rng::new(8);
        let rows: Vec<Vec<f32>> = (0..700)
            .map(|_| (0..49).map(|_| rng.normal() as f32).collect())
            .collect();
        let v: Vec<f32> = (0..49).map(|_| rng.normal() as f32).collect();
        let scores = |p: Precision| {
            let path = dir.path().join(format!("s.{p}"));
            let store = test_store(&path, "datainf", proj.clone(), &rows, p);
            let run = |threads| {
                let opts = ScanOptions {
                    threads,
                    cancel: None,
                };
                (
                    datainf_scores(&store, &v, opts).unwrap(),
                    tracin_scores(&store, &v, opts).unwrap(),
                    datainf_self_influence(&store, opts).unwrap(),
                )
            };
            let one = run(1);
            assert_eq!(one, run(3), "{p}: thread count changed the result");
            one
        };
        let exact = scores(Precision::F32);
        for p in [Precision::F16, Precision::Int8] {
            let narrow = scores(p);
            let close = |a: &[f64], b: &[f64]| {
                let scale = a.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 0.05 * scale)
            };
            assert!(close(&exact.0, &narrow.0), "{p}: DataInf");
            assert!(close(&exact.1, &narrow.1), "{p}: TracIn");
            assert!(close(&exact.2, &narrow.2), "{p}: self-influence");
        }
    }
}
