//! Hugging Face configuration files: `config.json` of a Llama-family model,
//! `generation_config.json` and the chat template of `tokenizer_config.json`.
//!
//! Only the fields the forward pass depends on are interpreted; a field whose value would change
//! the architecture in a way we do not implement (another `model_type`, another activation, a
//! rope scaling other than Llama 3's, Qwen2's sliding window) is refused with an error that names
//! it, so a model never runs with silently wrong semantics.

mod json;

pub(crate) use json::Fields;

use crate::Result;
use serde_json::{Value, json};

/// The Llama-family architectures, as Hugging Face's `model_type` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Architecture {
    /// `llama` (Llama 2 and 3): optional attention and MLP biases.
    Llama,
    /// `mistral`: Llama with an optional sliding attention window.
    Mistral,
    /// `qwen2`: biases on the q, k and v projections (not on o).
    Qwen2,
}

impl Architecture {
    /// The `model_type` string.
    pub fn model_type(self) -> &'static str {
        match self {
            Self::Llama => "llama",
            Self::Mistral => "mistral",
            Self::Qwen2 => "qwen2",
        }
    }

    /// The `architectures` entry transformers expects for a causal LM.
    pub fn class_name(self) -> &'static str {
        match self {
            Self::Llama => "LlamaForCausalLM",
            Self::Mistral => "MistralForCausalLM",
            Self::Qwen2 => "Qwen2ForCausalLM",
        }
    }

    fn parse(model_type: &str) -> Option<Self> {
        match model_type {
            "llama" => Some(Self::Llama),
            "mistral" => Some(Self::Mistral),
            "qwen2" => Some(Self::Qwen2),
            _ => None,
        }
    }
}

/// Llama 3's frequency-dependent rope scaling (`rope_scaling.rope_type == "llama3"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Llama3RopeScaling {
    /// How much the low frequencies are stretched.
    pub factor: f64,
    /// Wavelengths above `original_max_position_embeddings / low_freq_factor` are scaled fully.
    pub low_freq_factor: f64,
    /// Wavelengths below `original_max_position_embeddings / high_freq_factor` are kept.
    pub high_freq_factor: f64,
    /// The context length the model was pre-trained with.
    pub original_max_position_embeddings: usize,
}

/// The architecture of a Llama-family base model, from its `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// Which member of the family.
    pub architecture: Architecture,
    /// Model width.
    pub hidden_size: usize,
    /// Width of the SwiGLU MLP.
    pub intermediate_size: usize,
    /// Number of transformer blocks.
    pub num_hidden_layers: usize,
    /// Number of query heads.
    pub num_attention_heads: usize,
    /// Number of key/value heads (grouped-query attention when fewer than the query heads).
    pub num_key_value_heads: usize,
    /// Width of one head (`hidden_size / num_attention_heads` unless the file says otherwise).
    pub head_dim: usize,
    /// Vocabulary size (rows of the embedding).
    pub vocab_size: usize,
    /// Longest sequence (prompt plus generated tokens) the model accepts.
    pub max_position_embeddings: usize,
    /// RMS norm epsilon.
    pub rms_norm_eps: f64,
    /// Rotary base.
    pub rope_theta: f64,
    /// Llama 3 rope scaling, when present.
    pub rope_scaling: Option<Llama3RopeScaling>,
    /// Whether the LM head reuses the embedding matrix.
    pub tie_word_embeddings: bool,
    /// Biases on the q, k and v projections.
    pub qkv_bias: bool,
    /// Bias on the o projection.
    pub o_bias: bool,
    /// Biases on the gate, up and down projections.
    pub mlp_bias: bool,
    /// Mistral's sliding window: a query attends to at most this many most recent positions.
    pub sliding_window: Option<usize>,
    /// Beginning-of-sequence token.
    pub bos_token_id: Option<u32>,
    /// End-of-sequence tokens (generation stops on any of them).
    pub eos_token_ids: Vec<u32>,
}

/// Dimensions above this are refused: no Llama-family model comes near it, and it keeps every
/// size computed from the configuration far from overflow.
const MAX_DIM: usize = 1 << 24;
/// More blocks than this are refused for the same reason.
const MAX_LAYERS: usize = 4096;

