//! The JSON-RPC server of the OpenLedger node.
//!
//! This crate owns the `eth`, `net`, `web3` and `txpool` namespaces over jsonrpsee, on HTTP and
//! (optionally) WebSocket: reading blocks, transactions, receipts (with the OP fields: L1 fee,
//! L1 gas, fee scalars, deposit nonce) and state; logs, installed filters and, over WebSocket,
//! subscriptions ([`EthPubSubApiServer`]); Merkle proofs (`eth_getProof`); `eth_simulateV1`
//! ([`EthSimulateApiServer`]); `eth_call`, gas
//! estimation and access lists; geth-style tracing (`debug_trace*`, [`DebugApiServer`]);
//! Parity-style traces (`trace_*`, [`TraceApiServer`]); Otterscan's explorer methods (`ots_*`,
//! [`OtsApiServer`]) over the storage's address index; fee
//! suggestions; transaction submission into the pool and its
//! content; and the `ol` namespace of the Proof of Attribution services ([`ol`]: the content
//! store of contributions). Answers use go-ethereum's field names and hex formats (through alloy's RPC types)
//! and its error codes and messages ([`error`]).

mod access_list;
mod api;
mod blocking;
mod convert;
mod debug;
pub mod error;
mod eth;
mod fee_cap;
mod filter;
mod forward;
mod logs;
mod middleware;
pub mod ol;
pub mod opp2p;
mod optimism;
mod otterscan;
mod proof;
mod pubsub;
mod reexec;
mod server;
mod simulate;
mod struct_log;
mod trace;
mod txpool;

pub use api::EthRpc;
pub use blocking::{BLOCKING_QUEUE_METRIC, BLOCKING_REFUSED_METRIC, BlockingConfig};
pub use convert::RpcReceipt;
pub use debug::{BlockTrace, DebugApiServer};
pub use error::RpcError;
pub use eth::{EthApiServer, NetApiServer, Web3ApiServer};
pub use filter::{
    DEFAULT_FILTER_TIMEOUT, FilterLimits, MAX_FILTER_ADDRESSES, MAX_FILTER_TOPIC_VALUES,
};
pub use forward::TxSubmission;
pub use logs::{DEFAULT_MAX_BLOCKS_PER_FILTER, DEFAULT_MAX_LOGS_PER_RESPONSE, LogLimits};
pub use middleware::{
    metrics::{
        ERRORS as RPC_ERRORS_METRIC, LATENCY as RPC_LATENCY_METRIC, REQUESTS as RPC_REQUESTS_METRIC,
    },
    rate_limit::{RATE_LIMITED, RATE_LIMITED_METRIC},
};
pub use ol::OlApiServer;
pub use opp2p::{Opp2pApiServer, P2pSlot, P2pStatus};
pub use optimism::{OptimismApiServer, OutputResponse, SyncStatus};
pub use otterscan::{OTS_API_LEVEL, OtsApiServer};
pub use pubsub::{EthPubSubApiServer, HexIdProvider};
pub use reexec::{DEFAULT_MAX_TRACE_BYTES, default_max_tracing_requests};
pub use server::{RpcConfig, RpcServers, start, start_api, start_http};
pub use simulate::EthSimulateApiServer;
pub use trace::{MAX_TRACE_FILTER_BLOCKS, TraceApiServer};
pub use txpool::{BySender, TxPoolApiServer, TxpoolContent, TxpoolContentFrom, TxpoolStatus};
