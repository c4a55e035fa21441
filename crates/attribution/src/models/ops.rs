//! Differentiable building blocks of the tabular models ([`super::logreg`], [`super::mlp`]).
//!
//! candle 0.11's fused `softmax_last_dim`, `rms_norm`, `layer_norm` and `rope*` kernels have no
//! backward and silently cut the graph; these are compositions of ops that all have one. The
//! language model needs none of them here: it is `ol-inference`'s ([`super::llama`]), whose
//! kernels have a backward pass too.

use candle_core::{D, Result, Tensor};

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
