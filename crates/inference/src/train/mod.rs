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
    model::{KvCache, Logits, SeqInput, TailActivations},
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
    let mut caches: Vec<KvCache> = seqs.iter().map(|_| KvCache::new()).collect();
    let logits = feed_predicting(model, seqs, &mut caches, adapter, Logits::All)?;
    let targets: Vec<u32> = seqs.iter().flat_map(|s| s[1..].iter().copied()).collect();
    nll(&logits, targets)
}

/// One sequence scored from its captured tail.
#[derive(Debug, Clone, Copy)]
pub struct TailSequence<'a> {
    /// The tail captured while the sequence was fed (at least `tokens.len() − 1` positions).
    pub tail: &'a TailActivations,
    /// The sequence.
    pub tokens: &'a [u32],
    /// The first token whose prediction is scored (`1`: every prediction, as [`mean_nll`];
    /// a request's prompt length: its output given its prompt).
    pub scored_from: usize,
}

/// The mean next-token loss of the scored tokens of `seqs`, computed from their captured tails
/// instead of a forward pass: with `scored_from = 1` the value of [`mean_nll`], and
/// differentiable only in the LoRA factors of the last block's down projection, so its backward
/// pass is a few small ops.
pub fn tail_mean_nll(
    model: &LlamaModel,
    seqs: &[TailSequence<'_>],
    adapter: Option<&LoraAdapter>,
) -> Result<Tensor> {
    if seqs.is_empty() {
        return Err(InferenceError::InvalidRequest(
            "a loss needs at least one sequence".into(),
        ));
    }
    let vocab = model.config().vocab_size;
    let mut logits = Vec::with_capacity(seqs.len());
    let mut targets = Vec::new();
    for (i, s) in seqs.iter().enumerate() {
        if s.scored_from == 0 || s.scored_from >= s.tokens.len() {
            return Err(InferenceError::InvalidRequest(format!(
                "sequence {i} of {} tokens has nothing to score from token {}",
                s.tokens.len(),
                s.scored_from
            )));
        }
        if let Some(&bad) = s.tokens.iter().find(|&&t| t as usize >= vocab) {
            return Err(InferenceError::InvalidRequest(format!(
                "token {bad} is outside the vocabulary of {vocab} tokens"
            )));
        }
        let scored = s.tokens.len() - s.scored_from;
        logits.push(model.tail_logits(
            s.tail,
            s.scored_from - 1,
            scored,
            adapter,
            &CpuLoraKernel,
        )?);
        targets.extend_from_slice(&s.tokens[s.scored_from..]);
    }
    let nll = nll(&Tensor::cat(&logits, 0)?, targets)?;
    let n = nll.dim(0)? as f64;
    Ok((sum(&nll)? / n)?)
}

/// The [`TailActivations`] of every sequence of `seqs` (each fed but its last token, the
/// positions whose predictions a loss scores) under `model` with `adapter`, from one ragged
/// forward pass with no gradient tracked.
pub fn capture_tails(
    model: &LlamaModel,
    seqs: &[&[u32]],
    adapter: Option<&LoraAdapter>,
) -> Result<Vec<TailActivations>> {
    let mut caches: Vec<KvCache> = seqs.iter().map(|_| KvCache::capturing_tail()).collect();
    feed_predicting(model, seqs, &mut caches, adapter, Logits::Last)?;
    Ok(caches
        .iter_mut()
        .map(|c| c.take_tail().unwrap_or_default())
        .collect())
}

/// One ragged forward pass feeding every sequence but its last token (the positions that
/// predict a next token), each with its own cache.
fn feed_predicting(
    model: &LlamaModel,
    seqs: &[&[u32]],
    caches: &mut [KvCache],
    adapter: Option<&LoraAdapter>,
    logits: Logits,
) -> Result<Tensor> {
    if let Some(i) = seqs.iter().position(|s| s.len() < 2) {
        return Err(InferenceError::InvalidRequest(format!(
            "sequence {i} has fewer than two tokens: nothing to predict"
        )));
    }
    let mut inputs: Vec<SeqInput<'_>> = seqs
        .iter()
        .zip(caches.iter_mut())
        .map(|(s, cache)| SeqInput {
            tokens: &s[..s.len() - 1],
            cache,
            adapter,
        })
        .collect();
    model.forward(&mut inputs, &CpuLoraKernel, logits)
}

/// `−log softmax(logits[j])[targets[j]]` for every row `j`.
fn nll(logits: &Tensor, targets: Vec<u32>) -> Result<Tensor> {
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
