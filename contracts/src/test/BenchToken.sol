// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title BenchToken
/// @notice The ERC-20 the throughput benchmark (`openledger bench`) deploys on the node and on
///         anvil: OpenZeppelin's ERC20 with the whole supply minted to the deployer.
contract BenchToken is ERC20 {
    /// @param supply The amount minted to the deployer.
    constructor(uint256 supply) ERC20("Bench Token", "BENCH") {
        _mint(msg.sender, supply);
    }
}
