//! Differentiable building blocks.
//!
//! candle 0.11's fused `softmax_last_dim`, `rms_norm`, `layer_norm` and `rope*` kernels have no
//! backward and silently cut the graph. These versions are compositions of elementary ops
//! (`sqr`, `sum_keepdim`, `sqrt`, `exp`, `narrow`, `cat`, `matmul`, ...) that all have one.

use candle_core::{D, DType, Device, Result, Tensor};

/// `x · Wᵀ` for `x` of shape `[..., in]` and `w` of shape `[out, in]`, by flattening the leading
/// dimensions into one matmul.
pub fn linear(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let dims = x.dims();
    let inner = dims[dims.len() - 1];
    let lead: usize = dims[..dims.len() - 1].iter().product();
    let out = w.dim(0)?;
    let y = x.reshape((lead, inner))?.matmul(&w.t()?)?;
    let mut shape = dims[..dims.len() - 1].to_vec();
    shape.push(out);
    y.reshape(shape)
}

/// RMS normalisation over the last dimension, `x / sqrt(mean(x²) + eps) · alpha`.
pub fn rms_norm(x: &Tensor, alpha: &Tensor, eps: f64) -> Result<Tensor> {
    let n = x.dim(D::Minus1)? as f64;
    let ms = (x.sqr()?.sum_keepdim(D::Minus1)? / n)?;
    let denom = (ms + eps)?.sqrt()?;
    x.broadcast_div(&denom)?.broadcast_mul(alpha)
}

/// Softmax over the last dimension (the differentiable composition from `candle_nn::ops`).
pub fn softmax_last(x: &Tensor) -> Result<Tensor> {
    candle_nn::ops::softmax(x, D::Minus1)
}

/// Rotary position tables `(cos, sin)`, each `[max_len, head_dim / 2]`.
pub fn rope_tables(
    max_len: usize,
    head_dim: usize,
    theta: f64,
    dtype: DType,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let half = head_dim / 2;
    let mut cos = Vec::with_capacity(max_len * half);
    let mut sin = Vec::with_capacity(max_len * half);
    for pos in 0..max_len {
        for i in 0..half {
            let freq = 1.0 / theta.powf(2.0 * i as f64 / head_dim as f64);
            let angle = pos as f64 * freq;
            cos.push(angle.cos());
            sin.push(angle.sin());
        }
    }
    let cos = Tensor::from_vec(cos, (max_len, half), device)?.to_dtype(dtype)?;
    let sin = Tensor::from_vec(sin, (max_len, half), device)?.to_dtype(dtype)?;
    Ok((cos, sin))
}

/// Applies rotary embeddings (the non-interleaved "rotate half" layout of HF Llama) to `x` of
/// shape `[b, heads, t, head_dim]` with tables for the first `t` positions.
pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let (_b, _h, t, hd) = x.dims4()?;
    let half = hd / 2;
    let cos = cos.narrow(0, 0, t)?.reshape((1, 1, t, half))?;
    let sin = sin.narrow(0, 0, t)?.reshape((1, 1, t, half))?;
    let x1 = x.narrow(D::Minus1, 0, half)?;
    let x2 = x.narrow(D::Minus1, half, half)?;
    let r1 = (x1.broadcast_mul(&cos)? - x2.broadcast_mul(&sin)?)?;
    let r2 = (x1.broadcast_mul(&sin)? + x2.broadcast_mul(&cos)?)?;
    Tensor::cat(&[r1, r2], D::Minus1)
}

/// An additive causal mask `[t, t]`: 0 on and below the diagonal, −∞ above.
pub fn causal_mask(t: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    let values: Vec<f32> = (0..t)
        .flat_map(|i| (0..t).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(values, (t, t), device)?.to_dtype(dtype)
}

/// Per-row negative log-likelihood of `targets` (u32, `[n]`) under `logits` (`[n, classes]`),
/// returned as `[n]`.
pub fn nll_rows(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let picked = logp.gather(&targets.unsqueeze(1)?, 1)?.squeeze(1)?;
    picked.neg()
}

/// Mean cross-entropy of `logits` (`[n, classes]`) against `targets` (u32, `[n]`).
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    nll_rows(logits, targets)?.mean_all()
}
