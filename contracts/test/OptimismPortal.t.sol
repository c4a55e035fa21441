// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "./utils/Test.sol";
import {Vm} from "./utils/Vm.sol";
import {OptimismPortal} from "../src/L1/OptimismPortal.sol";
import {AddressAliasHelper} from "../src/L1/AddressAliasHelper.sol";

/// @dev Deposits through the portal from a contract.
contract PortalCaller {
    function deposit(OptimismPortal portal, address to) external payable {
        portal.depositTransaction{value: msg.value}(to, 0, 21_000, false, "");
    }
}

contract AliasHarness {
    function applyAlias(address a) external pure returns (address) {
        return AddressAliasHelper.applyL1ToL2Alias(a);
    }

    function undoAlias(address a) external pure returns (address) {
        return AddressAliasHelper.undoL1ToL2Alias(a);
    }
}

contract OptimismPortalTest is Test {
    bytes32 constant TRANSACTION_DEPOSITED = 0xb3813568d9991fc951961fcb4c784893574240a28925604d09fc577c55bb7c32;
    uint160 constant OFFSET = uint160(0x1111000000000000000000000000000000001111);

    OptimismPortal portal;
    address alice;

    function setUp() public {
        portal = new OptimismPortal();
        alice = makeAddr("alice");
        vm.deal(alice, 100 ether);
    }

    /// @dev The single TransactionDeposited log of the last call.
    function depositLog() internal returns (address from, address to, uint256 version, bytes memory opaque) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "one log");
        Vm.Log memory l = logs[0];
        assertEq(l.emitter, address(portal), "emitter");
        assertEq(l.topics.length, 4, "three indexed");
        assertEq(l.topics[0], TRANSACTION_DEPOSITED, "topic0 as op-node/kona expect");
        from = address(uint160(uint256(l.topics[1])));
        to = address(uint160(uint256(l.topics[2])));
        version = uint256(l.topics[3]);
        opaque = abi.decode(l.data, (bytes));
    }

    function test_eventSignature() public pure {
        assertEq(keccak256("TransactionDeposited(address,address,uint256,bytes)"), TRANSACTION_DEPOSITED, "topic0");
        assertEq(OptimismPortal.TransactionDeposited.selector, TRANSACTION_DEPOSITED, "declared event");
    }

    function test_deposit_fromEOA() public {
        bytes memory data = hex"deadbeef";
        vm.recordLogs();
        vm.prank(alice, alice);
        portal.depositTransaction{value: 1 ether}(address(0xB0B), 0.4 ether, 50_000, false, data);
        (address from, address to, uint256 version, bytes memory opaque) = depositLog();
        assertEq(from, alice, "EOA not aliased");
        assertEq(to, address(0xB0B), "to");
        assertEq(version, 0, "version 0");
        assertEq(
            opaque,
            abi.encodePacked(uint256(1 ether), uint256(0.4 ether), uint64(50_000), false, data),
            "opaqueData = mint ++ value ++ gasLimit ++ isCreation ++ data"
        );
        assertEq(opaque.length, 32 + 32 + 8 + 1 + 4, "73 + data bytes");
        assertEq(address(portal).balance, 1 ether, "mint locked in the portal");
    }

    function test_deposit_fromContractIsAliased() public {
        PortalCaller caller = new PortalCaller();
        vm.recordLogs();
        vm.prank(alice, alice);
        caller.deposit{value: 1}(portal, alice);
        (address from,,,) = depositLog();
        assertEq(from, address(uint160(address(caller)) + OFFSET), "aliased");
    }

    function test_deposit_senderNotOriginIsAliased() public {
        // This test contract calls directly while tx.origin is forge's default sender.
        vm.recordLogs();
        portal.depositTransaction(alice, 0, 21_000, false, "");
        (address from,,,) = depositLog();
        assertEq(from, address(uint160(address(this)) + OFFSET), "aliased");
    }

    function test_deposit_7702DelegatedEOANotAliased() public {
        address delegated = makeAddr("delegated");
        vm.etch(delegated, abi.encodePacked(hex"ef0100", address(0x1234)));
        vm.recordLogs();
        vm.prank(delegated, alice);
        portal.depositTransaction(alice, 0, 21_000, false, "");
        (address from,,,) = depositLog();
        assertEq(from, delegated, "7702 EOA keeps its address");

        // 23 bytes of code that are not a delegation designator are a contract.
        address other = makeAddr("other");
        vm.etch(other, abi.encodePacked(hex"ef0200", address(0x1234)));
        vm.recordLogs();
        vm.prank(other, alice);
        portal.depositTransaction(alice, 0, 21_000, false, "");
        (from,,,) = depositLog();
        assertEq(from, address(uint160(other) + OFFSET), "aliased");
    }

    function test_deposit_creation() public {
        vm.recordLogs();
        vm.prank(alice, alice);
        portal.depositTransaction(address(0), 0, 100_000, true, hex"6000");
        (, address to,, bytes memory opaque) = depositLog();
        assertEq(to, address(0), "creation target");
        assertEq(uint8(opaque[72]), 1, "isCreation byte");
    }

    function test_deposit_reverts() public {
        vm.expectRevert(OptimismPortal.OptimismPortal_BadTarget.selector);
        portal.depositTransaction(alice, 0, 100_000, true, "");
        vm.expectRevert(OptimismPortal.OptimismPortal_GasLimitTooLow.selector);
        portal.depositTransaction(alice, 0, 21_000 + 40 * 4 - 1, false, hex"00000000");
        portal.depositTransaction(alice, 0, 21_000 + 40 * 4, false, hex"00000000"); // exactly the minimum
        vm.expectRevert(OptimismPortal.OptimismPortal_CalldataTooLarge.selector);
        portal.depositTransaction(alice, 0, 10_000_000, false, new bytes(120_001));
        portal.depositTransaction(alice, 0, 10_000_000, false, new bytes(120_000));
    }

    function test_constants() public view {
        assertEq(uint256(portal.MAX_RESOURCE_LIMIT()), 20_000_000, "deposit gas per L1 block");
        assertEq(portal.MAX_CALLDATA_SIZE(), 120_000, "calldata cap");
    }

    function test_minimumGasLimit() public view {
        assertEq(uint256(portal.minimumGasLimit(0)), 21_000, "empty");
        assertEq(uint256(portal.minimumGasLimit(100)), 25_000, "100 bytes");
        assertEq(uint256(portal.minimumGasLimit(120_000)), 4_821_000, "max calldata");
    }

    function test_depositGasCapPerL1Block() public {
        vm.roll(10);
        portal.depositTransaction(alice, 0, 10_000_000, false, "");
        portal.depositTransaction(alice, 0, 9_979_000, false, "");
        (uint64 bought, uint64 blockNum) = portal.params();
        assertEq(uint256(bought), 19_979_000, "tally");
        assertEq(uint256(blockNum), 10, "block");
        portal.depositTransaction(alice, 0, 21_000, false, ""); // exactly 20,000,000
        vm.expectRevert(abi.encodeWithSelector(OptimismPortal.DepositGasLimitExceeded.selector, 21_000, 0));
        portal.depositTransaction(alice, 0, 21_000, false, "");
        // The next L1 block starts from zero.
        vm.roll(11);
        portal.depositTransaction(alice, 0, 20_000_000, false, "");
        vm.expectRevert(abi.encodeWithSelector(OptimismPortal.DepositGasLimitExceeded.selector, 21_000, 0));
        portal.depositTransaction(alice, 0, 21_000, false, "");
        vm.roll(12);
        vm.expectRevert(abi.encodeWithSelector(OptimismPortal.DepositGasLimitExceeded.selector, 20_000_001, 20_000_000));
        portal.depositTransaction(alice, 0, 20_000_001, false, "");
    }

    function test_receive_depositsToSender() public {
        vm.recordLogs();
        vm.prank(alice, alice);
        (bool ok,) = address(portal).call{value: 2 ether}("");
        assertTrue(ok, "plain transfer accepted");
        (address from, address to,, bytes memory opaque) = depositLog();
        assertEq(from, alice, "from");
        assertEq(to, alice, "to self");
        assertEq(opaque, abi.encodePacked(uint256(2 ether), uint256(2 ether), uint64(100_000), false), "opaque");
        assertEq(uint256(portal.RECEIVE_DEFAULT_GAS_LIMIT()), 100_000, "default gas");
        assertEq(portal.version(), "1.0.0-openledger", "version");
    }

    function test_alias_wrapsAndUndoes() public {
        AliasHarness h = new AliasHarness();
        assertEq(h.applyAlias(address(0)), address(OFFSET), "zero");
        address high = address(type(uint160).max);
        assertEq(h.applyAlias(high), address(OFFSET - 1), "wraps mod 2^160");
        assertEq(h.undoAlias(h.applyAlias(high)), high, "undo");
    }

    /// @dev The opaque data always decodes back to the inputs.
    function testFuzz_deposit_opaqueDataRoundTrip(uint256 mint, uint256 value, uint64 gasLimit, bytes memory data)
        public
    {
        vm.assume(data.length <= 2000);
        mint = bound(mint, 0, 1e30);
        gasLimit = uint64(bound(gasLimit, portal.minimumGasLimit(uint64(data.length)), 20_000_000));
        vm.deal(alice, mint);
        vm.recordLogs();
        vm.prank(alice, alice);
        portal.depositTransaction{value: mint}(alice, value, gasLimit, false, data);
        (,,, bytes memory opaque) = depositLog();
        assertEq(opaque.length, 73 + data.length, "length");
        uint256 m;
        uint256 v;
        uint64 g;
        assembly {
            m := mload(add(opaque, 32))
            v := mload(add(opaque, 64))
            g := shr(192, mload(add(opaque, 96)))
        }
        assertEq(m, mint, "mint");
        assertEq(v, value, "value");
        assertEq(uint256(g), gasLimit, "gas limit");
        assertEq(uint8(opaque[72]), 0, "not a creation");
    }
}
