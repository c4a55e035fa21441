// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {L2Fixture} from "./utils/L2Fixture.sol";
import {Governance} from "../src/L2/governance/Governance.sol";
import {Governed} from "../src/L2/governance/Governed.sol";
import {Predeploys} from "../src/L2/Predeploys.sol";
import {DatanetRegistry} from "../src/L2/DatanetRegistry.sol";

contract GovernanceTest is L2Fixture {
    function setUp() public {
        deploySuite();
    }

    function expectNotOwner(address caller) internal {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, caller));
    }

    // ------------------------------------------------------------------ constructor and views

    function test_constructor_setsInitialValues() public view {
        Governance.FeeShares memory s = gov.feeShares();
        assertEq(uint256(s.modelOwnerPpm), 300_000, "owner share");
        assertEq(uint256(s.stakersPpm), 100_000, "stakers share");
        assertEq(uint256(s.contributorsPpm), 500_000, "contributors share");
        assertEq(uint256(s.treasuryPpm), 100_000, "treasury share");
        assertEq(gov.platformFee(), 1e12, "platform fee");
        assertEq(gov.treasury(), treasury, "treasury");
        assertEq(uint256(gov.contributionUnbondingPeriod()), 7 days, "contribution unbonding");
        assertEq(uint256(gov.stakingUnbondingPeriod()), 14 days, "staking unbonding");
        assertEq(uint256(gov.requestExpiryBlocks()), 100, "expiry");
        assertEq(gov.owner(), govOwner, "owner");
        assertEq(address(gov.poa()), Predeploys.PROOF_OF_ATTRIBUTION, "poa");
        assertEq(gov.version(), "1.0.0", "version");
    }

    function test_constructor_validates() public {
        Governance.InitParams memory p = defaultInit(treasury);
        p.feeShares.treasuryPpm += 1;
        vm.expectRevert(abi.encodeWithSelector(Governance.InvalidFeeShares.selector, 1_000_001));
        new Governance(govOwner, p);
        p = defaultInit(address(0));
        vm.expectRevert(Governance.ZeroAddress.selector);
        new Governance(govOwner, p);
        p = defaultInit(treasury);
        p.stakingUnbondingPeriod = 366 days;
        vm.expectRevert(abi.encodeWithSelector(Governance.UnbondingPeriodTooLong.selector, uint64(366 days)));
        new Governance(govOwner, p);
        p = defaultInit(treasury);
        p.requestExpiryBlocks = 0;
        vm.expectRevert(abi.encodeWithSelector(Governance.InvalidRequestExpiry.selector, uint64(0)));
        new Governance(govOwner, p);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableInvalidOwner.selector, address(0)));
        new Governance(address(0), defaultInit(treasury));
    }

    function test_governed_revertsOnZeroStore() public {
        vm.expectRevert(Governed.ZeroAddress.selector);
        new DatanetRegistry(Governance(address(0)));
    }

    // ------------------------------------------------------------------ setters

    function test_setFeeShares() public {
        Governance.FeeShares memory s = Governance.FeeShares({
            modelOwnerPpm: 250_000, stakersPpm: 250_000, contributorsPpm: 400_000, treasuryPpm: 100_000
        });
        vm.expectEmit(address(gov));
        emit Governance.FeeSharesSet(250_000, 250_000, 400_000, 100_000);
        vm.prank(govOwner);
        gov.setFeeShares(s);
        assertEq(uint256(gov.feeShares().stakersPpm), 250_000, "set");

        s.treasuryPpm = 99_999;
        vm.expectRevert(abi.encodeWithSelector(Governance.InvalidFeeShares.selector, 999_999));
        vm.prank(govOwner);
        gov.setFeeShares(s);
        expectNotOwner(address(this));
        gov.setFeeShares(s);
    }

    function test_setPlatformFee() public {
        vm.expectEmit(address(gov));
        emit Governance.PlatformFeeSet(5);
        vm.prank(govOwner);
        gov.setPlatformFee(5);
        assertEq(gov.platformFee(), 5, "set");
        expectNotOwner(address(this));
        gov.setPlatformFee(6);
    }

    function test_setTreasury() public {
        address t = makeAddr("t2");
        vm.expectEmit(address(gov));
        emit Governance.TreasurySet(t);
        vm.prank(govOwner);
        gov.setTreasury(t);
        assertEq(gov.treasury(), t, "set");
        vm.expectRevert(Governance.ZeroAddress.selector);
        vm.prank(govOwner);
        gov.setTreasury(address(0));
        expectNotOwner(address(this));
        gov.setTreasury(t);
    }

    function test_setContributionUnbondingPeriod() public {
        vm.expectEmit(address(gov));
        emit Governance.ContributionUnbondingPeriodSet(365 days);
        vm.prank(govOwner);
        gov.setContributionUnbondingPeriod(365 days);
        assertEq(uint256(gov.contributionUnbondingPeriod()), 365 days, "set");
        vm.expectRevert(abi.encodeWithSelector(Governance.UnbondingPeriodTooLong.selector, uint64(365 days + 1)));
        vm.prank(govOwner);
        gov.setContributionUnbondingPeriod(365 days + 1);
        expectNotOwner(address(this));
        gov.setContributionUnbondingPeriod(1);
    }

    function test_setStakingUnbondingPeriod() public {
        vm.expectEmit(address(gov));
        emit Governance.StakingUnbondingPeriodSet(0);
        vm.prank(govOwner);
        gov.setStakingUnbondingPeriod(0);
        assertEq(uint256(gov.stakingUnbondingPeriod()), 0, "set");
        vm.expectRevert(abi.encodeWithSelector(Governance.UnbondingPeriodTooLong.selector, uint64(400 days)));
        vm.prank(govOwner);
        gov.setStakingUnbondingPeriod(400 days);
        expectNotOwner(address(this));
        gov.setStakingUnbondingPeriod(1);
    }

    function test_setRequestExpiryBlocks() public {
        vm.expectEmit(address(gov));
        emit Governance.RequestExpiryBlocksSet(1_000_000);
        vm.prank(govOwner);
        gov.setRequestExpiryBlocks(1_000_000);
        assertEq(uint256(gov.requestExpiryBlocks()), 1_000_000, "set");
        vm.startPrank(govOwner);
        vm.expectRevert(abi.encodeWithSelector(Governance.InvalidRequestExpiry.selector, uint64(0)));
        gov.setRequestExpiryBlocks(0);
        vm.expectRevert(abi.encodeWithSelector(Governance.InvalidRequestExpiry.selector, uint64(1_000_001)));
        gov.setRequestExpiryBlocks(1_000_001);
        vm.stopPrank();
        expectNotOwner(address(this));
        gov.setRequestExpiryBlocks(1);
    }

    function test_setMethodParams() public {
        Governance.MethodParams memory p = Governance.MethodParams({
            enabled: true, maxContributors: 64, gpuTolerancePpm: 500, configHash: bytes32("cfg")
        });
        vm.expectEmit(address(gov));
        emit Governance.MethodParamsSet(2, true, 64, 500, bytes32("cfg"));
        vm.prank(govOwner);
        gov.setMethodParams(2, p);
        Governance.MethodParams memory got = gov.methodParams(2);
        assertTrue(got.enabled && gov.isMethodEnabled(2), "enabled");
        assertEq(uint256(got.maxContributors), 64, "max");
        assertEq(uint256(got.gpuTolerancePpm), 500, "tolerance");
        assertEq(got.configHash, bytes32("cfg"), "config");
        assertFalse(gov.isMethodEnabled(3), "unset method disabled");

        vm.startPrank(govOwner);
        p.maxContributors = 257;
        vm.expectRevert(Governance.InvalidMethodParams.selector);
        gov.setMethodParams(2, p);
        p.maxContributors = 64;
        p.gpuTolerancePpm = 1_000_001;
        vm.expectRevert(Governance.InvalidMethodParams.selector);
        gov.setMethodParams(2, p);
        p.gpuTolerancePpm = 0;
        p.maxContributors = 0;
        vm.expectRevert(Governance.InvalidMethodParams.selector);
        gov.setMethodParams(2, p);
        p.enabled = false; // a disabled method may have a zero cap
        gov.setMethodParams(2, p);
        vm.stopPrank();
        assertFalse(gov.isMethodEnabled(2), "disabled");
        expectNotOwner(address(this));
        gov.setMethodParams(2, p);
    }

    function test_setAttestor_forwardsToPrecompile() public {
        address a = makeAddr("a2");
        vm.expectEmit(address(gov));
        emit Governance.AttestorUpdated(a, true);
        vm.prank(govOwner);
        gov.setAttestor(a, true);
        assertTrue(gov.isAttestor(a) && poa.isAttestor(a), "added");
        vm.prank(govOwner);
        gov.setAttestor(a, false);
        assertFalse(gov.isAttestor(a), "removed");
        expectNotOwner(address(this));
        gov.setAttestor(a, true);
    }

    function test_constants() public view {
        assertEq(uint256(gov.PPM()), 1_000_000, "PPM");
        assertEq(uint256(gov.MAX_UNBONDING_PERIOD()), 365 days, "max unbonding");
        assertEq(uint256(gov.MAX_REQUEST_EXPIRY_BLOCKS()), 1_000_000, "max expiry");
        assertEq(uint256(gov.MAX_METHOD_CONTRIBUTORS()), 256, "max contributors");
    }

    function test_renounceOwnershipDisabled() public {
        vm.expectRevert(Governance.RenounceDisabled.selector);
        vm.prank(govOwner);
        gov.renounceOwnership();
        expectNotOwner(address(this));
        gov.renounceOwnership();
        assertEq(gov.owner(), govOwner, "still owned");
    }

    function test_ownershipIsTwoStep() public {
        address next = makeAddr("nextTimelock");
        vm.prank(govOwner);
        gov.transferOwnership(next);
        assertEq(gov.owner(), govOwner, "unchanged until accepted");
        assertEq(gov.pendingOwner(), next, "pending");
        expectNotOwner(address(this));
        gov.acceptOwnership();
        vm.prank(next);
        gov.acceptOwnership();
        assertEq(gov.owner(), next, "accepted");
    }

    // ------------------------------------------------------------------ timelock

    function test_timelock_changesOnlyAfterDelay() public {
        address[] memory council = new address[](3);
        council[0] = makeAddr("k1");
        council[1] = makeAddr("k2");
        council[2] = makeAddr("k3");
        address[] memory executors = new address[](1); // address(0): anyone executes
        TimelockController timelock = new TimelockController(2 days, council, executors, address(0));
        Governance g = new Governance(address(timelock), defaultInit(treasury));

        bytes memory call = abi.encodeCall(Governance.setPlatformFee, (7));
        // Direct calls, even from council keys, are refused.
        expectNotOwner(council[0]);
        vm.prank(council[0]);
        g.setPlatformFee(7);

        // Non-council keys cannot schedule.
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), timelock.PROPOSER_ROLE()
            )
        );
        timelock.schedule(address(g), 0, call, bytes32(0), bytes32(0), 2 days);

        vm.prank(council[0]);
        timelock.schedule(address(g), 0, call, bytes32(0), bytes32(0), 2 days);
        bytes32 id = timelock.hashOperation(address(g), 0, call, bytes32(0), bytes32(0));

        // Too early.
        vm.warp(block.timestamp + 2 days - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                TimelockController.TimelockUnexpectedOperationState.selector, id, bytes32(uint256(1) << 2)
            )
        );
        timelock.execute(address(g), 0, call, bytes32(0), bytes32(0));

        // After the delay anyone executes.
        vm.warp(block.timestamp + 1);
        timelock.execute(address(g), 0, call, bytes32(0), bytes32(0));
        assertEq(g.platformFee(), 7, "executed");
    }

    function test_timelock_anyCouncilKeyCanVeto() public {
        address[] memory council = new address[](2);
        council[0] = makeAddr("k1");
        council[1] = makeAddr("k2");
        TimelockController timelock = new TimelockController(1 days, council, new address[](1), address(0));
        Governance g = new Governance(address(timelock), defaultInit(treasury));
        bytes memory call = abi.encodeCall(Governance.setTreasury, (makeAddr("attacker")));
        vm.prank(council[0]);
        timelock.schedule(address(g), 0, call, bytes32(0), bytes32("s"), 1 days);
        bytes32 id = timelock.hashOperation(address(g), 0, call, bytes32(0), bytes32("s"));
        vm.prank(council[1]);
        timelock.cancel(id);
        vm.warp(block.timestamp + 2 days);
        vm.expectRevert();
        timelock.execute(address(g), 0, call, bytes32(0), bytes32("s"));
        assertEq(g.treasury(), treasury, "unchanged");
    }
}
