//! Channels: compressed streams of batches, split into frames.
//!
//! The batcher side is the [`ChannelBuilder`] (blocks in, sealed frames out); the follower
//! side is the [`ChannelBank`] (frames in any order, complete channels out; before Holocene) or
//! the [`ChannelAssembler`] (frames strictly in order; from Holocene on), followed by the
//! [`ChannelReader`] (channel bytes in, batches out).

mod assembler;
mod bank;
mod builder;
mod reader;

pub use assembler::{AssemblerDrop, ChannelAssembler, ChannelAssemblerConfig};
pub use bank::{ChannelBank, ChannelBankConfig, FrameRejected, ReadyChannel};
pub use builder::{
    AddBlockError, BatchMode, ChannelBuilder, ChannelConfig, FullReason, SealedChannel,
    split_frames,
};
pub use reader::{ChannelError, ChannelReader};

/// `MAX_RLP_BYTES_PER_CHANNEL` before Fjord: the most decompressed bytes a channel may yield.
pub const MAX_RLP_BYTES_PER_CHANNEL_BEDROCK: usize = 10_000_000;

/// `MAX_RLP_BYTES_PER_CHANNEL` from Fjord on.
pub const MAX_RLP_BYTES_PER_CHANNEL_FJORD: usize = 100_000_000;

/// `MAX_CHANNEL_BANK_SIZE` before Fjord.
pub const MAX_CHANNEL_BANK_SIZE_BEDROCK: usize = 100_000_000;

/// `MAX_CHANNEL_BANK_SIZE` from Fjord on.
pub const MAX_CHANNEL_BANK_SIZE_FJORD: usize = 1_000_000_000;

/// `CHANNEL_TIMEOUT` in L1 blocks, a constant since Granite.
pub const CHANNEL_TIMEOUT_GRANITE: u64 = 50;

/// Bytes the channel bank charges per buffered frame on top of its data, when pruning.
pub const CHANNEL_BANK_FRAME_OVERHEAD: usize = 200;
