//! Proof of Attribution: which training data shaped a model output, and by how much.
//!
//! Two families of methods, as in OpenLedger's PoA design (`shared/DESIGN.md`):
//!
//! - **Gradient-based influence for small models** ([`influence`]): DataInf (closed-form,
//!   per-layer damping, Sherman–Morrison per example), TracIn over saved checkpoints and the
//!   Gauss-Newton influence function (the damped curvature factored in the projected space), on
//!   models written with candle ops whose gradients are correct ([`models`], checked against
//!   finite differences in [`gradcheck`]). Training gradients are computed once per
//!   (model, Datanet snapshot), randomly projected ([`projection`]) and stored on disk
//!   ([`store`]); a query is one or two streaming passes over that store ([`scan`]).
//! - **Suffix-array lineage for large models** ([`lineage`]): the tokenised Datanet corpus is
//!   indexed with libsais in memory-mapped shards; an output is traced through its maximal
//!   matching spans (OLMoTrace-style), weighted by length and rarity, to documents and
//!   contributors; only spans above a threshold calibrated on text that occurs nowhere in the
//!   corpus count as evidence, so such text attributes nothing.
//!
//! Per-datapoint scores become contributor weights in parts per million ([`weights`]) with an
//! evidence Merkle tree in OpenZeppelin's `StandardMerkleTree` format ([`merkle`]). Every step on
//! the CPU path is deterministic: fixed reduction orders, integer aggregation, deterministic
//! tie-breaks. Quality is measured by the evaluation harness ([`eval`]) on data generated here
//! ([`data`]) and, for lineage, on a folder of real documents ([`corpus_eval`], [`corpus`]);
//! [`mod@bench`] measures query latency against memory bandwidth.

pub mod bench;
pub mod corpus;
pub mod corpus_eval;
pub mod data;
pub mod dataset;
pub mod error;
pub mod eval;
pub mod gradcheck;
pub mod influence;
pub mod knn_shapley;
pub mod linalg;
pub mod lineage;
pub mod merkle;
pub mod models;
pub mod projection;
pub mod rng;
pub mod scan;
pub mod stats;
pub mod store;
pub mod tokenizer;
pub mod train;
pub mod weights;

pub use error::{AttributionError, Result};
pub use weights::{ContributorWeights, DatapointScore};
