// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title LargestRemainder
/// @notice Exact proportional split of an amount by integer weights (Hamilton / largest remainder
///         method), the arithmetic behind `IProofOfAttribution.split`.
library LargestRemainder {
    /// @notice No weights were given.
    error EmptyWeights();
    /// @notice The weights sum to zero.
    error ZeroTotalWeight();
    /// @notice More weights than the library can index (65,535).
    error TooManyWeights(uint256 count);

    /// @dev Keys pack `remainder << 16 | (0xFFFF - index)`: distinct, and ordered by remainder
    ///      descending, then index ascending, when compared as integers in descending order.
    uint256 private constant INDEX_BITS = 16;
    uint256 private constant INDEX_MASK = 0xFFFF;

    /// @notice Splits `amount` by `weights`: `floor(amount * w_i / W)` each, then one wei more for
    ///         each of the `amount - sum(floors)` largest remainders `amount * w_i mod W` (ties to
    ///         the lower index). The shares sum to `amount` exactly. Overflow-free for any
    ///         `amount` (512-bit `mulDiv`).
    /// @param amount  The amount to split.
    /// @param weights The weights (non-empty, non-zero sum, at most 65,535).
    /// @return shares The shares, in the order of `weights`.
    function split(uint256 amount, uint32[] memory weights) internal pure returns (uint256[] memory shares) {
        uint256 n = weights.length;
        if (n == 0) revert EmptyWeights();
        if (n > INDEX_MASK) revert TooManyWeights(n);
        uint256 total;
        unchecked {
            // n < 2^16 weights below 2^32: the sum cannot overflow.
            for (uint256 i; i < n; ++i) {
                total += weights[i];
            }
        }
        if (total == 0) revert ZeroTotalWeight();

        shares = new uint256[](n);
        uint256[] memory keys = new uint256[](n);
        uint256 distributed;
        unchecked {
            for (uint256 i; i < n; ++i) {
                uint256 w = weights[i];
                uint256 share = Math.mulDiv(amount, w, total);
                shares[i] = share;
                // The floors never exceed `amount`, so their sum cannot overflow.
                distributed += share;
                // remainder < total < 2^48: the packed key cannot overflow.
                keys[i] = (mulmod(amount, w, total) << INDEX_BITS) | (INDEX_MASK - i);
            }
        }
        // Each floor loses less than one unit, so fewer than n units are left over.
        uint256 left = amount - distributed;
        if (left == 0) return shares;
        // The `left` largest keys get one more unit: find the left-th largest key (keys are
        // distinct), then add one to every share whose key is at least that.
        uint256 threshold = _select(keys, left - 1);
        unchecked {
            for (uint256 i; i < n; ++i) {
                uint256 key = (mulmod(amount, weights[i], total) << INDEX_BITS) | (INDEX_MASK - i);
                if (key >= threshold) ++shares[i];
            }
        }
    }

    /// @dev Quickselect (Hoare partition, middle pivot): the element at position `k` of `a`
    ///      sorted in descending order. Reorders `a`. Average O(n).
    function _select(uint256[] memory a, uint256 k) private pure returns (uint256) {
        uint256 lo;
        uint256 hi = a.length - 1;
        unchecked {
            while (lo < hi) {
                uint256 pivot = a[lo + (hi - lo) / 2];
                uint256 i = lo;
                uint256 j = hi;
                while (true) {
                    while (a[i] > pivot) ++i;
                    while (a[j] < pivot) --j;
                    if (i >= j) break;
                    (a[i], a[j]) = (a[j], a[i]);
                    ++i;
                    --j;
                }
                // Now every element of [lo, j] >= every element of [j + 1, hi], both non-empty.
                if (k <= j) hi = j;
                else lo = j + 1;
            }
        }
        return a[lo];
    }
}
