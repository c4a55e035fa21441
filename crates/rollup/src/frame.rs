//! Channel frames and the batcher-transaction payload that carries them.
//!
//! A frame is `channel_id(16) ++ frame_number(u16 BE) ++ frame_data_length(u32 BE) ++ frame_data
//! ++ is_last(u8)` (specs `protocol/derivation.md`, "Frame Format"). A batcher transaction (or a
//! DA payload) is `derivation_version ++ frames...`; version `0x00` carries frames directly and
//! version `0x01` carries an Alt-DA commitment whose resolution belongs to the DA crate.

use alloy_primitives::{B128, Bytes};

/// Batcher-transaction version byte for frames carried inline (calldata or a DA payload).
pub const DERIVATION_VERSION_0: u8 = 0x00;

/// Batcher-transaction version byte for an Alt-DA commitment (`0x01 ++ commitment`).
pub const ALT_DA_VERSION_1: u8 = 0x01;

/// Largest `frame_data` the derivation spec accepts.
pub const MAX_FRAME_LEN: usize = 1_000_000;

/// Fixed bytes of a frame around its data: 16 (channel id) + 2 (number) + 4 (length) + 1 (is_last).
pub const FRAME_OVERHEAD: usize = 23;

/// The opaque channel identifier; batchers pick it at random.
pub type ChannelId = B128;

/// One frame of a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The channel this frame belongs to.
    pub channel_id: ChannelId,
    /// Index of the frame within its channel.
    pub number: u16,
    /// This frame's slice of the compressed channel.
    pub data: Bytes,
    /// Whether this is the channel's closing frame.
    pub is_last: bool,
}

/// Why bytes do not parse as frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The input ended inside a frame.
    #[error("truncated frame: needed {needed} bytes, {available} left")]
    Truncated {
        /// Bytes the frame still needed.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// `frame_data_length` exceeds [`MAX_FRAME_LEN`].
    #[error("frame data of {0} bytes exceeds the {MAX_FRAME_LEN}-byte limit")]
    TooLarge(usize),
    /// `is_last` was neither 0 nor 1.
    #[error("invalid is_last byte {0:#04x}")]
    InvalidIsLast(u8),
    /// Bytes remained after a single frame.
    #[error("{0} trailing bytes after the frame")]
    TrailingBytes(usize),
    /// The batcher payload was empty.
    #[error("empty batcher payload")]
    Empty,
    /// The batcher payload carried no frame after its version byte.
    #[error("batcher payload has no frames")]
    NoFrames,
    /// The batcher payload's version byte is not [`DERIVATION_VERSION_0`].
    #[error("unsupported derivation version {0:#04x}")]
    UnknownVersion(u8),
}

impl Frame {
    /// Size of this frame on the wire.
    pub fn encoded_len(&self) -> usize {
        FRAME_OVERHEAD + self.data.len()
    }

    /// Appends the wire encoding of this frame to `out`.
    ///
    /// Frames with more than [`MAX_FRAME_LEN`] bytes of data are refused, so that nothing this
    /// crate writes is something it would reject when reading.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), FrameError> {
        if self.data.len() > MAX_FRAME_LEN {
            return Err(FrameError::TooLarge(self.data.len()));
        }
        out.reserve(self.encoded_len());
        out.extend_from_slice(self.channel_id.as_slice());
        out.extend_from_slice(&self.number.to_be_bytes());
        // Fits: bounded by MAX_FRAME_LEN above.
        out.extend_from_slice(&(self.data.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.data);
        out.push(u8::from(self.is_last));
        Ok(())
    }

    /// The wire encoding of this frame.
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Decodes one frame from the front of `buf` and advances it past the frame.
    pub fn decode(buf: &mut &[u8]) -> Result<Self, FrameError> {
        let channel_id = ChannelId::from_slice(take(buf, 16)?);
        let number = u16::from_be_bytes(take_array(buf)?);
        let len = u32::from_be_bytes(take_array(buf)?) as usize;
        if len > MAX_FRAME_LEN {
            return Err(FrameError::TooLarge(len));
        }
        let data = Bytes::copy_from_slice(take(buf, len)?);
        let is_last = match take_array::<1>(buf)?[0] {
            0 => false,
            1 => true,
            other => return Err(FrameError::InvalidIsLast(other)),
        };
        Ok(Self {
            channel_id,
            number,
            data,
            is_last,
        })
    }

    /// Decodes exactly one frame spanning all of `bytes`.
    pub fn decode_exact(bytes: &[u8]) -> Result<Self, FrameError> {
        let mut buf = bytes;
        let frame = Self::decode(&mut buf)?;
        if !buf.is_empty() {
            return Err(FrameError::TrailingBytes(buf.len()));
        }
        Ok(frame)
    }
}

