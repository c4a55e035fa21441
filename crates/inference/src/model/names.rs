//! The linear projections of a Llama block and the Hugging Face names of every tensor.

use crate::{InferenceError, Result, config::ModelConfig};
use std::collections::{BTreeMap, BTreeSet};

/// One of the seven linear projections of a Llama block (the modules a LoRA adapter can target).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// `self_attn.q_proj`.
    Q,
    /// `self_attn.k_proj`.
    K,
    /// `self_attn.v_proj`.
    V,
    /// `self_attn.o_proj`.
    O,
    /// `mlp.gate_proj`.
    Gate,
    /// `mlp.up_proj`.
    Up,
    /// `mlp.down_proj`.
    Down,
}

impl Target {
    /// All projections, in block order.
    pub const ALL: [Self; 7] = [
        Self::Q,
        Self::K,
        Self::V,
        Self::O,
        Self::Gate,
        Self::Up,
        Self::Down,
    ];

    /// The module name (`q_proj`, ...), as PEFT's `target_modules` lists it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Q => "q_proj",
            Self::K => "k_proj",
            Self::V => "v_proj",
            Self::O => "o_proj",
            Self::Gate => "gate_proj",
            Self::Up => "up_proj",
            Self::Down => "down_proj",
        }
    }

    /// The submodule holding it (`self_attn` or `mlp`).
    pub fn parent(self) -> &'static str {
        match self {
            Self::Q | Self::K | Self::V | Self::O => "self_attn",
            Self::Gate | Self::Up | Self::Down => "mlp",
        }
    }

    /// Parses a module name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Position in [`Self::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// `(in_features, out_features)` under `config`.
    pub fn in_out(self, c: &ModelConfig) -> (usize, usize) {
        let q = c.num_attention_heads * c.head_dim;
        let kv = c.num_key_value_heads * c.head_dim;
        match self {
            Self::Q => (c.hidden_size, q),
            Self::K | Self::V => (c.hidden_size, kv),
            Self::O => (q, c.hidden_size),
            Self::Gate | Self::Up => (c.hidden_size, c.intermediate_size),
            Self::Down => (c.intermediate_size, c.hidden_size),
        }
    }

    /// Whether the projection has a bias under `config`.
    pub fn has_bias(self, c: &ModelConfig) -> bool {
        match self {
            Self::Q | Self::K | Self::V => c.qkv_bias,
            Self::O => c.o_bias,
            Self::Gate | Self::Up | Self::Down => c.mlp_bias,
        }
    }

    /// The module path inside the model, e.g. `model.layers.3.self_attn.q_proj`.
    pub fn module_path(self, layer: usize) -> String {
        format!("model.layers.{layer}.{}.{}", self.parent(), self.name())
    }
}

/// The embedding matrix.
pub(crate) const EMBED: &str = "model.embed_tokens.weight";
/// The final norm.
pub(crate) const FINAL_NORM: &str = "model.norm.weight";
/// The LM head (absent when tied to the embedding).
pub(crate) const LM_HEAD: &str = "lm_head.weight";

/// The norm before attention in block `layer`.
pub(crate) fn input_norm(layer: usize) -> String {
    format!("model.layers.{layer}.input_layernorm.weight")
}

/// The norm before the MLP in block `layer`.
pub(crate) fn post_norm(layer: usize) -> String {
    format!("model.layers.{layer}.post_attention_layernorm.weight")
}

/// Every tensor a checkpoint of `config` holds, with its shape, in a stable order.
pub(crate) fn expected_tensors(c: &ModelConfig) -> Vec<(String, Vec<usize>)> {
    let h = c.hidden_size;
    let mut out = vec![(EMBED.to_string(), vec![c.vocab_size, h])];
    for layer in 0..c.num_hidden_layers {
        out.push((input_norm(layer), vec![h]));
        for t in Target::ALL {
            let (i, o) = t.in_out(c);
            let path = t.module_path(layer);
            out.push((format!("{path}.weight"), vec![o, i]));
            if t.has_bias(c) {
                out.push((format!("{path}.bias"), vec![o]));
            }
            if t == Target::O {
                out.push((post_norm(layer), vec![h]));
            }
        }
    }
    out.push((FINAL_NORM.to_string(), vec![h]));
    if !c.tie_word_embeddings {
        out.push((LM_HEAD.to_string(), vec![c.vocab_size, h]));
    }
    out
}

/// Buffers some checkpoints carry that transformers ignores on load (the rotary inverse
/// frequencies are recomputed from the configuration).
pub(crate) fn is_ignored_buffer(name: &str) -> bool {
    name.ends_with(".rotary_emb.inv_freq")
}

/// Checks a checkpoint's tensor shapes against `config`: every expected tensor present with its
/// shape, nothing else (buffers transformers ignores, and a stored head of a tied model, which
/// the caller compares with the embedding, excepted).
pub(crate) fn check_tensors(c: &ModelConfig, shapes: &BTreeMap<String, Vec<usize>>) -> Result<()> {
    let expected = expected_tensors(c);
    for (name, shape) in &expected {
        let actual = shapes
            .get(name)
            .ok_or_else(|| InferenceError::MissingTensor {
                name: name.clone(),
                context: format!("required by the {} config", c.architecture.model_type()),
            })?;
        if actual != shape {
            return Err(InferenceError::TensorShape {
                name: name.clone(),
                expected: shape.clone(),
                actual: actual.clone(),
            });
        }
    }
    let known: BTreeSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    let tied_head = |n: &str| c.tie_word_embeddings && n == LM_HEAD;
    if let Some(extra) = shapes
        .keys()
        .find(|n| !known.contains(n.as_str()) && !is_ignored_buffer(n) && !tied_head(n))
    {
        return Err(InferenceError::UnexpectedTensor {
            name: extra.clone(),
            context: format!(
                "not part of a {} model with this config",
                c.architecture.model_type()
            ),
        });
    }
    Ok(())
}
