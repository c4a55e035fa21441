//! Building a channel on the batcher side: blocks in, compressed frames out.
//!
//! Blocks are added as [`SingleBatch`]es. In span mode they accumulate into one span batch
//! (re-encoded as it grows, like op-batcher's span channel); in singular mode each becomes its
//! own batch. The channel is full when its compressed size would pass the target, when its
//! decompressed size would pass `MAX_RLP_BYTES_PER_CHANNEL`, or when it has been open for
//! `max_duration` L1 blocks; sealing compresses it and cuts it into frames.
//!
//! Compressing on every block would cost a full recompression per block, so a block is
//! accepted without compressing while the last measured compressed size plus the uncompressed
//! growth since then (plus slack) stays under the target: compression never grows output by
//! much more than its input. Sealing measures for real and returns blocks that did not fit.

use super::MAX_RLP_BYTES_PER_CHANNEL_FJORD;
use crate::{
    batch::{
        Batch, BatchError, SPAN_BATCH_TYPE, SingleBatch, span::SpanBatchBuilder,
        span::SpanBatchError,
    },
    compression::{CompressionAlgo, CompressionError},
    frame::{ChannelId, FRAME_OVERHEAD, Frame, MAX_FRAME_LEN},
};
use alloy_rlp::Header;

/// How blocks are encoded into batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchMode {
    /// One singular batch per block.
    Singular,
    /// One span batch for the whole channel.
    Span {
        /// L2 genesis timestamp (span timestamps are relative to it).
        genesis_timestamp: u64,
        /// Seconds between L2 blocks.
        block_time: u64,
        /// L2 chain id (dropped from transactions, restored by readers).
        chain_id: u64,
    },
}

/// Limits and encoding of the channels a batcher builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelConfig {
    /// Compression algorithm and level.
    pub compression: CompressionAlgo,
    /// Batch encoding.
    pub batch_mode: BatchMode,
    /// Largest encoded frame, overhead included.
    pub max_frame_size: usize,
    /// Most frames per channel (at most 65,536, the frame number range).
    pub max_frames: usize,
    /// Compressed size at which the channel counts as full.
    pub target_size: usize,
    /// Most decompressed bytes (`MAX_RLP_BYTES_PER_CHANNEL` of the readers' fork).
    pub max_rlp_bytes: usize,
    /// L1 blocks after opening at which the channel must be sealed; 0 disables.
    pub max_duration: u64,
}

impl ChannelConfig {
    /// Frame data bytes per frame.
    pub fn frame_data_len(&self) -> usize {
        self.max_frame_size
            .saturating_sub(FRAME_OVERHEAD)
            .min(MAX_FRAME_LEN)
    }

    /// Compressed bytes the frames can carry at most.
    pub fn hard_capacity(&self) -> usize {
        self.frame_data_len()
            .saturating_mul(self.max_frames.min(usize::from(u16::MAX) + 1))
    }

    fn target(&self) -> usize {
        self.target_size.min(self.hard_capacity())
    }

    /// Span batches, brotli-10, single-frame channels of `max_frame_size`, Fjord limits.
    pub fn fjord_span(
        max_frame_size: usize,
        genesis_timestamp: u64,
        block_time: u64,
        chain_id: u64,
    ) -> Self {
        let mut config = Self {
            compression: CompressionAlgo::BROTLI_10,
            batch_mode: BatchMode::Span {
                genesis_timestamp,
                block_time,
                chain_id,
            },
            max_frame_size,
            max_frames: 1,
            target_size: 0,
            max_rlp_bytes: MAX_RLP_BYTES_PER_CHANNEL_FJORD,
            max_duration: 0,
        };
        config.target_size = config.hard_capacity();
        config
    }
}

/// Why a channel stopped taking blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullReason {
    /// The compressed size reached the target.
    Size,
    /// The decompressed size would exceed `max_rlp_bytes`.
    RlpLimit,
}

