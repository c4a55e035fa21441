// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "./Test.sol";
import {Governance} from "../../src/L2/governance/Governance.sol";
import {IProofOfAttribution, AttributionMethod} from "../../src/L2/poa/IProofOfAttribution.sol";
import {ProofOfAttributionImpl} from "../../src/L2/poa/ProofOfAttributionImpl.sol";
import {Predeploys} from "../../src/L2/Predeploys.sol";
import {DatanetRegistry} from "../../src/L2/DatanetRegistry.sol";
import {ModelRegistry} from "../../src/L2/ModelRegistry.sol";
import {Staking} from "../../src/L2/Staking.sol";
import {InferenceMarket} from "../../src/L2/InferenceMarket.sol";

/// @notice Deploys the L2 suite. `govOwner` stands in for the TimelockController (the timelock
///         flow itself is tested in Governance.t.sol and EndToEnd.t.sol). The PoA reference
///         implementation is deployed normally and its runtime code etched at the precompile
///         address, as the node will later provide it natively there.
abstract contract L2Fixture is Test {
    uint32 internal constant PPM = 1_000_000;

    address internal govOwner;
    address internal treasury;
    address internal attestor;

    Governance internal gov;
    IProofOfAttribution internal poa;
    DatanetRegistry internal datanets;
    ModelRegistry internal models;
    Staking internal staking;
    InferenceMarket internal market;

    function deploySuite() internal {
        govOwner = makeAddr("governance");
        treasury = makeAddr("treasury");
        attestor = makeAddr("attestor");
        gov = new Governance(govOwner, defaultInit(treasury));
        deployPoA(address(gov));
        datanets = new DatanetRegistry(gov);
        models = new ModelRegistry(gov, datanets);
        staking = new Staking(gov);
        market = new InferenceMarket(gov, models, datanets, staking);
        vm.startPrank(govOwner);
        gov.setAttestor(attestor, true);
        gov.setMethodParams(
            AttributionMethod.DATAINF,
            Governance.MethodParams({
                enabled: true, maxContributors: 256, gpuTolerancePpm: 1000, configHash: keccak256("datainf")
            })
        );
        datanets.setReporter(address(market), true);
        vm.stopPrank();
    }

    function deployPoA(address governance_) internal {
        ProofOfAttributionImpl impl = new ProofOfAttributionImpl(governance_);
        vm.etch(Predeploys.PROOF_OF_ATTRIBUTION, address(impl).code);
        poa = IProofOfAttribution(Predeploys.PROOF_OF_ATTRIBUTION);
    }

    function defaultInit(address treasury_) internal pure returns (Governance.InitParams memory) {
        return Governance.InitParams({
            feeShares: Governance.FeeShares({
                modelOwnerPpm: 300_000, stakersPpm: 100_000, contributorsPpm: 500_000, treasuryPpm: 100_000
            }),
            platformFee: 1e12,
            treasury: treasury_,
            contributionUnbondingPeriod: 7 days,
            stakingUnbondingPeriod: 14 days,
            requestExpiryBlocks: 100
        });
    }

    // ------------------------------------------------------------------ scenario helpers

    function createDatanet(address owner, DatanetRegistry.Policy policy, uint256 minStake, uint32 slashPpm)
        internal
        returns (uint256 id)
    {
        vm.prank(owner);
        id = datanets.createDatanet("ipfs://datanet", bytes32("CC-BY-4.0"), policy, minStake, slashPpm);
    }

    function contribute(address who, uint256 datanetId, bytes32 contentHash, uint256 stake)
        internal
        returns (uint256 id)
    {
        vm.deal(who, who.balance + stake);
        vm.prank(who);
        id = datanets.contribute{value: stake}(datanetId, contentHash, 1024, "ol://content");
    }

    function oneDatanet(uint256 datanetId, uint64 count) internal pure returns (ModelRegistry.DatanetUse[] memory u) {
        u = new ModelRegistry.DatanetUse[](1);
        u[0] = ModelRegistry.DatanetUse({datanetId: datanetId, contributionCount: count});
    }

    function adapterParams(uint128 priceIn, uint128 priceOut, ModelRegistry.DatanetUse[] memory used)
        internal
        pure
        returns (ModelRegistry.AdapterParams memory)
    {
        return ModelRegistry.AdapterParams({
            adapterHash: keccak256("adapter"),
            priceInPer1k: priceIn,
            priceOutPer1k: priceOut,
            attributionMethod: 0,
            uri: "ol://adapter",
            datanets: used
        });
    }

    /// @dev A datanet with one approved contribution, a base model and an adapter owned by `owner`.
    function setUpModel(address owner, uint128 priceIn, uint128 priceOut) internal returns (uint256 adapterId) {
        address curatorOwner = makeAddr("datanetOwner");
        uint256 dn = createDatanet(curatorOwner, DatanetRegistry.Policy.Open, 0, 0);
        contribute(makeAddr("seedContributor"), dn, keccak256(abi.encode("seed", dn)), 0);
        vm.startPrank(owner);
        uint256 base =
            models.registerBaseModel(keccak256("weights"), bytes32("llama"), bytes32("apache-2.0"), "ol://base");
        adapterId = models.registerAdapter(base, adapterParams(priceIn, priceOut, oneDatanet(dn, 1)));
        vm.stopPrank();
    }

    function contributorsOf(uint256 n) internal pure returns (address[] memory c) {
        c = new address[](n);
        for (uint256 i; i < n; ++i) {
            c[i] = address(uint160(0xC0000 + i));
        }
    }

    /// @dev n positive weights summing to 1e6, derived from `seed`.
    function weightsOf(uint256 n, uint256 seed) internal pure returns (uint32[] memory w) {
        w = new uint32[](n);
        if (n == 0) return w;
        uint256[] memory raw = new uint256[](n);
        uint256 sum;
        for (uint256 i; i < n; ++i) {
            raw[i] = uint256(keccak256(abi.encode(seed, i))) % 1_000_000 + 1;
            sum += raw[i];
        }
        uint256 total;
        for (uint256 i; i < n; ++i) {
            w[i] = uint32(1 + raw[i] * (PPM - n) / sum);
            total += w[i];
        }
        w[0] += uint32(PPM - total);
    }

    function evenWeights(uint256 n) internal pure returns (uint32[] memory w) {
        return weightsOf(n, 0);
    }
}
