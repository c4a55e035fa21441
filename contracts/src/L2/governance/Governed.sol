// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Governance} from "./Governance.sol";

/// @title Governed
/// @notice Base of the OpenLedger L2 contracts: reads parameters from the `Governance` store and
///         treats the store's owner (the TimelockController) as governance.
abstract contract Governed {
    /// @notice The parameter store.
    Governance public immutable governance;

    /// @notice The caller is not governance (the owner of the parameter store).
    error NotGovernance(address caller);
    /// @notice A zero address where an account or contract is required.
    error ZeroAddress();

    /// @param governance_ The parameter store.
    constructor(Governance governance_) {
        if (address(governance_) == address(0)) revert ZeroAddress();
        governance = governance_;
    }

    /// @dev Restricts a function to the owner of the parameter store.
    modifier onlyGovernance() {
        if (msg.sender != governance.owner()) revert NotGovernance(msg.sender);
        _;
    }
}
