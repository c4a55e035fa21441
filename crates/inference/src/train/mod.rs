//! The training view of the one Llama-family implementation: its weights and LoRA factors as
//! candle [`Var`]s, and the next-token loss, for the Model Factory (training) and the
//! attribution engine (per-example gradients).
//!
//! Training does not run a second copy of the model. [`ModelVars::model`] and
//! [`AdapterVars::adapter`] assemble a [`LlamaModel`] and a [`LoraAdapter`] whose tensors are
//! views of the variables (transposes, no copies), and the loss runs the serving forward pass
//! over them: the same fixed-order kernels, the same rotary tables, the same masks, the same
//! per-row LoRA path. So a model trained here serves the function it was trained as, and the
//! gradients attribution takes are those of the model that answered the request.
//!
//! Variables are kept in the Hugging Face and PEFT layouts and names (`[out, in]` weights,
//! `lora_A` `[r, in]`, `lora_B` `[out, r]`), so saving them is writing them.
//!
//! Determinism: every op on this path is computed element by element or by the fixed-order
//! kernels, so on the CPU the loss and the gradients are the same bits at any thread count.
//! F64 variables take candle's own matmul (see [`crate::kernels::matmul`]): they exist for
//! finite-difference gradient checks, where precision matters and batch invariance does not.

mod vars;

pub use vars::{AdapterVars, ModelVars};

use crate::{
    InferenceError, LlamaModel, LoraAdapter, Result,
    kernels::{CpuLoraKernel, row_sum},
    model::{KvCache, Logits, SeqInput},
};
use candle_core::{D, Tensor};

/// The negative log-likelihood of every next-token prediction of `seqs` under `model` (with
/// `adapter` on every sequence when given): a vector of `Σ (len − 1)` entries, sequence after
/// sequence, entry `j` of a sequence being `−log p(s[j + 1] | s[..=j])`.
///
/// The sequences form one ragged batch (no padding): each attends only to itself, so a
/// sequence's losses do not depend on the others in the batch.
pub fn token_nll(
    model: &LlamaModel,
    seqs: &[&[u32]],
    adapter: Option<&LoraAdapter>,
) -> Result<Tensor> {
    if seqs.is_empty() {
        return Err(InferenceError::InvalidRequest(
            "a loss needs at least one sequence".into(),
        ));
    }
    if let Some(i) = seqs.iter().position(|s| s.len() < 2) {
        return Err(InferenceError::InvalidRequest(format!(
            "sequence {i} has fewer than two tokens: nothing to predict"
        )));
    }
    let mut caches: Vec<KvCache> = seqs.iter().map(|_| KvCache::new()).collect();
    let mut inputs: Vec<SeqInput<'_>> = seqs
        .iter()
        .zip(caches.iter_mut())
        .map(|(s, cache)| SeqInput {
            tokens: &s[..s.len() - 1],
            cache,
            adapter,
        })
        .collect();
    let logits = model.forward(&mut inputs, &CpuLoraKernel, Logits::All)?;
    let targets: Vec<u32> = seqs.iter().flat_map(|s| s[1..].iter().copied()).collect();
    let n = targets.len();
    let targets = Tensor::from_vec(targets, (n, 1), logits.device())?;
    // log Σ exp(x) = m + log Σ exp(x − m) for any m; the row maximum (as a constant) keeps the
    // exponentials finite without changing the gradient.
    let max = logits.max_keepdim(D::Minus1)?.detach();
    let lse = (row_sum(&logits.broadcast_sub(&max)?.exp()?)?.log()? + max)?;
    let picked = logits.gather(&targets, 1)?;
    Ok((lse - picked)?.squeeze(1)?)
}

/// The mean of [`token_nll`] over every prediction of the batch, as a scalar tensor.
pub fn mean_nll(
    model: &LlamaModel,
    seqs: &[&[u32]],
    adapter: Option<&LoraAdapter>,
) -> Result<Tensor> {
    let nll = token_nll(model, seqs, adapter)?;
    let n = nll.dim(0)? as f64;
    Ok((sum(&nll)? / n)?)
}

/// The sum of a vector (the losses of [`token_nll`]) as a scalar tensor, in index order, so a
/// loss over several micro-batches adds up to the same bits at any thread count.
pub fn sum(values: &Tensor) -> Result<Tensor> {
    Ok(row_sum(&values.unsqueeze(0)?)?.squeeze(1)?.squeeze(0)?)
}

#[cfg(test)]
mod tests;
