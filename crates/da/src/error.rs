//! Errors of commitments, the DA client and the DA store.

/// A malformed commitment or batcher transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitmentError {
    /// No bytes at all.
    #[error("empty commitment")]
    Empty,
    /// A keccak commitment is not 32 bytes.
    #[error("a keccak commitment has 32 bytes, not {0}")]
    KeccakLength(usize),
    /// A generic commitment without its DA-layer byte or reference.
    #[error("truncated generic commitment")]
    Truncated,
    /// A DA-layer byte outside `[0, 127)`.
    #[error("DA layer byte {0:#04x} is outside [0, 127)")]
    DaLayer(u8),
    /// An unknown commitment type.
    #[error("unknown commitment type {0:#04x}")]
    Type(u8),
    /// Batcher transaction data that is not an Alt-DA commitment.
    #[error("batcher transaction version {0:#04x} is not an Alt-DA commitment (0x01)")]
    TxVersion(u8),
    /// Not hex.
    #[error("commitment is not hex")]
    Hex,
}

/// A failed DA request, classified the way the batcher and the derivation act on it.
#[derive(Debug, thiserror::Error)]
pub enum DaError {
    /// The DA service is unavailable (HTTP 503): the batcher falls back to L1 calldata.
    #[error("DA unavailable (503): {0}")]
    Unavailable(String),
    /// The DA service says this certificate is invalid or stale (HTTP 418): derivation drops it.
    #[error("DA rejected the certificate (418): {0}")]
    InvalidCert(String),
    /// Nothing is stored under the commitment (HTTP 404): derivation must wait, not skip.
    #[error("no payload for commitment {0}")]
    NotFound(String),
    /// The payload is larger than the service takes.
    #[error("payload of {size} bytes exceeds the DA limit of {max}")]
    TooLarge {
        /// The payload size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The service answered with something that is not a valid commitment.
    #[error("bad commitment from the DA service: {0}")]
    BadCommitment(#[from] CommitmentError),
    /// The payload does not match its keccak commitment.
    #[error("payload does not match commitment {0}")]
    Mismatch(String),
    /// Any other HTTP status.
    #[error("DA request failed with HTTP {status}: {body}")]
    Http {
        /// The status code.
        status: u16,
        /// The response body.
        body: String,
    },
    /// The connection failed.
    #[error("DA request failed: {0}")]
    Transport(#[from] reqwest::Error),
}

impl DaError {
    /// Whether the batcher should post the frames as L1 calldata instead.
    pub const fn should_fail_over(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// The DA store's RocksDB failed.
#[derive(Debug, thiserror::Error)]
#[error("DA store: {0}")]
pub struct StoreError(#[from] pub rocksdb::Error);
