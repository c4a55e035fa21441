//! Numerical kernels with a fixed order of operations, so that every value a request computes is
//! independent of what else shares its batch and of the thread count.
//!
//! - [`matmul`]: the F32 product whose every output element is summed in index order
//!   (see [`matmul`'s module](self::matmul) for why candle's gemm cannot be used).
//! - [`row_sum`], [`rms_norm`], [`softmax_last`]: reductions over the last dimension done one row
//!   at a time in index order. candle's own `sum_keepdim` is per row too, but picks an AVX2 or a
//!   scalar loop at run time, which would make results differ between CPUs.
//! - `lora` and `gathered`: the per-row low-rank delta of a heterogeneous batch (one gathered
//!   pass over the rows on the CPU), behind the [`LoraKernel`] seam.
//!
//! All of them are compositions of candle ops or custom ops with a backward pass, so gradients
//! flow through the same code that serves (the attribution crate differentiates this forward);
//! the gathered LoRA pass, which has none, gives way to the per-adapter ops when a gradient is
//! tracked, with the same bits.

mod gathered;
mod lora;
mod matmul;

pub use lora::{CpuLoraKernel, LoraFactors, LoraGroup, LoraKernel, PerAdapterLoraKernel, RowSet};
pub use matmul::matmul;

use candle_core::{CpuStorage, CustomOp1, D, Layout, Shape, Tensor, bail};

/// Makes the calling thread treat subnormal floats as zero, as inputs (DAZ) and as results (FTZ),
/// on x86-64 (the SSE control register's bits 6 and 15); elsewhere it does nothing.
///
/// A subnormal operand or result costs an x86 core a microcode assist, around a hundred cycles
/// instead of one: a model whose activations reach the subnormal range (softmax tails, the SiLU
/// of very negative inputs, the coordinates an RMS norm scales down next to a large one) then
/// decodes at a fraction of its speed, and how much depends on the data. Flushing changes only
/// values below 1.2e-38, which no logit tolerance sees, and it is deterministic: every thread of
/// the [`Engine`](crate::Engine) calls this when it starts, so a request still computes the same
/// bits on every run, in any batch and at any thread count.
pub fn flush_subnormals() {
    #[cfg(target_arch = "x86_64")]
    {
        const DAZ: u32 = 1 << 6;
        const FTZ: u32 = 1 << 15;
        let mut csr: u32 = 0;
        // SAFETY: `stmxcsr` and `ldmxcsr` read and write only this thread's SSE control and
        // status register through a valid pointer to a local; setting DAZ and FTZ changes how
        // subnormal floats are rounded and nothing else (no exception is unmasked).
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &raw mut csr, options(nostack, preserves_flags));
            csr |= DAZ | FTZ;
            std::arch::asm!("ldmxcsr [{}]", in(reg) &raw const csr, options(nostack, preserves_flags));
        }
    }
}

/// Sums the last dimension of an F32 tensor, keeping it as a dimension of size 1, in index
/// order from `+0.0` (F32 on the CPU; other devices and F64, as in [`matmul`], use candle's
/// reduction).
pub fn row_sum(x: &Tensor) -> candle_core::Result<Tensor> {
    if !x.device().is_cpu() || x.dtype() == candle_core::DType::F64 {
        return x.sum_keepdim(D::Minus1);
    }
    x.contiguous()?.apply_op1(RowSum)
}

/// `x / sqrt(mean(x²) + eps) * weight` over the last dimension (the RMS norm of Llama).
pub fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    let n = x.dim(D::Minus1)? as f64;
    let mean_sq = (row_sum(&x.sqr()?)? / n)?;
    let inv = (mean_sq + eps)?.sqrt()?.recip()?;
    x.broadcast_mul(&inv)?.broadcast_mul(weight)
}

