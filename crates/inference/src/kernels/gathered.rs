//! The gathered LoRA pass of the CPU: one sweep over the rows of a heterogeneous batch in which
//! every row adds its own adapter's delta (BGMV for decode rows, SGMV for prefill segments, in
//! one kernel), written straight into a copy of the base output.
//!
//! The per-adapter path (gather the rows, two products, scatter-add) costs a handful of tensor
//! ops per adapter and per projection, and `index_add` copies the whole output each time, so a
//! batch of `n` distinct adapters pays `n` copies of `[rows, out]` per projection: quadratic in
//! the batch. Here the output is copied once and each row reads only its own factors.
//!
//! The arithmetic is the per-adapter path's, element for element, so both give the same bits:
//! `shrunk[j] = Σ_k x[k]·Aᵀ[k][j]` and `delta[c] = Σ_j shrunk[j]·Bᵀ[j][c]`, each summed in index
//! order from `+0.0` without fused multiply-add (as [`matmul`](super::matmul) does), then
//! `y[c] + (delta[c]·scale + 0.0)` (candle's affine scaling, then the add of `index_add`). Rows
//! are independent and no sum is split, so neither the batch nor the thread count changes a bit.

use super::lora::{LoraGroup, RowSet};
use candle_core::{CpuStorage, DType, Layout, Storage, Tensor, bail};
use rayon::prelude::*;

/// Marks a row that no adapter applies to.
const NO_ADAPTER: u32 = u32::MAX;

/// Whether the gathered pass can take these inputs: CPU F32 matrices and factors that no
/// gradient is tracked through (the pass has no backward; the per-adapter path, made of
/// differentiable ops, serves the rest).
pub(super) fn applies(x: &Tensor, y: &Tensor, groups: &[LoraGroup<'_>]) -> bool {
    let plain = |t: &Tensor| t.device().is_cpu() && t.dtype() == DType::F32 && !t.track_op();
    plain(x)
        && plain(y)
        && x.rank() == 2
        && y.rank() == 2
        && groups
            .iter()
            .all(|g| plain(&g.factors.a_t) && plain(&g.factors.b_t))
}

/// The contiguous F32 data of a CPU storage under `layout`.
fn data<'a>(storage: &'a Storage, layout: &Layout, what: &str) -> candle_core::Result<&'a [f32]> {
    let Storage::Cpu(CpuStorage::F32(values)) = storage else {
        bail!("gathered LoRA: {what} is not an F32 CPU tensor")
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => match values.get(start..end) {
            Some(slice) => Ok(slice),
            None => bail!("gathered LoRA: {what} has a layout outside its storage"),
        },
        None => bail!("gathered LoRA: {what} is not contiguous"),
    }
}

