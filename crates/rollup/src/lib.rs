//! The rollup's wire formats, from an L2 block to the bytes a batcher posts and back.
//!
//! This crate owns the OP Stack batch-submission encoding as the derivation spec defines it:
//! [`frame`]s (the unit carried by a batcher transaction), [`channel`]s (compressed batch streams
//! split into frames, built by the batcher and reassembled by followers), [`batch`]es (singular
//! and span), and the [`output_root()`] commitment the proposer posts. It does no I/O: callers
//! hand it bytes and L1 block numbers, and every malformed input is an error, never a panic.

pub mod batch;
pub mod channel;
pub mod compression;
pub mod frame;
pub mod output_root;
mod varint;

pub use batch::{Batch, BatchError, BatchType, SingleBatch};
pub use channel::{ChannelBank, ChannelBuilder, ChannelConfig, ChannelReader};
pub use compression::{CompressionAlgo, CompressionError};
pub use frame::{ChannelId, Frame, FrameError};
pub use output_root::output_root;
