//! The attribution engine's view of `ol-inference`'s Llama-family model, the one implementation
//! of the workspace: a small Llama with LoRA adapters, held as training variables.
//!
//! [`TinyLlama`] keeps no model code of its own. Its weights are [`ModelVars`] (Hugging Face
//! names and layout) and its adapters [`AdapterVars`] (PEFT names and layout); every loss,
//! gradient and generation runs `ol-inference`'s forward pass over views of those variables
//! ([`ol_inference::train`]): the same fixed-order kernels, rotary tables, masks and per-row
//! LoRA path that serve the model, and ops with a backward pass all along the gradient path.
//! So the gradients attribution takes are those of the function inference serves.
//!
//! The parameter groups ([`DiffModel::params`]) are the base weights in checkpoint order
//! followed by the adapter factors (`lora_A` then `lora_B`, projection by projection). With
//! [`TinyLlama::freeze_base`] the base weights become constants and only the adapters get
//! gradients (the attribution parameters of a LoRA-tuned model).

use super::{DiffModel, Param, randn};
use crate::{AttributionError, Result, rng::Rng};
use candle_core::{D, DType, Device, Tensor};
use ol_inference::{
    AdapterConfig, Architecture, LlamaModel, LoraAdapter, ModelConfig, Target,
    kernels::CpuLoraKernel,
    model::{KvCache, Logits, SeqInput},
    train::{AdapterVars, ModelVars, mean_nll, token_nll},
};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, path::Path};

/// The architecture of a [`TinyLlama`]: the harness's small configuration, turned into
/// `ol-inference`'s [`ModelConfig`] and [`AdapterConfig`] by [`LlamaConfig::model_config`] and
/// [`LlamaConfig::adapter_config`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlamaConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Model width.
    pub dim: usize,
    /// Number of transformer blocks.
    pub n_layers: usize,
    /// Number of attention heads (`dim` must be a multiple; as many key/value heads).
    pub n_heads: usize,
    /// Width of the SwiGLU MLP.
    pub hidden_dim: usize,
    /// Longest sequence the model accepts (`max_position_embeddings`).
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
            lora_targets: Target::ALL.map(|t| t.name().to_string()).to_vec(),
        }
    }

    /// The base model as `ol-inference` describes it: a Llama with multi-head attention
    /// (as many key/value heads as query heads), an untied LM head, no biases and no special
    /// tokens.
    pub fn model_config(&self) -> ModelConfig {
        ModelConfig {
            architecture: Architecture::Llama,
            hidden_size: self.dim,
            intermediate_size: self.hidden_dim,
            num_hidden_layers: self.n_layers,
            num_attention_heads: self.n_heads,
            num_key_value_heads: self.n_heads,
            head_dim: self.dim / self.n_heads.max(1),
            vocab_size: self.vocab_size,
            max_position_embeddings: self.max_seq_len,
            rms_norm_eps: self.norm_eps,
            rope_theta: self.rope_theta,
            rope_scaling: None,
            tie_word_embeddings: false,
            qkv_bias: false,
            o_bias: false,
            mlp_bias: false,
            sliding_window: None,
            bos_token_id: None,
            eos_token_ids: Vec::new(),
        }
    }

    /// The adapters as a PEFT configuration (rank, alpha, target modules); `None` when the
    /// model has none (rank 0 or no target).
    pub fn adapter_config(&self) -> Result<Option<AdapterConfig>> {
        let targets = self.targets()?;
        if self.lora_rank == 0 || targets.is_empty() {
            return Ok(None);
        }
        Ok(Some(AdapterConfig::new(
            self.lora_rank,
            self.lora_alpha,
            &targets,
        )))
    }

    fn targets(&self) -> Result<Vec<Target>> {
        self.lora_targets
            .iter()
            .map(|name| {
                Target::parse(name)
                    .ok_or_else(|| AttributionError::invalid(format!("unknown LoRA target {name}")))
            })
            .collect()
    }

    fn validate(&self) -> Result<()> {
        if self.n_heads == 0 || !self.dim.is_multiple_of(self.n_heads) {
            return Err(AttributionError::invalid(
                "dim must be a multiple of n_heads with an even head dimension",
            ));
        }
        self.targets()?;
        self.model_config().validate()?;
        Ok(())
    }
}

/// A batch of token sequences, unpadded: `ol-inference` runs them as one ragged batch in which
/// every sequence attends only to itself.
#[derive(Debug, Clone)]
pub struct TokenBatch {
    /// The sequences, each of at least two tokens (one next-token prediction).
    pub seqs: Vec<Vec<u32>>,
}

