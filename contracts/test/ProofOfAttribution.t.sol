// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {L2Fixture} from "./utils/L2Fixture.sol";
import {IProofOfAttribution} from "../src/L2/poa/IProofOfAttribution.sol";
import {ProofOfAttributionImpl} from "../src/L2/poa/ProofOfAttributionImpl.sol";
import {LargestRemainder} from "../src/L2/poa/LargestRemainder.sol";
import {Predeploys} from "../src/L2/Predeploys.sol";

/// @dev Exposes the library directly (its own revert paths are unreachable through the precompile).
contract LargestRemainderHarness {
    function split(uint256 amount, uint32[] memory weights) external pure returns (uint256[] memory) {
        return LargestRemainder.split(amount, weights);
    }
}

contract ProofOfAttributionTest is L2Fixture {
    bytes32 constant REQ = keccak256("request-1");
    bytes32 constant OUT = keccak256("output-1");
    bytes32 constant ROOT = keccak256("root");

    function setUp() public {
        deploySuite();
    }

    function recordAs(address who, bytes32 id, address[] memory c, uint32[] memory w) internal {
        vm.prank(who);
        poa.record(id, OUT, 0, c, w, ROOT);
    }

    // ------------------------------------------------------------------ deployment

    function test_etchedAtPrecompileAddress() public view {
        assertTrue(Predeploys.PROOF_OF_ATTRIBUTION.code.length > 0, "code etched");
        assertEq(poa.governance(), address(gov), "immutable governance survives etching");
        assertEq(uint256(poa.WEIGHT_DENOMINATOR()), 1_000_000, "denominator");
        assertEq(poa.MAX_CONTRIBUTORS(), 256, "max contributors");
        assertEq(ProofOfAttributionImpl(address(poa)).version(), "1.0.0", "version");
    }

    function test_constructor_revertsOnZeroGovernance() public {
        vm.expectRevert(IProofOfAttribution.ZeroAddress.selector);
        new ProofOfAttributionImpl(address(0));
    }

    // ------------------------------------------------------------------ attestors

    function test_setAttestor_byGovernanceContract() public {
        address a = makeAddr("a2");
        vm.expectEmit(address(poa));
        emit IProofOfAttribution.AttestorSet(a, true);
        vm.prank(address(gov));
        poa.setAttestor(a, true);
        assertTrue(poa.isAttestor(a), "added");
        vm.prank(address(gov));
        poa.setAttestor(a, false);
        assertFalse(poa.isAttestor(a), "removed");
    }

    function test_setAttestor_throughTimelockOwnedStore() public {
        address a = makeAddr("a2");
        vm.prank(govOwner);
        gov.setAttestor(a, true);
        assertTrue(poa.isAttestor(a) && gov.isAttestor(a), "added through the store");
    }

    function test_setAttestor_revertsForOthers() public {
        vm.expectRevert(abi.encodeWithSelector(IProofOfAttribution.NotGovernance.selector, govOwner));
        vm.prank(govOwner); // the timelock itself must go through the store
        poa.setAttestor(address(1), true);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        gov.setAttestor(address(1), true);
    }

    function test_setAttestor_revertsOnZeroAddress() public {
        vm.expectRevert(IProofOfAttribution.ZeroAddress.selector);
        vm.prank(address(gov));
        poa.setAttestor(address(0), true);
    }

    // ------------------------------------------------------------------ record

    function test_record_storesAndEmits() public {
        address[] memory c = contributorsOf(3);
        uint32[] memory w = new uint32[](3);
        (w[0], w[1], w[2]) = (500_000, 300_000, 200_000);
        vm.roll(42);
        vm.expectEmit(address(poa));
        emit IProofOfAttribution.AttributionRecorded(REQ, attestor, 2, OUT, ROOT, c, w);
        vm.prank(attestor);
        poa.record(REQ, OUT, 2, c, w, ROOT);

        assertTrue(poa.isRecorded(REQ), "recorded");
        IProofOfAttribution.Attribution memory a = poa.attributionOf(REQ);
        assertEq(a.outputHash, OUT, "output hash");
        assertEq(a.evidenceRoot, ROOT, "root");
        assertEq(a.attestor, attestor, "attestor");
        assertEq(uint256(a.blockNumber), 42, "block");
        assertEq(uint256(a.method), 2, "method");
        assertEq(a.contributors.length, 3, "contributors");
        for (uint256 i; i < 3; ++i) {
            assertEq(a.contributors[i], c[i], "contributor");
            assertEq(uint256(a.weightsPpm[i]), uint256(w[i]), "weight");
        }
        (address at, uint64 bn, uint8 m, uint256 n) = poa.summaryOf(REQ);
        assertEq(at, attestor, "summary attestor");
        assertEq(uint256(bn), 42, "summary block");
        assertEq(uint256(m), 2, "summary method");
        assertEq(n, 3, "summary count");
        assertEq(poa.outputHashOf(REQ), OUT, "output hash alone");
    }

    function test_record_emptyMeansNoPositiveInfluence() public {
        recordAs(attestor, REQ, new address[](0), new uint32[](0));
        IProofOfAttribution.Attribution memory a = poa.attributionOf(REQ);
        assertEq(a.contributors.length, 0, "empty");
        assertEq(a.weightsPpm.length, 0, "empty weights");
    }

    function test_record_maxContributors() public {
        uint256 gasBefore = gasleft();
        recordAs(attestor, REQ, contributorsOf(256), evenWeights(256));
        assertTrue(gasBefore - gasleft() < 15_000_000, "256 contributors fit in a block");
        assertEq(poa.attributionOf(REQ).contributors.length, 256, "stored");
    }

    function test_record_revertsForNonAttestor() public {
        vm.expectRevert(abi.encodeWithSelector(IProofOfAttribution.NotAttestor.selector, address(this)));
        poa.record(REQ, OUT, 0, contributorsOf(1), evenWeights(1), ROOT);
    }

    function test_record_revertsOnZeroRequestId() public {
        vm.expectRevert(IProofOfAttribution.ZeroRequestId.selector);
        recordAs(attestor, bytes32(0), contributorsOf(1), evenWeights(1));
    }

    function test_record_revertsOnZeroOutputHash() public {
        vm.expectRevert(IProofOfAttribution.ZeroOutputHash.selector);
        vm.prank(attestor);
        poa.record(REQ, bytes32(0), 0, contributorsOf(1), evenWeights(1), ROOT);
    }

    function test_record_revertsWhenAlreadyRecorded() public {
        recordAs(attestor, REQ, contributorsOf(1), evenWeights(1));
        vm.expectRevert(abi.encodeWithSelector(IProofOfAttribution.AlreadyRecorded.selector, REQ));
        recordAs(attestor, REQ, contributorsOf(1), evenWeights(1));
    }

    function test_record_revertsOnLengthMismatch() public {
        vm.expectRevert(abi.encodeWithSelector(IProofOfAttribution.LengthMismatch.selector, 2, 1));
        recordAs(attestor, REQ, contributorsOf(2), evenWeights(1));
    }

    function test_record_revertsOnTooManyContributors() public {
        vm.expectRevert(abi.encodeWithSelector(IProofOfAttribution.TooManyContributors.selector, 257, 256));
        recordAs(attestor, REQ, contributorsOf(257), evenWeights(257));
    }

    function test_record_revertsOnZeroContributor() public {
        address[] memory c = contributorsOf(2);
        c[1] = address(0);
        vm.expectRevert(abi.encodeWithSelector(IProofOfAttribution.ZeroContributor.selector, 1));
        recordAs(attestor, REQ, c, evenWeights(2));
    }

    function test_record_revertsOnZeroWeight() public {
        uint32[] memory w = new uint32[](2);
        w[0] = 1_000_000;
        vm.expectRevert(abi.encodeWithSelector(IProofOfAttribution.ZeroWeight.selector, 1));
        recordAs(attestor, REQ, contributorsOf(2), w);
    }

    function test_record_revertsOnDuplicateContributor() public {
        address[] memory c = contributorsOf(3);
        c[2] = c[0];
        vm.expectRevert(abi.encodeWithSelector(IProofOfAttribution.DuplicateContributor.selector, c[0]));
        recordAs(attestor, REQ, c, evenWeights(3));
    }

    function test_record_duplicateCheckIsPerRequest() public {
        // The same contributors in another request (same transaction) are fine.
        recordAs(attestor, REQ, contributorsOf(2), evenWeights(2));
        recordAs(attestor, keccak256("request-2"), contributorsOf(2), evenWeights(2));
    }

    function test_record_revertsWhenWeightsDoNotSum() public {
        uint32[] memory w = evenWeights(2);
        w[0] -= 1;
        vm.expectRevert(abi.encodeWithSelector(IProofOfAttribution.WeightsDoNotSum.selector, 999_999));
        recordAs(attestor, REQ, contributorsOf(2), w);
        w[0] += 2;
        vm.expectRevert(abi.encodeWithSelector(IProofOfAttribution.WeightsDoNotSum.selector, 1_000_001));
        recordAs(attestor, REQ, contributorsOf(2), w);
    }

    function test_reads_revertForUnknownRequest() public {
        assertFalse(poa.isRecorded(REQ), "not recorded");
        vm.expectRevert(abi.encodeWithSelector(IProofOfAttribution.UnknownRequest.selector, REQ));
        poa.attributionOf(REQ);
        vm.expectRevert(abi.encodeWithSelector(IProofOfAttribution.UnknownRequest.selector, REQ));
        poa.summaryOf(REQ);
        vm.expectRevert(abi.encodeWithSelector(IProofOfAttribution.UnknownRequest.selector, REQ));
        poa.outputHashOf(REQ);
        vm.expectRevert(abi.encodeWithSelector(IProofOfAttribution.UnknownRequest.selector, REQ));
        poa.verifyEvidence(REQ, bytes32(0), new bytes32[](0));
    }

    // ------------------------------------------------------------------ split

    function w3(uint32 a, uint32 b, uint32 c) internal pure returns (uint32[] memory w) {
        w = new uint32[](3);
        (w[0], w[1], w[2]) = (a, b, c);
    }

    function test_split_examples() public view {
        // Equal weights: the remainder goes to the lowest indices.
        uint256[] memory s = poa.split(10, w3(1, 1, 1));
        assertTrue(s[0] == 4 && s[1] == 3 && s[2] == 3, "10 / [1,1,1] = [4,3,3]");
        s = poa.split(11, w3(1, 1, 1));
        assertTrue(s[0] == 4 && s[1] == 4 && s[2] == 3, "11 / [1,1,1] = [4,4,3]");
        // Largest remainder wins over lower index: 7*[2,3,5]/10 = [1.4, 2.1, 3.5] -> [1,2,4].
        s = poa.split(7, w3(2, 3, 5));
        assertTrue(s[0] == 1 && s[1] == 2 && s[2] == 4, "7 / [2,3,5] = [1,2,4]");
        // ppm weights.
        s = poa.split(1 ether, w3(500_000, 300_000, 200_000));
        assertTrue(s[0] == 0.5 ether && s[1] == 0.3 ether && s[2] == 0.2 ether, "exact");
        s = poa.split(0, w3(1, 2, 3));
        assertTrue(s[0] == 0 && s[1] == 0 && s[2] == 0, "zero amount");
    }

    function test_split_hugeAmountDoesNotOverflow() public view {
        uint256 amount = type(uint256).max;
        uint256[] memory s = poa.split(amount, w3(333_333, 333_333, 333_334));
        uint256 sum;
        for (uint256 i; i < 3; ++i) {
            sum += s[i];
        }
        assertEq(sum, amount, "sum");
    }

    function test_split_reverts() public {
        vm.expectRevert(IProofOfAttribution.EmptyWeights.selector);
        poa.split(1, new uint32[](0));
        vm.expectRevert(IProofOfAttribution.ZeroTotalWeight.selector);
        poa.split(1, new uint32[](2));
        vm.expectRevert(abi.encodeWithSelector(IProofOfAttribution.TooManyContributors.selector, 257, 256));
        poa.split(1, new uint32[](257));
    }

    function test_library_reverts() public {
        LargestRemainderHarness h = new LargestRemainderHarness();
        vm.expectRevert(LargestRemainder.EmptyWeights.selector);
        h.split(1, new uint32[](0));
        vm.expectRevert(LargestRemainder.ZeroTotalWeight.selector);
        h.split(1, new uint32[](3));
        vm.expectRevert(abi.encodeWithSelector(LargestRemainder.TooManyWeights.selector, 65_536));
        h.split(1, new uint32[](65_536));
    }

    /// @dev Reference: rank every index by (remainder desc, index asc); the first `left` get +1.
    function referenceSplit(uint256 amount, uint32[] memory w) internal pure returns (uint256[] memory s) {
        uint256 n = w.length;
        uint256 total;
        for (uint256 i; i < n; ++i) {
            total += w[i];
        }
        s = new uint256[](n);
        uint256[] memory rem = new uint256[](n);
        uint256 dist;
        for (uint256 i; i < n; ++i) {
            s[i] = amount / total * w[i] + (amount % total) * w[i] / total;
            rem[i] = (amount % total) * w[i] % total;
            dist += s[i];
        }
        uint256 left = amount - dist;
        for (uint256 i; i < n; ++i) {
            uint256 rank;
            for (uint256 j; j < n; ++j) {
                if (rem[j] > rem[i] || (rem[j] == rem[i] && j < i)) ++rank;
            }
            if (rank < left) ++s[i];
        }
    }

    /// @dev The split is exact (sums to the amount), each share is its floor or floor + 1, and it
    ///      matches an independent largest-remainder reference.
    function testFuzz_split_exactAndLargestRemainder(uint256 amount, uint256 n, uint256 seed, bool ppm) public view {
        amount = bound(amount, 0, type(uint128).max);
        n = bound(n, 1, 64);
        uint32[] memory w;
        if (ppm) {
            w = weightsOf(n, seed);
        } else {
            w = new uint32[](n);
            for (uint256 i; i < n; ++i) {
                w[i] = uint32(uint256(keccak256(abi.encode(seed, i))) % 7); // many ties and zeros
            }
            w[0] += 1;
        }
        uint256[] memory s = poa.split(amount, w);
        uint256[] memory r = referenceSplit(amount, w);
        uint256 total;
        uint256 sum;
        for (uint256 i; i < n; ++i) {
            total += w[i];
        }
        for (uint256 i; i < n; ++i) {
            sum += s[i];
            uint256 floor_ = amount * w[i] / total;
            assertTrue(s[i] == floor_ || s[i] == floor_ + 1, "floor or floor + 1");
            assertEq(s[i], r[i], "matches reference");
        }
        assertEq(sum, amount, "exact");
    }

    function test_split_fullRecordMatchesReference() public view {
        uint256[3] memory amounts = [uint256(1 ether + 7), 255, type(uint128).max];
        for (uint256 k; k < 3; ++k) {
            uint32[] memory w = weightsOf(256, k);
            uint256[] memory s = poa.split(amounts[k], w);
            uint256[] memory r = referenceSplit(amounts[k], w);
            for (uint256 i; i < 256; ++i) {
                assertEq(s[i], r[i], "256 weights match the reference");
            }
        }
    }

    // ------------------------------------------------------------------ evidence

    function leafOf(bytes32 datapoint, address contributor, uint256 score) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(datapoint, contributor, score))));
    }

    function test_evidenceLeaf_isStandardMerkleTreeEncoding() public view {
        bytes32 dp = keccak256("datapoint");
        assertEq(poa.evidenceLeaf(dp, address(0xBEEF), 7e17), leafOf(dp, address(0xBEEF), 7e17), "leaf");
    }

    function test_verifyEvidence_fourLeafTree() public {
        bytes32[4] memory leaves;
        for (uint256 i; i < 4; ++i) {
            leaves[i] = leafOf(keccak256(abi.encode("dp", i)), address(uint160(0xC0000 + i)), (i + 1) * 1e17);
        }
        bytes32 n01 = Hashes.commutativeKeccak256(leaves[0], leaves[1]);
        bytes32 n23 = Hashes.commutativeKeccak256(leaves[2], leaves[3]);
        bytes32 root = Hashes.commutativeKeccak256(n01, n23);
        vm.prank(attestor);
        poa.record(REQ, OUT, 0, contributorsOf(4), evenWeights(4), root);

        bytes32[] memory proof = new bytes32[](2);
        for (uint256 i; i < 4; ++i) {
            proof[0] = leaves[i ^ 1];
            proof[1] = i < 2 ? n23 : n01;
            assertTrue(poa.verifyEvidence(REQ, leaves[i], proof), "valid proof");
        }
        bytes32 forged = leafOf(keccak256(abi.encode("dp", uint256(0))), address(0xC0000), 9e17);
        proof[0] = leaves[1];
        proof[1] = n23;
        assertFalse(poa.verifyEvidence(REQ, forged, proof), "changed score rejected");
        proof[1] = n01;
        assertFalse(poa.verifyEvidence(REQ, leaves[0], proof), "wrong sibling rejected");
        // An inner node is not a leaf: a one-level proof of n01 would need n23, and the double
        // hashing keeps inner nodes and leaves apart.
        assertFalse(poa.verifyEvidence(REQ, n01, new bytes32[](0)), "inner node without proof");
    }

    /// @dev Vector generated once with the JS library `@openzeppelin/merkle-tree` 1.0.8:
    ///      `StandardMerkleTree.of(values, ["bytes32", "address", "uint256"])` over five scores
    ///      `[keccak256("datapoint-i"), address(0xC0000 + i), (i + 1) * 1e17]`. Checks that the
    ///      leaf encoding and proof verification match the library the workers will use.
    function test_verifyEvidence_matchesOpenZeppelinMerkleTreeJs() public {
        bytes32 root = 0xa6bfea0f69ecff0870df2d062ee524b3102b24405b861338ca56bfc55696c1e3;
        vm.prank(attestor);
        poa.record(REQ, OUT, 0, contributorsOf(5), evenWeights(5), root);
        bytes32[5] memory leaves = [
            bytes32(0x1c0021f1917c956dbe362bf40fabe23243e69665d6a3bfe3e7edc3dd58ab5367),
            0x7967a460c35bf8468e9671de93c320f82c7c7f19ceae933a77fb9b3023548f5b,
            0x0c413bbd0ba314ef9edddc1bca76586a15a04652c4c2825fc5e179392ab7897f,
            0x357391769029565ff8ff8e863fdcdb0178da327d133e8c2caeafadef5c5e95d1,
            0x72860d2a80074e461a9bfbdf6f7550a43f3a86a3fe649f007438cb3466211948
        ];
        for (uint256 i; i < 5; ++i) {
            bytes32 dp = keccak256(bytes(string.concat("datapoint-", vm.toString(i))));
            assertEq(poa.evidenceLeaf(dp, address(uint160(0xC0000 + i)), (i + 1) * 1e17), leaves[i], "leaf encoding");
        }
        bytes32[] memory p3 = new bytes32[](3);
        p3[0] = 0x0c413bbd0ba314ef9edddc1bca76586a15a04652c4c2825fc5e179392ab7897f;
        p3[1] = 0x7967a460c35bf8468e9671de93c320f82c7c7f19ceae933a77fb9b3023548f5b;
        p3[2] = 0x136f5969875a713a83f8be05b05c48a66e52c8412e4fc4396b699d753f0fa6d1;
        assertTrue(poa.verifyEvidence(REQ, leaves[0], p3), "proof of entry 0");
        bytes32[] memory p2 = new bytes32[](2);
        p2[0] = 0x357391769029565ff8ff8e863fdcdb0178da327d133e8c2caeafadef5c5e95d1;
        p2[1] = 0xe6c24b9a0fbef6f6d3d14108f3687cf18064daaf6701e01349ecd981accda22f;
        assertTrue(poa.verifyEvidence(REQ, leaves[4], p2), "proof of entry 4");
        assertFalse(poa.verifyEvidence(REQ, leaves[3], p2), "entry 3 with entry 4's proof");
    }

    function test_verifyEvidence_zeroRootVerifiesNothing() public {
        vm.prank(attestor);
        poa.record(REQ, OUT, 0, contributorsOf(1), evenWeights(1), bytes32(0));
        assertFalse(poa.verifyEvidence(REQ, bytes32(0), new bytes32[](0)), "zero root");
    }
}
