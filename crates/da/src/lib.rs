//! Data availability for the OpenLedger rollup.
//!
//! This crate owns what the batcher and the derivation pipeline need from a DA layer: the OP
//! Alt-DA commitment formats ([`Commitment`]: keccak256 commitments, type 0, and generic
//! "DA service" commitments, type 1, such as eigenda-proxy's `0x01 0x00 <version> <cert>`), the
//! client of the DA HTTP API that eigenda-proxy and OP's DA servers share ([`HttpDaClient`],
//! behind the [`DaClient`] trait, with eigenda-proxy's status codes: 418 drops a cert, 503 asks
//! the batcher to fail over to L1 calldata), and a built-in DA server with the same API that
//! keeps payloads in RocksDB ([`DaServer`], [`DaStore`]) for development, tests and the devnet.

mod client;
mod commitment;
mod error;
mod server;
mod store;

pub use client::{DaClient, HttpDaClient, PutMode};
pub use commitment::{
    ALT_DA_TX_VERSION, CALLDATA_TX_VERSION, Commitment, EIGENDA_LAYER, OPENLEDGER_DA_LAYER,
};
pub use error::{CommitmentError, DaError, StoreError};
pub use server::{DaServer, DaServerConfig, MAX_PAYLOAD_BYTES};
pub use store::DaStore;
