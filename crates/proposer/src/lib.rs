//! The output proposer of the rollup.
//!
//! [`Proposer`] posts the output root of every `SUBMISSION_INTERVAL`-th safe L2 block to the L1
//! `L2OutputOracle`
//! (`keccak256(version ++ stateRoot ++ messagePasserStorageRoot ++ blockHash)`, see
//! [`ol_primitives::output`]). The oracle is the only record of progress: each step reads its
//! `nextBlockNumber()`, so a restarted proposer continues where the oracle is, and a block is
//! never proposed twice on purpose.

mod error;
mod proposer;

pub use error::ProposerError;
pub use proposer::{Proposal, Proposer, ProposerConfig};
