//! The chain: its view, the one way it grows, and the two drivers that grow it.
//!
//! [`Chain`] is the node's shared view of the canonical chain: storage, chain spec, EVM
//! configuration, the head and the safe and finalized heads, with a broadcast of every new block;
//! it is also the state the transaction pool validates against. [`Chain::build_and_commit`] is
//! the one way the chain grows: execute a block's attributes and transactions on the head, compute
//! the state root, seal, commit atomically and announce. [`Sequencer`] calls it every block time
//! with the L1 side of the block from an [`EpochSource`] (the genesis L1 block in dev mode, a
//! real L1 otherwise) and pool transactions by effective tip; empty blocks are produced too: an
//! OP chain advances with time. Block production and derivation execute on the chain's own
//! thread ([`Chain::on_chain_thread`]), which RPC work cannot occupy. [`Chain::unwind_to`] takes
//! blocks off the tip when L1 says they are wrong.

mod chain;
mod chain_thread;
mod commit;
pub mod derivation;
pub mod epochs;
mod error;
mod import;
mod sequencer;
mod unwind;
mod view;

pub use chain::{Chain, NewBlock, SyncHeads};
pub use commit::{BlockTimings, CommittedBlock};
pub use derivation::Derivation;
pub use epochs::{DevEpochs, EpochSource, L1Epochs, NextBlock};
pub use error::ChainError;
pub use import::{Imported, InvalidBlock};
pub use sequencer::{Sequencer, SequencerConfig};
pub use unwind::{Unwound, derived_head_at, requeue, unwind_storage};
pub use view::ViewError;
