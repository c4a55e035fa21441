//! EVM configuration from the chain spec: hardforks, block environments and the base fee.

use crate::EvmError;
use crate::{factory::OlEvmFactory, poa::ProofOfAttribution};
use alloy_consensus::Header;
use alloy_eips::eip1559::BaseFeeParams;
use alloy_evm::EvmEnv;
use alloy_hardforks::ForkCondition;
use alloy_op_evm::{OpBlockExecutorFactory, block::OpAlloyReceiptBuilder};
use alloy_op_hardforks::{OpChainHardforks, OpHardfork};
use alloy_primitives::{Address, B256, U256};
use ol_primitives::{ChainSpec, ForkTimes};
use op_revm::OpSpecId;
use revm::context::{BlockEnv, CfgEnv};
use revm::context_interface::block::BlobExcessGasAndPrice;

/// The executor factory type used throughout the node.
pub(crate) type ExecutorFactory =
    OpBlockExecutorFactory<OpAlloyReceiptBuilder, OpChainHardforks, OlEvmFactory>;

/// The EVM configuration of a chain.
#[derive(Debug, Clone)]
pub struct OlEvmConfig {
    pub(crate) factory: ExecutorFactory,
    pub(crate) chain_id: u64,
}

fn hardforks(forks: &ForkTimes) -> OpChainHardforks {
    let at = |time: Option<u64>| time.map_or(ForkCondition::Never, ForkCondition::Timestamp);
    OpChainHardforks::new([
        (OpHardfork::Bedrock, ForkCondition::Block(0)),
        (OpHardfork::Regolith, at(forks.regolith_time)),
        (OpHardfork::Canyon, at(forks.canyon_time)),
        (OpHardfork::Ecotone, at(forks.ecotone_time)),
        (OpHardfork::Fjord, at(forks.fjord_time)),
        (OpHardfork::Granite, at(forks.granite_time)),
        (OpHardfork::Holocene, at(forks.holocene_time)),
        (OpHardfork::Isthmus, at(forks.isthmus_time)),
        (OpHardfork::Jovian, at(forks.jovian_time)),
        (OpHardfork::Karst, ForkCondition::Never),
        (OpHardfork::Interop, ForkCondition::Never),
    ])
}

impl OlEvmConfig {
    /// The configuration for `spec`. The PoA precompile's governance comes from the genesis
    /// `config.openledger.poaGovernance` (see [`ol_primitives::OpenLedgerConfig`]); a spec whose
    /// entry does not parse (which loading refuses) gets none.
    pub fn new(spec: &ChainSpec) -> Self {
        let governance = match spec.openledger() {
            Ok(config) => config.poa_governance.unwrap_or_default(),
            Err(err) => {
                tracing::warn!(%err, "no PoA governance: the attestor set cannot change");
                Address::ZERO
            }
        };
        Self {
            factory: OpBlockExecutorFactory::new(
                OpAlloyReceiptBuilder::default(),
                hardforks(&spec.rollup.forks),
                OlEvmFactory::new(ProofOfAttribution::new(governance)),
            ),
            chain_id: spec.chain_id(),
        }
    }

    /// The EVM factory (op-revm with the PoA precompile), for callers that run their own EVMs
    /// (tracing, access lists).
    pub fn evm_factory(&self) -> &OlEvmFactory {
        self.factory.evm_factory()
    }

    /// The chain id.
    pub const fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The op-revm spec at `timestamp`.
    pub fn spec_at(&self, timestamp: u64) -> OpSpecId {
        alloy_op_evm::spec_by_timestamp_after_bedrock(self.factory.spec(), timestamp)
    }

