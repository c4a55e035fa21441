//! What a training job is asked to do: the hyper-parameters, recorded as given in the manifest.

use crate::{FactoryError, Result};
use ol_inference::{AdapterConfig, ModelConfig, Target, adapter::TargetModules};
use serde::{Deserialize, Serialize};

/// How the learning rate moves over the optimiser steps, after a linear warm-up from zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    /// The peak rate throughout.
    Constant,
    /// Linear decay from the peak to zero at the last step.
    Linear,
    /// Cosine decay from the peak to zero at the last step.
    Cosine,
}

impl std::str::FromStr for LrSchedule {
    type Err = FactoryError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "constant" => Ok(Self::Constant),
            "linear" => Ok(Self::Linear),
            "cosine" => Ok(Self::Cosine),
            other => Err(FactoryError::invalid(format!(
                "unknown learning-rate schedule `{other}` (constant, linear, cosine)"
            ))),
        }
    }
}

/// The LoRA part of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraSpec {
    /// Rank.
    pub rank: usize,
    /// Alpha (the delta is scaled by `alpha / rank`).
    pub alpha: f64,
    /// Targeted projections by module name (`q_proj`, …, `down_proj`).
    pub target_modules: Vec<String>,
}

impl LoraSpec {
    /// The PEFT configuration of the adapter this spec trains on a base named `base_name`.
    pub fn adapter_config(&self, base_name: Option<String>) -> AdapterConfig {
        let mut config = AdapterConfig::new(self.rank, self.alpha, &[]);
        config.target_modules = TargetModules::List(self.target_modules.clone());
        config.base_model_name_or_path = base_name;
        config
    }
}

/// Hyper-parameters of a job (LoRA fine-tuning when `lora` is set, full training otherwise).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSpec {
    /// The adapter to train; `None` trains every weight of the model.
    pub lora: Option<LoraSpec>,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Schedule after warm-up.
    pub schedule: LrSchedule,
    /// Optimiser steps of linear warm-up.
    pub warmup_steps: usize,
    /// Passes over the training split.
    pub epochs: usize,
    /// Sequences per micro-batch.
    pub batch_size: usize,
    /// Micro-batches whose gradients are summed into one optimiser step.
    pub grad_accum: usize,
    /// Tokens per training sequence (documents are cut into windows of this length).
    pub max_seq_len: usize,
    /// AdamW's decoupled weight decay.
    pub weight_decay: f64,
    /// AdamW's β₁.
    pub beta1: f64,
    /// AdamW's β₂.
    pub beta2: f64,
    /// AdamW's ε.
    pub eps: f64,
    /// Share of documents held out for the final evaluation (chosen by hash, per document).
    pub heldout_fraction: f64,
    /// Save a checkpoint every this many optimiser steps (0: only at the end of each epoch).
    pub checkpoint_every: usize,
    /// Seed of the adapter initialisation, the held-out split and the shuffles.
    pub seed: u64,
}

impl Default for TrainSpec {
    fn default() -> Self {
        Self {
            lora: Some(LoraSpec {
                rank: 8,
                alpha: 16.0,
                target_modules: ["q_proj", "k_proj", "v_proj", "o_proj"]
                    .map(String::from)
                    .to_vec(),
            }),
            learning_rate: 1e-3,
            schedule: LrSchedule::Cosine,
            warmup_steps: 0,
            epochs: 1,
            batch_size: 8,
            grad_accum: 1,
            max_seq_len: 128,
            weight_decay: 0.0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            heldout_fraction: 0.1,
            checkpoint_every: 0,
            seed: 0,
        }
    }
}

impl TrainSpec {
    /// Checks the hyper-parameters against the base model before any work.
    pub fn validate(&self, base: &ModelConfig) -> Result<()> {
        let fail = |msg: String| Err(FactoryError::invalid(msg));
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return fail(format!(
                "learning rate {} must be positive",
                self.learning_rate
            ));
        }
        if self.epochs == 0 || self.batch_size == 0 || self.grad_accum == 0 {
            return fail("epochs, batch size and gradient accumulation must be at least 1".into());
        }
        if self.max_seq_len < 2 {
            return fail("a training sequence needs at least 2 tokens".into());
        }
        if self.max_seq_len > base.max_position_embeddings {
            return fail(format!(
                "max sequence length {} is above the base model's context of {} positions",
                self.max_seq_len, base.max_position_embeddings
            ));
        }
        let unit = |x: f64| (0.0..1.0).contains(&x);
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !unit(self.beta1) || !unit(self.beta2) || !positive(self.eps) || self.weight_decay < 0.0
        {
            return fail("AdamW needs 0 ≤ β < 1, ε > 0 and a non-negative weight decay".into());
        }
        if !unit(self.heldout_fraction) {
            return fail(format!(
                "held-out fraction {} must be in [0, 1)",
                self.heldout_fraction
            ));
        }
        if let Some(lora) = &self.lora {
            if lora.rank == 0 {
                return fail("LoRA rank must be at least 1".into());
            }
            if !(lora.alpha.is_finite() && lora.alpha > 0.0) {
                return fail(format!("LoRA alpha {} must be positive", lora.alpha));
            }
            if lora.target_modules.is_empty() {
                return fail("no target modules".into());
            }
            if let Some(bad) = lora
                .target_modules
                .iter()
                .find(|m| Target::parse(m).is_none())
            {
                return fail(format!(
                    "the base model has no module `{bad}` (Llama-family projections: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)"
                ));
            }
        }
        Ok(())
    }
}
