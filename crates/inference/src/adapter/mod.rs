//! PEFT LoRA adapters: `adapter_config.json` + `adapter_model.safetensors` with PEFT's tensor
//! names (`base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight`, `[r, in]`, and
//! `…lora_B.weight`, `[out, r]`), loaded from a folder or from bytes in memory, validated
//! against the base model, and saved in the same format.
//!
//! Validation is strict in both directions: every tensor must belong to a module the
//! configuration targets, with the configured rank and the base's dimensions, and every targeted
//! module must have both factors, so an adapter never runs half-applied.

pub mod bundle;
mod config;
#[cfg(test)]
mod tests;

pub use config::{AdapterConfig, ModulePlanner, TargetModules};

use crate::{
    InferenceError, Result,
    config::ModelConfig,
    kernels::LoraFactors,
    model::Target,
    sampling::Rng,
    weights::{self, StoreDtype},
};
use candle_core::{DType, Device, Tensor};
use std::{collections::BTreeMap, path::Path};

/// The adapter weights file.
pub const ADAPTER_WEIGHTS: &str = "adapter_model.safetensors";
/// The adapter configuration file.
pub const ADAPTER_CONFIG: &str = "adapter_config.json";
/// The prefix PEFT puts before the base model's module names.
const PEFT_PREFIX: &str = "base_model.model.";

/// The shapes of the base model an adapter was validated against.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BaseShape {
    layers: usize,
    dims: [(usize, usize); 7],
}

impl BaseShape {
    fn of(c: &ModelConfig) -> Self {
        Self {
            layers: c.num_hidden_layers,
            dims: Target::ALL.map(|t| t.in_out(c)),
        }
    }
}

/// A LoRA adapter ready to run on a base model.
#[derive(Debug, Clone)]
pub struct LoraAdapter {
    config: AdapterConfig,
    base: BaseShape,
    /// Indexed by `layer * 7 + target`.
    pub(crate) factors: Vec<Option<LoraFactors>>,
}

impl LoraAdapter {
    /// Loads `adapter_config.json` and `adapter_model.safetensors` from `dir`.
    pub fn load_dir(dir: &Path, base: &ModelConfig, device: &Device) -> Result<Self> {
        let config = weights::read_file(&dir.join(ADAPTER_CONFIG))?;
        let tensors = weights::read_file(&dir.join(ADAPTER_WEIGHTS))?;
        Self::from_bytes(&config, &tensors, base, device)
    }

    /// Builds an adapter from its [`bundle`] (the one object a content store holds).
    pub fn from_bundle(bundle: &[u8], base: &ModelConfig, device: &Device) -> Result<Self> {
        let files = bundle::unbundle(bundle)?;
        Self::from_bytes(&files.config, &files.weights, base, device)
    }

    /// Builds an adapter from the bytes of its two files (no file system involved).
    pub fn from_bytes(
        config_json: &[u8],
        safetensors: &[u8],
        base: &ModelConfig,
        device: &Device,
    ) -> Result<Self> {
        let config = AdapterConfig::from_json(config_json)?;
        let st = weights::parse(safetensors, ADAPTER_WEIGHTS)?;
        let shapes = weights::shapes(&st, ADAPTER_WEIGHTS)?;
        let mut tensors = BTreeMap::new();
        for name in shapes.keys() {
            tensors.insert(
                name.clone(),
                weights::read(&st, name, ADAPTER_WEIGHTS, device)?,
            );
        }
        Self::from_tensors(config, tensors, base)
    }

