// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// A name registry: the smallest contract with state, an indexed event, a string revert and a
/// custom-error revert, which is what the Hardhat test exercises against the node.
contract Registry {
    event Registered(address indexed owner, string name);

    error Taken(string name, address holder);

    mapping(address => string) public names;
    mapping(string => address) public holders;

    function register(string calldata name) external {
        require(bytes(name).length > 0, "empty name");
        address holder = holders[name];
        if (holder != address(0)) revert Taken(name, holder);
        holders[name] = msg.sender;
        names[msg.sender] = name;
        emit Registered(msg.sender, name);
    }
}
