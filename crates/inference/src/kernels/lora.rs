//! The low-rank delta of a heterogeneous batch: rows of one batch use different adapters, the
//! base projection runs once for all of them and each row adds `scale · (x · Aᵀ) · Bᵀ` of its own
//! adapter (Punica's idea: SGMV for prefill segments, BGMV for decode rows).
//!
//! The CPU kernel makes one gathered pass over the rows (see [`gathered`](super::gathered)):
//! the output is copied once and each row reads its own adapter's factors, whatever the number
//! of distinct adapters. When a gradient is tracked through the inputs it takes the
//! per-adapter path instead, made of differentiable candle ops: gather the rows of each adapter
//! (a contiguous segment is a `narrow`, scattered decode rows an `index_select`), run the shrink
//! and expand products with the fixed-order [`matmul`], and add the result back with
//! `index_add`. Both compute every element with the same operations in the same order, so they
//! give the same bits, and a row gets the same bits whether its adapter's group holds one row or
//! a hundred, which is what makes the batch composition invisible. A CUDA kernel can take the
//! CPU kernel's place behind [`LoraKernel`].

use super::{gathered, matmul};
use candle_core::{Device, Tensor};
use std::fmt::Debug;

/// One adapter's factors for one projection, laid out for the kernel.
#[derive(Debug, Clone)]
pub struct LoraFactors {
    /// `Aᵀ`, `[in_features, r]` (PEFT stores `A` as `[r, in_features]`).
    pub a_t: Tensor,
    /// `Bᵀ`, `[r, out_features]` (PEFT stores `B` as `[out_features, r]`).
    pub b_t: Tensor,
    /// `lora_alpha / r`, or `lora_alpha / sqrt(r)` with rsLoRA.
    pub scale: f64,
}

/// The rows of the flattened batch that one adapter applies to.
#[derive(Debug, Clone)]
pub enum RowSet {
    /// A contiguous segment `start..start + len` (one prefill, SGMV-style).
    Range {
        /// First row.
        start: usize,
        /// Number of rows.
        len: usize,
    },
    /// Arbitrary rows, ascending (decode rows of several sequences, BGMV-style).
    Rows(Vec<u32>),
}

impl RowSet {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Self::Range { len, .. } => *len,
            Self::Rows(rows) => rows.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn indices(&self, device: &Device) -> candle_core::Result<Tensor> {
        match self {
            Self::Range { start, len } => {
                let ids: Vec<u32> = (*start..start + len).map(|i| i as u32).collect();
                Tensor::from_vec(ids, *len, device)
            }
            Self::Rows(rows) => Tensor::from_slice(rows, rows.len(), device),
        }
    }
}

/// The rows of one adapter and its factors for the projection being computed.
#[derive(Debug, Clone, Copy)]
pub struct LoraGroup<'a> {
    /// Which rows.
    pub rows: &'a RowSet,
    /// The adapter's factors for this projection.
    pub factors: &'a LoraFactors,
}

