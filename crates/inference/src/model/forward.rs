//! The forward pass over a ragged batch (Orca's selective batching): the tokens of every sequence
//! in the step, prefill segments and single decode tokens alike, are stacked into one
//! `[tokens, hidden]` matrix for the norms, projections and MLP, and attention runs per sequence
//! against that sequence's own KV cache.
//!
//! Batch invariance follows from how each piece computes a row: the fixed-order matmul and the
//! row reductions never look at other rows, element-wise ops are exact per element, and the
//! attention of a sequence only sees its own queries, keys and values. Masked positions add
//! exact zeros, so even the logits of position `i` in a prefill equal, bit for bit, those of
//! decoding token `i` on a cache of `i` positions.

use super::{LlamaModel, Projection, Target, rope, tail::TailActivations};
use crate::{
    InferenceError, Result,
    adapter::LoraAdapter,
    kernels::{LoraGroup, LoraKernel, RowSet, matmul, rms_norm, softmax_last},
};
use candle_core::{DType, Device, Tensor};

/// The keys and values one sequence has seen, per layer, each `[kv_heads, positions, head_dim]`.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
    /// The last block's activations of every position fed, when asked for.
    tail: Option<TailActivations>,
}

impl KvCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty cache that also keeps the [`TailActivations`] of every position it is fed.
    pub fn capturing_tail() -> Self {
        Self {
            tail: Some(TailActivations::default()),
            ..Self::default()
        }
    }

    /// The tail captured so far (`None` unless made by [`KvCache::capturing_tail`]); the cache
    /// captures nothing more afterwards.
    pub fn take_tail(&mut self) -> Option<TailActivations> {
        self.tail.take()
    }

    /// Number of positions cached (the position of the next token).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// One sequence's part of a forward step.
#[derive(Debug)]
pub struct SeqInput<'a> {
    /// New tokens (the prompt at prefill, one token at decode).
    pub tokens: &'a [u32],
    /// The sequence's cache; the tokens take positions `cache.len()..`. Updated by the step.
    /// If the step fails, the caches of its sequences are no longer consistent.
    pub cache: &'a mut KvCache,
    /// The adapter of this sequence (`None`: the base model).
    pub adapter: Option<&'a LoraAdapter>,
}

/// Which positions get logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logits {
    /// The last position of each sequence: `[sequences, vocab]` (generation).
    Last,
    /// Every position: `[tokens, vocab]` (scoring, losses, attribution).
    All,
}

