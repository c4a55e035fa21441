// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title EventEmitter
/// @notice A small contract the end-to-end tests deploy: it stores a value, emits an event on every
///         change and reverts with a reason on request, so calls, transactions, logs and reverts can
///         all be checked against a running node.
contract EventEmitter {
    /// @notice The last value stored.
    uint256 public value;

    /// @notice Emitted on every store.
    event ValueChanged(address indexed by, uint256 indexed oldValue, uint256 newValue);

    /// @notice Raised by `fail`.
    error Refused(uint256 code);

    /// @notice Stores `newValue`, emitting the change.
    function store(uint256 newValue) external {
        emit ValueChanged(msg.sender, value, newValue);
        value = newValue;
    }

    /// @notice Always reverts with `Refused(code)`.
    function fail(uint256 code) external pure {
        revert Refused(code);
    }
}
