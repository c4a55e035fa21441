//! Integration tests of `ol-chain`: batch transaction recovery, committing blocks on the
//! chain, the L1 epochs the sequencer follows, and the sequencer itself.

mod batch_txs;
mod chain;
mod common;
mod epochs;
mod sequencer;
