//! The dev chain: the embedded genesis from `genesis/`, the standard test mnemonic's accounts
//! (including the dev sequencer's attestor), the parameters of the L2 contract suite the dev
//! genesis predeploys, and the base of the generator that writes `genesis/dev.json`.

use crate::{
    addresses::{L1_BLOCK, L2_TO_L1_MESSAGE_PASSER, PROOF_OF_ATTRIBUTION, dev_suite},
    config::{ChainSpec, OPENLEDGER_CONFIG_KEY, OpenLedgerConfig, RollupConfig},
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

/// Index in [`DEV_MNEMONIC`] of the dev sequencer's attestor key (`m/44'/60'/0'/0/10`, address
/// `0xBcd4042DE499D14e55001CcbB24a551F3b954096`): the only attestor of the PoA precompile in the
/// dev genesis, funded like the dev accounts so it can pay for `record` and `fulfill`.
pub const DEV_ATTESTOR_INDEX: u32 = 10;
/// Index in [`DEV_MNEMONIC`] of the governance council of the dev genesis: the only proposer and
/// executor of the `TimelockController` that owns `Governance` (dev account 0).
pub const DEV_COUNCIL_INDEX: u32 = 0;
/// `TimelockController.minDelay` in the dev genesis: one minute, short enough to try a proposal.
pub const DEV_TIMELOCK_DELAY_SECS: u64 = 60;

/// The `Governance` initial parameters of the dev genesis (`Governance.InitParams`); the treasury
/// is the timelock ([`dev_suite::TIMELOCK`]).
pub mod dev_params {
    /// Model owner's share of the net fee, ppm.
    pub const MODEL_OWNER_PPM: u32 = 300_000;
    /// Stakers' share, ppm.
    pub const STAKERS_PPM: u32 = 100_000;
    /// Contributors' share, ppm (split among a record's contributors by its weights).
    pub const CONTRIBUTORS_PPM: u32 = 500_000;
    /// Treasury's share, ppm.
    pub const TREASURY_PPM: u32 = 100_000;
    /// Flat platform fee per inference request: 0.001 OPEN.
    pub const PLATFORM_FEE_WEI: u64 = 1_000_000_000_000_000;
    /// Seconds a contribution's stake stays bonded after approval (short for development).
    pub const CONTRIBUTION_UNBONDING_SECS: u64 = 10;
    /// Seconds between `Staking.unstake` and `Staking.withdraw` (short for development).
    pub const STAKING_UNBONDING_SECS: u64 = 10;
    /// Blocks after which an unfulfilled request can be refunded.
    pub const REQUEST_EXPIRY_BLOCKS: u64 = 100;
    /// Contributor cap of every enabled attribution method (the precompile's maximum).
    pub const METHOD_MAX_CONTRIBUTORS: u32 = 256;
    /// GPU tolerance of every enabled method, ppm.
    pub const METHOD_GPU_TOLERANCE_PPM: u32 = 1_000;
    /// The enabled methods (`AttributionMethod` ids) with the name hashed into their config hash:
    /// DataInf, TracIn, Infini-gram, KNN-Shapley, Gauss-Newton influence.
    pub const METHODS: [(u8, &str); 5] = [
        (0, "datainf"),
        (1, "tracin"),
        (2, "infinigram"),
        (3, "knn-shapley"),
        (4, "gauss-newton"),
    ];
}

/// The embedded dev genesis (`genesis/dev.json`).
pub const DEV_GENESIS_JSON: &str = include_str!("../../../genesis/dev.json");
/// The embedded dev rollup configuration (`genesis/dev-rollup.json`).
pub const DEV_ROLLUP_JSON: &str = include_str!("../../../genesis/dev-rollup.json");

/// The signer of index `index` of [`DEV_MNEMONIC`].
pub fn dev_signer(index: u32) -> PrivateKeySigner {
    MnemonicBuilder::<English>::default()
        .phrase(DEV_MNEMONIC)
        .index(index)
        .expect("index in range")
        .build()
        .expect("the dev mnemonic is valid")
}

/// The signers of the dev accounts (index 0..10 of [`DEV_MNEMONIC`]).
pub fn dev_signers() -> Vec<PrivateKeySigner> {
    (0..DEV_ACCOUNT_COUNT).map(dev_signer).collect()
}

/// The dev sequencer's attestor key (see [`DEV_ATTESTOR_INDEX`]).
pub fn dev_attestor() -> PrivateKeySigner {
    dev_signer(DEV_ATTESTOR_INDEX)
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

/// The base of the dev genesis, from the runtime code of the two OP predeploys: every fork
/// through Jovian (Prague on the EVM side) at time 0, the EIP-4788 and EIP-2935 system contracts,
/// the ten dev accounts and the attestor funded, and the PoA precompile's account (code `0xFE`,
/// governance [`dev_suite::GOVERNANCE`] in `config.openledger`). The L2 contract suite is added by
/// running its constructors on this state (`openledger genesis dev`).
pub fn generate_dev_genesis(
    l1_block_code: Bytes,
    message_passer_code: Bytes,
) -> (Genesis, RollupConfig) {
    let rollup = RollupConfig::dev(DEV_CHAIN_ID);
    let mut alloc = BTreeMap::new();
    for signer in dev_signers().into_iter().chain([dev_attestor()]) {
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
    // Solidity checks `extcodesize` before calls to functions without return values: the
    // precompile's account carries ArbOS's `INVALID` byte (and so is never empty).
    alloc.insert(
        PROOF_OF_ATTRIBUTION,
        GenesisAccount::default().with_code(Some(Bytes::from_static(&[0xfe]))),
    );
    alloc.insert(
        alloy_eips::eip4788::BEACON_ROOTS_ADDRESS,
        code_account(alloy_eips::eip4788::BEACON_ROOTS_CODE.clone()),
    );
    alloc.insert(
        alloy_eips::eip2935::HISTORY_STORAGE_ADDRESS,
        code_account(alloy_eips::eip2935::HISTORY_STORAGE_CODE.clone()),
    );

    let mut config = ChainConfig {
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
    let openledger = OpenLedgerConfig {
        poa_governance: Some(dev_suite::GOVERNANCE),
    };
    config
        .extra_fields
        .insert_value(OPENLEDGER_CONFIG_KEY.into(), openledger)
        .expect("the config serializes");
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
    fn dev_attestor_is_account_ten_and_funded() {
        assert_eq!(
            dev_attestor().address(),
            address!("0xBcd4042DE499D14e55001CcbB24a551F3b954096")
        );
        let spec = dev_chain_spec(None, 0).unwrap();
        assert_eq!(
            spec.genesis.alloc[&dev_attestor().address()].balance,
            DEV_ACCOUNT_BALANCE
        );
        let poa = &spec.genesis.alloc[&PROOF_OF_ATTRIBUTION];
        assert_eq!(poa.code.as_ref().map(|c| c.to_vec()), Some(vec![0xfe]));
        assert!(poa.storage.as_ref().is_some_and(|s| !s.is_empty()));
    }

    #[test]
    fn chain_id_override_applies_to_genesis_and_rollup() {
        let spec = dev_chain_spec(Some(4242), 0).unwrap();
        assert_eq!(spec.genesis.config.chain_id, 4242);
        assert_eq!(spec.rollup.l2_chain_id, 4242);
    }
}
