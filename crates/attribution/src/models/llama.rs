//! A tiny Llama-architecture causal language model with LoRA adapters.
//!
//! Same architecture as HF Llama (token embedding, pre-norm blocks with RMS norm, multi-head
//! attention with rotary embeddings and a causal mask, SwiGLU MLP, final norm, untied LM head)
//! and HF/PEFT parameter names, but every op is differentiable ([`super::ops`]) and the forward
//! pass returns the logits of **every** position, which per-token losses need.
//!
//! LoRA adapters (`y = x·Wᵀ + (α/r)·(x·Aᵀ)·Bᵀ`, PEFT initialisation: A random, B zero) are
//! attached to the projections named in [`LlamaConfig::lora_targets`]. With
//! [`TinyLlama::freeze_base`] the base weights become constants and only the adapters get
//! gradients (the attribution parameters of a LoRA-tuned model).

use super::{DiffModel, Param, ops, randn};
use crate::{AttributionError, Result, rng::Rng};
use candle_core::{D, DType, Device, Tensor, Var};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The architecture of a [`TinyLlama`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlamaConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Model width.
    pub dim: usize,
    /// Number of transformer blocks.
    pub n_layers: usize,
    /// Number of attention heads (`dim` must be a multiple).
    pub n_heads: usize,
    /// Width of the SwiGLU MLP.
    pub hidden_dim: usize,
    /// Longest sequence the rotary tables cover.
    pub max_seq_len: usize,
    /// Rotary base.
    pub rope_theta: f64,
    /// RMS norm epsilon.
    pub norm_eps: f64,
    /// LoRA rank (0: no adapters).
    pub lora_rank: usize,
    /// LoRA alpha (the update is scaled by `alpha / rank`).
    pub lora_alpha: f64,
    /// Projections that get an adapter, among `q_proj`, `k_proj`, `v_proj`, `o_proj`,
    /// `gate_proj`, `up_proj`, `down_proj`.
    pub lora_targets: Vec<String>,
}

impl LlamaConfig {
    /// A very small configuration for tests and the evaluation harness.
    pub fn tiny(vocab_size: usize) -> Self {
        Self {
            vocab_size,
            dim: 48,
            n_layers: 2,
            n_heads: 4,
            hidden_dim: 96,
            max_seq_len: 128,
            rope_theta: 10_000.0,
            norm_eps: 1e-5,
            lora_rank: 4,
            lora_alpha: 8.0,
            lora_targets: [
                "q_proj",
                "k_proj",
                "v_proj",
                "o_proj",
                "gate_proj",
                "up_proj",
                "down_proj",
            ]
            .map(String::from)
            .to_vec(),
        }
    }

    fn head_dim(&self) -> usize {
        self.dim / self.n_heads
    }

    fn validate(&self) -> Result<()> {
        if self.n_heads == 0
            || !self.dim.is_multiple_of(self.n_heads)
            || !self.head_dim().is_multiple_of(2)
        {
            return Err(AttributionError::invalid(
                "dim must be a multiple of n_heads with an even head dimension",
            ));
        }
        const KNOWN: [&str; 7] = [
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        ];
        if let Some(bad) = self
            .lora_targets
            .iter()
            .find(|t| !KNOWN.contains(&t.as_str()))
        {
            return Err(AttributionError::invalid(format!(
                "unknown LoRA target {bad}"
            )));
        }
        Ok(())
    }
}

/// A batch of token sequences of equal length, with a weight per predicted position (0 for
/// padding).
#[derive(Debug, Clone)]
pub struct TokenBatch {
    /// Token ids `[b, t]`, u32.
    pub ids: Tensor,
    /// Weights of the `t − 1` next-token predictions `[b, t − 1]` (1 = counted, 0 = padding).
    pub weights: Tensor,
}

impl TokenBatch {
    /// One sequence, every prediction counted.
    pub fn single(tokens: &[u32], dtype: DType, device: &Device) -> Result<Self> {
        Self::padded(&[tokens], 0, dtype, device)
    }

