// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title SystemConfig
/// @notice L1 configuration of the OpenLedger rollup that L2 derivation picks up, in the OP
///         Stack's format: every change emits `ConfigUpdate(VERSION, updateType, data)` with the
///         same `UpdateType` numbering and `data` encodings as OP's SystemConfig 3.x, so a
///         derivation pipeline written against OP reads it unchanged:
///         - BATCHER: `abi.encode(bytes32 batcherHash)` (address left-padded);
///         - FEE_SCALARS: `abi.encode(uint256 overhead, uint256 scalar)`, Ecotone scalar
///           `0x01 ++ zeros ++ blobBaseFeeScalar (u32) ++ baseFeeScalar (u32)`, overhead 0;
///         - GAS_LIMIT: `abi.encode(uint64 gasLimit)`;
///         - UNSAFE_BLOCK_SIGNER: `abi.encode(address)`;
///         - EIP_1559_PARAMS: `abi.encode(uint256(denominator) << 32 | elasticity)`;
///         - OPERATOR_FEE_PARAMS: `abi.encode(uint256(scalar) << 64 | constant)`;
///         - MIN_BASE_FEE: `abi.encode(uint64 minBaseFee)`;
///         - DA_FOOTPRINT_GAS_SCALAR: `abi.encode(uint16 scalar)`.
///         Not proxied, so it is configured in the constructor (which emits the initial values
///         like OP's `initialize`); the setters are owner only.
contract SystemConfig is Ownable {
    /// @notice Kinds of configuration update (OP's numbering).
    enum UpdateType {
        BATCHER,
        FEE_SCALARS,
        GAS_LIMIT,
        UNSAFE_BLOCK_SIGNER,
        EIP_1559_PARAMS,
        OPERATOR_FEE_PARAMS,
        MIN_BASE_FEE,
        DA_FOOTPRINT_GAS_SCALAR
    }

    /// @notice Initial configuration.
    struct InitParams {
        bytes32 batcherHash;
        uint32 basefeeScalar;
        uint32 blobbasefeeScalar;
        uint64 gasLimit;
        address unsafeBlockSigner;
        address batchInbox;
        uint32 eip1559Denominator;
        uint32 eip1559Elasticity;
        uint32 operatorFeeScalar;
        uint64 operatorFeeConstant;
        uint64 minBaseFee;
        uint16 daFootprintGasScalar;
    }

    /// @notice Version of the `ConfigUpdate` format.
    uint256 public constant VERSION = 0;
    /// @notice Deposit gas per L1 block (`OptimismPortal.MAX_RESOURCE_LIMIT`).
    uint64 public constant MAX_RESOURCE_LIMIT = 20_000_000;
    /// @notice Gas reserved for the system (L1-info) transaction.
    uint64 public constant SYSTEM_TX_MAX_GAS = 1_000_000;
    /// @notice Largest L2 block gas limit (OP's `MAX_GAS_LIMIT`).
    uint64 public constant MAX_GAS_LIMIT = 500_000_000;

    /// @notice Pre-Ecotone fee overhead (always 0 here).
    uint256 public overhead;
    /// @notice Versioned Ecotone fee scalar.
    uint256 public scalar;
    /// @notice Identifier of the batcher: its address left-padded to 32 bytes.
    bytes32 public batcherHash;
    /// @notice L2 block gas limit.
    uint64 public gasLimit;
    /// @notice L1 base fee scalar of the L1 data fee.
    uint32 public basefeeScalar;
    /// @notice L1 blob base fee scalar of the L1 data fee.
    uint32 public blobbasefeeScalar;
    /// @notice EIP-1559 base fee max change denominator.
    uint32 public eip1559Denominator;
    /// @notice EIP-1559 elasticity multiplier.
    uint32 public eip1559Elasticity;
    /// @notice Operator fee per gas scalar.
    uint32 public operatorFeeScalar;
    /// @notice Operator fee constant.
    uint64 public operatorFeeConstant;
    /// @notice Minimum L2 base fee in wei (0: none).
    uint64 public minBaseFee;
    /// @notice DA footprint gas scalar (Jovian; 0 means the default 400 on L2).
    uint16 public daFootprintGasScalar;
    /// @notice Key that signs unsafe blocks for p2p gossip.
    address public unsafeBlockSigner;
    /// @notice Where the batcher posts batches (fixed).
    address public immutable batchInbox;
    /// @notice L1 block this configuration starts at (fixed).
    uint256 public immutable startBlock;

    /// @notice Emitted on every configuration change.
    event ConfigUpdate(uint256 indexed version, UpdateType indexed updateType, bytes data);

    /// @notice A gas limit below the deposit limit plus the system transaction gas.
    error GasLimitTooLow(uint64 gasLimit, uint64 minimum);
    /// @notice A gas limit above `MAX_GAS_LIMIT`.
    error GasLimitTooHigh(uint64 gasLimit, uint64 maximum);
    /// @notice A zero EIP-1559 denominator or elasticity.
    error InvalidEIP1559Params();
    /// @notice Renouncing ownership would freeze the configuration.
    error RenounceDisabled();

    /// @param owner_ The owner (the rollup's L1 governance).
    /// @param init   The initial configuration.
    constructor(address owner_, InitParams memory init) Ownable(owner_) {
        batchInbox = init.batchInbox;
        startBlock = block.number;
        _setBatcherHash(init.batcherHash);
        _setGasConfigEcotone(init.basefeeScalar, init.blobbasefeeScalar);
        _setGasLimit(init.gasLimit);
        _setUnsafeBlockSigner(init.unsafeBlockSigner);
        _setEIP1559Params(init.eip1559Denominator, init.eip1559Elasticity);
        _setOperatorFeeScalars(init.operatorFeeScalar, init.operatorFeeConstant);
        _setMinBaseFee(init.minBaseFee);
        _setDAFootprintGasScalar(init.daFootprintGasScalar);
    }

    /// @notice Semantic version.
    /// @return The version string.
    function version() external pure returns (string memory) {
        return "1.0.0-openledger";
    }

    /// @notice Always reverts: without an owner the configuration could never change again.
    function renounceOwnership() public view override onlyOwner {
        revert RenounceDisabled();
    }

    /// @notice Smallest allowed gas limit: deposit gas plus system transaction gas.
    /// @return The minimum.
    function minimumGasLimit() public pure returns (uint64) {
        return MAX_RESOURCE_LIMIT + SYSTEM_TX_MAX_GAS;
    }

    /// @notice Largest allowed gas limit.
    /// @return The maximum.
    function maximumGasLimit() public pure returns (uint64) {
        return MAX_GAS_LIMIT;
    }

    /// @notice Sets the batcher by address. Owner only.
    /// @param _batcher The batcher address.
    function setBatcherHash(address _batcher) external onlyOwner {
        _setBatcherHash(bytes32(uint256(uint160(_batcher))));
    }

    /// @notice Sets the batcher hash. Owner only.
    /// @param _batcherHash The batcher hash.
    function setBatcherHash(bytes32 _batcherHash) external onlyOwner {
        _setBatcherHash(_batcherHash);
    }

    /// @notice Sets the Ecotone L1 data fee scalars. Owner only.
    /// @param _basefeeScalar     Base fee scalar.
    /// @param _blobbasefeeScalar Blob base fee scalar.
    function setGasConfigEcotone(uint32 _basefeeScalar, uint32 _blobbasefeeScalar) external onlyOwner {
        _setGasConfigEcotone(_basefeeScalar, _blobbasefeeScalar);
    }

    /// @notice Sets the L2 block gas limit. Owner only.
    /// @param _gasLimit Between `minimumGasLimit()` and `maximumGasLimit()`.
    function setGasLimit(uint64 _gasLimit) external onlyOwner {
        _setGasLimit(_gasLimit);
    }

    /// @notice Sets the unsafe block signer. Owner only.
    /// @param _unsafeBlockSigner The signer.
    function setUnsafeBlockSigner(address _unsafeBlockSigner) external onlyOwner {
        _setUnsafeBlockSigner(_unsafeBlockSigner);
    }

    /// @notice Sets the EIP-1559 parameters. Owner only.
    /// @param _denominator Max change denominator (>= 1).
    /// @param _elasticity  Elasticity multiplier (>= 1).
    function setEIP1559Params(uint32 _denominator, uint32 _elasticity) external onlyOwner {
        _setEIP1559Params(_denominator, _elasticity);
    }

    /// @notice Sets the operator fee parameters. Owner only.
    /// @param _operatorFeeScalar   Per-gas scalar.
    /// @param _operatorFeeConstant Constant.
    function setOperatorFeeScalars(uint32 _operatorFeeScalar, uint64 _operatorFeeConstant) external onlyOwner {
        _setOperatorFeeScalars(_operatorFeeScalar, _operatorFeeConstant);
    }

    /// @notice Sets the minimum base fee (0 disables it). Owner only.
    /// @param _minBaseFee Wei.
    function setMinBaseFee(uint64 _minBaseFee) external onlyOwner {
        _setMinBaseFee(_minBaseFee);
    }

    /// @notice Sets the DA footprint gas scalar. Owner only.
    /// @param _daFootprintGasScalar The scalar.
    function setDAFootprintGasScalar(uint16 _daFootprintGasScalar) external onlyOwner {
        _setDAFootprintGasScalar(_daFootprintGasScalar);
    }

    function _setBatcherHash(bytes32 _batcherHash) internal {
        batcherHash = _batcherHash;
        emit ConfigUpdate(VERSION, UpdateType.BATCHER, abi.encode(_batcherHash));
    }

    function _setGasConfigEcotone(uint32 _basefeeScalar, uint32 _blobbasefeeScalar) internal {
        basefeeScalar = _basefeeScalar;
        blobbasefeeScalar = _blobbasefeeScalar;
        scalar = (uint256(0x01) << 248) | (uint256(_blobbasefeeScalar) << 32) | _basefeeScalar;
        emit ConfigUpdate(VERSION, UpdateType.FEE_SCALARS, abi.encode(overhead, scalar));
    }

    function _setGasLimit(uint64 _gasLimit) internal {
        if (_gasLimit < minimumGasLimit()) revert GasLimitTooLow(_gasLimit, minimumGasLimit());
        if (_gasLimit > maximumGasLimit()) revert GasLimitTooHigh(_gasLimit, maximumGasLimit());
        gasLimit = _gasLimit;
        emit ConfigUpdate(VERSION, UpdateType.GAS_LIMIT, abi.encode(_gasLimit));
    }

    function _setUnsafeBlockSigner(address _unsafeBlockSigner) internal {
        unsafeBlockSigner = _unsafeBlockSigner;
        emit ConfigUpdate(VERSION, UpdateType.UNSAFE_BLOCK_SIGNER, abi.encode(_unsafeBlockSigner));
    }

    function _setEIP1559Params(uint32 _denominator, uint32 _elasticity) internal {
        if (_denominator == 0 || _elasticity == 0) revert InvalidEIP1559Params();
        eip1559Denominator = _denominator;
        eip1559Elasticity = _elasticity;
        emit ConfigUpdate(
            VERSION, UpdateType.EIP_1559_PARAMS, abi.encode(uint256(_denominator) << 32 | uint64(_elasticity))
        );
    }

    function _setOperatorFeeScalars(uint32 _operatorFeeScalar, uint64 _operatorFeeConstant) internal {
        operatorFeeScalar = _operatorFeeScalar;
        operatorFeeConstant = _operatorFeeConstant;
        emit ConfigUpdate(
            VERSION,
            UpdateType.OPERATOR_FEE_PARAMS,
            abi.encode(uint256(_operatorFeeScalar) << 64 | _operatorFeeConstant)
        );
    }

    function _setMinBaseFee(uint64 _minBaseFee) internal {
        minBaseFee = _minBaseFee;
        emit ConfigUpdate(VERSION, UpdateType.MIN_BASE_FEE, abi.encode(_minBaseFee));
    }

    function _setDAFootprintGasScalar(uint16 _daFootprintGasScalar) internal {
        daFootprintGasScalar = _daFootprintGasScalar;
        emit ConfigUpdate(VERSION, UpdateType.DA_FOOTPRINT_GAS_SCALAR, abi.encode(_daFootprintGasScalar));
    }
}
