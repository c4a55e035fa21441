//! Addresses of predeploys and system accounts (OP Stack `specs/protocol/predeploys.md`).

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
