// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title L1Block
/// @notice Predeploy at 0x4200000000000000000000000000000000000015 holding the attributes of the
///         current L1 origin. The sequencer writes them with the first (deposit) transaction of
///         every L2 block. The storage layout is fixed: op-revm reads slots 1, 3, 7 and 8
///         directly to price the L1 data fee and the operator fee, so the order and widths of
///         the state variables below must not change.
contract L1Block {
    /// @notice The address allowed to set L1 attributes (the OP Stack depositor account).
    address public constant DEPOSITOR_ACCOUNT = 0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001;

    // slot 0: number (bytes 24..32), timestamp (bytes 16..24)
    /// @notice L1 origin block number.
    uint64 public number;
    /// @notice L1 origin block timestamp.
    uint64 public timestamp;
    // slot 1
    /// @notice L1 origin base fee.
    uint256 public basefee;
    // slot 2
    /// @notice L1 origin block hash.
    bytes32 public hash;
    // slot 3: sequenceNumber (24..32), blobBaseFeeScalar (20..24), baseFeeScalar (16..20)
    /// @notice Number of L2 blocks since the start of the epoch.
    uint64 public sequenceNumber;
    /// @notice Scalar applied to the L1 blob base fee in the L1 data fee.
    uint32 public blobBaseFeeScalar;
    /// @notice Scalar applied to the L1 base fee in the L1 data fee.
    uint32 public baseFeeScalar;
    // slot 4
    /// @notice Versioned hash of the batcher address.
    bytes32 public batcherHash;
    // slots 5, 6: pre-Ecotone fee parameters, kept so that the layout matches op-revm's reader.
    /// @notice Pre-Ecotone fee overhead (unused since Ecotone).
    uint256 public l1FeeOverhead;
    /// @notice Pre-Ecotone fee scalar (unused since Ecotone).
    uint256 public l1FeeScalar;
    // slot 7
    /// @notice L1 origin blob base fee.
    uint256 public blobBaseFee;
    // slot 8: operatorFeeConstant (24..32), operatorFeeScalar (20..24), daFootprintGasScalar (18..20)
    /// @notice Constant part of the operator fee.
    uint64 public operatorFeeConstant;
    /// @notice Per-gas part of the operator fee.
    uint32 public operatorFeeScalar;
    /// @notice Scalar converting a transaction's estimated compressed size into DA footprint gas.
    uint16 public daFootprintGasScalar;

    /// @notice Raised when anyone but the depositor account sets the L1 attributes.
    error OnlyDepositor();

    /// @notice Semantic version.
    function version() external pure returns (string memory) {
        return "1.0.0-openledger";
    }

    /// @notice Sets the L1 attributes from tightly packed calldata in the Jovian format (178 bytes):
    ///   selector (4) | baseFeeScalar u32 | blobBaseFeeScalar u32 | sequenceNumber u64 |
    ///   timestamp u64 | number u64 | basefee u256 | blobBaseFee u256 | hash b32 | batcherHash b32 |
    ///   operatorFeeScalar u32 | operatorFeeConstant u64 | daFootprintGasScalar u16
    function setL1BlockValuesJovian() external {
        if (msg.sender != DEPOSITOR_ACCOUNT) revert OnlyDepositor();
        baseFeeScalar = uint32(bytes4(msg.data[4:8]));
        blobBaseFeeScalar = uint32(bytes4(msg.data[8:12]));
        sequenceNumber = uint64(bytes8(msg.data[12:20]));
        timestamp = uint64(bytes8(msg.data[20:28]));
        number = uint64(bytes8(msg.data[28:36]));
        basefee = uint256(bytes32(msg.data[36:68]));
        blobBaseFee = uint256(bytes32(msg.data[68:100]));
        hash = bytes32(msg.data[100:132]);
        batcherHash = bytes32(msg.data[132:164]);
        operatorFeeScalar = uint32(bytes4(msg.data[164:168]));
        operatorFeeConstant = uint64(bytes8(msg.data[168:176]));
        daFootprintGasScalar = uint16(bytes2(msg.data[176:178]));
    }
}
