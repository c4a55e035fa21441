//! The Model Factory: trains LoRA adapters of a base model, and small base models from scratch,
//! on Datanet documents, and builds their attribution artifacts in the same job.
//!
//! - [`spec`]: the hyper-parameters of a job, checked against the base before any work.
//! - [`data`]: documents → tokenised sequences, a hash-chosen held-out split, the data snapshot
//!   and its Merkle root.
//! - [`optim`]: AdamW with decoupled weight decay and the learning-rate schedules.
//! - [`trainer`]: the loop (shuffled micro-batches, gradient accumulation, checkpoints that a
//!   resumed job continues from bit for bit).
//! - [`artifacts`]: the DataInf gradient store and the suffix-array index in `ol-attribution`'s
//!   formats.
//! - [`manifest`]: the record of a job (base hash, data snapshot, hyper-parameters, losses).
//! - [`job`]: folder in, finished folder out, never a half-written one.
//!
//! The model is `ol-inference`'s, through its training view ([`ol_inference::train`]): the
//! adapter trained here is served by the same code, and on the CPU a job is deterministic: the
//! same inputs and seed give the same adapter, bit for bit, at any thread count.

pub mod artifacts;
pub mod data;
mod error;
pub mod job;
pub mod manifest;
pub mod optim;
pub mod spec;
pub mod trainer;

/// The adapter as one object in an adapter job's output folder (see
/// [`ol_inference::adapter::bundle`]); its keccak-256 is the `adapterHash` to register.
pub const ADAPTER_BUNDLE: &str = "adapter.tar";

pub use data::{Datapoint, Dataset, Split, TokenDocument};
pub use error::{FactoryError, Result};
pub use job::{AdapterJob, BaseJob, JobEvent, TokenizerChoice};
pub use manifest::{JobKind, Manifest};
pub use optim::AdamW;
pub use spec::{LoraSpec, LrSchedule, TrainSpec};
pub use trainer::{Checkpoints, StepReport, TrainOutcome, Trainee};

use std::path::Path;

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so the
/// file is either the old one or the whole new one after a crash.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(FactoryError::io("writing", &tmp))?;
    std::fs::rename(&tmp, path).map_err(FactoryError::io("renaming", &tmp))
}
