//! Deterministic training loops: Newton's method for logistic regression (exact optimum, as LDS
//! and leave-one-out retraining need), full-batch or mini-batch AdamW for the MLP and the
//! language model, and checkpoints for TracIn.

use crate::{
    AttributionError, Result,
    data::TabularData,
    linalg::{Matrix, cholesky, cholesky_solve, dot},
    models::{
        DiffModel, LogisticRegression, Param, TabularBatch, flat_grads, scalar, tensor_to_f64,
    },
};
use candle_core::{DType, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

/// A copy of some parameter groups' values at one point of training.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The learning rate in effect when the checkpoint was taken (TracIn's ηc).
    pub lr: f64,
    /// The values, one tensor per parameter group (all groups of the model).
    pub values: Vec<Tensor>,
}

/// Copies the current values of every parameter group.
pub fn snapshot(params: &[Param]) -> Result<Vec<Tensor>> {
    params
        .iter()
        .map(|p| Ok(p.var.as_tensor().copy()?))
        .collect()
}

/// Sets every parameter group to `values` (from [`snapshot`]).
pub fn restore(params: &[Param], values: &[Tensor]) -> Result<()> {
    if params.len() != values.len() {
        return Err(AttributionError::invalid(
            "checkpoint does not match the model",
        ));
    }
    for (p, v) in params.iter().zip(values) {
        p.var.set(v)?;
    }
    Ok(())
}

/// Flattens the parameter values of a logistic regression: `W` row-major, then `b`.
fn logreg_theta(model: &LogisticRegression) -> Result<Vec<f64>> {
    let mut theta = tensor_to_f64(model.params()[0].var.as_tensor())?;
    theta.extend(tensor_to_f64(model.params()[1].var.as_tensor())?);
    Ok(theta)
}

fn set_logreg_theta(model: &LogisticRegression, theta: &[f64]) -> Result<()> {
    let (c, d) = (model.classes(), model.features());
    let p = model.params();
    let dtype = p[0].var.dtype();
    let device = p[0].var.device();
    p[0].var
        .set(&Tensor::from_slice(&theta[..c * d], (c, d), device)?.to_dtype(dtype)?)?;
    p[1].var
        .set(&Tensor::from_slice(&theta[c * d..], c, device)?.to_dtype(dtype)?)?;
    Ok(())
}

/// The regularised objective of logistic regression on `data`, as used everywhere in this crate:
/// `J(θ) = (1/norm) Σᵢ ℓᵢ(θ) + (reg/2)‖θ‖²`, where `norm` is fixed (the size of the full
/// training set) so that training on a subset drops terms from the same sum, which is what
/// influence functions linearise.
#[derive(Debug, Clone, Copy)]
pub struct LogRegObjective {
    /// L2 regularisation strength.
    pub reg: f64,
    /// The constant the sum of losses is divided by.
    pub norm: f64,
}

/// The exact Hessian of `Σᵢ ℓᵢ / norm` (without the regulariser) at the current parameters,
/// over `θ = (W row-major, b)`: per example `(diag p − p pᵀ) ⊗ x̃ x̃ᵀ` with `x̃ = (x, 1)`.
pub fn logreg_hessian(model: &LogisticRegression, data: &TabularData, norm: f64) -> Result<Matrix> {
    let (c, d) = (model.classes(), model.features());
    let dim = c * d + c;
    let batch = TabularBatch::new(&data.rows(), &data.y, DType::F64, &model.device())?;
    let probs = candle_nn::ops::softmax(&model.logits(&batch.x)?.to_dtype(DType::F64)?, 1)?;
    let probs = probs.to_vec2::<f64>()?;
    let mut h = Matrix::zeros(dim);
    let idx = |class: usize, j: usize| if j < d { class * d + j } else { c * d + class };
    for (x, p) in data.x.iter().zip(&probs) {
        let xt = |j: usize| if j < d { x[j] } else { 1.0 };
        for a in 0..c {
            for b in 0..c {
                let w = (if a == b { p[a] } else { 0.0 } - p[a] * p[b]) / norm;
                if w == 0.0 {
                    continue;
                }
                for j in 0..=d {
                    let wj = w * xt(j);
                    let row = idx(a, j);
                    for k in 0..=d {
                        *h.at(row, idx(b, k)) += wj * xt(k);
                    }
                }
            }
        }
    }
    Ok(h)
}