    /// The EVM environment of a block with the given fields.
    pub fn evm_env(
        &self,
        number: u64,
        timestamp: u64,
        beneficiary: Address,
        prev_randao: B256,
        gas_limit: u64,
        base_fee: u64,
    ) -> EvmEnv<OpSpecId> {
        let mut cfg_env = CfgEnv::new_with_spec(self.spec_at(timestamp));
        cfg_env.chain_id = self.chain_id;
        let block_env = BlockEnv {
            number: U256::from(number),
            beneficiary,
            timestamp: U256::from(timestamp),
            gas_limit,
            basefee: base_fee,
            difficulty: U256::ZERO,
            prevrandao: Some(prev_randao),
            // OP chains have no blobs: the blob base fee is pinned at its minimum.
            blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new(0, 1)),
            ..Default::default()
        };
        EvmEnv { cfg_env, block_env }
    }

    /// The EVM environment of an existing block.
    pub fn evm_env_for_header(&self, header: &Header) -> EvmEnv<OpSpecId> {
        self.evm_env(
            header.number,
            header.timestamp,
            header.beneficiary,
            header.mix_hash,
            header.gas_limit,
            header.base_fee_per_gas.unwrap_or_default(),
        )
    }
}

/// The base fee of the block after `parent` under Jovian: EIP-1559 with the parameters in the
/// parent's `extraData`, over `max(gasUsed, blobGasUsed)` (the DA footprint), floored at the
/// minimum base fee.
pub fn next_block_base_fee(parent: &Header) -> Result<u64, EvmError> {
    let (elasticity, denominator, min_base_fee) =
        op_alloy_consensus::decode_jovian_extra_data(&parent.extra_data)
            .map_err(|err| EvmError::BadParent(format!("extraData: {err}")))?;
    let parent_base_fee = parent
        .base_fee_per_gas
        .ok_or_else(|| EvmError::BadParent("no base fee".into()))?;
    let params = BaseFeeParams::new(u128::from(denominator), u128::from(elasticity));
    let gas_used = parent
        .gas_used
        .max(parent.blob_gas_used.unwrap_or_default());
    let next = params.next_block_base_fee(gas_used, parent.gas_limit, parent_base_fee);
    Ok(next.max(min_base_fee))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ol_primitives::{SystemConfig, genesis::jovian_extra_data};

    fn parent(gas_used: u64, blob_gas_used: u64, base_fee: u64) -> Header {
        Header {
            gas_limit: 60_000_000,
            gas_used,
            blob_gas_used: Some(blob_gas_used),
            base_fee_per_gas: Some(base_fee),
            extra_data: jovian_extra_data(&SystemConfig::default()),
            ..Default::default()
        }
    }

    #[test]
    fn base_fee_rises_above_target_and_falls_below() {
        // Target is gas_limit / elasticity = 10M.
        assert_eq!(
            next_block_base_fee(&parent(10_000_000, 0, 1_000_000_000)).unwrap(),
            1_000_000_000
        );
        assert!(
            next_block_base_fee(&parent(60_000_000, 0, 1_000_000_000)).unwrap() > 1_000_000_000
        );
        assert!(next_block_base_fee(&parent(0, 0, 1_000_000_000)).unwrap() < 1_000_000_000);
    }

    #[test]
    fn da_footprint_counts_when_larger_than_gas_used() {
        let by_gas = next_block_base_fee(&parent(0, 0, 1_000_000_000)).unwrap();
        let by_da = next_block_base_fee(&parent(0, 60_000_000, 1_000_000_000)).unwrap();
        assert!(by_da > by_gas);
    }

    #[test]
    fn base_fee_never_drops_below_the_minimum() {
        let min = SystemConfig::default().min_base_fee;
        assert_eq!(next_block_base_fee(&parent(0, 0, min)).unwrap(), min);
    }

    #[test]
    fn jovian_is_active_at_genesis_in_the_dev_config() {
        let spec = ol_primitives::dev::dev_chain_spec(None, 0).unwrap();
        let config = OlEvmConfig::new(&spec);
        assert_eq!(config.spec_at(0), OpSpecId::JOVIAN);
        assert_eq!(config.spec_at(u64::MAX), OpSpecId::JOVIAN);
    }
}
