//! The batcher's settings: channel and frame sizes for DA and for the calldata fallback, when a
//! channel is closed, and how long records of included channels are kept.

use ol_da::MAX_PAYLOAD_BYTES;
use ol_primitives::RollupConfig;
use ol_rollup::{
    ChannelConfig, CompressionAlgo,
    channel::{BatchMode, MAX_RLP_BYTES_PER_CHANNEL_FJORD},
    frame::{FRAME_OVERHEAD, MAX_FRAME_LEN},
};
use std::time::Duration;

/// op-batcher's largest calldata frame (its `MaxL1TxSize` default for calldata, 120,000 bytes):
/// small enough that a transaction carrying it stays under geth's 128 KiB transaction pool limit.
pub const DEFAULT_CALLDATA_MAX_TX_SIZE: usize = 120_000;

/// Settings of a [`Batcher`](crate::Batcher).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatcherConfig {
    /// Largest encoded frame (overhead included) in a DA payload.
    ///
    /// Default: 1,000,023 bytes, i.e. 1,000,000 bytes of frame data, the spec's `MAX_FRAME_LEN`
    /// and the largest frame any OP derivation (op-node, kona, ours) accepts. op-batcher caps
    /// Alt-DA frames at 130,672 bytes (`altda.MaxInputSize`), but that cap exists only for keccak
    /// commitments (type 0), whose payload must fit one L1 transaction so that a DA challenge
    /// can be resolved on chain. Our commitments are generic (type 1: EigenDA certificates or the
    /// built-in server's), which the spec exempts; the frames go to DA and only the commitment
    /// goes to L1, and an EigenDA blob holds 16 MiB, so one DA payload carries up to 16 such
    /// frames. With keccak commitments (`PutMode::Keccak`) set this to 130,672 or less and the
    /// channel size to one frame.
    pub max_frame_size: usize,
    /// Compressed bytes at which a channel is closed. Default 16,000,000: sixteen full frames,
    /// one DA payload of 16,000,369 bytes, just under EigenDA's 16 MiB blob.
    pub max_channel_size: usize,
    /// Largest batcher transaction when frames are posted as L1 calldata (DA failover): the
    /// version byte plus one frame. Default [`DEFAULT_CALLDATA_MAX_TX_SIZE`].
    pub calldata_max_tx_size: usize,
    /// L1 blocks after which an open channel is closed even if not full (op-batcher's
    /// `max-channel-duration`); 0 closes it at the next step.
    pub max_channel_age_l1: u64,
    /// Wall time after which an open channel is closed even if not full: the submission interval
    /// when L1 blocks are slow or the chain is quiet.
    pub max_channel_age: Duration,
    /// L1 blocks below the head at which a fully included channel is forgotten: reorgs deeper
    /// than this can no longer make it be resubmitted. Default 64 (two Ethereum epochs, finality).
    pub finality_depth: u64,
    /// Pause between steps when no L1 event arrives.
    pub poll_interval: Duration,
    /// Channel compression; brotli (Fjord channel version byte 1) by default.
    pub compression: CompressionAlgo,
}

impl Default for BatcherConfig {
    fn default() -> Self {
        Self {
            max_frame_size: MAX_FRAME_LEN + FRAME_OVERHEAD,
            max_channel_size: 16 * MAX_FRAME_LEN,
            calldata_max_tx_size: DEFAULT_CALLDATA_MAX_TX_SIZE,
            max_channel_age_l1: 10,
            max_channel_age: Duration::from_secs(60),
            finality_depth: 64,
            poll_interval: Duration::from_secs(1),
            compression: CompressionAlgo::BROTLI_10,
        }
    }
}

impl BatcherConfig {
    /// Frame data bytes per DA frame.
    pub const fn da_frame_data_len(&self) -> usize {
        self.max_frame_size.saturating_sub(FRAME_OVERHEAD)
    }

    /// Frame data bytes per calldata frame (one frame per transaction, after the version byte).
    pub const fn calldata_frame_data_len(&self) -> usize {
        self.calldata_max_tx_size.saturating_sub(1 + FRAME_OVERHEAD)
    }

