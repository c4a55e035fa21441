// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {L2Fixture} from "./utils/L2Fixture.sol";
import {HandlerBase} from "./utils/HandlerBase.sol";
import {Governance} from "../src/L2/governance/Governance.sol";
import {IProofOfAttribution} from "../src/L2/poa/IProofOfAttribution.sol";
import {DatanetRegistry} from "../src/L2/DatanetRegistry.sol";
import {Staking} from "../src/L2/Staking.sol";
import {InferenceMarket} from "../src/L2/InferenceMarket.sol";

// =====================================================================================
// Staking

contract StakingHandler is HandlerBase {
    Staking public immutable staking;
    address public immutable governor;
    address[] public actors;

    constructor(Staking s, address governor_) {
        staking = s;
        governor = governor_;
        for (uint256 i; i < 5; ++i) {
            actors.push(address(uint160(0x5A0000 + i)));
        }
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function stake(uint256 seed, uint256 amount) external {
        address a = pick(actors, seed);
        amount = bound(amount, 1, 100 ether);
        vm.deal(a, a.balance + amount);
        vm.prank(a);
        staking.stake{value: amount}();
    }

    function unstake(uint256 seed, uint256 amount) external {
        address a = pick(actors, seed);
        uint256 s = staking.stakeOf(a);
        if (s == 0) return;
        vm.prank(a);
        staking.unstake(bound(amount, 1, s));
    }

    function withdraw(uint256 seed, uint256 wait) external {
        vm.warp(block.timestamp + bound(wait, 0, 20 days));
        address a = pick(actors, seed);
        Staking.Unbonding memory u = staking.unbondingOf(a);
        if (u.amount == 0 || block.timestamp < u.releaseAt) return;
        vm.prank(a);
        staking.withdraw();
    }

    function notifyReward(uint256 amount) external {
        amount = bound(amount, 1, 10 ether);
        vm.deal(address(this), amount);
        staking.notifyReward{value: amount}();
    }

    function claimRewards(uint256 seed) external {
        address a = pick(actors, seed);
        if (staking.earned(a) == 0) return;
        vm.prank(a);
        staking.claimRewards();
    }

    function slash(uint256 seed, uint256 amount) external {
        address a = pick(actors, seed);
        uint256 available = staking.stakeOf(a) + staking.unbondingOf(a).amount;
        if (available == 0) return;
        vm.prank(governor);
        staking.slash(a, bound(amount, 1, available));
    }

    function flushTreasury() external {
        if (staking.treasuryAccrued() == 0) return;
        staking.flushTreasury();
    }
}

contract StakingInvariants is L2Fixture {
    StakingHandler handler;

    function setUp() public {
        deploySuite();
        handler = new StakingHandler(staking, govOwner);
        targetContract(address(handler));
        bytes4[] memory s = new bytes4[](7);
        s[0] = StakingHandler.stake.selector;
        s[1] = StakingHandler.unstake.selector;
        s[2] = StakingHandler.withdraw.selector;
        s[3] = StakingHandler.notifyReward.selector;
        s[4] = StakingHandler.claimRewards.selector;
        s[5] = StakingHandler.slash.selector;
        s[6] = StakingHandler.flushTreasury.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: s}));
    }

    /// @dev totalStaked == sum of stakes, totalUnbonding == sum of unbonding amounts, and the
    ///      contract holds at least stakes + unbonding + queued rewards + treasury + every
    ///      account's claimable rewards.
    function invariant_stakingTotalsAndSolvency() public view {
        uint256 stakes;
        uint256 unbonding;
        uint256 rewards;
        for (uint256 i; i < handler.actorCount(); ++i) {
            address a = handler.actors(i);
            stakes += staking.stakeOf(a);
            unbonding += staking.unbondingOf(a).amount;
            rewards += staking.earned(a);
        }
        assertEq(staking.totalStaked(), stakes, "totalStaked == sum of stakes");
        assertEq(staking.totalUnbonding(), unbonding, "totalUnbonding == sum of unbonding");
        assertGe(
            address(staking).balance,
            stakes + unbonding + staking.queuedRewards() + staking.treasuryAccrued() + rewards,
            "staking holds what it owes"
        );
    }
}

// =====================================================================================
// Inference market (with the PoA precompile, staking and the reputation registry)