    /// Several sequences right-padded with `pad` to the longest; padding is not counted.
    pub fn padded(seqs: &[&[u32]], pad: u32, dtype: DType, device: &Device) -> Result<Self> {
        let t = seqs.iter().map(|s| s.len()).max().unwrap_or(0);
        if t < 2 {
            return Err(AttributionError::invalid(
                "a sequence needs at least two tokens",
            ));
        }
        let mut ids = Vec::with_capacity(seqs.len() * t);
        let mut weights = Vec::with_capacity(seqs.len() * (t - 1));
        for s in seqs {
            ids.extend_from_slice(s);
            ids.extend(std::iter::repeat_n(pad, t - s.len()));
            weights.extend((1..t).map(|j| if j < s.len() { 1.0f64 } else { 0.0 }));
        }
        let b = seqs.len();
        Ok(Self {
            ids: Tensor::from_vec(ids, (b, t), device)?,
            weights: Tensor::from_vec(weights, (b, t - 1), device)?.to_dtype(dtype)?,
        })
    }
}

#[derive(Debug, Clone)]
struct Lora {
    a: usize,
    b: usize,
}

#[derive(Debug, Clone)]
struct Proj {
    w: usize,
    lora: Option<Lora>,
}

#[derive(Debug, Clone)]
struct Block {
    attn_norm: usize,
    q: Proj,
    k: Proj,
    v: Proj,
    o: Proj,
    ffn_norm: usize,
    gate: Proj,
    up: Proj,
    down: Proj,
}

/// The tiny Llama model (see the module documentation).
#[derive(Debug, Clone)]
pub struct TinyLlama {
    cfg: LlamaConfig,
    params: Vec<Param>,
    embed: usize,
    blocks: Vec<Block>,
    norm: usize,
    lm_head: usize,
    lora_groups: Vec<usize>,
    base_frozen: bool,
    cos: Tensor,
    sin: Tensor,
}

impl TinyLlama {
    /// A freshly initialised model: weights N(0, 0.02²) (output projections scaled down by
    /// depth), norms one, LoRA A ~ N(0, 1/dim) and B zero, all from `seed`.
    pub fn new(cfg: LlamaConfig, seed: u64, dtype: DType, device: &Device) -> Result<Self> {
        cfg.validate()?;
        let mut rng = Rng::from_words(&[seed, 0x4c4c414d41]);
        let mut params: Vec<Param> = Vec::new();
        let mut lora_groups = Vec::new();
        let push = |params: &mut Vec<Param>, name: String, t: Tensor| -> Result<usize> {
            params.push(Param::new(name, Var::from_tensor(&t)?));
            Ok(params.len() - 1)
        };
        let std = 0.02;
        let out_std = std / (2.0 * cfg.n_layers as f64).sqrt();
        let embed = push(
            &mut params,
            "model.embed_tokens.weight".into(),
            randn(&mut rng, &[cfg.vocab_size, cfg.dim], std, dtype, device)?,
        )?;
        let mut blocks = Vec::new();
        for l in 0..cfg.n_layers {
            let prefix = format!("model.layers.{l}");
            let ones = Tensor::ones(cfg.dim, dtype, device)?;
            let attn_norm = push(
                &mut params,
                format!("{prefix}.input_layernorm.weight"),
                ones.clone(),
            )?;
            let mut proj = |params: &mut Vec<Param>,
                            lora_groups: &mut Vec<usize>,
                            module: &str,
                            name: &str,
                            out: usize,
                            inp: usize,
                            s: f64|
             -> Result<Proj> {
                let w = push(
                    params,
                    format!("{prefix}.{module}.{name}.weight"),
                    randn(&mut rng, &[out, inp], s, dtype, device)?,
                )?;
                let lora = if cfg.lora_rank > 0 && cfg.lora_targets.iter().any(|t| t == name) {
                    let a = push(
                        params,
                        format!("base_model.model.{prefix}.{module}.{name}.lora_A.weight"),
                        randn(
                            &mut rng,
                            &[cfg.lora_rank, inp],
                            (1.0 / inp as f64).sqrt(),
                            dtype,
                            device,
                        )?,
                    )?;
                    let b = push(
                        params,
                        format!("base_model.model.{prefix}.{module}.{name}.lora_B.weight"),
                        Tensor::zeros((out, cfg.lora_rank), dtype, device)?,
                    )?;
                    lora_groups.push(a);
                    lora_groups.push(b);
                    Some(Lora { a, b })
                } else {
                    None
                };
                Ok(Proj { w, lora })
            };
            let d = cfg.dim;
            let h = cfg.hidden_dim;
            let q = proj(
                &mut params,
                &mut lora_groups,
                "self_attn",
                "q_proj",
                d,
                d,
                std,
            )?;
            let k = proj(
                &mut params,
                &mut lora_groups,
                "self_attn",
                "k_proj",
                d,
                d,
                std,
            )?;
            let v = proj(
                &mut params,
                &mut lora_groups,
                "self_attn",
                "v_proj",
                d,
                d,
                std,
            )?;
            let o = proj(
                &mut params,
                &mut lora_groups,
                "self_attn",
                "o_proj",
                d,
                d,
                out_std,
            )?;
            let ffn_norm = push(
                &mut params,
                format!("{prefix}.post_attention_layernorm.weight"),
                ones,
            )?;
            let gate = proj(&mut params, &mut lora_groups, "mlp", "gate_proj", h, d, std)?;
            let up = proj(&mut params, &mut lora_groups, "mlp", "up_proj", h, d, std)?;
            let down = proj(
                &mut params,
                &mut lora_groups,
                "mlp",
                "down_proj",
                d,
                h,
                out_std,
            )?;
            blocks.push(Block {
                attn_norm,
                q,
                k,
                v,
                o,
                ffn_norm,
                gate,
                up,
                down,
            });
        }
        let norm = push(
            &mut params,
            "model.norm.weight".into(),
            Tensor::ones(cfg.dim, dtype, device)?,
        )?;
        let lm_head = push(
            &mut params,
            "lm_head.weight".into(),
            randn(&mut rng, &[cfg.vocab_size, cfg.dim], std, dtype, device)?,
        )?;
        let (cos, sin) = ops::rope_tables(
            cfg.max_seq_len,
            cfg.head_dim(),
            cfg.rope_theta,
            dtype,
            device,
        )?;
        Ok(Self {
            cfg,
            params,
            embed,
            blocks,
            norm,
            lm_head,
            lora_groups,
            base_frozen: false,
            cos,
            sin,
        })
    }

