//! Channel compression: zlib (Bedrock) and brotli with the Fjord channel version byte.
//!
//! A Fjord channel is `0x01 ++ brotli_stream`; a legacy channel is a bare zlib stream, whose
//! first (CMF) byte has low nibble 8 (deflate) or 15 (reserved), which is how a reader tells them
//! apart (specs `protocol/fjord/derivation.md`). Decompression output is capped so that a small
//! channel cannot expand into unbounded memory (a zip bomb); data past the cap is not read.

use std::io::{Read, Write};

/// Channel version byte of a brotli-compressed (Fjord) channel.
pub const CHANNEL_VERSION_BROTLI: u8 = 0x01;

/// Brotli window (log2 bytes); 22 is the brotli default and what op-batcher's writer uses.
const BROTLI_LGWIN: u32 = 22;

/// Internal buffer size of the brotli streams.
const BROTLI_BUFFER: usize = 64 * 1024;

/// A compression algorithm and level for building channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompressionAlgo {
    /// RFC 1950 zlib at `level` (0–9); readable by every fork.
    Zlib {
        /// zlib level, 0 (store) to 9 (best).
        level: u32,
    },
    /// RFC 7932 brotli at `quality` (0–11) behind the Fjord version byte.
    Brotli {
        /// brotli quality, 0 (fastest) to 11 (smallest).
        quality: u32,
    },
}

impl CompressionAlgo {
    /// Brotli at quality 10, op-batcher's `brotli` setting.
    pub const BROTLI_10: Self = Self::Brotli { quality: 10 };
    /// zlib at level 9, what op-batcher's zlib compressor uses.
    pub const ZLIB_BEST: Self = Self::Zlib { level: 9 };

    /// Compresses `data` into channel bytes (with the version byte for brotli).
    pub fn compress(&self, data: &[u8]) -> Result<Vec<u8>, CompressionError> {
        let io_err = |e: std::io::Error| CompressionError::Io(e.to_string());
        match *self {
            Self::Zlib { level } => {
                let mut encoder = flate2::write::ZlibEncoder::new(
                    Vec::with_capacity(data.len() / 2),
                    flate2::Compression::new(level.min(9)),
                );
                encoder.write_all(data).map_err(io_err)?;
                encoder.finish().map_err(io_err)
            }
            Self::Brotli { quality } => {
                let mut out = Vec::with_capacity(data.len() / 2 + 1);
                out.push(CHANNEL_VERSION_BROTLI);
                let mut writer = brotli::CompressorWriter::new(
                    out,
                    BROTLI_BUFFER,
                    quality.min(11),
                    BROTLI_LGWIN,
                );
                writer.write_all(data).map_err(io_err)?;
                writer.flush().map_err(io_err)?;
                Ok(writer.into_inner())
            }
        }
    }
}

/// Why channel bytes cannot be decompressed at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompressionError {
    /// The channel had no bytes.
    #[error("empty channel")]
    Empty,
    /// The first byte is neither a zlib header nor a known channel version.
    #[error("unknown channel version byte {0:#04x}")]
    UnknownVersion(u8),
    /// A brotli channel appeared before Fjord.
    #[error("brotli channel before Fjord")]
    BrotliNotActive,
    /// Writing the compressed stream failed.
    #[error("compression failed: {0}")]
    Io(String),
}

/// How a decompression ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEnd {
    /// The compressed stream ended normally within the limit.
    Complete,
    /// The output reached the limit; the rest of the stream was not read.
    LimitReached,
    /// The stream is corrupt or ends early; the output holds what came before the fault.
    Corrupt(String),
}

/// Decompressed channel bytes and how the stream ended.
///
/// Like op-node, readers use the bytes that decompressed before a fault or the limit: batches
/// wholly inside them are valid, and the fault only ends the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decompressed {
    /// Output, at most the limit passed to [`decompress`].
    pub data: Vec<u8>,
    /// Why the output ends where it does.
    pub end: StreamEnd,
}