/// Why a block was not added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddBlockError {
    /// The channel is full; seal it and add the block to a new one.
    #[error("channel full ({0:?})")]
    Full(FullReason),
    /// The block alone does not fit in an empty channel.
    #[error("block does not fit in a channel: {0}")]
    BlockTooLarge(&'static str),
    /// The block cannot be encoded (for example it does not follow the previous block).
    #[error(transparent)]
    Span(#[from] SpanBatchError),
    /// The batch cannot be encoded.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// Compression failed.
    #[error(transparent)]
    Compression(#[from] CompressionError),
}

/// A sealed channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedChannel {
    /// The channel id.
    pub id: ChannelId,
    /// Frames in order; the last one closes the channel.
    pub frames: Vec<Frame>,
    /// Blocks the channel carries.
    pub blocks: Vec<SingleBatch>,
    /// Blocks taken back because the sealed channel exceeded its frame capacity; the caller
    /// puts them in the next channel.
    pub returned: Vec<SingleBatch>,
    /// Decompressed size.
    pub rlp_len: usize,
    /// Compressed size.
    pub compressed_len: usize,
}

#[derive(Debug, Clone)]
enum Encoder {
    Singular(Vec<u8>),
    Span(SpanBatchBuilder),
}

impl Encoder {
    fn new(mode: BatchMode) -> Self {
        match mode {
            BatchMode::Singular => Self::Singular(Vec::new()),
            BatchMode::Span {
                genesis_timestamp,
                block_time,
                chain_id,
            } => Self::Span(SpanBatchBuilder::new(
                genesis_timestamp,
                block_time,
                chain_id,
            )),
        }
    }

    fn push(&mut self, block: &SingleBatch, starts_epoch: bool) -> Result<(), AddBlockError> {
        match self {
            Self::Singular(rlp) => Batch::Single(block.clone()).encode_channel_item(rlp)?,
            Self::Span(builder) => builder.push(block, starts_epoch)?,
        }
        Ok(())
    }

    fn rlp(&self) -> Result<Vec<u8>, AddBlockError> {
        match self {
            Self::Singular(rlp) => Ok(rlp.clone()),
            Self::Span(builder) => {
                let Some(raw) = builder.raw() else {
                    return Ok(Vec::new());
                };
                // The channel item by hand, to avoid cloning the span into a `Batch`.
                let mut typed = vec![SPAN_BATCH_TYPE];
                raw.encode(&mut typed)?;
                let mut out = Vec::with_capacity(typed.len() + 9);
                Header {
                    list: false,
                    payload_length: typed.len(),
                }
                .encode(&mut out);
                out.extend_from_slice(&typed);
                Ok(out)
            }
        }
    }
}

/// Accumulates blocks into one channel.
#[derive(Debug)]
pub struct ChannelBuilder {
    id: ChannelId,
    config: ChannelConfig,
    opened_at: u64,
    starts_epoch: bool,
    blocks: Vec<SingleBatch>,
    encoder: Encoder,
    rlp_len: usize,
    /// Last real measurement: (decompressed size, compressed size).
    measured: (usize, usize),
    full: Option<FullReason>,
}

impl ChannelBuilder {
    /// Opens a channel at L1 block `opened_at`.
    pub fn new(id: ChannelId, config: ChannelConfig, opened_at: u64) -> Self {
        Self {
            id,
            config,
            opened_at,
            starts_epoch: false,
            blocks: Vec::new(),
            encoder: Encoder::new(config.batch_mode),
            rlp_len: 0,
            measured: (0, 0),
            full: None,
        }
    }

    /// The channel id.
    pub const fn id(&self) -> ChannelId {
        self.id
    }

    /// Blocks added so far.
    pub fn blocks(&self) -> &[SingleBatch] {
        &self.blocks
    }

    /// Why the channel is full, if it is.
    pub const fn full(&self) -> Option<FullReason> {
        self.full
    }

    /// Whether the channel has been open `max_duration` L1 blocks at L1 block `l1_head`.
    pub const fn is_timed_out(&self, l1_head: u64) -> bool {
        self.config.max_duration != 0
            && l1_head >= self.opened_at.saturating_add(self.config.max_duration)
    }

    /// Adds the next L2 block. `starts_epoch` says whether it is the first block of its epoch
    /// (its L1-info sequence number is 0); span batches record it for the first block.
    ///
    /// On error the channel is unchanged.
    pub fn add_block(
        &mut self,
        block: &SingleBatch,
        starts_epoch: bool,
    ) -> Result<(), AddBlockError> {
        if let Some(reason) = self.full {
            return Err(AddBlockError::Full(reason));
        }
        let mut next = self.encoder.clone();
        next.push(block, starts_epoch)?;
        let rlp = next.rlp()?;
        let empty = self.blocks.is_empty();
        if rlp.len() > self.config.max_rlp_bytes {
            if empty {
                return Err(AddBlockError::BlockTooLarge("exceeds max_rlp_bytes"));
            }
            self.full = Some(FullReason::RlpLimit);
            return Err(AddBlockError::Full(FullReason::RlpLimit));
        }
        let target = self.config.target();
        let (measured_rlp, measured_compressed) = self.measured;
        let growth = rlp.len().saturating_sub(measured_rlp);
        let bound = measured_compressed + growth + growth / 64 + 64;
        let measured = if bound > target {
            let compressed = self.config.compression.compress(&rlp)?.len();
            if compressed > target {
                if empty && compressed <= self.config.hard_capacity() {
                    // A lone block larger than the target still gets its own channel.
                    self.full = Some(FullReason::Size);
                } else if empty {
                    return Err(AddBlockError::BlockTooLarge("exceeds the frame capacity"));
                } else {
                    self.full = Some(FullReason::Size);
                    return Err(AddBlockError::Full(FullReason::Size));
                }
            }
            (rlp.len(), compressed)
        } else {
            self.measured
        };
        if empty {
            self.starts_epoch = starts_epoch;
        }
        self.encoder = next;
        self.blocks.push(block.clone());
        self.rlp_len = rlp.len();
        self.measured = measured;
        Ok(())
    }

    /// Compresses the channel and splits it into frames. `None` if no block was added.
    pub fn seal(self) -> Result<Option<SealedChannel>, AddBlockError> {
        let Self {
            id,
            config,
            starts_epoch,
            mut blocks,
            mut encoder,
            ..
        } = self;
        let mut returned = Vec::new();
        loop {
            if blocks.is_empty() {
                return Ok(None);
            }
            let rlp = encoder.rlp()?;
            let compressed = config.compression.compress(&rlp)?;
            if compressed.len() > config.hard_capacity() && blocks.len() > 1 {
                // The size bound guessed wrong: give back the last block and re-encode.
                returned.extend(blocks.pop());
                encoder = Encoder::new(config.batch_mode);
                for (i, block) in blocks.iter().enumerate() {
                    encoder.push(block, i == 0 && starts_epoch)?;
                }
                continue;
            }
            if compressed.len() > config.hard_capacity() {
                return Err(AddBlockError::BlockTooLarge("exceeds the frame capacity"));
            }
            returned.reverse();
            let frames = split_frames(id, &compressed, config.frame_data_len());
            return Ok(Some(SealedChannel {
                id,
                frames,
                blocks,
                returned,
                rlp_len: rlp.len(),
                compressed_len: compressed.len(),
            }));
        }
    }
}

/// Splits compressed channel bytes into frames of at most `frame_data_len` data bytes, the
/// last one marked `is_last` (an empty channel is one empty last frame). The caller bounds
/// the count to 65,536 frames.
pub fn split_frames(id: ChannelId, data: &[u8], frame_data_len: usize) -> Vec<Frame> {
    let chunk = frame_data_len.max(1);
    let count = data.len().div_ceil(chunk).max(1);
    (0..count)
        .map(|i| {
            let start = (i * chunk).min(data.len());
            let end = ((i + 1) * chunk).min(data.len());
            Frame {
                channel_id: id,
                number: i as u16,
                data: data[start..end].to_vec().into(),
                is_last: i + 1 == count,
            }
        })
        .collect()
}
