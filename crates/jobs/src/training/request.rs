//! What a model owner signs to have the node train an adapter (`ol_trainAdapter`): an EIP-712
//! `TrainAdapter` message in the domain "OpenLedger Model Factory", version 1, of the chain and
//! the `ModelRegistry`. The hyper-parameters travel as the JSON text the owner signed, so a
//! wallet shows them as they are and the node trains on exactly what was signed.

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::{Eip712Domain, SolStruct as _};
use ol_factory::{LoraSpec, LrSchedule, TrainSpec};
use serde::Deserialize;
use std::borrow::Cow;

/// Longest hyper-parameter text accepted.
pub const MAX_PARAMS_BYTES: usize = 4096;
/// Longest a signature may stay valid, seconds.
pub const MAX_VALIDITY_S: u64 = 3600;

/// The EIP-712 message.
#[allow(missing_docs)]
mod messages {
    alloy_sol_types::sol! {
        /// A request to train an adapter of a base model on a Datanet's approved contributions.
        #[derive(Debug, PartialEq, Eq)]
        struct TrainAdapter {
            uint256 baseModelId;
            uint256 datanetId;
            string hyperparameters;
            uint64 expiry;
        }
    }
}
pub use messages::TrainAdapter;

/// The domain of `TrainAdapter` on chain `chain_id` with the registry at `registry`.
pub fn training_domain(chain_id: u64, registry: Address) -> Eip712Domain {
    Eip712Domain::new(
        Some(Cow::Borrowed("OpenLedger Model Factory")),
        Some(Cow::Borrowed("1")),
        Some(U256::from(chain_id)),
        Some(registry),
        None,
    )
}

/// Why a training request is refused. Nothing is queued for a refused request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrainError {
    /// The signature is malformed, or not by the base model's owner.
    #[error("{0}")]
    BadSignature(String),
    /// The signature expired, or is valid for longer than the node accepts.
    #[error("{0}")]
    Stale(String),
    /// The hyper-parameters do not parse or are out of bounds.
    #[error("hyper-parameters: {0}")]
    Params(String),
    /// The base model or the Datanet cannot be trained on here.
    #[error("{0}")]
    Unservable(String),
    /// The training queue is full.
    #[error("the training queue is full ({0} jobs): retry later")]
    QueueFull(usize),
}

/// The hyper-parameters a `TrainAdapter` carries, as JSON with camelCase names; every field
/// has the default of `openledger factory train`, and unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct TrainingParams {
    /// LoRA rank (1–64).
    pub rank: usize,
    /// LoRA alpha.
    pub alpha: f64,
    /// Projections that get the adapter.
    pub target_modules: Vec<String>,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// `constant`, `linear` or `cosine`.
    pub schedule: LrSchedule,
    /// Optimiser steps of linear warm-up.
    pub warmup_steps: usize,
    /// Passes over the documents (1–200).
    pub epochs: usize,
    /// Sequences per micro-batch (1–64).
    pub batch_size: usize,
    /// Micro-batches per optimiser step (1–64).
    pub grad_accum: usize,
    /// Tokens per training sequence.
    pub max_seq_len: usize,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Share of documents held out for the final loss.
    pub heldout_fraction: f64,
    /// Seed of the initialisation, the split and the shuffles.
    pub seed: u64,
    /// Projected dimension of the gradient store (1–8192).
    pub projection_dim: usize,
    /// Also store the Gauss-Newton curvature factors, so the adapter can be registered for
    /// `AttributionMethod.GAUSS_NEWTON` (4) as well as DataInf.
    pub curvature: bool,
}

impl Default for TrainingParams {
    fn default() -> Self {
        let spec = TrainSpec::default();
        let lora = spec.lora.unwrap_or(LoraSpec {
            rank: 8,
            alpha: 16.0,
            target_modules: Vec::new(),
        });
        Self {
            rank: lora.rank,
            alpha: lora.alpha,
            target_modules: lora.target_modules,
            learning_rate: spec.learning_rate,
            schedule: spec.schedule,
            warmup_steps: spec.warmup_steps,
            epochs: spec.epochs,
            batch_size: spec.batch_size,
            grad_accum: spec.grad_accum,
            max_seq_len: spec.max_seq_len,
            weight_decay: spec.weight_decay,
            heldout_fraction: spec.heldout_fraction,
            seed: spec.seed,
            projection_dim: 4096,
            curvature: false,
        }
    }
}

