//! The rollup's L1 contracts: their bindings and creation code, compiled into the crate from
//! `contracts/artifacts/` (ABI and bytecode of `OptimismPortal`, `SystemConfig` and
//! `L2OutputOracle`), and [`deploy_rollup`], which deploys the three from one key and reports
//! where they are and which L1 block the rollup is anchored at.
//!
//! The anchor (`genesis.l1` of `rollup.json`) is the block that created `SystemConfig`: that is
//! the contract's `startBlock`, the portal exists before it (so no deposit predates the rollup),
//! and the L2 genesis time is its timestamp. `L2OutputOracle` is deployed after it, since its
//! constructor takes that timestamp as the L2 starting timestamp.

use crate::{
    block::L1BlockRef,
    client::L1Client,
    error::L1Error,
    tx::{send_signed, sign_create, wait_for_receipt},
};
use alloy::{
    primitives::{Address, B256, Bytes, U256},
    signers::local::PrivateKeySigner,
    sol_types::SolConstructor,
};
use ol_primitives::{
    ChainSpec, GenesisError, RollupConfig, SystemConfig, config::batch_inbox_address,
    dev::dev_chain_spec, genesis::chain_spec,
};
use std::time::Duration;
use tracing::info;

#[allow(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    rustdoc::all
)]
mod bindings {
    alloy::sol!(
        OptimismPortal,
        "../../contracts/artifacts/OptimismPortal.json"
    );
    alloy::sol!(SystemConfig, "../../contracts/artifacts/SystemConfig.json");
    alloy::sol!(
        L2OutputOracle,
        "../../contracts/artifacts/L2OutputOracle.json"
    );
}

/// Bindings of the contracts (calls, events, errors, `BYTECODE`); `SystemConfig` is
/// `SystemConfigContract` here to keep it apart from [`ol_primitives::SystemConfig`].
pub use bindings::{L2OutputOracle, OptimismPortal, SystemConfig as SystemConfigContract};

/// L2 blocks between output proposals on a dev chain.
pub const DEV_OUTPUT_INTERVAL: u64 = 10;
/// Seconds until a proposed output is final on a dev chain.
pub const DEV_FINALIZATION_PERIOD_SECS: u64 = 12;
/// Smallest L2 gas limit `SystemConfig` accepts (its `minimumGasLimit()`: deposit gas per L1
/// block plus the system transaction's gas).
pub const MIN_L2_GAS_LIMIT: u64 = 21_000_000;
/// Largest L2 gas limit `SystemConfig` accepts (its `MAX_GAS_LIMIT`).
pub const MAX_L2_GAS_LIMIT: u64 = 500_000_000;

/// How often a deployment polls for its receipts.
const RECEIPT_POLL: Duration = Duration::from_millis(250);
/// How long a deployment waits for each receipt (a congested L1 takes several blocks).
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// What to deploy the rollup's L1 contracts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupDeployParams {
    /// The L2 chain id (it picks the batch inbox address).
    pub l2_chain_id: u64,
    /// Seconds per L2 block.
    pub l2_block_time: u64,
    /// L2 blocks between output proposals (`SUBMISSION_INTERVAL`).
    pub output_interval: u64,
    /// Seconds until a proposed output is final (`FINALIZATION_PERIOD_SECONDS`).
    pub finalization_period_secs: u64,
    /// The only account allowed to propose outputs.
    pub proposer: Address,
    /// The genesis system configuration; its `batcher_addr` is the batcher.
    pub system_config: SystemConfig,
    /// The key that signs unsafe blocks for p2p gossip (zero: none).
    pub unsafe_block_signer: Address,
}

impl RollupDeployParams {
    /// Dev settings: 1-second blocks, an output every [`DEV_OUTPUT_INTERVAL`] blocks final after
    /// [`DEV_FINALIZATION_PERIOD_SECS`], the default system configuration.
    pub fn dev(l2_chain_id: u64, batcher: Address, proposer: Address) -> Self {
        Self {
            l2_chain_id,
            l2_block_time: 1,
            output_interval: DEV_OUTPUT_INTERVAL,
            finalization_period_secs: DEV_FINALIZATION_PERIOD_SECS,
            proposer,
            system_config: SystemConfig {
                batcher_addr: batcher,
                ..SystemConfig::default()
            },
            unsafe_block_signer: Address::ZERO,
        }
    }

