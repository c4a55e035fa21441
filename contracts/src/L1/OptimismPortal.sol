// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AddressAliasHelper} from "./AddressAliasHelper.sol";

/// @title OptimismPortal
/// @notice The L1 deposit entry of the OpenLedger rollup, compatible with the OP Stack's
///         `OptimismPortal2.depositTransaction`: same signature, same `TransactionDeposited` event
///         (version 0, `opaqueData = abi.encodePacked(mint, value, gasLimit, isCreation, data)`),
///         same checks and the same aliasing rule (`EOA.isSenderEOA`: a caller that is not
///         `tx.origin` is aliased unless it is an EIP-7702 delegated EOA). Deposited ETH (the
///         `mint`) stays locked here.
///
///         Resource metering is simplified: OP's `ResourceMetering` charges an EIP-1559 style
///         price for deposit gas by burning L1 gas. Here only the cap is kept: the gas limits of
///         all deposits in one L1 block may add up to at most `MAX_RESOURCE_LIMIT` (20,000,000,
///         OP's standard `maxResourceLimit`); a deposit that would exceed it reverts with
///         `DepositGasLimitExceeded`. No L1 gas is burned, so deposits are priced only by the L1
///         gas of the call itself. Withdrawal proving and finalization are not implemented.
contract OptimismPortal {
    /// @notice Version of the `TransactionDeposited` event format.
    uint256 internal constant DEPOSIT_VERSION = 0;
    /// @notice L2 gas limit of deposits made by plain ETH transfers to this contract.
    uint64 public constant RECEIVE_DEFAULT_GAS_LIMIT = 100_000;
    /// @notice Total deposit gas allowed per L1 block.
    uint64 public constant MAX_RESOURCE_LIMIT = 20_000_000;
    /// @notice Largest deposit calldata.
    uint256 public constant MAX_CALLDATA_SIZE = 120_000;

    /// @notice Deposit gas bought in the current L1 block (OP's `ResourceParams`, without the
    ///         base fee).
    struct ResourceParams {
        uint64 prevBoughtGas;
        uint64 prevBlockNum;
    }

    /// @notice The deposit gas tally.
    ResourceParams public params;

    /// @notice Emitted for every deposit; the rollup node derives a deposit transaction from it.
    /// @param from       Sender (aliased if a contract).
    /// @param to         Target on L2 (zero for a creation).
    /// @param version    Format of `opaqueData` (0).
    /// @param opaqueData `abi.encodePacked(mint, value, gasLimit, isCreation, data)`.
    event TransactionDeposited(address indexed from, address indexed to, uint256 indexed version, bytes opaqueData);

    /// @notice A creation with a non-zero target.
    error OptimismPortal_BadTarget();
    /// @notice A gas limit below `minimumGasLimit(data.length)`.
    error OptimismPortal_GasLimitTooLow();
    /// @notice Calldata above `MAX_CALLDATA_SIZE`.
    error OptimismPortal_CalldataTooLarge();
    /// @notice The block's deposits would exceed `MAX_RESOURCE_LIMIT` gas.
    error DepositGasLimitExceeded(uint256 requested, uint256 available);

    /// @notice Semantic version.
    /// @return The version string.
    function version() external pure returns (string memory) {
        return "1.0.0-openledger";
    }

    /// @notice A plain transfer deposits `msg.value` to the sender's own L2 account.
    receive() external payable {
        depositTransaction(msg.sender, msg.value, RECEIVE_DEFAULT_GAS_LIMIT, false, bytes(""));
    }

    /// @notice Minimum L2 gas limit of a deposit with `byteCount` bytes of calldata (OP's rule).
    /// @param byteCount Calldata length.
    /// @return `byteCount * 40 + 21000`.
    function minimumGasLimit(uint64 byteCount) public pure returns (uint64) {
        return byteCount * 40 + 21_000;
    }

    /// @notice Deposits a transaction to L2. `msg.value` is minted on L2 to the sender (the
    ///         deposit's `mint`), then `_value` of it is sent along with the call.
    /// @param _to         L2 target (must be zero for a creation).
    /// @param _value      Value sent with the L2 call.
    /// @param _gasLimit   L2 gas limit (at least `minimumGasLimit(_data.length)`).
    /// @param _isCreation Whether the deposit creates a contract.
    /// @param _data       Calldata or init code (at most 120,000 bytes).
    function depositTransaction(address _to, uint256 _value, uint64 _gasLimit, bool _isCreation, bytes memory _data)
        public
        payable
    {
        if (_isCreation && _to != address(0)) revert OptimismPortal_BadTarget();
        if (_gasLimit < minimumGasLimit(uint64(_data.length))) revert OptimismPortal_GasLimitTooLow();
        if (_data.length > MAX_CALLDATA_SIZE) revert OptimismPortal_CalldataTooLarge();
        _meter(_gasLimit);

        address from = msg.sender;
        if (!_isSenderEOA()) from = AddressAliasHelper.applyL1ToL2Alias(msg.sender);

        bytes memory opaqueData = abi.encodePacked(msg.value, _value, _gasLimit, _isCreation, _data);
        emit TransactionDeposited(from, _to, DEPOSIT_VERSION, opaqueData);
    }

    /// @dev Adds `gasLimit` to the current block's deposit gas, resetting the tally on a new block.
    function _meter(uint64 gasLimit) internal {
        ResourceParams memory p = params;
        if (p.prevBlockNum != block.number) {
            p.prevBoughtGas = 0;
            p.prevBlockNum = uint64(block.number);
        }
        uint256 bought = uint256(p.prevBoughtGas) + gasLimit;
        if (bought > MAX_RESOURCE_LIMIT) {
            revert DepositGasLimitExceeded(gasLimit, MAX_RESOURCE_LIMIT - p.prevBoughtGas);
        }
        // Bounded by MAX_RESOURCE_LIMIT just above.
        // forge-lint: disable-next-line(unsafe-typecast)
        p.prevBoughtGas = uint64(bought);
        params = p;
    }

    /// @dev OP's `EOA.isSenderEOA`: the caller is `tx.origin`, or carries exactly an EIP-7702
    ///      delegation designator (`0xef0100 ++ address`, 23 bytes).
    function _isSenderEOA() internal view returns (bool isEOA) {
        if (msg.sender == tx.origin) return true;
        if (msg.sender.code.length != 23) return false;
        bytes memory code = msg.sender.code;
        return code[0] == 0xef && code[1] == 0x01 && code[2] == 0x00;
    }
}
