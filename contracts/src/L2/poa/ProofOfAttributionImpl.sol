// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IProofOfAttribution} from "./IProofOfAttribution.sol";
import {LargestRemainder} from "./LargestRemainder.sol";

/// @title ProofOfAttributionImpl
/// @notice Solidity reference implementation of the Proof of Attribution precompile
///         (`IProofOfAttribution`). The forge tests deploy it with the governance address as the
///         constructor argument and copy its runtime code to the precompile address
///         (`vm.etch(Predeploys.PROOF_OF_ATTRIBUTION, address(impl).code)`); the immutable
///         governance address travels with the code, storage starts empty. The node will provide
///         the real precompile natively; this contract fixes the behaviour it must match.
///
///         Storage layout (for a native implementation that wants to keep the same slots):
///         slot 0 `mapping(bytes32 => Attribution) _records`, slot 1
///         `mapping(address => bool) isAttestor`. An `Attribution` occupies five slots from
///         `keccak256(requestId . 0)`: outputHash, evidenceRoot, then attestor (bytes 12..32),
///         blockNumber (bytes 4..12) and method (byte 3) packed in the third, then the lengths of
///         contributors and weightsPpm (dynamic arrays, data at keccak256 of their slot).
contract ProofOfAttributionImpl is IProofOfAttribution {
    /// @inheritdoc IProofOfAttribution
    uint32 public constant WEIGHT_DENOMINATOR = 1_000_000;

    /// @inheritdoc IProofOfAttribution
    uint256 public constant MAX_CONTRIBUTORS = 256;

    /// @inheritdoc IProofOfAttribution
    address public immutable governance;

    /// @dev Records by request id.
    mapping(bytes32 => Attribution) internal _records;

    /// @inheritdoc IProofOfAttribution
    mapping(address => bool) public isAttestor;

    /// @param governance_ The only caller of `setAttestor` (the `Governance` parameter store).
    constructor(address governance_) {
        if (governance_ == address(0)) revert ZeroAddress();
        governance = governance_;
    }

    /// @notice Semantic version.
    /// @return The version string.
    function version() external pure returns (string memory) {
        return "1.0.0";
    }

    /// @inheritdoc IProofOfAttribution
    function setAttestor(address attestor, bool allowed) external {
        if (msg.sender != governance) revert NotGovernance(msg.sender);
        if (attestor == address(0)) revert ZeroAddress();
        isAttestor[attestor] = allowed;
        emit AttestorSet(attestor, allowed);
    }

    /// @inheritdoc IProofOfAttribution
    function record(
        bytes32 requestId,
        bytes32 outputHash,
        uint8 method,
        address[] calldata contributors,
        uint32[] calldata weightsPpm,
        bytes32 evidenceRoot
    ) external {
        if (!isAttestor[msg.sender]) revert NotAttestor(msg.sender);
        if (requestId == bytes32(0)) revert ZeroRequestId();
        if (outputHash == bytes32(0)) revert ZeroOutputHash();
        Attribution storage r = _records[requestId];
        if (r.attestor != address(0)) revert AlreadyRecorded(requestId);
        _validate(requestId, contributors, weightsPpm);

        r.outputHash = outputHash;
        r.evidenceRoot = evidenceRoot;
        r.attestor = msg.sender;
        r.blockNumber = uint64(block.number);
        r.method = method;
        if (contributors.length != 0) {
            r.contributors = contributors;
            r.weightsPpm = weightsPpm;
        }
        emit AttributionRecorded(requestId, msg.sender, method, outputHash, evidenceRoot, contributors, weightsPpm);
    }

    /// @inheritdoc IProofOfAttribution
    function isRecorded(bytes32 requestId) external view returns (bool) {
        return _records[requestId].attestor != address(0);
    }

    /// @inheritdoc IProofOfAttribution
    function attributionOf(bytes32 requestId) external view returns (Attribution memory) {
        Attribution storage r = _records[requestId];
        if (r.attestor == address(0)) revert UnknownRequest(requestId);
        return r;
    }

    /// @inheritdoc IProofOfAttribution
    function outputHashOf(bytes32 requestId) external view returns (bytes32) {
        Attribution storage r = _records[requestId];
        if (r.attestor == address(0)) revert UnknownRequest(requestId);
        return r.outputHash;
    }

    /// @inheritdoc IProofOfAttribution
    function summaryOf(bytes32 requestId)
        external
        view
        returns (address attestor, uint64 blockNumber, uint8 method, uint256 contributorCount)
    {
        Attribution storage r = _records[requestId];
        if (r.attestor == address(0)) revert UnknownRequest(requestId);
        return (r.attestor, r.blockNumber, r.method, r.contributors.length);
    }

    /// @inheritdoc IProofOfAttribution
    function split(uint256 amount, uint32[] calldata weightsPpm) external pure returns (uint256[] memory shares) {
        if (weightsPpm.length == 0) revert EmptyWeights();
        if (weightsPpm.length > MAX_CONTRIBUTORS) revert TooManyContributors(weightsPpm.length, MAX_CONTRIBUTORS);
        uint256 total;
        for (uint256 i; i < weightsPpm.length; ++i) {
            total += weightsPpm[i];
        }
        if (total == 0) revert ZeroTotalWeight();
        return LargestRemainder.split(amount, weightsPpm);
    }

    /// @inheritdoc IProofOfAttribution
    function verifyEvidence(bytes32 requestId, bytes32 leaf, bytes32[] calldata proof) external view returns (bool) {
        Attribution storage r = _records[requestId];
        if (r.attestor == address(0)) revert UnknownRequest(requestId);
        bytes32 root = r.evidenceRoot;
        if (root == bytes32(0)) return false;
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @inheritdoc IProofOfAttribution
    function evidenceLeaf(bytes32 datapoint, address contributor, uint256 score) external pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(datapoint, contributor, score))));
    }

    /// @dev Checks the contributor/weight rules. Duplicates are found in O(n) with transient
    ///      storage keyed by `keccak256(requestId, contributor)`: a record is written once per
    ///      request, and a reverted attempt rolls its transient writes back.
    function _validate(bytes32 requestId, address[] calldata contributors, uint32[] calldata weightsPpm) private {
        uint256 n = contributors.length;
        if (n != weightsPpm.length) revert LengthMismatch(n, weightsPpm.length);
        if (n > MAX_CONTRIBUTORS) revert TooManyContributors(n, MAX_CONTRIBUTORS);
        uint256 sum;
        for (uint256 i; i < n; ++i) {
            address c = contributors[i];
            if (c == address(0)) revert ZeroContributor(i);
            uint32 w = weightsPpm[i];
            if (w == 0) revert ZeroWeight(i);
            sum += w;
            bool seen;
            assembly ("memory-safe") {
                mstore(0x00, requestId)
                mstore(0x20, c)
                let key := keccak256(0x00, 0x40)
                seen := tload(key)
                tstore(key, 1)
            }
            if (seen) revert DuplicateContributor(c);
        }
        if (n != 0 && sum != WEIGHT_DENOMINATOR) revert WeightsDoNotSum(sum);
    }
}
