//! The dev chain: the embedded genesis from `genesis/`, the standard test mnemonic's accounts, and
//! the generator that writes `genesis/dev.json` from the compiled predeploys.

use crate::{
    addresses::{L1_BLOCK, L2_TO_L1_MESSAGE_PASSER},
    config::{ChainSpec, RollupConfig},
    genesis::{GenesisError, chain_spec},
};
use alloy_genesis::{ChainConfig, Genesis, GenesisAccount};
use alloy_primitives::{Address, Bytes, U256};
use alloy_signer_local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use std::collections::BTreeMap;

/// The mnemonic anvil and hardhat derive their dev accounts from.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";
/// Default chain id of the dev chain.
pub const DEV_CHAIN_ID: u64 = 1611;
/// Number of funded dev accounts.
pub const DEV_ACCOUNT_COUNT: u32 = 10;
/// Balance of each dev account: 10,000 OPEN, as anvil funds its accounts.
pub const DEV_ACCOUNT_BALANCE: U256 = alloy_primitives::uint!(10_000_000_000_000_000_000_000_U256);

/// The embedded dev genesis (`genesis/dev.json`).
pub const DEV_GENESIS_JSON: &str = include_str!("../../../genesis/dev.json");
/// The embedded dev rollup configuration (`genesis/dev-rollup.json`).
pub const DEV_ROLLUP_JSON: &str = include_str!("../../../genesis/dev-rollup.json");

/// The signers of the dev accounts (index 0..10 of [`DEV_MNEMONIC`]).
pub fn dev_signers() -> Vec<PrivateKeySigner> {
    (0..DEV_ACCOUNT_COUNT)
        .map(|index| {
            MnemonicBuilder::<English>::default()
                .phrase(DEV_MNEMONIC)
                .index(index)
                .expect("index in range")
                .build()
                .expect("the dev mnemonic is valid")
        })
        .collect()
}

/// The dev chain spec from the embedded files, with an optional chain id override and the genesis
/// timestamp set (a dev chain starts now, so its blocks keep pace with the clock).
pub fn dev_chain_spec(chain_id: Option<u64>, timestamp: u64) -> Result<ChainSpec, GenesisError> {
    let mut genesis: Genesis =
        serde_json::from_str(DEV_GENESIS_JSON).map_err(|source| GenesisError::Parse {
            path: "genesis/dev.json".into(),
            source,
        })?;
    let mut rollup: RollupConfig =
        serde_json::from_str(DEV_ROLLUP_JSON).map_err(|source| GenesisError::Parse {
            path: "genesis/dev-rollup.json".into(),
            source,
        })?;
    if let Some(chain_id) = chain_id {
        genesis.config.chain_id = chain_id;
        rollup.l2_chain_id = chain_id;
        rollup.batch_inbox_address = crate::config::batch_inbox_address(chain_id);
    }
    genesis.timestamp = timestamp;
    rollup.genesis.l2_time = timestamp;
    chain_spec(genesis, rollup)
}

/// Writes the dev genesis from the runtime code of the two predeploys: every fork through
/// Jovian (Prague on the EVM side) at time 0, the EIP-4788 and EIP-2935 system contracts, and
/// the ten dev accounts funded.
pub fn generate_dev_genesis(
    l1_block_code: Bytes,
    message_passer_code: Bytes,
) -> (Genesis, RollupConfig) {
    let rollup = RollupConfig::dev(DEV_CHAIN_ID);
    let mut alloc = BTreeMap::new();
    for signer in dev_signers() {
        alloc.insert(
            signer.address(),
            GenesisAccount::default().with_balance(DEV_ACCOUNT_BALANCE),
        );
    }
    let code_account = |code: Bytes| {
        GenesisAccount::default()
            .with_nonce(Some(1))
            .with_code(Some(code))
    };
    alloc.insert(L1_BLOCK, code_account(l1_block_code));
    alloc.insert(L2_TO_L1_MESSAGE_PASSER, code_account(message_passer_code));
    alloc.insert(
        alloy_eips::eip4788::BEACON_ROOTS_ADDRESS,
        code_account(alloy_eips::eip4788::BEACON_ROOTS_CODE.clone()),
    );
    alloc.insert(
        alloy_eips::eip2935::HISTORY_STORAGE_ADDRESS,
        code_account(alloy_eips::eip2935::HISTORY_STORAGE_CODE.clone()),
    );

    let config = ChainConfig {
        chain_id: DEV_CHAIN_ID,
        homestead_block: Some(0),
        eip150_block: Some(0),
        eip155_block: Some(0),
        eip158_block: Some(0),
        byzantium_block: Some(0),
        constantinople_block: Some(0),
        petersburg_block: Some(0),
        istanbul_block: Some(0),
        muir_glacier_block: Some(0),
        berlin_block: Some(0),
        london_block: Some(0),
        arrow_glacier_block: Some(0),
        gray_glacier_block: Some(0),
        merge_netsplit_block: Some(0),
        shanghai_time: Some(0),
        cancun_time: Some(0),
        prague_time: Some(0),
        terminal_total_difficulty: Some(U256::ZERO),
        terminal_total_difficulty_passed: true,
        ..Default::default()
    };
    let genesis = Genesis {
        config,
        nonce: 0,
        timestamp: 0,
        extra_data: Bytes::new(),
        gas_limit: rollup.genesis.system_config.gas_limit,
        difficulty: U256::ZERO,
        mix_hash: Default::default(),
        coinbase: Address::ZERO,
        alloc,
        base_fee_per_gas: Some(1_000_000_000),
        excess_blob_gas: Some(0),
        blob_gas_used: Some(0),
        ..Default::default()
    };
    (genesis, rollup)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;

    #[test]
    fn dev_accounts_are_anvils() {
        let signers = dev_signers();
        assert_eq!(signers.len(), 10);
        assert_eq!(
            signers[0].address(),
            address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
        );
        assert_eq!(
            signers[9].address(),
            address!("0xa0Ee7A142d267C1f36714E4a8F75612F20a79720")
        );
    }

    #[test]
    fn embedded_dev_genesis_funds_the_dev_accounts_and_holds_the_predeploys() {
        let spec = dev_chain_spec(None, 1_700_000_000).unwrap();
        assert_eq!(spec.chain_id(), DEV_CHAIN_ID);
        for signer in dev_signers() {
            assert_eq!(
                spec.genesis.alloc[&signer.address()].balance,
                DEV_ACCOUNT_BALANCE
            );
        }
        assert!(
            spec.genesis.alloc[&L1_BLOCK]
                .code
                .as_ref()
                .is_some_and(|c| !c.is_empty())
        );
        assert!(spec.genesis.alloc[&L2_TO_L1_MESSAGE_PASSER].code.is_some());
        assert_eq!(
            DEV_ACCOUNT_BALANCE,
            U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18))
        );
    }

    #[test]
    fn chain_id_override_applies_to_genesis_and_rollup() {
        let spec = dev_chain_spec(Some(4242), 0).unwrap();
        assert_eq!(spec.genesis.config.chain_id, 4242);
        assert_eq!(spec.rollup.l2_chain_id, 4242);
    }
}