    /// Builds an adapter from PEFT-named tensors `A: [r, in]`, `B: [out, r]`.
    pub fn from_tensors(
        config: AdapterConfig,
        tensors: BTreeMap<String, Tensor>,
        base: &ModelConfig,
    ) -> Result<Self> {
        let mut found: BTreeMap<(usize, Target), [Option<Tensor>; 2]> = BTreeMap::new();
        for (name, t) in tensors {
            let (layer, target, which) =
                parse_name(&name).ok_or_else(|| InferenceError::UnexpectedTensor {
                    name: name.clone(),
                    context: "not a LoRA factor of a Llama block projection".into(),
                })?;
            if layer >= base.num_hidden_layers {
                return Err(InferenceError::AdapterMismatch(format!(
                    "`{name}` is for layer {layer}, the base model has {} layers",
                    base.num_hidden_layers
                )));
            }
            found.entry((layer, target)).or_default()[which] = Some(t);
        }
        let mut factors = vec![None; base.num_hidden_layers * 7];
        let planner = config.planner()?;
        for layer in 0..base.num_hidden_layers {
            for target in Target::ALL {
                let plan = planner.plan(base, layer, target)?;
                let pair = found.remove(&(layer, target));
                let module = target.module_path(layer);
                let (r, scale, [a, b]) = match (plan, pair) {
                    (None, None) => continue,
                    (None, Some(_)) => {
                        return Err(InferenceError::AdapterMismatch(format!(
                            "the file has factors for {module}, which target_modules does not include"
                        )));
                    }
                    (Some(_), None) => {
                        return Err(InferenceError::MissingTensor {
                            name: tensor_name(layer, target, 0),
                            context: format!("{module} is targeted by {ADAPTER_CONFIG}"),
                        });
                    }
                    (Some((r, scale)), Some(pair)) => (r, scale, pair),
                };
                let (fan_in, fan_out) = target.in_out(base);
                let a = check_factor(a, layer, target, 0, [r, fan_in])?;
                let b = check_factor(b, layer, target, 1, [fan_out, r])?;
                factors[layer * 7 + target.index()] = Some(LoraFactors {
                    a_t: a.to_dtype(DType::F32)?.t()?.contiguous()?,
                    b_t: b.to_dtype(DType::F32)?.t()?.contiguous()?,
                    scale,
                });
            }
        }
        drop(planner);
        Self::from_factors(config, base, factors)
    }

    /// An adapter over factors already checked against `base` (indexed by
    /// `layer * 7 + target`); the training path builds its views of the variables this way.
    pub(crate) fn from_factors(
        config: AdapterConfig,
        base: &ModelConfig,
        factors: Vec<Option<LoraFactors>>,
    ) -> Result<Self> {
        if factors.iter().all(Option::is_none) {
            return Err(InferenceError::AdapterMismatch(
                "the adapter targets no module of the base model".into(),
            ));
        }
        Ok(Self {
            config,
            base: BaseShape::of(base),
            factors,
        })
    }

    /// A random adapter for `config` on `base` (tests, benchmarks): unlike PEFT's initialisation
    /// `B` is not zero, so the adapter changes the output.
    pub fn random(
        config: AdapterConfig,
        base: &ModelConfig,
        seed: u64,
        device: &Device,
    ) -> Result<Self> {
        let mut rng = Rng::new(seed);
        let mut tensors = BTreeMap::new();
        let planner = config.planner()?;
        for layer in 0..base.num_hidden_layers {
            for target in Target::ALL {
                let Some((r, _)) = planner.plan(base, layer, target)? else {
                    continue;
                };
                let (fan_in, fan_out) = target.in_out(base);
                for (which, shape) in [(0, (r, fan_in)), (1, (fan_out, r))] {
                    let bound = 1.0 / (shape.1 as f32).sqrt();
                    let v: Vec<f32> = (0..shape.0 * shape.1)
                        .map(|_| rng.uniform(-bound, bound))
                        .collect();
                    tensors.insert(
                        tensor_name(layer, target, which),
                        Tensor::from_vec(v, shape, device)?,
                    );
                }
            }
        }
        drop(planner);
        Self::from_tensors(config, tensors, base)
    }

    /// The configuration.
    pub fn config(&self) -> &AdapterConfig {
        &self.config
    }

    /// Bytes the factors occupy in memory (what an adapter cache budgets).
    pub fn byte_size(&self) -> usize {
        self.factors
            .iter()
            .flatten()
            .map(|f| (f.a_t.elem_count() + f.b_t.elem_count()) * f.a_t.dtype().size_in_bytes())
            .sum()
    }

