// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {CallTreeChild} from "./CallTreeChild.sol";

/// @title CallTree
/// @notice A small contract the end-to-end tests of the `trace_` and `ots_` namespaces deploy: one
///         transaction runs a tree of internal frames (a CREATE with value, a CALL with value, a
///         STATICCALL, a DELEGATECALL, a CREATE2 without value, a self-destruct), so traces,
///         internal operations and the address index can be checked against a running node.
contract CallTree {
    /// @notice The child the last `grow` created with CREATE.
    CallTreeChild public last;

    /// @notice Emitted by `grow`.
    event Grown(address indexed child, address indexed sibling);

    /// @notice Raised by `wither`.
    error Withered(uint256 code);

    /// @notice Creates a child with half the value (CREATE), pays a quarter to `payee` (CALL),
    ///         asks the child for `ping` (STATICCALL) and itself through DELEGATECALL, creates a
    ///         sibling with CREATE2 and no value, and has the sibling self-destruct to `payee`.
    function grow(address payable payee, bytes32 salt) external payable returns (address) {
        CallTreeChild child = new CallTreeChild{value: msg.value / 2}();
        last = child;
        payee.transfer(msg.value / 4);
        require(child.ping() == 7, "ping");
        (bool ok,) = address(this).delegatecall(abi.encodeCall(CallTree.version, ()));
        require(ok, "delegatecall");
        CallTreeChild sibling = new CallTreeChild{salt: salt}();
        sibling.destroy(payee);
        emit Grown(address(child), address(sibling));
        return address(child);
    }

    /// @notice Creates a child and then reverts: the child does not survive.
    function wither(uint256 code) external {
        new CallTreeChild();
        revert Withered(code);
    }

    /// @notice A constant the DELEGATECALL of `grow` reads (payable: a DELEGATECALL keeps the
    ///         caller's value).
    function version() external payable returns (uint256) {
        return 2;
    }
}