    /// Checks what the contracts' constructors would refuse, so that a bad value fails before
    /// anything is sent rather than after the first contract is deployed.
    pub fn validate(&self) -> Result<(), DeployError> {
        let invalid = |message: String| Err(DeployError::InvalidParams(message));
        let config = &self.system_config;
        if self.l2_block_time == 0 {
            return invalid("the L2 block time must be at least 1 second".into());
        }
        if self.output_interval == 0 {
            return invalid("the output interval must be at least 1 L2 block".into());
        }
        if !(MIN_L2_GAS_LIMIT..=MAX_L2_GAS_LIMIT).contains(&config.gas_limit) {
            return invalid(format!(
                "the L2 gas limit {} is outside {MIN_L2_GAS_LIMIT}..={MAX_L2_GAS_LIMIT}",
                config.gas_limit
            ));
        }
        if config.eip1559_denominator == 0 || config.eip1559_elasticity == 0 {
            return invalid("the EIP-1559 denominator and elasticity must be non-zero".into());
        }
        Ok(())
    }

    /// The batch inbox of this L2 chain.
    pub fn batch_inbox(&self) -> Address {
        batch_inbox_address(self.l2_chain_id)
    }
}

/// Where the rollup's L1 contracts are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeployedRollup {
    /// The L1 chain id.
    pub l1_chain_id: u64,
    /// The account that deployed them (owner of `SystemConfig`, challenger of the oracle).
    pub deployer: Address,
    /// `OptimismPortal` (the deposit contract).
    pub portal: Address,
    /// `SystemConfig`.
    pub system_config: Address,
    /// `L2OutputOracle`.
    pub output_oracle: Address,
    /// The anchor: the L1 block that created `SystemConfig`; `genesis.l1` of the rollup, whose
    /// timestamp is the L2 genesis time and the oracle's starting timestamp.
    pub block: L1BlockRef,
}

impl DeployedRollup {
    /// The rollup configuration of this deployment: [`RollupConfig::dev`] anchored at
    /// [`Self::block`], with these contracts and `params`' block time and system configuration.
    /// The L2 genesis hash (`genesis.l2`) is left for `init` to fill in.
    pub fn rollup_config(&self, params: &RollupDeployParams) -> RollupConfig {
        let mut rollup = RollupConfig::dev(params.l2_chain_id);
        rollup.block_time = params.l2_block_time;
        rollup.l1_chain_id = self.l1_chain_id;
        rollup.genesis.l1 = self.block.id();
        rollup.genesis.l2_time = self.block.timestamp;
        rollup.genesis.system_config = params.system_config.clone();
        rollup.batch_inbox_address = params.batch_inbox();
        rollup.deposit_contract_address = self.portal;
        rollup.l1_system_config_address = self.system_config;
        rollup
    }

    /// The dev L2 genesis (the embedded one, with `params`' chain id and gas limit, starting at
    /// the anchor's timestamp) with [`Self::rollup_config`], checked to agree.
    pub fn dev_chain_spec(&self, params: &RollupDeployParams) -> Result<ChainSpec, GenesisError> {
        let mut genesis = dev_chain_spec(Some(params.l2_chain_id), self.block.timestamp)?.genesis;
        genesis.gas_limit = params.system_config.gas_limit;
        chain_spec(genesis, self.rollup_config(params))
    }
}

/// Why a deployment failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// A parameter the contracts would refuse.
    #[error("invalid deployment parameters: {0}")]
    InvalidParams(String),
    /// L1 refused or did not answer.
    #[error("{step}: {source}")]
    L1 {
        /// What the deployment was doing ("deploying SystemConfig").
        step: &'static str,
        /// The L1 error.
        #[source]
        source: L1Error,
    },
    /// A creation transaction was mined but reverted.
    #[error("the creation of {contract} reverted (transaction {tx})")]
    Reverted {
        /// The contract.
        contract: &'static str,
        /// The transaction.
        tx: B256,
    },
    /// The anchor block vanished from L1 (a reorg) while the deployment ran.
    #[error("the anchor block {0} is no longer canonical on L1: deploy again")]
    AnchorReorged(B256),
}

