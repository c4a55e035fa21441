//! Growing a span batch one L2 block at a time, as a batcher does.

use super::{RawSpanBatch, SpanBatchError, SpanTx};
use crate::batch::SingleBatch;
use alloy_primitives::FixedBytes;

/// Appends blocks to a [`RawSpanBatch`], converting each block's transactions once.
#[derive(Debug, Clone)]
pub struct SpanBatchBuilder {
    genesis_timestamp: u64,
    block_time: u64,
    chain_id: u64,
    raw: Option<RawSpanBatch>,
    last_timestamp: u64,
}

impl SpanBatchBuilder {
    /// An empty span for a chain with this genesis timestamp, block time and chain id.
    pub const fn new(genesis_timestamp: u64, block_time: u64, chain_id: u64) -> Self {
        Self {
            genesis_timestamp,
            block_time,
            chain_id,
            raw: None,
            last_timestamp: 0,
        }
    }

    /// Number of blocks pushed.
    pub fn block_count(&self) -> usize {
        self.raw.as_ref().map_or(0, RawSpanBatch::block_count)
    }

    /// The span so far, `None` while empty.
    pub const fn raw(&self) -> Option<&RawSpanBatch> {
        self.raw.as_ref()
    }

    /// Appends the next block. `starts_epoch` matters only for the first block: whether it is
    /// the first of its epoch. On error nothing changes.
    pub fn push(&mut self, block: &SingleBatch, starts_epoch: bool) -> Result<(), SpanBatchError> {
        let txs = block
            .transactions
            .iter()
            .map(|tx| SpanTx::from_eip2718(tx, self.chain_id))
            .collect::<Result<Vec<_>, _>>()?;
        let l1_origin_check = FixedBytes::from_slice(&block.epoch_hash[..20]);
        match &mut self.raw {
            None => {
                let rel_timestamp = block
                    .timestamp
                    .checked_sub(self.genesis_timestamp)
                    .ok_or(SpanBatchError::BeforeGenesis)?;
                self.raw = Some(RawSpanBatch {
                    rel_timestamp,
                    l1_origin_num: block.epoch_num,
                    parent_check: FixedBytes::from_slice(&block.parent_hash[..20]),
                    l1_origin_check,
                    origin_bits: vec![starts_epoch],
                    block_tx_counts: vec![txs.len() as u64],
                    txs,
                });
            }
            Some(raw) => {
                let index = raw.block_count();
                if self.last_timestamp.checked_add(self.block_time) != Some(block.timestamp) {
                    return Err(SpanBatchError::NonConsecutiveTimestamps { index });
                }
                let new_origin = match block.epoch_num.checked_sub(raw.l1_origin_num) {
                    Some(0) => false,
                    Some(1) => true,
                    _ => return Err(SpanBatchError::InvalidOriginStep { index }),
                };
                raw.l1_origin_num = block.epoch_num;
                raw.l1_origin_check = l1_origin_check;
                raw.origin_bits.push(new_origin);
                raw.block_tx_counts.push(txs.len() as u64);
                raw.txs.extend(txs);
            }
        }
        self.last_timestamp = block.timestamp;
        Ok(())
    }

    /// The finished span.
    pub fn finish(self) -> Result<RawSpanBatch, SpanBatchError> {
        self.raw.ok_or(SpanBatchError::EmptySpanBatch)
    }
}
