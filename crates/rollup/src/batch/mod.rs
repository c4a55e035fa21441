//! Batches: the typed payloads a channel carries, one after another.
//!
//! A batch is `batch_type ++ content` (type 0: [`SingleBatch`], type 1: span batch), and in a
//! decompressed channel each batch is wrapped as an RLP byte string (specs
//! `protocol/derivation.md`, "Batch Format"; `protocol/delta/span-batches.md`).

mod single;
pub mod span;

pub use single::SingleBatch;
pub use span::{RawSpanBatch, SpanBatch, SpanBatchElement, SpanBatchError};

use alloy_rlp::{Decodable, Encodable, Header};

/// Batch type byte of a singular batch.
pub const SINGLE_BATCH_TYPE: u8 = 0x00;
/// Batch type byte of a span batch.
pub const SPAN_BATCH_TYPE: u8 = 0x01;

/// The kind of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchType {
    /// One L2 block.
    Single,
    /// A run of consecutive L2 blocks.
    Span,
}

/// A batch as read from a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batch {
    /// Batch type 0.
    Single(SingleBatch),
    /// Batch type 1, still in wire form (deriving it needs chain parameters).
    Span(RawSpanBatch),
}

/// Why bytes are not a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// A batch with no bytes at all.
    #[error("empty batch")]
    Empty,
    /// A batch type other than 0 or 1.
    #[error("unknown batch type {0:#04x}")]
    UnknownType(u8),
    /// The RLP around or inside the batch is malformed.
    #[error("invalid RLP: {0}")]
    Rlp(alloy_rlp::Error),
    /// A singular batch's RLP list is followed by more bytes.
    #[error("{0} trailing bytes after the batch")]
    TrailingBytes(usize),
    /// The span batch inside is malformed.
    #[error(transparent)]
    Span(#[from] SpanBatchError),
}

impl Batch {
    /// This batch's type.
    pub const fn batch_type(&self) -> BatchType {
        match self {
            Self::Single(_) => BatchType::Single,
            Self::Span(_) => BatchType::Span,
        }
    }

    /// `batch_type ++ content`.
    pub fn encode_typed(&self) -> Result<Vec<u8>, BatchError> {
        let mut out = Vec::new();
        match self {
            Self::Single(batch) => {
                out.push(SINGLE_BATCH_TYPE);
                batch.encode(&mut out);
            }
            Self::Span(batch) => {
                out.push(SPAN_BATCH_TYPE);
                batch.encode(&mut out)?;
            }
        }
        Ok(out)
    }

    /// Decodes `batch_type ++ content`, which must be exactly one batch.
    pub fn decode_typed(bytes: &[u8]) -> Result<Self, BatchError> {
        let (&ty, content) = bytes.split_first().ok_or(BatchError::Empty)?;
        match ty {
            SINGLE_BATCH_TYPE => {
                let mut buf = content;
                let batch = SingleBatch::decode(&mut buf).map_err(BatchError::Rlp)?;
                if !buf.is_empty() {
                    return Err(BatchError::TrailingBytes(buf.len()));
                }
                Ok(Self::Single(batch))
            }
            SPAN_BATCH_TYPE => Ok(Self::Span(RawSpanBatch::decode_exact(content)?)),
            other => Err(BatchError::UnknownType(other)),
        }
    }

    /// Appends this batch as a channel item: an RLP byte string holding `encode_typed`.
    pub fn encode_channel_item(&self, out: &mut Vec<u8>) -> Result<(), BatchError> {
        let typed = self.encode_typed()?;
        Header {
            list: false,
            payload_length: typed.len(),
        }
        .encode(out);
        out.extend_from_slice(&typed);
        Ok(())
    }

    /// Reads one channel item from the front of `buf`, advancing it.
    pub fn decode_channel_item(buf: &mut &[u8]) -> Result<Self, BatchError> {
        let typed = Header::decode_bytes(buf, false).map_err(BatchError::Rlp)?;
        Self::decode_typed(typed)
    }
}
