//! The L1-info deposit: the first transaction of every L2 block, in the Jovian format
//! (`specs/protocol/jovian/l1-attributes.md`): 178 bytes of tightly packed big-endian fields.

use crate::{
    addresses::{DEPOSITOR_ACCOUNT, L1_BLOCK},
    config::SystemConfig,
};
use alloy_primitives::{B256, Bytes, TxKind, U256, keccak256};
use op_alloy_consensus::TxDeposit;
use serde::{Deserialize, Serialize};

/// Selector of `setL1BlockValuesJovian()`.
pub const JOVIAN_SELECTOR: [u8; 4] = [0x3d, 0xb6, 0xbe, 0x2b];
/// Length of the Jovian L1-info calldata.
pub const JOVIAN_CALLDATA_LEN: usize = 178;
/// Gas limit of the L1-info deposit since Regolith.
pub const L1_INFO_DEPOSIT_GAS: u64 = 1_000_000;
/// The DA footprint scalar used when the system config holds 0.
pub const DEFAULT_DA_FOOTPRINT_GAS_SCALAR: u16 = 400;

/// The L1 block an L2 block is derived from (its epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct L1Origin {
    /// L1 block number.
    pub number: u64,
    /// L1 block hash.
    pub hash: B256,
    /// L1 block timestamp.
    pub timestamp: u64,
    /// L1 base fee.
    pub base_fee: u128,
    /// L1 blob base fee (1 when L1 has no blobs).
    pub blob_base_fee: u128,
}

/// The values the L1-info deposit writes into the L1Block predeploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L1BlockInfo {
    /// L1 origin of the block.
    pub origin: L1Origin,
    /// Position of the L2 block in its epoch.
    pub sequence_number: u64,
    /// Versioned batcher hash (`0x00.. ++ batcher address`).
    pub batcher_hash: B256,
    /// L1 base-fee scalar.
    pub base_fee_scalar: u32,
    /// L1 blob-base-fee scalar.
    pub blob_base_fee_scalar: u32,
    /// Operator-fee scalar.
    pub operator_fee_scalar: u32,
    /// Operator-fee constant.
    pub operator_fee_constant: u64,
    /// DA-footprint gas scalar.
    pub da_footprint_gas_scalar: u16,
}

/// Errors decoding L1-info calldata.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum L1InfoError {
    /// Wrong length for the Jovian format.
    #[error("L1-info calldata has {0} bytes, the Jovian format has 178")]
    Length(usize),
    /// Not the Jovian selector.
    #[error("L1-info calldata selector {0} is not setL1BlockValuesJovian()")]
    Selector(Bytes),
    /// A fee word does not fit 128 bits.
    #[error("L1-info {0} does not fit 128 bits")]
    FeeOutOfRange(&'static str),
}

impl L1BlockInfo {
    /// The attributes for an L2 block on `origin` at `sequence_number` under `config`.
    pub fn new(origin: L1Origin, sequence_number: u64, config: &SystemConfig) -> Self {
        Self {
            origin,
            sequence_number,
            batcher_hash: B256::left_padding_from(config.batcher_addr.as_slice()),
            base_fee_scalar: config.base_fee_scalar,
            blob_base_fee_scalar: config.blob_base_fee_scalar,
            operator_fee_scalar: config.operator_fee_scalar,
            operator_fee_constant: config.operator_fee_constant,
            da_footprint_gas_scalar: if config.da_footprint_gas_scalar == 0 {
                DEFAULT_DA_FOOTPRINT_GAS_SCALAR
            } else {
                config.da_footprint_gas_scalar
            },
        }
    }

    /// Tightly packed Jovian calldata.
    pub fn encode_jovian(&self) -> Bytes {
        let mut out = Vec::with_capacity(JOVIAN_CALLDATA_LEN);
        out.extend_from_slice(&JOVIAN_SELECTOR);
        out.extend_from_slice(&self.base_fee_scalar.to_be_bytes());
        out.extend_from_slice(&self.blob_base_fee_scalar.to_be_bytes());
        out.extend_from_slice(&self.sequence_number.to_be_bytes());
        out.extend_from_slice(&self.origin.timestamp.to_be_bytes());
        out.extend_from_slice(&self.origin.number.to_be_bytes());
        out.extend_from_slice(&U256::from(self.origin.base_fee).to_be_bytes::<32>());
        out.extend_from_slice(&U256::from(self.origin.blob_base_fee).to_be_bytes::<32>());
        out.extend_from_slice(self.origin.hash.as_slice());
        out.extend_from_slice(self.batcher_hash.as_slice());
        out.extend_from_slice(&self.operator_fee_scalar.to_be_bytes());
        out.extend_from_slice(&self.operator_fee_constant.to_be_bytes());
        out.extend_from_slice(&self.da_footprint_gas_scalar.to_be_bytes());
        debug_assert_eq!(out.len(), JOVIAN_CALLDATA_LEN);
        out.into()
    }

