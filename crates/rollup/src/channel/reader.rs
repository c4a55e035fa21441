//! Reading batches out of a complete channel.
//!
//! The channel is decompressed up to `MAX_RLP_BYTES_PER_CHANNEL`; batches lying wholly within
//! the output are returned in order, and the first malformed batch, corrupt stream or limit ends
//! the channel (specs `protocol/derivation.md`, "Channel Format", "Channel Reader").

use crate::{
    batch::{Batch, BatchError},
    compression::{CompressionError, StreamEnd, decompress},
};

/// Why a channel yields no more batches.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// The channel bytes are not a known compressed stream.
    #[error(transparent)]
    Compression(#[from] CompressionError),
    /// A batch in the stream is malformed.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// The decompressed stream reached `MAX_RLP_BYTES_PER_CHANNEL`.
    #[error("channel decompresses past {limit} bytes")]
    RlpLimitExceeded {
        /// The limit in force.
        limit: usize,
    },
    /// The compressed stream is corrupt or incomplete.
    #[error("corrupt channel stream: {0}")]
    Corrupt(String),
}

/// Iterates over the batches of one channel.
#[derive(Debug)]
pub struct ChannelReader {
    data: Vec<u8>,
    pos: usize,
    end: StreamEnd,
    limit: usize,
    done: bool,
}

impl ChannelReader {
    /// Decompresses a channel, keeping at most `max_rlp_bytes` of output.
    ///
    /// `brotli_allowed` is whether Fjord is active where the channel was read.
    pub fn new(
        channel: &[u8],
        max_rlp_bytes: usize,
        brotli_allowed: bool,
    ) -> Result<Self, ChannelError> {
        let out = decompress(channel, max_rlp_bytes, brotli_allowed)?;
        Ok(Self {
            data: out.data,
            pos: 0,
            end: out.end,
            limit: max_rlp_bytes,
            done: false,
        })
    }

    /// Decompressed bytes of the channel.
    pub fn decompressed_len(&self) -> usize {
        self.data.len()
    }

    /// What ended the stream: a cut-short batch is reported as that cause, not as bad RLP.
    fn end_error(&self) -> Option<ChannelError> {
        match &self.end {
            StreamEnd::Complete => None,
            StreamEnd::LimitReached => Some(ChannelError::RlpLimitExceeded { limit: self.limit }),
            StreamEnd::Corrupt(reason) => Some(ChannelError::Corrupt(reason.clone())),
        }
    }
}

impl Iterator for ChannelReader {
    type Item = Result<Batch, ChannelError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut buf = &self.data[self.pos..];
        if buf.is_empty() {
            self.done = true;
            return self.end_error().map(Err);
        }
        match Batch::decode_channel_item(&mut buf) {
            Ok(batch) => {
                self.pos = self.data.len() - buf.len();
                Some(Ok(batch))
            }
            Err(err) => {
                self.done = true;
                let cut_short = matches!(err, BatchError::Rlp(alloy_rlp::Error::InputTooShort));
                Some(Err(match self.end_error() {
                    Some(end) if cut_short => end,
                    _ => err.into(),
                }))
            }
        }
    }
}