impl LlamaModel {
    /// Runs one step over `seqs` and returns logits in the model's dtype (F32 unless the model is
    /// an F64 view made for gradient checks by [`crate::train`]).
    pub fn forward(
        &self,
        seqs: &mut [SeqInput<'_>],
        lora: &dyn LoraKernel,
        logits: Logits,
    ) -> Result<Tensor> {
        let c = &self.config;
        let dev = &self.device;
        let mut all_tokens = Vec::new();
        let mut positions = Vec::new();
        for (i, s) in seqs.iter_mut().enumerate() {
            if s.tokens.is_empty() {
                return Err(InferenceError::InvalidRequest(format!(
                    "sequence {i} has no tokens"
                )));
            }
            if let Some(&bad) = s.tokens.iter().find(|&&t| t as usize >= c.vocab_size) {
                return Err(InferenceError::InvalidRequest(format!(
                    "token {bad} is outside the vocabulary of {} tokens",
                    c.vocab_size
                )));
            }
            let start = s.cache.len;
            let end = start + s.tokens.len();
            if end > c.max_position_embeddings {
                return Err(InferenceError::InvalidRequest(format!(
                    "sequence {i} would reach {end} positions, over the model's {}",
                    c.max_position_embeddings
                )));
            }
            if let Some(a) = s.adapter {
                a.check_fits(c)?;
            }
            if s.cache.layers.len() != c.num_hidden_layers {
                s.cache.layers.resize(c.num_hidden_layers, None);
            }
            all_tokens.extend_from_slice(s.tokens);
            positions.extend(start..end);
        }
        if seqs.is_empty() {
            return Ok(Tensor::zeros((0, c.vocab_size), self.embed.dtype(), dev)?);
        }
        let total = all_tokens.len();
        let groups = adapter_groups(seqs);
        let ids = Tensor::from_vec(all_tokens, total, dev)?;
        let mut x = self.embed.index_select(&ids, 0)?;
        let (cos, sin) = self.rope.tables(&positions, dev)?;
        let (cos, sin) = (in_dtype(cos, x.dtype())?, in_dtype(sin, x.dtype())?);
        let (hd, nq, nkv) = (c.head_dim, c.num_attention_heads, c.num_key_value_heads);

        for (layer, block) in self.blocks().iter().enumerate() {
            let project = |x: &Tensor, t: Target| {
                self.project(x, &block.proj[t.index()], layer, t, &groups, lora)
            };
            let h = rms_norm(&x, &block.input_norm, c.rms_norm_eps)?;
            let q = rope::apply(
                &project(&h, Target::Q)?.reshape((total, nq, hd))?,
                &cos,
                &sin,
            )?;
            let k = rope::apply(
                &project(&h, Target::K)?.reshape((total, nkv, hd))?,
                &cos,
                &sin,
            )?;
            let v = project(&h, Target::V)?.reshape((total, nkv, hd))?;
            let mut outs = Vec::with_capacity(seqs.len());
            let mut row = 0;
            for s in seqs.iter_mut() {
                let t = s.tokens.len();
                let past = s.cache.len;
                let slot = s.cache.layers.get_mut(layer).ok_or_else(|| {
                    InferenceError::Runtime("KV cache has fewer layers than the model".into())
                })?;
                outs.push(self.attend(
                    &q.narrow(0, row, t)?,
                    &k.narrow(0, row, t)?,
                    &v.narrow(0, row, t)?,
                    past,
                    slot,
                )?);
                row += t;
            }
            let attn = Tensor::cat(&outs, 0)?;
            x = (x + project(&attn, Target::O)?)?;
            let h = rms_norm(&x, &block.post_norm, c.rms_norm_eps)?;
            let gated = (project(&h, Target::Gate)?.silu()? * project(&h, Target::Up)?)?;
            if layer + 1 == c.num_hidden_layers {
                capture_tail(seqs, &x, &gated)?;
            }
            x = (x + project(&gated, Target::Down)?)?;
        }
        for s in seqs.iter_mut() {
            s.cache.len += s.tokens.len();
        }
        let x = match logits {
            Logits::All => x,
            Logits::Last => {
                let mut last = Vec::with_capacity(seqs.len());
                let mut end = 0u32;
                for s in seqs.iter() {
                    end += s.tokens.len() as u32;
                    last.push(end - 1);
                }
                let n = last.len();
                x.index_select(&Tensor::from_vec(last, n, dev)?, 0)?
            }
        };
        let x = rms_norm(&x, &self.norm, c.rms_norm_eps)?;
        Ok(matmul(&x, &self.lm_head_t)?)
    }

    /// A base projection plus the LoRA deltas of the adapters that target it.
    pub(super) fn project(
        &self,
        x: &Tensor,
        p: &Projection,
        layer: usize,
        target: Target,
        groups: &[(&LoraAdapter, RowSet)],
        lora: &dyn LoraKernel,
    ) -> candle_core::Result<Tensor> {
        let mut y = matmul(x, &p.w_t)?;
        if let Some(b) = &p.bias {
            y = y.broadcast_add(b)?;
        }
        let active: Vec<LoraGroup<'_>> = groups
            .iter()
            .filter_map(|(a, rows)| {
                a.factors(layer, target)
                    .map(|factors| LoraGroup { rows, factors })
            })
            .collect();
        if active.is_empty() {
            return Ok(y);
        }
        lora.apply(x, y, &active)
    }

    /// Causal attention of one sequence's `t` new positions (`[t, heads, head_dim]` each) over
    /// its cache plus themselves; appends the new keys and values to the cache slot.
    fn attend(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        past: usize,
        slot: &mut Option<(Tensor, Tensor)>,
    ) -> candle_core::Result<Tensor> {
        let c = &self.config;
        let (t, nq, hd) = q.dims3()?;
        let nkv = c.num_key_value_heads;
        let group = c.group_size();
        let k = k.transpose(0, 1)?.contiguous()?;
        let v = v.transpose(0, 1)?.contiguous()?;
        let (k_all, v_all) = match slot.take() {
            Some((kp, vp)) => (Tensor::cat(&[&kp, &k], 1)?, Tensor::cat(&[&vp, &v], 1)?),
            None => (k, v),
        };
        // Query head h uses key/value head h / group (transformers' repeat_kv), so the heads of
        // one group stack into the rows of one product against their shared keys.
        let q = q
            .transpose(0, 1)?
            .contiguous()?
            .reshape((nkv, group * t, hd))?;
        let scores = (matmul(&q, &k_all.transpose(1, 2)?)? * (1.0 / (hd as f64).sqrt()))?;
        let scores = match mask(t, past, group, c.sliding_window, q.device())? {
            Some(m) => scores.broadcast_add(&in_dtype(m, scores.dtype())?)?,
            None => scores,
        };
        let probs = softmax_last(&scores)?;
        let out = matmul(&probs, &v_all)?;
        *slot = Some((k_all, v_all));
        out.reshape((nq, t, hd))?
            .transpose(0, 1)?
            .contiguous()?
            .reshape((t, nq * hd))
    }
}

/// Appends each capturing sequence's rows of the last block's residual and down-projection
/// input to its cache's tail.
fn capture_tail(seqs: &mut [SeqInput<'_>], residual: &Tensor, down_input: &Tensor) -> Result<()> {
    let mut row = 0;
    for s in seqs.iter_mut() {
        let t = s.tokens.len();
        if let Some(tail) = s.cache.tail.as_mut() {
            tail.push(residual.narrow(0, row, t)?, down_input.narrow(0, row, t)?)?;
        }
        row += t;
    }
    Ok(())
}

/// `t` in `dtype` (the tables and masks are built in F32; only an F64 view converts them).
fn in_dtype(t: Tensor, dtype: DType) -> candle_core::Result<Tensor> {
    if t.dtype() == dtype {
        Ok(t)
    } else {
        t.to_dtype(dtype)
    }
}

/// The additive mask `[group * t, past + t]` for `t` new positions after `past` cached ones:
/// `-inf` where a key is in the future or (with a sliding window) too far in the past. `None`
/// when nothing is masked (a single decode token inside the window), since adding zeros is
/// exact and skipping it saves an op.
fn mask(
    t: usize,
    past: usize,
    group: usize,
    window: Option<usize>,
    dev: &Device,
) -> candle_core::Result<Option<Tensor>> {
    let total = past + t;
    let hidden = |i: usize, j: usize| {
        let pos = past + i;
        j > pos || window.is_some_and(|w| pos - j >= w)
    };
    if (0..t).all(|i| (0..total).all(|j| !hidden(i, j))) {
        return Ok(None);
    }
    let mut values = Vec::with_capacity(group * t * total);
    for _ in 0..group {
        for i in 0..t {
            values.extend((0..total).map(|j| if hidden(i, j) { f32::NEG_INFINITY } else { 0.0 }));
        }
    }
    Ok(Some(Tensor::from_vec(values, (group * t, total), dev)?))
}

/// The distinct adapters of a step in first-appearance order, each with the rows it applies to:
/// a single segment stays a range (SGMV), rows of several sequences become an index list (BGMV).
fn adapter_groups<'a>(seqs: &[SeqInput<'a>]) -> Vec<(&'a LoraAdapter, RowSet)> {
    let mut groups: Vec<(&'a LoraAdapter, Vec<(usize, usize)>)> = Vec::new();
    let mut row = 0;
    for s in seqs {
        let t = s.tokens.len();
        if let Some(a) = s.adapter {
            match groups.iter_mut().find(|(g, _)| std::ptr::eq(*g, a)) {
                Some((_, segs)) => segs.push((row, t)),
                None => groups.push((a, vec![(row, t)])),
            }
        }
        row += t;
    }
    groups
        .into_iter()
        .map(|(a, segs)| {
            let rows = match segs.as_slice() {
                [(start, len)] => RowSet::Range {
                    start: *start,
                    len: *len,
                },
                _ => RowSet::Rows(
                    segs.iter()
                        .flat_map(|&(s, l)| (s..s + l).map(|r| r as u32))
                        .collect(),
                ),
            };
            (a, rows)
        })
        .collect()
}