/// `y` with every group's delta added to its rows (see the module documentation). The caller
/// checked [`applies`].
pub(super) fn apply(
    x: &Tensor,
    y: &Tensor,
    groups: &[LoraGroup<'_>],
) -> candle_core::Result<Tensor> {
    let (rows, d_in) = x.dims2()?;
    let (y_rows, d_out) = y.dims2()?;
    if y_rows != rows {
        bail!("gathered LoRA: {rows} input rows but {y_rows} output rows");
    }
    let mut owner = vec![NO_ADAPTER; rows];
    for (gi, g) in groups.iter().enumerate() {
        let (a_in, rank) = g.factors.a_t.dims2()?;
        let (b_rank, b_out) = g.factors.b_t.dims2()?;
        if a_in != d_in || b_rank != rank || b_out != d_out {
            bail!(
                "gathered LoRA: factors [{a_in}, {rank}] · [{b_rank}, {b_out}] do not fit a \
                 [{rows}, {d_in}] → [{rows}, {d_out}] projection"
            );
        }
        let mut mark = |row: usize| -> candle_core::Result<()> {
            match owner.get_mut(row) {
                Some(slot) if *slot == NO_ADAPTER => *slot = gi as u32,
                Some(_) => bail!("gathered LoRA: row {row} is in two groups"),
                None => bail!("gathered LoRA: row {row} is outside the {rows} rows"),
            }
            Ok(())
        };
        match g.rows {
            RowSet::Range { start, len } => (*start..start + len).try_for_each(&mut mark)?,
            RowSet::Rows(list) => list.iter().try_for_each(|&r| mark(r as usize))?,
        }
    }
    let (x, y) = (x.contiguous()?, y.contiguous()?);
    let factors: Vec<(Tensor, Tensor, f32)> = groups
        .iter()
        .map(|g| -> candle_core::Result<_> {
            Ok((
                g.factors.a_t.contiguous()?,
                g.factors.b_t.contiguous()?,
                // candle's `tensor * f64` scales in the tensor's dtype.
                g.factors.scale as f32,
            ))
        })
        .collect::<candle_core::Result<_>>()?;
    let (x_storage, x_layout) = x.storage_and_layout();
    let (y_storage, y_layout) = y.storage_and_layout();
    let guards: Vec<_> = factors
        .iter()
        .map(|(a, b, _)| (a.storage_and_layout(), b.storage_and_layout()))
        .collect();
    let mut slices = Vec::with_capacity(guards.len());
    for (((a_storage, a_layout), (b_storage, b_layout)), (a, _, scale)) in
        guards.iter().zip(&factors)
    {
        slices.push(Factors {
            a_t: data(a_storage, a_layout, "Aᵀ")?,
            b_t: data(b_storage, b_layout, "Bᵀ")?,
            rank: a.dim(1)?,
            scale: *scale,
        });
    }
    let x_data = data(&x_storage, x_layout, "the input")?;
    let mut out = data(&y_storage, y_layout, "the base output")?.to_vec();
    if d_out == 0 {
        return Tensor::from_vec(out, (rows, d_out), x.device());
    }
    // The shrink, one task per row that has an adapter.
    let shrunk: Vec<Option<Vec<f32>>> = owner
        .par_iter()
        .enumerate()
        .map(|(row, &gi)| {
            let f = slices.get(gi as usize)?;
            Some(shrink_row(&x_data[row * d_in..(row + 1) * d_in], f))
        })
        .collect();
    // The expand: one task per row, or per column tile when there are too few rows to give
    // every thread work (a decode step of one or two sequences).
    let active = shrunk.iter().filter(|s| s.is_some()).count().max(1);
    let tiles = (2 * rayon::current_num_threads()).div_ceil(active);
    let tile = d_out.div_ceil(tiles).next_multiple_of(MIN_TILE).min(d_out);
    out.par_chunks_mut(d_out)
        .zip(owner.par_iter().zip(&shrunk))
        .for_each(|(out_row, (&gi, s))| {
            let (Some(f), Some(s)) = (slices.get(gi as usize), s) else {
                return;
            };
            out_row
                .par_chunks_mut(tile)
                .enumerate()
                .for_each(|(t, cols)| expand_cols(s, f, d_out, t * tile, cols));
        });
    Tensor::from_vec(out, (rows, d_out), x.device())
}

/// The narrowest column tile the expand is split into.
const MIN_TILE: usize = 128;

/// One adapter's factors as slices: `Aᵀ` `[in, rank]`, `Bᵀ` `[rank, out]`, row-major.
struct Factors<'a> {
    a_t: &'a [f32],
    b_t: &'a [f32],
    rank: usize,
    scale: f32,
}

// With AVX2 the loops below are compiled 8 lanes wide: each lane still does one rounded
// multiply and one rounded add per term (Rust never fuses them into a multiply-add), so the
// bits are those of the portable build, on any x86-64 CPU.

/// `x · Aᵀ` for one row: `shrunk[j] = Σ_k x[k] · Aᵀ[k][j]`, in index order from `+0.0`.
fn shrink_row(x: &[f32], f: &Factors<'_>) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, the only requirement of the function.
        return unsafe { shrink_row_avx2(x, f) };
    }
    shrink_body(x, f)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn shrink_row_avx2(x: &[f32], f: &Factors<'_>) -> Vec<f32> {
    shrink_body(x, f)
}