impl ModelConfig {
    /// Parses and validates a `config.json`.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let value = Fields::parse("config.json", bytes)?;
        let f = Fields::new("config.json", &value);
        let model_type = f
            .opt_str("model_type")?
            .ok_or_else(|| f.err("model_type", "missing"))?;
        let architecture = Architecture::parse(model_type).ok_or_else(|| {
            f.err(
                "model_type",
                format!("unsupported model type `{model_type}` (supported: llama, mistral, qwen2)"),
            )
        })?;
        if let Some(act) = f.opt_str("hidden_act")?
            && act != "silu"
        {
            return Err(f.err(
                "hidden_act",
                format!("unsupported activation `{act}` (only silu)"),
            ));
        }
        let hidden_size = f.usize("hidden_size")?;
        let num_attention_heads = f.usize("num_attention_heads")?;
        let head_dim = match f.opt_usize("head_dim")? {
            Some(d) => d,
            None if num_attention_heads > 0 && hidden_size % num_attention_heads == 0 => {
                hidden_size / num_attention_heads
            }
            None => {
                return Err(f.err(
                    "num_attention_heads",
                    format!("does not divide hidden_size {hidden_size}"),
                ));
            }
        };
        // Only Llama reads `attention_bias` and `mlp_bias`: transformers builds Mistral without
        // biases and Qwen2 with biases on q, k and v alone, whatever the file says (and `to_json`
        // writes the two fields for Llama only, so a saved model reads back the same).
        let attention_bias = f.opt_bool("attention_bias")?.unwrap_or(false);
        let mlp_bias = f.opt_bool("mlp_bias")?.unwrap_or(false);
        let (qkv_bias, o_bias, mlp_bias) = match architecture {
            Architecture::Llama => (attention_bias, attention_bias, mlp_bias),
            Architecture::Mistral => (false, false, false),
            Architecture::Qwen2 => (true, false, false),
        };
        let sliding_window = match architecture {
            Architecture::Mistral => f.opt_usize("sliding_window")?,
            Architecture::Qwen2 => {
                if f.opt_bool("use_sliding_window")?.unwrap_or(false) {
                    return Err(f.err(
                        "use_sliding_window",
                        "Qwen2's sliding window is not supported",
                    ));
                }
                // transformers 5 also says it per layer; a sliding layer there is the same
                // unsupported window.
                if let Some(types) = f.get("layer_types") {
                    let full = types
                        .as_array()
                        .is_some_and(|l| l.iter().all(|t| t.as_str() == Some("full_attention")));
                    if !full {
                        return Err(f.err(
                            "layer_types",
                            "only full_attention layers are supported (Qwen2's sliding window is not)",
                        ));
                    }
                }
                None
            }
            Architecture::Llama => None,
        };
        let (rope_theta, rope_scaling) = parse_rope(&f)?;
        let config = Self {
            architecture,
            hidden_size,
            intermediate_size: f.usize("intermediate_size")?,
            num_hidden_layers: f.usize("num_hidden_layers")?,
            num_attention_heads,
            num_key_value_heads: f
                .opt_usize("num_key_value_heads")?
                .unwrap_or(num_attention_heads),
            head_dim,
            vocab_size: f.usize("vocab_size")?,
            max_position_embeddings: f.usize("max_position_embeddings")?,
            rms_norm_eps: f.opt_f64("rms_norm_eps")?.unwrap_or(1e-6),
            rope_theta,
            rope_scaling,
            tie_word_embeddings: f.opt_bool("tie_word_embeddings")?.unwrap_or(false),
            qkv_bias,
            o_bias,
            mlp_bias,
            sliding_window,
            bos_token_id: f.token_ids("bos_token_id")?.first().copied(),
            eos_token_ids: f.token_ids("eos_token_id")?,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks the relations between fields (every dimension positive and bounded, heads
    /// dividing evenly, an even head width for rotary embeddings).
    pub fn validate(&self) -> Result<()> {
        let err = |field: &str, reason: String| {
            crate::InferenceError::config("config.json", field, reason)
        };
        for (field, value) in [
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_key_value_heads),
            ("head_dim", self.head_dim),
            ("vocab_size", self.vocab_size),
            ("max_position_embeddings", self.max_position_embeddings),
        ] {
            if value == 0 || value > MAX_DIM {
                return Err(err(field, format!("{value} is outside 1..={MAX_DIM}")));
            }
        }
        if self.num_hidden_layers == 0 || self.num_hidden_layers > MAX_LAYERS {
            return Err(err(
                "num_hidden_layers",
                format!("{} is outside 1..={MAX_LAYERS}", self.num_hidden_layers),
            ));
        }
        if !self
            .num_attention_heads
            .is_multiple_of(self.num_key_value_heads)
        {
            return Err(err(
                "num_key_value_heads",
                format!(
                    "{} does not divide num_attention_heads {}",
                    self.num_key_value_heads, self.num_attention_heads
                ),
            ));
        }
        if !self.head_dim.is_multiple_of(2) {
            return Err(err(
                "head_dim",
                format!("{} is odd (rotary needs pairs)", self.head_dim),
            ));
        }
        if self.num_attention_heads.saturating_mul(self.head_dim) > MAX_DIM {
            return Err(err(
                "head_dim",
                "num_attention_heads * head_dim is too large".into(),
            ));
        }
        if self.rms_norm_eps.is_nan() || self.rms_norm_eps <= 0.0 {
            return Err(err("rms_norm_eps", "must be positive".into()));
        }
        if self.rope_theta.is_nan() || self.rope_theta <= 0.0 {
            return Err(err("rope_theta", "must be positive".into()));
        }
        if self.sliding_window == Some(0) {
            return Err(err("sliding_window", "must be positive".into()));
        }
        let vocab = self.vocab_size;
        for &id in self.eos_token_ids.iter().chain(self.bos_token_id.iter()) {
            if id as usize >= vocab {
                return Err(err(
                    "eos_token_id",
                    format!("token {id} is outside the vocabulary {vocab}"),
                ));
            }
        }
        Ok(())
    }

    /// Query heads per key/value head.
    pub fn group_size(&self) -> usize {
        self.num_attention_heads / self.num_key_value_heads
    }

    /// The `config.json` transformers writes for this architecture.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "architectures": [self.architecture.class_name()],
            "model_type": self.architecture.model_type(),
            "hidden_act": "silu",
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "vocab_size": self.vocab_size,
            "max_position_embeddings": self.max_position_embeddings,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "tie_word_embeddings": self.tie_word_embeddings,
            "torch_dtype": "float32",
            "attention_dropout": 0.0,
            "initializer_range": 0.02,
            "use_cache": true,
        });
        let Some(obj) = v.as_object_mut() else {
            return v;
        };
        match self.architecture {
            Architecture::Llama => {
                obj.insert("attention_bias".into(), json!(self.qkv_bias));
                obj.insert("mlp_bias".into(), json!(self.mlp_bias));
            }
            Architecture::Mistral => {
                obj.insert("sliding_window".into(), json!(self.sliding_window));
            }
            Architecture::Qwen2 => {
                obj.insert("use_sliding_window".into(), json!(false));
            }
        }
        if let Some(s) = &self.rope_scaling {
            obj.insert(
                "rope_scaling".into(),
                json!({
                    "rope_type": "llama3",
                    "factor": s.factor,
                    "low_freq_factor": s.low_freq_factor,
                    "high_freq_factor": s.high_freq_factor,
                    "original_max_position_embeddings": s.original_max_position_embeddings,
                }),
            );
        }
        if let Some(bos) = self.bos_token_id {
            obj.insert("bos_token_id".into(), json!(bos));
        }
        match self.eos_token_ids.as_slice() {
            [] => {}
            [one] => {
                obj.insert("eos_token_id".into(), json!(one));
            }
            many => {
                obj.insert("eos_token_id".into(), json!(many));
            }
        }
        v
    }
}

