// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title AttestorBatch
/// @notice The code an attestor's own account delegates to (EIP-7702), so that one transaction
///         carries the `record`, `fulfill` and `settle` calls of many inference jobs while every
///         call still comes from the attestor's address (the PoA precompile and the market check
///         `msg.sender`). In the style of ERC-7821's batch executor with one difference: a call
///         that reverts does not revert the batch. The jobs of a batch are independent, and one
///         request refused by the market (expired, recorded by someone else) must not hold back
///         the others; its failure is reported in `CallFailed` and the job service sees from
///         chain state which steps took effect.
///
///         Only the account itself can execute (`msg.sender == address(this)`): a delegated
///         account's code runs in that account, so a transaction the attestor sends to its own
///         address passes and a call from anyone else is refused. The contract keeps no storage
///         (it would live in the delegating account's).
contract AttestorBatch {
    /// @notice One call of a batch.
    struct Call {
        address to;
        uint256 value;
        bytes data;
    }

    /// @notice Call `index` of the batch reverted with `reason`; the batch went on.
    event CallFailed(uint256 indexed index, bytes reason);

    /// @notice The caller is not the account itself.
    error Unauthorized(address caller);

    /// @notice Runs `calls` in order from this account. Returns whether each succeeded.
    function execute(Call[] calldata calls) external payable returns (bool[] memory succeeded) {
        if (msg.sender != address(this)) revert Unauthorized(msg.sender);
        succeeded = new bool[](calls.length);
        for (uint256 i; i < calls.length; ++i) {
            (bool ok, bytes memory reason) = calls[i].to.call{value: calls[i].value}(calls[i].data);
            succeeded[i] = ok;
            if (!ok) emit CallFailed(i, reason);
        }
    }

    /// @notice The account still receives plain transfers (and the delegation transaction, sent
    ///         to the account itself with no calldata).
    receive() external payable {}
}
