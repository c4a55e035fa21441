// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Errors} from "@openzeppelin/contracts/utils/Errors.sol";
import {L2Fixture} from "./utils/L2Fixture.sol";
import {InferenceMarket} from "../src/L2/InferenceMarket.sol";
import {Governance} from "../src/L2/governance/Governance.sol";
import {Governed} from "../src/L2/governance/Governed.sol";
import {ModelRegistry} from "../src/L2/ModelRegistry.sol";
import {DatanetRegistry} from "../src/L2/DatanetRegistry.sol";
import {Staking} from "../src/L2/Staking.sol";
import {Predeploys} from "../src/L2/Predeploys.sol";

/// @dev A requester that re-enters `withdraw` when paid.
contract ReentrantRequester {
    InferenceMarket immutable market;

    constructor(InferenceMarket m) {
        market = m;
    }

    function request(uint256 adapterId) external payable returns (bytes32) {
        return market.requestWithHash{value: msg.value}(adapterId, keccak256("p"), 10, 10);
    }

    function withdraw() external {
        market.withdraw();
    }

    receive() external payable {
        market.withdraw();
    }
}

/// @dev A requester that cannot receive ETH.
contract NonPayableRequester {
    InferenceMarket immutable market;

    constructor(InferenceMarket m) {
        market = m;
    }

    function request(uint256 adapterId) external payable returns (bytes32) {
        return market.requestWithHash{value: msg.value}(adapterId, keccak256("p"), 10, 10);
    }

    function withdraw() external {
        market.withdraw();
    }
}

