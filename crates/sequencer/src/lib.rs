//! Block production.
//!
//! [`Chain`] is the node's shared view of the canonical chain: storage, chain spec, EVM
//! configuration and the head, with a broadcast of every new block; it is also the state the
//! transaction pool validates against. [`Sequencer`] builds a block every block time on top of
//! the head: the L1-info deposit for its L1 origin, then pool transactions by effective tip up to
//! the gas limit; it computes the state root, seals the header, commits the block atomically and
//! announces it. Empty blocks are produced too: an OP chain advances with time.

mod chain;
mod error;
mod sequencer;

pub use chain::{Chain, NewBlock};
pub use error::SequencerError;
pub use sequencer::{Sequencer, SequencerConfig};
