//! The rollup end to end: anvil as L1 with the L1 contracts deployed by `openledger l1 deploy`,
//! the built-in DA server, a sequencer running the batcher and the proposer, and a follower that
//! rebuilds the chain from L1 + DA alone. Every process is the real binary; L1 is driven with
//! Foundry's `cast`, L2 with alloy.
//!
//! ```text
//! cargo build -p openledger
//! cargo test -p ol-e2e --test rollup
//! ```

mod dashboard;
mod devnet;
mod explorer;
mod faults;
mod gossip;
mod happy_path;
mod unwind;
mod verification;