/// Deploys `OptimismPortal`, `SystemConfig` (owner: the deployer) and `L2OutputOracle`
/// (challenger: the deployer; starting at L2 block 0 at the anchor's timestamp) from `deployer`,
/// waiting for each receipt.
pub async fn deploy_rollup<C: L1Client>(
    client: &C,
    deployer: &PrivateKeySigner,
    params: &RollupDeployParams,
) -> Result<DeployedRollup, DeployError> {
    params.validate()?;
    let l1_chain_id = client.chain_id().await.map_err(|source| DeployError::L1 {
        step: "reading the L1 chain id",
        source,
    })?;
    let owner = deployer.address();
    let portal = deploy(
        client,
        deployer,
        l1_chain_id,
        ("OptimismPortal", "deploying OptimismPortal"),
        OptimismPortal::BYTECODE.clone(),
    )
    .await?;

    let config = &params.system_config;
    let system_config_args = SystemConfigContract::constructorCall {
        owner_: owner,
        init: SystemConfigContract::InitParams {
            batcherHash: config.batcher_addr.into_word(),
            basefeeScalar: config.base_fee_scalar,
            blobbasefeeScalar: config.blob_base_fee_scalar,
            gasLimit: config.gas_limit,
            unsafeBlockSigner: params.unsafe_block_signer,
            batchInbox: params.batch_inbox(),
            eip1559Denominator: config.eip1559_denominator,
            eip1559Elasticity: config.eip1559_elasticity,
            operatorFeeScalar: config.operator_fee_scalar,
            operatorFeeConstant: config.operator_fee_constant,
            minBaseFee: config.min_base_fee,
            daFootprintGasScalar: config.da_footprint_gas_scalar,
        },
    };
    let system_config = deploy(
        client,
        deployer,
        l1_chain_id,
        ("SystemConfig", "deploying SystemConfig"),
        init_code(&SystemConfigContract::BYTECODE, &system_config_args),
    )
    .await?;
    let anchor = anchor_block(client, system_config.1).await?;

    let oracle_args = L2OutputOracle::constructorCall {
        submissionInterval: U256::from(params.output_interval),
        l2BlockTime: U256::from(params.l2_block_time),
        startingBlockNumber: U256::ZERO,
        startingTimestamp: U256::from(anchor.timestamp),
        proposer: params.proposer,
        challenger: owner,
        finalizationPeriodSeconds: U256::from(params.finalization_period_secs),
    };
    let output_oracle = deploy(
        client,
        deployer,
        l1_chain_id,
        ("L2OutputOracle", "deploying L2OutputOracle"),
        init_code(&L2OutputOracle::BYTECODE, &oracle_args),
    )
    .await?;

    // The oracle's block is later than the anchor: if the anchor is still canonical, the whole
    // deployment is on one chain.
    let still = client
        .header_by_number(anchor.number)
        .await
        .map_err(|source| DeployError::L1 {
            step: "checking the anchor block",
            source,
        })?;
    if still.map(|header| header.hash) != Some(anchor.hash) {
        return Err(DeployError::AnchorReorged(anchor.hash));
    }
    let deployed = DeployedRollup {
        l1_chain_id,
        deployer: owner,
        portal: portal.0,
        system_config: system_config.0,
        output_oracle: output_oracle.0,
        block: anchor,
    };
    info!(
        portal = %deployed.portal,
        system_config = %deployed.system_config,
        output_oracle = %deployed.output_oracle,
        anchor = %deployed.block,
        "rollup L1 contracts deployed"
    );
    Ok(deployed)
}

fn init_code(bytecode: &Bytes, args: &impl SolConstructor) -> Bytes {
    let mut code = bytecode.to_vec();
    code.extend_from_slice(&args.abi_encode());
    code.into()
}

/// The unsafe block signer `SystemConfig` at `system_config` names now (its
/// `unsafeBlockSigner()`, the value op-node reads from the contract's storage): whose signature
/// a gossiped block needs.
pub async fn unsafe_block_signer<C: L1Client>(
    client: &C,
    system_config: Address,
) -> Result<Address, L1Error> {
    use alloy::sol_types::SolCall;
    let query = crate::client::GasQuery {
        from: Address::ZERO,
        to: alloy::primitives::TxKind::Call(system_config),
        value: U256::ZERO,
        input: SystemConfigContract::unsafeBlockSignerCall {}
            .abi_encode()
            .into(),
    };
    let output = client.call(query, crate::client::BlockTag::Latest).await?;
    SystemConfigContract::unsafeBlockSignerCall::abi_decode_returns(&output).map_err(|err| {
        L1Error::InvalidResponse {
            method: "eth_call SystemConfig.unsafeBlockSigner",
            message: err.to_string(),
        }
    })
}

