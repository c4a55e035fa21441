// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {L2Fixture} from "./utils/L2Fixture.sol";
import {DatanetRegistry} from "../src/L2/DatanetRegistry.sol";
import {Governed} from "../src/L2/governance/Governed.sol";

/// @dev A contributor that re-enters `withdrawStake` when paid.
contract ReentrantContributor {
    DatanetRegistry immutable reg;
    uint256 public id;

    constructor(DatanetRegistry reg_) {
        reg = reg_;
    }

    function contribute(uint256 datanetId) external payable {
        id = reg.contribute{value: msg.value}(datanetId, keccak256("reentrant"), 1, "u");
    }

    function withdraw() external {
        reg.withdrawStake(id);
    }

    receive() external payable {
        reg.withdrawStake(id);
    }
}

contract DatanetRegistryTest is L2Fixture {
    address owner;
    address curator;
    address alice;
    address bob;
    uint256 curated;
    uint256 open;

    function setUp() public {
        deploySuite();
        owner = makeAddr("owner");
        curator = makeAddr("curator");
        alice = makeAddr("alice");
        bob = makeAddr("bob");
        curated = createDatanet(owner, DatanetRegistry.Policy.Curated, 1 ether, 250_000);
        open = createDatanet(owner, DatanetRegistry.Policy.Open, 0.5 ether, 1_000_000);
        vm.prank(owner);
        datanets.setCurator(curated, curator, true);
    }

    function h(uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encode("content", i));
    }

    // ------------------------------------------------------------------ datanets

    function test_createDatanet() public {
        vm.expectEmit(address(datanets));
        emit DatanetRegistry.DatanetCreated(3, alice, DatanetRegistry.Policy.Curated, 7, 10, bytes32("MIT"), "ipfs://x");
        vm.prank(alice);
        uint256 id = datanets.createDatanet("ipfs://x", bytes32("MIT"), DatanetRegistry.Policy.Curated, 7, 10);
        assertEq(id, 3, "id");
        assertEq(datanets.datanetCount(), 3, "count");
        DatanetRegistry.Datanet memory d = datanets.getDatanet(id);
        assertEq(d.owner, alice, "owner");
        assertEq(uint256(d.slashPpm), 10, "slash");
        assertTrue(d.policy == DatanetRegistry.Policy.Curated, "policy");
        assertEq(d.minStake, 7, "min stake");
        assertEq(d.licenseId, bytes32("MIT"), "license");
        assertEq(d.metadataURI, "ipfs://x", "uri");
        assertTrue(datanets.datanetExists(id) && !datanets.datanetExists(4) && !datanets.datanetExists(0), "exists");
        assertEq(datanets.version(), "1.0.0", "version");
    }

    function test_constants() public view {
        assertEq(uint256(datanets.PPM()), 1_000_000, "PPM");
        assertEq(datanets.MAX_URI_LENGTH(), 2048, "uri");
        assertEq(datanets.MAX_PAGE_SIZE(), 100, "page");
        assertEq(datanets.MAX_BATCH(), 256, "batch");
    }

    function test_createDatanet_reverts() public {
        vm.expectRevert(DatanetRegistry.InvalidURI.selector);
        datanets.createDatanet("", bytes32(0), DatanetRegistry.Policy.Open, 0, 0);
        vm.expectRevert(DatanetRegistry.InvalidURI.selector);
        datanets.createDatanet(string(new bytes(2049)), bytes32(0), DatanetRegistry.Policy.Open, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.InvalidSlashFraction.selector, uint32(1_000_001)));
        datanets.createDatanet("u", bytes32(0), DatanetRegistry.Policy.Open, 0, 1_000_001);
    }

    function test_transferDatanetOwnership() public {
        vm.expectEmit(address(datanets));
        emit DatanetRegistry.DatanetOwnershipTransferred(curated, owner, alice);
        vm.prank(owner);
        datanets.transferDatanetOwnership(curated, alice);
        assertEq(datanets.getDatanet(curated).owner, alice, "new owner");
        assertTrue(datanets.isCurator(curated, alice) && !datanets.isCurator(curated, owner), "owner curates");

        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotDatanetOwner.selector, owner));
        vm.prank(owner);
        datanets.transferDatanetOwnership(curated, owner);
        vm.expectRevert(Governed.ZeroAddress.selector);
        vm.prank(alice);
        datanets.transferDatanetOwnership(curated, address(0));
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownDatanet.selector, 99));
        datanets.transferDatanetOwnership(99, alice);
    }

    function test_setCurator() public {
        vm.expectEmit(address(datanets));
        emit DatanetRegistry.CuratorSet(curated, bob, true);
        vm.prank(owner);
        datanets.setCurator(curated, bob, true);
        assertTrue(datanets.isCurator(curated, bob), "added");
        vm.prank(owner);
        datanets.setCurator(curated, bob, false);
        assertFalse(datanets.isCurator(curated, bob), "removed");

        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotDatanetOwner.selector, curator));
        vm.prank(curator);
        datanets.setCurator(curated, bob, true);
        vm.expectRevert(Governed.ZeroAddress.selector);
        vm.prank(owner);
        datanets.setCurator(curated, address(0), true);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownDatanet.selector, 0));
        datanets.setCurator(0, bob, true);
    }

    // ------------------------------------------------------------------ contribute

    function test_contribute_curatedIsPending() public {
        vm.deal(alice, 2 ether);
        vm.expectEmit(address(datanets));
        emit DatanetRegistry.ContributionSubmitted(1, curated, alice, h(1), 1024, 1.5 ether, "ol://content");
        uint256 id = contribute(alice, curated, h(1), 1.5 ether);
        DatanetRegistry.Contribution memory c = datanets.getContribution(id);
        assertTrue(c.status == DatanetRegistry.Status.Pending, "pending");
        assertEq(c.contributor, alice, "contributor");
        assertEq(c.stake, 1.5 ether, "stake");
        assertEq(c.datanetId, curated, "datanet");
        assertEq(uint256(c.size), 1024, "size");
        assertEq(uint256(c.submittedAt), block.timestamp, "submitted");
        assertEq(c.contentHash, h(1), "hash");
        assertEq(c.uri, "ol://content", "uri");
        assertEq(datanets.contributionByContent(curated, h(1)), id, "by content");
        assertEq(uint256(datanets.contributionCountOf(curated)), 1, "datanet count");
        assertEq(datanets.contributionCount(), 1, "global count");
        assertEq(datanets.totalStakeHeld(), 1.5 ether, "held");
        assertEq(address(datanets).balance, 1.5 ether, "balance");
        assertEq(datanets.approvedCount(curated), 0, "not approved");
    }

    function test_contribute_openIsApprovedOnArrival() public {
        vm.expectEmit(address(datanets));
        emit DatanetRegistry.ContributionApproved(1, address(0), uint64(block.timestamp + 7 days));
        uint256 id = contribute(alice, open, h(1), 0.5 ether);
        DatanetRegistry.Contribution memory c = datanets.getContribution(id);
        assertTrue(c.status == DatanetRegistry.Status.Approved, "approved");
        assertEq(uint256(c.unlockAt), block.timestamp + 7 days, "unlock");
        assertEq(datanets.approvedCount(open), 1, "listed");
        assertEq(uint256(datanets.reputationOf(alice).approved), 1, "reputation");
    }

    function test_contribute_sameContentInAnotherDatanet() public {
        contribute(alice, curated, h(1), 1 ether);
        contribute(bob, open, h(1), 1 ether);
    }

    function test_contribute_reverts() public {
        vm.deal(alice, 10 ether);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownDatanet.selector, 9));
        datanets.contribute{value: 1 ether}(9, h(1), 1, "u");
        vm.expectRevert(DatanetRegistry.ZeroContentHash.selector);
        datanets.contribute{value: 1 ether}(curated, bytes32(0), 1, "u");
        vm.expectRevert(DatanetRegistry.ZeroSize.selector);
        datanets.contribute{value: 1 ether}(curated, h(1), 0, "u");
        vm.expectRevert(DatanetRegistry.InvalidURI.selector);
        datanets.contribute{value: 1 ether}(curated, h(1), 1, "");
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.StakeTooLow.selector, 1 ether - 1, 1 ether));
        datanets.contribute{value: 1 ether - 1}(curated, h(1), 1, "u");
        datanets.contribute{value: 1 ether}(curated, h(1), 1, "u");
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.DuplicateContent.selector, 1));
        datanets.contribute{value: 1 ether}(curated, h(1), 1, "u");
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ approve / reject

    function test_approve() public {
        uint256 id = contribute(alice, curated, h(1), 1 ether);
        vm.warp(1000);
        vm.expectEmit(address(datanets));
        emit DatanetRegistry.ContributionApproved(id, curator, uint64(1000 + 7 days));
        vm.prank(curator);
        datanets.approve(id);
        DatanetRegistry.Contribution memory c = datanets.getContribution(id);
        assertTrue(c.status == DatanetRegistry.Status.Approved, "approved");
        assertEq(uint256(c.decidedAt), 1000, "decided");
        assertEq(uint256(c.unlockAt), 1000 + 7 days, "unlock");
        assertEq(uint256(datanets.reputationOf(alice).approved), 1, "reputation");
        assertEq(datanets.approvedCount(curated), 1, "listed");
    }

    function test_approve_reverts() public {
        uint256 id = contribute(alice, curated, h(1), 1 ether);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotCurator.selector, bob));
        vm.prank(bob);
        datanets.approve(id);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownContribution.selector, 5));
        datanets.approve(5);
        vm.prank(owner); // the owner curates too
        datanets.approve(id);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.InvalidStatus.selector, DatanetRegistry.Status.Approved));
        vm.prank(curator);
        datanets.approve(id);
        // A removed curator cannot act.
        uint256 id2 = contribute(bob, curated, h(2), 1 ether);
        vm.prank(owner);
        datanets.setCurator(curated, curator, false);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotCurator.selector, curator));
        vm.prank(curator);
        datanets.approve(id2);
    }

    function test_reject_pendingSlashesToTreasury() public {
        uint256 id = contribute(alice, curated, h(1), 1 ether);
        vm.expectEmit(address(datanets));
        emit DatanetRegistry.ContributionRejected(id, curator, 0.25 ether, bytes32("spam"));
        vm.prank(curator);
        datanets.reject(id, bytes32("spam"));
        DatanetRegistry.Contribution memory c = datanets.getContribution(id);
        assertTrue(c.status == DatanetRegistry.Status.Rejected, "rejected");
        assertEq(c.slashed, 0.25 ether, "slashed");
        assertEq(datanets.treasuryAccrued(), 0.25 ether, "treasury");
        assertEq(datanets.totalStakeHeld(), 0.75 ether, "held");
        assertEq(uint256(datanets.reputationOf(alice).rejected), 1, "reputation");
    }

    function test_reject_slashRoundsDown() public {
        vm.prank(owner);
        uint256 dn = datanets.createDatanet("u", bytes32(0), DatanetRegistry.Policy.Curated, 0, 333_333);
        uint256 id = contribute(alice, dn, h(1), 10);
        vm.prank(owner);
        datanets.reject(id, bytes32(0));
        assertEq(datanets.getContribution(id).slashed, 3, "floor(10 * 0.333333)");
    }

    function test_reject_approvedWhileBondedUnlists() public {
        uint256 a = contribute(alice, open, h(1), 1 ether);
        uint256 b = contribute(bob, open, h(2), 1 ether);
        uint256 c = contribute(alice, open, h(3), 1 ether);
        vm.warp(block.timestamp + 7 days - 1);
        vm.prank(owner);
        datanets.reject(a, bytes32(0));
        // Full slash (open datanet slashes 100%); the last entry moved into a's place.
        assertEq(datanets.getContribution(a).slashed, 1 ether, "full slash");
        (uint256[] memory ids,, uint256 total) = datanets.approvedContributions(open, 0, 10);
        assertEq(total, 2, "two left");
        assertEq(ids[0], c, "last moved first");
        assertEq(ids[1], b, "b stays");
        DatanetRegistry.Reputation memory r = datanets.reputationOf(alice);
        assertEq(uint256(r.approved), 1, "approved decremented");
        assertEq(uint256(r.rejected), 1, "rejected");
        // Rejecting the last listed entry also works.
        vm.prank(owner);
        datanets.reject(b, bytes32(0));
        (ids,, total) = datanets.approvedContributions(open, 0, 10);
        assertTrue(total == 1 && ids[0] == c, "only c");
    }

    function test_reject_reverts() public {
        uint256 a = contribute(alice, open, h(1), 1 ether);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotCurator.selector, curator));
        vm.prank(curator); // curator of the other datanet
        datanets.reject(a, bytes32(0));
        vm.warp(block.timestamp + 7 days);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.InvalidStatus.selector, DatanetRegistry.Status.Approved));
        vm.prank(owner);
        datanets.reject(a, bytes32(0));
        uint256 b = contribute(bob, curated, h(2), 1 ether);
        vm.prank(curator);
        datanets.reject(b, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.InvalidStatus.selector, DatanetRegistry.Status.Rejected));
        vm.prank(curator);
        datanets.reject(b, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownContribution.selector, 0));
        datanets.reject(0, bytes32(0));
    }

    // ------------------------------------------------------------------ withdrawStake

    function test_withdrawStake_afterApprovalAndUnbonding() public {
        uint256 id = contribute(alice, curated, h(1), 1 ether);
        vm.prank(curator);
        datanets.approve(id);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.StakeLocked.selector, uint64(block.timestamp + 7 days)));
        vm.prank(alice);
        datanets.withdrawStake(id);
        vm.warp(block.timestamp + 7 days);
        uint256 before = alice.balance;
        vm.expectEmit(address(datanets));
        emit DatanetRegistry.StakeWithdrawn(id, alice, 1 ether);
        vm.prank(alice);
        datanets.withdrawStake(id);
        assertEq(alice.balance - before, 1 ether, "paid");
        assertTrue(datanets.getContribution(id).stakeWithdrawn, "marked");
        assertEq(datanets.totalStakeHeld(), 0, "held");
        vm.expectRevert(DatanetRegistry.AlreadyWithdrawn.selector);
        vm.prank(alice);
        datanets.withdrawStake(id);
    }

    function test_withdrawStake_restAfterRejection() public {
        uint256 id = contribute(alice, curated, h(1), 1 ether);
        vm.prank(curator);
        datanets.reject(id, bytes32(0));
        uint256 before = alice.balance;
        vm.prank(alice);
        datanets.withdrawStake(id);
        assertEq(alice.balance - before, 0.75 ether, "unslashed rest at once");
    }

    function test_withdrawStake_reverts() public {
        uint256 id = contribute(alice, curated, h(1), 1 ether);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotContributor.selector, bob));
        vm.prank(bob);
        datanets.withdrawStake(id);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.InvalidStatus.selector, DatanetRegistry.Status.Pending));
        vm.prank(alice);
        datanets.withdrawStake(id);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownContribution.selector, 7));
        datanets.withdrawStake(7);
    }

    function test_withdrawStake_reentrancyBlocked() public {
        vm.prank(owner);
        uint256 dn = datanets.createDatanet("u", bytes32(0), DatanetRegistry.Policy.Curated, 0, 0);
        ReentrantContributor r = new ReentrantContributor(datanets);
        r.contribute{value: 1 ether}(dn);
        uint256 id = r.id();
        vm.prank(owner);
        datanets.reject(id, bytes32(0));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        r.withdraw();
        assertEq(address(datanets).balance, 1 ether, "nothing left");
    }

    // ------------------------------------------------------------------ reputation and treasury

    function test_setReporter() public {
        vm.expectEmit(address(datanets));
        emit DatanetRegistry.ReporterSet(bob, true);
        vm.prank(govOwner);
        datanets.setReporter(bob, true);
        assertTrue(datanets.isReporter(bob), "set");
        vm.expectRevert(abi.encodeWithSelector(Governed.NotGovernance.selector, address(this)));
        datanets.setReporter(bob, false);
        vm.expectRevert(Governed.ZeroAddress.selector);
        vm.prank(govOwner);
        datanets.setReporter(address(0), true);
    }

    function test_addAttributedWeight() public {
        address[] memory c = contributorsOf(2);
        uint32[] memory w = new uint32[](2);
        (w[0], w[1]) = (600_000, 400_000);
        vm.expectEmit(address(datanets));
        emit DatanetRegistry.AttributedWeightAdded(c[0], 600_000, 600_000);
        vm.prank(address(market));
        datanets.addAttributedWeight(c, w);
        vm.prank(address(market));
        datanets.addAttributedWeight(c, w);
        assertEq(datanets.reputationOf(c[0]).attributedWeightPpm, 1_200_000, "accumulated");
        assertEq(datanets.reputationOf(c[1]).attributedWeightPpm, 800_000, "accumulated");
    }

    function test_addAttributedWeight_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.NotReporter.selector, address(this)));
        datanets.addAttributedWeight(new address[](0), new uint32[](0));
        vm.startPrank(address(market));
        vm.expectRevert(DatanetRegistry.InvalidBatch.selector);
        datanets.addAttributedWeight(new address[](1), new uint32[](2));
        vm.expectRevert(DatanetRegistry.InvalidBatch.selector);
        datanets.addAttributedWeight(new address[](257), new uint32[](257));
        vm.stopPrank();
    }

    function test_flushTreasury() public {
        vm.expectRevert(DatanetRegistry.NothingToFlush.selector);
        datanets.flushTreasury();
        uint256 id = contribute(alice, curated, h(1), 1 ether);
        vm.prank(curator);
        datanets.reject(id, bytes32(0));
        vm.expectEmit(address(datanets));
        emit DatanetRegistry.TreasuryFlushed(treasury, 0.25 ether);
        datanets.flushTreasury();
        assertEq(treasury.balance, 0.25 ether, "treasury paid");
        assertEq(datanets.treasuryAccrued(), 0, "reset");
    }

    // ------------------------------------------------------------------ views

    function test_approvedContributions_paging() public {
        for (uint256 i; i < 5; ++i) {
            contribute(i % 2 == 0 ? alice : bob, open, h(i), 0.5 ether);
        }
        (uint256[] memory ids, DatanetRegistry.Contribution[] memory items, uint256 total) =
            datanets.approvedContributions(open, 1, 3);
        assertEq(total, 5, "total");
        assertEq(ids.length, 3, "page");
        assertEq(ids[0], 2, "second");
        assertEq(items[0].contributor, bob, "with contributor");
        assertEq(items[2].contentHash, h(3), "content");
        (ids,, total) = datanets.approvedContributions(open, 4, 100);
        assertEq(ids.length, 1, "tail");
        (ids,,) = datanets.approvedContributions(open, 5, 1);
        assertEq(ids.length, 0, "past end");
        (ids,,) = datanets.approvedContributions(open, type(uint256).max, 100);
        assertEq(ids.length, 0, "far past end");
    }

    function test_approvedContributions_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.InvalidPageSize.selector, 0));
        datanets.approvedContributions(open, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.InvalidPageSize.selector, 101));
        datanets.approvedContributions(open, 0, 101);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownDatanet.selector, 50));
        datanets.approvedContributions(50, 0, 1);
    }

    function test_views_revertForUnknownIds() public {
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownDatanet.selector, 50));
        datanets.getDatanet(50);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownDatanet.selector, 50));
        datanets.contributionCountOf(50);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownContribution.selector, 50));
        datanets.getContribution(50);
        assertEq(datanets.contributionByContent(open, h(9)), 0, "none");
    }
}
