//! The Llama-family causal language model (Llama 2/3, Mistral, Qwen2), written on candle's
//! differentiable ops and this crate's fixed-order [`kernels`](crate::kernels).
//!
//! Weights are kept in F32 whatever the checkpoint's dtype (the CPU computes in F32), with the
//! projection matrices stored transposed (`[in, out]`) because that is the layout the
//! fixed-order matmul streams fastest. [`LlamaModel::to_tensors`] gives them back in the
//! Hugging Face layout.

mod forward;
mod load;
pub(crate) mod names;
mod rope;
mod save;
mod tail;
#[cfg(test)]
pub(crate) mod tests;
mod tokenizer;

pub use forward::{KvCache, Logits, SeqInput};
pub use load::{BaseModel, load_model_dir};
pub use names::Target;
pub use save::{SaveOptions, save_model_dir};
pub use tail::TailActivations;
pub use tokenizer::byte_level_tokenizer;

use crate::{
    InferenceError, Result, adapter::LoraAdapter, config::ModelConfig, kernels::matmul,
    sampling::Rng,
};
use candle_core::{DType, Device, Tensor};
use std::collections::BTreeMap;

/// One linear projection: `y = x · w_t (+ bias)`.
#[derive(Debug, Clone)]
pub(crate) struct Projection {
    /// The weight transposed, `[in, out]`.
    pub(crate) w_t: Tensor,
    /// The bias `[out]`, when the architecture has one.
    pub(crate) bias: Option<Tensor>,
}

/// One transformer block.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub(crate) input_norm: Tensor,
    pub(crate) post_norm: Tensor,
    /// Indexed by [`Target::index`].
    pub(crate) proj: [Projection; 7],
}

/// A Llama-family base model in memory.
#[derive(Debug, Clone)]
pub struct LlamaModel {
    config: ModelConfig,
    embed: Tensor,
    blocks: Vec<Block>,
    norm: Tensor,
    /// The LM head transposed, `[hidden, vocab]` (a transposed copy of the embedding when tied).
    lm_head_t: Tensor,
    rope: rope::Rope,
    device: Device,
}

impl LlamaModel {
    /// Builds a model from tensors named and shaped as in a Hugging Face checkpoint (any float
    /// dtype; converted to F32). Every tensor of the architecture must be present with its shape
    /// and no other may be (except buffers transformers itself ignores).
    pub fn from_tensors(
        config: ModelConfig,
        tensors: BTreeMap<String, Tensor>,
        device: &Device,
    ) -> Result<Self> {
        config.validate()?;
        let mut tensors = tensors;
        tensors.retain(|name, _| !names::is_ignored_buffer(name));
        check_lm_head_when_tied(&config, &mut tensors)?;
        let shapes = tensors
            .iter()
            .map(|(n, t)| (n.clone(), t.dims().to_vec()))
            .collect();
        names::check_tensors(&config, &shapes)?;
        let take = |name: &str| -> Result<Tensor> {
            let t = tensors
                .remove(name)
                .ok_or_else(|| InferenceError::MissingTensor {
                    name: name.to_string(),
                    context: "model".into(),
                })?;
            Ok(t.to_dtype(DType::F32)?.to_device(device)?)
        };
        Self::assemble(config, take, |w| Ok(w.t()?.contiguous()?), device)
    }

    /// A model over tensors that are already checked, in the Hugging Face layout, taken by name
    /// from `take`; `transpose` turns a `[out, in]` weight into the stored `[in, out]` (a
    /// contiguous copy for serving, a view for [`crate::train`], so gradients reach the
    /// variables and later updates of them are seen).
    pub(crate) fn assemble(
        config: ModelConfig,
        mut take: impl FnMut(&str) -> Result<Tensor>,
        transpose: impl Fn(&Tensor) -> Result<Tensor>,
        device: &Device,
    ) -> Result<Self> {
        let embed = take(names::EMBED)?;
        let mut blocks = Vec::with_capacity(config.num_hidden_layers);
        for layer in 0..config.num_hidden_layers {
            let input_norm = take(&names::input_norm(layer))?;
            let post_norm = take(&names::post_norm(layer))?;
            let mut proj = Vec::with_capacity(7);
            for t in Target::ALL {
                let path = t.module_path(layer);
                let w_t = transpose(&take(&format!("{path}.weight"))?)?;
                let bias = if t.has_bias(&config) {
                    Some(take(&format!("{path}.bias"))?)
                } else {
                    None
                };
                proj.push(Projection { w_t, bias });
            }
            let proj: [Projection; 7] = proj
                .try_into()
                .map_err(|_| InferenceError::Runtime("a block has seven projections".into()))?;
            blocks.push(Block {
                input_norm,
                post_norm,
                proj,
            });
        }
        let norm = take(names::FINAL_NORM)?;
        let lm_head_t = if config.tie_word_embeddings {
            transpose(&embed)?
        } else {
            transpose(&take(names::LM_HEAD)?)?
        };
        Ok(Self {
            rope: rope::Rope::new(&config),
            config,
            embed,
            blocks,
            norm,
            lm_head_t,
            device: device.clone(),
        })
    }

