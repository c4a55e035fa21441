// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title L2ToL1MessagePasser
/// @notice Predeploy at 0x4200000000000000000000000000000000000016. Withdrawals start here: each
///         message is committed to storage (`sentMessages`), so the storage root of this account
///         (the block header's withdrawalsRoot) commits to every withdrawal and an L1 proof can
///         show that one was sent.
contract L2ToL1MessagePasser {
    /// @notice Version encoded in the top two bytes of every message nonce.
    uint16 public constant MESSAGE_VERSION = 1;

    /// @notice Withdrawal hashes that have been sent (slot 0).
    mapping(bytes32 => bool) public sentMessages;

    /// @notice Counter for message nonces, without the version (slot 1).
    uint240 internal msgNonce;

    /// @notice Emitted for every withdrawal.
    event MessagePassed(
        uint256 indexed nonce,
        address indexed sender,
        address indexed target,
        uint256 value,
        uint256 gasLimit,
        bytes data,
        bytes32 withdrawalHash
    );

    /// @notice Emitted when the balance held here is burned.
    event WithdrawerBalanceBurnt(uint256 indexed amount);

    /// @notice Semantic version.
    function version() external pure returns (string memory) {
        return "1.0.0-openledger";
    }

    /// @notice Plain transfers withdraw to the same address on L1.
    receive() external payable {
        initiateWithdrawal(msg.sender, 100_000, bytes(""));
    }

    /// @notice Removes the withdrawn value from the L2 supply; it is released on L1.
    function burn() external {
        uint256 balance = address(this).balance;
        emit WithdrawerBalanceBurnt(balance);
        (bool ok,) = payable(address(0)).call{value: balance}("");
        require(ok, "L2ToL1MessagePasser: burn failed");
    }

    /// @notice Sends a message to `_target` on L1 carrying `msg.value`.
    function initiateWithdrawal(address _target, uint256 _gasLimit, bytes memory _data) public payable {
        uint256 nonce = messageNonce();
        bytes32 withdrawalHash = keccak256(abi.encode(nonce, msg.sender, _target, msg.value, _gasLimit, _data));
        sentMessages[withdrawalHash] = true;
        emit MessagePassed(nonce, msg.sender, _target, msg.value, _gasLimit, _data, withdrawalHash);
        unchecked {
            ++msgNonce;
        }
    }

    /// @notice The next message nonce with the message version in its top two bytes.
    function messageNonce() public view returns (uint256) {
        return (uint256(MESSAGE_VERSION) << 240) | uint256(msgNonce);
    }
}
