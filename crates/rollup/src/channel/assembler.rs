//! The Holocene channel assembler: one channel at a time, frames strictly in order.
//!
//! From Holocene on, the channel bank is replaced by an assembler that holds a single channel
//! (specs `protocol/holocene/derivation.md`, "Frame Queue" and "Channel Bank" changes, as
//! op-node's `ChannelAssembler` implements them): a channel must start with frame 0; each next
//! frame must be the previous number plus one; frame 0 of another channel abandons the open one
//! (nothing older can complete any more); any other out-of-order frame is dropped; a channel
//! times out `channel_timeout` L1 blocks after it opened; one whose size (data plus 200 per
//! frame) exceeds the RLP limit is dropped. The closing frame hands the channel out immediately.

use super::{
    CHANNEL_BANK_FRAME_OVERHEAD, CHANNEL_TIMEOUT_GRANITE, MAX_RLP_BYTES_PER_CHANNEL_FJORD,
    bank::ReadyChannel,
};
use crate::frame::{ChannelId, Frame};

/// Limits of a [`ChannelAssembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelAssemblerConfig {
    /// L1 blocks a channel may stay open (`CHANNEL_TIMEOUT`).
    pub channel_timeout: u64,
    /// Most bytes a channel may gather (`MAX_RLP_BYTES_PER_CHANNEL`), counting its frame data
    /// plus 200 per frame as op-node's channel size does.
    pub max_channel_size: usize,
}

impl Default for ChannelAssemblerConfig {
    fn default() -> Self {
        Self {
            channel_timeout: CHANNEL_TIMEOUT_GRANITE,
            max_channel_size: MAX_RLP_BYTES_PER_CHANNEL_FJORD,
        }
    }
}

/// Why the assembler dropped a frame or a channel. Dropping is protocol behaviour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssemblerDrop {
    /// A frame other than 0 for a channel that is not open.
    #[error("frame {number} of channel {channel} does not start a channel")]
    NotFirstFrame {
        /// The frame's channel.
        channel: ChannelId,
        /// The frame number.
        number: u16,
    },
    /// A frame out of sequence for the open channel.
    #[error("frame {number} of channel {channel}, expected {expected}")]
    OutOfOrder {
        /// The channel.
        channel: ChannelId,
        /// The frame number.
        number: u16,
        /// The number the channel expected.
        expected: u32,
    },
    /// The open channel timed out; it was discarded along with this frame.
    #[error("channel {0} timed out")]
    TimedOut(ChannelId),
    /// The open channel grew past the size limit and was discarded.
    #[error("channel {0} exceeds the size limit")]
    TooLarge(ChannelId),
}

#[derive(Debug)]
struct OpenChannel {
    id: ChannelId,
    opened_at: u64,
    latest_frame_at: u64,
    next: u32,
    data: Vec<u8>,
    size: usize,
}

/// Assembles channels from in-order frames.
#[derive(Debug, Default)]
pub struct ChannelAssembler {
    config: ChannelAssemblerConfig,
    open: Option<OpenChannel>,
}

impl ChannelAssembler {
    /// An empty assembler.
    pub fn new(config: ChannelAssemblerConfig) -> Self {
        Self { config, open: None }
    }

    /// The id of the channel being assembled.
    pub fn open_channel(&self) -> Option<ChannelId> {
        self.open.as_ref().map(|c| c.id)
    }

    /// Drops the channel being assembled (on a pipeline reset).
    pub fn reset(&mut self) {
        self.open = None;
    }

