//! Reading a sealed L2 block from the node's database as the batch that carries it: its parent,
//! its L1 origin (from the L1-info deposit), its time and its user transactions. Deposits (the
//! L1-info one and user deposits) are never batched: followers derive them from L1.

use crate::BatcherError;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{B256, Bytes};
use ol_primitives::{L1BlockInfo, OpTxEnvelope};
use ol_rollup::SingleBatch;
use ol_storage::Storage;

/// What the batcher keeps about a block besides its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockMeta {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// Whether it is the first block of its epoch (L1-info sequence number 0).
    pub starts_epoch: bool,
}

/// Reads block `number` as a batch.
pub fn read_block(
    storage: &Storage,
    number: u64,
) -> Result<(BlockMeta, SingleBatch), BatcherError> {
    let header = storage
        .header_by_number(number)?
        .ok_or(BatcherError::MissingBlock(number))?;
    let body = storage
        .body(number)?
        .ok_or(BatcherError::MissingBlock(number))?;
    let bad = |reason: String| BatcherError::BadBlock { number, reason };
    let info = match body.transactions.first() {
        Some(OpTxEnvelope::Deposit(deposit)) => L1BlockInfo::decode_jovian(&deposit.input)
            .map_err(|err| {
                bad(format!(
                    "first transaction is not an L1-info deposit: {err}"
                ))
            })?,
        _ => return Err(bad("first transaction is not the L1-info deposit".into())),
    };
    let transactions = body
        .transactions
        .iter()
        .filter(|tx| !matches!(tx, OpTxEnvelope::Deposit(_)))
        .map(|tx| Bytes::from(tx.encoded_2718()))
        .collect();
    let meta = BlockMeta {
        number,
        hash: header.hash(),
        starts_epoch: info.sequence_number == 0,
    };
    let batch = SingleBatch {
        parent_hash: header.parent_hash,
        epoch_num: info.origin.number,
        epoch_hash: info.origin.hash,
        timestamp: header.timestamp,
        transactions,
    };
    Ok((meta, batch))
}