/// `rope_theta` and the Llama 3 scaling. transformers 4 writes `rope_theta` and `rope_scaling`
/// at the top level; transformers 5 writes both inside `rope_parameters` (and still reads the
/// old fields, preferring `rope_scaling` when a file has both, then the theta inside the
/// object, then the top-level one), so we read either layout the same way.
fn parse_rope(f: &Fields<'_>) -> Result<(f64, Option<Llama3RopeScaling>)> {
    let (field, value) = match (f.get("rope_scaling"), f.get("rope_parameters")) {
        (Some(v), _) => ("rope_scaling", v),
        (None, Some(v)) => ("rope_parameters", v),
        (None, None) => {
            check_partial_rotary(f, "partial_rotary_factor")?;
            return Ok((f.opt_f64("rope_theta")?.unwrap_or(10_000.0), None));
        }
    };
    if !value.is_object() {
        return Err(f.err(field, "expected an object or null"));
    }
    let s = Fields::new("config.json", value);
    // transformers 5 nests one object per layer type for models whose layers differ; no model of
    // this family does, and reading only one of them would be wrong for the others.
    if let Some(map) = value.as_object()
        && let Some((key, _)) = map.iter().find(|(_, v)| v.is_object())
    {
        return Err(f.err(
            &format!("{field}.{key}"),
            "per-layer-type rope parameters are not supported",
        ));
    }
    check_partial_rotary(f, "partial_rotary_factor")?;
    check_partial_rotary(&s, "partial_rotary_factor")?;
    let theta = match s.opt_f64("rope_theta")? {
        Some(t) => t,
        None => f.opt_f64("rope_theta")?.unwrap_or(10_000.0),
    };
    Ok((theta, parse_rope_scaling(f, field, &s)?))
}

