//! OP Alt-DA commitments and the batcher-transaction version bytes that carry them.

use crate::CommitmentError;
use alloy_primitives::{B256, Bytes, keccak256};
use std::fmt;

/// Batcher transaction data version of frames posted directly as calldata.
pub const CALLDATA_TX_VERSION: u8 = 0x00;
/// Batcher transaction data version of an Alt-DA commitment (`0x01 ++ commitment`).
pub const ALT_DA_TX_VERSION: u8 = 0x01;
/// The DA-layer byte of EigenDA in generic commitments.
pub const EIGENDA_LAYER: u8 = 0x00;
/// The DA-layer byte of the built-in DA server's generic commitments: outside the bytes OP
/// assigns (EigenDA 0x00, Avail 0x0a, Celestia 0x0c), so a commitment never claims to be
/// another layer's certificate.
pub const OPENLEDGER_DA_LAYER: u8 = 0x4f;

const KECCAK_TYPE: u8 = 0x00;
const GENERIC_TYPE: u8 = 0x01;
/// Generic DA-layer bytes live in `[0, 127)`.
const MAX_DA_LAYER: u8 = 127;

/// An Alt-DA commitment: what the batcher posts to L1 and a follower resolves through DA.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Commitment {
    /// Type 0: `keccak256(payload)`; anyone can check a payload against it.
    Keccak(B256),
    /// Type 1: a DA service's own reference (for EigenDA, a versioned certificate).
    Generic {
        /// Which DA layer issued it.
        da_layer: u8,
        /// The layer's reference, opaque here.
        data: Bytes,
    },
}

impl Commitment {
    /// The keccak commitment of `payload`.
    pub fn keccak(payload: &[u8]) -> Self {
        Self::Keccak(keccak256(payload))
    }

    /// The encoded commitment: `0x00 ++ hash` or `0x01 ++ da_layer ++ data`.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Keccak(hash) => [&[KECCAK_TYPE][..], hash.as_slice()].concat(),
            Self::Generic { da_layer, data } => {
                [&[GENERIC_TYPE, *da_layer][..], data.as_ref()].concat()
            }
        }
    }

    /// Decodes an encoded commitment.
    pub fn decode(bytes: &[u8]) -> Result<Self, CommitmentError> {
        let (&kind, rest) = bytes.split_first().ok_or(CommitmentError::Empty)?;
        match kind {
            KECCAK_TYPE => {
                let hash: [u8; 32] = rest
                    .try_into()
                    .map_err(|_| CommitmentError::KeccakLength(rest.len()))?;
                Ok(Self::Keccak(B256::from(hash)))
            }
            GENERIC_TYPE => {
                let (&da_layer, data) = rest.split_first().ok_or(CommitmentError::Truncated)?;
                if da_layer >= MAX_DA_LAYER {
                    return Err(CommitmentError::DaLayer(da_layer));
                }
                if data.is_empty() {
                    return Err(CommitmentError::Truncated);
                }
                Ok(Self::Generic {
                    da_layer,
                    data: Bytes::copy_from_slice(data),
                })
            }
            other => Err(CommitmentError::Type(other)),
        }
    }

    /// Batcher transaction data for this commitment: `0x01 ++ encoded commitment`.
    pub fn to_tx_data(&self) -> Vec<u8> {
        [&[ALT_DA_TX_VERSION][..], &self.encode()].concat()
    }

    /// The commitment in Alt-DA batcher transaction data (`0x01 ++ commitment`).
    pub fn from_tx_data(data: &[u8]) -> Result<Self, CommitmentError> {
        match data.split_first() {
            Some((&ALT_DA_TX_VERSION, commitment)) => Self::decode(commitment),
            Some((&version, _)) => Err(CommitmentError::TxVersion(version)),
            None => Err(CommitmentError::Empty),
        }
    }

    /// Whether `payload` is what a keccak commitment commits to (generic ones cannot be checked
    /// here: their DA layer vouches for them).
    pub fn verifies(&self, payload: &[u8]) -> bool {
        match self {
            Self::Keccak(hash) => keccak256(payload) == *hash,
            Self::Generic { .. } => true,
        }
    }
}

impl fmt::Display for Commitment {
    /// `0x`-prefixed hex of the encoding, as the DA HTTP API takes it in paths.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", alloy_primitives::hex::encode(self.encode()))
    }
}

impl std::str::FromStr for Commitment {
    type Err = CommitmentError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let hex = text.strip_prefix("0x").unwrap_or(text);
        let bytes = alloy_primitives::hex::decode(hex).map_err(|_| CommitmentError::Hex)?;
        Self::decode(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keccak_commitments_encode_as_type_zero() {
        let commitment = Commitment::keccak(b"frames");
        let encoded = commitment.encode();
        assert_eq!(encoded.len(), 33);
        assert_eq!(encoded[0], 0x00);
        assert_eq!(&encoded[1..], keccak256(b"frames").as_slice());
        assert!(commitment.verifies(b"frames"));
        assert!(!commitment.verifies(b"other frames"));
    }

    #[test]
    fn eigenda_certificates_are_generic_commitments_on_layer_zero() {
        // eigenda-proxy answers `0x01 0x00 <version> <rlp cert>`.
        let raw = [0x01, 0x00, 0x02, 0xf8, 0x01, 0x02];
        let commitment = Commitment::decode(&raw).unwrap();
        assert_eq!(
            commitment,
            Commitment::Generic {
                da_layer: EIGENDA_LAYER,
                data: Bytes::from_static(&[0x02, 0xf8, 0x01, 0x02]),
            }
        );
        assert_eq!(commitment.encode(), raw);
        assert_eq!(commitment.to_tx_data()[0], ALT_DA_TX_VERSION);
        assert_eq!(
            Commitment::from_tx_data(&commitment.to_tx_data()).unwrap(),
            commitment
        );
    }

    #[test]
    fn malformed_commitments_are_refused() {
        assert_eq!(Commitment::decode(&[]), Err(CommitmentError::Empty));
        assert_eq!(
            Commitment::decode(&[0x00; 32]),
            Err(CommitmentError::KeccakLength(31))
        );
        assert_eq!(
            Commitment::decode(&[0x00; 34]),
            Err(CommitmentError::KeccakLength(33))
        );
        assert_eq!(Commitment::decode(&[0x01]), Err(CommitmentError::Truncated));
        assert_eq!(
            Commitment::decode(&[0x01, 0x00]),
            Err(CommitmentError::Truncated)
        );
        assert_eq!(
            Commitment::decode(&[0x01, 0x7f, 1]),
            Err(CommitmentError::DaLayer(0x7f))
        );
        assert_eq!(
            Commitment::decode(&[0x02, 1]),
            Err(CommitmentError::Type(0x02))
        );
        assert_eq!(
            Commitment::from_tx_data(&[0x00, 0x01, 0x00, 1]),
            Err(CommitmentError::TxVersion(0x00))
        );
        assert_eq!("0xzz".parse::<Commitment>(), Err(CommitmentError::Hex));
    }

    proptest! {
        #[test]
        fn decoding_never_panics_and_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(commitment) = Commitment::decode(&bytes) {
                prop_assert_eq!(commitment.encode(), bytes.clone());
                prop_assert_eq!(commitment.to_string().parse::<Commitment>().unwrap(), commitment);
            }
        }
    }
}
