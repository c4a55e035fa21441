// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Predeploys
/// @notice Fixed L2 addresses: the Proof of Attribution precompile, the OP Stack predeploys the node
///         uses, the depositor account, and the L2 contract suite as the dev genesis predeploys it. The same table lives in `contracts/addresses.json`, which
///         the Rust node reads; `test/Predeploys.t.sol` fails when the two disagree. Change both or
///         neither.
library Predeploys {
    /// @notice The Proof of Attribution precompile (OpenLedger range 0x…0A00–0x…0AFF; Ethereum uses
    ///         0x01–0x11 and the OP Stack 0x100). Implemented natively by the node.
    address internal constant PROOF_OF_ATTRIBUTION = 0x0000000000000000000000000000000000000A00;

    /// @notice L1 attributes of the current L1 origin (OP Stack predeploy).
    address internal constant L1_BLOCK = 0x4200000000000000000000000000000000000015;

    /// @notice Withdrawals from L2; its storage root is the header's withdrawalsRoot.
    address internal constant L2_TO_L1_MESSAGE_PASSER = 0x4200000000000000000000000000000000000016;

    /// @notice Receives priority fees (the block's coinbase).
    address internal constant SEQUENCER_FEE_VAULT = 0x4200000000000000000000000000000000000011;

    /// @notice Receives the base fee.
    address internal constant BASE_FEE_VAULT = 0x4200000000000000000000000000000000000019;

    /// @notice Receives the L1 data fee.
    address internal constant L1_FEE_VAULT = 0x420000000000000000000000000000000000001A;

    /// @notice Receives the operator fee.
    address internal constant OPERATOR_FEE_VAULT = 0x420000000000000000000000000000000000001b;

    /// @notice Sender of the L1-info deposit transaction.
    address internal constant DEPOSITOR_ACCOUNT = 0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001;

    /// @notice Dev genesis: the TimelockController owning `Governance` (also the treasury). Just
    ///         above the OP Stack predeploy namespace (0x4200…0000–0x4200…07FF).
    address internal constant GOVERNANCE_TIMELOCK = 0x4200000000000000000000000000000000001000;

    /// @notice Dev genesis: the `Governance` parameter store (the precompile's governance).
    address internal constant GOVERNANCE = 0x4200000000000000000000000000000000001001;

    /// @notice Dev genesis: `DatanetRegistry`.
    address internal constant DATANET_REGISTRY = 0x4200000000000000000000000000000000001002;

    /// @notice Dev genesis: `ModelRegistry`.
    address internal constant MODEL_REGISTRY = 0x4200000000000000000000000000000000001003;

    /// @notice Dev genesis: `Staking`.
    address internal constant STAKING = 0x4200000000000000000000000000000000001004;

    /// @notice Dev genesis: `InferenceMarket`.
    address internal constant INFERENCE_MARKET = 0x4200000000000000000000000000000000001005;

    /// @notice Dev genesis: `AttestorBatch`, the code the attestor's account delegates to
    ///         (EIP-7702) to send many jobs' calls in one transaction.
    address internal constant ATTESTOR_BATCH = 0x4200000000000000000000000000000000001006;
}
