//! Solidity bindings of the Proof of Attribution contract suite (calls, return values, events,
//! errors), generated from the exported artifacts in `contracts/artifacts/`, so that the node's
//! own readers of chain state (the content store's read policy, the job service) share one ABI
//! with the contracts. Addresses of the dev genesis are in [`crate::addresses::dev_suite`].

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
    DatanetRegistry,
    "../../contracts/artifacts/DatanetRegistry.json"
);
alloy_sol_types::sol!(
    #[derive(Debug, PartialEq, Eq)]
    ModelRegistry,
    "../../contracts/artifacts/ModelRegistry.json"
);
alloy_sol_types::sol!(
    #[derive(Debug, PartialEq, Eq)]
    InferenceMarket,
    "../../contracts/artifacts/InferenceMarket.json"
);
alloy_sol_types::sol!(
    #[derive(Debug, PartialEq, Eq)]
    IProofOfAttribution,
    "../../contracts/artifacts/IProofOfAttribution.json"
);
alloy_sol_types::sol!(
    #[derive(Debug, PartialEq, Eq)]
    AttestorBatch,
    "../../contracts/artifacts/AttestorBatch.json"
);

/// The ids of `AttributionMethod` (`IProofOfAttribution.sol`) the node runs: what an adapter
/// registers as its `attributionMethod` and a record names as its `method`.
pub mod attribution_method {
    /// DataInf closed-form influence over the adapter's parameters (small models).
    pub const DATAINF: u8 = 0;
    /// Suffix-array span matching, infini-gram style (large models).
    pub const INFINIGRAM: u8 = 2;
    /// Influence with curvature (the Gauss-Newton matrix in the gradient store's projected
    /// space), over the same artifacts as DataInf when the store carries its curvature.
    pub const GAUSS_NEWTON: u8 = 4;
}