/// Bounds that keep one request from taking the node's compute or disk for good.
const MAX_RANK: usize = 64;
const MAX_EPOCHS: usize = 200;
const MAX_BATCH: usize = 64;
const MAX_WARMUP: usize = 10_000;
const MAX_PROJECTION: usize = 8192;
/// Steps between checkpoints, so a restarted node resumes a job close to where it stopped.
const CHECKPOINT_EVERY: usize = 25;

impl TrainingParams {
    /// Parses the signed text and checks the node's bounds (the base model's own checks come
    /// when the job loads it).
    pub fn parse(text: &str) -> Result<Self, TrainError> {
        if text.len() > MAX_PARAMS_BYTES {
            return Err(TrainError::Params(format!(
                "{} bytes, at most {MAX_PARAMS_BYTES}",
                text.len()
            )));
        }
        let params: Self = if text.trim().is_empty() {
            Self::default()
        } else {
            // An object only: serde would also read a struct from an array of its fields.
            let value: serde_json::Value =
                serde_json::from_str(text).map_err(|e| TrainError::Params(e.to_string()))?;
            if !value.is_object() {
                return Err(TrainError::Params("must be a JSON object".into()));
            }
            serde_json::from_value(value).map_err(|e| TrainError::Params(e.to_string()))?
        };
        let bound = |name: &str, value: usize, low: usize, high: usize| {
            if (low..=high).contains(&value) {
                Ok(())
            } else {
                Err(TrainError::Params(format!(
                    "{name} {value} must be {low} to {high}"
                )))
            }
        };
        bound("rank", params.rank, 1, MAX_RANK)?;
        bound("epochs", params.epochs, 1, MAX_EPOCHS)?;
        bound("batchSize", params.batch_size, 1, MAX_BATCH)?;
        bound("gradAccum", params.grad_accum, 1, MAX_BATCH)?;
        bound("warmupSteps", params.warmup_steps, 0, MAX_WARMUP)?;
        bound("projectionDim", params.projection_dim, 1, MAX_PROJECTION)?;
        Ok(params)
    }

    /// The Model Factory's hyper-parameters.
    pub fn spec(&self) -> TrainSpec {
        TrainSpec {
            lora: Some(LoraSpec {
                rank: self.rank,
                alpha: self.alpha,
                target_modules: self.target_modules.clone(),
            }),
            learning_rate: self.learning_rate,
            schedule: self.schedule,
            warmup_steps: self.warmup_steps,
            epochs: self.epochs,
            batch_size: self.batch_size,
            grad_accum: self.grad_accum,
            max_seq_len: self.max_seq_len,
            weight_decay: self.weight_decay,
            heldout_fraction: self.heldout_fraction,
            checkpoint_every: CHECKPOINT_EVERY,
            seed: self.seed,
            ..TrainSpec::default()
        }
    }
}

/// A signed request, as `ol_trainAdapter` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTraining {
    /// The message.
    pub message: TrainAdapter,
    /// The 65-byte signature.
    pub signature: Vec<u8>,
}

impl SignedTraining {
    /// The job id: the message's EIP-712 signing hash, so the same signed request names the
    /// same job however often it is sent.
    pub fn job_id(&self, domain: &Eip712Domain) -> B256 {
        self.message.eip712_signing_hash(domain)
    }

