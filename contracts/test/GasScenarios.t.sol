// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {L2Fixture} from "./utils/L2Fixture.sol";
import {DatanetRegistry} from "../src/L2/DatanetRegistry.sol";
import {InferenceMarket} from "../src/L2/InferenceMarket.sol";
import {ProofOfAttributionImpl} from "../src/L2/poa/ProofOfAttributionImpl.sol";
import {OptimismPortal} from "../src/L1/OptimismPortal.sol";
import {L2OutputOracle} from "../src/L1/L2OutputOracle.sol";

/// @notice Execution gas of the main flows at fixed sizes, for contracts/GAS.md. Run with
///         `forge test --match-contract GasScenarios -vv` to print them. Numbers are measured
///         around the external call in the test after `vm.cool` on every contract involved, so
///         storage is cold as in a fresh transaction; they exclude the 21,000 intrinsic gas and
///         the calldata cost. Each scenario also asserts a ceiling so a regression fails.
contract GasScenariosTest is L2Fixture {
    address user;
    address modelOwner;
    uint256 adapter;

    function setUp() public {
        deploySuite();
        user = makeAddr("user");
        modelOwner = makeAddr("modelOwner");
        vm.deal(user, 1000 ether);
        adapter = setUpModel(modelOwner, 2e12, 6e12);
    }

    /// @dev Marks the storage of every suite contract cold, as at the start of a transaction.
    function cold() internal {
        vm.cool(address(gov));
        vm.cool(address(poa));
        vm.cool(address(datanets));
        vm.cool(address(models));
        vm.cool(address(staking));
        vm.cool(address(market));
    }

    /// @dev Under `--gas-report` forge runs every call as its own transaction, so the deltas
    ///      then also include the 21,000 intrinsic gas and the calldata cost: allow for that.
    uint256 constant ISOLATION_SLACK = 60_000;

    function measured(string memory label, uint256 used, uint256 ceiling) internal view {
        log(label, used);
        assertLe(used, ceiling + ISOLATION_SLACK, label);
    }

    function test_gas_datanetFlow() public {
        address owner = makeAddr("dnOwner");
        address alice = makeAddr("alice");
        vm.deal(alice, 10 ether);
        cold();
        uint256 g = gasleft();
        vm.prank(owner);
        uint256 dn = datanets.createDatanet(
            "ipfs://datanet-metadata", bytes32("CC-BY-4.0"), DatanetRegistry.Policy.Curated, 1 ether, 100_000
        );
        measured("createDatanet", g - gasleft(), 160_000);

        cold();
        g = gasleft();
        vm.prank(alice);
        uint256 c1 = datanets.contribute{value: 1 ether}(dn, keccak256("a"), 4096, "ol://0x1234");
        measured("contribute (first, curated)", g - gasleft(), 300_000);
        vm.prank(alice);
        uint256 c2 = datanets.contribute{value: 1 ether}(dn, keccak256("b"), 4096, "ol://0x1235");

        cold();
        g = gasleft();
        vm.prank(owner);
        datanets.approve(c1);
        measured("approve", g - gasleft(), 150_000);

        cold();
        g = gasleft();
        vm.prank(owner);
        datanets.reject(c2, bytes32("spam"));
        measured("reject (pending, slash)", g - gasleft(), 120_000);

        vm.warp(block.timestamp + 7 days);
        cold();
        g = gasleft();
        vm.prank(alice);
        datanets.withdrawStake(c1);
        measured("withdrawStake", g - gasleft(), 60_000);
    }

    function test_gas_modelFlow() public {
        cold();
        uint256 g = gasleft();
        vm.prank(modelOwner);
        uint256 base = models.registerBaseModel(keccak256("w2"), bytes32("llama"), bytes32("apache-2.0"), "ol://base2");
        measured("registerBaseModel", g - gasleft(), 180_000);
        uint256 dn = createDatanet(modelOwner, DatanetRegistry.Policy.Open, 0, 0);
        contribute(modelOwner, dn, keccak256("x"), 0);
        cold();
        g = gasleft();
        vm.prank(modelOwner);
        models.registerAdapter(base, adapterParams(1, 2, oneDatanet(dn, 1)));
        measured("registerAdapter (1 Datanet)", g - gasleft(), 320_000);
    }

    function test_gas_stakingFlow() public {
        address s1 = makeAddr("s1");
        vm.deal(s1, 10 ether);
        cold();
        uint256 g = gasleft();
        vm.prank(s1);
        staking.stake{value: 5 ether}();
        measured("stake (first)", g - gasleft(), 100_000);
        vm.deal(address(this), 1 ether);
        cold();
        g = gasleft();
        staking.notifyReward{value: 1 ether}();
        measured("notifyReward", g - gasleft(), 60_000);
        cold();
        g = gasleft();
        vm.prank(s1);
        staking.claimRewards();
        measured("claimRewards", g - gasleft(), 90_000);
        cold();
        g = gasleft();
        vm.prank(s1);
        staking.unstake(5 ether);
        measured("unstake", g - gasleft(), 150_000);
        vm.warp(block.timestamp + 14 days);
        cold();
        g = gasleft();
        vm.prank(s1);
        staking.withdraw();
        measured("withdraw (staking)", g - gasleft(), 60_000);
    }

    function settleWith(uint256 n, string memory recordLabel, string memory settleLabel, uint256 settleCeiling)
        internal
    {
        uint256 escrow = market.quote(adapter, 1000, 1000);
        vm.prank(user);
        bytes32 id = market.requestWithHash{value: escrow}(adapter, keccak256(abi.encode(n)), 1000, 1000);
        address[] memory c = new address[](n);
        for (uint256 i; i < n; ++i) {
            c[i] = address(uint160(0xE0000 + n * 1000 + i)); // fresh accounts: cold, zero balances
        }
        uint32[] memory w = weightsOf(n, n);
        cold();
        uint256 g = gasleft();
        vm.prank(attestor);
        poa.record(id, keccak256("out"), 0, c, w, keccak256("root"));
        measured(recordLabel, g - gasleft(), 150_000 + n * 31_000); // 31k/contributor: storage + calldata
        vm.prank(attestor);
        market.fulfill(id, 900, 800, "");
        cold();
        g = gasleft();
        market.settle(id);
        measured(settleLabel, g - gasleft(), settleCeiling);
    }

    function test_gas_inferenceFlow() public {
        uint256 escrow = market.quote(adapter, 1000, 1000);
        cold();
        uint256 g = gasleft();
        vm.prank(user);
        bytes32 id = market.request{value: escrow}(adapter, new bytes(256), 1000, 1000);
        measured("request (256-byte prompt)", g - gasleft(), 230_000);
        cold();
        g = gasleft();
        vm.prank(user);
        market.requestWithHash{value: escrow}(adapter, keccak256("p"), 1000, 1000);
        measured("requestWithHash", g - gasleft(), 200_000);

        vm.prank(attestor);
        poa.record(id, keccak256("out"), 0, contributorsOf(8), evenWeights(8), bytes32(0));
        cold();
        g = gasleft();
        vm.prank(attestor);
        market.fulfill(id, 900, 800, "out");
        measured("fulfill", g - gasleft(), 80_000);
        market.settle(id);
        cold();
        g = gasleft();
        vm.prank(user);
        market.withdraw();
        measured("withdraw (market)", g - gasleft(), 60_000);

        settleWith(1, "record (1 contributor)", "settle (1 contributor)", 300_000);
        settleWith(8, "record (8 contributors)", "settle (8 contributors)", 800_000);
        settleWith(64, "record (64 contributors)", "settle (64 contributors)", 4_000_000);
        settleWith(256, "record (256 contributors)", "settle (256 contributors)", 15_000_000);
    }

    function test_gas_poaReads() public {
        uint32[] memory w8 = evenWeights(8);
        uint32[] memory w256 = evenWeights(256);
        cold();
        uint256 g = gasleft();
        poa.split(1 ether + 7, w8);
        measured("split (8 weights)", g - gasleft(), 40_000);
        cold();
        g = gasleft();
        poa.split(1 ether + 7, w256);
        measured("split (256 weights)", g - gasleft(), 500_000);

        // A depth-10 proof (1024-leaf tree): the verifier only hashes, so a synthetic path works.
        bytes32[] memory proof = new bytes32[](10);
        bytes32 node = poa.evidenceLeaf(keccak256("dp"), address(0xC0000), 1e18);
        bytes32 leaf = node;
        for (uint256 i; i < 10; ++i) {
            proof[i] = keccak256(abi.encode(i));
            node = node < proof[i] ? keccak256(abi.encode(node, proof[i])) : keccak256(abi.encode(proof[i], node));
        }
        bytes32 id = keccak256("evidence");
        vm.prank(attestor);
        poa.record(id, keccak256("out"), 0, contributorsOf(1), evenWeights(1), node);
        cold();
        g = gasleft();
        bool ok = poa.verifyEvidence(id, leaf, proof);
        measured("verifyEvidence (depth 10)", g - gasleft(), 30_000);
        assertTrue(ok, "valid");
        cold();
        g = gasleft();
        poa.attributionOf(id);
        measured("attributionOf (1 contributor)", g - gasleft(), 30_000);
    }

    function test_gas_l1() public {
        OptimismPortal portal = new OptimismPortal();
        address alice = makeAddr("l1user");
        vm.deal(alice, 1 ether);
        vm.cool(address(portal));
        uint256 g = gasleft();
        vm.prank(alice, alice);
        portal.depositTransaction{value: 0.1 ether}(alice, 0.1 ether, 100_000, false, "");
        measured("depositTransaction (EOA, no data)", g - gasleft(), 60_000);
        vm.roll(block.number + 1);
        vm.cool(address(portal));
        g = gasleft();
        vm.prank(alice, alice);
        portal.depositTransaction{value: 0}(alice, 0, 200_000, false, new bytes(1000));
        measured("depositTransaction (1000 bytes data, new L1 block)", g - gasleft(), 60_000);

        address proposer = makeAddr("proposer");
        L2OutputOracle oracle = new L2OutputOracle(120, 2, 0, 1, proposer, address(this), 7 days);
        vm.warp(10_000);
        vm.cool(address(oracle));
        g = gasleft();
        vm.prank(proposer);
        oracle.proposeL2Output(keccak256("o1"), 120, bytes32(0), 0);
        measured("proposeL2Output (first)", g - gasleft(), 100_000);
        vm.cool(address(oracle));
        g = gasleft();
        vm.prank(proposer);
        oracle.proposeL2Output(keccak256("o2"), 240, bytes32(0), 0);
        measured("proposeL2Output (next)", g - gasleft(), 100_000);
    }

    /// @dev The reference implementation, deployed normally, so forge's --gas-report attributes
    ///      its calls (calls to the etched precompile address are not attributed).
    function test_gas_referenceImplementationForReport() public {
        ProofOfAttributionImpl impl = new ProofOfAttributionImpl(address(this));
        impl.setAttestor(address(this), true);
        impl.record(keccak256("r1"), keccak256("o"), 0, contributorsOf(8), evenWeights(8), keccak256("root"));
        impl.split(1 ether + 7, evenWeights(8));
        impl.attributionOf(keccak256("r1"));
        impl.verifyEvidence(keccak256("r1"), keccak256("leaf"), new bytes32[](0));
    }
}
