//! Derivation: the L2 chain rebuilt from L1 and DA alone.
//!
//! This crate owns the follower's side of the rollup, as the OP derivation spec defines it
//! (with the Delta, Fjord, Granite and Holocene rules; Holocene must be active at genesis):
//! - [`attributes`]: what every L2 block on an L1 origin must contain besides its batch (the
//!   L1-info deposit of the origin, the origin's user deposits in the first block of the epoch,
//!   `prevRandao`, the parent beacon root, gas limit, fee recipient and `extraData`). The
//!   sequencer builds its blocks from the same function, so both sides agree by construction.
//! - [`Pipeline`]: L1 blocks, their batcher transactions and Alt-DA payloads in; frames,
//!   channels and batches checked as Holocene requires; one [`DerivedBlock`] per
//!   [`Pipeline::step`] out, for the caller to execute and report back.
//! - [`reset_start`]: where a pipeline reset to a safe head starts reading L1.

pub mod attributes;
mod error;
mod pipeline;
pub mod retrieval;
mod types;
mod validity;

pub use attributes::{Epoch, epoch_of, load_epoch, payload_attributes};
pub use error::DeriveError;
pub use pipeline::{L2Lookup, Pipeline, reset_start};
pub use types::{DerivedBlock, L2BlockInfo, Step};
pub use validity::MAX_SEQUENCER_DRIFT_FJORD;
