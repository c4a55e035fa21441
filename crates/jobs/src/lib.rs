//! The sequencer's job service: the node end of Proof of Attribution.
//!
//! A user pays for an inference with `InferenceMarket.request`; the service sees the request
//! in a sealed block ([`service`]), reads the adapter and the approved contributions of its
//! Datanets from chain state and the content store, and runs the job on the worker pool
//! ([`executor`]): greedy decoding on the adapter, then suffix-array lineage of the output
//! over those contributions. From the attestor key ([`attestor`]) it then writes the record
//! to the PoA precompile and fulfils the request with the counted tokens. Every step is
//! journaled in RocksDB ([`journal`]) and checked against the chain before anything is sent,
//! so a crash at any point neither loses a request nor records it twice.
//!
//! Anyone holding the base model can re-check a record ([`verify`]): the same [`gather`] over a
//! node's JSON-RPC, the same [`Executor`], and a field-by-field comparison with the chain. A
//! follower does it for every record its chain carries ([`Verifier`]).
//!
//! The owner of a registered base model can also have the node train an adapter on a
//! Datanet's approved contributions ([`training`]), read from the same chain state and content
//! store the jobs read.

pub mod attestor;
mod db;
mod error;
pub mod executor;
pub mod inputs;
pub mod journal;
pub mod private;
mod scan;
pub mod service;
pub mod training;
pub mod verify;

pub use attestor::Attestor;
pub use error::JobsError;
pub use executor::{
    Executor, METHOD_DATAINF, METHOD_GAUSS_NEWTON, METHOD_LINEAGE, METHODS_RUN, Outcome, Task,
};
pub use inputs::{ContentSource, Gather, JobInputs, LocalInputs, approved_documents, gather};
pub use journal::{Answer, Evidence, Job, Journal, OutputSpan, SpanDocument, Stage};
pub use service::{AdapterListing, HaltPoint, JobService};
pub use training::{TrainingConfig, TrainingService};
pub use verify::{Entry, Mismatch, OnChain, Verdict, Verifications, Verifier, compare};
