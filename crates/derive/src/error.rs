//! Derivation errors.

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
}
