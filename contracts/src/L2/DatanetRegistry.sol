// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Governance} from "./governance/Governance.sol";
import {Governed} from "./governance/Governed.sol";

/// @title DatanetRegistry
/// @notice Datanets (curated datasets) and their staked contributions.
///
///         A contributor uploads content to a node (`ol_putContent`), then registers its content
///         hash here with `contribute`, staking at least the Datanet's minimum in OPEN (the native
///         token, `msg.value`). Curators (the Datanet owner and the accounts it names) approve or
///         reject:
///         - `Curated` Datanets: a contribution is `Pending` until a curator decides.
///         - `Open` Datanets: a contribution is approved on arrival.
///         In both, an approved contribution stays bonded for `Governance.contributionUnbondingPeriod`
///         seconds, during which a curator may still reject it (adversarial data found later).
///         Rejection slashes `slashPpm` of the stake (rounded down) to the treasury; the rest is
///         claimable at once. After approval and the unbonding period the whole stake is
///         claimable. Claims are pull payments (`withdrawStake`).
///
///         Reputation per contributor: approved and rejected counts (a later rejection moves an
///         approved contribution to rejected) and the total attributed weight (sum of ppm weights
///         over settled inferences), added by reporters that governance names (the market).
contract DatanetRegistry is Governed, ReentrancyGuardTransient {
    using SafeCast for uint256;

    /// @notice Parts-per-million denominator of the slash fraction.
    uint32 public constant PPM = 1_000_000;
    /// @notice Longest metadata or content URI, in bytes.
    uint256 public constant MAX_URI_LENGTH = 2048;
    /// @notice Largest page of `approvedContributions`.
    uint256 public constant MAX_PAGE_SIZE = 100;
    /// @notice Largest batch of `addAttributedWeight` (the PoA record cap).
    uint256 public constant MAX_BATCH = 256;

    /// @notice Whether contributions need a curator's approval.
    enum Policy {
        Open,
        Curated
    }

    /// @notice Lifecycle of a contribution.
    enum Status {
        None,
        Pending,
        Approved,
        Rejected
    }

    /// @notice A Datanet.
    struct Datanet {
        address owner;
        uint32 slashPpm;
        Policy policy;
        uint64 contributionCount;
        uint256 minStake;
        bytes32 licenseId;
        string metadataURI;
    }

    /// @notice A contribution. `unlockAt` is set on approval; `slashed` on rejection.
    struct Contribution {
        uint256 datanetId;
        address contributor;
        Status status;
        bool stakeWithdrawn;
        uint64 size;
        uint64 submittedAt;
        uint64 decidedAt;
        uint64 unlockAt;
        uint256 stake;
        uint256 slashed;
        bytes32 contentHash;
        string uri;
    }

    /// @notice Reputation of a contributor.
    struct Reputation {
        uint64 approved;
        uint64 rejected;
        uint256 attributedWeightPpm;
    }

    uint256 internal _datanetCount;
    uint256 internal _contributionCount;
    mapping(uint256 => Datanet) internal _datanets;
    mapping(uint256 => mapping(address => bool)) internal _curators;
    mapping(uint256 => Contribution) internal _contributions;
    mapping(uint256 => mapping(bytes32 => uint256)) internal _byContent;
    mapping(uint256 => uint256[]) internal _approved;
    /// @dev contribution id => index in `_approved[datanetId]` plus one (0: not listed).
    mapping(uint256 => uint256) internal _approvedPos;
    mapping(address => Reputation) internal _reputation;
    /// @notice Accounts allowed to add attributed weight (the inference market).
    mapping(address => bool) public isReporter;

    /// @notice Stake held for contributors (not yet withdrawn, slashed part excluded).
    uint256 public totalStakeHeld;
    /// @notice Slashed stake not yet sent to the treasury.
    uint256 public treasuryAccrued;

    /// @notice Emitted when a Datanet is created.
    event DatanetCreated(
        uint256 indexed datanetId,
        address indexed owner,
        Policy policy,
        uint256 minStake,
        uint32 slashPpm,
        bytes32 licenseId,
        string metadataURI
    );
    /// @notice Emitted when a Datanet changes owner.
    event DatanetOwnershipTransferred(uint256 indexed datanetId, address indexed from, address indexed to);
    /// @notice Emitted when a curator is added or removed.
    event CuratorSet(uint256 indexed datanetId, address indexed curator, bool allowed);
    /// @notice Emitted for every contribution.
    event ContributionSubmitted(
        uint256 indexed contributionId,
        uint256 indexed datanetId,
        address indexed contributor,
        bytes32 contentHash,
        uint64 size,
        uint256 stake,
        string uri
    );
    /// @notice Emitted when a contribution is approved (by a curator, or on arrival when Open).
    event ContributionApproved(uint256 indexed contributionId, address indexed curator, uint64 unlockAt);
    /// @notice Emitted when a contribution is rejected.
    event ContributionRejected(
        uint256 indexed contributionId, address indexed curator, uint256 slashed, bytes32 reasonHash
    );
    /// @notice Emitted when a contributor withdraws a stake.
    event StakeWithdrawn(uint256 indexed contributionId, address indexed contributor, uint256 amount);
    /// @notice Emitted when governance adds or removes a reporter.
    event ReporterSet(address indexed reporter, bool allowed);
    /// @notice Emitted when a reporter adds attributed weight to a contributor.
    event AttributedWeightAdded(address indexed contributor, uint256 weightPpm, uint256 totalPpm);
    /// @notice Emitted when slashed stake is sent to the treasury.
    event TreasuryFlushed(address indexed treasury, uint256 amount);

    /// @notice The Datanet does not exist.
    error UnknownDatanet(uint256 datanetId);
    /// @notice The contribution does not exist.
    error UnknownContribution(uint256 contributionId);
    /// @notice The caller is not the Datanet owner.
    error NotDatanetOwner(address caller);
    /// @notice The caller is not a curator of the Datanet.
    error NotCurator(address caller);
    /// @notice The caller is not the contributor.
    error NotContributor(address caller);
    /// @notice The caller is not a reporter.
    error NotReporter(address caller);
    /// @notice A slash fraction above 1,000,000 ppm.
    error InvalidSlashFraction(uint32 slashPpm);
    /// @notice An empty or too long URI.
    error InvalidURI();
    /// @notice A zero content hash.
    error ZeroContentHash();
    /// @notice A zero content size.
    error ZeroSize();
    /// @notice The stake is below the Datanet's minimum.
    error StakeTooLow(uint256 stake, uint256 minStake);
    /// @notice The content is already registered in this Datanet.
    error DuplicateContent(uint256 existingContributionId);
    /// @notice The contribution is not in a state that allows the action.
    error InvalidStatus(Status status);
    /// @notice The approved stake is still bonded.
    error StakeLocked(uint64 unlockAt);
    /// @notice The stake was already withdrawn.
    error AlreadyWithdrawn();
    /// @notice Array lengths differ or exceed `MAX_BATCH`.
    error InvalidBatch();
    /// @notice A page size of zero or above `MAX_PAGE_SIZE`.
    error InvalidPageSize(uint256 limit);
    /// @notice Nothing to send.
    error NothingToFlush();

    /// @param governance_ The parameter store.
    constructor(Governance governance_) Governed(governance_) {}

    /// @notice Semantic version.
    /// @return The version string.
    function version() external pure returns (string memory) {
        return "1.0.0";
    }

    // ------------------------------------------------------------------------------------------
    // Datanets

    /// @notice Creates a Datanet owned by the caller.
    /// @param metadataURI Where its description lives (1 to 2048 bytes).
    /// @param licenseId   Identifier of the data licence (e.g. the SPDX id as bytes32).
    /// @param policy      `Open` (approved on arrival) or `Curated` (pending until decided).
    /// @param minStake    Minimum stake per contribution, in wei.
    /// @param slashPpm    Fraction of a rejected contribution's stake that is slashed, in ppm.
    /// @return datanetId  The new id (ids start at 1).
    function createDatanet(
        string calldata metadataURI,
        bytes32 licenseId,
        Policy policy,
        uint256 minStake,
        uint32 slashPpm
    ) external returns (uint256 datanetId) {
        _checkURI(metadataURI);
        if (slashPpm > PPM) revert InvalidSlashFraction(slashPpm);
        datanetId = ++_datanetCount;
        Datanet storage d = _datanets[datanetId];
        d.owner = msg.sender;
        d.slashPpm = slashPpm;
        d.policy = policy;
        d.minStake = minStake;
        d.licenseId = licenseId;
        d.metadataURI = metadataURI;
        emit DatanetCreated(datanetId, msg.sender, policy, minStake, slashPpm, licenseId, metadataURI);
    }

    /// @notice Hands a Datanet to a new owner. Datanet owner only.
    /// @param datanetId The Datanet.
    /// @param newOwner  The new owner (non-zero).
    function transferDatanetOwnership(uint256 datanetId, address newOwner) external {
        Datanet storage d = _datanetOwnedBySender(datanetId);
        if (newOwner == address(0)) revert ZeroAddress();
        emit DatanetOwnershipTransferred(datanetId, d.owner, newOwner);
        d.owner = newOwner;
    }

    /// @notice Adds or removes a curator. Datanet owner only (the owner always curates).
    /// @param datanetId The Datanet.
    /// @param curator   The curator (non-zero).
    /// @param allowed   True to add, false to remove.
    function setCurator(uint256 datanetId, address curator, bool allowed) external {
        _datanetOwnedBySender(datanetId);
        if (curator == address(0)) revert ZeroAddress();
        _curators[datanetId][curator] = allowed;
        emit CuratorSet(datanetId, curator, allowed);
    }

    // ------------------------------------------------------------------------------------------
    // Contributions

    /// @notice Registers content in a Datanet, staking `msg.value` (at least the Datanet minimum).
    /// @param datanetId   The Datanet.
    /// @param contentHash Content hash of the uploaded data (non-zero, unique in the Datanet).
    /// @param size        Size in bytes (non-zero).
    /// @param uri         Where the content can be fetched (1 to 2048 bytes).
    /// @return contributionId The new id (ids start at 1).
    function contribute(uint256 datanetId, bytes32 contentHash, uint64 size, string calldata uri)
        external
        payable
        returns (uint256 contributionId)
    {
        Datanet storage d = _datanet(datanetId);
        if (contentHash == bytes32(0)) revert ZeroContentHash();
        if (size == 0) revert ZeroSize();
        _checkURI(uri);
        if (msg.value < d.minStake) revert StakeTooLow(msg.value, d.minStake);
        uint256 existing = _byContent[datanetId][contentHash];
        if (existing != 0) revert DuplicateContent(existing);

        contributionId = ++_contributionCount;
        _byContent[datanetId][contentHash] = contributionId;
        ++d.contributionCount;
        totalStakeHeld += msg.value;
        Contribution storage c = _contributions[contributionId];
        c.datanetId = datanetId;
        c.contributor = msg.sender;
        c.status = Status.Pending;
        c.size = size;
        c.submittedAt = uint64(block.timestamp);
        c.stake = msg.value;
        c.contentHash = contentHash;
        c.uri = uri;
        emit ContributionSubmitted(contributionId, datanetId, msg.sender, contentHash, size, msg.value, uri);

        if (d.policy == Policy.Open) _approve(contributionId, c, address(0));
    }

    /// @notice Approves a pending contribution. Curators of its Datanet only.
    /// @param contributionId The contribution.
    function approve(uint256 contributionId) external {
        Contribution storage c = _contribution(contributionId);
        _checkCurator(c.datanetId);
        if (c.status != Status.Pending) revert InvalidStatus(c.status);
        _approve(contributionId, c, msg.sender);
    }

    /// @notice Rejects a contribution that is pending, or approved and still bonded, slashing
    ///         `slashPpm` of its stake (rounded down) to the treasury. Curators only.
    /// @param contributionId The contribution.
    /// @param reasonHash     Hash of the curator's reasons (free form, for the record).
    function reject(uint256 contributionId, bytes32 reasonHash) external {
        Contribution storage c = _contribution(contributionId);
        uint256 datanetId = c.datanetId;
        _checkCurator(datanetId);
        Status status = c.status;
        Reputation storage rep = _reputation[c.contributor];
        if (status == Status.Approved) {
            // Still bonded: approved stake cannot have been withdrawn before unlockAt.
            // Day-scale bond: seconds of timestamp skew do not matter.
            // forge-lint: disable-next-line(block-timestamp)
            if (block.timestamp >= c.unlockAt) revert InvalidStatus(status);
            _unlist(datanetId, contributionId);
            --rep.approved;
        } else if (status != Status.Pending) {
            revert InvalidStatus(status);
        }
        uint256 slashed = c.stake * _datanets[datanetId].slashPpm / PPM;
        c.status = Status.Rejected;
        c.decidedAt = uint64(block.timestamp);
        c.slashed = slashed;
        ++rep.rejected;
        totalStakeHeld -= slashed;
        treasuryAccrued += slashed;
        emit ContributionRejected(contributionId, msg.sender, slashed, reasonHash);
    }

    /// @notice Sends the contributor its stake: all of it once approved and unbonded, the
    ///         unslashed rest once rejected. Contributor only, once.
    /// @param contributionId The contribution.
    function withdrawStake(uint256 contributionId) external nonReentrant {
        Contribution storage c = _contribution(contributionId);
        if (msg.sender != c.contributor) revert NotContributor(msg.sender);
        if (c.stakeWithdrawn) revert AlreadyWithdrawn();
        uint256 amount;
        if (c.status == Status.Approved) {
            // forge-lint: disable-next-line(block-timestamp)
            if (block.timestamp < c.unlockAt) revert StakeLocked(c.unlockAt);
            amount = c.stake;
        } else if (c.status == Status.Rejected) {
            amount = c.stake - c.slashed;
        } else {
            revert InvalidStatus(c.status);
        }
        c.stakeWithdrawn = true;
        totalStakeHeld -= amount;
        emit StakeWithdrawn(contributionId, msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    // ------------------------------------------------------------------------------------------
    // Reputation and treasury

    /// @notice Adds or removes a reporter (an account allowed to add attributed weight).
    ///         Governance only.
    /// @param reporter The account (non-zero).
    /// @param allowed  True to add, false to remove.
    function setReporter(address reporter, bool allowed) external onlyGovernance {
        if (reporter == address(0)) revert ZeroAddress();
        isReporter[reporter] = allowed;
        emit ReporterSet(reporter, allowed);
    }

    /// @notice Adds the weights of one settled inference to the contributors' reputations.
    ///         Reporters only; at most 256 entries (one PoA record).
    /// @param contributors The contributors.
    /// @param weightsPpm   Their weights in ppm.
    function addAttributedWeight(address[] calldata contributors, uint32[] calldata weightsPpm) external {
        if (!isReporter[msg.sender]) revert NotReporter(msg.sender);
        uint256 n = contributors.length;
        if (n != weightsPpm.length || n > MAX_BATCH) revert InvalidBatch();
        for (uint256 i; i < n; ++i) {
            Reputation storage rep = _reputation[contributors[i]];
            uint256 total = rep.attributedWeightPpm + weightsPpm[i];
            rep.attributedWeightPpm = total;
            emit AttributedWeightAdded(contributors[i], weightsPpm[i], total);
        }
    }

    /// @notice Sends the slashed stake collected so far to `Governance.treasury()`. Anyone.
    function flushTreasury() external nonReentrant {
        uint256 amount = treasuryAccrued;
        if (amount == 0) revert NothingToFlush();
        treasuryAccrued = 0;
        address treasury = governance.treasury();
        emit TreasuryFlushed(treasury, amount);
        Address.sendValue(payable(treasury), amount);
    }

    // ------------------------------------------------------------------------------------------
    // Views

    /// @notice Number of Datanets created (ids are 1..count).
    /// @return The count.
    function datanetCount() external view returns (uint256) {
        return _datanetCount;
    }

    /// @notice Number of contributions (ids are 1..count).
    /// @return The count.
    function contributionCount() external view returns (uint256) {
        return _contributionCount;
    }

    /// @notice A Datanet; reverts `UnknownDatanet` if it does not exist.
    /// @param datanetId The Datanet.
    /// @return The Datanet.
    function getDatanet(uint256 datanetId) external view returns (Datanet memory) {
        return _datanet(datanetId);
    }

    /// @notice Whether `datanetId` exists.
    /// @param datanetId The Datanet.
    /// @return True if it exists.
    function datanetExists(uint256 datanetId) external view returns (bool) {
        return datanetId != 0 && datanetId <= _datanetCount;
    }

    /// @notice Number of contributions ever made to a Datanet (any status); reverts
    ///         `UnknownDatanet` if it does not exist.
    /// @param datanetId The Datanet.
    /// @return The count.
    function contributionCountOf(uint256 datanetId) external view returns (uint64) {
        return _datanet(datanetId).contributionCount;
    }

    /// @notice A contribution; reverts `UnknownContribution` if it does not exist.
    /// @param contributionId The contribution.
    /// @return The contribution.
    function getContribution(uint256 contributionId) external view returns (Contribution memory) {
        return _contribution(contributionId);
    }

    /// @notice The contribution of `contentHash` in `datanetId` (0 if none).
    /// @param datanetId   The Datanet.
    /// @param contentHash The content hash.
    /// @return The contribution id or 0.
    function contributionByContent(uint256 datanetId, bytes32 contentHash) external view returns (uint256) {
        return _byContent[datanetId][contentHash];
    }

    /// @notice Whether `account` curates `datanetId` (its owner always does).
    /// @param datanetId The Datanet.
    /// @param account   The account.
    /// @return True if it curates.
    function isCurator(uint256 datanetId, address account) public view returns (bool) {
        return account == _datanets[datanetId].owner || _curators[datanetId][account];
    }

    /// @notice Reputation of `contributor`.
    /// @param contributor The contributor.
    /// @return The reputation.
    function reputationOf(address contributor) external view returns (Reputation memory) {
        return _reputation[contributor];
    }

    /// @notice Number of currently approved contributions of a Datanet.
    /// @param datanetId The Datanet.
    /// @return The count.
    function approvedCount(uint256 datanetId) external view returns (uint256) {
        return _approved[datanetId].length;
    }

    /// @notice A page of a Datanet's approved contributions, with their contributors. The list
    ///         is in approval order, except that a later rejection moves the last entry into the
    ///         rejected one's place.
    /// @param datanetId The Datanet (must exist).
    /// @param offset    First position (past the end: empty page).
    /// @param limit     Page size, 1 to `MAX_PAGE_SIZE`.
    /// @return ids      Contribution ids.
    /// @return items    The contributions.
    /// @return total    Number of approved contributions.
    function approvedContributions(uint256 datanetId, uint256 offset, uint256 limit)
        external
        view
        returns (uint256[] memory ids, Contribution[] memory items, uint256 total)
    {
        _datanet(datanetId);
        if (limit == 0 || limit > MAX_PAGE_SIZE) revert InvalidPageSize(limit);
        uint256[] storage list = _approved[datanetId];
        total = list.length;
        uint256 end = offset >= total ? offset : (total - offset > limit ? offset + limit : total);
        uint256 n = end - offset;
        ids = new uint256[](n);
        items = new Contribution[](n);
        for (uint256 i; i < n; ++i) {
            uint256 id = list[offset + i];
            ids[i] = id;
            items[i] = _contributions[id];
        }
    }

    // ------------------------------------------------------------------------------------------
    // Internal

    function _approve(uint256 contributionId, Contribution storage c, address curator) internal {
        uint64 unlockAt = (block.timestamp + governance.contributionUnbondingPeriod()).toUint64();
        c.status = Status.Approved;
        c.decidedAt = uint64(block.timestamp);
        c.unlockAt = unlockAt;
        ++_reputation[c.contributor].approved;
        uint256[] storage list = _approved[c.datanetId];
        list.push(contributionId);
        _approvedPos[contributionId] = list.length;
        emit ContributionApproved(contributionId, curator, unlockAt);
    }

    function _unlist(uint256 datanetId, uint256 contributionId) internal {
        uint256[] storage list = _approved[datanetId];
        uint256 pos = _approvedPos[contributionId]; // 1-based, non-zero for approved ids
        uint256 last = list[list.length - 1];
        list[pos - 1] = last;
        _approvedPos[last] = pos;
        list.pop();
        delete _approvedPos[contributionId];
    }

    function _datanet(uint256 datanetId) internal view returns (Datanet storage d) {
        d = _datanets[datanetId];
        if (d.owner == address(0)) revert UnknownDatanet(datanetId);
    }

    function _datanetOwnedBySender(uint256 datanetId) internal view returns (Datanet storage d) {
        d = _datanet(datanetId);
        if (msg.sender != d.owner) revert NotDatanetOwner(msg.sender);
    }

    function _contribution(uint256 contributionId) internal view returns (Contribution storage c) {
        c = _contributions[contributionId];
        if (c.status == Status.None) revert UnknownContribution(contributionId);
    }

    function _checkCurator(uint256 datanetId) internal view {
        if (!isCurator(datanetId, msg.sender)) revert NotCurator(msg.sender);
    }

    function _checkURI(string calldata uri) internal pure {
        uint256 len = bytes(uri).length;
        if (len == 0 || len > MAX_URI_LENGTH) revert InvalidURI();
    }
}
