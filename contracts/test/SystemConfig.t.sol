// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Test} from "./utils/Test.sol";
import {Vm} from "./utils/Vm.sol";
import {SystemConfig} from "../src/L1/SystemConfig.sol";

contract SystemConfigTest is Test {
    /// @dev OP's ConfigUpdate topic: keccak256("ConfigUpdate(uint256,uint8,bytes)").
    bytes32 constant CONFIG_UPDATE = 0x1d2b0bda21d56b8bd12d4f94ebacffdfb35f5e226f84b461103bb8beab6353be;

    SystemConfig cfg;
    address owner;
    address batcher;

    function init() internal returns (SystemConfig.InitParams memory) {
        batcher = makeAddr("batcher");
        return SystemConfig.InitParams({
            batcherHash: bytes32(uint256(uint160(batcher))),
            basefeeScalar: 1368,
            blobbasefeeScalar: 810_949,
            gasLimit: 30_000_000,
            unsafeBlockSigner: makeAddr("signer"),
            batchInbox: address(0xFf00000000000000000000000000000000000901),
            eip1559Denominator: 250,
            eip1559Elasticity: 6,
            operatorFeeScalar: 0,
            operatorFeeConstant: 0,
            minBaseFee: 0,
            daFootprintGasScalar: 400
        });
    }

    function setUp() public {
        owner = makeAddr("owner");
        cfg = new SystemConfig(owner, init());
    }

    /// @dev Expects the next call to emit exactly ConfigUpdate(0, updateType, data).
    function expectUpdate(SystemConfig.UpdateType t, bytes memory data) internal {
        vm.expectEmit(address(cfg));
        emit SystemConfig.ConfigUpdate(0, t, data);
    }

    function expectNotOwner(address caller) internal {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, caller));
    }

    function test_eventTopicMatchesOP() public pure {
        assertEq(SystemConfig.ConfigUpdate.selector, CONFIG_UPDATE, "topic0");
    }

    function test_constructor_storesAndEmitsInitialConfig() public {
        vm.recordLogs();
        SystemConfig c = new SystemConfig(owner, init());
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 updates;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics[0] == CONFIG_UPDATE) ++updates;
        }
        assertEq(updates, 8, "one ConfigUpdate per update type");
        assertEq(c.batcherHash(), bytes32(uint256(uint160(batcher))), "batcher");
        assertEq(uint256(c.basefeeScalar()), 1368, "base fee scalar");
        assertEq(uint256(c.blobbasefeeScalar()), 810_949, "blob scalar");
        assertEq(c.scalar(), (uint256(1) << 248) | (uint256(810_949) << 32) | 1368, "versioned scalar");
        assertEq(c.overhead(), 0, "overhead");
        assertEq(uint256(c.gasLimit()), 30_000_000, "gas limit");
        assertEq(c.unsafeBlockSigner(), makeAddr("signer"), "signer");
        assertEq(c.batchInbox(), address(0xFf00000000000000000000000000000000000901), "inbox");
        assertEq(c.startBlock(), block.number, "start block");
        assertEq(uint256(c.eip1559Denominator()), 250, "denominator");
        assertEq(uint256(c.eip1559Elasticity()), 6, "elasticity");
        assertEq(uint256(c.daFootprintGasScalar()), 400, "da scalar");
        assertEq(c.owner(), owner, "owner");
        assertEq(c.version(), "1.0.0-openledger", "version");
    }

    function test_constructor_validates() public {
        SystemConfig.InitParams memory p = init();
        p.gasLimit = 20_999_999;
        vm.expectRevert(
            abi.encodeWithSelector(SystemConfig.GasLimitTooLow.selector, uint64(20_999_999), uint64(21_000_000))
        );
        new SystemConfig(owner, p);
        p = init();
        p.eip1559Elasticity = 0;
        vm.expectRevert(SystemConfig.InvalidEIP1559Params.selector);
        new SystemConfig(owner, p);
    }

    function test_setBatcherHash() public {
        bytes32 h = bytes32(uint256(0xabc));
        expectUpdate(SystemConfig.UpdateType.BATCHER, abi.encode(h));
        vm.prank(owner);
        cfg.setBatcherHash(h);
        assertEq(cfg.batcherHash(), h, "hash");
        address b = makeAddr("batcher2");
        expectUpdate(SystemConfig.UpdateType.BATCHER, abi.encode(bytes32(uint256(uint160(b)))));
        vm.prank(owner);
        cfg.setBatcherHash(b);
        assertEq(cfg.batcherHash(), bytes32(uint256(uint160(b))), "address form");
        expectNotOwner(address(this));
        cfg.setBatcherHash(h);
        expectNotOwner(address(this));
        cfg.setBatcherHash(b);
    }

    function test_setGasConfigEcotone() public {
        uint256 scalar = (uint256(1) << 248) | (uint256(7) << 32) | 5;
        expectUpdate(SystemConfig.UpdateType.FEE_SCALARS, abi.encode(uint256(0), scalar));
        vm.prank(owner);
        cfg.setGasConfigEcotone(5, 7);
        assertEq(uint256(cfg.basefeeScalar()), 5, "base");
        assertEq(uint256(cfg.blobbasefeeScalar()), 7, "blob");
        assertEq(cfg.scalar(), scalar, "scalar");
        expectNotOwner(address(this));
        cfg.setGasConfigEcotone(1, 1);
    }

    function test_setGasLimit() public {
        expectUpdate(SystemConfig.UpdateType.GAS_LIMIT, abi.encode(uint64(60_000_000)));
        vm.prank(owner);
        cfg.setGasLimit(60_000_000);
        assertEq(uint256(cfg.gasLimit()), 60_000_000, "set");
        assertEq(uint256(cfg.minimumGasLimit()), 21_000_000, "min");
        assertEq(uint256(cfg.maximumGasLimit()), 500_000_000, "max");
        vm.startPrank(owner);
        cfg.setGasLimit(21_000_000);
        cfg.setGasLimit(500_000_000);
        vm.expectRevert(
            abi.encodeWithSelector(SystemConfig.GasLimitTooLow.selector, uint64(20_999_999), uint64(21_000_000))
        );
        cfg.setGasLimit(20_999_999);
        vm.expectRevert(
            abi.encodeWithSelector(SystemConfig.GasLimitTooHigh.selector, uint64(500_000_001), uint64(500_000_000))
        );
        cfg.setGasLimit(500_000_001);
        vm.stopPrank();
        expectNotOwner(address(this));
        cfg.setGasLimit(30_000_000);
    }

    function test_setUnsafeBlockSigner() public {
        address s = makeAddr("s2");
        expectUpdate(SystemConfig.UpdateType.UNSAFE_BLOCK_SIGNER, abi.encode(s));
        vm.prank(owner);
        cfg.setUnsafeBlockSigner(s);
        assertEq(cfg.unsafeBlockSigner(), s, "set");
        expectNotOwner(address(this));
        cfg.setUnsafeBlockSigner(s);
    }

    function test_setEIP1559Params() public {
        expectUpdate(SystemConfig.UpdateType.EIP_1559_PARAMS, abi.encode((uint256(50) << 32) | uint256(10)));
        vm.prank(owner);
        cfg.setEIP1559Params(50, 10);
        assertEq(uint256(cfg.eip1559Denominator()), 50, "denominator");
        assertEq(uint256(cfg.eip1559Elasticity()), 10, "elasticity");
        vm.startPrank(owner);
        vm.expectRevert(SystemConfig.InvalidEIP1559Params.selector);
        cfg.setEIP1559Params(0, 10);
        vm.expectRevert(SystemConfig.InvalidEIP1559Params.selector);
        cfg.setEIP1559Params(50, 0);
        vm.stopPrank();
        expectNotOwner(address(this));
        cfg.setEIP1559Params(1, 1);
    }

    function test_setOperatorFeeScalars() public {
        expectUpdate(SystemConfig.UpdateType.OPERATOR_FEE_PARAMS, abi.encode((uint256(3) << 64) | uint256(9)));
        vm.prank(owner);
        cfg.setOperatorFeeScalars(3, 9);
        assertEq(uint256(cfg.operatorFeeScalar()), 3, "scalar");
        assertEq(uint256(cfg.operatorFeeConstant()), 9, "constant");
        expectNotOwner(address(this));
        cfg.setOperatorFeeScalars(1, 1);
    }

    function test_setMinBaseFee() public {
        expectUpdate(SystemConfig.UpdateType.MIN_BASE_FEE, abi.encode(uint64(1 gwei)));
        vm.prank(owner);
        cfg.setMinBaseFee(1 gwei);
        assertEq(uint256(cfg.minBaseFee()), 1 gwei, "set");
        expectNotOwner(address(this));
        cfg.setMinBaseFee(0);
    }

    function test_setDAFootprintGasScalar() public {
        expectUpdate(SystemConfig.UpdateType.DA_FOOTPRINT_GAS_SCALAR, abi.encode(uint16(800)));
        vm.prank(owner);
        cfg.setDAFootprintGasScalar(800);
        assertEq(uint256(cfg.daFootprintGasScalar()), 800, "set");
        expectNotOwner(address(this));
        cfg.setDAFootprintGasScalar(1);
    }

    function test_constants() public view {
        assertEq(cfg.VERSION(), 0, "ConfigUpdate version");
        assertEq(uint256(cfg.MAX_RESOURCE_LIMIT()), 20_000_000, "deposit gas");
        assertEq(uint256(cfg.SYSTEM_TX_MAX_GAS()), 1_000_000, "system tx gas");
        assertEq(uint256(cfg.MAX_GAS_LIMIT()), 500_000_000, "max gas limit");
    }

    function test_renounceOwnershipDisabled() public {
        vm.expectRevert(SystemConfig.RenounceDisabled.selector);
        vm.prank(owner);
        cfg.renounceOwnership();
        expectNotOwner(address(this));
        cfg.renounceOwnership();
    }

    function test_updateTypeNumberingMatchesOP() public pure {
        assertEq(uint256(SystemConfig.UpdateType.BATCHER), 0, "BATCHER");
        assertEq(uint256(SystemConfig.UpdateType.FEE_SCALARS), 1, "FEE_SCALARS");
        assertEq(uint256(SystemConfig.UpdateType.GAS_LIMIT), 2, "GAS_LIMIT");
        assertEq(uint256(SystemConfig.UpdateType.UNSAFE_BLOCK_SIGNER), 3, "UNSAFE_BLOCK_SIGNER");
        assertEq(uint256(SystemConfig.UpdateType.EIP_1559_PARAMS), 4, "EIP_1559_PARAMS");
        assertEq(uint256(SystemConfig.UpdateType.OPERATOR_FEE_PARAMS), 5, "OPERATOR_FEE_PARAMS");
        assertEq(uint256(SystemConfig.UpdateType.MIN_BASE_FEE), 6, "MIN_BASE_FEE");
        assertEq(uint256(SystemConfig.UpdateType.DA_FOOTPRINT_GAS_SCALAR), 7, "DA_FOOTPRINT_GAS_SCALAR");
    }
}