    /// A model with random weights drawn from `seed` (for tests and benchmarks): projections
    /// uniform in `±1/sqrt(in)`, norms near 1, biases small, so logits are spread enough for
    /// sampling to matter.
    pub fn random(config: ModelConfig, seed: u64, device: &Device) -> Result<Self> {
        config.validate()?;
        let mut rng = Rng::new(seed);
        let mut tensors = BTreeMap::new();
        for (name, shape) in names::expected_tensors(&config) {
            let n: usize = shape.iter().product();
            let values: Vec<f32> = if name.ends_with("norm.weight") {
                (0..n).map(|_| 1.0 + rng.uniform(-0.1, 0.1)).collect()
            } else if name.ends_with(".bias") {
                (0..n).map(|_| rng.uniform(-0.05, 0.05)).collect()
            } else {
                let fan_in = shape.last().copied().unwrap_or(1).max(1) as f32;
                let bound = if name == names::EMBED || name == names::LM_HEAD {
                    1.0
                } else {
                    1.0 / fan_in.sqrt()
                };
                (0..n).map(|_| rng.uniform(-bound, bound)).collect()
            };
            tensors.insert(name, Tensor::from_vec(values, shape, device)?);
        }
        Self::from_tensors(config, tensors, device)
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The weights in the Hugging Face layout and names (F32).
    pub fn to_tensors(&self) -> Result<BTreeMap<String, Tensor>> {
        let mut out = BTreeMap::new();
        out.insert(names::EMBED.to_string(), self.embed.clone());
        for (layer, block) in self.blocks.iter().enumerate() {
            out.insert(names::input_norm(layer), block.input_norm.clone());
            out.insert(names::post_norm(layer), block.post_norm.clone());
            for t in Target::ALL {
                let p = &block.proj[t.index()];
                let path = t.module_path(layer);
                out.insert(format!("{path}.weight"), p.w_t.t()?.contiguous()?);
                if let Some(b) = &p.bias {
                    out.insert(format!("{path}.bias"), b.clone());
                }
            }
        }
        out.insert(names::FINAL_NORM.to_string(), self.norm.clone());
        if !self.config.tie_word_embeddings {
            out.insert(
                names::LM_HEAD.to_string(),
                self.lm_head_t.t()?.contiguous()?,
            );
        }
        Ok(out)
    }

    /// A copy of this model with `adapter` merged into the base weights (`W + scale · B·A`),
    /// as PEFT's `merge_and_unload` does. Projections the adapter does not touch are shared.
    ///
    /// The merged model computes `x·(W + ΔW)` where the adapter path computes `x·W + (x·A)·B`:
    /// the same function with other roundings, so outputs agree within F32 tolerance, not bit for
    /// bit (the test `merged_matches_unmerged_within_tolerance` measures it).
    pub fn merged(&self, adapter: &LoraAdapter) -> Result<Self> {
        adapter.check_fits(&self.config)?;
        let mut merged = self.clone();
        for (layer, block) in merged.blocks.iter_mut().enumerate() {
            for t in Target::ALL {
                if let Some(f) = adapter.factors(layer, t) {
                    let p = &mut block.proj[t.index()];
                    let delta = (matmul(&f.a_t, &f.b_t)? * f.scale)?;
                    p.w_t = (&p.w_t + delta)?;
                }
            }
        }
        Ok(merged)
    }

    pub(crate) fn blocks(&self) -> &[Block] {
        &self.blocks
    }
}

/// transformers ties the head to the embedding and drops a stored `lm_head.weight`; we accept
/// one only when it equals the embedding, so a checkpoint never silently loses a distinct head.
fn check_lm_head_when_tied(
    config: &ModelConfig,
    tensors: &mut BTreeMap<String, Tensor>,
) -> Result<()> {
    if !config.tie_word_embeddings {
        return Ok(());
    }
    let Some(head) = tensors.get(names::LM_HEAD) else {
        return Ok(());
    };
    let same = match tensors.get(names::EMBED) {
        Some(embed) if embed.dims() == head.dims() => {
            let diff = (embed.to_dtype(DType::F32)? - head.to_dtype(DType::F32)?)?
                .abs()?
                .max_all()?
                .to_scalar::<f32>()?;
            diff == 0.0
        }
        _ => false,
    };
    if !same {
        return Err(InferenceError::UnexpectedTensor {
            name: names::LM_HEAD.into(),
            context: "tie_word_embeddings is true but lm_head.weight differs from the embedding"
                .into(),
        });
    }
    tensors.remove(names::LM_HEAD);
    Ok(())
}
