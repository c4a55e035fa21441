//! The span batch wire format (batch type 1), without chain context.
//!
//! `prefix = rel_timestamp ++ l1_origin_num ++ parent_check(20) ++ l1_origin_check(20)`,
//! `payload = block_count ++ origin_bits ++ block_tx_counts ++ txs` and
//! `txs = contract_creation_bits ++ y_parity_bits ++ tx_sigs ++ tx_tos ++ tx_datas ++ tx_nonces
//! ++ tx_gases ++ protected_bits` (specs `protocol/delta/span-batches.md`). Counts are checked
//! against [`MAX_SPAN_BATCH_ELEMENT_COUNT`] and against the bytes actually present before
//! anything is allocated, so a forged count cannot reserve memory the input does not back.

use super::{
    SpanBatchError,
    bits::{read_bits, write_bits},
    tx::{SpanTx, SpanTxData},
};
use crate::varint::{VarintError, read_uvarint, write_uvarint};
use alloy_primitives::{Address, FixedBytes, U256};

/// Most blocks, and most transactions, one span batch may hold (specs "Protocol Parameters").
pub const MAX_SPAN_BATCH_ELEMENT_COUNT: u64 = 10_000_000;

/// A span batch as encoded: relative timestamp, origin number and bits, per-block transaction
/// counts and the transactions in span form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSpanBatch {
    /// First block's timestamp minus the L2 genesis timestamp.
    pub rel_timestamp: u64,
    /// L1 origin number of the last block.
    pub l1_origin_num: u64,
    /// First 20 bytes of the first block's parent hash.
    pub parent_check: FixedBytes<20>,
    /// First 20 bytes of the last block's L1 origin hash.
    pub l1_origin_check: FixedBytes<20>,
    /// Per block: whether its L1 origin differs from its parent's.
    pub origin_bits: Vec<bool>,
    /// Per block: its number of transactions.
    pub block_tx_counts: Vec<u64>,
    /// All transactions of the span, block after block.
    pub txs: Vec<SpanTx>,
}

impl RawSpanBatch {
    /// Number of blocks in the span.
    pub fn block_count(&self) -> usize {
        self.block_tx_counts.len()
    }

    /// Appends the encoding (without the batch type byte).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), SpanBatchError> {
        self.check_shape()?;
        write_uvarint(out, self.rel_timestamp);
        write_uvarint(out, self.l1_origin_num);
        out.extend_from_slice(self.parent_check.as_slice());
        out.extend_from_slice(self.l1_origin_check.as_slice());
        write_uvarint(out, self.block_count() as u64);
        write_bits(out, self.origin_bits.iter().copied());
        for &count in &self.block_tx_counts {
            write_uvarint(out, count);
        }
        write_bits(out, self.txs.iter().map(|tx| tx.to.is_none()));
        write_bits(out, self.txs.iter().map(|tx| tx.y_parity));
        for tx in &self.txs {
            out.extend_from_slice(&tx.r.to_be_bytes::<32>());
            out.extend_from_slice(&tx.s.to_be_bytes::<32>());
        }
        for to in self.txs.iter().filter_map(|tx| tx.to) {
            out.extend_from_slice(to.as_slice());
        }
        for tx in &self.txs {
            tx.data.encode(out);
        }
        for tx in &self.txs {
            write_uvarint(out, tx.nonce);
        }
        for tx in &self.txs {
            write_uvarint(out, tx.gas_limit);
        }
        let legacy: Vec<bool> = self
            .txs
            .iter()
            .filter(|tx| tx.data.is_legacy())
            .map(|tx| tx.protected)
            .collect();
        write_bits(out, legacy.into_iter());
        Ok(())
    }

    /// The encoding (without the batch type byte).
    pub fn encode_to_vec(&self) -> Result<Vec<u8>, SpanBatchError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }

    /// Refuses a batch whose columns disagree, since its encoding would not decode back.
    fn check_shape(&self) -> Result<(), SpanBatchError> {
        let blocks = self.block_count();
        if blocks == 0 {
            return Err(SpanBatchError::EmptySpanBatch);
        }
        if self.origin_bits.len() != blocks {
            return Err(SpanBatchError::Inconsistent(
                "origin_bits length != block_count",
            ));
        }
        check_count("block_count", blocks as u64)?;
        let mut total = 0u64;
        for &count in &self.block_tx_counts {
            total = total.saturating_add(count);
        }
        check_count("txs", total)?;
        if total != self.txs.len() as u64 {
            return Err(SpanBatchError::Inconsistent(
                "sum(block_tx_counts) != number of txs",
            ));
        }
        Ok(())
    }

    /// Decodes a span batch that must span all of `bytes` (the batch type byte already removed).
    pub fn decode_exact(bytes: &[u8]) -> Result<Self, SpanBatchError> {
        let mut buf = bytes;
        let batch = Self::decode(&mut buf)?;
        if !buf.is_empty() {
            return Err(SpanBatchError::TrailingBytes(buf.len()));
        }
        Ok(batch)
    }

    /// Decodes a span batch from the front of `buf`, advancing it.
    pub fn decode(buf: &mut &[u8]) -> Result<Self, SpanBatchError> {
        let rel_timestamp = varint(buf, "rel_timestamp")?;
        let l1_origin_num = varint(buf, "l1_origin_num")?;
        let parent_check = FixedBytes::from_slice(take(buf, 20, "parent_check")?);
        let l1_origin_check = FixedBytes::from_slice(take(buf, 20, "l1_origin_check")?);

        let block_count = varint(buf, "block_count")?;
        if block_count == 0 {
            return Err(SpanBatchError::EmptySpanBatch);
        }
        check_count("block_count", block_count)?;
        // Bounded by MAX_SPAN_BATCH_ELEMENT_COUNT, which fits in usize.
        let block_count = block_count as usize;
        let origin_bits = read_bits(buf, block_count, "origin_bits")?;
        // Every varint takes at least one byte.
        if buf.len() < block_count {
            return Err(SpanBatchError::Truncated("block_tx_counts"));
        }
        let mut block_tx_counts = Vec::with_capacity(block_count);
        let mut total = 0u64;
        for _ in 0..block_count {
            let count = varint(buf, "block_tx_counts")?;
            check_count("block_tx_count", count)?;
            total = total.saturating_add(count);
            block_tx_counts.push(count);
        }
        check_count("txs", total)?;
        let txs = decode_txs(buf, total as usize)?;
        Ok(Self {
            rel_timestamp,
            l1_origin_num,
            parent_check,
            l1_origin_check,
            origin_bits,
            block_tx_counts,
            txs,
        })
    }
}