    /// The configuration.
    pub const fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    /// Makes the base weights constants: only LoRA adapters get gradients (and are trained).
    pub const fn freeze_base(&mut self) {
        self.base_frozen = true;
    }

    /// Makes every parameter trainable again.
    pub const fn unfreeze_base(&mut self) {
        self.base_frozen = false;
    }

    /// Indices of the LoRA parameter groups (A then B, per adapted projection).
    pub fn lora_groups(&self) -> &[usize] {
        &self.lora_groups
    }

    /// The parameter groups that training updates: the adapters if the base is frozen, else all.
    pub fn trainable_groups(&self) -> Vec<usize> {
        if self.base_frozen {
            self.lora_groups.clone()
        } else {
            (0..self.params.len()).collect()
        }
    }

    /// The base parameter groups (everything but the adapters).
    pub fn base_params(&self) -> Vec<Param> {
        (0..self.params.len())
            .filter(|i| !self.lora_groups.contains(i))
            .map(|i| self.params[i].clone())
            .collect()
    }

    /// The adapter parameter groups.
    pub fn adapter_params(&self) -> Vec<Param> {
        self.lora_groups
            .iter()
            .map(|&i| self.params[i].clone())
            .collect()
    }

    /// Saves the base weights (HF Llama names) as safetensors.
    pub fn save_base(&self, path: &Path) -> Result<()> {
        super::save_params(&self.base_params(), path)
    }

    /// Saves the adapters (PEFT names) as safetensors.
    pub fn save_adapter(&self, path: &Path) -> Result<()> {
        super::save_params(&self.adapter_params(), path)
    }

    /// Loads base weights saved by [`TinyLlama::save_base`].
    pub fn load_base(&self, path: &Path) -> Result<()> {
        super::load_params(&self.base_params(), path)
    }

    /// Loads adapters saved by [`TinyLlama::save_adapter`].
    pub fn load_adapter(&self, path: &Path) -> Result<()> {
        super::load_params(&self.adapter_params(), path)
    }

    fn t(&self, i: usize) -> Tensor {
        let var = &self.params[i].var;
        if self.base_frozen && !self.lora_groups.contains(&i) {
            var.as_detached_tensor()
        } else {
            var.as_tensor().clone()
        }
    }

    fn proj(&self, x: &Tensor, p: &Proj) -> Result<Tensor> {
        let y = ops::linear(x, &self.t(p.w))?;
        match &p.lora {
            None => Ok(y),
            Some(l) => {
                let scale = self.cfg.lora_alpha / self.cfg.lora_rank as f64;
                let delta = ops::linear(&ops::linear(x, &self.t(l.a))?, &self.t(l.b))?;
                Ok((y + (delta * scale)?)?)
            }
        }
    }

