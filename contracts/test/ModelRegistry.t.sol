// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {L2Fixture} from "./utils/L2Fixture.sol";
import {ModelRegistry} from "../src/L2/ModelRegistry.sol";
import {DatanetRegistry} from "../src/L2/DatanetRegistry.sol";
import {Governed} from "../src/L2/governance/Governed.sol";
import {Governance} from "../src/L2/governance/Governance.sol";

contract ModelRegistryTest is L2Fixture {
    address alice;
    address bob;
    uint256 dn1;
    uint256 dn2;
    uint256 base;

    function setUp() public {
        deploySuite();
        alice = makeAddr("alice");
        bob = makeAddr("bob");
        dn1 = createDatanet(bob, DatanetRegistry.Policy.Open, 0, 0);
        dn2 = createDatanet(bob, DatanetRegistry.Policy.Open, 0, 0);
        for (uint256 i; i < 3; ++i) {
            contribute(bob, dn1, keccak256(abi.encode(1, i)), 0);
            contribute(bob, dn2, keccak256(abi.encode(2, i)), 0);
        }
        vm.prank(alice);
        base = models.registerBaseModel(keccak256("w"), bytes32("llama"), bytes32("apache"), "ol://base");
    }

    function twoDatanets(uint64 c1, uint64 c2) internal view returns (ModelRegistry.DatanetUse[] memory u) {
        u = new ModelRegistry.DatanetUse[](2);
        u[0] = ModelRegistry.DatanetUse({datanetId: dn1, contributionCount: c1});
        u[1] = ModelRegistry.DatanetUse({datanetId: dn2, contributionCount: c2});
    }

    function register(address who, ModelRegistry.AdapterParams memory p) internal returns (uint256) {
        vm.prank(who);
        return models.registerAdapter(base, p);
    }

    // ------------------------------------------------------------------ base models

    function test_constructor_revertsOnZeroDatanets() public {
        vm.expectRevert(Governed.ZeroAddress.selector);
        new ModelRegistry(gov, DatanetRegistry(address(0)));
    }

    function test_registerBaseModel() public {
        vm.expectEmit(address(models));
        emit ModelRegistry.BaseModelRegistered(2, bob, keccak256("w2"), bytes32("mistral"), bytes32("mit"), "u");
        vm.prank(bob);
        uint256 id = models.registerBaseModel(keccak256("w2"), bytes32("mistral"), bytes32("mit"), "u");
        assertEq(id, 2, "id");
        assertEq(models.baseModelCount(), 2, "count");
        ModelRegistry.BaseModel memory m = models.getBaseModel(id);
        assertEq(m.owner, bob, "owner");
        assertTrue(m.active, "active");
        assertEq(m.weightsHash, keccak256("w2"), "hash");
        assertEq(m.architectureId, bytes32("mistral"), "arch");
        assertEq(m.licenseId, bytes32("mit"), "license");
        assertEq(m.uri, "u", "uri");
        assertEq(models.version(), "1.0.0", "version");
        assertEq(address(models.datanets()), address(datanets), "registry");
    }

    function test_constants() public view {
        assertEq(models.MAX_DATANETS_PER_ADAPTER(), 32, "datanets per adapter");
        assertEq(models.MAX_URI_LENGTH(), 2048, "uri");
    }

    function test_registerBaseModel_reverts() public {
        vm.expectRevert(ModelRegistry.ZeroHash.selector);
        models.registerBaseModel(bytes32(0), bytes32(0), bytes32(0), "u");
        vm.expectRevert(ModelRegistry.InvalidURI.selector);
        models.registerBaseModel(keccak256("w"), bytes32(0), bytes32(0), "");
        vm.expectRevert(ModelRegistry.InvalidURI.selector);
        models.registerBaseModel(keccak256("w"), bytes32(0), bytes32(0), string(new bytes(2049)));
    }

    // ------------------------------------------------------------------ adapters

    function test_registerAdapter() public {
        ModelRegistry.AdapterParams memory p = adapterParams(2e9, 6e9, twoDatanets(3, 2));
        p.attributionMethod = 2;
        vm.prank(govOwner);
        gov.setMethodParams(
            2, Governance.MethodParams({enabled: true, maxContributors: 256, gpuTolerancePpm: 0, configHash: 0})
        );
        vm.expectEmit(address(models));
        emit ModelRegistry.AdapterRegistered(1, base, alice, 0, 1, p);
        uint256 id = register(alice, p);
        assertEq(models.adapterCount(), 1, "count");
        ModelRegistry.Adapter memory a = models.getAdapter(id);
        assertEq(a.baseModelId, base, "base");
        assertEq(a.owner, alice, "owner");
        assertTrue(a.active, "active");
        assertEq(uint256(a.version), 1, "version");
        assertEq(a.previousVersionId, 0, "no previous");
        assertEq(a.nextVersionId, 0, "no next");
        assertEq(a.adapterHash, keccak256("adapter"), "hash");
        assertEq(uint256(a.priceInPer1k), 2e9, "R_in");
        assertEq(uint256(a.priceOutPer1k), 6e9, "R_out");
        assertEq(uint256(a.attributionMethod), 2, "method");
        assertEq(a.datanets.length, 2, "datanets");
        assertEq(a.datanets[1].datanetId, dn2, "datanet id");
        assertEq(uint256(a.datanets[1].contributionCount), 2, "count at training");
        ModelRegistry.Pricing memory pr = models.pricingOf(id);
        assertTrue(pr.servable && pr.owner == alice && pr.priceInPer1k == 2e9 && pr.priceOutPer1k == 6e9, "pricing");
        assertEq(uint256(pr.attributionMethod), 2, "the market reads the method with the prices");
        assertTrue(models.isServable(id), "servable");
    }

    function test_registerAdapter_reverts() public {
        ModelRegistry.AdapterParams memory p = adapterParams(1, 1, twoDatanets(1, 1));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownBaseModel.selector, 9));
        models.registerAdapter(9, p);

        p.adapterHash = bytes32(0);
        vm.expectRevert(ModelRegistry.ZeroHash.selector);
        models.registerAdapter(base, p);
        p.adapterHash = keccak256("a");
        p.uri = "";
        vm.expectRevert(ModelRegistry.InvalidURI.selector);
        models.registerAdapter(base, p);
        p.uri = "u";

        p.datanets = new ModelRegistry.DatanetUse[](0);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.InvalidDatanetCount.selector, 0));
        models.registerAdapter(base, p);
        p.datanets = new ModelRegistry.DatanetUse[](33);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.InvalidDatanetCount.selector, 33));
        models.registerAdapter(base, p);

        p.datanets = oneDatanet(77, 1);
        vm.expectRevert(abi.encodeWithSelector(DatanetRegistry.UnknownDatanet.selector, 77));
        models.registerAdapter(base, p);
        p.datanets = oneDatanet(dn1, 0);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.InvalidContributionCount.selector, dn1, uint64(0)));
        models.registerAdapter(base, p);
        p.datanets = oneDatanet(dn1, 4);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.InvalidContributionCount.selector, dn1, uint64(4)));
        models.registerAdapter(base, p);
        p.datanets = twoDatanets(1, 1);
        p.datanets[1].datanetId = dn1;
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.DuplicateDatanet.selector, dn1));
        models.registerAdapter(base, p);

        p.datanets = twoDatanets(1, 1);
        p.attributionMethod = 3; // KNN-Shapley: not enabled at genesis
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.MethodNotEnabled.selector, uint8(3)));
        models.registerAdapter(base, p);
        p.attributionMethod = 2;
        vm.prank(alice);
        models.deactivateBaseModel(base);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.BaseModelInactive.selector, base));
        models.registerAdapter(base, p);
    }

    function test_registerAdapterVersion() public {
        uint256 v1 = register(alice, adapterParams(1, 2, twoDatanets(1, 1)));
        ModelRegistry.AdapterParams memory p = adapterParams(3, 4, twoDatanets(3, 3));
        p.adapterHash = keccak256("v2");
        vm.expectEmit(address(models));
        emit ModelRegistry.AdapterRegistered(2, base, alice, v1, 2, p);
        vm.prank(alice);
        uint256 v2 = models.registerAdapterVersion(v1, p);
        ModelRegistry.Adapter memory a2 = models.getAdapter(v2);
        assertEq(uint256(a2.version), 2, "version 2");
        assertEq(a2.previousVersionId, v1, "links back");
        assertEq(models.getAdapter(v1).nextVersionId, v2, "links forward");
        assertTrue(models.isServable(v1), "old version stays active");

        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.VersionExists.selector, v2));
        vm.prank(alice);
        models.registerAdapterVersion(v1, p);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NotOwner.selector, bob));
        vm.prank(bob);
        models.registerAdapterVersion(v2, p);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownAdapter.selector, 9));
        models.registerAdapterVersion(9, p);
        vm.prank(alice);
        uint256 v3 = models.registerAdapterVersion(v2, p);
        assertEq(uint256(models.getAdapter(v3).version), 3, "version 3");
    }

    function test_setAdapterPrices() public {
        uint256 id = register(alice, adapterParams(1, 2, twoDatanets(1, 1)));
        vm.expectEmit(address(models));
        emit ModelRegistry.AdapterPricesSet(id, 5, 6);
        vm.prank(alice);
        models.setAdapterPrices(id, 5, 6);
        ModelRegistry.Pricing memory p = models.pricingOf(id);
        assertTrue(p.priceInPer1k == 5 && p.priceOutPer1k == 6, "prices");
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NotOwner.selector, bob));
        vm.prank(bob);
        models.setAdapterPrices(id, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownAdapter.selector, 2));
        models.setAdapterPrices(2, 0, 0);
    }

    // ------------------------------------------------------------------ deactivation

    function test_deactivateBaseModel_byOwner() public {
        uint256 id = register(alice, adapterParams(1, 2, twoDatanets(1, 1)));
        vm.expectEmit(address(models));
        emit ModelRegistry.BaseModelDeactivated(base, alice);
        vm.prank(alice);
        models.deactivateBaseModel(base);
        assertFalse(models.getBaseModel(base).active, "inactive");
        assertFalse(models.isServable(id), "adapters on it stop serving");
        assertFalse(models.pricingOf(id).servable, "pricing says so");
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.BaseModelInactive.selector, base));
        vm.prank(alice);
        models.deactivateBaseModel(base);
    }

    function test_deactivateBaseModel_byGovernanceAndAccess() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NotOwnerOrGovernance.selector, bob));
        vm.prank(bob);
        models.deactivateBaseModel(base);
        vm.prank(govOwner);
        models.deactivateBaseModel(base);
        assertFalse(models.getBaseModel(base).active, "inactive");
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownBaseModel.selector, 5));
        models.deactivateBaseModel(5);
    }

    function test_deactivateAdapter() public {
        uint256 id = register(alice, adapterParams(1, 2, twoDatanets(1, 1)));
        uint256 id2 = register(alice, adapterParams(1, 2, twoDatanets(1, 1)));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.NotOwnerOrGovernance.selector, bob));
        vm.prank(bob);
        models.deactivateAdapter(id);
        vm.expectEmit(address(models));
        emit ModelRegistry.AdapterDeactivated(id, alice);
        vm.prank(alice);
        models.deactivateAdapter(id);
        assertFalse(models.isServable(id), "inactive");
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.AdapterInactive.selector, id));
        vm.prank(alice);
        models.deactivateAdapter(id);
        vm.prank(govOwner);
        models.deactivateAdapter(id2);
        assertFalse(models.getAdapter(id2).active, "governance deactivated");
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownAdapter.selector, 3));
        models.deactivateAdapter(3);
    }

    function test_views_unknownIds() public {
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownBaseModel.selector, 0));
        models.getBaseModel(0);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownAdapter.selector, 0));
        models.getAdapter(0);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownAdapter.selector, 0));
        models.pricingOf(0);
        assertFalse(models.isServable(0), "unknown is not servable");
    }
}