/// The body of [`shrink_row`]: blocks of up to 16 rank lanes, accumulated in registers.
#[inline(always)]
fn shrink_body(x: &[f32], f: &Factors<'_>) -> Vec<f32> {
    let rank = f.rank;
    if rank == 0 {
        return Vec::new();
    }
    let mut shrunk = vec![0f32; rank];
    let mut j = 0;
    while j < rank {
        j += match rank - j {
            16.. => shrink::<16>(x, f.a_t, rank, j, &mut shrunk),
            8.. => shrink::<8>(x, f.a_t, rank, j, &mut shrunk),
            4.. => shrink::<4>(x, f.a_t, rank, j, &mut shrunk),
            _ => shrink::<1>(x, f.a_t, rank, j, &mut shrunk),
        };
    }
    shrunk
}

/// Rank lanes `j0..j0 + W` of `x · Aᵀ` (`a_t` is `[x.len(), rank]`); returns `W`.
#[inline(always)]
fn shrink<const W: usize>(
    x: &[f32],
    a_t: &[f32],
    rank: usize,
    j0: usize,
    shrunk: &mut [f32],
) -> usize {
    let mut acc = [0f32; W];
    for (&xk, a_row) in x.iter().zip(a_t.chunks_exact(rank)) {
        for (s, &w) in acc.iter_mut().zip(&a_row[j0..j0 + W]) {
            *s += xk * w;
        }
    }
    shrunk[j0..j0 + W].copy_from_slice(&acc);
    W
}

/// Columns `col0..col0 + cols.len()` of one row's output (of `d_out`):
/// `cols[c] += (Σ_j shrunk[j] · Bᵀ[j][col0 + c]) · scale + 0.0`, the sum in index order from
/// `+0.0`.
fn expand_cols(shrunk: &[f32], f: &Factors<'_>, d_out: usize, col0: usize, cols: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, the only requirement of the function.
        return unsafe { expand_cols_avx2(shrunk, f, d_out, col0, cols) };
    }
    expand_body(shrunk, f, d_out, col0, cols);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn expand_cols_avx2(shrunk: &[f32], f: &Factors<'_>, d_out: usize, col0: usize, cols: &mut [f32]) {
    expand_body(shrunk, f, d_out, col0, cols);
}

/// The body of [`expand_cols`]: blocks of up to 32 columns, accumulated in registers.
#[inline(always)]
fn expand_body(shrunk: &[f32], f: &Factors<'_>, d_out: usize, col0: usize, cols: &mut [f32]) {
    let mut c = 0;
    while c < cols.len() {
        c += match cols.len() - c {
            32.. => expand::<32>(shrunk, f.b_t, d_out, col0, c, f.scale, cols),
            8.. => expand::<8>(shrunk, f.b_t, d_out, col0, c, f.scale, cols),
            _ => expand::<1>(shrunk, f.b_t, d_out, col0, c, f.scale, cols),
        };
    }
}

/// Columns `c..c + W` of `cols` (global column `col0 + c` of `b_t`, `[rank, d_out]`); returns
/// `W`.
#[inline(always)]
fn expand<const W: usize>(
    shrunk: &[f32],
    b_t: &[f32],
    d_out: usize,
    col0: usize,
    c: usize,
    scale: f32,
    cols: &mut [f32],
) -> usize {
    let at = col0 + c;
    let mut acc = [0f32; W];
    for (&sj, b_row) in shrunk.iter().zip(b_t.chunks_exact(d_out)) {
        for (d, &w) in acc.iter_mut().zip(&b_row[at..at + W]) {
            *d += sj * w;
        }
    }
    for (o, &d) in cols[c..c + W].iter_mut().zip(&acc) {
        *o += d * scale + 0.0;
    }
    W
}
