// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title AttributionMethod
/// @notice Identifiers of the attribution methods a record can name (`method` in `record`). The
///         precompile stores any value; which methods a market accepts is a governance parameter
///         (`Governance.methodParams`).
library AttributionMethod {
    /// @notice DataInf closed-form influence over LoRA parameters (small models).
    uint8 internal constant DATAINF = 0;
    /// @notice TracIn gradient tracing (second method for small models).
    uint8 internal constant TRACIN = 1;
    /// @notice Infini-gram style suffix-array span matching (large models).
    uint8 internal constant INFINIGRAM = 2;
    /// @notice KNN-Shapley values, for Datanets that ask for Shapley attribution.
    uint8 internal constant KNN_SHAPLEY = 3;
    /// @notice Influence with curvature: the damped Gauss-Newton matrix of the adapter's loss,
    ///         inverted in the gradient store's projected space (small models, where DataInf's
    ///         closed form is too coarse).
    uint8 internal constant GAUSS_NEWTON = 4;
}

/// @title IProofOfAttribution
/// @notice The Proof of Attribution (PoA) precompile at `Predeploys.PROOF_OF_ATTRIBUTION`
///         (0x0000000000000000000000000000000000000A00). It is stateful in the style of ArbOS
///         precompiles: records live in the storage of that account (so they are part of the state
///         root), only registered attestors write, anyone reads.
///
///         The node implements it natively. `ProofOfAttributionImpl` is the Solidity reference the
///         forge tests etch at the precompile address (`vm.etch`); it defines the behaviour the
///         native version must match, including every revert.
///
///         Deployment notes for the native version:
///         - the account must carry non-empty code (ArbOS puts `0xFE` there): Solidity checks
///           `extcodesize` before high-level calls to functions without return values (for example
///           `Governance.setAttestor` calling `setAttestor`), and would revert on an empty account;
///         - its governance address (the only caller of `setAttestor`) comes from chain
///           configuration; in the Solidity reference it is a constructor immutable, which survives
///           etching because immutables are part of the runtime code.
///
///         Record rules: one record per request id; at most `MAX_CONTRIBUTORS` (256) contributors;
///         contributor and weight arrays of equal length; no zero address, no zero weight, no
///         duplicate contributor; the weights (parts per million) sum to exactly 1,000,000 unless
///         the record is empty. An empty record means no datapoint had positive influence: the
///         market then pays the contributors' share to the treasury.
///
///         Evidence: `evidenceRoot` is the root of an OpenZeppelin `StandardMerkleTree` over
///         per-datapoint scores with leaf types `["bytes32", "address", "uint256"]`, i.e.
///         `leaf = keccak256(bytes.concat(keccak256(abi.encode(datapoint, contributor, score))))`
///         where `datapoint` is the content hash of the datapoint (as registered in a Datanet),
///         `contributor` its contributor and `score` the non-negative influence score as a
///         fixed-point integer (the method defines the scale; DataInf/TracIn use 1e18). Inner nodes
///         hash sorted pairs (`Hashes.commutativeKeccak256`), so `MerkleProof.verify` checks a proof.
///         A zero root means no evidence was published and no proof verifies.
interface IProofOfAttribution {
    /// @notice A stored attribution record.
    /// @param outputHash   Hash of the inference output the record attributes.
    /// @param evidenceRoot Merkle root of the per-datapoint scores (zero: none published).
    /// @param attestor     The attestor that wrote the record (non-zero for every stored record).
    /// @param blockNumber  L2 block in which the record was written.
    /// @param method       Attribution method id (see `AttributionMethod`).
    /// @param contributors Attributed contributors, at most 256, no duplicates.
    /// @param weightsPpm   Their weights in parts per million, summing to 1,000,000 (or empty).
    struct Attribution {
        bytes32 outputHash;
        bytes32 evidenceRoot;
        address attestor;
        uint64 blockNumber;
        uint8 method;
        address[] contributors;
        uint32[] weightsPpm;
    }

    /// @notice Emitted for every record.
    event AttributionRecorded(
        bytes32 indexed requestId,
        address indexed attestor,
        uint8 indexed method,
        bytes32 outputHash,
        bytes32 evidenceRoot,
        address[] contributors,
        uint32[] weightsPpm
    );

    /// @notice Emitted when governance adds or removes an attestor.
    event AttestorSet(address indexed attestor, bool allowed);

