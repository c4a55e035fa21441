//! Derivation errors.
//!
//! Every error [`crate::Pipeline::step`] returns leaves the pipeline as it was, so the same step
//! can be retried; the variants say whether retrying can help ([`DeriveError::needs_reset`]).

use alloy_primitives::B256;

/// Why derivation could not go on.
#[derive(Debug, thiserror::Error)]
pub enum DeriveError {
    /// An L1 request failed; derivation retries it.
    #[error(transparent)]
    L1(#[from] ol_l1::L1Error),
    /// The L1 endpoint does not know a block derivation needs (it was reorged away, or the
    /// endpoint is behind).
    #[error("L1 block {0} is unknown to the L1 endpoint")]
    MissingL1Block(B256),
    /// The deposit contract emitted a log that is not a valid deposit.
    #[error(transparent)]
    Deposits(#[from] ol_l1::BlockDepositsError),
    /// A DA request failed in a way that retrying may fix (the service is down, or it does not
    /// have the payload yet: Alt-DA derivation stalls on a 404 instead of skipping the data).
    #[error("DA request for commitment {commitment} failed: {source}")]
    Da {
        /// The commitment being resolved.
        commitment: String,
        /// The DA client's error.
        #[source]
        source: ol_da::DaError,
    },
    /// The next L1 block does not build on the last one read: L1 reorganised under the
    /// pipeline. Reset it to a safe head whose L1 origin is canonical.
    #[error(
        "L1 reorg: block {number} has parent {parent_hash}, the pipeline read {expected} before it; reset the pipeline"
    )]
    L1Reorg {
        /// Number of the block that does not fit.
        number: u64,
        /// Its parent hash.
        parent_hash: B256,
        /// Hash of the block the pipeline read at `number - 1`.
        expected: B256,
    },
    /// The safe head's L1 origin is not the canonical L1 block at its height any more.
    #[error(
        "the safe head's L1 origin {expected} at {number} is not canonical (L1 has {found}); reset the pipeline to an older safe head"
    )]
    SafeHeadOriginReorged {
        /// The origin's number.
        number: u64,
        /// The safe head's origin hash.
        expected: B256,
        /// The canonical hash at that height.
        found: B256,
    },
    /// The rollup configuration is one this pipeline cannot derive.
    #[error("unsupported rollup configuration: {0}")]
    Config(&'static str),
}

impl DeriveError {
    /// Whether the caller must [`reset`](crate::Pipeline::reset) the pipeline (to an older safe
    /// head) before stepping again; other errors are transient and the same step can be retried.
    pub const fn needs_reset(&self) -> bool {
        matches!(
            self,
            Self::L1Reorg { .. } | Self::SafeHeadOriginReorged { .. }
        )
    }
}
