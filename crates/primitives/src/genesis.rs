//! Genesis loading and the genesis block header as OP Stack L2 genesis headers have it.

use crate::{
    addresses::PROOF_OF_ATTRIBUTION,
    config::{ChainSpec, RollupConfig, SystemConfig},
};
use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header, constants::EMPTY_ROOT_HASH};
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_genesis::Genesis;
use alloy_primitives::{B256, Bloom, Bytes};
use std::path::Path;

/// Errors loading a genesis or rollup configuration.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid JSON of the expected shape.
    #[error("cannot parse {path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// The genesis and the rollup configuration disagree, or a value is out of range.
    #[error("invalid chain configuration: {0}")]
    Invalid(String),
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, GenesisError> {
    let text = std::fs::read_to_string(path).map_err(|source| GenesisError::Read {
        path: path.display().to_string(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| GenesisError::Parse {
        path: path.display().to_string(),
        source,
    })
}

/// Loads a go-ethereum genesis file and a rollup configuration and checks that they agree.
pub fn load_genesis(genesis: &Path, rollup: &Path) -> Result<ChainSpec, GenesisError> {
    let genesis: Genesis = read_json(genesis)?;
    let rollup: RollupConfig = read_json(rollup)?;
    chain_spec(genesis, rollup)
}

/// Builds a chain spec from parsed parts, checking that they agree.
pub fn chain_spec(genesis: Genesis, rollup: RollupConfig) -> Result<ChainSpec, GenesisError> {
    rollup.validate().map_err(GenesisError::Invalid)?;
    if genesis.config.chain_id != rollup.l2_chain_id {
        return Err(GenesisError::Invalid(format!(
            "genesis chainId {} differs from rollup l2_chain_id {}",
            genesis.config.chain_id, rollup.l2_chain_id
        )));
    }
    if genesis.gas_limit != rollup.genesis.system_config.gas_limit {
        return Err(GenesisError::Invalid(format!(
            "genesis gasLimit {} differs from the system config gas limit {}",
            genesis.gas_limit, rollup.genesis.system_config.gas_limit
        )));
    }
    if genesis.timestamp != rollup.genesis.l2_time {
        return Err(GenesisError::Invalid(format!(
            "genesis timestamp {} differs from rollup genesis.l2_time {}",
            genesis.timestamp, rollup.genesis.l2_time
        )));
    }
    let spec = ChainSpec { genesis, rollup };
    let openledger = spec.openledger().map_err(GenesisError::Invalid)?;
    if openledger.poa_governance.is_some() {
        // Solidity checks `extcodesize` before calling a function without return values (e.g.
        // `Governance.setAttestor`), and an account without code could be cleared as empty.
        let has_code = spec
            .genesis
            .alloc
            .get(&PROOF_OF_ATTRIBUTION)
            .and_then(|account| account.code.as_ref())
            .is_some_and(|code| !code.is_empty());
        if !has_code {
            return Err(GenesisError::Invalid(format!(
                "config.openledger.poaGovernance is set but the alloc gives the PoA precompile \
                 {PROOF_OF_ATTRIBUTION} no code (put 0xfe there)"
            )));
        }
    }
    Ok(spec)
}

/// The Jovian `extraData`: version 1, EIP-1559 denominator and elasticity, minimum base fee.
pub fn jovian_extra_data(config: &SystemConfig) -> Bytes {
    let mut out = [0u8; 17];
    out[0] = 1;
    out[1..5].copy_from_slice(&config.eip1559_denominator.to_be_bytes());
    out[5..9].copy_from_slice(&config.eip1559_elasticity.to_be_bytes());
    out[9..17].copy_from_slice(&config.min_base_fee.to_be_bytes());
    Bytes::copy_from_slice(&out)
}

/// The genesis header given the genesis state root and the message passer's storage root.
pub fn genesis_header(spec: &ChainSpec, state_root: B256, withdrawals_root: B256) -> Header {
    let genesis = &spec.genesis;
    Header {
        parent_hash: B256::ZERO,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: genesis.coinbase,
        state_root,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        logs_bloom: Bloom::ZERO,
        difficulty: genesis.difficulty,
        number: 0,
        gas_limit: genesis.gas_limit,
        gas_used: 0,
        timestamp: genesis.timestamp,
        extra_data: jovian_extra_data(spec.system_config()),
        mix_hash: genesis.mix_hash,
        nonce: genesis.nonce.into(),
        base_fee_per_gas: Some(
            genesis
                .base_fee_per_gas
                .map_or(1_000_000_000, |fee| fee.min(u64::MAX as u128) as u64),
        ),
        withdrawals_root: Some(withdrawals_root),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: Some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_data_decodes_with_op_alloy() {
        let config = SystemConfig::default();
        let extra = jovian_extra_data(&config);
        let (elasticity, denominator, min_base_fee) =
            op_alloy_consensus::decode_jovian_extra_data(&extra).unwrap();
        assert_eq!(elasticity, config.eip1559_elasticity);
        assert_eq!(denominator, config.eip1559_denominator);
        assert_eq!(min_base_fee, config.min_base_fee);
    }

    #[test]
    fn poa_governance_without_precompile_code_is_refused() {
        let spec = crate::dev::dev_chain_spec(None, 0).unwrap();
        let mut genesis = spec.genesis.clone();
        genesis.alloc.remove(&PROOF_OF_ATTRIBUTION);
        let err = chain_spec(genesis, spec.rollup).unwrap_err();
        assert!(err.to_string().contains("0xfe"), "{err}");
    }

    #[test]
    fn mismatched_chain_ids_are_refused() {
        let spec = crate::dev::dev_chain_spec(Some(5), 0).unwrap();
        let mut rollup = spec.rollup.clone();
        rollup.l2_chain_id = 6;
        assert!(matches!(
            chain_spec(spec.genesis, rollup),
            Err(GenesisError::Invalid(_))
        ));
    }
}
