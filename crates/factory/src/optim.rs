//! AdamW (Loshchilov & Hutter, decoupled weight decay) and the learning-rate schedule.
//!
//! Written here rather than taken from `candle-nn` because a resumable job has to save and
//! restore the moment estimates, and every update must be element-wise (so it is the same bits
//! at any thread count): `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
//! `θ ← θ − lr·(m̂ / (√v̂ + ε) + λθ)` with the bias-corrected `m̂ = m/(1−β₁ᵗ)`, `v̂ = v/(1−β₂ᵗ)`.

use crate::{LrSchedule, Result, TrainSpec};
use candle_core::{Tensor, Var};
use std::collections::HashMap;

/// The learning rate of optimiser step `step` (0-based) out of `total`.
pub fn learning_rate(spec: &TrainSpec, step: usize, total: usize) -> f64 {
    let peak = spec.learning_rate;
    if step < spec.warmup_steps {
        return peak * (step + 1) as f64 / spec.warmup_steps as f64;
    }
    let span = total.saturating_sub(spec.warmup_steps).max(1) as f64;
    let progress = (step - spec.warmup_steps) as f64 / span;
    match spec.schedule {
        LrSchedule::Constant => peak,
        LrSchedule::Linear => peak * (1.0 - progress),
        LrSchedule::Cosine => peak * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
    }
}

/// AdamW over a fixed list of variables.
#[derive(Debug)]
pub struct AdamW {
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    /// Steps taken (the `t` of the bias correction).
    steps: u64,
    /// `(m, v)` per variable, in the order of the variables.
    moments: Vec<(Tensor, Tensor)>,
}

impl AdamW {
    /// An optimiser for `vars` with zero moments.
    pub fn new(spec: &TrainSpec, vars: &[(String, Var)]) -> Result<Self> {
        let moments = vars
            .iter()
            .map(|(_, v)| Ok((v.zeros_like()?, v.zeros_like()?)))
            .collect::<Result<_>>()?;
        Ok(Self {
            beta1: spec.beta1,
            beta2: spec.beta2,
            eps: spec.eps,
            weight_decay: spec.weight_decay,
            steps: 0,
            moments,
        })
    }

    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// One update of `vars` with gradients `grads` (same order; `None`: no gradient, the
    /// variable only decays) at learning rate `lr`.
    pub fn step(
        &mut self,
        vars: &[(String, Var)],
        grads: &[Option<Tensor>],
        lr: f64,
    ) -> Result<()> {
        self.steps += 1;
        let t = self.steps as i32;
        let c1 = 1.0 - self.beta1.powi(t);
        let c2 = 1.0 - self.beta2.powi(t);
        for (((_, var), g), (m, v)) in vars.iter().zip(grads).zip(self.moments.iter_mut()) {
            let theta = var.as_detached_tensor();
            let mut update = (&theta * self.weight_decay)?;
            if let Some(g) = g {
                *m = ((&*m * self.beta1)? + (g * (1.0 - self.beta1))?)?;
                *v = ((&*v * self.beta2)? + (g.sqr()? * (1.0 - self.beta2))?)?;
                let m_hat = (&*m / c1)?;
                let v_hat = (&*v / c2)?;
                update = (update + (m_hat / (v_hat.sqrt()? + self.eps)?)?)?;
            }
            var.set(&(theta - (update * lr)?)?)?;
        }
        Ok(())
    }

    /// The moments by variable name (`m.<name>`, `v.<name>`), for a checkpoint.
    pub fn state(&self, vars: &[(String, Var)]) -> HashMap<String, Tensor> {
        let mut out = HashMap::new();
        for ((name, _), (m, v)) in vars.iter().zip(&self.moments) {
            out.insert(format!("m.{name}"), m.clone());
            out.insert(format!("v.{name}"), v.clone());
        }
        out
    }

    /// Restores the moments saved by [`AdamW::state`] after `steps` steps.
    pub fn restore(
        &mut self,
        vars: &[(String, Var)],
        state: &HashMap<String, Tensor>,
        steps: u64,
    ) -> std::result::Result<(), String> {
        for ((name, var), (m, v)) in vars.iter().zip(self.moments.iter_mut()) {
            for (key, slot) in [(format!("m.{name}"), m), (format!("v.{name}"), v)] {
                let t = state.get(&key).ok_or_else(|| format!("missing `{key}`"))?;
                if t.dims() != var.dims() || t.dtype() != var.dtype() {
                    return Err(format!("`{key}` has the wrong shape or dtype"));
                }
                *slot = t.clone();
            }
        }
        self.steps = steps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn schedules_warm_up_and_decay_to_zero() {
        let mut spec = TrainSpec {
            warmup_steps: 2,
            learning_rate: 1.0,
            ..TrainSpec::default()
        };
        assert_eq!(learning_rate(&spec, 0, 10), 0.5);
        assert_eq!(learning_rate(&spec, 1, 10), 1.0);
        assert_eq!(learning_rate(&spec, 2, 10), 1.0);
        assert!(learning_rate(&spec, 9, 10) < 0.05);
        spec.schedule = LrSchedule::Linear;
        assert!((learning_rate(&spec, 6, 10) - 0.5).abs() < 1e-12);
        spec.schedule = LrSchedule::Constant;
        assert_eq!(learning_rate(&spec, 9, 10), 1.0);
    }

    /// One step from zero moments moves each coordinate by `lr` against its gradient's sign
    /// (the bias-corrected first step of Adam), plus the decoupled decay.
    #[test]
    fn first_step_is_the_sign_of_the_gradient() {
        let spec = TrainSpec {
            weight_decay: 0.1,
            ..TrainSpec::default()
        };
        let var =
            Var::from_tensor(&Tensor::new(&[1.0f32, -2.0, 3.0], &Device::Cpu).unwrap()).unwrap();
        let vars = vec![("w".to_string(), var.clone())];
        let mut opt = AdamW::new(&spec, &vars).unwrap();
        let g = Tensor::new(&[0.5f32, -4.0, 0.0], &Device::Cpu).unwrap();
        opt.step(&vars, &[Some(g)], 0.01).unwrap();
        let got = var.as_tensor().to_vec1::<f32>().unwrap();
        let want = [
            1.0 - 0.01 * (1.0 + 0.1),
            -2.0 - 0.01 * (-1.0 - 0.2),
            3.0 - 0.01 * 0.3,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
        }
        let state = opt.state(&vars);
        let mut again = AdamW::new(&spec, &vars).unwrap();
        again.restore(&vars, &state, opt.steps()).unwrap();
        assert_eq!(again.steps(), 1);
        assert!(again.restore(&vars, &HashMap::new(), 1).is_err());
    }
}