    /// Checks the validity window at `now` and returns the signer.
    pub fn signer(&self, domain: &Eip712Domain, now: u64) -> Result<Address, TrainError> {
        let expiry = self.message.expiry;
        if expiry < now {
            return Err(TrainError::Stale(format!(
                "the signature expired at {expiry}"
            )));
        }
        if expiry > now.saturating_add(MAX_VALIDITY_S) {
            return Err(TrainError::Stale(format!(
                "the signature is valid until {expiry}, more than {MAX_VALIDITY_S} s ahead"
            )));
        }
        ol_content::recover(&self.job_id(domain), &self.signature)
            .map_err(|e| TrainError::BadSignature(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_signer::SignerSync as _;
    use alloy_signer_local::PrivateKeySigner;

    fn signed(signer: &PrivateKeySigner, params: &str, expiry: u64) -> SignedTraining {
        let message = TrainAdapter {
            baseModelId: U256::from(1),
            datanetId: U256::from(2),
            hyperparameters: params.into(),
            expiry,
        };
        let domain = training_domain(1611, Address::repeat_byte(3));
        let signature = signer
            .sign_hash_sync(&message.eip712_signing_hash(&domain))
            .expect("signing");
        SignedTraining {
            message,
            signature: signature.as_bytes().to_vec(),
        }
    }

    #[test]
    fn the_signer_is_recovered_within_the_validity_window_only() {
        let key = PrivateKeySigner::random();
        let domain = training_domain(1611, Address::repeat_byte(3));
        let request = signed(&key, "{}", 1_000);
        assert_eq!(request.signer(&domain, 900), Ok(key.address()));
        assert!(matches!(
            request.signer(&domain, 1_001),
            Err(TrainError::Stale(_))
        ));
        let far = signed(&key, "{}", 1_000 + MAX_VALIDITY_S + 1);
        assert!(matches!(
            far.signer(&domain, 999),
            Err(TrainError::Stale(_))
        ));
        // Another chain's domain recovers someone else.
        let other = training_domain(1, Address::repeat_byte(3));
        assert_ne!(request.signer(&other, 900), Ok(key.address()));
        let mut garbled = request;
        garbled.signature.truncate(10);
        assert!(matches!(
            garbled.signer(&domain, 900),
            Err(TrainError::BadSignature(_))
        ));
    }

    #[test]
    fn the_job_id_binds_every_field() {
        let key = PrivateKeySigner::random();
        let domain = training_domain(1611, Address::repeat_byte(3));
        let a = signed(&key, r#"{"epochs": 2}"#, 1_000);
        let b = signed(&key, r#"{"epochs": 3}"#, 1_000);
        assert_ne!(a.job_id(&domain), b.job_id(&domain));
        assert_eq!(
            a.job_id(&domain),
            signed(&key, r#"{"epochs": 2}"#, 1_000).job_id(&domain)
        );
    }

    #[test]
    fn parameters_have_the_cli_defaults_and_bounds() {
        let params = TrainingParams::parse("").expect("empty is the defaults");
        assert_eq!(params, TrainingParams::default());
        assert_eq!(params.spec().lora.map(|l| l.rank), Some(8));
        let params = TrainingParams::parse(
            r#"{"rank": 16, "alpha": 32, "epochs": 5, "schedule": "linear", "targetModules": ["q_proj"]}"#,
        )
        .expect("valid");
        let spec = params.spec();
        assert_eq!(spec.epochs, 5);
        assert_eq!(spec.schedule, LrSchedule::Linear);
        assert_eq!(
            spec.lora.map(|l| (l.rank, l.target_modules)),
            Some((16, vec!["q_proj".to_string()]))
        );
        assert!(!params.curvature, "DataInf's store by default");
        assert!(
            TrainingParams::parse(r#"{"curvature": true}"#)
                .unwrap()
                .curvature
        );
        for bad in [
            r#"{"curvature": "yes"}"#,
            r#"{"rank": 0}"#,
            r#"{"rank": 65}"#,
            r#"{"epochs": 1000}"#,
            r#"{"batchSize": 0}"#,
            r#"{"projectionDim": 100000}"#,
            r#"{"learningRat": 1}"#,
            r#"{"schedule": "sawtooth"}"#,
            "[1, 2]",
            "not json",
        ] {
            assert!(
                matches!(TrainingParams::parse(bad), Err(TrainError::Params(_))),
                "{bad} is refused"
            );
        }
        let long = format!(r#"{{"seed": 1{}}}"#, " ".repeat(MAX_PARAMS_BYTES));
        assert!(matches!(
            TrainingParams::parse(&long),
            Err(TrainError::Params(_))
        ));
    }
}
