// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title AddressAliasHelper
/// @notice The OP Stack (and Arbitrum) L1-to-L2 address alias: a contract on L1 appears on L2 as
///         its address plus 0x1111000000000000000000000000000000001111 (mod 2^160), so it cannot
///         impersonate the L2 account with the same address.
library AddressAliasHelper {
    /// @notice The alias offset.
    uint160 internal constant OFFSET = uint160(0x1111000000000000000000000000000000001111);

    /// @notice L1 address to its L2 alias.
    /// @param l1Address The L1 contract address.
    /// @return l2Address The alias.
    function applyL1ToL2Alias(address l1Address) internal pure returns (address l2Address) {
        unchecked {
            l2Address = address(uint160(l1Address) + OFFSET);
        }
    }

    /// @notice L2 alias back to the L1 address.
    /// @param l2Address The alias.
    /// @return l1Address The L1 contract address.
    function undoL1ToL2Alias(address l2Address) internal pure returns (address l1Address) {
        unchecked {
            l1Address = address(uint160(l2Address) - OFFSET);
        }
    }
}
