//! op-node's `payload_by_number` request-response protocol, by which a node fills a gap below a
//! gossiped block: the request is a block number (u64 little-endian); the response a result byte
//! (0 found, 1 not found), then the payload version (u32 little-endian, 2 for Isthmus) and the
//! unsigned payload of [`crate::encode_payload`], snappy-framed. Responses are bounded before
//! anything is allocated for them.

use crate::MAX_GOSSIP_SIZE;
use futures_util::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use std::io::{self, Read, Write};

/// The result byte of a found block.
const FOUND: u8 = 0;
/// The result byte of a block the peer does not have.
const NOT_FOUND: u8 = 1;
/// The payload version of an Isthmus envelope (parent beacon root, `ExecutionPayloadV4`).
const ISTHMUS: u32 = 2;

/// The protocol name of chain `chain_id`.
pub(crate) fn protocol(chain_id: u64) -> libp2p::StreamProtocol {
    libp2p::StreamProtocol::try_from_owned(format!("/opstack/req/payload_by_number/{chain_id}/0/"))
        .expect("the protocol name starts with a slash")
}

/// Reads and writes the protocol's messages.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PayloadCodec;

fn invalid(reason: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason.into())
}

/// Frames `payload` with snappy's stream format.
fn frame(payload: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = snap::write::FrameEncoder::new(Vec::new());
    encoder.write_all(payload)?;
    encoder.into_inner().map_err(|err| err.into_error())
}

/// Unframes `framed`, refusing more than [`MAX_GOSSIP_SIZE`] decompressed bytes.
fn unframe(framed: &[u8]) -> io::Result<Vec<u8>> {
    let mut payload = Vec::new();
    snap::read::FrameDecoder::new(framed)
        .take(MAX_GOSSIP_SIZE as u64 + 1)
        .read_to_end(&mut payload)?;
    if payload.len() > MAX_GOSSIP_SIZE {
        return Err(invalid("a payload over 10 MiB"));
    }
    Ok(payload)
}

#[async_trait::async_trait]
impl libp2p::request_response::Codec for PayloadCodec {
    type Protocol = libp2p::StreamProtocol;
    type Request = u64;
    /// The unsigned payload, or `None` when the peer does not have the block.
    type Response = Option<Vec<u8>>;

    async fn read_request<T>(&mut self, _: &Self::Protocol, io: &mut T) -> io::Result<u64>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut number = [0; 8];
        io.read_exact(&mut number).await?;
        Ok(u64::from_le_bytes(number))
    }

    async fn read_response<T>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
    ) -> io::Result<Option<Vec<u8>>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut result = [0; 1];
        io.read_exact(&mut result).await?;
        match result[0] {
            FOUND => {}
            NOT_FOUND => return Ok(None),
            other => return Err(invalid(format!("result code {other}"))),
        }
        let mut version = [0; 4];
        io.read_exact(&mut version).await?;
        let version = u32::from_le_bytes(version);
        if version != ISTHMUS {
            return Err(invalid(format!("payload version {version}")));
        }
        // Framing adds a few bytes per 64 KiB chunk; a compressed stream is never much larger.
        let limit = MAX_GOSSIP_SIZE as u64 + MAX_GOSSIP_SIZE as u64 / 64;
        let mut framed = Vec::new();
        io.take(limit + 1).read_to_end(&mut framed).await?;
        if framed.len() as u64 > limit {
            return Err(invalid("a response over 10 MiB"));
        }
        unframe(&framed).map(Some)
    }

    async fn write_request<T>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
        number: u64,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&number.to_le_bytes()).await?;
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
        response: Option<Vec<u8>>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match response {
            Some(payload) => {
                io.write_all(&[FOUND]).await?;
                io.write_all(&ISTHMUS.to_le_bytes()).await?;
                io.write_all(&frame(&payload)?).await?;
            }
            None => io.write_all(&[NOT_FOUND]).await?,
        }
        io.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::request_response::Codec;

    fn run<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn requests_and_responses_round_trip() {
        run(async {
            let protocol = protocol(1611);
            let mut codec = PayloadCodec;
            let mut wire = futures_util::io::Cursor::new(Vec::new());
            codec.write_request(&protocol, &mut wire, 42).await.unwrap();
            assert_eq!(wire.get_ref(), &42u64.to_le_bytes());
            wire.set_position(0);
            assert_eq!(codec.read_request(&protocol, &mut wire).await.unwrap(), 42);

            for response in [Some(vec![7u8; 200_000]), None] {
                let mut wire = futures_util::io::Cursor::new(Vec::new());
                codec
                    .write_response(&protocol, &mut wire, response.clone())
                    .await
                    .unwrap();
                wire.set_position(0);
                let read = codec.read_response(&protocol, &mut wire).await.unwrap();
                assert_eq!(read, response);
            }
        });
    }

    #[test]
    fn bad_responses_are_errors() {
        run(async {
            let protocol = protocol(1);
            let mut codec = PayloadCodec;
            let version_one = [&[FOUND][..], &1u32.to_le_bytes()].concat();
            let oversized = [
                &[FOUND][..],
                &ISTHMUS.to_le_bytes(),
                &frame(&vec![0; MAX_GOSSIP_SIZE + 1]).unwrap(),
            ]
            .concat();
            for bytes in [
                vec![],
                vec![9],
                version_one,
                oversized,
                vec![FOUND, 2, 0, 0, 0, 1, 2],
            ] {
                let mut wire = futures_util::io::Cursor::new(bytes);
                assert!(codec.read_response(&protocol, &mut wire).await.is_err());
            }
        });
    }
}
