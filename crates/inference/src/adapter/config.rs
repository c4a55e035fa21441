//! PEFT's `adapter_config.json` for LoRA, and which modules of a base model it targets with
//! which rank and alpha.
//!
//! Matching follows PEFT: a `target_modules` list entry matches a module whose full name equals
//! it or ends with `.entry`; a string is a regular expression that must match the whole name;
//! `all-linear` means every projection of the blocks. `rank_pattern`/`alpha_pattern` keys match a
//! module whose name ends with the key (as a regular expression). Where PEFT would take the first
//! of several matching pattern keys in file order, we refuse ambiguous patterns that disagree
//! instead, so the result never depends on key order.

use crate::{
    InferenceError, Result,
    config::{Fields, ModelConfig},
    model::Target,
};
use regex::Regex;
use serde_json::{Value, json};

const FILE: &str = "adapter_config.json";

/// Which modules an adapter targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetModules {
    /// Module names or name suffixes (`q_proj`, `self_attn.v_proj`).
    List(Vec<String>),
    /// A regular expression matched against the whole module name.
    Regex(String),
    /// PEFT's `all-linear`: every linear layer of the blocks.
    AllLinear,
}

/// A LoRA adapter's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterConfig {
    /// Default rank.
    pub r: usize,
    /// Default alpha (the delta is scaled by `alpha / r`).
    pub lora_alpha: f64,
    /// The targeted modules.
    pub target_modules: TargetModules,
    /// rsLoRA: scale by `alpha / sqrt(r)` instead.
    pub use_rslora: bool,
    /// Per-module ranks, by name pattern.
    pub rank_pattern: Vec<(String, usize)>,
    /// Per-module alphas, by name pattern.
    pub alpha_pattern: Vec<(String, f64)>,
    /// Only these blocks carry the adapter (`None` or empty: all). As in PEFT, this filters
    /// the suffix matches of a `target_modules` list, not a full module name in it.
    pub layers_to_transform: Option<Vec<usize>>,
    /// The base model the adapter was trained on (informational).
    pub base_model_name_or_path: Option<String>,
}

impl AdapterConfig {
    /// A configuration targeting `targets` with rank `r` and alpha `alpha`.
    pub fn new(r: usize, lora_alpha: f64, targets: &[Target]) -> Self {
        Self {
            r,
            lora_alpha,
            target_modules: TargetModules::List(
                targets.iter().map(|t| t.name().to_string()).collect(),
            ),
            use_rslora: false,
            rank_pattern: Vec::new(),
            alpha_pattern: Vec::new(),
            layers_to_transform: None,
            base_model_name_or_path: None,
        }
    }