fn decode_txs(buf: &mut &[u8], n: usize) -> Result<Vec<SpanTx>, SpanBatchError> {
    let creation = read_bits(buf, n, "contract_creation_bits")?;
    let y_parity = read_bits(buf, n, "y_parity_bits")?;
    let sigs = take(buf, n * 64, "tx_sigs")?;
    let calls = creation.iter().filter(|&&c| !c).count();
    let tos = take(buf, calls * 20, "tx_tos")?;
    if buf.len() < n {
        return Err(SpanBatchError::Truncated("tx_datas"));
    }
    let mut datas = Vec::with_capacity(n);
    for _ in 0..n {
        datas.push(SpanTxData::decode(buf)?);
    }
    if buf.len() < 2 * n {
        return Err(SpanBatchError::Truncated("tx_nonces"));
    }
    let nonces = (0..n)
        .map(|_| varint(buf, "tx_nonces"))
        .collect::<Result<Vec<_>, _>>()?;
    let gases = (0..n)
        .map(|_| varint(buf, "tx_gases"))
        .collect::<Result<Vec<_>, _>>()?;
    let legacy = datas.iter().filter(|d| d.is_legacy()).count();
    let mut protected = read_bits(buf, legacy, "protected_bits")?.into_iter();

    let mut tos = tos.chunks_exact(20).map(Address::from_slice);
    let mut txs = Vec::with_capacity(n);
    for (i, data) in datas.into_iter().enumerate() {
        let sig = &sigs[i * 64..(i + 1) * 64];
        txs.push(SpanTx {
            to: if creation[i] { None } else { tos.next() },
            r: U256::from_be_slice(&sig[..32]),
            s: U256::from_be_slice(&sig[32..]),
            y_parity: y_parity[i],
            nonce: nonces[i],
            gas_limit: gases[i],
            protected: data.is_legacy() && protected.next().unwrap_or(false),
            data,
        });
    }
    Ok(txs)
}

fn check_count(field: &'static str, count: u64) -> Result<(), SpanBatchError> {
    if count > MAX_SPAN_BATCH_ELEMENT_COUNT {
        return Err(SpanBatchError::TooManyElements { field, count });
    }
    Ok(())
}

fn varint(buf: &mut &[u8], field: &'static str) -> Result<u64, SpanBatchError> {
    read_uvarint(buf).map_err(|err| match err {
        VarintError::Truncated => SpanBatchError::Truncated(field),
        VarintError::Overflow => SpanBatchError::VarintOverflow(field),
    })
}

fn take<'a>(buf: &mut &'a [u8], n: usize, field: &'static str) -> Result<&'a [u8], SpanBatchError> {
    if buf.len() < n {
        return Err(SpanBatchError::Truncated(field));
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}