contract InferenceMarketTest is L2Fixture {
    address modelOwner;
    address user;
    address staker;
    uint256 adapter;

    uint128 constant R_IN = 2e9; // wei per 1000 input tokens
    uint128 constant R_OUT = 6e9; // wei per 1000 output tokens

    function setUp() public {
        deploySuite();
        modelOwner = makeAddr("modelOwner");
        user = makeAddr("user");
        staker = makeAddr("staker");
        vm.deal(user, 1000 ether);
        adapter = setUpModel(modelOwner, R_IN, R_OUT);
    }

    function maxFee(uint32 tIn, uint32 tOut) internal view returns (uint256) {
        return market.quote(adapter, tIn, tOut);
    }

    function requestAs(address who, uint256 value, uint32 maxIn, uint32 maxOut) internal returns (bytes32 id) {
        vm.prank(who);
        id = market.request{value: value}(adapter, "hello", maxIn, maxOut);
    }

    function recordAndFulfill(bytes32 id, uint256 n, uint32 tIn, uint32 tOut) internal {
        vm.startPrank(attestor);
        poa.record(id, keccak256("out"), 0, contributorsOf(n), weightsOf(n, uint256(id)), bytes32(0));
        market.fulfill(id, tIn, tOut, "out");
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ fee formula

    function test_feeFor_ceilsTheTokenPart() public view {
        assertEq(market.feeFor(1000, 1000, 0, 1, 0), 1, "exact 1");
        assertEq(market.feeFor(1, 0, 0, 1, 0), 1, "1/1000 rounds up to 1");
        assertEq(market.feeFor(1, 1, 0, 500, 500), 1, "1000/1000 = 1");
        assertEq(market.feeFor(1, 1, 0, 500, 501), 2, "1001/1000 rounds up to 2");
        assertEq(market.feeFor(0, 0, 7, 100, 100), 7, "platform fee only");
        assertEq(market.feeFor(R_IN, R_OUT, 1e12, 1000, 2000), 2e9 + 12e9 + 1e12, "formula");
        uint256 maxP = type(uint128).max;
        assertEq(
            market.feeFor(type(uint128).max, type(uint128).max, 0, type(uint32).max, type(uint32).max),
            (2 * maxP * type(uint32).max + 999) / 1000,
            "no overflow at the extremes"
        );
    }

    function test_quote() public view {
        assertEq(maxFee(1000, 1000), 8e9 + 1e12, "current prices and platform fee");
        assertEq(market.version(), "1.0.0", "version");
        assertEq(market.PPM(), 1_000_000, "PPM");
        assertEq(market.TOKENS_PER_PRICE_UNIT(), 1000, "per 1k tokens");
        assertEq(market.MAX_PROMPT_BYTES(), 65_536, "prompt cap");
        assertEq(address(market.poa()), Predeploys.PROOF_OF_ATTRIBUTION, "poa");
        assertEq(address(market.models()), address(models), "models");
        assertEq(address(market.datanets()), address(datanets), "datanets");
        assertEq(address(market.staking()), address(staking), "staking");
    }

    function test_constructor_revertsOnZeroAddresses() public {
        vm.expectRevert(Governed.ZeroAddress.selector);
        new InferenceMarket(gov, ModelRegistry(address(0)), datanets, staking);
        vm.expectRevert(Governed.ZeroAddress.selector);
        new InferenceMarket(gov, models, DatanetRegistry(address(0)), staking);
        vm.expectRevert(Governed.ZeroAddress.selector);
        new InferenceMarket(gov, models, datanets, Staking(address(0)));
    }

    // ------------------------------------------------------------------ request

    function test_request_escrowsAndSnapshots() public {
        uint256 fee = maxFee(100, 200);
        bytes32 expectedId = market.requestIdOf(1);
        vm.expectEmit(address(market));
        emit InferenceMarket.Requested(
            expectedId, user, adapter, keccak256("hello"), 100, 200, fee + 5, uint64(block.number + 100)
        );
        vm.expectEmit(address(market));
        emit InferenceMarket.PromptSubmitted(expectedId, "hello");
        bytes32 id = requestAs(user, fee + 5, 100, 200);
        assertEq(id, expectedId, "id");
        assertEq(market.requestCount(), 1, "count");
        InferenceMarket.Request memory r = market.getRequest(id);
        assertEq(r.requester, user, "requester");
        assertTrue(r.status == InferenceMarket.Status.Open, "open");
        assertEq(uint256(r.escrow), fee + 5, "escrow keeps the excess");
        assertEq(uint256(r.priceInPer1k), R_IN, "R_in snapshot");
        assertEq(uint256(r.priceOutPer1k), R_OUT, "R_out snapshot");
        assertEq(uint256(r.platformFee), 1e12, "platform fee snapshot");
        assertEq(uint256(r.expiryBlock), block.number + 100, "expiry");
        assertEq(r.promptHash, keccak256("hello"), "prompt hash");
        assertEq(uint256(r.adapterId), adapter, "adapter");
        assertEq(market.totalEscrowed(), fee + 5, "escrowed");
        assertEq(address(market).balance, fee + 5, "held");
    }

    function test_requestWithHash() public {
        uint256 fee = maxFee(10, 10);
        vm.prank(user);
        bytes32 id = market.requestWithHash{value: fee}(adapter, keccak256("off chain"), 10, 10);
        assertEq(market.getRequest(id).promptHash, keccak256("off chain"), "hash");
        vm.expectRevert(InferenceMarket.InvalidPrompt.selector);
        vm.prank(user);
        market.requestWithHash{value: fee}(adapter, bytes32(0), 10, 10);
    }

    function test_request_reverts() public {
        uint256 fee = maxFee(10, 10);
        vm.startPrank(user);
        vm.expectRevert(InferenceMarket.InvalidPrompt.selector);
        market.request{value: fee}(adapter, "", 10, 10);
        vm.expectRevert(InferenceMarket.InvalidPrompt.selector);
        market.request{value: fee}(adapter, new bytes(65_537), 10, 10);
        vm.expectRevert(InferenceMarket.ZeroMaxTokens.selector);
        market.request{value: fee}(adapter, "p", 10, 0);
        vm.expectRevert(abi.encodeWithSelector(InferenceMarket.InsufficientEscrow.selector, fee - 1, fee));
        market.request{value: fee - 1}(adapter, "p", 10, 10);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownAdapter.selector, 99));
        market.request{value: fee}(99, "p", 10, 10);
        vm.stopPrank();
        vm.prank(modelOwner);
        models.deactivateAdapter(adapter);
        vm.expectRevert(abi.encodeWithSelector(InferenceMarket.AdapterNotServable.selector, adapter));
        vm.prank(user);
        market.request{value: fee}(adapter, "p", 10, 10);
    }

    function test_request_revertsOnEscrowAboveUint128() public {
        uint256 value = uint256(type(uint128).max) + 1;
        vm.deal(user, value);
        vm.expectRevert(abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintDowncast.selector, 128, value));
        vm.prank(user);
        market.request{value: value}(adapter, "p", 1, 1);
    }

    function test_request_laterPriceChangesDoNotApply() public {
        uint256 fee = maxFee(1000, 1000);
        bytes32 id = requestAs(user, fee, 1000, 1000);
        vm.prank(modelOwner);
        models.setAdapterPrices(adapter, R_IN * 10, R_OUT * 10);
        vm.prank(govOwner);
        gov.setPlatformFee(1 ether);
        recordAndFulfill(id, 1, 1000, 1000);
        InferenceMarket.Settlement memory s = market.settle(id);
        assertEq(s.fee, fee, "fee at request-time prices");
        assertEq(s.refund, 0, "nothing to refund");
    }

    // ------------------------------------------------------------------ fulfill

    function test_fulfill() public {
        bytes32 id = requestAs(user, maxFee(100, 100), 100, 100);
        vm.prank(attestor);
        poa.record(id, keccak256("out"), 0, contributorsOf(2), evenWeights(2), bytes32(0));
        vm.expectEmit(address(market));
        emit InferenceMarket.Fulfilled(id, attestor, 60, 100);
        vm.prank(attestor);
        market.fulfill(id, 60, 100, "out");
        InferenceMarket.Request memory r = market.getRequest(id);
        assertTrue(r.status == InferenceMarket.Status.Fulfilled, "fulfilled");
        assertEq(uint256(r.tokensIn), 60, "tIn");
        assertEq(uint256(r.tokensOut), 100, "tOut");
    }

    function test_fulfill_reverts() public {
        bytes32 id = requestAs(user, maxFee(100, 100), 100, 100);
        vm.expectRevert(abi.encodeWithSelector(InferenceMarket.NotAttestor.selector, address(this)));
        market.fulfill(id, 1, 1, "out");
        vm.startPrank(attestor);
        vm.expectRevert(abi.encodeWithSelector(InferenceMarket.UnknownRequest.selector, bytes32("x")));
        market.fulfill(bytes32("x"), 1, 1, "out");
        vm.expectRevert(abi.encodeWithSelector(InferenceMarket.TokensExceedMax.selector, uint32(101), uint32(1)));
        market.fulfill(id, 101, 1, "out");
        vm.expectRevert(abi.encodeWithSelector(InferenceMarket.TokensExceedMax.selector, uint32(1), uint32(101)));
        market.fulfill(id, 1, 101, "out");
        vm.expectRevert(abi.encodeWithSelector(InferenceMarket.NotRecorded.selector, id));
        market.fulfill(id, 1, 1, "out");
        // A record made with another method than the adapter's (DataInf) is not accepted.
        poa.record(id, keccak256("out"), 2, contributorsOf(2), evenWeights(2), bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(InferenceMarket.WrongMethod.selector, uint8(0), uint8(2)));
        market.fulfill(id, 1, 1, "out");
        vm.stopPrank();

        // Nor one whose method governance disabled after the request, or with more contributors
        // than the method allows.
        bytes32 id2 = requestAs(user, maxFee(100, 100), 100, 100);
        vm.prank(attestor);
        poa.record(id2, keccak256("out"), 0, contributorsOf(2), evenWeights(2), bytes32(0));
        Governance.MethodParams memory params = gov.methodParams(0);
        vm.prank(govOwner);
        gov.setMethodParams(
            0, Governance.MethodParams({enabled: false, maxContributors: 256, gpuTolerancePpm: 0, configHash: 0})
        );
        vm.expectRevert(abi.encodeWithSelector(InferenceMarket.RecordNotAccepted.selector, uint8(0), 2));
        vm.prank(attestor);
        market.fulfill(id2, 1, 1, "out");
        vm.prank(govOwner);
        gov.setMethodParams(
            0, Governance.MethodParams({enabled: true, maxContributors: 1, gpuTolerancePpm: 0, configHash: 0})
        );
        vm.expectRevert(abi.encodeWithSelector(InferenceMarket.RecordNotAccepted.selector, uint8(0), 2));
        vm.prank(attestor);
        market.fulfill(id2, 1, 1, "out");
        vm.prank(govOwner);
        gov.setMethodParams(0, params);
        // A published output must be the recorded one.
        vm.expectRevert(
            abi.encodeWithSelector(InferenceMarket.OutputMismatch.selector, keccak256("out"), keccak256("other"))
        );
        vm.prank(attestor);
        market.fulfill(id2, 1, 1, "other");
        vm.expectRevert(
            abi.encodeWithSelector(InferenceMarket.OutputMismatch.selector, keccak256("out"), keccak256(""))
        );
        vm.prank(attestor);
        market.fulfill(id2, 1, 1, "");
        vm.prank(attestor);
        market.fulfill(id2, 1, 1, "out");
        vm.expectRevert(
            abi.encodeWithSelector(InferenceMarket.InvalidStatus.selector, InferenceMarket.Status.Fulfilled)
        );
        vm.prank(attestor);
        market.fulfill(id2, 1, 1, "out");
    }

    function test_fulfill_publishesThePublicOutputOnly() public {
        bytes32 pub = requestAs(user, maxFee(100, 100), 100, 100);
        InferenceMarket.Request memory r = market.getRequest(pub);
        assertTrue(r.promptOnChain, "request keeps its prompt on chain");
        assertEq(uint256(r.attributionMethod), 0, "the adapter's method, fixed at request time");
        vm.startPrank(attestor);
        poa.record(pub, keccak256("the output"), 0, contributorsOf(1), evenWeights(1), bytes32(0));
        vm.expectEmit(address(market));
        emit InferenceMarket.OutputPublished(pub, "the output");
        market.fulfill(pub, 1, 1, "the output");
        vm.stopPrank();

        uint256 fee = maxFee(10, 10);
        vm.prank(user);
        bytes32 priv = market.requestWithHash{value: fee}(adapter, keccak256("off chain"), 10, 10);
        assertFalse(market.getRequest(priv).promptOnChain, "requestWithHash keeps it off chain");
        vm.startPrank(attestor);
        poa.record(priv, keccak256("secret"), 0, contributorsOf(1), evenWeights(1), bytes32(0));
        vm.expectRevert(InferenceMarket.OutputNotPublic.selector);
        market.fulfill(priv, 1, 1, "secret");
        vm.recordLogs();
        market.fulfill(priv, 1, 1, "");
        vm.stopPrank();
        assertEq(vm.getRecordedLogs().length, 1, "only Fulfilled: nothing of the output on chain");
    }

    function test_fulfill_revertsAfterExpiry() public {
        bytes32 id = requestAs(user, maxFee(100, 100), 100, 100);
        uint64 expiry = uint64(block.number + 100);
        vm.prank(attestor);
        poa.record(id, keccak256("out"), 0, contributorsOf(1), evenWeights(1), bytes32(0));
        vm.roll(expiry + 1);
        vm.expectRevert(abi.encodeWithSelector(InferenceMarket.Expired.selector, expiry));
        vm.prank(attestor);
        market.fulfill(id, 1, 1, "out");
        vm.roll(expiry); // the expiry block itself is still in time
        vm.prank(attestor);
        market.fulfill(id, 1, 1, "out");
    }

    // ------------------------------------------------------------------ settle

    function test_settle_splitsExactly() public {
        vm.deal(staker, 10 ether);
        vm.prank(staker);
        staking.stake{value: 10 ether}();

        uint256 escrow = maxFee(1000, 2000) + 1 ether;
        bytes32 id = requestAs(user, escrow, 1000, 2000);
        address[] memory c = contributorsOf(3);
        uint32[] memory w = new uint32[](3);
        (w[0], w[1], w[2]) = (500_000, 300_000, 200_000);
        vm.startPrank(attestor);
        poa.record(id, keccak256("out"), 0, c, w, bytes32(0));
        market.fulfill(id, 700, 1500, "out");
        vm.stopPrank();

        // fee = ceil((700 * 2e9 + 1500 * 6e9) / 1000) + 1e12 = 1.04e10 + 1e12
        uint256 fee = 10_400_000_000 + 1e12;
        uint256 net = 10_400_000_000;
        vm.expectEmit(address(market));
        emit InferenceMarket.Settled(
            id, fee, escrow - fee, net * 3 / 10, net / 10, net / 2, fee - net * 3 / 10 - net / 10 - net / 2
        );
        vm.prank(makeAddr("anyone"));
        InferenceMarket.Settlement memory s = market.settle(id);
        assertEq(s.fee + s.refund, escrow, "escrow conserved");
        assertEq(s.modelOwner + s.stakers + s.contributors + s.treasury, s.fee, "fee conserved");
        assertEq(market.balanceOf(user), escrow - fee, "refund");
        assertEq(market.balanceOf(modelOwner), net * 3 / 10, "model owner");
        assertEq(market.balanceOf(c[0]), net / 4, "contributor 0: half of the half");
        assertEq(market.balanceOf(c[1]), net * 3 / 20, "contributor 1");
        assertEq(market.balanceOf(c[2]), net / 10, "contributor 2");
        assertEq(market.treasuryAccrued(), 1e12 + net / 10, "platform fee + treasury share");
        assertEq(address(staking).balance, 10 ether + net / 10, "stakers' share sent");
        assertEq(staking.earned(staker), net / 10, "staker earns it");
        assertEq(datanets.reputationOf(c[0]).attributedWeightPpm, 500_000, "reputation updated");
        assertTrue(market.getRequest(id).status == InferenceMarket.Status.Settled, "settled");
        assertEq(market.totalEscrowed(), 0, "escrow released");
        assertEq(address(market).balance, market.totalBalances() + market.treasuryAccrued(), "solvent");
    }

    function test_settle_emptyRecordPaysContributorsShareToTreasury() public {
        bytes32 id = requestAs(user, maxFee(1000, 1000), 1000, 1000);
        vm.startPrank(attestor);
        poa.record(id, keccak256("out"), 0, new address[](0), new uint32[](0), bytes32(0));
        market.fulfill(id, 1000, 1000, "out");
        vm.stopPrank();
        InferenceMarket.Settlement memory s = market.settle(id);
        assertEq(s.contributors, 0, "no contributors");
        uint256 net = 8e9;
        assertEq(s.treasury, 1e12 + net / 10 + net / 2, "treasury takes the contributors' share");
        assertEq(s.stakers, net / 10, "stakers' share queued in staking");
        assertEq(staking.queuedRewards(), net / 10, "queued (nobody staked)");
    }

    function test_settle_withoutReporterRoleStillSettles() public {
        bytes32 id = requestAs(user, maxFee(10, 10), 10, 10);
        recordAndFulfill(id, 2, 10, 10);
        vm.prank(govOwner);
        datanets.setReporter(address(market), false);
        vm.expectEmit(address(market));
        emit InferenceMarket.ReputationNotReported(id);
        market.settle(id);
        assertTrue(market.getRequest(id).status == InferenceMarket.Status.Settled, "settled");
        assertEq(datanets.reputationOf(contributorsOf(2)[0]).attributedWeightPpm, 0, "no reputation");
    }

    function test_settle_reverts() public {
        bytes32 id = requestAs(user, maxFee(10, 10), 10, 10);
        vm.expectRevert(abi.encodeWithSelector(InferenceMarket.InvalidStatus.selector, InferenceMarket.Status.Open));
        market.settle(id);
        vm.expectRevert(abi.encodeWithSelector(InferenceMarket.UnknownRequest.selector, bytes32(0)));
        market.settle(bytes32(0));
        recordAndFulfill(id, 2, 10, 10);
        market.settle(id);
        vm.expectRevert(abi.encodeWithSelector(InferenceMarket.InvalidStatus.selector, InferenceMarket.Status.Settled));
        market.settle(id);
    }

    function test_settle_256Contributors() public {
        bytes32 id = requestAs(user, maxFee(1000, 1000), 1000, 1000);
        recordAndFulfill(id, 256, 1000, 1000);
        uint256 g = gasleft();
        InferenceMarket.Settlement memory s = market.settle(id);
        g -= gasleft();
        assertTrue(g < 20_000_000, "settlement of a full record fits in a block");
        uint256 sum;
        address[] memory c = contributorsOf(256);
        for (uint256 i; i < 256; ++i) {
            sum += market.balanceOf(c[i]);
        }
        assertEq(sum, s.contributors, "contributors' part fully distributed");
    }

    // ------------------------------------------------------------------ refundExpired

    function test_refundExpired() public {
        uint256 escrow = maxFee(10, 10);
        bytes32 id = requestAs(user, escrow, 10, 10);
        uint64 expiry = uint64(block.number + 100);
        vm.roll(expiry);
        vm.expectRevert(abi.encodeWithSelector(InferenceMarket.NotExpired.selector, expiry));
        market.refundExpired(id);
        vm.roll(expiry + 1);
        vm.expectEmit(address(market));
        emit InferenceMarket.Refunded(id, user, escrow);
        market.refundExpired(id);
        assertEq(market.balanceOf(user), escrow, "credited");
        assertTrue(market.getRequest(id).status == InferenceMarket.Status.Refunded, "refunded");
        assertEq(market.totalEscrowed(), 0, "released");
        vm.expectRevert(abi.encodeWithSelector(InferenceMarket.InvalidStatus.selector, InferenceMarket.Status.Refunded));
        market.refundExpired(id);
        vm.expectRevert(abi.encodeWithSelector(InferenceMarket.UnknownRequest.selector, bytes32("y")));
        market.refundExpired(bytes32("y"));
    }

    function test_refundExpired_notForFulfilled() public {
        bytes32 id = requestAs(user, maxFee(10, 10), 10, 10);
        recordAndFulfill(id, 1, 10, 10);
        vm.roll(block.number + 1000);
        vm.expectRevert(
            abi.encodeWithSelector(InferenceMarket.InvalidStatus.selector, InferenceMarket.Status.Fulfilled)
        );
        market.refundExpired(id);
        market.settle(id); // a fulfilled request can always be settled
    }

    // ------------------------------------------------------------------ withdraw and treasury

    function test_withdraw() public {
        uint256 escrow = maxFee(10, 10);
        bytes32 id = requestAs(user, escrow, 10, 10);
        vm.roll(block.number + 101);
        market.refundExpired(id);
        uint256 before = user.balance;
        vm.expectEmit(address(market));
        emit InferenceMarket.Withdrawn(user, escrow);
        vm.prank(user);
        market.withdraw();
        assertEq(user.balance - before, escrow, "paid");
        assertEq(market.balanceOf(user), 0, "cleared");
        assertEq(market.totalBalances(), 0, "total cleared");
        vm.expectRevert(InferenceMarket.NothingToWithdraw.selector);
        vm.prank(user);
        market.withdraw();
    }

    function test_withdraw_reentrancyBlocked() public {
        ReentrantRequester r = new ReentrantRequester(market);
        vm.deal(address(this), 1 ether);
        bytes32 id = r.request{value: maxFee(10, 10)}(adapter);
        vm.roll(block.number + 101);
        market.refundExpired(id);
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        r.withdraw();
    }

    function test_withdraw_failedTransferKeepsBalance() public {
        NonPayableRequester r = new NonPayableRequester(market);
        vm.deal(address(this), 1 ether);
        uint256 escrow = maxFee(10, 10);
        bytes32 id = r.request{value: escrow}(adapter);
        vm.roll(block.number + 101);
        market.refundExpired(id);
        vm.expectRevert(Errors.FailedCall.selector);
        r.withdraw();
        assertEq(market.balanceOf(address(r)), escrow, "still credited");
    }

    function test_flushTreasury() public {
        vm.expectRevert(InferenceMarket.NothingToWithdraw.selector);
        market.flushTreasury();
        bytes32 id = requestAs(user, maxFee(10, 10), 10, 10);
        recordAndFulfill(id, 1, 10, 10);
        InferenceMarket.Settlement memory s = market.settle(id);
        vm.expectEmit(address(market));
        emit InferenceMarket.TreasuryFlushed(treasury, s.treasury);
        market.flushTreasury();
        assertEq(treasury.balance, s.treasury, "paid");
        assertEq(market.treasuryAccrued(), 0, "cleared");
    }

    function test_getRequest_unknown() public {
        vm.expectRevert(abi.encodeWithSelector(InferenceMarket.UnknownRequest.selector, bytes32("z")));
        market.getRequest(bytes32("z"));
    }

    // ------------------------------------------------------------------ fuzz: no wei created or lost

    struct FuzzIn {
        uint128 priceIn;
        uint128 priceOut;
        uint32 maxIn;
        uint32 maxOut;
        uint32 tIn;
        uint32 tOut;
        uint96 excess;
        uint256 platformFee;
        uint256 sharesSeed;
        uint256 n;
        bool withStaker;
    }

    function configure(FuzzIn memory f) internal {
        f.priceIn = uint128(bound(f.priceIn, 0, 1e24));
        f.priceOut = uint128(bound(f.priceOut, 0, 1e24));
        f.maxOut = uint32(bound(f.maxOut, 1, type(uint32).max));
        f.tIn = uint32(bound(f.tIn, 0, f.maxIn));
        f.tOut = uint32(bound(f.tOut, 0, f.maxOut));
        f.platformFee = bound(f.platformFee, 0, 1e21);
        f.n = bound(f.n, 0, 40);

        vm.startPrank(govOwner);
        gov.setPlatformFee(f.platformFee);
        uint256 a = bound(f.sharesSeed, 0, PPM);
        uint256 b = bound(uint256(keccak256(abi.encode(f.sharesSeed, 1))), 0, PPM - a);
        uint256 c = bound(uint256(keccak256(abi.encode(f.sharesSeed, 2))), 0, PPM - a - b);
        gov.setFeeShares(
            Governance.FeeShares({
                modelOwnerPpm: uint32(a),
                stakersPpm: uint32(b),
                contributorsPpm: uint32(c),
                treasuryPpm: uint32(PPM - a - b - c)
            })
        );
        vm.stopPrank();
        vm.prank(modelOwner);
        models.setAdapterPrices(adapter, f.priceIn, f.priceOut);
        if (f.withStaker) {
            vm.deal(staker, 3);
            vm.prank(staker);
            staking.stake{value: 3}();
        }
    }

    function creditedTotal(uint256 n) internal view returns (uint256 credited) {
        credited = market.balanceOf(user) + market.balanceOf(modelOwner) + market.treasuryAccrued();
        address[] memory c = contributorsOf(n);
        for (uint256 i; i < n; ++i) {
            credited += market.balanceOf(c[i]);
        }
    }

    /// @dev For random prices, token counts, escrow excess, platform fee, fee shares and
    ///      contributor weights (summing to 1e6): refund + every share == escrow, fee <= escrow,
    ///      and the market holds exactly what it owes afterwards.
    function testFuzz_settle_conservesEscrow(FuzzIn memory f) public {
        configure(f);
        uint256 escrow = market.quote(adapter, f.maxIn, f.maxOut) + f.excess;
        vm.deal(user, escrow);
        bytes32 id = requestAs(user, escrow, f.maxIn, f.maxOut);
        recordAndFulfill(id, f.n, f.tIn, f.tOut);

        uint256 stakingBefore = address(staking).balance;
        InferenceMarket.Settlement memory s = market.settle(id);

        assertLe(s.fee, escrow, "fee <= escrow");
        assertEq(s.fee, market.feeFor(f.priceIn, f.priceOut, f.platformFee, f.tIn, f.tOut), "fee formula");
        assertEq(s.fee + s.refund, escrow, "fee + refund == escrow");
        assertEq(s.modelOwner + s.stakers + s.contributors + s.treasury, s.fee, "shares == fee");
        // What actually moved, account by account.
        uint256 toStakers = address(staking).balance - stakingBefore;
        assertEq(toStakers, s.stakers, "stakers' share sent");
        assertEq(creditedTotal(f.n) + toStakers, escrow, "no wei created or lost");
        assertEq(address(market).balance, market.totalBalances() + market.treasuryAccrued(), "market solvent");
    }

    /// @dev The fee is monotone in the token counts, so the fee of any fulfilment is at most
    ///      the escrowed maximum.
    function testFuzz_feeMonotone(uint128 pIn, uint128 pOut, uint256 pf, uint32 a, uint32 b, uint32 c, uint32 d)
        public
        view
    {
        pf = bound(pf, 0, type(uint128).max);
        if (a > c) (a, c) = (c, a);
        if (b > d) (b, d) = (d, b);
        assertLe(market.feeFor(pIn, pOut, pf, a, b), market.feeFor(pIn, pOut, pf, c, d), "monotone");
        uint256 usage = uint256(a) * pIn + uint256(b) * pOut;
        uint256 fee = market.feeFor(pIn, pOut, pf, a, b) - pf;
        assertTrue(fee * 1000 >= usage && (fee == 0 || (fee - 1) * 1000 < usage), "ceil");
    }

    receive() external payable {}
}
