//! The errors of the proposer.

use alloy::primitives::{Address, B256};
use ol_l1::L1Error;
use ol_storage::StorageError;

/// Why a proposal step failed.
#[derive(Debug, thiserror::Error)]
pub enum ProposerError {
    /// L1 refused a request or did not answer.
    #[error("L1: {0}")]
    L1(#[from] L1Error),
    /// Reading the L2 chain failed.
    #[error("reading the L2 chain: {0}")]
    Storage(#[from] StorageError),
    /// The safe head is at or past a block the database does not hold.
    #[error("L2 block {number} is not stored, though the safe head is {safe}")]
    MissingBlock {
        /// The block to propose.
        number: u64,
        /// The safe head given.
        safe: u64,
    },
    /// The oracle answered a call with data that does not decode.
    #[error("the L2OutputOracle answered `{method}` with undecodable data: {message}")]
    BadOracleResponse {
        /// The oracle function.
        method: &'static str,
        /// The decoding error.
        message: String,
    },
    /// The proposer key is not the one the oracle accepts.
    #[error("the proposer key {signer} is not the L2OutputOracle's PROPOSER {expected}")]
    NotProposer {
        /// The address of the configured key.
        signer: Address,
        /// The oracle's `PROPOSER()`.
        expected: Address,
    },
    /// A proposal transaction was mined but reverted.
    #[error("the proposal of L2 block {l2_block} reverted on L1 (transaction {tx})")]
    Reverted {
        /// The L2 block proposed.
        l2_block: u64,
        /// The transaction.
        tx: B256,
    },
}

impl ProposerError {
    /// Whether retrying cannot help: the database fails or the key is not the oracle's proposer.
    pub const fn is_fatal(&self) -> bool {
        matches!(self, Self::Storage(_) | Self::NotProposer { .. })
    }
}
