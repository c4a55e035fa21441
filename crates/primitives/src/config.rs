//! The rollup configuration, in op-node's `rollup.json` shape, and the chain spec built from it.

use alloy_genesis::Genesis;
use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};

/// A reference to an L1 block (op-node's `BlockID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct L1BlockRef {
    /// Block hash.
    pub hash: B256,
    /// Block number.
    pub number: u64,
}

/// The genesis anchors of the rollup: the L1 block it starts from and the L2 genesis block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GenesisAnchor {
    /// The L1 block the rollup starts at.
    pub l1: L1BlockRef,
    /// The L2 genesis block (filled in by `init`, whose hash depends on the genesis state).
    pub l2: L1BlockRef,
    /// Timestamp of the L2 genesis block.
    pub l2_time: u64,
    /// The system configuration at genesis.
    pub system_config: SystemConfig,
}

/// The L1 `SystemConfig` values the L2 reads: batcher, gas limit and fee parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemConfig {
    /// The address allowed to post batches.
    pub batcher_addr: Address,
    /// L2 block gas limit.
    pub gas_limit: u64,
    /// Ecotone L1 base-fee scalar.
    pub base_fee_scalar: u32,
    /// Ecotone L1 blob-base-fee scalar.
    pub blob_base_fee_scalar: u32,
    /// Isthmus operator-fee scalar.
    pub operator_fee_scalar: u32,
    /// Isthmus operator-fee constant.
    pub operator_fee_constant: u64,
    /// Jovian DA-footprint gas scalar (0 means the protocol default of 400).
    pub da_footprint_gas_scalar: u16,
    /// Holocene EIP-1559 denominator.
    pub eip1559_denominator: u32,
    /// Holocene EIP-1559 elasticity.
    pub eip1559_elasticity: u32,
    /// Jovian minimum base fee in wei.
    pub min_base_fee: u64,
}

impl Default for SystemConfig {
    fn default() -> Self {
        Self {
            batcher_addr: Address::ZERO,
            gas_limit: 60_000_000,
            // OP Mainnet's Ecotone scalars.
            base_fee_scalar: 1368,
            blob_base_fee_scalar: 810_949,
            operator_fee_scalar: 0,
            operator_fee_constant: 0,
            da_footprint_gas_scalar: 400,
            // OP Mainnet's post-Canyon EIP-1559 parameters.
            eip1559_denominator: 250,
            eip1559_elasticity: 6,
            min_base_fee: 1_000_000,
        }
    }
}

/// Activation timestamps of the OP hardforks (`None` = not scheduled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ForkTimes {
    /// Regolith.
    pub regolith_time: Option<u64>,
    /// Canyon.
    pub canyon_time: Option<u64>,
    /// Delta.
    pub delta_time: Option<u64>,
    /// Ecotone.
    pub ecotone_time: Option<u64>,
    /// Fjord.
    pub fjord_time: Option<u64>,
    /// Granite.
    pub granite_time: Option<u64>,
    /// Holocene.
    pub holocene_time: Option<u64>,
    /// Isthmus.
    pub isthmus_time: Option<u64>,
    /// Jovian.
    pub jovian_time: Option<u64>,
}

impl ForkTimes {
    /// Every fork through Jovian active from genesis.
    pub const fn jovian_at_genesis() -> Self {
        Self {
            regolith_time: Some(0),
            canyon_time: Some(0),
            delta_time: Some(0),
            ecotone_time: Some(0),
            fjord_time: Some(0),
            granite_time: Some(0),
            holocene_time: Some(0),
            isthmus_time: Some(0),
            jovian_time: Some(0),
        }
    }
}

/// The rollup configuration (op-node's `rollup.json` field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollupConfig {
    /// Genesis anchors.
    pub genesis: GenesisAnchor,
    /// Seconds between L2 blocks.
    pub block_time: u64,
    /// Maximum seconds an L2 block may run ahead of its L1 origin (1800 since Fjord).
    pub max_sequencer_drift: u64,
    /// Sequencing window in L1 blocks.
    pub seq_window_size: u64,
    /// Channel timeout in L1 blocks (50 since Granite).
    pub channel_timeout: u64,
    /// L1 chain id.
    pub l1_chain_id: u64,
    /// L2 chain id.
    pub l2_chain_id: u64,
    /// Hardfork activation times.
    #[serde(flatten)]
    pub forks: ForkTimes,
    /// Where batches are posted on L1.
    pub batch_inbox_address: Address,
    /// The L1 deposit contract (OptimismPortal-compatible).
    pub deposit_contract_address: Address,
    /// The L1 system config contract.
    pub l1_system_config_address: Address,
}

