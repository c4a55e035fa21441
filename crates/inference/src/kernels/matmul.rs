//! A batch-invariant F32 matrix product for the CPU.
//!
//! candle's CPU matmul goes through the `gemm` crate, which picks a different algorithm by shape
//! (a horizontal kernel when `m * n <= 256`, `gevv` when `k <= 2`, `gemv` when `m == 1` or
//! `n == 1`, else blocked kernels whose `kc` depends on `m`, `n`, `k` and the cache sizes) and
//! dispatches at run time to AVX-512 or FMA micro-kernels. So the bits of one row of `x · W` can
//! change with the number of other rows in the batch and from one CPU to another.
//!
//! This kernel fixes the arithmetic of every output element instead: `c[i][j]` is the sum, in the
//! order `k = 0, 1, …, K-1`, of the rounded products `a[i][k] * b[k][j]`, starting from `+0.0`,
//! with no fused multiply-add (Rust never contracts `x * y + z`). That is exactly what a naive
//! triple loop computes, whatever the number of rows, their grouping, the column tiling, the
//! thread count or the SIMD width, so a row's result depends only on that row and `B`.
//! Speed comes from register blocking (4 rows × 16 columns of accumulators that LLVM keeps in
//! vector registers, lane-wise, so no reassociation) and from splitting the columns, never `K`,
//! across rayon threads.

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Shape, Tensor, bail};
use rayon::prelude::*;

/// Rows of `A` per micro-kernel call.
const MR: usize = 4;
/// Columns of `B` per micro-kernel call (two AVX or four SSE registers per row).
const NR: usize = 16;
/// Columns per parallel task: wide enough to amortise the task, narrow enough to spread a
/// decode step's columns over the threads.
const TILE_N: usize = 64;

/// `a · b` for F32 tensors `[m, k] · [k, n]` or batched `[bs, m, k] · [bs, k, n]`, with the
/// fixed per-element reduction order described in the module documentation. Differentiable:
/// the backward pass uses the same kernel.
///
/// Only F32 on the CPU takes the fixed-order kernel. Other devices go to candle (their batch
/// invariance is a property of their own kernels), and so does F64, which only the gradient
/// checks of the training path use, where exactness matters and batch invariance does not.
pub fn matmul(a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    if !a.device().is_cpu() || (a.dtype() == DType::F64 && b.dtype() == DType::F64) {
        return a.matmul(b);
    }
    let a = a.contiguous()?;
    let b = b.contiguous()?;
    a.apply_op2(&b, FixedOrderMatmul)
}

/// The candle custom op behind [`matmul`].
#[derive(Debug, Clone, Copy)]
struct FixedOrderMatmul;

/// The problem sizes of a (possibly batched) product.
#[derive(Debug, Clone, Copy)]
struct Dims {
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
}

fn dims(l1: &Layout, l2: &Layout) -> candle_core::Result<Dims> {
    match (l1.dims(), l2.dims()) {
        (&[m, k], &[k2, n]) if k == k2 => Ok(Dims { batch: 1, m, k, n }),
        (&[b1, m, k], &[b2, k2, n]) if k == k2 && b1 == b2 => Ok(Dims { batch: b1, m, k, n }),
        (d1, d2) => bail!("fixed-order matmul: incompatible shapes {d1:?} and {d2:?}"),
    }
}

fn contiguous<'a>(s: &'a CpuStorage, l: &Layout) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(data) = s else {
        bail!("fixed-order matmul: only F32 is supported")
    };
    match l.contiguous_offsets() {
        Some((start, end)) => data
            .get(start..end)
            .ok_or_else(|| candle_core::Error::Msg("fixed-order matmul: bad layout".into())),
        None => bail!("fixed-order matmul: inputs must be contiguous"),
    }
}

