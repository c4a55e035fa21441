// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IProofOfAttribution} from "../poa/IProofOfAttribution.sol";
import {Predeploys} from "../Predeploys.sol";

/// @title Governance
/// @notice The parameter store of the OpenLedger contracts: fee shares, platform fee, treasury,
///         attestors (held by the PoA precompile, set through here), attribution method
///         parameters, unbonding periods and the request expiry. Every setter is `onlyOwner`, and
///         the owner is an OpenZeppelin `TimelockController`, so every change is a timelocked
///         proposal: scheduled by a proposer, executable by anyone once `minDelay` has passed,
///         cancellable meanwhile. The other contracts treat the owner of this store (the
///         timelock) as "governance" for their own privileged functions (`Governed`).
///
///         Why a TimelockController with a set of council keys and not a token Governor: the OPEN
///         token is the L2's native gas token, not an ERC20Votes token, so a Governor would need a
///         wrapped voting token and checkpointing first. The timelock gives the property that
///         matters for a parameter store: no change takes effect without public notice of at least
///         `minDelay`. Every proposer key is also a canceller, so the control is "any one council
///         key may propose, any one may veto during the delay". Safety holds while one honest key
///         watches the queue: a stolen key can propose but cannot get a change through unseen.
///         The price is liveness: a stolen key can cancel honest proposals until it is rotated
///         out (itself a timelocked proposal). A k-of-n multisig (e.g. a Safe) can take the
///         proposer role later without changing any contract here, and so can a Governor.
///
///         Production deploys: `TimelockController(minDelay, councilKeys, [address(0)], address(0))`
///         (open execution, self-administered), then `Governance(timelock, ...)`.
contract Governance is Ownable2Step {
    /// @notice Parts-per-million denominator of every share.
    uint32 public constant PPM = 1_000_000;
    /// @notice Upper bound of both unbonding periods (seconds).
    uint64 public constant MAX_UNBONDING_PERIOD = 365 days;
    /// @notice Upper bound of the request expiry (blocks; about 23 days at 2 s blocks).
    uint64 public constant MAX_REQUEST_EXPIRY_BLOCKS = 1_000_000;
    /// @notice Upper bound of a method's contributor cap (the precompile's own cap).
    uint32 public constant MAX_METHOD_CONTRIBUTORS = 256;

    /// @notice How the net inference fee (fee minus platform fee) is split, in ppm; sums to 1e6.
    struct FeeShares {
        uint32 modelOwnerPpm;
        uint32 stakersPpm;
        uint32 contributorsPpm;
        uint32 treasuryPpm;
    }

    /// @notice Parameters of one attribution method.
    /// @param enabled         Whether markets accept records made with it.
    /// @param maxContributors Largest contributor count a market accepts for it (top-k), <= 256.
    /// @param gpuTolerancePpm Tolerance for a GPU re-run's weights against the record (ppm).
    /// @param configHash      Hash of the method's full off-chain configuration.
    struct MethodParams {
        bool enabled;
        uint32 maxContributors;
        uint32 gpuTolerancePpm;
        bytes32 configHash;
    }

    /// @notice Initial values, set in the constructor.
    struct InitParams {
        FeeShares feeShares;
        uint256 platformFee;
        address treasury;
        uint64 contributionUnbondingPeriod;
        uint64 stakingUnbondingPeriod;
        uint64 requestExpiryBlocks;
    }

    FeeShares internal _feeShares;
    /// @notice Flat platform fee per inference request, in wei (`F_platform`).
    uint256 public platformFee;
    /// @notice Receiver of slashed stake, the platform fee, the treasury share and rounding dust.
    address public treasury;
    /// @notice Seconds a Datanet contribution's stake stays bonded after approval.
    uint64 public contributionUnbondingPeriod;
    /// @notice Seconds between `Staking.unstake` and `Staking.withdraw`.
    uint64 public stakingUnbondingPeriod;
    /// @notice Blocks after which an unfulfilled inference request can be refunded.
    uint64 public requestExpiryBlocks;
    mapping(uint8 => MethodParams) internal _methods;

    /// @notice Emitted when the fee shares change.
    event FeeSharesSet(uint32 modelOwnerPpm, uint32 stakersPpm, uint32 contributorsPpm, uint32 treasuryPpm);
    /// @notice Emitted when the platform fee changes.
    event PlatformFeeSet(uint256 platformFee);
    /// @notice Emitted when the treasury changes.
    event TreasurySet(address indexed treasury);
    /// @notice Emitted when the contribution unbonding period changes.
    event ContributionUnbondingPeriodSet(uint64 period);
    /// @notice Emitted when the staking unbonding period changes.
    event StakingUnbondingPeriodSet(uint64 period);
    /// @notice Emitted when the request expiry changes.
    event RequestExpiryBlocksSet(uint64 blocks);
    /// @notice Emitted when a method's parameters change.
    event MethodParamsSet(
        uint8 indexed method, bool enabled, uint32 maxContributors, uint32 gpuTolerancePpm, bytes32 configHash
    );
    /// @notice Emitted when an attestor is added to or removed from the PoA precompile.
    event AttestorUpdated(address indexed attestor, bool allowed);

    /// @notice Fee shares that do not sum to 1,000,000.
    error InvalidFeeShares(uint256 sum);
    /// @notice A zero address where an account is required.
    error ZeroAddress();
    /// @notice An unbonding period above `MAX_UNBONDING_PERIOD`.
    error UnbondingPeriodTooLong(uint64 period);
    /// @notice A request expiry of zero or above `MAX_REQUEST_EXPIRY_BLOCKS`.
    error InvalidRequestExpiry(uint64 blocks);
    /// @notice Method parameters out of range.
    error InvalidMethodParams();
    /// @notice Renouncing ownership would leave the store without governance.
    error RenounceDisabled();

    /// @param owner_ The TimelockController (any owner works in tests).
    /// @param init   Initial parameter values; validated like the setters.
    constructor(address owner_, InitParams memory init) Ownable(owner_) {
        _setFeeShares(init.feeShares);
        _setPlatformFee(init.platformFee);
        _setTreasury(init.treasury);
        _setContributionUnbondingPeriod(init.contributionUnbondingPeriod);
        _setStakingUnbondingPeriod(init.stakingUnbondingPeriod);
        _setRequestExpiryBlocks(init.requestExpiryBlocks);
    }

    /// @notice Semantic version.
    /// @return The version string.
    function version() external pure returns (string memory) {
        return "1.0.0";
    }

    /// @notice The PoA precompile this store manages attestors of.
    /// @return The precompile.
    function poa() public pure returns (IProofOfAttribution) {
        return IProofOfAttribution(Predeploys.PROOF_OF_ATTRIBUTION);
    }

    /// @notice The current fee shares.
    /// @return The shares (ppm of the net fee).
    function feeShares() external view returns (FeeShares memory) {
        return _feeShares;
    }

    /// @notice The parameters of `method` (all zero / disabled if never set).
    /// @param method The method id.
    /// @return The parameters.
    function methodParams(uint8 method) external view returns (MethodParams memory) {
        return _methods[method];
    }

    /// @notice Whether `method` is enabled.
    /// @param method The method id.
    /// @return True if enabled.
    function isMethodEnabled(uint8 method) external view returns (bool) {
        return _methods[method].enabled;
    }

    /// @notice Whether `account` is an attestor (read from the PoA precompile).
    /// @param account The account.
    /// @return True if it is an attestor.
    function isAttestor(address account) external view returns (bool) {
        return poa().isAttestor(account);
    }

    /// @notice Always reverts: without an owner no parameter could ever change again, and the
    ///         other contracts' governance functions would be unreachable.
    function renounceOwnership() public view override onlyOwner {
        revert RenounceDisabled();
    }

    /// @notice Sets the fee shares. Owner (timelock) only.
    /// @param shares The new shares; must sum to 1,000,000.
    function setFeeShares(FeeShares calldata shares) external onlyOwner {
        _setFeeShares(shares);
    }

    /// @notice Sets the flat platform fee per request. Owner (timelock) only.
    /// @param fee The fee in wei.
    function setPlatformFee(uint256 fee) external onlyOwner {
        _setPlatformFee(fee);
    }

    /// @notice Sets the treasury. Owner (timelock) only.
    /// @param treasury_ The new treasury (non-zero).
    function setTreasury(address treasury_) external onlyOwner {
        _setTreasury(treasury_);
    }

    /// @notice Sets the contribution unbonding period. Owner (timelock) only.
    /// @param period Seconds, at most `MAX_UNBONDING_PERIOD`.
    function setContributionUnbondingPeriod(uint64 period) external onlyOwner {
        _setContributionUnbondingPeriod(period);
    }

    /// @notice Sets the staking unbonding period. Owner (timelock) only.
    /// @param period Seconds, at most `MAX_UNBONDING_PERIOD`.
    function setStakingUnbondingPeriod(uint64 period) external onlyOwner {
        _setStakingUnbondingPeriod(period);
    }

    /// @notice Sets the request expiry. Owner (timelock) only.
    /// @param blocks Blocks, 1 to `MAX_REQUEST_EXPIRY_BLOCKS`.
    function setRequestExpiryBlocks(uint64 blocks) external onlyOwner {
        _setRequestExpiryBlocks(blocks);
    }

    /// @notice Sets the parameters of an attribution method. Owner (timelock) only.
    /// @param method The method id.
    /// @param params The parameters (`maxContributors` <= 256, `gpuTolerancePpm` <= 1e6).
    function setMethodParams(uint8 method, MethodParams calldata params) external onlyOwner {
        if (params.maxContributors > MAX_METHOD_CONTRIBUTORS || params.gpuTolerancePpm > PPM) {
            revert InvalidMethodParams();
        }
        if (params.enabled && params.maxContributors == 0) revert InvalidMethodParams();
        _methods[method] = params;
        emit MethodParamsSet(method, params.enabled, params.maxContributors, params.gpuTolerancePpm, params.configHash);
    }

    /// @notice Adds or removes an attestor in the PoA precompile (whose governance is this
    ///         contract). Owner (timelock) only.
    /// @param attestor The attestor account.
    /// @param allowed  True to add, false to remove.
    function setAttestor(address attestor, bool allowed) external onlyOwner {
        emit AttestorUpdated(attestor, allowed);
        poa().setAttestor(attestor, allowed);
    }

    function _setFeeShares(FeeShares memory s) internal {
        uint256 sum = uint256(s.modelOwnerPpm) + s.stakersPpm + s.contributorsPpm + s.treasuryPpm;
        if (sum != PPM) revert InvalidFeeShares(sum);
        _feeShares = s;
        emit FeeSharesSet(s.modelOwnerPpm, s.stakersPpm, s.contributorsPpm, s.treasuryPpm);
    }

    function _setPlatformFee(uint256 fee) internal {
        platformFee = fee;
        emit PlatformFeeSet(fee);
    }

    function _setTreasury(address treasury_) internal {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    function _setContributionUnbondingPeriod(uint64 period) internal {
        if (period > MAX_UNBONDING_PERIOD) revert UnbondingPeriodTooLong(period);
        contributionUnbondingPeriod = period;
        emit ContributionUnbondingPeriodSet(period);
    }

    function _setStakingUnbondingPeriod(uint64 period) internal {
        if (period > MAX_UNBONDING_PERIOD) revert UnbondingPeriodTooLong(period);
        stakingUnbondingPeriod = period;
        emit StakingUnbondingPeriodSet(period);
    }

    function _setRequestExpiryBlocks(uint64 blocks) internal {
        if (blocks == 0 || blocks > MAX_REQUEST_EXPIRY_BLOCKS) revert InvalidRequestExpiry(blocks);
        requestExpiryBlocks = blocks;
        emit RequestExpiryBlocksSet(blocks);
    }
}
