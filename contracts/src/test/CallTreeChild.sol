// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title CallTreeChild
/// @notice What `CallTree` creates: it records its creator, answers a view call, accepts value and
///         can be told to self-destruct.
contract CallTreeChild {
    /// @notice The account whose CREATE or CREATE2 made this contract.
    address public creator;

    constructor() payable {
        creator = msg.sender;
    }

    /// @notice A view the parent reaches with STATICCALL.
    function ping() external pure returns (uint256) {
        return 7;
    }

    /// @notice Sends the whole balance to `to` (in the creating transaction, EIP-6780 removes the
    ///         code too).
    function destroy(address payable to) external {
        selfdestruct(to);
    }

    receive() external payable {}
}
