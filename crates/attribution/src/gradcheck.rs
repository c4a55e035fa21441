//! Finite-difference checks of analytic (candle autograd) gradients.
//!
//! candle's fused kernels drop gradients silently; this check catches both a missing gradient
//! (an error here) and a wrong one (a large relative error), for every parameter group.

use crate::{
    AttributionError, Result,
    models::{DiffModel, raw_grads, scalar, tensor_to_f64},
    rng::Rng,
};
use candle_core::Tensor;

/// The outcome of the check for one parameter group.
#[derive(Debug, Clone)]
pub struct GroupCheck {
    /// The group's name.
    pub name: String,
    /// How many coordinates were compared.
    pub checked: usize,
    /// Largest `|analytic − numeric|`.
    pub max_abs_err: f64,
    /// Largest `|analytic − numeric| / max(|analytic|, |numeric|, floor)`, with `floor` one
    /// millionth of the group's largest analytic gradient (so that exact zeros compare sanely).
    pub max_rel_err: f64,
    /// Largest analytic gradient magnitude in the group (zero means the check is vacuous).
    pub max_grad: f64,
}

/// Compares analytic gradients with central finite differences `(L(θ+ε) − L(θ−ε)) / 2ε` on up
/// to `coords_per_group` coordinates of every parameter group (all of them for small groups,
/// a seeded sample otherwise). Use an `F64` model: in `F32` the differences are noise.
pub fn check_gradients<M: DiffModel>(
    model: &M,
    batch: &M::Batch,
    coords_per_group: usize,
    eps: f64,
    seed: u64,
) -> Result<Vec<GroupCheck>> {
    let analytic = raw_grads(model, batch)?;
    let mut rng = Rng::from_words(&[seed, 0x4743]);
    let mut out = Vec::new();
    for (g, param) in model.params().iter().enumerate() {
        let Some(grad) = &analytic[g] else {
            return Err(AttributionError::invalid(format!(
                "parameter group {} received no gradient: an op without backward cut the graph",
                param.name
            )));
        };
        let n = param.len();
        let coords: Vec<usize> = if n <= coords_per_group {
            (0..n).collect()
        } else {
            rng.subset(n, coords_per_group)
        };
        let original = param.var.as_tensor();
        let dtype = original.dtype();
        let device = original.device().clone();
        let shape = original.dims().to_vec();
        let base = tensor_to_f64(original)?;
        let max_grad = grad.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let floor = (max_grad * 1e-6).max(1e-12);
        let mut max_abs_err = 0.0f64;
        let mut max_rel_err = 0.0f64;
        let eval = |values: &[f64]| -> Result<f64> {
            let t = Tensor::from_slice(values, shape.as_slice(), &device)?.to_dtype(dtype)?;
            param.var.set(&t)?;
            scalar(&model.loss(batch)?)
        };
        let mut values = base.clone();
        for &c in &coords {
            values[c] = base[c] + eps;
            let plus = eval(&values)?;
            values[c] = base[c] - eps;
            let minus = eval(&values)?;
            values[c] = base[c];
            let numeric = (plus - minus) / (2.0 * eps);
            let a = grad[c];
            let abs = (a - numeric).abs();
            max_abs_err = max_abs_err.max(abs);
            max_rel_err = max_rel_err.max(abs / a.abs().max(numeric.abs()).max(floor));
        }
        // Restore the exact original values (set copies; it cannot take a view of itself).
        param
            .var
            .set(&Tensor::from_slice(&base, shape.as_slice(), &device)?.to_dtype(dtype)?)?;
        out.push(GroupCheck {
            name: param.name.clone(),
            checked: coords.len(),
            max_abs_err,
            max_rel_err,
            max_grad,
        });
    }
    Ok(out)
}
