// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title L2OutputOracle
/// @notice L2 output roots proposed to L1, in the OP Stack's legacy (pre fault proof) form. The
///         proposer submits one output every `SUBMISSION_INTERVAL` L2 blocks, in order; an output
///         is final `FINALIZATION_PERIOD_SECONDS` after it was proposed. Until then the challenger
///         (governance) can delete it and every output after it. Output root:
///         `keccak256(bytes32(0) ++ stateRoot ++ withdrawalStorageRoot ++ blockHash)`.
contract L2OutputOracle {
    /// @notice One proposal.
    /// @param outputRoot    The output root.
    /// @param timestamp     L1 timestamp when it was proposed.
    /// @param l2BlockNumber The L2 block it commits to.
    struct OutputProposal {
        bytes32 outputRoot;
        uint128 timestamp;
        uint128 l2BlockNumber;
    }

    /// @notice L2 blocks between consecutive outputs.
    uint256 public immutable SUBMISSION_INTERVAL;
    /// @notice Seconds per L2 block.
    uint256 public immutable L2_BLOCK_TIME;
    /// @notice L2 block number of the starting point (the anchor output, not stored).
    uint256 public immutable STARTING_BLOCK_NUMBER;
    /// @notice L2 timestamp of `STARTING_BLOCK_NUMBER`.
    uint256 public immutable STARTING_TIMESTAMP;
    /// @notice The only account that may propose.
    address public immutable PROPOSER;
    /// @notice The only account that may delete outputs (governance).
    address public immutable CHALLENGER;
    /// @notice Seconds until a proposed output is final.
    uint256 public immutable FINALIZATION_PERIOD_SECONDS;

    OutputProposal[] internal _outputs;

    /// @notice Emitted for every proposal.
    event OutputProposed(
        bytes32 indexed outputRoot, uint256 indexed l2OutputIndex, uint256 indexed l2BlockNumber, uint256 l1Timestamp
    );
    /// @notice Emitted when outputs are deleted; `newNextOutputIndex` is the first deleted index.
    event OutputsDeleted(uint256 indexed prevNextOutputIndex, uint256 indexed newNextOutputIndex);

    /// @notice A zero interval or block time.
    error InvalidConfig();
    /// @notice The caller is not the proposer.
    error NotProposer(address caller);
    /// @notice The caller is not the challenger.
    error NotChallenger(address caller);
    /// @notice The block number is not `nextBlockNumber()`.
    error UnexpectedBlockNumber(uint256 expected, uint256 given);
    /// @notice The L2 block's timestamp is not in the past.
    error OutputInFuture(uint256 l2Timestamp);
    /// @notice A zero output root.
    error ZeroOutputRoot();
    /// @notice The L1 block hash does not match `blockhash(l1BlockNumber)`.
    error L1BlockHashMismatch(bytes32 expected, bytes32 actual);
    /// @notice No output at that index.
    error OutputNotFound(uint256 index);
    /// @notice The output is final and cannot be deleted.
    error OutputFinalized(uint256 index);
    /// @notice No output at or after that block.
    error NoOutputAfter(uint256 l2BlockNumber);
    /// @notice The block precedes the starting block.
    error BlockBeforeStart(uint256 l2BlockNumber);

    /// @param submissionInterval        L2 blocks between outputs (non-zero).
    /// @param l2BlockTime               Seconds per L2 block (non-zero).
    /// @param startingBlockNumber       L2 block of the starting point.
    /// @param startingTimestamp         Its L2 timestamp.
    /// @param proposer                  The proposer.
    /// @param challenger                The challenger.
    /// @param finalizationPeriodSeconds Seconds until an output is final.
    constructor(
        uint256 submissionInterval,
        uint256 l2BlockTime,
        uint256 startingBlockNumber,
        uint256 startingTimestamp,
        address proposer,
        address challenger,
        uint256 finalizationPeriodSeconds
    ) {
        if (submissionInterval == 0 || l2BlockTime == 0) revert InvalidConfig();
        SUBMISSION_INTERVAL = submissionInterval;
        L2_BLOCK_TIME = l2BlockTime;
        STARTING_BLOCK_NUMBER = startingBlockNumber;
        STARTING_TIMESTAMP = startingTimestamp;
        PROPOSER = proposer;
        CHALLENGER = challenger;
        FINALIZATION_PERIOD_SECONDS = finalizationPeriodSeconds;
    }

    /// @notice Semantic version.
    /// @return The version string.
    function version() external pure returns (string memory) {
        return "1.0.0-openledger";
    }

    /// @notice Proposes the output root of L2 block `_l2BlockNumber`, which must be
    ///         `nextBlockNumber()` and already in the past. If `_l1BlockHash` is non-zero it must
    ///         equal `blockhash(_l1BlockNumber)`, so a proposal made against one L1 chain cannot
    ///         land on another after a reorg. Proposer only.
    /// @param _outputRoot    The output root (non-zero).
    /// @param _l2BlockNumber The L2 block.
    /// @param _l1BlockHash   A recent L1 block hash, or zero to skip the check.
    /// @param _l1BlockNumber The number of that L1 block.
    function proposeL2Output(bytes32 _outputRoot, uint256 _l2BlockNumber, bytes32 _l1BlockHash, uint256 _l1BlockNumber)
        external
    {
        if (msg.sender != PROPOSER) revert NotProposer(msg.sender);
        uint256 expected = nextBlockNumber();
        if (_l2BlockNumber != expected) revert UnexpectedBlockNumber(expected, _l2BlockNumber);
        uint256 l2Timestamp = computeL2Timestamp(_l2BlockNumber);
        // The same comparison OP makes; L1 timestamps are accurate to seconds.
        // forge-lint: disable-next-line(block-timestamp)
        if (l2Timestamp >= block.timestamp) revert OutputInFuture(l2Timestamp);
        if (_outputRoot == bytes32(0)) revert ZeroOutputRoot();
        if (_l1BlockHash != bytes32(0)) {
            bytes32 actual = blockhash(_l1BlockNumber);
            if (actual != _l1BlockHash) revert L1BlockHashMismatch(_l1BlockHash, actual);
        }
        uint256 index = _outputs.length;
        _outputs.push(
            OutputProposal({
                outputRoot: _outputRoot,
                timestamp: SafeCast.toUint128(block.timestamp),
                l2BlockNumber: SafeCast.toUint128(_l2BlockNumber)
            })
        );
        emit OutputProposed(_outputRoot, index, _l2BlockNumber, block.timestamp);
    }

    /// @notice Deletes the output at `_l2OutputIndex` and all after it, provided it is not final.
    ///         Challenger only.
    /// @param _l2OutputIndex The first output to delete.
    function deleteL2Outputs(uint256 _l2OutputIndex) external {
        if (msg.sender != CHALLENGER) revert NotChallenger(msg.sender);
        uint256 prevNext = _outputs.length;
        if (_l2OutputIndex >= prevNext) revert OutputNotFound(_l2OutputIndex);
        if (isFinalized(_l2OutputIndex)) revert OutputFinalized(_l2OutputIndex);
        // Shrink the array in place (the deleted entries' slots are left to be overwritten).
        assembly ("memory-safe") {
            sstore(_outputs.slot, _l2OutputIndex)
        }
        emit OutputsDeleted(prevNext, _l2OutputIndex);
    }

    /// @notice Whether the output at `index` exists and its finalization period has passed.
    /// @param index The output index.
    /// @return True if final.
    function isFinalized(uint256 index) public view returns (bool) {
        if (index >= _outputs.length) return false;
        // Day-scale period: seconds of timestamp skew do not matter.
        // forge-lint: disable-next-line(block-timestamp)
        return block.timestamp - _outputs[index].timestamp >= FINALIZATION_PERIOD_SECONDS;
    }

    /// @notice The output at `index`; reverts `OutputNotFound` if none.
    /// @param index The output index.
    /// @return The proposal.
    function getL2Output(uint256 index) external view returns (OutputProposal memory) {
        if (index >= _outputs.length) revert OutputNotFound(index);
        return _outputs[index];
    }

    /// @notice Index of the first output whose block is at or after `_l2BlockNumber` (binary
    ///         search); reverts `NoOutputAfter` if none.
    /// @param _l2BlockNumber The L2 block.
    /// @return The output index.
    function getL2OutputIndexAfter(uint256 _l2BlockNumber) public view returns (uint256) {
        uint256 hi = _outputs.length;
        if (hi == 0 || _outputs[hi - 1].l2BlockNumber < _l2BlockNumber) revert NoOutputAfter(_l2BlockNumber);
        uint256 lo = 0;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (_outputs[mid].l2BlockNumber < _l2BlockNumber) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// @notice The first output whose block is at or after `_l2BlockNumber`.
    /// @param _l2BlockNumber The L2 block.
    /// @return The proposal.
    function getL2OutputAfter(uint256 _l2BlockNumber) external view returns (OutputProposal memory) {
        return _outputs[getL2OutputIndexAfter(_l2BlockNumber)];
    }

    /// @notice Index of the latest output; reverts `OutputNotFound(0)` if there is none.
    /// @return The index.
    function latestOutputIndex() external view returns (uint256) {
        uint256 n = _outputs.length;
        if (n == 0) revert OutputNotFound(0);
        return n - 1;
    }

    /// @notice Index the next output will get.
    /// @return The index.
    function nextOutputIndex() external view returns (uint256) {
        return _outputs.length;
    }

    /// @notice L2 block of the latest output, or `STARTING_BLOCK_NUMBER` if none.
    /// @return The block number.
    function latestBlockNumber() public view returns (uint256) {
        uint256 n = _outputs.length;
        return n == 0 ? STARTING_BLOCK_NUMBER : _outputs[n - 1].l2BlockNumber;
    }

    /// @notice L2 block the next output must commit to.
    /// @return The block number.
    function nextBlockNumber() public view returns (uint256) {
        return latestBlockNumber() + SUBMISSION_INTERVAL;
    }

    /// @notice L2 timestamp of block `_l2BlockNumber` (at or after the starting block).
    /// @param _l2BlockNumber The L2 block.
    /// @return The timestamp.
    function computeL2Timestamp(uint256 _l2BlockNumber) public view returns (uint256) {
        if (_l2BlockNumber < STARTING_BLOCK_NUMBER) revert BlockBeforeStart(_l2BlockNumber);
        return STARTING_TIMESTAMP + (_l2BlockNumber - STARTING_BLOCK_NUMBER) * L2_BLOCK_TIME;
    }
}