impl TokenBatch {
    /// One sequence, every prediction counted.
    ///
    /// `dtype` and `device` are not used: the loss is computed in the model's dtype, on its
    /// device.
    pub fn single(tokens: &[u32], dtype: DType, device: &Device) -> Result<Self> {
        Self::padded(&[tokens], 0, dtype, device)
    }

    /// Several sequences of any lengths. Nothing is padded (the batch is ragged), so `pad` is
    /// not used; a sequence of fewer than two tokens predicts nothing and is left out, as its
    /// padded predictions were not counted. `dtype` and `device` are not used, as in
    /// [`TokenBatch::single`].
    pub fn padded(seqs: &[&[u32]], _pad: u32, _dtype: DType, _device: &Device) -> Result<Self> {
        let seqs: Vec<Vec<u32>> = seqs
            .iter()
            .filter(|s| s.len() >= 2)
            .map(|s| s.to_vec())
            .collect();
        if seqs.is_empty() {
            return Err(AttributionError::invalid(
                "a sequence needs at least two tokens",
            ));
        }
        Ok(Self { seqs })
    }

    /// The number of next-token predictions the loss averages over.
    pub fn predictions(&self) -> usize {
        self.seqs.iter().map(|s| s.len() - 1).sum()
    }

    fn slices(&self) -> Vec<&[u32]> {
        self.seqs.iter().map(Vec::as_slice).collect()
    }
}

/// The tiny Llama model (see the module documentation).
#[derive(Debug, Clone)]
pub struct TinyLlama {
    cfg: LlamaConfig,
    base: ModelVars,
    adapter: Option<AdapterVars>,
    /// The base variables, then the adapter variables (the same [`candle_core::Var`]s).
    params: Vec<Param>,
    /// Indices of the adapter variables in `params`.
    lora_groups: Vec<usize>,
    base_frozen: bool,
}

impl TinyLlama {
    /// A freshly initialised model, all from `seed`: weights N(0, 0.02²) (the output
    /// projections `o_proj` and `down_proj` scaled down by `1/√(2·n_layers)`), norms one,
    /// LoRA A ~ N(0, 1/in) and B zero (so the adapted model starts as the base).
    pub fn new(cfg: LlamaConfig, seed: u64, dtype: DType, device: &Device) -> Result<Self> {
        cfg.validate()?;
        let model_config = cfg.model_config();
        let adapter_config = cfg.adapter_config()?;
        let adapted = |t: Target| {
            adapter_config
                .as_ref()
                .is_some_and(|_| cfg.lora_targets.iter().any(|n| n == t.name()))
        };
        // Drawn in the order of the checkpoint, each projection's weight followed by its
        // `lora_A` when it is adapted.
        let mut rng = Rng::from_words(&[seed, 0x4c4c414d41]);
        let std = 0.02;
        let out_std = std / (2.0 * cfg.n_layers as f64).sqrt();
        let ones = Tensor::ones(cfg.dim, dtype, device)?;
        let mut tensors = BTreeMap::new();
        let mut lora_a = BTreeMap::new();
        tensors.insert(
            "model.embed_tokens.weight".to_string(),
            randn(&mut rng, &[cfg.vocab_size, cfg.dim], std, dtype, device)?,
        );
        for layer in 0..cfg.n_layers {
            let prefix = format!("model.layers.{layer}");
            tensors.insert(format!("{prefix}.input_layernorm.weight"), ones.clone());
            tensors.insert(
                format!("{prefix}.post_attention_layernorm.weight"),
                ones.clone(),
            );
            for t in Target::ALL {
                let (fan_in, fan_out) = t.in_out(&model_config);
                let s = if matches!(t, Target::O | Target::Down) {
                    out_std
                } else {
                    std
                };
                let path = t.module_path(layer);
                tensors.insert(
                    format!("{path}.weight"),
                    randn(&mut rng, &[fan_out, fan_in], s, dtype, device)?,
                );
                if adapted(t) {
                    lora_a.insert(
                        format!("base_model.model.{path}.lora_A.weight"),
                        randn(
                            &mut rng,
                            &[cfg.lora_rank, fan_in],
                            (1.0 / fan_in as f64).sqrt(),
                            dtype,
                            device,
                        )?,
                    );
                }
            }
        }
        tensors.insert("model.norm.weight".to_string(), ones);
        tensors.insert(
            "lm_head.weight".to_string(),
            randn(&mut rng, &[cfg.vocab_size, cfg.dim], std, dtype, device)?,
        );
        let base = ModelVars::from_tensors(model_config.clone(), tensors, dtype, device)?;
        let adapter = match adapter_config {
            None => None,
            Some(config) => {
                // PEFT's layout and zero `lora_B`; `lora_A` from the draws above.
                let adapter = AdapterVars::init(config, &model_config, seed, dtype, device)?;
                for (name, var) in adapter.vars() {
                    if name.ends_with("lora_A.weight") {
                        let a = lora_a.remove(&name).ok_or_else(|| {
                            AttributionError::invalid(format!("no initial value for {name}"))
                        })?;
                        var.set(&a)?;
                    }
                }
                if let Some(name) = lora_a.keys().next() {
                    return Err(AttributionError::invalid(format!(
                        "the adapter has no factor {name}"
                    )));
                }
                Some(adapter)
            }
        };
        let mut params: Vec<Param> = base
            .vars()
            .iter()
            .map(|(name, var)| Param::new(name.clone(), var.clone()))
            .collect();
        let n_base = params.len();
        if let Some(a) = &adapter {
            params.extend(
                a.vars()
                    .into_iter()
                    .map(|(name, var)| Param::new(name, var)),
            );
        }
        let lora_groups = (n_base..params.len()).collect();
        Ok(Self {
            cfg,
            base,
            adapter,
            params,
            lora_groups,
            base_frozen: false,
        })
    }

