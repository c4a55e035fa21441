// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {Test} from "./utils/Test.sol";
import {Governance} from "../src/L2/governance/Governance.sol";
import {IProofOfAttribution, AttributionMethod} from "../src/L2/poa/IProofOfAttribution.sol";
import {ProofOfAttributionImpl} from "../src/L2/poa/ProofOfAttributionImpl.sol";
import {Predeploys} from "../src/L2/Predeploys.sol";
import {DatanetRegistry} from "../src/L2/DatanetRegistry.sol";
import {ModelRegistry} from "../src/L2/ModelRegistry.sol";
import {Staking} from "../src/L2/Staking.sol";
import {InferenceMarket} from "../src/L2/InferenceMarket.sol";

/// @notice The whole flow as production wires it: a TimelockController owns the parameter store,
///         every governance action is a scheduled, delayed batch; contributors stake data, a model
///         owner registers an adapter, a user pays for an inference, the attestor records the
///         attribution and the token counts, anyone settles, everyone withdraws.
contract EndToEndTest is Test {
    TimelockController timelock;
    Governance gov;
    IProofOfAttribution poa;
    DatanetRegistry datanets;
    ModelRegistry models;
    Staking staking;
    InferenceMarket market;

    address council;
    address treasury;
    address attestor;
    address curatorOwner;
    address alice;
    address bob;
    address modelOwner;
    address staker;
    address user;

    function setUp() public {
        council = makeAddr("council");
        treasury = makeAddr("treasury");
        attestor = makeAddr("attestor");
        curatorOwner = makeAddr("curatorOwner");
        alice = makeAddr("alice");
        bob = makeAddr("bob");
        modelOwner = makeAddr("modelOwner");
        staker = makeAddr("staker");
        user = makeAddr("user");

        address[] memory proposers = new address[](1);
        proposers[0] = council;
        timelock = new TimelockController(2 days, proposers, new address[](1), address(0));
        gov = new Governance(
            address(timelock),
            Governance.InitParams({
                feeShares: Governance.FeeShares({
                    modelOwnerPpm: 400_000, stakersPpm: 100_000, contributorsPpm: 400_000, treasuryPpm: 100_000
                }),
                platformFee: 0.001 ether,
                treasury: treasury,
                contributionUnbondingPeriod: 3 days,
                stakingUnbondingPeriod: 7 days,
                requestExpiryBlocks: 50
            })
        );
        vm.etch(Predeploys.PROOF_OF_ATTRIBUTION, address(new ProofOfAttributionImpl(address(gov))).code);
        poa = IProofOfAttribution(Predeploys.PROOF_OF_ATTRIBUTION);
        datanets = new DatanetRegistry(gov);
        models = new ModelRegistry(gov, datanets);
        staking = new Staking(gov);
        market = new InferenceMarket(gov, models, datanets, staking);

        // One timelocked batch: attestor, method, reporter.
        address[] memory targets = new address[](3);
        uint256[] memory values = new uint256[](3);
        bytes[] memory calls = new bytes[](3);
        targets[0] = address(gov);
        calls[0] = abi.encodeCall(Governance.setAttestor, (attestor, true));
        targets[1] = address(gov);
        calls[1] = abi.encodeCall(
            Governance.setMethodParams,
            (
                AttributionMethod.INFINIGRAM,
                Governance.MethodParams({enabled: true, maxContributors: 64, gpuTolerancePpm: 0, configHash: 0})
            )
        );
        targets[2] = address(datanets);
        calls[2] = abi.encodeCall(DatanetRegistry.setReporter, (address(market), true));
        vm.prank(council);
        timelock.scheduleBatch(targets, values, calls, bytes32(0), bytes32(0), 2 days);
        vm.warp(block.timestamp + 2 days);
        timelock.executeBatch(targets, values, calls, bytes32(0), bytes32(0));
        assertTrue(poa.isAttestor(attestor), "attestor set through the timelock");
    }

    function test_fullFlow() public {
        // Data.
        vm.prank(curatorOwner);
        uint256 dn = datanets.createDatanet(
            "ipfs://medical", bytes32("CC-BY-4.0"), DatanetRegistry.Policy.Curated, 1 ether, 500_000
        );
        vm.deal(alice, 10 ether);
        vm.deal(bob, 10 ether);
        vm.prank(alice);
        uint256 ca = datanets.contribute{value: 1 ether}(dn, keccak256("alice data"), 4096, "ol://a");
        vm.prank(bob);
        uint256 cb = datanets.contribute{value: 2 ether}(dn, keccak256("bob data"), 8192, "ol://b");
        vm.startPrank(curatorOwner);
        datanets.approve(ca);
        datanets.approve(cb);
        vm.stopPrank();

        // Model.
        vm.startPrank(modelOwner);
        uint256 base =
            models.registerBaseModel(keccak256("weights"), bytes32("qwen2"), bytes32("apache-2.0"), "ol://base");
        ModelRegistry.DatanetUse[] memory used = new ModelRegistry.DatanetUse[](1);
        used[0] = ModelRegistry.DatanetUse({datanetId: dn, contributionCount: 2});
        uint256 adapter = models.registerAdapter(
            base,
            ModelRegistry.AdapterParams({
                adapterHash: keccak256("lora"),
                priceInPer1k: 1e14,
                priceOutPer1k: 3e14,
                attributionMethod: AttributionMethod.INFINIGRAM,
                uri: "ol://lora",
                datanets: used
            })
        );
        vm.stopPrank();

        // Staker.
        vm.deal(staker, 5 ether);
        vm.prank(staker);
        staking.stake{value: 5 ether}();

        // Inference.
        uint256 escrow = market.quote(adapter, 500, 1000);
        vm.deal(user, escrow);
        vm.prank(user);
        bytes32 id = market.request{value: escrow}(adapter, "What is the dosage of ...?", 500, 1000);

        address[] memory c = new address[](2);
        (c[0], c[1]) = (alice, bob);
        uint32[] memory w = new uint32[](2);
        (w[0], w[1]) = (700_000, 300_000);
        vm.startPrank(attestor);
        poa.record(id, keccak256("the answer"), AttributionMethod.INFINIGRAM, c, w, keccak256("evidence"));
        vm.expectEmit(address(market));
        emit InferenceMarket.OutputPublished(id, "the answer");
        market.fulfill(id, 420, 800, "the answer");
        vm.stopPrank();
        InferenceMarket.Settlement memory s = market.settle(id);

        // fee = ceil((420 * 1e14 + 800 * 3e14) / 1000) + 0.001 ether = 2.82e14 + 1e15
        assertEq(s.fee, 2.82e14 + 1e15, "fee");
        assertEq(s.fee + s.refund, escrow, "escrow conserved");
        uint256 net = 2.82e14;
        assertEq(market.balanceOf(modelOwner), net * 4 / 10, "model owner 40%");
        assertEq(market.balanceOf(alice), net * 4 / 10 * 7 / 10, "alice 70% of 40%");
        assertEq(market.balanceOf(bob), net * 4 / 10 * 3 / 10, "bob 30% of 40%");
        assertEq(staking.earned(staker), net / 10, "stakers 10%");
        assertEq(market.treasuryAccrued(), 1e15 + net / 10, "platform fee + treasury 10%");
        assertEq(datanets.reputationOf(alice).attributedWeightPpm, 700_000, "alice reputation");

        // Everyone is paid.
        vm.prank(alice);
        market.withdraw();
        vm.prank(modelOwner);
        market.withdraw();
        vm.prank(user);
        market.withdraw();
        vm.prank(staker);
        staking.claimRewards();
        market.flushTreasury();
        assertEq(treasury.balance, 1e15 + net / 10, "treasury paid");
        vm.warp(block.timestamp + 3 days);
        vm.prank(alice);
        datanets.withdrawStake(ca);
        assertEq(alice.balance, 10 ether + net * 4 / 10 * 7 / 10, "alice: stake back plus her share");
        assertEq(address(market).balance, market.balanceOf(bob), "only bob's unclaimed share remains");
    }
}