contract MarketHandler is HandlerBase {
    InferenceMarket public immutable market;
    IProofOfAttribution public immutable poa;
    Governance public immutable gov;
    Staking public immutable staking;
    address public immutable attestor;
    address public immutable governor;
    uint256 public immutable adapter;

    address[] public requesters;
    address[] public contributors;
    address[] public payees; // everyone who can hold a market balance
    bytes32[] public ids;

    uint256 public ghostEscrowIn;
    uint256 public ghostWithdrawn;
    uint256 public ghostFlushed;
    uint256 public ghostToStaking;

    constructor(
        InferenceMarket m,
        IProofOfAttribution p,
        Governance g,
        Staking s,
        address attestor_,
        address governor_,
        uint256 adapter_,
        address modelOwner
    ) {
        market = m;
        poa = p;
        gov = g;
        staking = s;
        attestor = attestor_;
        governor = governor_;
        adapter = adapter_;
        for (uint256 i; i < 3; ++i) {
            requesters.push(address(uint160(0xA110 + i)));
            payees.push(requesters[i]);
        }
        for (uint256 i; i < 8; ++i) {
            contributors.push(address(uint160(0xC0 + i)));
            payees.push(contributors[i]);
        }
        payees.push(modelOwner);
    }

    function payeeCount() external view returns (uint256) {
        return payees.length;
    }

    function idCount() external view returns (uint256) {
        return ids.length;
    }

    function request(uint256 seed, uint32 maxIn, uint32 maxOut, uint256 excess) external {
        maxIn = uint32(bound(maxIn, 0, 100_000));
        maxOut = uint32(bound(maxOut, 1, 100_000));
        uint256 escrow = market.quote(adapter, maxIn, maxOut) + bound(excess, 0, 1 ether);
        address r = pick(requesters, seed);
        vm.deal(r, r.balance + escrow);
        vm.prank(r);
        ids.push(market.requestWithHash{value: escrow}(adapter, keccak256(abi.encode(seed)), maxIn, maxOut));
        ghostEscrowIn += escrow;
    }

    function fulfill(uint256 idx, uint256 n, uint256 seed, uint32 tIn, uint32 tOut) external {
        if (ids.length == 0) return;
        bytes32 id = ids[idx % ids.length];
        InferenceMarket.Request memory r = market.getRequest(id);
        if (r.status != InferenceMarket.Status.Open || block.number > r.expiryBlock) return;
        n = bound(n, 0, contributors.length);
        address[] memory c = new address[](n);
        uint32[] memory w = new uint32[](n);
        uint256 offset = seed % contributors.length;
        uint256 left = 1_000_000;
        for (uint256 i; i < n; ++i) {
            c[i] = contributors[(offset + i) % contributors.length];
            w[i] = i + 1 == n
                ? uint32(left)
                : uint32(bound(uint256(keccak256(abi.encode(seed, i))), 1, left - (n - 1 - i)));
            left -= w[i];
        }
        vm.startPrank(attestor);
        if (!poa.isRecorded(id)) poa.record(id, keccak256(abi.encode(id)), 0, c, w, bytes32(0));
        market.fulfill(id, uint32(bound(tIn, 0, r.maxTokensIn)), uint32(bound(tOut, 0, r.maxTokensOut)), "");
        vm.stopPrank();
    }

    function settle(uint256 idx) external {
        if (ids.length == 0) return;
        bytes32 id = ids[idx % ids.length];
        if (market.getRequest(id).status != InferenceMarket.Status.Fulfilled) return;
        uint256 before = address(staking).balance;
        market.settle(id);
        ghostToStaking += address(staking).balance - before;
    }

    function refundExpired(uint256 idx, uint256 blocks) external {
        vm.roll(block.number + bound(blocks, 0, 150));
        if (ids.length == 0) return;
        bytes32 id = ids[idx % ids.length];
        InferenceMarket.Request memory r = market.getRequest(id);
        if (r.status != InferenceMarket.Status.Open || block.number <= r.expiryBlock) return;
        market.refundExpired(id);
    }

    function withdraw(uint256 seed) external {
        address a = pick(payees, seed);
        uint256 b = market.balanceOf(a);
        if (b == 0) return;
        vm.prank(a);
        market.withdraw();
        ghostWithdrawn += b;
    }

    function flushTreasury() external {
        uint256 t = market.treasuryAccrued();
        if (t == 0) return;
        market.flushTreasury();
        ghostFlushed += t;
    }

    function setFeeParams(uint256 seed, uint256 platformFee) external {
        uint256 a = bound(seed, 0, 1_000_000);
        uint256 b = bound(uint256(keccak256(abi.encode(seed, 1))), 0, 1_000_000 - a);
        uint256 c = bound(uint256(keccak256(abi.encode(seed, 2))), 0, 1_000_000 - a - b);
        vm.startPrank(governor);
        gov.setFeeShares(
            Governance.FeeShares({
                modelOwnerPpm: uint32(a),
                stakersPpm: uint32(b),
                contributorsPpm: uint32(c),
                treasuryPpm: uint32(1_000_000 - a - b - c)
            })
        );
        gov.setPlatformFee(bound(platformFee, 0, 1e15));
        vm.stopPrank();
    }

    function stake(uint256 amount) external {
        amount = bound(amount, 1, 10 ether);
        address s = address(0x57A4E);
        vm.deal(s, s.balance + amount);
        vm.prank(s);
        staking.stake{value: amount}();
    }
}

