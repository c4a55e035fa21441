//! Span batches (Delta): a run of consecutive L2 blocks in one batch.
//!
//! [`RawSpanBatch`] is the wire form; [`SpanBatch`] is the derived form with absolute
//! timestamps, per-block L1 origin numbers and EIP-2718 transactions, which needs the chain's
//! genesis timestamp, block time and chain id. Conversions go both ways between a list of
//! [`SingleBatch`]es and a span batch, as op-node's batcher and batch queue do.

mod bits;
mod builder;
mod raw;
mod tx;

pub use builder::SpanBatchBuilder;
pub use raw::{MAX_SPAN_BATCH_ELEMENT_COUNT, RawSpanBatch};
pub use tx::{SpanTx, SpanTxData};

use crate::batch::SingleBatch;
use alloy_primitives::{B256, Bytes, FixedBytes};

/// Why a span batch does not decode, encode or convert.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpanBatchError {
    /// The input ended inside the named field.
    #[error("span batch truncated in {0}")]
    Truncated(&'static str),
    /// A varint in the named field does not fit in 64 bits.
    #[error("varint overflow in {0}")]
    VarintOverflow(&'static str),
    /// A bitlist has a bit set beyond its length.
    #[error("bitlist {0} has bits beyond its length")]
    BitlistOverflow(&'static str),
    /// `block_count` is zero.
    #[error("empty span batch")]
    EmptySpanBatch,
    /// A count exceeds [`MAX_SPAN_BATCH_ELEMENT_COUNT`].
    #[error("{field} count {count} exceeds {MAX_SPAN_BATCH_ELEMENT_COUNT}")]
    TooManyElements {
        /// The counted field.
        field: &'static str,
        /// The count found.
        count: u64,
    },
    /// A `tx_data` has an unknown transaction type byte.
    #[error("unknown span batch transaction type {0:#04x}")]
    UnknownTxType(u8),
    /// A `tx_data` is not the RLP its type requires.
    #[error("invalid tx_data: {0}")]
    TxData(alloy_rlp::Error),
    /// Bytes remained after the span batch.
    #[error("{0} trailing bytes after the span batch")]
    TrailingBytes(usize),
    /// The batch's columns disagree (refused when encoding).
    #[error("inconsistent span batch: {0}")]
    Inconsistent(&'static str),
    /// A deposit transaction was offered for batching.
    #[error("deposit transactions are never batched")]
    DepositTransaction,
    /// A transaction type the format does not carry.
    #[error("transaction type {0:#04x} cannot be batched")]
    UnsupportedTxType(u8),
    /// A transaction that is not valid EIP-2718.
    #[error("invalid transaction: {0}")]
    InvalidTransaction(String),
    /// A transaction signed for another chain.
    #[error("transaction chain id {got}, expected {expected}")]
    ChainIdMismatch {
        /// The chain id of the span.
        expected: u64,
        /// The transaction's chain id.
        got: u64,
    },
    /// A transaction whose encoding the span format cannot reproduce exactly.
    #[error("transaction is not representable in a span batch")]
    NotRepresentable,
    /// An EIP-7702 transaction flagged as a contract creation.
    #[error("EIP-7702 transactions cannot create contracts")]
    CreationNotAllowed,
    /// Block timestamps are not `block_time` apart.
    #[error("block {index} timestamp is not the previous one plus the block time")]
    NonConsecutiveTimestamps {
        /// Index of the offending block.
        index: usize,
    },
    /// The L1 origin goes back or skips ahead between two blocks.
    #[error("block {index} L1 origin is not the previous one or the next")]
    InvalidOriginStep {
        /// Index of the offending block.
        index: usize,
    },
    /// The first timestamp precedes L2 genesis.
    #[error("span starts before L2 genesis")]
    BeforeGenesis,
    /// A derived timestamp or origin number is out of range.
    #[error("derived {0} out of range")]
    OutOfRange(&'static str),
    /// No L1 block is known for an origin number the span references.
    #[error("L1 origin {0} unknown")]
    MissingL1Origin(u64),
    /// The last L1 origin's hash does not start with `l1_origin_check`.
    #[error("l1_origin_check does not match the L1 origin")]
    L1OriginCheckMismatch,
    /// The parent hash does not start with `parent_check`.
    #[error("parent_check does not match the parent hash")]
    ParentCheckMismatch,
}

/// One block of a derived span batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanBatchElement {
    /// L2 block timestamp.
    pub timestamp: u64,
    /// L1 origin number.
    pub epoch_num: u64,
    /// EIP-2718 encoded transactions.
    pub transactions: Vec<Bytes>,
}

/// A span batch in derived form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanBatch {
    /// First 20 bytes of the first block's parent hash.
    pub parent_check: FixedBytes<20>,
    /// First 20 bytes of the last block's L1 origin hash.
    pub l1_origin_check: FixedBytes<20>,
    /// Whether the first block starts a new epoch (its sequence number is 0).
    pub starts_epoch: bool,
    /// The blocks, oldest first.
    pub elements: Vec<SpanBatchElement>,
}

impl SpanBatch {
    /// Builds a span from consecutive blocks; `starts_epoch` is whether the first block is
    /// the first of its epoch (op-node sets the first origin bit from that).
    pub fn from_singular_batches(
        batches: &[SingleBatch],
        starts_epoch: bool,
    ) -> Result<Self, SpanBatchError> {
        let (first, last) = match batches {
            [] => return Err(SpanBatchError::EmptySpanBatch),
            [first, .., last] => (first, last),
            [only] => (only, only),
        };
        Ok(Self {
            parent_check: FixedBytes::from_slice(&first.parent_hash[..20]),
            l1_origin_check: FixedBytes::from_slice(&last.epoch_hash[..20]),
            starts_epoch,
            elements: batches
                .iter()
                .map(|b| SpanBatchElement {
                    timestamp: b.timestamp,
                    epoch_num: b.epoch_num,
                    transactions: b.transactions.clone(),
                })
                .collect(),
        })
    }

    /// Encodes into wire form for a chain with the given genesis timestamp, block time and id.
    pub fn to_raw(
        &self,
        genesis_timestamp: u64,
        block_time: u64,
        chain_id: u64,
    ) -> Result<RawSpanBatch, SpanBatchError> {
        let mut builder = SpanBatchBuilder::new(genesis_timestamp, block_time, chain_id);
        for element in &self.elements {
            let block = SingleBatch {
                epoch_num: element.epoch_num,
                timestamp: element.timestamp,
                transactions: element.transactions.clone(),
                ..Default::default()
            };
            builder.push(&block, self.starts_epoch)?;
        }
        let mut raw = builder.finish()?;
        raw.parent_check = self.parent_check;
        raw.l1_origin_check = self.l1_origin_check;
        Ok(raw)
    }

    /// Derives timestamps, origin numbers and full transactions from the wire form.
    pub fn from_raw(
        raw: &RawSpanBatch,
        genesis_timestamp: u64,
        block_time: u64,
        chain_id: u64,
    ) -> Result<Self, SpanBatchError> {
        let blocks = raw.block_count();
        if blocks == 0 {
            return Err(SpanBatchError::EmptySpanBatch);
        }
        if raw.origin_bits.len() != blocks {
            return Err(SpanBatchError::Inconsistent(
                "origin_bits length != block_count",
            ));
        }
        // Origins count back from the last block; bit i says block i moved to a new origin.
        let mut epochs = vec![0u64; blocks];
        let mut epoch = raw.l1_origin_num;
        for i in (0..blocks).rev() {
            epochs[i] = epoch;
            if i > 0 && raw.origin_bits[i] {
                epoch = epoch
                    .checked_sub(1)
                    .ok_or(SpanBatchError::OutOfRange("L1 origin"))?;
            }
        }
        let start = genesis_timestamp
            .checked_add(raw.rel_timestamp)
            .ok_or(SpanBatchError::OutOfRange("timestamp"))?;
        let mut txs = raw.txs.iter();
        let mut elements = Vec::with_capacity(blocks);
        for (i, (&count, epoch_num)) in raw.block_tx_counts.iter().zip(epochs).enumerate() {
            let timestamp = (i as u64)
                .checked_mul(block_time)
                .and_then(|offset| start.checked_add(offset))
                .ok_or(SpanBatchError::OutOfRange("timestamp"))?;
            let mut transactions = Vec::new();
            for _ in 0..count {
                let tx = txs.next().ok_or(SpanBatchError::Inconsistent(
                    "sum(block_tx_counts) != number of txs",
                ))?;
                transactions.push(tx.to_eip2718(chain_id)?.into());
            }
            elements.push(SpanBatchElement {
                timestamp,
                epoch_num,
                transactions,
            });
        }
        if txs.next().is_some() {
            return Err(SpanBatchError::Inconsistent(
                "sum(block_tx_counts) != number of txs",
            ));
        }
        Ok(Self {
            parent_check: raw.parent_check,
            l1_origin_check: raw.l1_origin_check,
            starts_epoch: raw.origin_bits[0],
            elements,
        })
    }

    /// Splits the span into singular batches.
    ///
    /// `l1_origin_hash` resolves an origin number to its L1 block hash; `parent_hash` is the
    /// hash of the block before the span and must match `parent_check`. Only the first batch
    /// gets a parent hash: the others' parents are blocks of this span, known once executed,
    /// so they are left zero for the batch queue to fill, as op-node does.
    pub fn to_singular_batches(
        &self,
        parent_hash: B256,
        mut l1_origin_hash: impl FnMut(u64) -> Option<B256>,
    ) -> Result<Vec<SingleBatch>, SpanBatchError> {
        if parent_hash[..20] != self.parent_check[..] {
            return Err(SpanBatchError::ParentCheckMismatch);
        }
        let mut batches: Vec<SingleBatch> = Vec::with_capacity(self.elements.len());
        for (i, element) in self.elements.iter().enumerate() {
            let epoch_hash = match batches.last() {
                Some(prev) if prev.epoch_num == element.epoch_num => prev.epoch_hash,
                _ => l1_origin_hash(element.epoch_num)
                    .ok_or(SpanBatchError::MissingL1Origin(element.epoch_num))?,
            };
            batches.push(SingleBatch {
                parent_hash: if i == 0 { parent_hash } else { B256::ZERO },
                epoch_num: element.epoch_num,
                epoch_hash,
                timestamp: element.timestamp,
                transactions: element.transactions.clone(),
            });
        }
        match batches.last() {
            Some(last) if last.epoch_hash[..20] == self.l1_origin_check[..] => Ok(batches),
            Some(_) => Err(SpanBatchError::L1OriginCheckMismatch),
            None => Err(SpanBatchError::EmptySpanBatch),
        }
    }
}
