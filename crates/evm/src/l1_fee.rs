//! The OP-specific cost of a transaction: L1 data fee and operator fee, as op-revm charges them
//! and as receipts report them.

use crate::OpSpecId;
use alloy_primitives::U256;
use ol_primitives::L1BlockInfo;

/// The L1 fee fields of an OP receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct L1FeeFields {
    /// L1 data fee charged (wei).
    pub l1_fee: u128,
    /// L1 gas the transaction's data is accounted as.
    pub l1_gas_used: u128,
    /// L1 base fee of the origin.
    pub l1_gas_price: u128,
    /// L1 blob base fee of the origin.
    pub l1_blob_base_fee: u128,
    /// L1 base-fee scalar.
    pub l1_base_fee_scalar: u128,
    /// L1 blob-base-fee scalar.
    pub l1_blob_base_fee_scalar: u128,
    /// Operator-fee scalar.
    pub operator_fee_scalar: u128,
    /// Operator-fee constant.
    pub operator_fee_constant: u128,
}

/// op-revm's view of the L1 attributes (what it reads from the L1Block predeploy).
pub fn revm_l1_block_info(info: &L1BlockInfo) -> op_revm::L1BlockInfo {
    op_revm::L1BlockInfo {
        l1_base_fee: U256::from(info.origin.base_fee),
        l1_base_fee_scalar: U256::from(info.base_fee_scalar),
        l1_blob_base_fee: Some(U256::from(info.origin.blob_base_fee)),
        l1_blob_base_fee_scalar: Some(U256::from(info.blob_base_fee_scalar)),
        operator_fee_scalar: Some(U256::from(info.operator_fee_scalar)),
        operator_fee_constant: Some(U256::from(info.operator_fee_constant)),
        da_footprint_gas_scalar: Some(info.da_footprint_gas_scalar),
        ..Default::default()
    }
}

/// What a transaction with EIP-2718 bytes `encoded` costs on top of gas: the L1 data fee plus
/// the operator fee for `gas_limit`. Deposits cost nothing extra.
pub fn additional_cost(info: &L1BlockInfo, encoded: &[u8], gas_limit: u64, spec: OpSpecId) -> U256 {
    revm_l1_block_info(info).tx_cost(encoded, U256::from(gas_limit), spec)
}

/// The L1 fee fields of the receipt of a transaction with EIP-2718 bytes `encoded`.
pub fn receipt_fields(info: &L1BlockInfo, encoded: &[u8], spec: OpSpecId) -> L1FeeFields {
    let mut revm_info = revm_l1_block_info(info);
    let is_deposit = encoded.first() == Some(&0x7e);
    let (l1_fee, l1_gas_used) = if is_deposit {
        (0, 0)
    } else {
        (
            revm_info
                .calculate_tx_l1_cost(encoded, spec)
                .saturating_to(),
            revm_info.data_gas(encoded, spec).saturating_to(),
        )
    };
    L1FeeFields {
        l1_fee,
        l1_gas_used,
        l1_gas_price: info.origin.base_fee,
        l1_blob_base_fee: info.origin.blob_base_fee,
        l1_base_fee_scalar: info.base_fee_scalar.into(),
        l1_blob_base_fee_scalar: info.blob_base_fee_scalar.into(),
        operator_fee_scalar: info.operator_fee_scalar.into(),
        operator_fee_constant: info.operator_fee_constant.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;
    use ol_primitives::{L1Origin, SystemConfig};

    fn info() -> L1BlockInfo {
        L1BlockInfo::new(
            L1Origin {
                number: 1,
                hash: B256::ZERO,
                timestamp: 0,
                base_fee: 1_000_000_000,
                blob_base_fee: 1,
            },
            0,
            &SystemConfig::default(),
        )
    }

    #[test]
    fn deposits_pay_no_l1_fee() {
        let fields = receipt_fields(&info(), &[0x7e, 1, 2, 3], OpSpecId::JOVIAN);
        assert_eq!(fields.l1_fee, 0);
        assert_eq!(fields.l1_gas_price, 1_000_000_000);
    }

    #[test]
    fn larger_transactions_pay_more_l1_fee() {
        // Incompressible bytes, so that FastLZ cannot shrink them below the minimum size.
        let noise: Vec<u8> = (0u32..100)
            .flat_map(|i| alloy_primitives::keccak256(i.to_be_bytes()).0)
            .collect();
        let small = receipt_fields(&info(), &noise[..320], OpSpecId::JOVIAN).l1_fee;
        let large = receipt_fields(&info(), &noise, OpSpecId::JOVIAN).l1_fee;
        assert!(small > 0);
        assert!(large > small);
        assert_eq!(
            additional_cost(&info(), &noise[..320], 21_000, OpSpecId::JOVIAN),
            U256::from(small)
        );
    }
}