/// Softmax over the last dimension: `exp(x - max) / sum(exp(x - max))`. The maximum is exact in
/// any order; the sum goes through [`row_sum`].
pub fn softmax_last(x: &Tensor) -> candle_core::Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?;
    let e = x.broadcast_sub(&max)?.exp()?;
    let s = row_sum(&e)?;
    e.broadcast_div(&s)
}

/// The custom op behind [`row_sum`].
#[derive(Debug, Clone, Copy)]
struct RowSum;

impl CustomOp1 for RowSum {
    fn name(&self) -> &'static str {
        "fixed-order-row-sum"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = s else {
            bail!("row sum: only F32 is supported")
        };
        let Some((start, end)) = l.contiguous_offsets() else {
            bail!("row sum: input must be contiguous")
        };
        let dims = l.dims();
        let Some((&n, lead)) = dims.split_last() else {
            bail!("row sum: a scalar has no last dimension")
        };
        let Some(data) = data.get(start..end) else {
            bail!("row sum: layout outside the storage")
        };
        let out: Vec<f32> = if n == 0 {
            vec![0.0; lead.iter().product()]
        } else {
            data.chunks_exact(n)
                .map(|row| row.iter().fold(0f32, |acc, &v| acc + v))
                .collect()
        };
        let mut shape = lead.to_vec();
        shape.push(1);
        Ok((CpuStorage::F32(out), Shape::from(shape)))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(grad.broadcast_as(arg.shape())?.contiguous()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn row_sum_is_sequential_and_differentiable() {
        let dev = Device::Cpu;
        let vals: Vec<f32> = (0..24).map(|i| 1.0 / (i as f32 + 0.37)).collect();
        let x = Tensor::from_vec(vals.clone(), (2, 3, 4), &dev).unwrap();
        let s = row_sum(&x).unwrap();
        assert_eq!(s.dims(), &[2, 3, 1]);
        let got = s.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for (row, g) in vals.chunks(4).zip(&got) {
            let want = row.iter().fold(0f32, |a, &v| a + v);
            assert_eq!(g.to_bits(), want.to_bits());
        }
        let v = Var::from_tensor(&x).unwrap();
        let y = softmax_last(v.as_tensor()).unwrap();
        let w = Tensor::from_vec(
            (0..24).map(|i| i as f32).collect::<Vec<_>>(),
            (2, 3, 4),
            &dev,
        )
        .unwrap();
        let loss = (rms_norm(
            &y,
            &Tensor::ones(4, candle_core::DType::F32, &dev).unwrap(),
            1e-5,
        )
        .unwrap()
            * w)
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        let g = grads
            .get(v.as_tensor())
            .expect("gradient flows through softmax and rms norm");
        assert!(
            g.abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
                > 0.0
        );
    }

    #[test]
    fn a_flushing_thread_turns_subnormals_into_zeros() {
        let tiny = f32::MIN_POSITIVE;
        let run = |flush: bool| {
            std::thread::spawn(move || {
                if flush {
                    flush_subnormals();
                }
                // A subnormal result of normal operands, and a subnormal operand.
                let half = std::hint::black_box(tiny) * std::hint::black_box(0.5f32);
                let sub = std::hint::black_box(f32::from_bits(1));
                (half, sub * std::hint::black_box(2.0f32))
            })
            .join()
            .unwrap()
        };
        let (half, doubled) = run(false);
        assert!(half.is_subnormal() && doubled.is_subnormal());
        if cfg!(target_arch = "x86_64") {
            assert_eq!(run(true), (0.0, 0.0));
        }
    }

    #[test]
    fn softmax_matches_candle_nn_semantics() {
        let dev = Device::Cpu;
        let x = Tensor::new(&[[1f32, 2.0, 3.0], [0.0, f32::NEG_INFINITY, 0.0]], &dev).unwrap();
        let p = softmax_last(&x).unwrap().to_vec2::<f32>().unwrap();
        assert!((p[0].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[0][2] > p[0][1] && p[0][1] > p[0][0]);
        assert_eq!(p[1], vec![0.5, 0.0, 0.5]);
    }
}