    /// Logits of every position, `[b, t, vocab]`, for token ids `[b, t]`.
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        if t > self.cfg.max_seq_len {
            return Err(AttributionError::invalid(format!(
                "sequence of {t} tokens exceeds max_seq_len {}",
                self.cfg.max_seq_len
            )));
        }
        let (nh, hd, dim) = (self.cfg.n_heads, self.cfg.head_dim(), self.cfg.dim);
        let dtype = self.params[self.embed].var.dtype();
        let device = self.device();
        let mut x = self
            .t(self.embed)
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((b, t, dim))?;
        let mask = ops::causal_mask(t, dtype, &device)?;
        let scale = 1.0 / (hd as f64).sqrt();
        for blk in &self.blocks {
            let h = ops::rms_norm(&x, &self.t(blk.attn_norm), self.cfg.norm_eps)?;
            let heads = |y: Tensor| -> Result<Tensor> {
                Ok(y.reshape((b, t, nh, hd))?.transpose(1, 2)?.contiguous()?)
            };
            let q = heads(self.proj(&h, &blk.q)?)?;
            let k = heads(self.proj(&h, &blk.k)?)?;
            let v = heads(self.proj(&h, &blk.v)?)?;
            let q = ops::rope(&q, &self.cos, &self.sin)?;
            let k = ops::rope(&k, &self.cos, &self.sin)?;
            let att = (q.matmul(&k.t()?.contiguous()?)? * scale)?.broadcast_add(&mask)?;
            let att = ops::softmax_last(&att)?;
            let out = att
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((b, t, dim))?;
            x = (x + self.proj(&out, &blk.o)?)?;
            let h = ops::rms_norm(&x, &self.t(blk.ffn_norm), self.cfg.norm_eps)?;
            let gated = (self.proj(&h, &blk.gate)?.silu()? * self.proj(&h, &blk.up)?)?;
            x = (x + self.proj(&gated, &blk.down)?)?;
        }
        let x = ops::rms_norm(&x, &self.t(self.norm), self.cfg.norm_eps)?;
        Ok(ops::linear(&x, &self.t(self.lm_head))?)
    }

    /// Per-position next-token negative log-likelihoods `[b, t − 1]`.
    pub fn token_nll(&self, ids: &Tensor) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let logits = self.forward(ids)?.narrow(1, 0, t - 1)?;
        let targets = ids.narrow(1, 1, t - 1)?.contiguous()?;
        let v = self.cfg.vocab_size;
        let nll = ops::nll_rows(&logits.reshape((b * (t - 1), v))?, &targets.flatten_all()?)?;
        Ok(nll.reshape((b, t - 1))?)
    }

    /// Greedy continuation of `prompt` by `max_new` tokens (recomputes the whole prefix at every
    /// step: the model is tiny, and this keeps one code path for training and generation).
    pub fn generate_greedy(&self, prompt: &[u32], max_new: usize) -> Result<Vec<u32>> {
        let mut tokens = prompt.to_vec();
        let device = self.device();
        for _ in 0..max_new {
            if tokens.len() >= self.cfg.max_seq_len {
                break;
            }
            let ids = Tensor::from_slice(&tokens, (1, tokens.len()), &device)?;
            let logits = self
                .forward(&ids)?
                .narrow(1, tokens.len() - 1, 1)?
                .flatten_all()?;
            let next = logits.argmax(D::Minus1)?.to_scalar::<u32>()?;
            tokens.push(next);
        }
        Ok(tokens)
    }
}

impl DiffModel for TinyLlama {
    type Batch = TokenBatch;

    fn params(&self) -> &[Param] {
        &self.params
    }

    fn attribution_groups(&self) -> Vec<usize> {
        if self.lora_groups.is_empty() {
            (0..self.params.len()).collect()
        } else {
            self.lora_groups.clone()
        }
    }

    /// Mean next-token NLL over the counted positions.
    fn loss(&self, batch: &TokenBatch) -> Result<Tensor> {
        let nll = self.token_nll(&batch.ids)?;
        let total = (nll * &batch.weights)?.sum_all()?;
        let count = batch.weights.sum_all()?;
        Ok(total.broadcast_div(&count)?)
    }
}