    /// The factors for block `layer`'s projection `target`, when the adapter has them.
    pub fn factors(&self, layer: usize, target: Target) -> Option<&LoraFactors> {
        self.factors.get(layer * 7 + target.index())?.as_ref()
    }

    /// Errors unless the adapter was validated against a base with the shapes of `base`.
    pub fn check_fits(&self, base: &ModelConfig) -> Result<()> {
        if self.base == BaseShape::of(base) {
            Ok(())
        } else {
            Err(InferenceError::AdapterMismatch(
                "the adapter was loaded for a base model with other dimensions".into(),
            ))
        }
    }

    /// The factors in PEFT's names and layout (F32).
    pub fn to_tensors(&self) -> Result<BTreeMap<String, Tensor>> {
        let mut out = BTreeMap::new();
        for (i, f) in self.factors.iter().enumerate() {
            let Some(f) = f else { continue };
            let (layer, target) = (i / 7, Target::ALL[i % 7]);
            out.insert(tensor_name(layer, target, 0), f.a_t.t()?.contiguous()?);
            out.insert(tensor_name(layer, target, 1), f.b_t.t()?.contiguous()?);
        }
        Ok(out)
    }

    /// The two files' bytes: `(adapter_config.json, adapter_model.safetensors)`.
    pub fn to_bytes(&self, dtype: StoreDtype) -> Result<(Vec<u8>, Vec<u8>)> {
        let config = serde_json::to_vec_pretty(&self.config.to_json()).map_err(|e| {
            InferenceError::Json {
                what: ADAPTER_CONFIG.into(),
                reason: e.to_string(),
            }
        })?;
        Ok((config, weights::encode(&self.to_tensors()?, dtype)?))
    }

    /// Writes the adapter to `dir` (created if needed) in PEFT's format.
    pub fn save_dir(&self, dir: &Path, dtype: StoreDtype) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| InferenceError::io("creating", dir, e))?;
        let (config, tensors) = self.to_bytes(dtype)?;
        weights::write_file(&dir.join(ADAPTER_CONFIG), &config)?;
        weights::write_file(&dir.join(ADAPTER_WEIGHTS), &tensors)
    }
}

/// PEFT's name of factor `which` (0: A, 1: B) of block `layer`'s projection `target`.
pub(crate) fn tensor_name(layer: usize, target: Target, which: usize) -> String {
    let ab = if which == 0 { "A" } else { "B" };
    format!(
        "{PEFT_PREFIX}{}.lora_{ab}.weight",
        target.module_path(layer)
    )
}

/// `(layer, target, 0 for A / 1 for B)` of a PEFT tensor name.
fn parse_name(name: &str) -> Option<(usize, Target, usize)> {
    let rest = name
        .strip_prefix(PEFT_PREFIX)?
        .strip_prefix("model.layers.")?;
    let (layer, rest) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (parent, rest) = rest.split_once('.')?;
    let (module, rest) = rest.split_once('.')?;
    let target = Target::parse(module).filter(|t| t.parent() == parent)?;
    let which = match rest {
        "lora_A.weight" => 0,
        "lora_B.weight" => 1,
        _ => return None,
    };
    // Reject non-canonical layer numbers ("01") so every tensor has exactly one name.
    (tensor_name(layer, target, which) == name).then_some((layer, target, which))
}

fn check_factor(
    t: Option<Tensor>,
    layer: usize,
    target: Target,
    which: usize,
    shape: [usize; 2],
) -> Result<Tensor> {
    let name = tensor_name(layer, target, which);
    let t = t.ok_or_else(|| InferenceError::MissingTensor {
        name: name.clone(),
        context: "each targeted module needs lora_A and lora_B".into(),
    })?;
    if t.dims() != shape {
        return Err(InferenceError::TensorShape {
            name,
            expected: shape.to_vec(),
            actual: t.dims().to_vec(),
        });
    }
    Ok(t)
}
