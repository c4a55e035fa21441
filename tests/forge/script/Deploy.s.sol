// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {vm} from "./Vm.sol";
import {CallTree} from "openledger/test/CallTree.sol";
import {EventEmitter} from "openledger/test/EventEmitter.sol";

/// @notice Deploys a small system and uses it, signed with `DEPLOYER_KEY`: an `EventEmitter`
///         that stores 42, and a `CallTree` whose `grow` creates two more contracts, pays
///         `PAYEE` a quarter of its value and self-destructs one child.
contract Deploy {
    function run() external returns (EventEmitter emitter, CallTree tree) {
        vm.startBroadcast(vm.envUint("DEPLOYER_KEY"));
        emitter = new EventEmitter();
        tree = new CallTree();
        emitter.store(42);
        tree.grow{value: 1000}(payable(vm.envAddress("PAYEE")), bytes32(uint256(1)));
        vm.stopBroadcast();
    }
}
