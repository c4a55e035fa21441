//! The training loop: shuffled micro-batches, summed gradients, AdamW, checkpoints.
//!
//! Every optimiser step is a pure function of (the variables, the moments, the step number):
//! the batches of step `s` are taken from the shuffle of its epoch, drawn from `(seed, epoch)`,
//! so a job resumed from a checkpoint continues with exactly the batches and the bits it would
//! have had without the interruption.

use crate::{AdamW, FactoryError, Result, TrainSpec, optim::learning_rate};
use candle_core::{DType, Tensor, Var};
use ol_inference::{
    LlamaModel, LoraAdapter, ModelConfig,
    sampling::Rng,
    train::{AdapterVars, ModelVars, sum, token_nll},
};
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
    time::Instant,
};

/// What is trained.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per job, never in a collection
pub enum Trainee {
    /// A LoRA adapter on a frozen base.
    Lora {
        /// The base model (constant).
        base: LlamaModel,
        /// The adapter's factors.
        adapter: AdapterVars,
    },
    /// Every weight of a model.
    Full(ModelVars),
}

impl Trainee {
    /// The trained variables by name.
    pub fn vars(&self) -> Vec<(String, Var)> {
        match self {
            Self::Lora { adapter, .. } => adapter.vars(),
            Self::Full(model) => model.vars().to_vec(),
        }
    }

    /// The model's configuration.
    pub fn config(&self) -> &ModelConfig {
        match self {
            Self::Lora { base, .. } => base.config(),
            Self::Full(model) => model.config(),
        }
    }

    /// Per-token next-token losses of `seqs`; tracked for gradients when `track`.
    pub fn token_nll(&self, seqs: &[&[u32]], track: bool) -> Result<Tensor> {
        Ok(match self {
            Self::Lora { base, adapter } => token_nll(base, seqs, Some(&adapter.adapter(track)?))?,
            Self::Full(model) => token_nll(&model.model(track)?, seqs, None)?,
        })
    }

    /// The mean next-token loss over every prediction of `seqs` (see [`mean_loss`]).
    pub fn mean_loss(&self, seqs: &[&[u32]], batch: usize) -> Result<Option<f64>> {
        match self {
            Self::Lora { base, adapter } => {
                mean_loss(base, Some(&adapter.snapshot()?), seqs, batch)
            }
            Self::Full(model) => mean_loss(&model.snapshot()?, None, seqs, batch),
        }
    }
}

/// The mean next-token loss of `model` (with `adapter`) over every prediction of `seqs`, in
/// micro-batches of `batch` sequences, without gradients (`None` when there is nothing to
/// predict). Summed in F64 in sequence order, so it does not depend on `batch`.
pub fn mean_loss(
    model: &LlamaModel,
    adapter: Option<&LoraAdapter>,
    seqs: &[&[u32]],
    batch: usize,
) -> Result<Option<f64>> {
    let (mut sum, mut count) = (0f64, 0usize);
    for chunk in seqs.chunks(batch.max(1)) {
        let nll = token_nll(model, chunk, adapter)?;
        count += nll.dim(0)?;
        sum += nll
            .to_dtype(DType::F64)?
            .to_vec1::<f64>()?
            .iter()
            .sum::<f64>();
    }
    Ok((count > 0).then(|| sum / count as f64))
}

/// One optimiser step, as reported to the caller's progress display and log.
#[derive(Debug, Clone, Copy)]
pub struct StepReport {
    /// Steps done (1-based).
    pub step: usize,
    /// Steps in the job.
    pub total_steps: usize,
    /// The epoch of this step (0-based).
    pub epoch: usize,
    /// Mean training loss over the step's tokens.
    pub loss: f64,
    /// The learning rate used.
    pub lr: f64,
    /// Predicted tokens in the step.
    pub tokens: usize,
    /// Training tokens per second since the job (or its resumption) started.
    pub tokens_per_s: f64,
}

/// How the training part of a job went.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// Optimiser steps in the job.
    pub steps: usize,
    /// Predicted tokens trained on (over all epochs).
    pub tokens: u64,
    /// Mean loss of the last epoch's steps.
    pub final_train_loss: f64,
    /// Whether the job continued from a checkpoint.
    pub resumed_at: Option<usize>,
}

/// The checkpoint of a running job, in `dir`: `checkpoint.safetensors` (variables and moments)
/// and `checkpoint.json` (the step, and the fingerprint of the job it belongs to), each
/// replaced by rename so a crash leaves the previous checkpoint whole.
#[derive(Debug, Clone)]
pub struct Checkpoints {
    dir: PathBuf,
    /// What the job is (hyper-parameters, base and data): a checkpoint of another job is
    /// never resumed.
    fingerprint: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CheckpointState {
    fingerprint: String,
    step: usize,
    tokens: u64,
    epoch_losses: Vec<f64>,
    /// The running (token-weighted loss sum, tokens) of the unfinished epoch.
    epoch_acc: (f64, u64),
}

impl Checkpoints {
    /// Checkpoints of the job `fingerprint` in `dir`.
    pub fn new(dir: &Path, fingerprint: String) -> Self {
        Self {
            dir: dir.to_path_buf(),
            fingerprint,
        }
    }