impl CustomOp2 for FixedOrderMatmul {
    fn name(&self) -> &'static str {
        "fixed-order-matmul"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = dims(l1, l2)?;
        let a = contiguous(s1, l1)?;
        let b = contiguous(s2, l2)?;
        let out = matmul_f32(a, b, d);
        let shape: Shape = if l1.dims().len() == 2 {
            (d.m, d.n).into()
        } else {
            (d.batch, d.m, d.n).into()
        };
        Ok((CpuStorage::F32(out), shape))
    }

    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        // Only the inputs a gradient can flow to: a frozen base weight (a plain tensor under
        // a LoRA adapter being trained) would cost a full-size product for nothing.
        let rank = a.rank();
        let ga = if a.track_op() {
            Some(matmul(grad, &b.transpose(rank - 2, rank - 1)?)?)
        } else {
            None
        };
        let gb = if b.track_op() {
            Some(matmul(&a.transpose(rank - 2, rank - 1)?, grad)?)
        } else {
            None
        };
        Ok((ga, gb))
    }
}

/// The kernel on plain slices (lengths are those of `d`; checked by the caller's layouts).
fn matmul_f32(a: &[f32], b: &[f32], d: Dims) -> Vec<f32> {
    let Dims { batch, m, k, n } = d;
    let mut out = vec![0f32; batch * m * n];
    if m == 0 || n == 0 {
        return out;
    }
    let tiles_per_batch = n.div_ceil(TILE_N);
    // Each task computes all rows of one column tile of one batch item into its own buffer;
    // no task splits K, so the thread count cannot change any sum.
    let tiles: Vec<(usize, usize, Vec<f32>)> = (0..batch * tiles_per_batch)
        .into_par_iter()
        .map(|t| {
            let (bi, tile) = (t / tiles_per_batch, t % tiles_per_batch);
            let col0 = tile * TILE_N;
            let width = TILE_N.min(n - col0);
            let a_b = &a[bi * m * k..(bi + 1) * m * k];
            let b_b = &b[bi * k * n..(bi + 1) * k * n];
            (bi, col0, tile_product(a_b, b_b, m, k, n, col0, width))
        })
        .collect();
    for (bi, col0, buf) in tiles {
        let width = buf.len() / m;
        for (row, chunk) in buf.chunks_exact(width).enumerate() {
            let at = bi * m * n + row * n + col0;
            out[at..at + width].copy_from_slice(chunk);
        }
    }
    out
}

/// Columns `col0..col0 + width` of `a · b` for all `m` rows, row-major `[m, width]`.
fn tile_product(
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
    col0: usize,
    width: usize,
) -> Vec<f32> {
    let mut buf = vec![0f32; m * width];
    let mut c = 0;
    while c < width {
        let w = NR.min(width - c);
        let mut r = 0;
        while r < m {
            let rows = MR.min(m - r);
            let acc = match rows {
                4 => block::<4>(a, b, r, k, n, col0 + c, w),
                3 => widen(block::<3>(a, b, r, k, n, col0 + c, w)),
                2 => widen(block::<2>(a, b, r, k, n, col0 + c, w)),
                _ => widen(block::<1>(a, b, r, k, n, col0 + c, w)),
            };
            for (i, acc_row) in acc.iter().take(rows).enumerate() {
                let at = (r + i) * width + c;
                buf[at..at + w].copy_from_slice(&acc_row[..w]);
            }
            r += rows;
        }
        c += w;
    }
    buf
}

fn widen<const R: usize>(acc: [[f32; NR]; R]) -> [[f32; NR]; MR] {
    let mut out = [[0f32; NR]; MR];
    out[..R].copy_from_slice(&acc);
    out
}

