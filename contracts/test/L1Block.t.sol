// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {L1Block} from "../src/L2/L1Block.sol";
import {L2ToL1MessagePasser} from "../src/L2/L2ToL1MessagePasser.sol";

interface Vm {
    function prank(address) external;
    function load(address, bytes32) external view returns (bytes32);
    function expectRevert(bytes4) external;
}

contract L1BlockTest {
    Vm constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    L1Block l1;

    function setUp() public {
        l1 = new L1Block();
    }

    function jovianCalldata() internal pure returns (bytes memory) {
        return abi.encodePacked(
            bytes4(0x3db6be2b),
            uint32(1368), // baseFeeScalar
            uint32(810949), // blobBaseFeeScalar
            uint64(7), // sequenceNumber
            uint64(1_700_000_000), // timestamp
            uint64(123), // number
            uint256(1 gwei), // basefee
            uint256(2), // blobBaseFee
            bytes32(uint256(0xabc)), // hash
            bytes32(uint256(0xdef)), // batcherHash
            uint32(5), // operatorFeeScalar
            uint64(9), // operatorFeeConstant
            uint16(400) // daFootprintGasScalar
        );
    }

    function test_setJovianValuesAndLayout() public {
        bytes memory data = jovianCalldata();
        require(data.length == 178, "jovian calldata is 178 bytes");
        vm.prank(l1.DEPOSITOR_ACCOUNT());
        (bool ok,) = address(l1).call(data);
        require(ok, "set failed");
        require(l1.number() == 123 && l1.timestamp() == 1_700_000_000, "number/timestamp");
        require(l1.basefee() == 1 gwei && l1.blobBaseFee() == 2, "fees");
        require(l1.baseFeeScalar() == 1368 && l1.blobBaseFeeScalar() == 810949, "scalars");
        require(l1.sequenceNumber() == 7, "sequence number");
        require(l1.operatorFeeScalar() == 5 && l1.operatorFeeConstant() == 9, "operator fee");
        require(l1.daFootprintGasScalar() == 400, "da footprint");
        // The packed slots op-revm reads, checked byte for byte.
        uint256 slot3 = uint256(vm.load(address(l1), bytes32(uint256(3))));
        require(uint32(slot3 >> 96) == 1368, "baseFeeScalar at bytes 16..20");
        require(uint32(slot3 >> 64) == 810949, "blobBaseFeeScalar at bytes 20..24");
        require(uint64(slot3) == 7, "sequenceNumber at bytes 24..32");
        uint256 slot8 = uint256(vm.load(address(l1), bytes32(uint256(8))));
        require(uint16(slot8 >> 96) == 400, "daFootprintGasScalar at bytes 18..20");
        require(uint32(slot8 >> 64) == 5, "operatorFeeScalar at bytes 20..24");
        require(uint64(slot8) == 9, "operatorFeeConstant at bytes 24..32");
        require(uint256(vm.load(address(l1), bytes32(uint256(1)))) == 1 gwei, "basefee slot 1");
        require(uint256(vm.load(address(l1), bytes32(uint256(7)))) == 2, "blobBaseFee slot 7");
    }

    function test_onlyDepositor() public {
        vm.expectRevert(L1Block.OnlyDepositor.selector);
        (bool ok,) = address(l1).call(jovianCalldata());
        ok;
    }
}

contract L2ToL1MessagePasserTest {
    L2ToL1MessagePasser passer;

    function setUp() public {
        passer = new L2ToL1MessagePasser();
    }

    function test_initiateWithdrawalRecordsHashAndBumpsNonce() public {
        uint256 nonce = passer.messageNonce();
        require(nonce >> 240 == 1, "version 1");
        passer.initiateWithdrawal{value: 0}(address(0xbeef), 21000, hex"01");
        bytes32 h = keccak256(abi.encode(nonce, address(this), address(0xbeef), uint256(0), uint256(21000), hex"01"));
        require(passer.sentMessages(h), "hash recorded");
        require(passer.messageNonce() == nonce + 1, "nonce bumped");
    }
}
