//! End-to-end tests of the `openledger` binary: each test starts its own node (own temporary data
//! directory and ports) and drives it with real clients (alloy, Foundry's `cast` and `anvil`,
//! py-trie).
//!
//! Build the node first, then run the tests:
//!
//! ```text
//! cargo build -p openledger
//! cargo test -p ol-e2e --test e2e                 # all of them
//! cargo test -p ol-e2e --test e2e alloy_tour      # one of them
//! ```

mod alloy_tour;
mod attribution_eval;
mod cast_tour;
mod content_store;
mod crash;
mod da_server;
mod genesis;
mod lifecycle;
mod nonce_gap;
mod poa_market;
mod restart;
mod tx_types;