    /// Frames a full channel needs in a DA payload.
    pub const fn max_da_frames(&self) -> usize {
        self.max_channel_size.div_ceil(self.da_frame_data_len())
    }

    /// The channels these settings make for `rollup`: span batches, this compression, frames
    /// of `max_frame_size`, as many as a channel of `max_channel_size` needs, Fjord's RLP limit.
    /// Channel age is judged by the batcher (L1 blocks and wall time), not by the builder.
    pub fn channel_config(&self, rollup: &RollupConfig) -> ChannelConfig {
        ChannelConfig {
            compression: self.compression,
            batch_mode: BatchMode::Span {
                genesis_timestamp: rollup.genesis.l2_time,
                block_time: rollup.block_time,
                chain_id: rollup.l2_chain_id,
            },
            max_frame_size: self.max_frame_size,
            max_frames: self.max_da_frames(),
            target_size: self.max_channel_size,
            max_rlp_bytes: MAX_RLP_BYTES_PER_CHANNEL_FJORD,
            max_duration: 0,
        }
    }

    /// Checks the settings, with a message an operator can act on.
    pub fn validate(&self) -> Result<(), String> {
        let da_data = self.da_frame_data_len();
        if da_data == 0 || da_data > MAX_FRAME_LEN {
            return Err(format!(
                "max_frame_size must be in ({FRAME_OVERHEAD}, {}]: followers reject larger frames",
                MAX_FRAME_LEN + FRAME_OVERHEAD
            ));
        }
        let calldata_data = self.calldata_frame_data_len();
        if calldata_data == 0 || calldata_data > MAX_FRAME_LEN {
            return Err(format!(
                "calldata_max_tx_size must be in ({}, {}]",
                1 + FRAME_OVERHEAD,
                1 + FRAME_OVERHEAD + MAX_FRAME_LEN
            ));
        }
        if self.max_channel_size == 0 {
            return Err("max_channel_size must be at least 1 byte".into());
        }
        let payload = 1 + self.max_da_frames() * FRAME_OVERHEAD + self.max_channel_size;
        if payload > MAX_PAYLOAD_BYTES {
            return Err(format!(
                "a full channel makes a DA payload of {payload} bytes, over the {MAX_PAYLOAD_BYTES}-byte \
                 limit of EigenDA blobs: lower max_channel_size"
            ));
        }
        let frame_limit = usize::from(u16::MAX);
        if self.max_channel_size.div_ceil(calldata_data) > frame_limit {
            return Err(format!(
                "a full channel needs more than {frame_limit} calldata frames: raise \
                 calldata_max_tx_size or lower max_channel_size"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_one_eigenda_blob_and_validate() {
        let config = BatcherConfig::default();
        config.validate().unwrap();
        assert_eq!(config.da_frame_data_len(), MAX_FRAME_LEN);
        assert_eq!(config.max_da_frames(), 16);
        assert_eq!(config.calldata_frame_data_len(), 120_000 - 24);
    }

    #[test]
    fn bad_sizes_are_refused() {
        let bad = [
            BatcherConfig {
                max_frame_size: FRAME_OVERHEAD,
                ..BatcherConfig::default()
            },
            BatcherConfig {
                max_frame_size: MAX_FRAME_LEN + FRAME_OVERHEAD + 1,
                ..BatcherConfig::default()
            },
            BatcherConfig {
                calldata_max_tx_size: 24,
                ..BatcherConfig::default()
            },
            BatcherConfig {
                max_channel_size: 17 * MAX_FRAME_LEN,
                ..BatcherConfig::default()
            },
            BatcherConfig {
                max_channel_size: 0,
                ..BatcherConfig::default()
            },
            BatcherConfig {
                calldata_max_tx_size: 25,
                ..BatcherConfig::default()
            },
        ];
        for config in bad {
            assert!(config.validate().is_err(), "{config:?}");
        }
    }
}
