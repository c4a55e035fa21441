//! Stateless validation of a raw transaction and its intrinsic gas.

use crate::{PoolConfig, PoolError};
use alloy_consensus::{
    Transaction,
    transaction::{Recovered, SignerRecoverable},
};
use alloy_eips::eip2718::Decodable2718;
use ol_primitives::OpTxEnvelope;

/// Type bytes of EIP-4844 blob transactions and OP deposits: never accepted from users.
const BLOB_TX_TYPE: u8 = 0x03;
const DEPOSIT_TX_TYPE: u8 = 0x7e;

/// Decodes raw bytes into a transaction with its signer and checks everything that does not
/// need state: size, type, chain id, signature, gas limit, intrinsic gas and fee fields.
pub fn decode_and_check(
    raw: &[u8],
    config: &PoolConfig,
    chain_id: u64,
    block_gas_limit: u64,
) -> Result<Recovered<OpTxEnvelope>, PoolError> {
    if raw.len() > config.max_tx_bytes {
        return Err(PoolError::Oversized {
            size: raw.len(),
            limit: config.max_tx_bytes,
        });
    }
    match raw.first() {
        None => return Err(PoolError::Decode("empty transaction".into())),
        Some(&BLOB_TX_TYPE | &DEPOSIT_TX_TYPE) => return Err(PoolError::TypeNotSupported),
        Some(ty) if *ty < 0x7f && !matches!(ty, 0x01 | 0x02 | 0x04) => {
            return Err(PoolError::TypeNotSupported);
        }
        _ => {}
    }
    let mut buf = raw;
    let tx =
        OpTxEnvelope::decode_2718(&mut buf).map_err(|err| PoolError::Decode(err.to_string()))?;
    if !buf.is_empty() {
        return Err(PoolError::Decode("trailing bytes after transaction".into()));
    }
    if tx.is_deposit() {
        return Err(PoolError::TypeNotSupported);
    }
    match tx.chain_id() {
        None => return Err(PoolError::NotReplayProtected),
        Some(id) if id != chain_id => return Err(PoolError::WrongChainId),
        Some(_) => {}
    }
    let signer = tx
        .recover_signer()
        .map_err(|_| PoolError::InvalidSignature)?;
    if tx.gas_limit() > block_gas_limit.saturating_sub(config.l1_info_gas_overhead) {
        return Err(PoolError::GasLimitTooHigh);
    }
    if tx.gas_limit() < intrinsic_gas(&tx) {
        return Err(PoolError::IntrinsicGasTooLow);
    }
    if tx
        .max_priority_fee_per_gas()
        .is_some_and(|tip| tip > tx.max_fee_per_gas())
    {
        return Err(PoolError::TipAboveFeeCap);
    }
    Ok(Recovered::new_unchecked(tx, signer))
}