/// The gradient of `J` (see [`LogRegObjective`]) at the current parameters.
pub fn logreg_objective_grad(
    model: &LogisticRegression,
    data: &TabularData,
    obj: LogRegObjective,
) -> Result<(f64, Vec<f64>)> {
    let batch = TabularBatch::new(
        &data.rows(),
        &data.y,
        model.params()[0].var.dtype(),
        &model.device(),
    )?;
    let scale = data.len() as f64 / obj.norm;
    let loss = scalar(&model.loss(&batch)?)? * scale;
    let grads = flat_grads(model, &batch, &[0, 1])?;
    let theta = logreg_theta(model)?;
    let mut g: Vec<f64> = grads.concat().iter().map(|v| v * scale).collect();
    for (gi, ti) in g.iter_mut().zip(&theta) {
        *gi += obj.reg * ti;
    }
    let value = loss + 0.5 * obj.reg * dot(&theta, &theta);
    Ok((value, g))
}

/// Minimises `J` with damped Newton steps (Cholesky solves, backtracking line search) until the
/// gradient norm is below `tol` or `max_iter` steps. Returns the final gradient norm.
pub fn train_logreg_newton(
    model: &LogisticRegression,
    data: &TabularData,
    obj: LogRegObjective,
    max_iter: usize,
    tol: f64,
) -> Result<f64> {
    let mut theta = logreg_theta(model)?;
    let (mut value, mut grad) = logreg_objective_grad(model, data, obj)?;
    for _ in 0..max_iter {
        let gnorm = dot(&grad, &grad).sqrt();
        if gnorm < tol {
            return Ok(gnorm);
        }
        let mut h = logreg_hessian(model, data, obj.norm)?;
        h.add_diagonal(obj.reg);
        let l = cholesky(&h)?;
        let step = cholesky_solve(&l, &grad);
        let mut t = 1.0;
        loop {
            let candidate: Vec<f64> = theta.iter().zip(&step).map(|(a, s)| a - t * s).collect();
            set_logreg_theta(model, &candidate)?;
            let (v, g) = logreg_objective_grad(model, data, obj)?;
            if v <= value - 1e-4 * t * dot(&grad, &step) || t < 1e-6 {
                theta = candidate;
                value = v;
                grad = g;
                break;
            }
            t *= 0.5;
        }
    }
    Ok(dot(&grad, &grad).sqrt())
}

/// The optimiser of [`train_steps`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptimizerKind {
    /// Plain gradient descent (`θ ← θ − η g`), TracIn's setting.
    Sgd,
    /// AdamW (candle-nn's).
    AdamW,
}

/// Settings of [`train_steps`].
#[derive(Debug, Clone, Copy)]
pub struct TrainSettings {
    /// The optimiser.
    pub optimizer: OptimizerKind,
    /// Learning rate.
    pub lr: f64,
    /// Decoupled weight decay (AdamW only).
    pub weight_decay: f64,
    /// Number of optimiser steps.
    pub steps: usize,
    /// Take a checkpoint every this many steps (0: none); the final state is always one.
    pub checkpoint_every: usize,
}

enum Opt {
    Sgd(candle_nn::SGD),
    AdamW(AdamW),
}