/// `R` rows starting at `row0` times columns `col..col + w` (`w <= NR`) of `b`, summed over `k`
/// in increasing order. Narrow tails take the scalar path with the same per-element arithmetic.
#[inline(always)]
fn block<const R: usize>(
    a: &[f32],
    b: &[f32],
    row0: usize,
    k: usize,
    n: usize,
    col: usize,
    w: usize,
) -> [[f32; NR]; R] {
    let mut acc = [[0f32; NR]; R];
    let a_rows: [&[f32]; R] = std::array::from_fn(|i| &a[(row0 + i) * k..(row0 + i + 1) * k]);
    if w == NR {
        for kk in 0..k {
            let b_row = &b[kk * n + col..kk * n + col + NR];
            for (acc_row, a_row) in acc.iter_mut().zip(a_rows.iter()) {
                let x = a_row[kk];
                for (s, &y) in acc_row.iter_mut().zip(b_row.iter()) {
                    *s += x * y;
                }
            }
        }
    } else {
        for kk in 0..k {
            let b_row = &b[kk * n + col..kk * n + col + w];
            for (acc_row, a_row) in acc.iter_mut().zip(a_rows.iter()) {
                let x = a_row[kk];
                for (s, &y) in acc_row.iter_mut().zip(b_row.iter()) {
                    *s += x * y;
                }
            }
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn lcg(seed: u64, len: usize) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut out = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0f32;
                for kk in 0..k {
                    acc += a[i * k + kk] * b[kk * n + j];
                }
                out[i * n + j] = acc;
            }
        }
        out
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn equals_the_naive_loop_bit_for_bit_for_any_shape_and_thread_count() {
        for &(m, k, n) in &[
            (1, 1, 1),
            (1, 37, 70),
            (3, 64, 16),
            (7, 33, 129),
            (32, 65, 200),
        ] {
            let a = lcg(m as u64 * 31 + k as u64, m * k);
            let b = lcg(n as u64 * 17 + k as u64, k * n);
            let want = bits(&naive(&a, &b, m, k, n));
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let got = pool.install(|| matmul_f32(&a, &b, Dims { batch: 1, m, k, n }));
                assert_eq!(bits(&got), want, "m={m} k={k} n={n} threads={threads}");
            }
            // Each row alone gives the bits it has inside the batch.
            for i in 0..m {
                let row = matmul_f32(
                    &a[i * k..(i + 1) * k],
                    &b,
                    Dims {
                        batch: 1,
                        m: 1,
                        k,
                        n,
                    },
                );
                assert_eq!(bits(&row), want[i * n..(i + 1) * n]);
            }
        }
    }

    #[test]
    fn tensor_op_batched_and_gradients() {
        let dev = Device::Cpu;
        let a = Tensor::from_vec(lcg(1, 2 * 3 * 5), (2, 3, 5), &dev).unwrap();
        let b = Tensor::from_vec(lcg(2, 2 * 5 * 4), (2, 5, 4), &dev).unwrap();
        let got = matmul(&a, &b).unwrap();
        let want = a.matmul(&b).unwrap();
        let diff = (got - want).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-5);

        let x = Var::from_tensor(&Tensor::from_vec(lcg(3, 4 * 6), (4, 6), &dev).unwrap()).unwrap();
        let w = Var::from_tensor(&Tensor::from_vec(lcg(4, 6 * 3), (6, 3), &dev).unwrap()).unwrap();
        let loss = matmul(x.as_tensor(), w.as_tensor())
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        let loss_ref = x.matmul(&w).unwrap().sqr().unwrap().sum_all().unwrap();
        let grads_ref = loss_ref.backward().unwrap();
        for v in [&x, &w] {
            let g = grads
                .get(v.as_tensor())
                .expect("gradient reaches the input");
            let r = grads_ref.get(v.as_tensor()).unwrap();
            let diff = (g - r).unwrap().abs().unwrap().max_all().unwrap();
            assert!(diff.to_scalar::<f32>().unwrap() < 1e-4);
        }
    }

    #[test]
    fn rejects_bad_inputs_without_panicking() {
        let dev = Device::Cpu;
        let a = Tensor::zeros((2, 3), candle_core::DType::F32, &dev).unwrap();
        let b = Tensor::zeros((4, 2), candle_core::DType::F32, &dev).unwrap();
        assert!(matmul(&a, &b).is_err());
        let h = Tensor::zeros((3, 2), candle_core::DType::F16, &dev).unwrap();
        assert!(matmul(&a.to_dtype(candle_core::DType::F16).unwrap(), &h).is_err());
    }
}
