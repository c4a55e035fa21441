//! Base weights and LoRA factors held as variables, with views that run the serving forward.

use crate::{
    AdapterConfig, InferenceError, LlamaModel, LoraAdapter, Result,
    adapter::tensor_name,
    config::ModelConfig,
    kernels::LoraFactors,
    model::{Target, names},
    sampling::Rng,
};
use candle_core::{DType, Device, Tensor, Var};
use std::collections::BTreeMap;

/// The two dtypes variables may have: F32 (training) and F64 (gradient checks).
fn check_dtype(dtype: DType) -> Result<()> {
    match dtype {
        DType::F32 | DType::F64 => Ok(()),
        other => Err(InferenceError::InvalidRequest(format!(
            "training variables must be F32 or F64, not {other:?}"
        ))),
    }
}

/// The value of `var` as a tensor the loss differentiates (`track`) or as a constant.
fn value(var: &Var, track: bool) -> Tensor {
    if track {
        var.as_tensor().clone()
    } else {
        var.as_detached_tensor()
    }
}

/// Every weight of a base model as a variable, named and shaped as in its Hugging Face
/// checkpoint (full training of a base model; gradients of base weights).
#[derive(Debug, Clone)]
pub struct ModelVars {
    config: ModelConfig,
    /// In checkpoint order.
    vars: Vec<(String, Var)>,
    device: Device,
}

impl ModelVars {
    /// Variables initialised with the weights of `model` (F32).
    pub fn from_model(model: &LlamaModel) -> Result<Self> {
        let tensors = model.to_tensors()?;
        Self::from_tensors(model.config().clone(), tensors, DType::F32, model.device())
    }