impl RollupConfig {
    /// The dev configuration: every fork through Jovian at genesis, OP's standard constants.
    pub fn dev(l2_chain_id: u64) -> Self {
        Self {
            genesis: GenesisAnchor::default(),
            block_time: 1,
            max_sequencer_drift: 1800,
            seq_window_size: 3600,
            channel_timeout: 50,
            l1_chain_id: 31337,
            l2_chain_id,
            forks: ForkTimes::jovian_at_genesis(),
            batch_inbox_address: batch_inbox_address(l2_chain_id),
            deposit_contract_address: Address::ZERO,
            l1_system_config_address: Address::ZERO,
        }
    }

    /// Checks the invariants the node relies on, with a message an operator can act on.
    pub fn validate(&self) -> Result<(), String> {
        if self.block_time == 0 {
            return Err("block_time must be at least 1 second".into());
        }
        if self.forks.jovian_time != Some(0) {
            return Err("this node runs Jovian from genesis: jovian_time must be 0".into());
        }
        if self.genesis.system_config.gas_limit < 1_000_000 {
            return Err("system_config.gasLimit must be at least 1,000,000".into());
        }
        if self.genesis.system_config.eip1559_denominator == 0
            || self.genesis.system_config.eip1559_elasticity == 0
        {
            return Err("EIP-1559 denominator and elasticity must be non-zero".into());
        }
        Ok(())
    }
}

/// The batch inbox address convention: `0x00 ++ keccak256(bytes32(chainId))[..19]`.
pub fn batch_inbox_address(chain_id: u64) -> Address {
    let hash = alloy_primitives::keccak256(B256::left_padding_from(&chain_id.to_be_bytes()));
    let mut bytes = [0u8; 20];
    bytes[1..].copy_from_slice(&hash[..19]);
    Address::from(bytes)
}

/// The key of OpenLedger's own parameters in the genesis `config` object.
pub const OPENLEDGER_CONFIG_KEY: &str = "openledger";

/// OpenLedger's own chain parameters, an extra field of the genesis `config` object (next to
/// `chainId` and the fork blocks, which other clients ignore):
///
/// ```json
/// "config": { "chainId": 1611, ..., "openledger": { "poaGovernance": "0x4200…1001" } }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenLedgerConfig {
    /// The only account allowed to call the Proof of Attribution precompile's `setAttestor` (the
    /// `Governance` contract). Absent: nobody can change the attestor set, which then stays as
    /// the genesis storage of the precompile has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poa_governance: Option<Address>,
}

/// Everything needed to run the chain: genesis and rollup configuration.
#[derive(Debug, Clone)]
pub struct ChainSpec {
    /// The L2 genesis (go-ethereum format).
    pub genesis: Genesis,
    /// The rollup configuration.
    pub rollup: RollupConfig,
}

impl ChainSpec {
    /// The L2 chain id.
    pub const fn chain_id(&self) -> u64 {
        self.rollup.l2_chain_id
    }

    /// The system configuration in force (genesis values until L1 updates are followed).
    pub const fn system_config(&self) -> &SystemConfig {
        &self.rollup.genesis.system_config
    }

    /// OpenLedger's parameters from the genesis `config` (defaults when the key is absent).
    pub fn openledger(&self) -> Result<OpenLedgerConfig, String> {
        self.genesis
            .config
            .extra_fields
            .get_deserialized::<OpenLedgerConfig>(OPENLEDGER_CONFIG_KEY)
            .transpose()
            .map(Option::unwrap_or_default)
            .map_err(|err| format!("genesis config.{OPENLEDGER_CONFIG_KEY}: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollup_config_round_trips_in_op_node_field_names() {
        let config = RollupConfig::dev(1611);
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["l2_chain_id"], 1611);
        assert_eq!(json["jovian_time"], 0);
        assert_eq!(json["genesis"]["system_config"]["gasLimit"], 60_000_000);
        let back: RollupConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn batch_inbox_follows_the_versioned_hash_convention() {
        let inbox = batch_inbox_address(10);
        assert_eq!(inbox[0], 0);
        let hash = alloy_primitives::keccak256(B256::left_padding_from(&[10]));
        assert_eq!(&inbox[1..], &hash[..19]);
    }

    #[test]
    fn openledger_config_is_read_from_the_genesis_config() {
        let mut spec = crate::dev::dev_chain_spec(None, 0).unwrap();
        assert_eq!(
            spec.openledger().unwrap().poa_governance,
            Some(crate::addresses::dev_suite::GOVERNANCE)
        );
        spec.genesis
            .config
            .extra_fields
            .remove(OPENLEDGER_CONFIG_KEY);
        assert_eq!(spec.openledger().unwrap(), OpenLedgerConfig::default());
        spec.genesis
            .config
            .extra_fields
            .insert_value(
                OPENLEDGER_CONFIG_KEY.into(),
                serde_json::json!({"poaGovernance": "nope"}),
            )
            .unwrap();
        assert!(spec.openledger().unwrap_err().contains("openledger"));
    }

    #[test]
    fn validation_refuses_zero_block_time() {
        let mut config = RollupConfig::dev(1);
        config.block_time = 0;
        assert!(config.validate().is_err());
    }
}
