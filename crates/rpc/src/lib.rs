//! The JSON-RPC server of the OpenLedger node.
//!
//! This crate owns the `eth`, `net` and `web3` namespaces over jsonrpsee: reading blocks,
//! transactions, receipts (with the OP fields: L1 fee, L1 gas, fee scalars, deposit nonce) and
//! state; `eth_call` and gas estimation; fee suggestions; and transaction submission into the
//! pool. Answers use go-ethereum's field names and hex formats (through alloy's RPC types) and
//! its error codes and messages ([`error`]).

mod convert;
pub mod error;
mod eth;
mod server;

pub use error::RpcError;
pub use eth::{EthApiServer, EthRpc, NetApiServer, Web3ApiServer};
pub use server::{RpcConfig, start_http};
