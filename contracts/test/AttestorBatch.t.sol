// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {L2Fixture} from "./utils/L2Fixture.sol";
import {AttestorBatch} from "../src/L2/AttestorBatch.sol";
import {InferenceMarket} from "../src/L2/InferenceMarket.sol";
import {IProofOfAttribution} from "../src/L2/poa/IProofOfAttribution.sol";

/// @notice The attestor's batch executor: many jobs' record/fulfill/settle calls in one
///         transaction from the attestor's own (delegated) account, a failing call not holding
///         back the others.
contract AttestorBatchTest is L2Fixture {
    uint256 constant ATTESTOR_KEY = 0xA77E57;
    address key;
    address user;
    uint256 adapter;
    AttestorBatch implementation;

    function setUp() public {
        deploySuite();
        implementation = new AttestorBatch();
        key = vm.addr(ATTESTOR_KEY);
        vm.prank(govOwner);
        gov.setAttestor(key, true);
        user = makeAddr("user");
        vm.deal(user, 100 ether);
        adapter = setUpModel(makeAddr("modelOwner"), 2e9, 6e9);
    }

    function requestOne() internal returns (bytes32 id) {
        uint256 escrow = market.quote(adapter, 100, 100);
        vm.prank(user);
        id = market.request{value: escrow}(adapter, "hello", 100, 100);
    }

    /// The three calls a job ends with, as the job service batches them.
    function jobCalls(bytes32 id) internal view returns (AttestorBatch.Call[] memory calls) {
        calls = new AttestorBatch.Call[](3);
        calls[0] = AttestorBatch.Call(
            address(poa),
            0,
            abi.encodeCall(
                IProofOfAttribution.record,
                (id, keccak256("out"), 0, contributorsOf(2), evenWeights(2), bytes32(0))
            )
        );
        calls[1] = AttestorBatch.Call(address(market), 0, abi.encodeCall(InferenceMarket.fulfill, (id, 10, 20, "out")));
        calls[2] = AttestorBatch.Call(address(market), 0, abi.encodeCall(InferenceMarket.settle, (id)));
    }

    function concat(AttestorBatch.Call[] memory a, AttestorBatch.Call[] memory b)
        internal
        pure
        returns (AttestorBatch.Call[] memory out)
    {
        out = new AttestorBatch.Call[](a.length + b.length);
        for (uint256 i; i < a.length; ++i) {
            out[i] = a[i];
        }
        for (uint256 i; i < b.length; ++i) {
            out[a.length + i] = b[i];
        }
    }

    function test_delegatedAttestor_recordsFulfilsAndSettlesSeveralJobsInOneTransaction() public {
        bytes32 first = requestOne();
        bytes32 second = requestOne();
        AttestorBatch.Call[] memory calls = concat(jobCalls(first), jobCalls(second));

        vm.signAndAttachDelegation(address(implementation), ATTESTOR_KEY);
        vm.prank(key, key);
        bool[] memory ok = AttestorBatch(payable(key)).execute(calls);

        for (uint256 i; i < ok.length; ++i) {
            assertTrue(ok[i], "every call succeeds");
        }
        // The precompile saw the attestor as the caller, and the market its record.
        (address recordedBy,,,) = poa.summaryOf(first);
        assertEq(recordedBy, key, "recorded by the attestor itself");
        assertEq(uint8(market.getRequest(first).status), uint8(InferenceMarket.Status.Settled), "first settled");
        assertEq(uint8(market.getRequest(second).status), uint8(InferenceMarket.Status.Settled), "second settled");
    }

    function test_execute_reportsAFailingCallAndRunsTheRest() public {
        bytes32 first = requestOne();
        bytes32 second = requestOne();
        // Someone else's record of the first request already stands: this batch's record of it
        // reverts, so do its fulfil and settle; the second job goes through.
        vm.prank(attestor);
        poa.record(first, keccak256("out"), 0, contributorsOf(1), evenWeights(1), bytes32(0));
        vm.prank(attestor);
        market.fulfill(first, 1, 1, "out");
        vm.etch(key, address(implementation).code);

        vm.expectEmit(key);
        emit AttestorBatch.CallFailed(0, abi.encodeWithSelector(IProofOfAttribution.AlreadyRecorded.selector, first));
        vm.prank(key);
        bool[] memory ok = AttestorBatch(payable(key)).execute(concat(jobCalls(first), jobCalls(second)));

        assertFalse(ok[0], "the second record of a request is refused");
        assertFalse(ok[1], "a fulfilled request is not fulfilled again");
        assertTrue(ok[2], "the earlier fulfilment settles");
        assertTrue(ok[3] && ok[4] && ok[5], "the other job is not held back");
        (address recordedBy,,,) = poa.summaryOf(first);
        assertEq(recordedBy, attestor, "the first record stands");
        assertEq(uint8(market.getRequest(second).status), uint8(InferenceMarket.Status.Settled), "second settled");
    }

    function test_execute_refusesEveryoneButTheAccountItself() public {
        bytes32 id = requestOne();
        vm.etch(key, address(implementation).code);
        address stranger = makeAddr("stranger");
        vm.expectRevert(abi.encodeWithSelector(AttestorBatch.Unauthorized.selector, stranger));
        vm.prank(stranger);
        AttestorBatch(payable(key)).execute(jobCalls(id));
        assertFalse(poa.isRecorded(id), "nothing recorded");
        // The implementation's own address is no attestor and cannot be made to act as one.
        vm.expectRevert(abi.encodeWithSelector(AttestorBatch.Unauthorized.selector, stranger));
        vm.prank(stranger);
        implementation.execute(jobCalls(id));
    }

    function test_delegatedAccount_stillReceivesPlainTransfers() public {
        vm.etch(key, address(implementation).code);
        vm.deal(user, 1 ether);
        vm.prank(user);
        (bool ok,) = key.call{value: 1 ether}("");
        assertTrue(ok, "transfer accepted");
        assertEq(key.balance, 1 ether, "balance");
    }
}
