//! Sequencer errors.

/// Errors producing a block.
#[derive(Debug, thiserror::Error)]
pub enum SequencerError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] ol_storage::StorageError),
    /// Execution failed.
    #[error(transparent)]
    Evm(#[from] ol_evm::EvmError),
    /// The head block's L1-info deposit is missing or malformed.
    #[error("head block {0} has no valid L1-info deposit")]
    MissingL1Info(u64),
}
