//! Execution errors.

/// Errors building or executing a block.
#[derive(Debug, thiserror::Error)]
pub enum EvmError {
    /// The parent header lacks a field every post-Jovian header has.
    #[error("parent header is not a Jovian header: {0}")]
    BadParent(String),
    /// A system transaction (the L1-info deposit or a protocol deposit) failed to execute.
    #[error("system transaction failed: {0}")]
    System(String),
    /// The state database failed.
    #[error("execution aborted: {0}")]
    Internal(String),
}
