//! The batcher's errors.

use ol_rollup::{FrameError, channel::AddBlockError};

/// Why a batcher step failed. Every failure leaves the persisted state consistent: the next step
/// (or a restart) continues from it.
#[derive(Debug, thiserror::Error)]
pub enum BatcherError {
    /// The settings are unusable.
    #[error("invalid batcher configuration: {0}")]
    Config(String),
    /// The node's database failed.
    #[error(transparent)]
    Storage(#[from] ol_storage::StorageError),
    /// The batcher's own database failed.
    #[error("batcher database: {0}")]
    Db(#[from] rocksdb::Error),
    /// A batcher record does not decode.
    #[error("corrupt batcher record {key}: {reason}")]
    CorruptRecord {
        /// The record's key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// An L1 request failed.
    #[error(transparent)]
    L1(#[from] ol_l1::L1Error),
    /// A DA request failed with an error that is not a failover signal.
    #[error(transparent)]
    Da(#[from] ol_da::DaError),
    /// A block could not be added to a channel.
    #[error("L2 block {block} cannot be batched: {source}")]
    Channel {
        /// The block number.
        block: u64,
        /// The channel builder's error.
        source: AddBlockError,
    },
    /// Frames could not be encoded.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A sealed block is missing from the node's database.
    #[error("L2 block {0} is missing from the database")]
    MissingBlock(u64),
    /// A stored block is not what the batcher can submit.
    #[error("L2 block {number} is malformed: {reason}")]
    BadBlock {
        /// The block number.
        number: u64,
        /// What is wrong.
        reason: String,
    },
    /// The L2 chain no longer extends the last block handed to a channel.
    #[error("L2 block {number} has parent {found}, but the batcher handed on {expected}")]
    ChainChanged {
        /// The block number.
        number: u64,
        /// The hash of the block before it that was batched.
        expected: alloy_primitives::B256,
        /// Its parent hash now.
        found: alloy_primitives::B256,
    },
}