    /// Parses Jovian calldata (the inverse of [`Self::encode_jovian`]).
    pub fn decode_jovian(data: &[u8]) -> Result<Self, L1InfoError> {
        if data.len() != JOVIAN_CALLDATA_LEN {
            return Err(L1InfoError::Length(data.len()));
        }
        if data[..4] != JOVIAN_SELECTOR {
            return Err(L1InfoError::Selector(Bytes::copy_from_slice(&data[..4])));
        }
        let u32_at = |at: usize| u32::from_be_bytes(data[at..at + 4].try_into().expect("4 bytes"));
        let u64_at = |at: usize| u64::from_be_bytes(data[at..at + 8].try_into().expect("8 bytes"));
        // The fee words are 32 bytes on the wire; a value beyond u128 cannot come from an L1
        // header and would not re-encode to the same calldata, so it is refused.
        let u128_at = |at: usize, field: &'static str| {
            u128::try_from(U256::from_be_slice(&data[at..at + 32]))
                .map_err(|_| L1InfoError::FeeOutOfRange(field))
        };
        Ok(Self {
            base_fee_scalar: u32_at(4),
            blob_base_fee_scalar: u32_at(8),
            sequence_number: u64_at(12),
            origin: L1Origin {
                timestamp: u64_at(20),
                number: u64_at(28),
                base_fee: u128_at(36, "base fee")?,
                blob_base_fee: u128_at(68, "blob base fee")?,
                hash: B256::from_slice(&data[100..132]),
            },
            batcher_hash: B256::from_slice(&data[132..164]),
            operator_fee_scalar: u32_at(164),
            operator_fee_constant: u64_at(168),
            da_footprint_gas_scalar: u16::from_be_bytes([data[176], data[177]]),
        })
    }

    /// The source hash of the L1-info deposit: domain 1 over (L1 block hash, sequence number).
    pub fn source_hash(&self) -> B256 {
        let mut inner = [0u8; 64];
        inner[..32].copy_from_slice(self.origin.hash.as_slice());
        inner[56..].copy_from_slice(&self.sequence_number.to_be_bytes());
        let mut outer = [0u8; 64];
        outer[31] = 1;
        outer[32..].copy_from_slice(keccak256(inner).as_slice());
        keccak256(outer)
    }

    /// The L1-info deposit transaction.
    pub fn deposit_tx(&self) -> TxDeposit {
        TxDeposit {
            source_hash: self.source_hash(),
            from: DEPOSITOR_ACCOUNT,
            to: TxKind::Call(L1_BLOCK),
            mint: 0,
            value: U256::ZERO,
            gas_limit: L1_INFO_DEPOSIT_GAS,
            is_system_transaction: false,
            input: self.encode_jovian(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> L1BlockInfo {
        L1BlockInfo::new(
            L1Origin {
                number: 123,
                hash: B256::repeat_byte(0xab),
                timestamp: 1_700_000_000,
                base_fee: 1_000_000_000,
                blob_base_fee: 2,
            },
            7,
            &SystemConfig::default(),
        )
    }

    #[test]
    fn jovian_calldata_layout_matches_the_spec_offsets() {
        let info = sample();
        let data = info.encode_jovian();
        assert_eq!(data.len(), 178);
        assert_eq!(&data[..4], &JOVIAN_SELECTOR);
        assert_eq!(u64::from_be_bytes(data[12..20].try_into().unwrap()), 7);
        assert_eq!(u64::from_be_bytes(data[28..36].try_into().unwrap()), 123);
        assert_eq!(&data[100..132], B256::repeat_byte(0xab).as_slice());
        assert_eq!(u16::from_be_bytes([data[176], data[177]]), 400);
        assert_eq!(L1BlockInfo::decode_jovian(&data).unwrap(), info);
    }

    #[test]
    fn decode_rejects_bad_input() {
        assert_eq!(
            L1BlockInfo::decode_jovian(&[0u8; 10]),
            Err(L1InfoError::Length(10))
        );
        let mut data = sample().encode_jovian().to_vec();
        data[0] = 0;
        assert!(matches!(
            L1BlockInfo::decode_jovian(&data),
            Err(L1InfoError::Selector(_))
        ));
        // Found by the fuzz target: a fee word above 2^128 used to saturate silently.
        let mut data = sample().encode_jovian().to_vec();
        data[36] = 1;
        assert_eq!(
            L1BlockInfo::decode_jovian(&data),
            Err(L1InfoError::FeeOutOfRange("base fee"))
        );
        let mut data = sample().encode_jovian().to_vec();
        data[68..84].fill(0xff);
        assert_eq!(
            L1BlockInfo::decode_jovian(&data),
            Err(L1InfoError::FeeOutOfRange("blob base fee"))
        );
    }

    #[test]
    fn source_hash_uses_domain_one() {
        let info = sample();
        let mut inner = [0u8; 64];
        inner[..32].copy_from_slice(info.origin.hash.as_slice());
        inner[63] = 7;
        let expected = keccak256([B256::with_last_byte(1).0, keccak256(inner).0].concat());
        assert_eq!(info.source_hash(), expected);
    }
}