/// The intrinsic gas of a transaction under Prague: the base cost, calldata, contract creation,
/// access list and authorizations, and at least the EIP-7623 calldata floor.
pub fn intrinsic_gas(tx: &OpTxEnvelope) -> u64 {
    let input = tx.input();
    let zeros = input.iter().filter(|byte| **byte == 0).count() as u64;
    let non_zeros = input.len() as u64 - zeros;
    let tokens = zeros + non_zeros * 4;
    let mut gas = 21_000 + zeros * 4 + non_zeros * 16;
    if tx.is_create() {
        // EIP-3860: 2 gas per 32-byte word of init code.
        gas += 32_000 + (input.len() as u64).div_ceil(32) * 2;
    }
    if let Some(list) = tx.access_list() {
        for item in list.iter() {
            gas += 2_400 + 1_900 * item.storage_keys.len() as u64;
        }
    }
    if let Some(authorizations) = tx.authorization_list() {
        gas += 25_000 * authorizations.len() as u64;
    }
    // EIP-7623: calldata-heavy transactions pay at least 10 gas per token.
    gas.max(21_000 + tokens * 10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{SignableTransaction, TxEip1559, TxLegacy};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_primitives::{Address, Bytes, TxKind, U256};
    use alloy_signer::SignerSync;
    use alloy_signer_local::PrivateKeySigner;

    fn signed(tx: TxEip1559) -> Vec<u8> {
        let signer = PrivateKeySigner::from_bytes(&alloy_primitives::B256::repeat_byte(1)).unwrap();
        let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
        OpTxEnvelope::Eip1559(tx.into_signed(signature)).encoded_2718()
    }

    fn transfer(chain_id: u64, gas_limit: u64) -> TxEip1559 {
        TxEip1559 {
            chain_id,
            nonce: 0,
            gas_limit,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1,
            to: TxKind::Call(Address::repeat_byte(2)),
            value: U256::from(1),
            access_list: Default::default(),
            input: Bytes::new(),
        }
    }

    #[test]
    fn accepts_a_plain_transfer() {
        let raw = signed(transfer(7, 21_000));
        assert!(decode_and_check(&raw, &PoolConfig::default(), 7, 30_000_000).is_ok());
    }

    #[test]
    fn refuses_bad_transactions_with_geth_messages() {
        let config = PoolConfig::default();
        let check = |raw: &[u8]| decode_and_check(raw, &config, 7, 30_000_000).unwrap_err();
        assert_eq!(check(&signed(transfer(8, 21_000))), PoolError::WrongChainId);
        assert_eq!(
            check(&signed(transfer(7, 20_999))),
            PoolError::IntrinsicGasTooLow
        );
        assert_eq!(
            check(&signed(transfer(7, 29_950_000))),
            PoolError::GasLimitTooHigh
        );
        assert_eq!(check(&[0x03, 0xc0]), PoolError::TypeNotSupported);
        assert_eq!(check(&[0x7e, 0xc0]), PoolError::TypeNotSupported);
        assert!(matches!(check(&[0x02, 0x01]), PoolError::Decode(_)));
        assert!(matches!(
            check(&vec![0x02; 200 * 1024]),
            PoolError::Oversized { .. }
        ));
        // r = 0 is not a point on the curve: nothing recovers from it.
        let bad = alloy_primitives::Signature::new(U256::ZERO, U256::from(1), false);
        let raw = OpTxEnvelope::Eip1559(transfer(7, 21_000).into_signed(bad)).encoded_2718();
        assert_eq!(check(&raw), PoolError::InvalidSignature);
    }

    #[test]
    fn legacy_without_chain_id_is_refused() {
        let tx = TxLegacy {
            chain_id: None,
            gas_limit: 21_000,
            gas_price: 1_000_000_000,
            to: TxKind::Call(Address::ZERO),
            ..Default::default()
        };
        let signer = PrivateKeySigner::random();
        let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
        let raw = OpTxEnvelope::Legacy(tx.into_signed(signature)).encoded_2718();
        assert_eq!(
            decode_and_check(&raw, &PoolConfig::default(), 7, 30_000_000).unwrap_err(),
            PoolError::NotReplayProtected
        );
    }

    #[test]
    fn intrinsic_gas_counts_calldata_and_creation() {
        let mut tx = transfer(7, 100_000);
        tx.input = Bytes::from(vec![0, 1]);
        let envelope = OpTxEnvelope::Eip1559(
            tx.clone()
                .into_signed(alloy_primitives::Signature::test_signature()),
        );
        // Two bytes of calldata are 5 tokens: the EIP-7623 floor (10 gas a token) dominates.
        assert_eq!(intrinsic_gas(&envelope), 21_000 + 5 * 10);
        tx.to = TxKind::Create;
        let envelope =
            OpTxEnvelope::Eip1559(tx.into_signed(alloy_primitives::Signature::test_signature()));
        assert_eq!(intrinsic_gas(&envelope), 21_000 + 4 + 16 + 32_000 + 2);
    }
}
