// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {vm} from "../script/Vm.sol";
import {EventEmitter} from "openledger/test/EventEmitter.sol";

/// @notice Runs on a fork of the node at `FORK_BLOCK`: the emitter's value is the one it held
///         after that block (`EXPECTED_VALUE`), not the head's, and local writes work on top.
contract ForkTest {
    function test_the_fork_reads_the_state_after_its_block() external {
        EventEmitter emitter = EventEmitter(vm.envAddress("EMITTER"));
        require(block.number == vm.envUint("FORK_BLOCK"), "block number of the fork");
        require(emitter.value() == vm.envUint("EXPECTED_VALUE"), "value after the fork block");
        emitter.store(7);
        require(emitter.value() == 7, "a write on the fork");
    }
}
