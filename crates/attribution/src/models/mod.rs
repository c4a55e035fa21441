//! Differentiable models on candle.
//!
//! The language model ([`llama`]) is `ol-inference`'s Llama-family implementation, the one the
//! workspace serves, seen through its training variables: attribution differentiates the same
//! forward pass that answers inference requests. The tabular models ([`logreg`], [`mlp`]) are
//! written here ([`ops`]). Every op on a gradient path has a backward pass (no candle fused
//! softmax, RMS norm or rotary kernel, which cut the graph silently in candle 0.11); the
//! finite-difference test in [`crate::gradcheck`] checks every parameter group of every model.
//!
//! A model is a list of named parameter groups ([`Param`], each a candle [`Var`]) and a loss.
//! Attribution works per parameter group ("layer" in DataInf's per-layer closed form).

pub mod llama;
pub mod logreg;
pub mod mlp;
pub mod ops;

use crate::{AttributionError, Result};
use alloy_primitives::{B256, keccak256};
use candle_core::{DType, Device, Tensor, Var};
use std::{collections::HashMap, path::Path};

pub use llama::{LlamaConfig, TinyLlama, TokenBatch};
pub use logreg::LogisticRegression;
pub use mlp::Mlp;

/// A named parameter group.
#[derive(Debug, Clone)]
pub struct Param {
    /// The name under which the group is saved (safetensors key).
    pub name: String,
    /// The variable holding its values.
    pub var: Var,
}

impl Param {
    /// A parameter group named `name` holding `var`.
    pub fn new(name: impl Into<String>, var: Var) -> Self {
        Self {
            name: name.into(),
            var,
        }
    }

    /// A copy with its own variable, so that training the copy leaves this one unchanged.
    pub fn deep_clone(&self) -> Result<Self> {
        Ok(Self::new(
            self.name.clone(),
            Var::from_tensor(self.var.as_tensor())?,
        ))
    }

    /// Number of scalar parameters in the group.
    pub fn len(&self) -> usize {
        self.var.elem_count()
    }

    /// Whether the group holds no parameter.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Pseudo-examples of a batch with their weights ([`DiffModel::fisher_batches`]).
pub type FisherBatches<B> = Vec<(B, f64)>;

/// A model with named parameter groups and a differentiable loss over a batch.
pub trait DiffModel {
    /// What a loss is computed on (a batch of examples).
    type Batch;

    /// Every parameter group, in a fixed order.
    fn params(&self) -> &[Param];

    /// Indices (into [`DiffModel::params`]) of the groups that attribution differentiates:
    /// all of them for small models, the LoRA adapters for a language model with LoRA.
    fn attribution_groups(&self) -> Vec<usize> {
        (0..self.params().len()).collect()
    }

    /// The mean loss over `batch`, as a scalar tensor.
    fn loss(&self, batch: &Self::Batch) -> Result<Tensor>;

    /// Pseudo-examples `(batch, weight)` whose weighted gradient outer products sum to the
    /// Gauss-Newton matrix of [`DiffModel::loss`] on `batch` (the curvature of
    /// [`crate::influence::gauss_newton`]). `None`, the default, takes the curvature at the
    /// observed labels instead (the empirical Fisher: the batch's own gradient), which needs no
    /// extra backward pass.
    fn fisher_batches(&self, _batch: &Self::Batch) -> Result<Option<FisherBatches<Self::Batch>>> {
        Ok(None)
    }

    /// The device the parameters live on.
    fn device(&self) -> Device {
        self.params()
            .first()
            .map_or(Device::Cpu, |p| p.var.device().clone())
    }
}

/// The gradient of `model`'s loss on `batch` for the parameter groups `groups`, one flat `f64`
/// vector per group. A group the loss does not depend on gets zeros (never silently missing:
/// [`crate::gradcheck`] makes sure every group does get a gradient from its ops).
pub fn flat_grads<M: DiffModel>(
    model: &M,
    batch: &M::Batch,
    groups: &[usize],
) -> Result<Vec<Vec<f64>>> {
    let loss = model.loss(batch)?;
    let grads = loss.backward()?;
    let params = model.params();
    groups
        .iter()
        .map(|&g| {
            let param = &params[g];
            match grads.get(param.var.as_tensor()) {
                Some(t) => tensor_to_f64(t),
                None => Ok(vec![0.0; param.len()]),
            }
        })
        .collect()
}

/// The gradient as one `Option` per group: `None` where backward produced no gradient at all.
/// Used by tests to prove that no op cut the graph.
pub fn raw_grads<M: DiffModel>(model: &M, batch: &M::Batch) -> Result<Vec<Option<Vec<f64>>>> {
    let loss = model.loss(batch)?;
    let grads = loss.backward()?;
    model
        .params()
        .iter()
        .map(|p| grads.get(p.var.as_tensor()).map(tensor_to_f64).transpose())
        .collect()
}

/// A tensor's values, flattened, as `f64`.
pub fn tensor_to_f64(t: &Tensor) -> Result<Vec<f64>> {
    Ok(t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?)
}

/// The scalar value of a one-element tensor, as `f64`.
pub fn scalar(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?[0])
}