    /// Feeds the next frame, read from L1 block `l1_block`; returns a channel it completes.
    pub fn add_frame(
        &mut self,
        frame: Frame,
        l1_block: u64,
    ) -> Result<Option<ReadyChannel>, AssemblerDrop> {
        if let Some(open) = &self.open
            && l1_block > open.opened_at.saturating_add(self.config.channel_timeout)
        {
            let id = open.id;
            self.open = None;
            if frame.channel_id == id {
                return Err(AssemblerDrop::TimedOut(id));
            }
        }
        let channel = frame.channel_id;
        let number = frame.number;
        match &mut self.open {
            Some(open) if open.id == channel => {
                if u32::from(number) != open.next {
                    return Err(AssemblerDrop::OutOfOrder {
                        channel,
                        number,
                        expected: open.next,
                    });
                }
            }
            _ if number == 0 => {
                self.open = Some(OpenChannel {
                    id: channel,
                    opened_at: l1_block,
                    latest_frame_at: l1_block,
                    next: 0,
                    data: Vec::new(),
                    size: 0,
                });
            }
            _ => return Err(AssemblerDrop::NotFirstFrame { channel, number }),
        }
        let Some(open) = self.open.as_mut() else {
            return Ok(None);
        };
        open.data.extend_from_slice(&frame.data);
        open.size += frame.data.len() + CHANNEL_BANK_FRAME_OVERHEAD;
        open.next += 1;
        open.latest_frame_at = l1_block;
        if open.size > self.config.max_channel_size {
            self.open = None;
            return Err(AssemblerDrop::TooLarge(channel));
        }
        if !frame.is_last {
            return Ok(None);
        }
        Ok(self.open.take().map(|open| ReadyChannel {
            id: open.id,
            data: open.data,
            opened_at: open.opened_at,
            completed_at: open.latest_frame_at,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(id: u8, number: u16, is_last: bool, data: &[u8]) -> Frame {
        Frame {
            channel_id: ChannelId::repeat_byte(id),
            number,
            data: data.to_vec().into(),
            is_last,
        }
    }

    #[test]
    fn in_order_frames_complete_a_channel() {
        let mut asm = ChannelAssembler::new(ChannelAssemblerConfig::default());
        assert_eq!(asm.add_frame(frame(1, 0, false, b"ab"), 5), Ok(None));
        let ready = asm.add_frame(frame(1, 1, true, b"c"), 6).unwrap().unwrap();
        assert_eq!(
            (ready.data.as_slice(), ready.opened_at, ready.completed_at),
            (&b"abc"[..], 5, 6)
        );
        assert_eq!(asm.open_channel(), None);
    }

    #[test]
    fn out_of_order_and_foreign_frames_are_dropped() {
        let mut asm = ChannelAssembler::new(ChannelAssemblerConfig::default());
        let one = ChannelId::repeat_byte(1);
        assert_eq!(
            asm.add_frame(frame(1, 1, false, b"x"), 1),
            Err(AssemblerDrop::NotFirstFrame {
                channel: one,
                number: 1
            })
        );
        asm.add_frame(frame(1, 0, false, b"a"), 1).unwrap();
        assert_eq!(
            asm.add_frame(frame(1, 2, true, b"x"), 1),
            Err(AssemblerDrop::OutOfOrder {
                channel: one,
                number: 2,
                expected: 1
            })
        );
        assert_eq!(
            asm.add_frame(frame(1, 0, false, b"x"), 1),
            Err(AssemblerDrop::OutOfOrder {
                channel: one,
                number: 0,
                expected: 1
            })
        );
        // A new channel's first frame abandons the open one.
        asm.add_frame(frame(2, 0, false, b"n"), 2).unwrap();
        assert_eq!(asm.open_channel(), Some(ChannelId::repeat_byte(2)));
        assert!(asm.add_frame(frame(1, 1, true, b"b"), 2).is_err());
        assert_eq!(
            asm.add_frame(frame(2, 1, true, b"ew"), 2)
                .unwrap()
                .unwrap()
                .data,
            b"new"
        );
    }

    #[test]
    fn timeout_and_size_limit_drop_the_channel() {
        let mut asm = ChannelAssembler::new(ChannelAssemblerConfig {
            channel_timeout: 2,
            max_channel_size: 404,
        });
        asm.add_frame(frame(1, 0, false, b"a"), 10).unwrap();
        assert_eq!(
            asm.add_frame(frame(1, 1, true, b"b"), 13),
            Err(AssemblerDrop::TimedOut(ChannelId::repeat_byte(1)))
        );
        assert_eq!(asm.open_channel(), None);
        asm.add_frame(frame(3, 0, false, b"abc"), 20).unwrap();
        assert_eq!(
            asm.add_frame(frame(3, 1, false, b"de"), 20),
            Err(AssemblerDrop::TooLarge(ChannelId::repeat_byte(3)))
        );
        assert_eq!(asm.open_channel(), None);
    }
}
