//! The batcher of the OpenLedger rollup.
//!
//! This crate owns the path of sealed L2 blocks to L1: reading them from the node's database
//! (user transactions only; deposits are derived from L1), building brotli span-batch channels
//! (Fjord channel version byte) with configurable channel and frame sizes and channel age,
//! posting each channel's frames to DA and the returned commitment to the batch inbox as
//! `0x01 ++ commitment` from the batcher key, falling back to L1 calldata (`0x00 ++ frame`) when
//! DA answers 503, persisting its progress in its own database so that a restart neither loses
//! nor repeats a block, and tracking inclusion so that what an L1 reorg or a channel timeout
//! drops is batched again. Metrics: `batcher_blocks_batched_total`,
//! `batcher_channels_sealed_total`, `batcher_da_bytes_total`, `batcher_l1_txs_total`,
//! `batcher_calldata_fallbacks_total`, `batcher_resubmitted_blocks_total`,
//! `batcher_rebroadcasts_total`, `batcher_step_errors_total`.

mod batcher;
mod blocks;
pub use blocks::{BlockMeta, read_block};
mod config;
mod error;
pub mod store;

pub use batcher::{Batcher, StepReport};
pub use config::{BatcherConfig, DEFAULT_CALLDATA_MAX_TX_SIZE};
pub use error::BatcherError;
pub use store::{BatcherStore, ChannelRecord, Cursor, Plan, TxRecord};
