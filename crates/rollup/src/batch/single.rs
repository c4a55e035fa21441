//! The singular batch (batch type 0): one L2 block's sequenced inputs.
//!
//! Encoded as `rlp([parent_hash, epoch_number, epoch_hash, timestamp, transaction_list])`
//! (specs `protocol/derivation.md`, "Batch Format"), where each transaction is its EIP-2718
//! encoding as an RLP byte string.

use alloy_primitives::{B256, Bytes};
use alloy_rlp::{RlpDecodable, RlpEncodable};

/// One L2 block as the batcher submits it: its parent, its L1 origin, its time and its
/// non-deposit transactions.
#[derive(Debug, Clone, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct SingleBatch {
    /// Hash of the previous L2 block.
    pub parent_hash: B256,
    /// Number of the L1 origin (the epoch).
    pub epoch_num: u64,
    /// Hash of the L1 origin.
    pub epoch_hash: B256,
    /// L2 block timestamp.
    pub timestamp: u64,
    /// EIP-2718 encoded transactions, deposits excluded.
    pub transactions: Vec<Bytes>,
}

impl SingleBatch {
    /// Whether a transaction is empty or deposited; the batch queue drops such batches.
    pub fn has_invalid_transactions(&self) -> bool {
        self.transactions.iter().any(|tx| {
            tx.first()
                .is_none_or(|&ty| ty == op_alloy_consensus::DEPOSIT_TX_TYPE_ID)
        })
    }
}