/// A deterministic hash of a model's parameters: keccak256 over, for each group in name order,
/// the name, the dtype, the shape and the little-endian values. Identifies the model in the
/// header of a gradient store.
pub fn model_hash(params: &[Param]) -> Result<B256> {
    let mut sorted: Vec<&Param> = params.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut buf = Vec::new();
    for p in sorted {
        buf.extend_from_slice(p.name.as_bytes());
        buf.push(0);
        buf.extend_from_slice(format!("{:?}", p.var.dtype()).as_bytes());
        for d in p.var.dims() {
            buf.extend_from_slice(&(*d as u64).to_le_bytes());
        }
        match p.var.dtype() {
            DType::F64 => {
                for v in p.var.flatten_all()?.to_vec1::<f64>()? {
                    buf.extend_from_slice(&v.to_le_bytes());
                }
            }
            _ => {
                for v in p
                    .var
                    .flatten_all()?
                    .to_dtype(DType::F32)?
                    .to_vec1::<f32>()?
                {
                    buf.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
    Ok(keccak256(&buf))
}

/// Saves the parameter groups as a safetensors file (keys = group names).
pub fn save_params(params: &[Param], path: &Path) -> Result<()> {
    let map: HashMap<String, Tensor> = params
        .iter()
        .map(|p| (p.name.clone(), p.var.as_tensor().clone()))
        .collect();
    candle_core::safetensors::save(&map, path)?;
    Ok(())
}

/// Loads values for the parameter groups from a safetensors file. Every group must be present
/// with its shape; values are converted to the group's dtype. Extra tensors are refused, so a
/// file for another architecture is not half-loaded.
pub fn load_params(params: &[Param], path: &Path) -> Result<()> {
    let device = params
        .first()
        .map_or(Device::Cpu, |p| p.var.device().clone());
    let tensors = candle_core::safetensors::load(path, &device)?;
    assign_params(params, &tensors, path)
}

/// Assigns loaded tensors to parameter groups (see [`load_params`]).
pub fn assign_params(
    params: &[Param],
    tensors: &HashMap<String, Tensor>,
    path: &Path,
) -> Result<()> {
    for p in params {
        let t = tensors.get(&p.name).ok_or_else(|| {
            AttributionError::format("weights file", path, format!("missing tensor {}", p.name))
        })?;
        if t.dims() != p.var.dims() {
            return Err(AttributionError::format(
                "weights file",
                path,
                format!(
                    "tensor {} has shape {:?}, expected {:?}",
                    p.name,
                    t.dims(),
                    p.var.dims()
                ),
            ));
        }
        p.var.set(&t.to_dtype(p.var.dtype())?)?;
    }
    for name in tensors.keys() {
        if !params.iter().any(|p| &p.name == name) {
            return Err(AttributionError::format(
                "weights file",
                path,
                format!("unexpected tensor {name}"),
            ));
        }
    }
    Ok(())
}

/// A tabular classification batch: features `[n, d]` and labels `[n]` (u32).
#[derive(Debug, Clone)]
pub struct TabularBatch {
    /// Features, `[n, d]`.
    pub x: Tensor,
    /// Class labels, `[n]`, u32.
    pub y: Tensor,
}

impl TabularBatch {
    /// Builds a batch from rows of features and labels.
    pub fn new(rows: &[&[f64]], labels: &[u32], dtype: DType, device: &Device) -> Result<Self> {
        let n = rows.len();
        let d = rows.first().map_or(0, |r| r.len());
        let flat: Vec<f64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        let x = Tensor::from_vec(flat, (n, d), device)?.to_dtype(dtype)?;
        let y = Tensor::from_slice(labels, n, device)?;
        Ok(Self { x, y })
    }
}

/// The Gauss-Newton pseudo-examples of a softmax classifier's mean cross-entropy over `batch`
/// ([`DiffModel::fisher_batches`]), given its `logits`: every row `r` relabelled with every class
/// `c`, weighted by the model's probability `p_rc` over the `m` rows. For cross-entropy the
/// expected outer product `Σ_c p_c ∇ℓ_c ∇ℓ_cᵀ` is exactly `Jᵀ (diag p − p pᵀ) J`, the
/// Gauss-Newton matrix (the Hessian itself for logistic regression).
pub fn softmax_fisher_batches(
    logits: &Tensor,
    batch: &TabularBatch,
) -> Result<FisherBatches<TabularBatch>> {
    let probs = candle_nn::ops::softmax(&logits.to_dtype(DType::F64)?, candle_core::D::Minus1)?
        .to_vec2::<f64>()?;
    let m = probs.len() as f64;
    let device = batch.x.device();
    let mut out = Vec::new();
    for (r, p) in probs.iter().enumerate() {
        let x = batch.x.narrow(0, r, 1)?;
        for (c, &pc) in p.iter().enumerate() {
            let y = Tensor::from_slice(&[c as u32], 1, device)?;
            out.push((TabularBatch { x: x.clone(), y }, pc / m));
        }
    }
    Ok(out)
}

/// Initialises a tensor with N(0, std²) entries from the crate's seeded generator.
pub fn randn(
    rng: &mut crate::rng::Rng,
    shape: &[usize],
    std: f64,
    dtype: DType,
    device: &Device,
) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let values: Vec<f64> = (0..n).map(|_| rng.normal() * std).collect();
    Ok(Tensor::from_vec(values, shape, device)?.to_dtype(dtype)?)
}