/// Decompresses channel bytes, writing at most `max_output` bytes.
///
/// `brotli_allowed` is whether Fjord is active at the L1 block the channel was read from.
pub fn decompress(
    channel: &[u8],
    max_output: usize,
    brotli_allowed: bool,
) -> Result<Decompressed, CompressionError> {
    let &first = channel.first().ok_or(CompressionError::Empty)?;
    if first & 0x0f == 8 || first & 0x0f == 15 {
        Ok(read_limited(
            flate2::read::ZlibDecoder::new(channel),
            max_output,
        ))
    } else if first == CHANNEL_VERSION_BROTLI {
        if !brotli_allowed {
            return Err(CompressionError::BrotliNotActive);
        }
        Ok(read_limited(
            brotli::Decompressor::new(&channel[1..], BROTLI_BUFFER),
            max_output,
        ))
    } else {
        Err(CompressionError::UnknownVersion(first))
    }
}

fn read_limited(reader: impl Read, max_output: usize) -> Decompressed {
    let mut data = Vec::new();
    // One byte past the limit tells "exactly at the limit" from "over it".
    let cap = (max_output as u64).saturating_add(1);
    let end = match reader.take(cap).read_to_end(&mut data) {
        Ok(_) if data.len() > max_output => {
            data.truncate(max_output);
            StreamEnd::LimitReached
        }
        Ok(_) => StreamEnd::Complete,
        Err(err) => {
            data.truncate(max_output);
            StreamEnd::Corrupt(err.to_string())
        }
    };
    Decompressed { data, end }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        (0..50_000u32)
            .flat_map(|i| (i % 251).to_be_bytes())
            .collect()
    }

    #[test]
    fn roundtrip_both() {
        let data = sample();
        for algo in [CompressionAlgo::ZLIB_BEST, CompressionAlgo::BROTLI_10] {
            let compressed = algo.compress(&data).unwrap();
            assert!(
                compressed.len() < data.len() / 10,
                "{algo:?} did not compress"
            );
            let out = decompress(&compressed, data.len(), true).unwrap();
            assert_eq!(out.end, StreamEnd::Complete);
            assert_eq!(out.data, data);
        }
    }

    #[test]
    fn headers_are_told_apart() {
        let zlib = CompressionAlgo::ZLIB_BEST.compress(b"abc").unwrap();
        assert_eq!(zlib[0] & 0x0f, 8);
        let brotli = CompressionAlgo::BROTLI_10.compress(b"abc").unwrap();
        assert_eq!(brotli[0], CHANNEL_VERSION_BROTLI);
        assert_eq!(
            decompress(&brotli, 10, false),
            Err(CompressionError::BrotliNotActive)
        );
        assert_eq!(decompress(&zlib, 10, false).unwrap().data, b"abc");
        assert_eq!(decompress(&[], 10, true), Err(CompressionError::Empty));
        assert_eq!(
            decompress(&[0x02, 0], 10, true),
            Err(CompressionError::UnknownVersion(2))
        );
    }

    #[test]
    fn bomb_is_cut_at_limit() {
        let bomb = vec![0u8; 20_000_000];
        for algo in [CompressionAlgo::ZLIB_BEST, CompressionAlgo::BROTLI_10] {
            let compressed = algo.compress(&bomb).unwrap();
            assert!(compressed.len() < 100_000);
            let out = decompress(&compressed, 1_000_000, true).unwrap();
            assert_eq!(out.end, StreamEnd::LimitReached);
            assert_eq!(out.data.len(), 1_000_000);
        }
    }

    #[test]
    fn corrupt_stream_keeps_prefix() {
        let data = sample();
        for algo in [CompressionAlgo::ZLIB_BEST, CompressionAlgo::BROTLI_10] {
            let compressed = algo.compress(&data).unwrap();
            let cut = &compressed[..compressed.len() / 2];
            let out = decompress(cut, data.len(), true).unwrap();
            assert!(
                matches!(out.end, StreamEnd::Corrupt(_)),
                "{algo:?}: {:?}",
                out.end
            );
            assert!(data.starts_with(&out.data));
        }
    }
}