contract MarketInvariants is L2Fixture {
    MarketHandler handler;

    function setUp() public {
        deploySuite();
        address modelOwner = makeAddr("modelOwner");
        uint256 adapter = setUpModel(modelOwner, 2e12, 6e12);
        handler = new MarketHandler(market, poa, gov, staking, attestor, govOwner, adapter, modelOwner);
        targetContract(address(handler));
        bytes4[] memory s = new bytes4[](8);
        s[0] = MarketHandler.request.selector;
        s[1] = MarketHandler.fulfill.selector;
        s[2] = MarketHandler.settle.selector;
        s[3] = MarketHandler.refundExpired.selector;
        s[4] = MarketHandler.withdraw.selector;
        s[5] = MarketHandler.flushTreasury.selector;
        s[6] = MarketHandler.setFeeParams.selector;
        s[7] = MarketHandler.stake.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: s}));
    }

    /// @dev The market holds exactly escrows + pull balances + treasury income; its totals equal
    ///      the sums they summarise; and every wei that came in is still here or left through
    ///      a withdrawal, a treasury flush or the stakers' share (nothing created, nothing lost).
    function invariant_marketSolventAndConserving() public view {
        assertEq(
            address(market).balance,
            market.totalEscrowed() + market.totalBalances() + market.treasuryAccrued(),
            "market holds exactly what it owes"
        );
        uint256 balances;
        for (uint256 i; i < handler.payeeCount(); ++i) {
            balances += market.balanceOf(handler.payees(i));
        }
        assertEq(market.totalBalances(), balances, "totalBalances == sum of balances");
        uint256 escrowed;
        for (uint256 i; i < handler.idCount(); ++i) {
            InferenceMarket.Request memory r = market.getRequest(handler.ids(i));
            if (r.status == InferenceMarket.Status.Open || r.status == InferenceMarket.Status.Fulfilled) {
                escrowed += r.escrow;
            }
        }
        assertEq(market.totalEscrowed(), escrowed, "totalEscrowed == sum of live escrows");
        assertEq(
            handler.ghostEscrowIn(),
            address(market).balance + handler.ghostWithdrawn() + handler.ghostFlushed() + handler.ghostToStaking(),
            "escrow in == held + withdrawn + flushed + sent to stakers"
        );
        assertGe(
            address(staking).balance,
            staking.totalStaked() + staking.totalUnbonding() + staking.queuedRewards()
                + staking.earned(address(0x57A4E)),
            "staking holds what it owes"
        );
    }
}

// =====================================================================================
// Datanet registry