    /// Parses an `adapter_config.json`, refusing PEFT features this engine does not run.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let value = Fields::parse(FILE, bytes)?;
        let f = Fields::new(FILE, &value);
        if let Some(kind) = f.opt_str("peft_type")?
            && kind != "LORA"
        {
            return Err(f.err(
                "peft_type",
                format!("`{kind}` adapters are not supported (only LORA)"),
            ));
        }
        if f.opt_bool("use_dora")?.unwrap_or(false) {
            return Err(f.err("use_dora", "DoRA adapters are not supported"));
        }
        if f.opt_bool("fan_in_fan_out")?.unwrap_or(false) {
            return Err(f.err(
                "fan_in_fan_out",
                "transposed (Conv1D) targets do not exist in Llama models",
            ));
        }
        if let Some(bias) = f.opt_str("bias")?
            && bias != "none"
        {
            return Err(f.err(
                "bias",
                format!("`{bias}`: trained biases are not supported"),
            ));
        }
        if let Some(m) = f.get("modules_to_save")
            && m.as_array().is_none_or(|a| !a.is_empty())
        {
            return Err(f.err(
                "modules_to_save",
                "fully trained extra modules are not supported",
            ));
        }
        // Newer PEFT fields that change what the adapter computes; each is refused unless it has
        // its no-op value (absent, null, false or empty), so such an adapter never runs as a
        // plain LoRA.
        for (field, what) in [
            ("lora_bias", "a trained bias on lora_B"),
            ("exclude_modules", "modules excluded from target_modules"),
            ("layer_replication", "replicated layers"),
            (
                "target_parameters",
                "LoRA on parameters rather than modules",
            ),
            ("trainable_token_indices", "trained token embeddings"),
            ("alora_invocation_tokens", "activated LoRA (aLoRA)"),
            ("use_qalora", "QALoRA"),
            ("use_bdlora", "block-diagonal LoRA"),
            ("arrow_config", "Arrow adapter routing"),
        ] {
            let no_op = match f.get(field) {
                None | Some(Value::Bool(false)) => true,
                Some(Value::Array(a)) => a.is_empty(),
                Some(Value::Object(o)) => o.is_empty(),
                Some(_) => false,
            };
            if !no_op {
                return Err(f.err(field, format!("{what} is not supported")));
            }
        }
        let r = f.usize("r")?;
        if r == 0 {
            return Err(f.err("r", "must be positive"));
        }
        let lora_alpha = f.opt_f64("lora_alpha")?.unwrap_or(8.0);
        let target_modules = match f.get("target_modules") {
            None => return Err(f.err("target_modules", "missing")),
            Some(Value::String(s)) if s == "all-linear" => TargetModules::AllLinear,
            Some(Value::String(s)) => {
                compile(&format!("^(?:{s})$"), &f, "target_modules")?;
                TargetModules::Regex(s.clone())
            }
            Some(Value::Array(items)) => TargetModules::List(
                items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| f.err("target_modules", "expected strings"))
                    })
                    .collect::<Result<_>>()?,
            ),
            Some(other) => {
                return Err(f.err(
                    "target_modules",
                    format!("expected a list or a string, got {other}"),
                ));
            }
        };
        let layers_to_transform = match f.get("layers_to_transform") {
            None => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|v| {
                        v.as_u64()
                            .map(|n| n as usize)
                            .ok_or_else(|| f.err("layers_to_transform", "expected layer indices"))
                    })
                    .collect::<Result<_>>()?,
            ),
            Some(v) => Some(vec![v.as_u64().map(|n| n as usize).ok_or_else(|| {
                f.err("layers_to_transform", "expected a layer index")
            })?]),
        };
        // PEFT finds a module's layer index after `layers_pattern`; in Llama names that is
        // `layers`, and any other pattern would find no index and so target nothing.
        if layers_to_transform.is_some() && !matches!(target_modules, TargetModules::List(_)) {
            return Err(f.err(
                "layers_to_transform",
                "cannot be used when target_modules is a string (PEFT refuses it too)",
            ));
        }
        if layers_to_transform.as_ref().is_some_and(|l| !l.is_empty()) {
            let plain = match f.get("layers_pattern") {
                None => true,
                Some(Value::String(p)) => p.is_empty() || p == "layers",
                Some(Value::Array(ps)) => {
                    ps.is_empty() || (ps.len() == 1 && ps[0].as_str() == Some("layers"))
                }
                Some(_) => false,
            };
            if !plain {
                return Err(f.err(
                    "layers_pattern",
                    "only `layers` (the Llama block list) is supported",
                ));
            }
        }
        let pattern = |field: &str| -> Result<Vec<(String, f64)>> {
            let Some(v) = f.get(field) else {
                return Ok(Vec::new());
            };
            let obj = v
                .as_object()
                .ok_or_else(|| f.err(field, "expected an object"))?;
            obj.iter()
                .map(|(k, v)| {
                    compile(&format!("(?:^|\\.)(?:{k})$"), &f, field)?;
                    let x = v.as_f64().filter(|x| x.is_finite() && *x > 0.0);
                    Ok((
                        k.clone(),
                        x.ok_or_else(|| {
                            f.err(field, format!("`{k}`: expected a positive number"))
                        })?,
                    ))
                })
                .collect()
        };
        let rank_pattern = pattern("rank_pattern")?
            .into_iter()
            .map(|(k, v)| {
                if v.fract() == 0.0 {
                    Ok((k, v as usize))
                } else {
                    Err(f.err("rank_pattern", format!("`{k}`: rank {v} is not an integer")))
                }
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            r,
            lora_alpha,
            target_modules,
            use_rslora: f.opt_bool("use_rslora")?.unwrap_or(false),
            rank_pattern,
            alpha_pattern: pattern("alpha_pattern")?,
            layers_to_transform,
            base_model_name_or_path: f.opt_str("base_model_name_or_path")?.map(str::to_string),
        })
    }

    /// The `adapter_config.json` PEFT writes for this configuration.
    pub fn to_json(&self) -> Value {
        let targets = match &self.target_modules {
            TargetModules::List(l) => json!(l),
            TargetModules::Regex(s) => json!(s),
            TargetModules::AllLinear => json!("all-linear"),
        };
        let ranks: serde_json::Map<String, Value> = self
            .rank_pattern
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let alphas: serde_json::Map<String, Value> = self
            .alpha_pattern
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        json!({
            "peft_type": "LORA",
            "task_type": "CAUSAL_LM",
            "r": self.r,
            "lora_alpha": self.lora_alpha,
            "target_modules": targets,
            "use_rslora": self.use_rslora,
            "rank_pattern": ranks,
            "alpha_pattern": alphas,
            "layers_to_transform": self.layers_to_transform,
            "base_model_name_or_path": self.base_model_name_or_path,
            "bias": "none",
            "lora_dropout": 0.0,
            "fan_in_fan_out": false,
            "inference_mode": true,
            "init_lora_weights": true,
            "modules_to_save": null,
            "use_dora": false,
        })
    }

    /// The rank and scale of the adapter on block `layer`'s projection `t`, or `None` when the
    /// configuration does not target it. Compiles the patterns on every call: to plan many
    /// modules, take a [`ModulePlanner`] once.
    pub fn module_plan(
        &self,
        base: &ModelConfig,
        layer: usize,
        t: Target,
    ) -> Result<Option<(usize, f64)>> {
        self.planner()?.plan(base, layer, t)
    }

    /// The configuration with its patterns compiled, to plan every module of a base model.
    pub fn planner(&self) -> Result<ModulePlanner<'_>> {
        let target = match &self.target_modules {
            TargetModules::Regex(re) => Some(Regex::new(&format!("^(?:{re})$")).map_err(|e| {
                InferenceError::config(FILE, "target_modules", format!("invalid pattern: {e}"))
            })?),
            _ => None,
        };
        let suffix = |patterns: Vec<&str>, field: &str| -> Result<Vec<Regex>> {
            patterns
                .into_iter()
                .map(|pat| {
                    Regex::new(&format!("(?:^|\\.)(?:{pat})$")).map_err(|e| {
                        InferenceError::config(FILE, field, format!("invalid pattern `{pat}`: {e}"))
                    })
                })
                .collect()
        };
        Ok(ModulePlanner {
            config: self,
            target,
            ranks: suffix(
                self.rank_pattern.iter().map(|(p, _)| p.as_str()).collect(),
                "rank_pattern",
            )?,
            alphas: suffix(
                self.alpha_pattern.iter().map(|(p, _)| p.as_str()).collect(),
                "alpha_pattern",
            )?,
        })
    }
}

