// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "./utils/Test.sol";
import {L2OutputOracle} from "../src/L1/L2OutputOracle.sol";

contract L2OutputOracleTest is Test {
    uint256 constant INTERVAL = 120;
    uint256 constant BLOCK_TIME = 2;
    uint256 constant START_BLOCK = 1000;
    uint256 constant START_TIME = 1_700_000_000;
    uint256 constant FINALIZATION = 7 days;

    L2OutputOracle oracle;
    address proposer;
    address challenger;

    function setUp() public {
        proposer = makeAddr("proposer");
        challenger = makeAddr("challenger");
        oracle = new L2OutputOracle(INTERVAL, BLOCK_TIME, START_BLOCK, START_TIME, proposer, challenger, FINALIZATION);
        vm.warp(START_TIME + 10_000);
        vm.roll(500);
    }

    function root(uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encode("output", i));
    }

    function propose(uint256 i) internal {
        uint256 next = oracle.nextBlockNumber();
        vm.prank(proposer);
        oracle.proposeL2Output(root(i), next, bytes32(0), 0);
    }

    function test_constructor() public {
        assertEq(oracle.SUBMISSION_INTERVAL(), INTERVAL, "interval");
        assertEq(oracle.L2_BLOCK_TIME(), BLOCK_TIME, "block time");
        assertEq(oracle.STARTING_BLOCK_NUMBER(), START_BLOCK, "start block");
        assertEq(oracle.STARTING_TIMESTAMP(), START_TIME, "start time");
        assertEq(oracle.PROPOSER(), proposer, "proposer");
        assertEq(oracle.CHALLENGER(), challenger, "challenger");
        assertEq(oracle.FINALIZATION_PERIOD_SECONDS(), FINALIZATION, "finalization");
        assertEq(oracle.version(), "1.0.0-openledger", "version");
        vm.expectRevert(L2OutputOracle.InvalidConfig.selector);
        new L2OutputOracle(0, 2, 0, 0, proposer, challenger, 1);
        vm.expectRevert(L2OutputOracle.InvalidConfig.selector);
        new L2OutputOracle(1, 0, 0, 0, proposer, challenger, 1);
    }

    function test_emptyGetters() public {
        assertEq(oracle.latestBlockNumber(), START_BLOCK, "starting block when empty");
        assertEq(oracle.nextBlockNumber(), START_BLOCK + INTERVAL, "next");
        assertEq(oracle.nextOutputIndex(), 0, "next index");
        assertFalse(oracle.isFinalized(0), "nothing final");
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.OutputNotFound.selector, 0));
        oracle.latestOutputIndex();
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.OutputNotFound.selector, 0));
        oracle.getL2Output(0);
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.NoOutputAfter.selector, 1));
        oracle.getL2OutputIndexAfter(1);
    }

    function test_proposeL2Output() public {
        uint256 l2Block = START_BLOCK + INTERVAL;
        vm.expectEmit(address(oracle));
        emit L2OutputOracle.OutputProposed(root(0), 0, l2Block, block.timestamp);
        vm.prank(proposer);
        oracle.proposeL2Output(root(0), l2Block, bytes32(0), 0);
        L2OutputOracle.OutputProposal memory p = oracle.getL2Output(0);
        assertEq(p.outputRoot, root(0), "root");
        assertEq(uint256(p.timestamp), block.timestamp, "timestamp");
        assertEq(uint256(p.l2BlockNumber), l2Block, "block");
        assertEq(oracle.latestBlockNumber(), l2Block, "latest");
        assertEq(oracle.latestOutputIndex(), 0, "latest index");
        assertEq(oracle.nextOutputIndex(), 1, "next index");
        assertEq(oracle.nextBlockNumber(), l2Block + INTERVAL, "strictly increasing by the interval");
    }

    function test_proposeL2Output_checksL1BlockHash() public {
        bytes32 hash = keccak256("l1 block 499");
        vm.setBlockhash(499, hash);
        uint256 next = oracle.nextBlockNumber();
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.L1BlockHashMismatch.selector, keccak256("other"), hash));
        vm.prank(proposer);
        oracle.proposeL2Output(root(0), next, keccak256("other"), 499);
        vm.prank(proposer);
        oracle.proposeL2Output(root(0), next, hash, 499);
        assertEq(oracle.nextOutputIndex(), 1, "accepted");
    }

    function test_proposeL2Output_reverts() public {
        uint256 next = oracle.nextBlockNumber();
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.NotProposer.selector, address(this)));
        oracle.proposeL2Output(root(0), next, bytes32(0), 0);
        vm.startPrank(proposer);
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.UnexpectedBlockNumber.selector, next, next + 1));
        oracle.proposeL2Output(root(0), next + 1, bytes32(0), 0);
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.UnexpectedBlockNumber.selector, next, next - 1));
        oracle.proposeL2Output(root(0), next - 1, bytes32(0), 0);
        vm.expectRevert(L2OutputOracle.ZeroOutputRoot.selector);
        oracle.proposeL2Output(bytes32(0), next, bytes32(0), 0);
        // The L2 block's timestamp must be in the past.
        uint256 l2Time = START_TIME + INTERVAL * BLOCK_TIME;
        vm.warp(l2Time);
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.OutputInFuture.selector, l2Time));
        oracle.proposeL2Output(root(0), next, bytes32(0), 0);
        vm.warp(l2Time + 1);
        oracle.proposeL2Output(root(0), next, bytes32(0), 0);
        vm.stopPrank();
    }

    function test_deleteL2Outputs() public {
        for (uint256 i; i < 3; ++i) {
            propose(i);
        }
        vm.expectEmit(address(oracle));
        emit L2OutputOracle.OutputsDeleted(3, 1);
        vm.prank(challenger);
        oracle.deleteL2Outputs(1);
        assertEq(oracle.nextOutputIndex(), 1, "suffix deleted");
        assertEq(oracle.latestBlockNumber(), START_BLOCK + INTERVAL, "latest rolled back");
        assertEq(oracle.nextBlockNumber(), START_BLOCK + 2 * INTERVAL, "proposals resume there");
        propose(9);
        assertEq(oracle.getL2Output(1).outputRoot, root(9), "replaced");
    }

    function test_deleteL2Outputs_reverts() public {
        propose(0);
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.NotChallenger.selector, proposer));
        vm.prank(proposer);
        oracle.deleteL2Outputs(0);
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.OutputNotFound.selector, 1));
        vm.prank(challenger);
        oracle.deleteL2Outputs(1);
        vm.warp(block.timestamp + FINALIZATION);
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.OutputFinalized.selector, 0));
        vm.prank(challenger);
        oracle.deleteL2Outputs(0);
    }

    function test_isFinalized() public {
        propose(0);
        uint256 proposedAt = block.timestamp;
        vm.warp(proposedAt + FINALIZATION - 1);
        assertFalse(oracle.isFinalized(0), "within the period");
        vm.warp(proposedAt + FINALIZATION);
        assertTrue(oracle.isFinalized(0), "after the period");
        assertFalse(oracle.isFinalized(1), "missing output");
    }

    function test_getL2OutputIndexAfter() public {
        for (uint256 i; i < 5; ++i) {
            propose(i);
        }
        assertEq(oracle.getL2OutputIndexAfter(0), 0, "before the first");
        assertEq(oracle.getL2OutputIndexAfter(START_BLOCK + INTERVAL), 0, "exact first");
        assertEq(oracle.getL2OutputIndexAfter(START_BLOCK + INTERVAL + 1), 1, "just after");
        assertEq(oracle.getL2OutputIndexAfter(START_BLOCK + 5 * INTERVAL), 4, "last");
        assertEq(oracle.getL2OutputAfter(START_BLOCK + 3 * INTERVAL - 5).outputRoot, root(2), "output");
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.NoOutputAfter.selector, START_BLOCK + 5 * INTERVAL + 1));
        oracle.getL2OutputIndexAfter(START_BLOCK + 5 * INTERVAL + 1);
    }

    function test_computeL2Timestamp() public {
        assertEq(oracle.computeL2Timestamp(START_BLOCK), START_TIME, "start");
        assertEq(oracle.computeL2Timestamp(START_BLOCK + 10), START_TIME + 20, "10 blocks later");
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.BlockBeforeStart.selector, START_BLOCK - 1));
        oracle.computeL2Timestamp(START_BLOCK - 1);
    }
}
