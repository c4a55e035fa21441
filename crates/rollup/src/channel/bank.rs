//! The channel bank: buffers frames per channel until a channel is complete.
//!
//! Rules from specs `protocol/derivation.md` ("Channel Bank"), with Canyon's read order:
//! channels are kept in FIFO order of first sight, tagged with the L1 block that opened them;
//! frames for a timed-out channel, duplicate frame numbers, a second closing frame and frames
//! past the closing one are dropped; a closing frame drops buffered frames numbered above it;
//! after each insertion the oldest channels are pruned until the bank fits its size limit; a
//! read drops timed-out channels at the front and returns the first complete one.

use super::{CHANNEL_BANK_FRAME_OVERHEAD, CHANNEL_TIMEOUT_GRANITE, MAX_CHANNEL_BANK_SIZE_FJORD};
use crate::frame::{ChannelId, Frame};
use alloy_primitives::Bytes;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Limits of a [`ChannelBank`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelBankConfig {
    /// L1 blocks a channel may stay open (`CHANNEL_TIMEOUT`).
    pub channel_timeout: u64,
    /// Buffered bytes (frame data plus 200 per frame) before the oldest channels go.
    pub max_size: usize,
}

impl Default for ChannelBankConfig {
    fn default() -> Self {
        Self {
            channel_timeout: CHANNEL_TIMEOUT_GRANITE,
            max_size: MAX_CHANNEL_BANK_SIZE_FJORD,
        }
    }
}

/// Why the bank dropped a frame. Dropping is normal protocol behaviour, not a fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameRejected {
    /// The frame's channel opened more than `channel_timeout` L1 blocks ago.
    #[error("channel {0} timed out")]
    TimedOut(ChannelId),
    /// A frame with this number is already buffered.
    #[error("duplicate frame {number} of channel {channel}")]
    Duplicate {
        /// The channel.
        channel: ChannelId,
        /// The frame number.
        number: u16,
    },
    /// The channel already has a closing frame.
    #[error("second closing frame {number} of channel {channel}")]
    DuplicateClose {
        /// The channel.
        channel: ChannelId,
        /// The frame number.
        number: u16,
    },
    /// The frame comes after the channel's closing frame.
    #[error("frame {number} after closing frame {last} of channel {channel}")]
    AfterLast {
        /// The channel.
        channel: ChannelId,
        /// The frame number.
        number: u16,
        /// The closing frame's number.
        last: u16,
    },
}

/// A complete channel taken out of the bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyChannel {
    /// The channel id.
    pub id: ChannelId,
    /// The concatenated frame data: the compressed channel.
    pub data: Vec<u8>,
    /// L1 block number at which the channel was opened.
    pub opened_at: u64,
    /// L1 block number of the latest frame that went in (the batch inclusion block).
    pub completed_at: u64,
}

#[derive(Debug)]
struct PendingChannel {
    opened_at: u64,
    latest_frame_at: u64,
    frames: BTreeMap<u16, Bytes>,
    last: Option<u16>,
    size: usize,
}

impl PendingChannel {
    fn is_ready(&self) -> bool {
        // Frames are keyed 0..: complete when the count reaches last + 1.
        self.last
            .is_some_and(|last| self.frames.len() == usize::from(last) + 1)
    }
}

/// Buffers frames until channels are complete.
#[derive(Debug, Default)]
pub struct ChannelBank {
    config: ChannelBankConfig,
    channels: HashMap<ChannelId, PendingChannel>,
    queue: VecDeque<ChannelId>,
    size: usize,
}

impl ChannelBank {
    /// An empty bank.
    pub fn new(config: ChannelBankConfig) -> Self {
        Self {
            config,
            ..Default::default()
        }
    }

    /// Buffered bytes, as counted for pruning.
    pub const fn size(&self) -> usize {
        self.size
    }

    /// Channels buffered.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no channel is buffered.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    fn timed_out(&self, channel: &PendingChannel, l1_block: u64) -> bool {
        l1_block
            > channel
                .opened_at
                .saturating_add(self.config.channel_timeout)
    }

    /// Adds a frame read from L1 block `l1_block`.
    pub fn add_frame(&mut self, frame: Frame, l1_block: u64) -> Result<(), FrameRejected> {
        let id = frame.channel_id;
        match self.channels.get(&id) {
            Some(existing) if self.timed_out(existing, l1_block) => {
                return Err(FrameRejected::TimedOut(id));
            }
            Some(_) => {}
            None => self.queue.push_back(id),
        }
        let channel = self.channels.entry(id).or_insert_with(|| PendingChannel {
            opened_at: l1_block,
            latest_frame_at: l1_block,
            frames: BTreeMap::new(),
            last: None,
            size: 0,
        });
        let number = frame.number;
        if channel.frames.contains_key(&number) {
            return Err(FrameRejected::Duplicate {
                channel: id,
                number,
            });
        }
        match channel.last {
            Some(_) if frame.is_last => {
                return Err(FrameRejected::DuplicateClose {
                    channel: id,
                    number,
                });
            }
            Some(last) if number > last => {
                return Err(FrameRejected::AfterLast {
                    channel: id,
                    number,
                    last,
                });
            }
            _ => {}
        }
        if frame.is_last {
            channel.last = Some(number);
            let dropped = number
                .checked_add(1)
                .map(|above| channel.frames.split_off(&above))
                .unwrap_or_default();
            let freed: usize = dropped
                .values()
                .map(|d| d.len() + CHANNEL_BANK_FRAME_OVERHEAD)
                .sum();
            channel.size -= freed;
            self.size -= freed;
        }
        let added = frame.data.len() + CHANNEL_BANK_FRAME_OVERHEAD;
        channel.frames.insert(number, frame.data);
        channel.latest_frame_at = channel.latest_frame_at.max(l1_block);
        channel.size += added;
        self.size += added;
        self.prune();
        Ok(())
    }

    fn prune(&mut self) {
        while self.size > self.config.max_size {
            let Some(id) = self.queue.pop_front() else {
                break;
            };
            if let Some(channel) = self.channels.remove(&id) {
                self.size -= channel.size;
            }
        }
    }

    /// Takes out the first complete, not timed-out channel, as seen from L1 block `l1_block`.
    ///
    /// Timed-out channels at the front of the queue are discarded on the way.
    pub fn read(&mut self, l1_block: u64) -> Option<ReadyChannel> {
        while let Some(&id) = self.queue.front() {
            let expired = self
                .channels
                .get(&id)
                .is_none_or(|c| self.timed_out(c, l1_block));
            if !expired {
                break;
            }
            self.queue.pop_front();
            if let Some(channel) = self.channels.remove(&id) {
                self.size -= channel.size;
            }
        }
        let position = self.queue.iter().position(|id| {
            self.channels
                .get(id)
                .is_some_and(|c| c.is_ready() && !self.timed_out(c, l1_block))
        })?;
        let id = self.queue.remove(position)?;
        let channel = self.channels.remove(&id)?;
        self.size -= channel.size;
        let mut data = Vec::with_capacity(channel.frames.values().map(|f| f.len()).sum());
        for frame in channel.frames.values() {
            data.extend_from_slice(frame);
        }
        Some(ReadyChannel {
            id,
            data,
            opened_at: channel.opened_at,
            completed_at: channel.latest_frame_at,
        })
    }
}
