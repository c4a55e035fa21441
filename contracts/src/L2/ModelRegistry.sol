// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Governance} from "./governance/Governance.sol";
import {Governed} from "./governance/Governed.sol";
import {DatanetRegistry} from "./DatanetRegistry.sol";

/// @title ModelRegistry
/// @notice Base models and the LoRA adapters trained on them.
///
///         A base model is identified by the content hash of its weights, an architecture id and
///         a licence. An adapter names its base model, the content hash of its adapter weights,
///         the Datanets it was trained on with the number of contributions each had at training
///         time, its owner (who receives the model-owner share of inference fees), its prices
///         per 1,000 input and output tokens (`R_in`, `R_out`, in wei) and the attribution
///         method its inferences are attributed with (`AttributionMethod`; the market only accepts
///         records made with it). A new version of an
///         adapter is a new adapter that links back to its predecessor; versions form a chain.
///         The owner of a model or adapter, or governance, can deactivate it; deactivation is
///         final and stops new inference requests (`isServable`).
contract ModelRegistry is Governed {
    /// @notice Largest number of Datanets one adapter can name.
    uint256 public constant MAX_DATANETS_PER_ADAPTER = 32;
    /// @notice Longest URI, in bytes.
    uint256 public constant MAX_URI_LENGTH = 2048;

    /// @notice A base model.
    struct BaseModel {
        address owner;
        bool active;
        bytes32 weightsHash;
        bytes32 architectureId;
        bytes32 licenseId;
        string uri;
    }

    /// @notice A Datanet an adapter was trained on.
    /// @param datanetId         The Datanet.
    /// @param contributionCount Its number of contributions used at training time.
    struct DatanetUse {
        uint256 datanetId;
        uint64 contributionCount;
    }

    /// @notice What an adapter owner supplies for a new adapter or version.
    /// @param adapterHash   Content hash of the adapter weights (non-zero).
    /// @param priceInPer1k  `R_in`: wei per 1,000 input tokens.
    /// @param priceOutPer1k `R_out`: wei per 1,000 output tokens.
    /// @param attributionMethod The method its inferences are attributed with (an
    ///                      `AttributionMethod` id that governance has enabled).
    /// @param uri           Where the adapter can be fetched (1 to 2048 bytes).
    /// @param datanets      Datanets trained on: 1 to 32, no repeats, each count in 1..the
    ///                      Datanet's contribution count (an unknown Datanet reverts with
    ///                      `DatanetRegistry.UnknownDatanet`).
    struct AdapterParams {
        bytes32 adapterHash;
        uint128 priceInPer1k;
        uint128 priceOutPer1k;
        uint8 attributionMethod;
        string uri;
        DatanetUse[] datanets;
    }

    /// @notice An adapter (one version).
    struct Adapter {
        uint256 baseModelId;
        address owner;
        bool active;
        uint32 version;
        uint256 previousVersionId;
        uint256 nextVersionId;
        bytes32 adapterHash;
        uint128 priceInPer1k;
        uint128 priceOutPer1k;
        uint8 attributionMethod;
        string uri;
        DatanetUse[] datanets;
    }

    /// @notice Adapter fields a market needs, without the arrays and strings.
    struct Pricing {
        address owner;
        bool servable;
        uint8 attributionMethod;
        uint128 priceInPer1k;
        uint128 priceOutPer1k;
    }

    /// @notice Where Datanet ids are checked.
    DatanetRegistry public immutable datanets;

    uint256 internal _baseModelCount;
    uint256 internal _adapterCount;
    mapping(uint256 => BaseModel) internal _baseModels;
    mapping(uint256 => Adapter) internal _adapters;

    /// @notice Emitted when a base model is registered.
    event BaseModelRegistered(
        uint256 indexed baseModelId,
        address indexed owner,
        bytes32 weightsHash,
        bytes32 architectureId,
        bytes32 licenseId,
        string uri
    );
    /// @notice Emitted when an adapter (or a new version of one) is registered.
    event AdapterRegistered(
        uint256 indexed adapterId,
        uint256 indexed baseModelId,
        address indexed owner,
        uint256 previousVersionId,
        uint32 version,
        AdapterParams params
    );
    /// @notice Emitted when an adapter's prices change.
    event AdapterPricesSet(uint256 indexed adapterId, uint128 priceInPer1k, uint128 priceOutPer1k);
    /// @notice Emitted when a base model is deactivated.
    event BaseModelDeactivated(uint256 indexed baseModelId, address indexed by);
    /// @notice Emitted when an adapter is deactivated.
    event AdapterDeactivated(uint256 indexed adapterId, address indexed by);

    /// @notice The base model does not exist.
    error UnknownBaseModel(uint256 baseModelId);
    /// @notice The adapter does not exist.
    error UnknownAdapter(uint256 adapterId);
    /// @notice The base model is deactivated.
    error BaseModelInactive(uint256 baseModelId);
    /// @notice The adapter is deactivated.
    error AdapterInactive(uint256 adapterId);
    /// @notice The caller is not the owner.
    error NotOwner(address caller);
    /// @notice The caller is neither the owner nor governance.
    error NotOwnerOrGovernance(address caller);
    /// @notice A zero content hash.
    error ZeroHash();
    /// @notice An empty or too long URI.
    error InvalidURI();
    /// @notice No Datanets, or more than `MAX_DATANETS_PER_ADAPTER`.
    error InvalidDatanetCount(uint256 count);
    /// @notice A Datanet named twice.
    error DuplicateDatanet(uint256 datanetId);
    /// @notice A contribution count of zero or above the Datanet's number of contributions.
    error InvalidContributionCount(uint256 datanetId, uint64 count);
    /// @notice The attribution method is not enabled by governance.
    error MethodNotEnabled(uint8 method);
    /// @notice The adapter already has a newer version.
    error VersionExists(uint256 nextVersionId);

    /// @param governance_ The parameter store.
    /// @param datanets_   The Datanet registry.
    constructor(Governance governance_, DatanetRegistry datanets_) Governed(governance_) {
        if (address(datanets_) == address(0)) revert ZeroAddress();
        datanets = datanets_;
    }

    /// @notice Semantic version.
    /// @return The version string.
    function version() external pure returns (string memory) {
        return "1.0.0";
    }

    /// @notice Registers a base model owned by the caller.
    /// @param weightsHash    Content hash of the weights (non-zero).
    /// @param architectureId Architecture identifier (e.g. keccak256("llama")).
    /// @param licenseId      Licence identifier.
    /// @param uri            Where the weights can be fetched (1 to 2048 bytes).
    /// @return baseModelId   The new id (ids start at 1).
    function registerBaseModel(bytes32 weightsHash, bytes32 architectureId, bytes32 licenseId, string calldata uri)
        external
        returns (uint256 baseModelId)
    {
        if (weightsHash == bytes32(0)) revert ZeroHash();
        _checkURI(uri);
        baseModelId = ++_baseModelCount;
        BaseModel storage m = _baseModels[baseModelId];
        m.owner = msg.sender;
        m.active = true;
        m.weightsHash = weightsHash;
        m.architectureId = architectureId;
        m.licenseId = licenseId;
        m.uri = uri;
        emit BaseModelRegistered(baseModelId, msg.sender, weightsHash, architectureId, licenseId, uri);
    }

    /// @notice Registers an adapter owned by the caller on an active base model.
    /// @param baseModelId The base model.
    /// @param params      Hash, prices, URI and Datanets (see `AdapterParams`).
    /// @return adapterId  The new id (ids start at 1).
    function registerAdapter(uint256 baseModelId, AdapterParams calldata params) external returns (uint256 adapterId) {
        adapterId = _newAdapter(baseModelId, 0, 1, params);
    }

    /// @notice Registers a new version of an adapter (same base model; new weights, Datanets and
    ///         prices). Owner of the previous version only; one successor per version. The
    ///         previous version stays active until its owner deactivates it.
    /// @param previousId The version it succeeds.
    /// @param params     Hash, prices, URI and Datanets of the new version.
    /// @return adapterId The id of the new version.
    function registerAdapterVersion(uint256 previousId, AdapterParams calldata params)
        external
        returns (uint256 adapterId)
    {
        Adapter storage prev = _adapter(previousId);
        if (msg.sender != prev.owner) revert NotOwner(msg.sender);
        if (prev.nextVersionId != 0) revert VersionExists(prev.nextVersionId);
        adapterId = _newAdapter(prev.baseModelId, previousId, prev.version + 1, params);
        prev.nextVersionId = adapterId;
    }

    /// @notice Sets an adapter's prices (requests already made keep the prices they escrowed).
    ///         Adapter owner only.
    /// @param adapterId     The adapter.
    /// @param priceInPer1k  New `R_in`.
    /// @param priceOutPer1k New `R_out`.
    function setAdapterPrices(uint256 adapterId, uint128 priceInPer1k, uint128 priceOutPer1k) external {
        Adapter storage a = _adapter(adapterId);
        if (msg.sender != a.owner) revert NotOwner(msg.sender);
        a.priceInPer1k = priceInPer1k;
        a.priceOutPer1k = priceOutPer1k;
        emit AdapterPricesSet(adapterId, priceInPer1k, priceOutPer1k);
    }

    /// @notice Deactivates a base model for good. Its owner or governance only.
    /// @param baseModelId The base model.
    function deactivateBaseModel(uint256 baseModelId) external {
        BaseModel storage m = _baseModel(baseModelId);
        _checkOwnerOrGovernance(m.owner);
        if (!m.active) revert BaseModelInactive(baseModelId);
        m.active = false;
        emit BaseModelDeactivated(baseModelId, msg.sender);
    }

    /// @notice Deactivates an adapter version for good. Its owner or governance only.
    /// @param adapterId The adapter.
    function deactivateAdapter(uint256 adapterId) external {
        Adapter storage a = _adapter(adapterId);
        _checkOwnerOrGovernance(a.owner);
        if (!a.active) revert AdapterInactive(adapterId);
        a.active = false;
        emit AdapterDeactivated(adapterId, msg.sender);
    }

    /// @notice Number of base models (ids 1..count).
    /// @return The count.
    function baseModelCount() external view returns (uint256) {
        return _baseModelCount;
    }

    /// @notice Number of adapters, all versions (ids 1..count).
    /// @return The count.
    function adapterCount() external view returns (uint256) {
        return _adapterCount;
    }

    /// @notice A base model; reverts `UnknownBaseModel` if none.
    /// @param baseModelId The base model.
    /// @return The base model.
    function getBaseModel(uint256 baseModelId) external view returns (BaseModel memory) {
        return _baseModel(baseModelId);
    }

    /// @notice An adapter with its Datanets; reverts `UnknownAdapter` if none.
    /// @param adapterId The adapter.
    /// @return The adapter.
    function getAdapter(uint256 adapterId) external view returns (Adapter memory) {
        return _adapter(adapterId);
    }

    /// @notice Owner, prices and whether an adapter can serve requests (it and its base model
    ///         are active); reverts `UnknownAdapter` if none.
    /// @param adapterId The adapter.
    /// @return The pricing.
    function pricingOf(uint256 adapterId) external view returns (Pricing memory) {
        Adapter storage a = _adapter(adapterId);
        return Pricing({
            owner: a.owner,
            servable: a.active && _baseModels[a.baseModelId].active,
            attributionMethod: a.attributionMethod,
            priceInPer1k: a.priceInPer1k,
            priceOutPer1k: a.priceOutPer1k
        });
    }

    /// @notice Whether `adapterId` exists and it and its base model are active.
    /// @param adapterId The adapter.
    /// @return True if servable.
    function isServable(uint256 adapterId) external view returns (bool) {
        Adapter storage a = _adapters[adapterId];
        return a.active && _baseModels[a.baseModelId].active;
    }

    function _newAdapter(uint256 baseModelId, uint256 previousId, uint32 version_, AdapterParams calldata p)
        internal
        returns (uint256 adapterId)
    {
        BaseModel storage m = _baseModel(baseModelId);
        if (!m.active) revert BaseModelInactive(baseModelId);
        if (p.adapterHash == bytes32(0)) revert ZeroHash();
        _checkURI(p.uri);
        _checkDatanets(p.datanets);
        if (!governance.methodParams(p.attributionMethod).enabled) revert MethodNotEnabled(p.attributionMethod);

        adapterId = ++_adapterCount;
        Adapter storage a = _adapters[adapterId];
        a.baseModelId = baseModelId;
        a.owner = msg.sender;
        a.active = true;
        a.version = version_;
        a.previousVersionId = previousId;
        a.adapterHash = p.adapterHash;
        a.priceInPer1k = p.priceInPer1k;
        a.priceOutPer1k = p.priceOutPer1k;
        a.attributionMethod = p.attributionMethod;
        a.uri = p.uri;
        for (uint256 i; i < p.datanets.length; ++i) {
            a.datanets.push(p.datanets[i]);
        }
        emit AdapterRegistered(adapterId, baseModelId, msg.sender, previousId, version_, p);
    }

    function _checkDatanets(DatanetUse[] calldata used) internal view {
        uint256 n = used.length;
        if (n == 0 || n > MAX_DATANETS_PER_ADAPTER) revert InvalidDatanetCount(n);
        for (uint256 i; i < n; ++i) {
            uint256 id = used[i].datanetId;
            uint64 count = used[i].contributionCount;
            // Reverts `DatanetRegistry.UnknownDatanet(id)` for an unknown Datanet.
            if (count == 0 || count > datanets.contributionCountOf(id)) {
                revert InvalidContributionCount(id, count);
            }
            for (uint256 j; j < i; ++j) {
                if (used[j].datanetId == id) revert DuplicateDatanet(id);
            }
        }
    }

    function _checkOwnerOrGovernance(address owner) internal view {
        if (msg.sender != owner && msg.sender != governance.owner()) revert NotOwnerOrGovernance(msg.sender);
    }

    function _baseModel(uint256 baseModelId) internal view returns (BaseModel storage m) {
        m = _baseModels[baseModelId];
        if (m.owner == address(0)) revert UnknownBaseModel(baseModelId);
    }

    function _adapter(uint256 adapterId) internal view returns (Adapter storage a) {
        a = _adapters[adapterId];
        if (a.owner == address(0)) revert UnknownAdapter(adapterId);
    }

    function _checkURI(string calldata uri) internal pure {
        uint256 len = bytes(uri).length;
        if (len == 0 || len > MAX_URI_LENGTH) revert InvalidURI();
    }
}
