//! Integration tests of `ol-chain`: batch transaction recovery, committing blocks on the
//! chain, the L1 epochs the sequencer follows, the sequencer itself, and importing its blocks.

mod batch_txs;
mod chain;
mod common;
mod epochs;
mod import;
mod sequencer;
