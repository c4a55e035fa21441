//! The errors of L1 access: what an operator reads when the L1 endpoint misbehaves.

use alloy::primitives::B256;
use std::time::Duration;

/// Why an L1 request failed.
#[derive(Debug, thiserror::Error)]
pub enum L1Error {
    /// The endpoint kept failing with transient errors (connection refused, timeouts, HTTP 5xx or
    /// 429) until the retry budget ran out.
    #[error(
        "L1 endpoint unavailable: `{method}` failed {attempts} times over {elapsed:?}; last error: {last}"
    )]
    Unavailable {
        /// The JSON-RPC method.
        method: &'static str,
        /// Attempts made, the first included.
        attempts: u32,
        /// Time spent, back-off included.
        elapsed: Duration,
        /// The last error seen.
        last: String,
    },
    /// The endpoint answered with an error that retrying cannot fix (a JSON-RPC error such as a
    /// rejected transaction, an HTTP 4xx other than 408/429).
    #[error("L1 request `{method}` failed: {message}")]
    Rejected {
        /// The JSON-RPC method.
        method: &'static str,
        /// The endpoint's error.
        message: String,
    },
    /// The endpoint answered something that contradicts itself or the protocol (a block without
    /// a hash, a reply that does not parse).
    #[error("L1 returned an invalid response to `{method}`: {message}")]
    InvalidResponse {
        /// The JSON-RPC method.
        method: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The L1 chain does not have the block a request was about (yet, or any more after a reorg).
    #[error("L1 block {0} not found")]
    BlockNotFound(String),
    /// A sent transaction was not mined in time.
    #[error("L1 transaction {hash} not mined within {timeout:?}")]
    ReceiptTimeout {
        /// The transaction hash.
        hash: B256,
        /// How long we waited.
        timeout: Duration,
    },
    /// A transaction could not be built or signed locally.
    #[error("building the L1 transaction failed: {0}")]
    Signing(String),
}

impl L1Error {
    /// Whether a later attempt could succeed without anything changing on our side (the watcher
    /// keeps going on these, and stops on nothing).
    pub const fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unavailable { .. } | Self::BlockNotFound(_) | Self::ReceiptTimeout { .. }
        )
    }
}