    /// Variables in `dtype` (F32 or F64) initialised with checkpoint-named tensors: exactly the
    /// tensors `config` has (a tied model has no `lm_head.weight`), with their shapes.
    pub fn from_tensors(
        config: ModelConfig,
        mut tensors: BTreeMap<String, Tensor>,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        config.validate()?;
        check_dtype(dtype)?;
        if config.tie_word_embeddings && tensors.contains_key(names::LM_HEAD) {
            return Err(InferenceError::UnexpectedTensor {
                name: names::LM_HEAD.into(),
                context: "the configuration ties the head to the embedding".into(),
            });
        }
        let shapes = tensors
            .iter()
            .map(|(n, t)| (n.clone(), t.dims().to_vec()))
            .collect();
        names::check_tensors(&config, &shapes)?;
        let mut vars = Vec::with_capacity(tensors.len());
        for (name, _) in names::expected_tensors(&config) {
            let t = tensors
                .remove(&name)
                .ok_or_else(|| InferenceError::MissingTensor {
                    name: name.clone(),
                    context: "model".into(),
                })?;
            let var = Var::from_tensor(&t.to_dtype(dtype)?.to_device(device)?)?;
            vars.push((name, var));
        }
        Ok(Self {
            config,
            vars,
            device: device.clone(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The variables, by checkpoint name, in checkpoint order.
    pub fn vars(&self) -> &[(String, Var)] {
        &self.vars
    }

    /// A model over views of the variables: gradients of a loss computed on it reach the
    /// variables when `track`, and updates of the variables are seen by the view.
    pub fn model(&self, track: bool) -> Result<LlamaModel> {
        let lookup: BTreeMap<&str, &Var> = self.vars.iter().map(|(n, v)| (n.as_str(), v)).collect();
        let take = |name: &str| -> Result<Tensor> {
            lookup
                .get(name)
                .map(|v| value(v, track))
                .ok_or_else(|| InferenceError::MissingTensor {
                    name: name.to_string(),
                    context: "model variables".into(),
                })
        };
        LlamaModel::assemble(self.config.clone(), take, |w| Ok(w.t()?), &self.device)
    }

    /// The current values as a serving model (F32, its own copy).
    pub fn snapshot(&self) -> Result<LlamaModel> {
        let tensors = self
            .vars
            .iter()
            .map(|(n, v)| Ok((n.clone(), v.as_detached_tensor().copy()?)))
            .collect::<Result<BTreeMap<_, _>>>()?;
        LlamaModel::from_tensors(self.config.clone(), tensors, &self.device)
    }
}

/// One adapted projection.
#[derive(Debug, Clone)]
struct Module {
    layer: usize,
    target: Target,
    scale: f64,
    /// `lora_A`, `[r, in]`.
    a: Var,
    /// `lora_B`, `[out, r]`.
    b: Var,
}

/// The factors of a LoRA adapter as variables, in PEFT's names and layout.
#[derive(Debug, Clone)]
pub struct AdapterVars {
    config: AdapterConfig,
    base: ModelConfig,
    modules: Vec<Module>,
}

impl Module {
    /// `lora_A` and `lora_B` by PEFT tensor name.
    fn named_vars(&self) -> [(String, Var); 2] {
        [
            (tensor_name(self.layer, self.target, 0), self.a.clone()),
            (tensor_name(self.layer, self.target, 1), self.b.clone()),
        ]
    }
}

impl AdapterVars {
    /// A fresh adapter as PEFT initialises one (`init_lora_weights=True`): `lora_A` from
    /// Kaiming-uniform with `a = √5`, i.e. uniform in `±1/√in`, drawn from `seed`; `lora_B`
    /// zero, so the adapted model starts as the base.
    ///
    /// Errors before any allocation when the configuration targets no module of `base` or
    /// gives a module a rank above its width.
    pub fn init(
        config: AdapterConfig,
        base: &ModelConfig,
        seed: u64,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        check_dtype(dtype)?;
        let plan = plan_modules(&config, base)?;
        let mut rng = Rng::new(seed);
        let mut modules = Vec::with_capacity(plan.len());
        for (layer, target, r, scale) in plan {
            let (fan_in, fan_out) = target.in_out(base);
            let bound = 1.0 / (fan_in as f32).sqrt();
            let a: Vec<f32> = (0..r * fan_in)
                .map(|_| rng.uniform(-bound, bound))
                .collect();
            let a = Tensor::from_vec(a, (r, fan_in), device)?.to_dtype(dtype)?;
            let b = Tensor::zeros((fan_out, r), dtype, device)?;
            modules.push(Module {
                layer,
                target,
                scale,
                a: Var::from_tensor(&a)?,
                b: Var::from_tensor(&b)?,
            });
        }
        Ok(Self {
            config,
            base: base.clone(),
            modules,
        })
    }

    /// A saved adapter's factors as variables (F32), to differentiate a trained adapter as
    /// it serves: the bytes are checked exactly as [`LoraAdapter::from_bytes`] checks them.
    pub fn from_bytes(
        config_json: &[u8],
        safetensors: &[u8],
        base: &ModelConfig,
        device: &Device,
    ) -> Result<Self> {
        // Loaded (and validated: names, ranks, shapes, nothing missing or extra) once, by the
        // serving loader; its factors are transposed back into PEFT's layout.
        let loaded = LoraAdapter::from_bytes(config_json, safetensors, base, device)?;
        let config = loaded.config().clone();
        let var = |t: &Tensor| -> Result<Var> {
            Ok(Var::from_tensor(
                &t.t()?.to_dtype(DType::F32)?.contiguous()?,
            )?)
        };
        let modules = plan_modules(&config, base)?
            .into_iter()
            .map(|(layer, target, _, scale)| {
                let factors = loaded.factors[layer * 7 + target.index()]
                    .as_ref()
                    .ok_or_else(|| InferenceError::MissingTensor {
                        name: tensor_name(layer, target, 0),
                        context: "a module the configuration targets".into(),
                    })?;
                Ok(Module {
                    layer,
                    target,
                    scale,
                    a: var(&factors.a_t)?,
                    b: var(&factors.b_t)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            config,
            base: base.clone(),
            modules,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AdapterConfig {
        &self.config
    }

    /// The variables by PEFT tensor name, module by module (`lora_A` then `lora_B`).
    pub fn vars(&self) -> Vec<(String, Var)> {
        self.modules.iter().flat_map(Module::named_vars).collect()
    }

    /// The variables of the last block's down projection (`lora_A`, `lora_B`), the factors a
    /// loss computed from captured tails ([`super::tail_mean_nll`]) is differentiable in;
    /// empty when the adapter does not target that projection.
    pub fn tail_vars(&self) -> Vec<(String, Var)> {
        let last = self.base.num_hidden_layers.saturating_sub(1);
        self.modules
            .iter()
            .filter(|m| m.layer == last && m.target == Target::Down)
            .flat_map(Module::named_vars)
            .collect()
    }

    /// An adapter over views of the variables (see [`ModelVars::model`]).
    pub fn adapter(&self, track: bool) -> Result<LoraAdapter> {
        let mut factors = vec![None; self.base.num_hidden_layers * 7];
        for m in &self.modules {
            factors[m.layer * 7 + m.target.index()] = Some(LoraFactors {
                a_t: value(&m.a, track).t()?,
                b_t: value(&m.b, track).t()?,
                scale: m.scale,
            });
        }
        LoraAdapter::from_factors(self.config.clone(), &self.base, factors)
    }

    /// The current values as a servable adapter (F32, its own copy, validated as a loaded one).
    pub fn snapshot(&self) -> Result<LoraAdapter> {
        let tensors = self
            .vars()
            .into_iter()
            .map(|(n, v)| Ok((n, v.as_detached_tensor().to_dtype(DType::F32)?.copy()?)))
            .collect::<Result<BTreeMap<_, _>>>()?;
        LoraAdapter::from_tensors(self.config.clone(), tensors, &self.base)
    }
}

/// `(layer, target, rank, scale)` of every module `config` adapts on `base`, checked.
fn plan_modules(
    config: &AdapterConfig,
    base: &ModelConfig,
) -> Result<Vec<(usize, Target, usize, f64)>> {
    let planner = config.planner()?;
    let mut plan = Vec::new();
    for layer in 0..base.num_hidden_layers {
        for target in Target::ALL {
            let Some((r, scale)) = planner.plan(base, layer, target)? else {
                continue;
            };
            let (fan_in, fan_out) = target.in_out(base);
            if r > fan_in.min(fan_out) {
                return Err(InferenceError::AdapterMismatch(format!(
                    "rank {r} for {} is above the layer's width ({fan_in} in, {fan_out} out)",
                    target.module_path(layer)
                )));
            }
            plan.push((layer, target, r, scale));
        }
    }
    if plan.is_empty() {
        return Err(InferenceError::AdapterMismatch(format!(
            "target_modules {:?} matches no projection of the base model",
            config.target_modules
        )));
    }
    Ok(plan)
}
