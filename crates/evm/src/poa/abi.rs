//! Solidity bindings of the precompile: calls, return values, custom errors and events, generated
//! from the exported artifact of its reference implementation
//! (`contracts/artifacts/ProofOfAttributionImpl.json`), so the native precompile and the Solidity
//! one share a single ABI.

#![allow(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    rustdoc::all
)]

alloy_sol_types::sol!(
    #[derive(Debug, PartialEq, Eq)]
    ProofOfAttributionImpl,
    "../../contracts/artifacts/ProofOfAttributionImpl.json"
);
