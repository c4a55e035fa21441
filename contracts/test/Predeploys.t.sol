// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "./utils/Test.sol";
import {Predeploys} from "../src/L2/Predeploys.sol";

/// @notice `contracts/addresses.json` (read by the Rust node) and `Predeploys.sol` must agree,
///         entry for entry, in both directions.
contract PredeploysTest is Test {
    string[15] internal NAMES = [
        "ProofOfAttribution",
        "L1Block",
        "L2ToL1MessagePasser",
        "SequencerFeeVault",
        "BaseFeeVault",
        "L1FeeVault",
        "OperatorFeeVault",
        "DepositorAccount",
        "GovernanceTimelock",
        "Governance",
        "DatanetRegistry",
        "ModelRegistry",
        "Staking",
        "InferenceMarket",
        "AttestorBatch"
    ];

    function solidityValue(string memory name) internal pure returns (address) {
        bytes32 h = keccak256(bytes(name));
        if (h == keccak256("ProofOfAttribution")) return Predeploys.PROOF_OF_ATTRIBUTION;
        if (h == keccak256("L1Block")) return Predeploys.L1_BLOCK;
        if (h == keccak256("L2ToL1MessagePasser")) return Predeploys.L2_TO_L1_MESSAGE_PASSER;
        if (h == keccak256("SequencerFeeVault")) return Predeploys.SEQUENCER_FEE_VAULT;
        if (h == keccak256("BaseFeeVault")) return Predeploys.BASE_FEE_VAULT;
        if (h == keccak256("L1FeeVault")) return Predeploys.L1_FEE_VAULT;
        if (h == keccak256("OperatorFeeVault")) return Predeploys.OPERATOR_FEE_VAULT;
        if (h == keccak256("DepositorAccount")) return Predeploys.DEPOSITOR_ACCOUNT;
        if (h == keccak256("GovernanceTimelock")) return Predeploys.GOVERNANCE_TIMELOCK;
        if (h == keccak256("Governance")) return Predeploys.GOVERNANCE;
        if (h == keccak256("DatanetRegistry")) return Predeploys.DATANET_REGISTRY;
        if (h == keccak256("ModelRegistry")) return Predeploys.MODEL_REGISTRY;
        if (h == keccak256("Staking")) return Predeploys.STAKING;
        if (h == keccak256("InferenceMarket")) return Predeploys.INFERENCE_MARKET;
        if (h == keccak256("AttestorBatch")) return Predeploys.ATTESTOR_BATCH;
        revert AssertionFailed(string.concat("addresses.json has an entry Predeploys.sol lacks: ", name));
    }

    function readJson() internal view returns (string memory) {
        return vm.readFile(string.concat(vm.projectRoot(), "/addresses.json"));
    }

    function test_addressesJsonMatchesPredeploys() public view {
        string memory json = readJson();
        string[] memory keys = vm.parseJsonKeys(json, "$");
        assertEq(keys.length, NAMES.length, "entry count");
        for (uint256 i; i < keys.length; ++i) {
            assertEq(vm.parseJsonAddress(json, string.concat(".", keys[i])), solidityValue(keys[i]), keys[i]);
        }
        for (uint256 i; i < NAMES.length; ++i) {
            assertEq(vm.parseJsonAddress(json, string.concat(".", NAMES[i])), solidityValue(NAMES[i]), NAMES[i]);
        }
    }

    function test_poaAddressIsInOpenLedgerRange() public pure {
        uint160 a = uint160(Predeploys.PROOF_OF_ATTRIBUTION);
        assertTrue(a >= 0x0A00 && a <= 0x0AFF, "PoA in 0x0A00..0x0AFF");
        assertEq(Predeploys.PROOF_OF_ATTRIBUTION, address(0x0A00), "PoA at 0x0A00");
    }
}