contract RegistryHandler is HandlerBase {
    DatanetRegistry public immutable reg;
    address public immutable owner;
    uint256[2] public datanetIds;
    address[] public contributorsList;
    uint256 public nonce;

    constructor(DatanetRegistry r, address owner_, uint256 curated, uint256 open) {
        reg = r;
        owner = owner_;
        datanetIds = [curated, open];
        for (uint256 i; i < 4; ++i) {
            contributorsList.push(address(uint160(0xD0 + i)));
        }
    }

    function contributorCount() external view returns (uint256) {
        return contributorsList.length;
    }

    function contribute(uint256 seed, uint256 stake, bool openNet) external {
        address a = pick(contributorsList, seed);
        uint256 dn = datanetIds[openNet ? 1 : 0];
        stake = bound(stake, reg.getDatanet(dn).minStake, 5 ether);
        vm.deal(a, a.balance + stake);
        vm.prank(a);
        reg.contribute{value: stake}(dn, keccak256(abi.encode("c", ++nonce)), 100, "u");
    }

    function approve(uint256 idx) external {
        uint256 n = reg.contributionCount();
        if (n == 0) return;
        uint256 id = idx % n + 1;
        if (reg.getContribution(id).status != DatanetRegistry.Status.Pending) return;
        vm.prank(owner);
        reg.approve(id);
    }

    function reject(uint256 idx) external {
        uint256 n = reg.contributionCount();
        if (n == 0) return;
        uint256 id = idx % n + 1;
        DatanetRegistry.Contribution memory c = reg.getContribution(id);
        bool bonded = c.status == DatanetRegistry.Status.Approved && block.timestamp < c.unlockAt;
        if (c.status != DatanetRegistry.Status.Pending && !bonded) return;
        vm.prank(owner);
        reg.reject(id, bytes32(0));
    }

    function withdrawStake(uint256 idx, uint256 wait) external {
        vm.warp(block.timestamp + bound(wait, 0, 5 days));
        uint256 n = reg.contributionCount();
        if (n == 0) return;
        uint256 id = idx % n + 1;
        DatanetRegistry.Contribution memory c = reg.getContribution(id);
        if (c.stakeWithdrawn) return;
        bool ok = c.status == DatanetRegistry.Status.Rejected
            || (c.status == DatanetRegistry.Status.Approved && block.timestamp >= c.unlockAt);
        if (!ok) return;
        vm.prank(c.contributor);
        reg.withdrawStake(id);
    }

    function flushTreasury() external {
        if (reg.treasuryAccrued() == 0) return;
        reg.flushTreasury();
    }
}

contract RegistryInvariants is L2Fixture {
    RegistryHandler handler;

    function setUp() public {
        deploySuite();
        address owner = makeAddr("datanetOwner");
        uint256 curated = createDatanet(owner, DatanetRegistry.Policy.Curated, 0.1 ether, 300_000);
        uint256 open = createDatanet(owner, DatanetRegistry.Policy.Open, 0, 1_000_000);
        handler = new RegistryHandler(datanets, owner, curated, open);
        targetContract(address(handler));
        bytes4[] memory s = new bytes4[](5);
        s[0] = RegistryHandler.contribute.selector;
        s[1] = RegistryHandler.approve.selector;
        s[2] = RegistryHandler.reject.selector;
        s[3] = RegistryHandler.withdrawStake.selector;
        s[4] = RegistryHandler.flushTreasury.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: s}));
    }

    /// @dev The registry holds exactly the stakes it owes plus slashed stake not yet flushed;
    ///      the approved lists and reputations agree with the contributions' states.
    function invariant_registrySolventAndConsistent() public view {
        assertEq(
            address(datanets).balance,
            datanets.totalStakeHeld() + datanets.treasuryAccrued(),
            "registry holds exactly what it owes"
        );
        uint256 held;
        uint256[3] memory approvedPer; // index 1, 2: datanet ids
        uint256 approvedTotal;
        uint256 rejectedTotal;
        for (uint256 id = 1; id <= datanets.contributionCount(); ++id) {
            DatanetRegistry.Contribution memory c = datanets.getContribution(id);
            if (!c.stakeWithdrawn) held += c.stake - c.slashed;
            if (c.status == DatanetRegistry.Status.Approved) {
                ++approvedPer[c.datanetId];
                ++approvedTotal;
            }
            if (c.status == DatanetRegistry.Status.Rejected) ++rejectedTotal;
        }
        assertEq(datanets.totalStakeHeld(), held, "totalStakeHeld == sum of unwithdrawn, unslashed stake");
        assertEq(datanets.approvedCount(1), approvedPer[1], "approved list of datanet 1");
        assertEq(datanets.approvedCount(2), approvedPer[2], "approved list of datanet 2");
        uint256 repApproved;
        uint256 repRejected;
        for (uint256 i; i < handler.contributorCount(); ++i) {
            DatanetRegistry.Reputation memory r = datanets.reputationOf(handler.contributorsList(i));
            repApproved += r.approved;
            repRejected += r.rejected;
        }
        assertEq(repApproved, approvedTotal, "reputation approved counts");
        assertEq(repRejected, rejectedTotal, "reputation rejected counts");
    }
}