/// Creates one contract and waits for it; returns its address and the block it was created in.
/// `step` names the work in errors ("deploying <contract>").
async fn deploy<C: L1Client>(
    client: &C,
    deployer: &PrivateKeySigner,
    chain_id: u64,
    (contract, step): (&'static str, &'static str),
    code: Bytes,
) -> Result<(Address, ol_primitives::L1BlockRef), DeployError> {
    let l1 = |source| DeployError::L1 { step, source };
    let signed = sign_create(client, deployer, chain_id, code)
        .await
        .map_err(l1)?;
    send_signed(client, &signed).await.map_err(l1)?;
    let receipt = wait_for_receipt(client, signed.hash, RECEIPT_POLL, RECEIPT_TIMEOUT)
        .await
        .map_err(l1)?;
    if !receipt.success {
        return Err(DeployError::Reverted {
            contract,
            tx: signed.hash,
        });
    }
    let address = deployer.address().create(signed.nonce);
    info!(contract, %address, tx = %signed.hash, block = receipt.block.number, "deployed");
    Ok((address, receipt.block))
}

/// The full reference of the block a receipt names, checked to still be canonical.
async fn anchor_block<C: L1Client>(
    client: &C,
    block: ol_primitives::L1BlockRef,
) -> Result<L1BlockRef, DeployError> {
    let header = client
        .header_by_number(block.number)
        .await
        .map_err(|source| DeployError::L1 {
            step: "reading the anchor block",
            source,
        })?;
    match header {
        Some(header) if header.hash == block.hash => Ok(header.block_ref()),
        _ => Err(DeployError::AnchorReorged(block.hash)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_utils::MemoryL1;

    #[test]
    fn the_rollup_config_is_anchored_at_the_deployment() {
        let params =
            RollupDeployParams::dev(4242, Address::repeat_byte(8), Address::repeat_byte(9));
        let deployed = DeployedRollup {
            l1_chain_id: 5,
            deployer: Address::repeat_byte(1),
            portal: Address::repeat_byte(2),
            system_config: Address::repeat_byte(3),
            output_oracle: Address::repeat_byte(4),
            block: L1BlockRef {
                number: 7,
                hash: B256::repeat_byte(7),
                parent_hash: B256::repeat_byte(6),
                timestamp: 1_700_000_123,
            },
        };
        let spec = deployed.dev_chain_spec(&params).unwrap();
        let rollup = &spec.rollup;
        assert_eq!(rollup.genesis.l1, deployed.block.id());
        assert_eq!(rollup.genesis.l2_time, 1_700_000_123);
        assert_eq!(spec.genesis.timestamp, 1_700_000_123);
        assert_eq!(spec.genesis.config.chain_id, 4242);
        assert_eq!(rollup.l1_chain_id, 5);
        assert_eq!(rollup.deposit_contract_address, deployed.portal);
        assert_eq!(rollup.l1_system_config_address, deployed.system_config);
        assert_eq!(rollup.batch_inbox_address, batch_inbox_address(4242));
        assert_eq!(
            rollup.genesis.system_config.batcher_addr,
            Address::repeat_byte(8)
        );
    }

    #[tokio::test]
    async fn bad_parameters_are_refused_before_anything_is_sent() {
        let l1 = MemoryL1::new(1);
        let deployer = PrivateKeySigner::random();
        let mut params = RollupDeployParams::dev(1, Address::ZERO, Address::ZERO);
        params.output_interval = 0;
        let err = deploy_rollup(&l1, &deployer, &params).await.unwrap_err();
        assert!(err.to_string().contains("output interval"), "{err}");
        params = RollupDeployParams::dev(1, Address::ZERO, Address::ZERO);
        params.system_config.gas_limit = 1_000_000;
        let err = deploy_rollup(&l1, &deployer, &params).await.unwrap_err();
        assert!(err.to_string().contains("gas limit"), "{err}");
        assert_eq!(l1.calls(), 0, "nothing reached L1");
    }
}
