//! Derivation: the L2 chain rebuilt from L1 and DA alone.
//!
//! This crate owns the follower's side of the rollup, as the OP derivation spec defines it:
//! - [`attributes`]: what every L2 block on an L1 origin must contain besides its batch (the
//!   L1-info deposit of the origin, the origin's user deposits in the first block of the epoch,
//!   `prevRandao`, the parent beacon root, gas limit, fee recipient and `extraData`). The
//!   sequencer builds its blocks from the same function, so both sides agree by construction.

pub mod attributes;
mod error;

pub use attributes::{Epoch, load_epoch, payload_attributes};
pub use error::DeriveError;