/// Trains the parameter groups `groups` of `model` for `settings.steps` steps, the batch of step
/// `s` given by `batch(s)`; `on_step(step, loss)` sees every loss. Returns the checkpoints (for
/// TracIn), the last one being the final state. Deterministic: no randomness beyond what `batch`
/// does.
pub fn train_steps<M: DiffModel>(
    model: &M,
    groups: &[usize],
    settings: TrainSettings,
    mut batch: impl FnMut(usize) -> Result<M::Batch>,
    mut on_step: impl FnMut(usize, f64),
) -> Result<Vec<Checkpoint>> {
    let vars: Vec<Var> = groups
        .iter()
        .map(|&g| model.params()[g].var.clone())
        .collect();
    let mut opt = match settings.optimizer {
        OptimizerKind::Sgd => Opt::Sgd(candle_nn::SGD::new(vars, settings.lr)?),
        OptimizerKind::AdamW => Opt::AdamW(AdamW::new(
            vars,
            ParamsAdamW {
                lr: settings.lr,
                weight_decay: settings.weight_decay,
                ..Default::default()
            },
        )?),
    };
    let mut checkpoints = Vec::new();
    for step in 0..settings.steps {
        let b = batch(step)?;
        let loss = model.loss(&b)?;
        on_step(step, scalar(&loss)?);
        match &mut opt {
            Opt::Sgd(o) => o.backward_step(&loss)?,
            Opt::AdamW(o) => o.backward_step(&loss)?,
        }
        let done = step + 1;
        if settings.checkpoint_every > 0
            && done % settings.checkpoint_every == 0
            && done < settings.steps
        {
            checkpoints.push(Checkpoint {
                lr: settings.lr,
                values: snapshot(model.params())?,
            });
        }
    }
    checkpoints.push(Checkpoint {
        lr: settings.lr,
        values: snapshot(model.params())?,
    });
    Ok(checkpoints)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ClassificationSpec, classification};
    use candle_core::Device;

    #[test]
    fn newton_reaches_the_optimum() {
        let data = classification(ClassificationSpec {
            n: 200,
            features: 6,
            classes: 3,
            separation: 1.0,
            task_seed: 1,
            sample_seed: 1,
        });
        let model = LogisticRegression::zeros(6, 3, DType::F64, &Device::Cpu).unwrap();
        let obj = LogRegObjective {
            reg: 1e-2,
            norm: 200.0,
        };
        let gnorm = train_logreg_newton(&model, &data, obj, 50, 1e-10).unwrap();
        assert!(gnorm < 1e-10, "{gnorm}");
    }

    #[test]
    fn analytic_hessian_matches_differences_of_the_autograd_gradient() {
        let data = classification(ClassificationSpec {
            n: 30,
            features: 3,
            classes: 3,
            separation: 1.0,
            task_seed: 2,
            sample_seed: 2,
        });
        let model = LogisticRegression::zeros(3, 3, DType::F64, &Device::Cpu).unwrap();
        let obj = LogRegObjective {
            reg: 0.0,
            norm: 30.0,
        };
        let mut theta: Vec<f64> = (0..12).map(|i| (i as f64 * 0.37).sin() * 0.5).collect();
        set_logreg_theta(&model, &theta).unwrap();
        let h = logreg_hessian(&model, &data, 30.0).unwrap();
        let eps = 1e-5;
        for j in 0..12 {
            let orig = theta[j];
            theta[j] = orig + eps;
            set_logreg_theta(&model, &theta).unwrap();
            let gp = logreg_objective_grad(&model, &data, obj).unwrap().1;
            theta[j] = orig - eps;
            set_logreg_theta(&model, &theta).unwrap();
            let gm = logreg_objective_grad(&model, &data, obj).unwrap().1;
            theta[j] = orig;
            for i in 0..12 {
                let numeric = (gp[i] - gm[i]) / (2.0 * eps);
                assert!(
                    (numeric - h.get(i, j)).abs() < 1e-7,
                    "({i},{j}) {numeric} vs {}",
                    h.get(i, j)
                );
            }
        }
    }
}