    /// The configuration.
    pub const fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    /// The base weights as `ol-inference` training variables.
    pub const fn model_vars(&self) -> &ModelVars {
        &self.base
    }

    /// The adapters as `ol-inference` training variables (`None` without LoRA).
    pub const fn adapter_vars(&self) -> Option<&AdapterVars> {
        self.adapter.as_ref()
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

    fn n_base(&self) -> usize {
        self.base.vars().len()
    }

    /// The base parameter groups (everything but the adapters), in checkpoint order.
    pub fn base_params(&self) -> Vec<Param> {
        self.params[..self.n_base()].to_vec()
    }

    /// The adapter parameter groups.
    pub fn adapter_params(&self) -> Vec<Param> {
        self.params[self.n_base()..].to_vec()
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

    /// The `ol-inference` model and adapter over views of the variables. With `track`, a loss
    /// computed on them differentiates the adapters, and the base unless it is frozen; without,
    /// every weight is a constant.
    fn views(&self, track: bool) -> Result<(LlamaModel, Option<LoraAdapter>)> {
        let model = self.base.model(track && !self.base_frozen)?;
        let adapter = self
            .adapter
            .as_ref()
            .map(|a| a.adapter(track))
            .transpose()?;
        Ok((model, adapter))
    }

    /// Logits of every position, `[b, t, vocab]`, for token ids `[b, t]` (each row its own
    /// sequence), as constants.
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let rows = ids.to_vec2::<u32>()?;
        let (model, adapter) = self.views(false)?;
        let mut caches = vec![KvCache::new(); b];
        let mut inputs: Vec<SeqInput<'_>> = rows
            .iter()
            .zip(caches.iter_mut())
            .map(|(tokens, cache)| SeqInput {
                tokens,
                cache,
                adapter: adapter.as_ref(),
            })
            .collect();
        let logits = model.forward(&mut inputs, &CpuLoraKernel, Logits::All)?;
        Ok(logits.reshape((b, t, self.cfg.vocab_size))?)
    }

    /// The next-token negative log-likelihood of every prediction of `batch`, sequence after
    /// sequence (`Σ (len − 1)` entries), differentiable as [`DiffModel::loss`] is.
    pub fn token_nll(&self, batch: &TokenBatch) -> Result<Tensor> {
        let (model, adapter) = self.views(true)?;
        Ok(token_nll(&model, &batch.slices(), adapter.as_ref())?)
    }

    /// Greedy continuation of `prompt` by up to `max_new` tokens, stopping at `max_seq_len`
    /// (`ol-inference`'s forward pass, one prefill then one step per token on a KV cache).
    pub fn generate_greedy(&self, prompt: &[u32], max_new: usize) -> Result<Vec<u32>> {
        let (model, adapter) = self.views(false)?;
        let mut tokens = prompt.to_vec();
        let mut cache = KvCache::new();
        for _ in 0..max_new {
            if tokens.len() >= self.cfg.max_seq_len {
                break;
            }
            let fresh = &tokens[cache.len()..];
            let mut inputs = [SeqInput {
                tokens: fresh,
                cache: &mut cache,
                adapter: adapter.as_ref(),
            }];
            let logits = model.forward(&mut inputs, &CpuLoraKernel, Logits::Last)?;
            let next = logits
                .flatten_all()?
                .argmax(D::Minus1)?
                .to_scalar::<u32>()?;
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

    /// Mean next-token NLL over every prediction of the batch (`ol-inference`'s [`mean_nll`]).
    fn loss(&self, batch: &TokenBatch) -> Result<Tensor> {
        let (model, adapter) = self.views(true)?;
        Ok(mean_nll(&model, &batch.slices(), adapter.as_ref())?)
    }
}
