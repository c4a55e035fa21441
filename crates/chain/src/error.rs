//! Sequencer errors.

/// Errors producing a block.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] ol_storage::StorageError),
    /// Execution failed.
    #[error(transparent)]
    Evm(#[from] ol_evm::EvmError),
    /// The head block's L1-info deposit is missing or malformed.
    #[error("head block {0} has no valid L1-info deposit")]
    MissingL1Info(u64),
    /// A block was built on a parent that is no longer the head.
    #[error("cannot build on block {parent}: the head is block {head}")]
    NotHead {
        /// The parent asked for.
        parent: u64,
        /// The head.
        head: u64,
    },
    /// A block the chain needs is not stored.
    #[error("block {0} is missing from the database")]
    MissingBlock(u64),
    /// Derivation produced a block that contradicts the chain below the safe head, which L1
    /// already confirmed: derivation stops rather than rewrite it.
    #[error("derived block {number} contradicts the chain: {reason}")]
    DerivationMismatch {
        /// The block number.
        number: u64,
        /// What differs.
        reason: String,
    },
    /// L1 data the next block needs could not be read.
    #[error(transparent)]
    Derive(#[from] ol_derive::DeriveError),
    /// No L1 origin is valid for the next block yet (past the sequencer drift with the next L1
    /// block unknown).
    #[error("no L1 origin for the next block: {0}")]
    NoOrigin(String),
    /// The L1 block after the current origin is not its child: L1 reorged under the unsafe
    /// chain, which the sequencer then unwinds.
    #[error("L1 reorged under the current L1 origin: {0}")]
    L1Reorged(String),
    /// An unwind was asked to go below the finalized head.
    #[error("cannot unwind to block {target}: block {finalized} is finalized")]
    UnwindBelowFinalized {
        /// The block asked for.
        target: u64,
        /// The finalized head.
        finalized: u64,
    },
    /// A block built from another node's block did not come out with that block's hash.
    #[error("block {number} built to {built}, not to the expected {expected}")]
    UnexpectedHash {
        /// The block number.
        number: u64,
        /// The hash it should have.
        expected: alloy_primitives::B256,
        /// The hash it had.
        built: alloy_primitives::B256,
    },
    /// The chain was unwound under a caller that built on a block no longer in it.
    #[error("the chain was unwound below block {0}")]
    Unwound(u64),
    /// The chain's thread could not run a job.
    #[error("{0}")]
    ChainThread(&'static str),
    /// The chain's thread could not be started.
    #[error("cannot start the chain thread: {0}")]
    ThreadStart(#[source] std::io::Error),
}
