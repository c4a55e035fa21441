//! Addresses of predeploys, precompiles and system accounts: the OP Stack ones
//! (`specs/protocol/predeploys.md`), the Proof of Attribution precompile, and the L2 contract
//! suite of the dev genesis. `contracts/addresses.json` holds the same table for Solidity; a test
//! below fails when the two disagree.

use alloy_primitives::{Address, address};

/// The L1 attributes predeploy written by the first deposit of every block.
pub const L1_BLOCK: Address = address!("0x4200000000000000000000000000000000000015");
/// The withdrawal predeploy; its storage root is the block header's `withdrawalsRoot`.
pub const L2_TO_L1_MESSAGE_PASSER: Address = address!("0x4200000000000000000000000000000000000016");
/// Receives the base fee (op-revm `BASE_FEE_RECIPIENT`).
pub const BASE_FEE_VAULT: Address = address!("0x4200000000000000000000000000000000000019");
/// Receives the L1 data fee (op-revm `L1_FEE_RECIPIENT`).
pub const L1_FEE_VAULT: Address = address!("0x420000000000000000000000000000000000001A");
/// Receives the operator fee (op-revm `OPERATOR_FEE_RECIPIENT`).
pub const OPERATOR_FEE_VAULT: Address = address!("0x420000000000000000000000000000000000001B");
/// Receives priority fees: the block's coinbase.
pub const SEQUENCER_FEE_VAULT: Address = address!("0x4200000000000000000000000000000000000011");
/// The sender of the L1-info deposit.
pub const DEPOSITOR_ACCOUNT: Address = address!("0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001");
/// The Proof of Attribution precompile (OpenLedger range `0x…0A00`–`0x…0AFF`).
pub const PROOF_OF_ATTRIBUTION: Address = address!("0x0000000000000000000000000000000000000A00");

/// Addresses of the L2 contract suite in the dev genesis. They sit just above the OP Stack
/// predeploy namespace (`0x4200…0000`–`0x4200…07FF`), so a future OP predeploy cannot collide.
pub mod dev_suite {
    use alloy_primitives::{Address, address};

    /// The `TimelockController` that owns `Governance` (and holds the treasury).
    pub const TIMELOCK: Address = address!("0x4200000000000000000000000000000000001000");
    /// The `Governance` parameter store; also the PoA precompile's governance address.
    pub const GOVERNANCE: Address = address!("0x4200000000000000000000000000000000001001");
    /// `DatanetRegistry`.
    pub const DATANET_REGISTRY: Address = address!("0x4200000000000000000000000000000000001002");
    /// `ModelRegistry`.
    pub const MODEL_REGISTRY: Address = address!("0x4200000000000000000000000000000000001003");
    /// `Staking`.
    pub const STAKING: Address = address!("0x4200000000000000000000000000000000001004");
    /// `InferenceMarket`.
    pub const INFERENCE_MARKET: Address = address!("0x4200000000000000000000000000000000001005");
    /// `AttestorBatch`: the code the attestor's account delegates to (EIP-7702) so that one
    /// transaction carries the calls of many jobs.
    pub const ATTESTOR_BATCH: Address = address!("0x4200000000000000000000000000000000001006");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// `contracts/addresses.json` (which `Predeploys.sol` mirrors, checked by forge) and this
    /// module must list the same addresses under the same names.
    #[test]
    fn addresses_json_matches_the_rust_table() {
        let text = include_str!("../../../contracts/addresses.json");
        let json: BTreeMap<String, Address> = serde_json::from_str(text).unwrap();
        let rust: BTreeMap<String, Address> = [
            ("ProofOfAttribution", PROOF_OF_ATTRIBUTION),
            ("L1Block", L1_BLOCK),
            ("L2ToL1MessagePasser", L2_TO_L1_MESSAGE_PASSER),
            ("SequencerFeeVault", SEQUENCER_FEE_VAULT),
            ("BaseFeeVault", BASE_FEE_VAULT),
            ("L1FeeVault", L1_FEE_VAULT),
            ("OperatorFeeVault", OPERATOR_FEE_VAULT),
            ("DepositorAccount", DEPOSITOR_ACCOUNT),
            ("GovernanceTimelock", dev_suite::TIMELOCK),
            ("Governance", dev_suite::GOVERNANCE),
            ("DatanetRegistry", dev_suite::DATANET_REGISTRY),
            ("ModelRegistry", dev_suite::MODEL_REGISTRY),
            ("Staking", dev_suite::STAKING),
            ("InferenceMarket", dev_suite::INFERENCE_MARKET),
            ("AttestorBatch", dev_suite::ATTESTOR_BATCH),
        ]
        .into_iter()
        .map(|(name, address)| (name.to_owned(), address))
        .collect();
        assert_eq!(json, rust);
    }
}