/// A rotary embedding over only part of each head changes every angle; refused unless 1.
fn check_partial_rotary(f: &Fields<'_>, field: &str) -> Result<()> {
    match f.opt_f64(field)? {
        Some(x) if x != 1.0 => Err(f.err(
            field,
            format!("{x}: partial rotary embeddings are not supported"),
        )),
        _ => Ok(()),
    }
}

/// The Llama 3 scaling of the rope object `s`, found under `object` (`rope_scaling` or
/// `rope_parameters`) of `f`.
fn parse_rope_scaling(
    f: &Fields<'_>,
    object: &str,
    s: &Fields<'_>,
) -> Result<Option<Llama3RopeScaling>> {
    let err = |field: &str, reason: &str| f.err(&format!("{object}.{field}"), reason);
    // transformers reads `rope_type`, and `type` in files written before it was renamed.
    let kind = match s.opt_str("rope_type")? {
        Some(k) => k,
        None => s.opt_str("type")?.unwrap_or("default"),
    };
    match kind {
        "default" => Ok(None),
        "llama3" => {
            let need = |field: &str| {
                s.opt_f64(field)?
                    .filter(|x| *x > 0.0)
                    .ok_or_else(|| err(field, "missing or not positive"))
            };
            let original = match s.opt_usize("original_max_position_embeddings")? {
                Some(0) => return Err(err("original_max_position_embeddings", "zero")),
                Some(n) => n,
                // transformers 5 defaults it to the context length.
                None => f.usize("max_position_embeddings")?,
            };
            let scaling = Llama3RopeScaling {
                factor: need("factor")?,
                low_freq_factor: need("low_freq_factor")?,
                high_freq_factor: need("high_freq_factor")?,
                original_max_position_embeddings: original,
            };
            if scaling.high_freq_factor <= scaling.low_freq_factor {
                return Err(err(
                    "high_freq_factor",
                    "must be greater than low_freq_factor",
                ));
            }
            Ok(Some(scaling))
        }
        other => Err(err(
            "rope_type",
            &format!("unsupported rope scaling `{other}` (supported: default, llama3)"),
        )),
    }
}

/// Sampling defaults and stop tokens from `generation_config.json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerationConfig {
    /// Beginning-of-sequence token.
    pub bos_token_id: Option<u32>,
    /// End-of-sequence tokens.
    pub eos_token_ids: Vec<u32>,
    /// Padding token.
    pub pad_token_id: Option<u32>,
    /// Whether the model's authors sample by default (greedy otherwise).
    pub do_sample: Option<bool>,
    /// Default temperature.
    pub temperature: Option<f64>,
    /// Default nucleus threshold.
    pub top_p: Option<f64>,
    /// Default top-k.
    pub top_k: Option<usize>,
}

impl GenerationConfig {
    /// Parses a `generation_config.json`.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let value = Fields::parse("generation_config.json", bytes)?;
        let f = Fields::new("generation_config.json", &value);
        Ok(Self {
            bos_token_id: f.token_ids("bos_token_id")?.first().copied(),
            eos_token_ids: f.token_ids("eos_token_id")?,
            pad_token_id: f.token_ids("pad_token_id")?.first().copied(),
            do_sample: f.opt_bool("do_sample")?,
            temperature: f.opt_f64("temperature")?,
            top_p: f.opt_f64("top_p")?,
            top_k: f.opt_usize("top_k")?,
        })
    }
}

/// The chat template of a `tokenizer_config.json`: the `chat_template` string, or the entry
/// named `default` (else the first) when the file holds a list of named templates.
pub fn chat_template_from_json(bytes: &[u8]) -> Result<Option<String>> {
    let value = Fields::parse("tokenizer_config.json", bytes)?;
    let f = Fields::new("tokenizer_config.json", &value);
    match f.get("chat_template") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Array(items)) => {
            let named = |want: Option<&str>| {
                items.iter().find_map(|item| {
                    let name = item.get("name").and_then(Value::as_str);
                    let template = item.get("template").and_then(Value::as_str)?;
                    (want.is_none() || name == want).then(|| template.to_string())
                })
            };
            Ok(named(Some("default")).or_else(|| named(None)))
        }
        Some(other) => Err(f.err(
            "chat_template",
            format!("expected a string or a list of named templates, got {other}"),
        )),
    }
}

#[cfg(test)]
mod tests;