    /// @notice The caller is not the governance address.
    error NotGovernance(address caller);
    /// @notice The caller is not a registered attestor.
    error NotAttestor(address caller);
    /// @notice A zero address where an account is required.
    error ZeroAddress();
    /// @notice Request id zero is reserved.
    error ZeroRequestId();
    /// @notice Output hash zero is reserved.
    error ZeroOutputHash();
    /// @notice The request already has a record.
    error AlreadyRecorded(bytes32 requestId);
    /// @notice The request has no record.
    error UnknownRequest(bytes32 requestId);
    /// @notice Contributor and weight arrays differ in length.
    error LengthMismatch(uint256 contributors, uint256 weights);
    /// @notice More contributors (or weights) than `MAX_CONTRIBUTORS`.
    error TooManyContributors(uint256 count, uint256 max);
    /// @notice The contributor at `index` is the zero address.
    error ZeroContributor(uint256 index);
    /// @notice The weight at `index` is zero.
    error ZeroWeight(uint256 index);
    /// @notice A contributor appears twice.
    error DuplicateContributor(address contributor);
    /// @notice The weights of a non-empty record do not sum to 1,000,000.
    error WeightsDoNotSum(uint256 sum);
    /// @notice `split` was given no weights.
    error EmptyWeights();
    /// @notice `split` was given weights that sum to zero.
    error ZeroTotalWeight();

    /// @notice Denominator of all weights: 1,000,000 parts per million.
    function WEIGHT_DENOMINATOR() external view returns (uint32);

    /// @notice Largest number of contributors in one record (and of weights in one `split`).
    function MAX_CONTRIBUTORS() external view returns (uint256);

    /// @notice The only address allowed to call `setAttestor`.
    function governance() external view returns (address);

    /// @notice Whether `account` may write records.
    /// @param account The account to check.
    /// @return True if `account` is a registered attestor.
    function isAttestor(address account) external view returns (bool);

    /// @notice Adds or removes an attestor. Governance only.
    /// @param attestor The attestor account (non-zero).
    /// @param allowed  True to add, false to remove.
    function setAttestor(address attestor, bool allowed) external;

    /// @notice Records the attribution of the inference `requestId`. Attestors only; once per
    ///         request. See the contract notes for the rules on contributors and weights.
    /// @param requestId    The market's request id (non-zero).
    /// @param outputHash   Hash of the inference output (non-zero).
    /// @param method       Attribution method id.
    /// @param contributors Attributed contributors.
    /// @param weightsPpm   Their weights in parts per million.
    /// @param evidenceRoot StandardMerkleTree root of per-datapoint scores (zero: none).
    function record(
        bytes32 requestId,
        bytes32 outputHash,
        uint8 method,
        address[] calldata contributors,
        uint32[] calldata weightsPpm,
        bytes32 evidenceRoot
    ) external;

    /// @notice Whether `requestId` has a record.
    /// @param requestId The request id.
    /// @return True if recorded.
    function isRecorded(bytes32 requestId) external view returns (bool);

    /// @notice The full record of `requestId`; reverts `UnknownRequest` if there is none.
    /// @param requestId The request id.
    /// @return The record.
    function attributionOf(bytes32 requestId) external view returns (Attribution memory);

    /// @notice The output hash of a record (one storage read); reverts `UnknownRequest` if none.
    /// @param requestId The request id.
    /// @return The `outputHash` the record was written with.
    function outputHashOf(bytes32 requestId) external view returns (bytes32);

    /// @notice The fixed-size part of a record (cheap to read); reverts `UnknownRequest` if none.
    /// @param requestId The request id.
    /// @return attestor         The attestor that wrote it.
    /// @return blockNumber      The block it was written in.
    /// @return method           The attribution method id.
    /// @return contributorCount Number of contributors.
    function summaryOf(bytes32 requestId)
        external
        view
        returns (address attestor, uint64 blockNumber, uint8 method, uint256 contributorCount);

    /// @notice Splits `amount` by `weightsPpm` exactly (largest remainder method): every share is
    ///         first `floor(amount * w_i / W)` with `W = sum(w)`, then the `amount - sum(floors)`
    ///         left over wei go one each to the shares with the largest fractional remainders
    ///         (`amount * w_i mod W`), ties to the lower index. The shares sum to `amount`. The
    ///         weights need not sum to 1,000,000; at most `MAX_CONTRIBUTORS` of them.
    /// @param amount     The amount to split.
    /// @param weightsPpm The weights (non-empty, non-zero sum).
    /// @return shares    One share per weight, summing to `amount`.
    function split(uint256 amount, uint32[] calldata weightsPpm) external pure returns (uint256[] memory shares);

    /// @notice Verifies a Merkle proof of one per-datapoint score against the evidence root of
    ///         `requestId` (reverts `UnknownRequest` if none; false when the root is zero).
    /// @param requestId The request id.
    /// @param leaf      The double-hashed leaf (see `evidenceLeaf`).
    /// @param proof     Sibling hashes from the leaf up (sorted-pair hashing).
    /// @return True if the proof is valid.
    function verifyEvidence(bytes32 requestId, bytes32 leaf, bytes32[] calldata proof) external view returns (bool);

    /// @notice The StandardMerkleTree leaf of one score:
    ///         `keccak256(bytes.concat(keccak256(abi.encode(datapoint, contributor, score))))`.
    /// @param datapoint   Content hash of the datapoint.
    /// @param contributor Its contributor.
    /// @param score       Its (non-negative, fixed-point) influence score.
    /// @return The leaf hash.
    function evidenceLeaf(bytes32 datapoint, address contributor, uint256 score) external pure returns (bytes32);
}