    fn save(&self, vars: &[(String, Var)], opt: &AdamW, state: &CheckpointState) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(FactoryError::io("creating", &self.dir))?;
        let mut tensors = opt.state(vars);
        for (name, var) in vars {
            tensors.insert(format!("var.{name}"), var.as_detached_tensor());
        }
        let st = self.dir.join("checkpoint.safetensors");
        let tmp = self.dir.join("checkpoint.safetensors.tmp");
        candle_core::safetensors::save(&tensors, &tmp)?;
        std::fs::rename(&tmp, &st).map_err(FactoryError::io("renaming", &tmp))?;
        let json = serde_json::to_vec_pretty(state)
            .map_err(|e| FactoryError::format(&self.dir, e.to_string()))?;
        crate::write_atomic(&self.dir.join("checkpoint.json"), &json)
    }

    /// Loads the checkpoint into `vars` and `opt` when there is one of this job; returns its
    /// state. A checkpoint of another job is an error (start clean instead).
    fn load(&self, vars: &[(String, Var)], opt: &mut AdamW) -> Result<Option<CheckpointState>> {
        let json_path = self.dir.join("checkpoint.json");
        if !json_path.exists() {
            return Ok(None);
        }
        let bytes = std::fs::read(&json_path).map_err(FactoryError::io("reading", &json_path))?;
        let state: CheckpointState = serde_json::from_slice(&bytes)
            .map_err(|e| FactoryError::format(&json_path, e.to_string()))?;
        if state.fingerprint != self.fingerprint {
            return Err(FactoryError::format(
                &json_path,
                "the checkpoint belongs to a job with other inputs or hyper-parameters; start without --resume",
            ));
        }
        let st = self.dir.join("checkpoint.safetensors");
        let device = vars
            .first()
            .map_or(candle_core::Device::Cpu, |(_, v)| v.device().clone());
        let tensors: HashMap<String, Tensor> = candle_core::safetensors::load(&st, &device)?;
        for (name, var) in vars {
            let t = tensors
                .get(&format!("var.{name}"))
                .filter(|t| t.dims() == var.dims() && t.dtype() == var.dtype())
                .ok_or_else(|| FactoryError::format(&st, format!("no usable `var.{name}`")))?;
            var.set(t)?;
        }
        opt.restore(vars, &tensors, state.step as u64)
            .map_err(|e| FactoryError::format(&st, e))?;
        Ok(Some(state))
    }
}