/// Parses a version-0 batcher payload (`0x00 ++ frame ++ frame ...`) into its frames.
///
/// As the spec requires, one malformed frame rejects the whole payload. Version `0x01` (Alt-DA)
/// payloads are reported as [`FrameError::UnknownVersion`]: they must be resolved through DA
/// first, and the resolved data is again a version-0 payload.
pub fn parse_batcher_payload(payload: &[u8]) -> Result<Vec<Frame>, FrameError> {
    let (&version, mut rest) = payload.split_first().ok_or(FrameError::Empty)?;
    if version != DERIVATION_VERSION_0 {
        return Err(FrameError::UnknownVersion(version));
    }
    if rest.is_empty() {
        return Err(FrameError::NoFrames);
    }
    let mut frames = Vec::new();
    while !rest.is_empty() {
        frames.push(Frame::decode(&mut rest)?);
    }
    Ok(frames)
}

/// Encodes frames as a version-0 batcher payload.
pub fn encode_batcher_payload(frames: &[Frame]) -> Result<Vec<u8>, FrameError> {
    if frames.is_empty() {
        return Err(FrameError::NoFrames);
    }
    let mut out = Vec::with_capacity(1 + frames.iter().map(Frame::encoded_len).sum::<usize>());
    out.push(DERIVATION_VERSION_0);
    for frame in frames {
        frame.encode_into(&mut out)?;
    }
    Ok(out)
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8], FrameError> {
    if buf.len() < n {
        return Err(FrameError::Truncated {
            needed: n,
            available: buf.len(),
        });
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}

fn take_array<const N: usize>(buf: &mut &[u8]) -> Result<[u8; N], FrameError> {
    let mut out = [0u8; N];
    out.copy_from_slice(take(buf, N)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(number: u16, data: &[u8], is_last: bool) -> Frame {
        Frame {
            channel_id: ChannelId::repeat_byte(0xab),
            number,
            data: Bytes::copy_from_slice(data),
            is_last,
        }
    }

    #[test]
    fn layout_matches_spec() {
        let encoded = frame(0x0102, b"xyz", true).encode().unwrap();
        let mut expected = vec![0xab; 16];
        expected.extend_from_slice(&[0x01, 0x02, 0, 0, 0, 3, b'x', b'y', b'z', 1]);
        assert_eq!(encoded, expected);
        assert_eq!(encoded.len(), FRAME_OVERHEAD + 3);
    }

    #[test]
    fn rejects_bad_is_last() {
        let mut encoded = frame(0, b"a", false).encode().unwrap();
        *encoded.last_mut().unwrap() = 2;
        assert_eq!(
            Frame::decode_exact(&encoded),
            Err(FrameError::InvalidIsLast(2))
        );
    }

    #[test]
    fn rejects_oversized_length_before_reading_data() {
        let mut encoded = vec![0u8; 18];
        encoded.extend_from_slice(&(MAX_FRAME_LEN as u32 + 1).to_be_bytes());
        assert_eq!(
            Frame::decode_exact(&encoded),
            Err(FrameError::TooLarge(MAX_FRAME_LEN + 1))
        );
        let big = frame(0, &vec![0; MAX_FRAME_LEN + 1], true);
        assert_eq!(big.encode(), Err(FrameError::TooLarge(MAX_FRAME_LEN + 1)));
    }

    #[test]
    fn accepts_max_len() {
        let max = frame(7, &vec![9; MAX_FRAME_LEN], false);
        assert_eq!(Frame::decode_exact(&max.encode().unwrap()).unwrap(), max);
    }

    #[test]
    fn payload_errors() {
        assert_eq!(parse_batcher_payload(&[]), Err(FrameError::Empty));
        assert_eq!(parse_batcher_payload(&[0]), Err(FrameError::NoFrames));
        assert_eq!(
            parse_batcher_payload(&[1, 2, 3]),
            Err(FrameError::UnknownVersion(1))
        );
        let mut payload = encode_batcher_payload(&[frame(0, b"a", false)]).unwrap();
        payload.push(0xff);
        assert!(matches!(
            parse_batcher_payload(&payload),
            Err(FrameError::Truncated { .. })
        ));
    }

    proptest! {
        #[test]
        fn roundtrip(frames in proptest::collection::vec(
            (any::<[u8; 16]>(), any::<u16>(), proptest::collection::vec(any::<u8>(), 0..300), any::<bool>()),
            1..8,
        )) {
            let frames: Vec<Frame> = frames
                .into_iter()
                .map(|(id, number, data, is_last)| Frame {
                    channel_id: ChannelId::from(id),
                    number,
                    data: data.into(),
                    is_last,
                })
                .collect();
            let payload = encode_batcher_payload(&frames).unwrap();
            prop_assert_eq!(&parse_batcher_payload(&payload).unwrap(), &frames);
            for f in &frames {
                let bytes = f.encode().unwrap();
                prop_assert_eq!(&Frame::decode_exact(&bytes).unwrap(), f);
                // Every strict prefix is a truncation error, never a panic.
                for cut in 0..bytes.len() {
                    let is_truncated =
                        matches!(Frame::decode_exact(&bytes[..cut]), Err(FrameError::Truncated { .. }));
                    prop_assert!(is_truncated);
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_batcher_payload(&bytes);
            let _ = Frame::decode_exact(&bytes);
        }
    }
}