/// An [`AdapterConfig`] with its `target_modules` regular expression and its rank and alpha
/// patterns compiled once (a base model has hundreds of modules to plan).
#[derive(Debug)]
pub struct ModulePlanner<'a> {
    config: &'a AdapterConfig,
    target: Option<Regex>,
    ranks: Vec<Regex>,
    alphas: Vec<Regex>,
}

impl ModulePlanner<'_> {
    /// See [`AdapterConfig::module_plan`].
    pub fn plan(
        &self,
        base: &ModelConfig,
        layer: usize,
        t: Target,
    ) -> Result<Option<(usize, f64)>> {
        let c = self.config;
        if layer >= base.num_hidden_layers {
            return Ok(None);
        }
        let in_layers = c
            .layers_to_transform
            .as_ref()
            .is_none_or(|layers| layers.is_empty() || layers.contains(&layer));
        let key = t.module_path(layer);
        // As PEFT's `check_target_module_exists`: `layers_to_transform` filters the suffix
        // matches of a list, while a full module name in the list selects its module whatever
        // the layer. (PEFT refuses `layers_to_transform` with a string `target_modules`, so
        // from_json does too; a configuration built in code gets the plain filter.)
        let targeted = match &c.target_modules {
            TargetModules::AllLinear => in_layers,
            TargetModules::List(names) if names.contains(&key) => true,
            TargetModules::List(names) => {
                in_layers && names.iter().any(|n| key.ends_with(&format!(".{n}")))
            }
            TargetModules::Regex(_) => {
                in_layers && self.target.as_ref().is_some_and(|re| re.is_match(&key))
            }
        };
        if !targeted {
            return Ok(None);
        }
        let r = pick(&c.rank_pattern, &self.ranks, &key, "rank_pattern")?.unwrap_or(c.r);
        let alpha =
            pick(&c.alpha_pattern, &self.alphas, &key, "alpha_pattern")?.unwrap_or(c.lora_alpha);
        if r == 0 {
            return Err(InferenceError::config(
                FILE,
                "rank_pattern",
                format!("rank 0 for {key}"),
            ));
        }
        let scale = if c.use_rslora {
            alpha / (r as f64).sqrt()
        } else {
            alpha / r as f64
        };
        Ok(Some((r, scale)))
    }
}

fn compile(pattern: &str, f: &Fields<'_>, field: &str) -> Result<Regex> {
    Regex::new(pattern).map_err(|e| f.err(field, format!("invalid pattern: {e}")))
}

/// The value of the pattern keys matching `key` (`compiled` holds their expressions, in the
/// same order): `None` if none does, an error if several disagree.
fn pick<V: Copy + PartialEq + std::fmt::Debug>(
    patterns: &[(String, V)],
    compiled: &[Regex],
    key: &str,
    field: &str,
) -> Result<Option<V>> {
    let mut found: Option<(&str, V)> = None;
    for ((pat, value), re) in patterns.iter().zip(compiled) {
        if !re.is_match(key) {
            continue;
        }
        match found {
            Some((other, v)) if v != *value => {
                return Err(InferenceError::config(
                    FILE,
                    field,
                    format!("`{other}` and `{pat}` both match {key} with different values"),
                ));
            }
            _ => found = Some((pat, *value)),
        }
    }
    Ok(found.map(|(_, v)| v))
}