/// The order of the training sequences in `epoch`: a Fisher–Yates shuffle drawn from
/// `(seed, epoch)`.
fn epoch_order(seed: u64, epoch: usize, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Rng::new(seed ^ (epoch as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// Trains `trainee` on `seqs` as `spec` says, reporting each step to `progress`; resumes from
/// `checkpoints` when `resume` and a checkpoint of this job exists. `cancel` stops the job
/// between steps (the last checkpoint stays).
pub fn train(
    trainee: &Trainee,
    seqs: &[&[u32]],
    spec: &TrainSpec,
    checkpoints: &Checkpoints,
    resume: bool,
    cancel: Option<&AtomicBool>,
    mut progress: impl FnMut(&StepReport),
) -> Result<TrainOutcome> {
    if seqs.is_empty() {
        return Err(FactoryError::invalid("no training sequences"));
    }
    let vars = trainee.vars();
    let mut opt = AdamW::new(spec, &vars)?;
    let per_step = spec.batch_size * spec.grad_accum;
    let steps_per_epoch = seqs.len().div_ceil(per_step);
    let total_steps = steps_per_epoch * spec.epochs;
    let saved = if resume {
        checkpoints.load(&vars, &mut opt)?
    } else {
        None
    };
    let (start, mut tokens_total, mut epoch_losses, mut epoch_acc) = match saved {
        Some(s) => (s.step, s.tokens, s.epoch_losses, s.epoch_acc),
        None => (0, 0, Vec::new(), (0.0, 0)),
    };
    let resumed_at = (start > 0).then_some(start);
    let started = Instant::now();
    let mut tokens_since_start = 0u64;
    let mut order = Vec::new();
    let mut order_epoch = usize::MAX;
    for step in start..total_steps {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(FactoryError::Cancelled);
        }
        let epoch = step / steps_per_epoch;
        if epoch != order_epoch {
            order = epoch_order(spec.seed, epoch, seqs.len());
            order_epoch = epoch;
        }
        let within = step % steps_per_epoch;
        let picked = &order[within * per_step..((within + 1) * per_step).min(order.len())];
        let step_seqs: Vec<&[u32]> = picked.iter().map(|&i| seqs[i]).collect();
        let tokens: usize = step_seqs.iter().map(|s| s.len() - 1).sum();
        // The loss of the step is the mean over all its tokens; each micro-batch contributes
        // its sum divided by the step's token count, so the summed gradients equal those of
        // one batch holding every sequence.
        let mut grads: Vec<Option<Tensor>> = vec![None; vars.len()];
        let mut loss = 0f64;
        for micro in step_seqs.chunks(spec.batch_size) {
            let nll = trainee.token_nll(micro, true)?;
            let part = (sum(&nll)? / tokens as f64)?;
            loss += part.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            let g = part.backward()?;
            for ((_, var), acc) in vars.iter().zip(grads.iter_mut()) {
                if let Some(gv) = g.get(var.as_tensor()) {
                    *acc = Some(match acc.take() {
                        Some(a) => (a + gv)?,
                        None => gv.clone(),
                    });
                }
            }
        }
        if !loss.is_finite() {
            return Err(FactoryError::invalid(format!(
                "the training loss diverged at step {} (try a lower learning rate)",
                step + 1
            )));
        }
        let lr = learning_rate(spec, step, total_steps);
        opt.step(&vars, &grads, lr)?;
        tokens_total += tokens as u64;
        tokens_since_start += tokens as u64;
        epoch_acc.0 += loss * tokens as f64;
        epoch_acc.1 += tokens as u64;
        let done = step + 1;
        let report = StepReport {
            step: done,
            total_steps,
            epoch,
            loss,
            lr,
            tokens,
            tokens_per_s: tokens_since_start as f64 / started.elapsed().as_secs_f64().max(1e-9),
        };
        tracing::info!(
            step = done,
            total = total_steps,
            epoch,
            loss = format_args!("{loss:.4}"),
            lr = format_args!("{lr:.3e}"),
            tokens_per_s = format_args!("{:.0}", report.tokens_per_s),
            "train step"
        );
        progress(&report);
        let end_of_epoch = done % steps_per_epoch == 0;
        if end_of_epoch {
            epoch_losses.push(epoch_acc.0 / epoch_acc.1.max(1) as f64);
            epoch_acc = (0.0, 0);
        }
        let due = spec.checkpoint_every > 0 && done % spec.checkpoint_every == 0;
        if (due || end_of_epoch) && done < total_steps {
            let state = CheckpointState {
                fingerprint: checkpoints.fingerprint.clone(),
                step: done,
                tokens: tokens_total,
                epoch_losses: epoch_losses.clone(),
                epoch_acc,
            };
            checkpoints.save(&vars, &opt, &state)?;
        }
    }
    Ok(TrainOutcome {
        steps: total_steps,
        tokens: tokens_total,
        final_train_loss: epoch_losses.last().copied().unwrap_or(f64::NAN),
        resumed_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_orders_are_permutations_that_differ_by_epoch() {
        let a = epoch_order(7, 0, 50);
        let b = epoch_order(7, 1, 50);
        assert_ne!(a, b);
        assert_eq!(a, epoch_order(7, 0, 50));
        let mut sorted = a;
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    }
}

#[cfg(test)]
mod memorise {
    use super::*;
    use crate::LoraSpec;
    use candle_core::Device;
    use ol_inference::{AdapterConfig, model::Target};

    /// The loop end to end on a case with a known answer: an adapter with enough capacity
    /// drives the loss on a few random sequences to nearly zero.
    #[test]
    fn an_adapter_memorises_random_sequences() {
        let cfg = ModelConfig::from_json(
            br#"{"model_type":"llama","hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,
            "num_attention_heads":4,"num_key_value_heads":2,"vocab_size":300,"max_position_embeddings":128}"#,
        )
        .unwrap();
        let base = LlamaModel::random(cfg.clone(), 1, &Device::Cpu).unwrap();
        let mut rng = Rng::new(3);
        let seqs: Vec<Vec<u32>> = (0..8)
            .map(|_| (0..30).map(|_| (rng.next_u64() % 300) as u32).collect())
            .collect();
        let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
        let adapter = AdapterVars::init(
            AdapterConfig::new(16, 32.0, &Target::ALL),
            &cfg,
            1,
            DType::F32,
            &Device::Cpu,
        )
        .unwrap();
        let trainee = Trainee::Lora { base, adapter };
        let spec = TrainSpec {
            lora: Some(LoraSpec {
                rank: 16,
                alpha: 32.0,
                target_modules: vec![],
            }),
            learning_rate: 5e-3,
            schedule: crate::LrSchedule::Constant,
            epochs: 40,
            batch_size: 4,
            checkpoint_every: 0,
            ..TrainSpec::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let mut losses = Vec::new();
        let checkpoints = Checkpoints::new(dir.path(), String::new());
        train(&trainee, &refs, &spec, &checkpoints, false, None, |r| {
            losses.push(r.loss)
        })
        .unwrap();
        assert!(losses[0] > 5.0, "{losses:?}");
        let last = losses[losses.len() - 1];
        assert!(last < 0.05, "final loss {last}");
        let after = trainee.mean_loss(&refs, 4).unwrap().unwrap();
        assert!(after < 0.05, "loss after training {after}");
    }
}
