//! The client of the DA HTTP API shared by eigenda-proxy, OP's DA servers and the built-in
//! server, behind the [`DaClient`] trait the batcher and the derivation pipeline use.

use crate::{Commitment, DaError, MAX_PAYLOAD_BYTES};
use alloy_primitives::Bytes;
use reqwest::StatusCode;
use std::{future::Future, time::Duration};

/// Storage and retrieval of batch data on a DA layer.
pub trait DaClient: Send + Sync {
    /// Stores `payload` and returns the commitment to post on L1.
    fn put(&self, payload: Bytes) -> impl Future<Output = Result<Commitment, DaError>> + Send;
    /// The payload behind `commitment`.
    fn get(&self, commitment: &Commitment) -> impl Future<Output = Result<Bytes, DaError>> + Send;
}

/// Which commitments the client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PutMode {
    /// `POST /put`: the service chooses a generic commitment (eigenda-proxy's certificates).
    #[default]
    Generic,
    /// `POST /put/0x00<keccak>`: keccak commitments computed here (OP Alt-DA type 0).
    Keccak,
}

/// A DA service over HTTP (eigenda-proxy at `--da.url`, or the built-in server).
#[derive(Debug, Clone)]
pub struct HttpDaClient {
    base: String,
    mode: PutMode,
    http: reqwest::Client,
}

impl HttpDaClient {
    /// A client of the service at `base` (e.g. `http://127.0.0.1:3100`).
    pub fn new(base: &str, mode: PutMode, timeout: Duration) -> Result<Self, DaError> {
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            mode,
            http: reqwest::Client::builder().timeout(timeout).build()?,
        })
    }

    async fn classify(response: reqwest::Response, what: &str) -> Result<Bytes, DaError> {
        let status = response.status();
        let body = response.bytes().await?;
        let message = || format!("{what}: {}", String::from_utf8_lossy(&body));
        match status {
            StatusCode::OK => Ok(Bytes::from(body.to_vec())),
            StatusCode::SERVICE_UNAVAILABLE => Err(DaError::Unavailable(message())),
            StatusCode::IM_A_TEAPOT => Err(DaError::InvalidCert(message())),
            StatusCode::NOT_FOUND => Err(DaError::NotFound(message())),
            other => Err(DaError::Http {
                status: other.as_u16(),
                body: message(),
            }),
        }
    }
}

impl DaClient for HttpDaClient {
    async fn put(&self, payload: Bytes) -> Result<Commitment, DaError> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(DaError::TooLarge {
                size: payload.len(),
                max: MAX_PAYLOAD_BYTES,
            });
        }
        match self.mode {
            PutMode::Generic => {
                let response = self
                    .http
                    .post(format!("{}/put", self.base))
                    .body(payload.to_vec())
                    .send()
                    .await?;
                let raw = Self::classify(response, "put").await?;
                Ok(Commitment::decode(&raw)?)
            }
            PutMode::Keccak => {
                let commitment = Commitment::keccak(&payload);
                let response = self
                    .http
                    .post(format!("{}/put/{commitment}", self.base))
                    .body(payload.to_vec())
                    .send()
                    .await?;
                Self::classify(response, "put").await?;
                Ok(commitment)
            }
        }
    }

    async fn get(&self, commitment: &Commitment) -> Result<Bytes, DaError> {
        let response = self
            .http
            .get(format!("{}/get/{commitment}", self.base))
            .send()
            .await?;
        let payload = Self::classify(response, "get").await?;
        if !commitment.verifies(&payload) {
            return Err(DaError::Mismatch(commitment.to_string()));
        }
        Ok(payload)
    }
}
