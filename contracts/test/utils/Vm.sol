// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Vm
/// @notice The subset of forge's cheatcodes the tests use (forge-std is not available offline;
///         the npm package of that name is an unofficial redistribution, so it is not used).
///         The cheatcode contract lives at 0x7109709ECfa91a80626fF3989D68f67F5b1DD12D.
interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function prank(address msgSender) external;
    function prank(address msgSender, address txOrigin) external;
    function startPrank(address msgSender) external;
    function startPrank(address msgSender, address txOrigin) external;
    function stopPrank() external;
    function deal(address account, uint256 newBalance) external;
    function etch(address target, bytes calldata newRuntimeBytecode) external;
    function roll(uint256 newHeight) external;
    function warp(uint256 newTimestamp) external;
    function setBlockhash(uint256 blockNumber, bytes32 blockHash) external;
    function expectRevert() external;
    function expectRevert(bytes4 revertData) external;
    function expectRevert(bytes calldata revertData) external;
    function expectEmit() external;
    function expectEmit(address emitter) external;
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData) external;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory logs);
    function readFile(string calldata path) external view returns (string memory data);
    function projectRoot() external view returns (string memory path);
    function parseJsonAddress(string calldata json, string calldata key) external pure returns (address);
    function parseJsonKeys(string calldata json, string calldata key) external pure returns (string[] memory keys);
    function load(address target, bytes32 slot) external view returns (bytes32 data);
    function addr(uint256 privateKey) external pure returns (address keyAddr);
    /// @dev Returns a `SignedDelegation`; the tests do not read it.
    function signAndAttachDelegation(address implementation, uint256 privateKey) external;
    function label(address account, string calldata newLabel) external;
    function assume(bool condition) external pure;
    function cool(address target) external;
    function toString(uint256 value) external pure returns (string memory);
}
