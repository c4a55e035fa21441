// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {L2Fixture} from "./utils/L2Fixture.sol";
import {Staking} from "../src/L2/Staking.sol";
import {Governed} from "../src/L2/governance/Governed.sol";

/// @dev A staker that re-enters `claimRewards` or `withdraw` when paid.
contract ReentrantStaker {
    Staking immutable staking;
    bool claimMode;

    constructor(Staking s) {
        staking = s;
    }

    function stake() external payable {
        staking.stake{value: msg.value}();
    }

    function unstake(uint256 a) external {
        staking.unstake(a);
    }

    function claim() external {
        claimMode = true;
        staking.claimRewards();
    }

    function withdraw() external {
        claimMode = false;
        staking.withdraw();
    }

    receive() external payable {
        if (claimMode) staking.claimRewards();
        else staking.withdraw();
    }
}

contract StakingTest is L2Fixture {
    address alice;
    address bob;
    address slasher;

    function setUp() public {
        deploySuite();
        alice = makeAddr("alice");
        bob = makeAddr("bob");
        slasher = makeAddr("slasher");
        vm.deal(alice, 100 ether);
        vm.deal(bob, 100 ether);
        vm.prank(govOwner);
        staking.setSlasher(slasher, true);
    }

    function stakeAs(address who, uint256 amount) internal {
        vm.prank(who);
        staking.stake{value: amount}();
    }

    function reward(uint256 amount) internal {
        vm.deal(address(this), address(this).balance + amount);
        staking.notifyReward{value: amount}();
    }

    // ------------------------------------------------------------------ stake / unstake / withdraw

    function test_stake() public {
        vm.expectEmit(address(staking));
        emit Staking.Staked(alice, 1 ether, 1 ether);
        stakeAs(alice, 1 ether);
        stakeAs(alice, 2 ether);
        assertEq(staking.stakeOf(alice), 3 ether, "stake");
        assertEq(staking.totalStaked(), 3 ether, "total");
        assertEq(address(staking).balance, 3 ether, "held");
        assertEq(staking.version(), "1.0.0", "version");
        assertEq(staking.PRECISION(), 1e36, "precision");
        vm.expectRevert(Staking.ZeroAmount.selector);
        stakeAs(alice, 0);
    }

    function test_unstake() public {
        stakeAs(alice, 3 ether);
        vm.warp(100);
        vm.expectEmit(address(staking));
        emit Staking.Unstaked(alice, 1 ether, 1 ether, uint64(100 + 14 days));
        vm.prank(alice);
        staking.unstake(1 ether);
        assertEq(staking.stakeOf(alice), 2 ether, "stake");
        assertEq(staking.totalStaked(), 2 ether, "total");
        assertEq(staking.totalUnbonding(), 1 ether, "unbonding");
        // A second unstake adds up and restarts the clock.
        vm.warp(200);
        vm.prank(alice);
        staking.unstake(1 ether);
        Staking.Unbonding memory u = staking.unbondingOf(alice);
        assertEq(u.amount, 2 ether, "amount");
        assertEq(uint256(u.releaseAt), 200 + 14 days, "clock restarted");

        vm.expectRevert(Staking.ZeroAmount.selector);
        vm.prank(alice);
        staking.unstake(0);
        vm.expectRevert(abi.encodeWithSelector(Staking.InsufficientStake.selector, 2 ether, 1 ether));
        vm.prank(alice);
        staking.unstake(2 ether);
    }

    function test_withdraw() public {
        stakeAs(alice, 3 ether);
        vm.expectRevert(Staking.NothingUnbonding.selector);
        vm.prank(alice);
        staking.withdraw();
        vm.prank(alice);
        staking.unstake(1 ether);
        uint64 releaseAt = uint64(block.timestamp + 14 days);
        vm.warp(releaseAt - 1);
        vm.expectRevert(abi.encodeWithSelector(Staking.StillUnbonding.selector, releaseAt));
        vm.prank(alice);
        staking.withdraw();
        vm.warp(releaseAt);
        uint256 before = alice.balance;
        vm.expectEmit(address(staking));
        emit Staking.Withdrawn(alice, 1 ether);
        vm.prank(alice);
        staking.withdraw();
        assertEq(alice.balance - before, 1 ether, "paid");
        assertEq(staking.totalUnbonding(), 0, "unbonding cleared");
        assertEq(staking.unbondingOf(alice).amount, 0, "record cleared");
    }

    // ------------------------------------------------------------------ rewards

    function test_notifyReward_proRata() public {
        stakeAs(alice, 1 ether);
        stakeAs(bob, 3 ether);
        vm.expectEmit(address(staking));
        emit Staking.RewardDistributed(address(this), 4 ether, 1e36);
        reward(4 ether);
        assertEq(staking.earned(alice), 1 ether, "alice 1/4");
        assertEq(staking.earned(bob), 3 ether, "bob 3/4");
        // Unstaked stake stops earning.
        vm.prank(bob);
        staking.unstake(3 ether);
        reward(1 ether);
        assertEq(staking.earned(alice), 2 ether, "alice gets all");
        assertEq(staking.earned(bob), 3 ether, "bob unchanged");
    }

    function test_notifyReward_queuedWhileNothingStaked() public {
        vm.expectEmit(address(staking));
        emit Staking.RewardQueued(address(this), 5 ether);
        reward(5 ether);
        assertEq(staking.queuedRewards(), 5 ether, "queued");
        stakeAs(alice, 1 ether);
        assertEq(staking.earned(alice), 0, "not yet distributed");
        reward(1 ether);
        assertEq(staking.queuedRewards(), 0, "drained");
        assertEq(staking.earned(alice), 6 ether, "queued + new");
    }

    function test_notifyReward_revertsOnZero() public {
        vm.expectRevert(Staking.ZeroAmount.selector);
        staking.notifyReward{value: 0}();
    }

    function test_claimRewards() public {
        stakeAs(alice, 1 ether);
        vm.expectRevert(Staking.NoRewards.selector);
        vm.prank(alice);
        staking.claimRewards();
        reward(2 ether);
        uint256 before = alice.balance;
        vm.expectEmit(address(staking));
        emit Staking.RewardsClaimed(alice, 2 ether);
        vm.prank(alice);
        staking.claimRewards();
        assertEq(alice.balance - before, 2 ether, "paid");
        assertEq(staking.earned(alice), 0, "reset");
        assertEq(staking.rewardsAccrued(alice), 0, "accrued reset");
        assertEq(staking.rewardPerSharePaid(alice), staking.rewardPerShare(), "paid marker");
    }

    function test_rewards_roundDownNeverOverpay() public {
        stakeAs(alice, 1);
        stakeAs(bob, 2);
        reward(1);
        assertEq(staking.earned(alice) + staking.earned(bob), 0, "1 wei over 3 stake rounds to 0 each");
        reward(2);
        // rewardPerShare = floor(1e36/3) + floor(2e36/3) = 1e36 - 1: each account loses < 1 wei.
        uint256 sum = staking.earned(alice) + staking.earned(bob);
        assertLe(sum, 3, "never more than distributed");
        assertGe(sum, 3 - 2, "at most one wei per account lost");
    }

    // ------------------------------------------------------------------ slashing

    function test_slash_stakeThenUnbonding() public {
        stakeAs(alice, 3 ether);
        vm.prank(alice);
        staking.unstake(1 ether);
        vm.expectEmit(address(staking));
        emit Staking.Slashed(alice, slasher, 2 ether, 0.5 ether);
        vm.prank(slasher);
        staking.slash(alice, 2.5 ether);
        assertEq(staking.stakeOf(alice), 0, "stake gone");
        assertEq(staking.unbondingOf(alice).amount, 0.5 ether, "unbonding reduced");
        assertEq(staking.totalStaked(), 0, "total");
        assertEq(staking.totalUnbonding(), 0.5 ether, "total unbonding");
        assertEq(staking.treasuryAccrued(), 2.5 ether, "to treasury");
    }

    function test_slash_byGovernanceKeepsEarnedRewards() public {
        stakeAs(alice, 2 ether);
        reward(1 ether);
        vm.prank(govOwner);
        staking.slash(alice, 1 ether);
        assertEq(staking.earned(alice), 1 ether, "rewards earned before the slash stay");
        assertEq(staking.stakeOf(alice), 1 ether, "stake");
    }

    function test_slash_reverts() public {
        stakeAs(alice, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(Staking.NotSlasher.selector, bob));
        vm.prank(bob);
        staking.slash(alice, 1);
        vm.expectRevert(Staking.ZeroAmount.selector);
        vm.prank(slasher);
        staking.slash(alice, 0);
        vm.expectRevert(abi.encodeWithSelector(Staking.InsufficientStake.selector, 1 ether + 1, 1 ether));
        vm.prank(slasher);
        staking.slash(alice, 1 ether + 1);
    }

    function test_setSlasher() public {
        vm.expectEmit(address(staking));
        emit Staking.SlasherSet(bob, true);
        vm.prank(govOwner);
        staking.setSlasher(bob, true);
        assertTrue(staking.isSlasher(bob), "set");
        vm.expectRevert(abi.encodeWithSelector(Governed.NotGovernance.selector, slasher));
        vm.prank(slasher);
        staking.setSlasher(bob, false);
        vm.expectRevert(Governed.ZeroAddress.selector);
        vm.prank(govOwner);
        staking.setSlasher(address(0), true);
    }

    function test_flushTreasury() public {
        vm.expectRevert(Staking.NothingToFlush.selector);
        staking.flushTreasury();
        stakeAs(alice, 1 ether);
        vm.prank(slasher);
        staking.slash(alice, 0.4 ether);
        vm.expectEmit(address(staking));
        emit Staking.TreasuryFlushed(treasury, 0.4 ether);
        staking.flushTreasury();
        assertEq(treasury.balance, 0.4 ether, "paid");
        assertEq(staking.treasuryAccrued(), 0, "reset");
    }

    // ------------------------------------------------------------------ reentrancy

    function test_reentrancyBlocked() public {
        ReentrantStaker r = new ReentrantStaker(staking);
        r.stake{value: 1 ether}();
        reward(1 ether);
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        r.claim();
        r.unstake(1 ether);
        vm.warp(block.timestamp + 14 days);
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        r.withdraw();
    }

    receive() external payable {}
}