/// Adds per-row LoRA deltas to the output of a base projection.
pub trait LoraKernel: Send + Sync + Debug {
    /// Returns `y` with `scale · (x[r] · Aᵀ) · Bᵀ` added to every row `r` of every group, where
    /// `x` is the projection's input `[rows, in]` and `y` its base output `[rows, out]`. Groups
    /// never share a row.
    fn apply(&self, x: &Tensor, y: Tensor, groups: &[LoraGroup<'_>])
    -> candle_core::Result<Tensor>;
}

/// The CPU implementation: one gathered pass over the rows, or gather, two fixed-order products
/// and scatter-add per adapter when a gradient is tracked.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuLoraKernel;

impl LoraKernel for CpuLoraKernel {
    fn apply(
        &self,
        x: &Tensor,
        y: Tensor,
        groups: &[LoraGroup<'_>],
    ) -> candle_core::Result<Tensor> {
        if gathered::applies(x, &y, groups) {
            return gathered::apply(x, &y, groups);
        }
        per_adapter(x, y, groups)
    }
}

/// The per-adapter path alone, as a kernel: the CPU kernel before the gathered pass, kept to
/// measure against (`openledger bench inference --lora-kernel per-adapter`). Same bits.
#[derive(Debug, Clone, Copy, Default)]
pub struct PerAdapterLoraKernel;

impl LoraKernel for PerAdapterLoraKernel {
    fn apply(
        &self,
        x: &Tensor,
        y: Tensor,
        groups: &[LoraGroup<'_>],
    ) -> candle_core::Result<Tensor> {
        per_adapter(x, y, groups)
    }
}

/// The differentiable path: per adapter, gather its rows, two fixed-order products, scatter-add.
fn per_adapter(x: &Tensor, mut y: Tensor, groups: &[LoraGroup<'_>]) -> candle_core::Result<Tensor> {
    for group in groups.iter().filter(|g| !g.rows.is_empty()) {
        let xs = match group.rows {
            RowSet::Range { start, len } => x.narrow(0, *start, *len)?,
            rows @ RowSet::Rows(_) => x.index_select(&rows.indices(x.device())?, 0)?,
        };
        // PEFT's order: lora_B(lora_A(x)) * scaling.
        let shrunk = matmul(&xs, &group.factors.a_t)?;
        let delta = (matmul(&shrunk, &group.factors.b_t)? * group.factors.scale)?;
        y = y.index_add(&group.rows.indices(x.device())?, &delta, 0)?;
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::bits;
    use candle_core::DType;

    fn t(seed: u32, shape: (usize, usize)) -> Tensor {
        let n = shape.0 * shape.1;
        let v: Vec<f32> = (0..n)
            .map(|i| {
                (((i as u32).wrapping_mul(2654435761).wrapping_add(seed * 97)) % 1000) as f32
                    / 500.0
                    - 1.0
            })
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn grouped_rows_get_the_bits_of_rows_computed_alone() {
        let (rows, din, dout) = (6, 8, 5);
        let x = t(1, (rows, din));
        let y = t(2, (rows, dout));
        let adapters = [
            LoraFactors {
                a_t: t(3, (din, 2)),
                b_t: t(4, (2, dout)),
                scale: 2.0,
            },
            LoraFactors {
                a_t: t(5, (din, 3)),
                b_t: t(6, (3, dout)),
                scale: 0.5,
            },
        ];
        // Rows 0..2 use adapter 0 as a segment; rows 3 and 5 use adapter 1 as decode rows; row 2
        // and 4 have no adapter.
        let seg = RowSet::Range { start: 0, len: 2 };
        let scattered = RowSet::Rows(vec![3, 5]);
        let groups = [
            LoraGroup {
                rows: &seg,
                factors: &adapters[0],
            },
            LoraGroup {
                rows: &scattered,
                factors: &adapters[1],
            },
        ];
        let out = CpuLoraKernel.apply(&x, y.clone(), &groups).unwrap();
        let which = [Some(0), Some(0), None, Some(1), None, Some(1)];
        for (r, a) in which.iter().enumerate() {
            let xr = x.narrow(0, r, 1).unwrap();
            let yr = y.narrow(0, r, 1).unwrap();
            let want = match a {
                None => yr,
                Some(a) => {
                    let one = RowSet::Range { start: 0, len: 1 };
                    let g = [LoraGroup {
                        rows: &one,
                        factors: &adapters[*a],
                    }];
                    CpuLoraKernel.apply(&xr, yr, &g).unwrap()
                }
            };
            assert_eq!(bits(&out.narrow(0, r, 1).unwrap()), bits(&want), "row {r}");
        }
        // A zero B leaves the base output bit for bit.
        let zero = LoraFactors {
            a_t: t(7, (din, 2)),
            b_t: Tensor::zeros((2, dout), DType::F32, &Device::Cpu).unwrap(),
            scale: 1.0,
        };
        let all = RowSet::Range {
            start: 0,
            len: rows,
        };
        let out = CpuLoraKernel
            .apply(
                &x,
                y.clone(),
                &[LoraGroup {
                    rows: &all,
                    factors: &zero,
                }],
            )
            .unwrap();
        assert_eq!(bits(&out), bits(&y));
    }

    /// Deterministic values with exact zeros of both signs among them.
    fn signed(seed: u32, shape: (usize, usize)) -> Tensor {
        let v: Vec<f32> = (0..shape.0 * shape.1)
            .map(
                |i| match (i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 11 {
                    0 => -0.0,
                    1 => 0.0,
                    k => (k as f32 - 5.5) / (1.0 + (i % 7) as f32),
                },
            )
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn the_gathered_pass_gives_the_bits_of_the_per_adapter_ops() {
        // Ranks and widths that reach every block size of the kernel and its tails.
        let (rows, din, dout) = (12, 37, 75);
        let x = t(1, (rows, din));
        let y = signed(2, (rows, dout));
        let factors: Vec<LoraFactors> = [1, 3, 21, 64]
            .iter()
            .enumerate()
            .map(|(i, &r)| LoraFactors {
                a_t: signed(10 + i as u32, (din, r)),
                b_t: signed(20 + i as u32, (r, dout)),
                scale: [2.0, 0.3, 1.0 / 3.0, 0.125][i],
            })
            .collect();
        // A prefill segment, scattered decode rows, one-row groups, and rows 3, 7, 10 bare.
        let sets = [
            RowSet::Range { start: 0, len: 3 },
            RowSet::Rows(vec![4, 6, 9]),
            RowSet::Range { start: 8, len: 1 },
            RowSet::Rows(vec![5, 11]),
        ];
        let groups: Vec<LoraGroup<'_>> = sets
            .iter()
            .zip(&factors)
            .map(|(rows, factors)| LoraGroup { rows, factors })
            .collect();
        assert!(gathered::applies(&x, &y, &groups));
        let want = bits(&per_adapter(&x, y.clone(), &groups).unwrap());
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let got = pool.install(|| CpuLoraKernel.apply(&x, y.clone(), &groups).unwrap());
            assert_eq!(bits(&got), want, "threads {threads}");
        }
        let bare = bits(&y);
        for r in [3, 7, 10] {
            assert_eq!(
                want[r * dout..(r + 1) * dout],
                bare[r * dout..(r + 1) * dout]
            );
        }
        // One decode row with a wide output: the expand is split into column tiles.
        let (wide, x1) = (300, t(3, (2, din)));
        let y1 = signed(4, (2, wide));
        let f = LoraFactors {
            a_t: signed(30, (din, 64)),
            b_t: signed(31, (64, wide)),
            scale: 0.75,
        };
        let second = RowSet::Rows(vec![1]);
        let one = [LoraGroup {
            rows: &second,
            factors: &f,
        }];
        let want = bits(&per_adapter(&x1, y1.clone(), &one).unwrap());
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let got = pool.install(|| CpuLoraKernel.apply(&x1, y1.clone(), &one).unwrap());
            assert_eq!(bits(&got), want, "one row, threads {threads}");
        }
        // Rows in two groups, or past the end, are errors, not panics.
        let overlap = [RowSet::Rows(vec![1]), RowSet::Range { start: 0, len: 2 }];
        let bad: Vec<LoraGroup<'_>> = overlap
            .iter()
            .map(|rows| LoraGroup {
                rows,
                factors: &factors[0],
            })
            .collect();
        assert!(CpuLoraKernel.apply(&x, y.clone(), &bad).is_err());
        let past = RowSet::Rows(vec![rows as u32]);
        let bad = [LoraGroup {
            rows: &past,
            factors: &factors[0],
        }];
        assert!(CpuLoraKernel.apply(&x, y, &bad).is_err());
    }

    #[test]
    fn a_tracked_input_takes_the_differentiable_path() {
        let x = candle_core::Var::from_tensor(&t(1, (4, 6))).unwrap();
        let y = t(2, (4, 5));
        let f = LoraFactors {
            a_t: t(3, (6, 2)),
            b_t: t(4, (2, 5)),
            scale: 2.0,
        };
        let rows = RowSet::Rows(vec![1, 3]);
        let groups = [LoraGroup {
            rows: &rows,
            factors: &f,
        }];
        assert!(!gathered::applies(x.as_tensor(), &y, &groups));
        let out = CpuLoraKernel
            .apply(x.as_tensor(), y.clone(), &groups)
            .unwrap();
        let plain = CpuLoraKernel.apply(&t(1, (4, 6)), y, &groups).unwrap();
        assert_eq!(bits(&out), bits(&plain));
        let grads = out.sqr().unwrap().sum_all().unwrap().backward().unwrap();
        let g = grads.get(x.as_tensor()).expect("the gradient reaches x");
        let g = g.to_vec2::<f32>().unwrap();
        assert!(g[0].iter().chain(&g[2]).all(|&v| v == 0.0));
        assert!(g[1].iter().chain(&g[3]).any(|&v| v != 0.0));
    }
}
