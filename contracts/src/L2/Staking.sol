// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Governance} from "./governance/Governance.sol";
import {Governed} from "./governance/Governed.sol";

/// @title Staking
/// @notice OPEN staking. Stakers receive the stakers' share of inference fees pro rata to their
///         active stake through a reward-per-share accumulator: `notifyReward` (payable) raises
///         `rewardPerShare` by `amount * 1e36 / totalStaked`, and an account's reward is
///         `stake * (rewardPerShare - paid) / 1e36`, rounded down (at most one wei per account
///         and update stays behind as dust). Rewards arriving while nothing is staked are
///         queued and distributed with the next reward after someone stakes.
///
///         `unstake` moves stake into unbonding (no rewards); `withdraw` pays it out once
///         `Governance.stakingUnbondingPeriod` has passed since the latest `unstake` (a new
///         unstake adds to the unbonding amount and restarts the clock). Governance and the
///         slashers it names can `slash` an account: active stake first, then unbonding stake;
///         slashed OPEN goes to the treasury.
contract Staking is Governed, ReentrancyGuardTransient {
    using SafeCast for uint256;

    /// @notice Fixed-point scale of `rewardPerShare`.
    uint256 public constant PRECISION = 1e36;

    /// @notice Stake on its way out.
    struct Unbonding {
        uint256 amount;
        uint64 releaseAt;
    }

    /// @notice Sum of all active stakes.
    uint256 public totalStaked;
    /// @notice Sum of all unbonding amounts.
    uint256 public totalUnbonding;
    /// @notice Accumulated reward per unit of stake, scaled by `PRECISION`.
    uint256 public rewardPerShare;
    /// @notice Rewards received while nothing was staked, waiting for the next distribution.
    uint256 public queuedRewards;
    /// @notice Slashed stake not yet sent to the treasury.
    uint256 public treasuryAccrued;
    /// @notice Active stake per account.
    mapping(address => uint256) public stakeOf;
    /// @notice `rewardPerShare` when an account's rewards were last brought up to date.
    mapping(address => uint256) public rewardPerSharePaid;
    /// @notice Rewards brought up to date but not claimed.
    mapping(address => uint256) public rewardsAccrued;
    /// @notice Accounts allowed to slash (e.g. the registries).
    mapping(address => bool) public isSlasher;
    mapping(address => Unbonding) internal _unbonding;

    /// @notice Emitted when an account stakes.
    event Staked(address indexed account, uint256 amount, uint256 newStake);
    /// @notice Emitted when an account starts unbonding.
    event Unstaked(address indexed account, uint256 amount, uint256 unbonding, uint64 releaseAt);
    /// @notice Emitted when unbonded stake is paid out.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice Emitted when a reward is distributed (`amount` includes queued rewards).
    event RewardDistributed(address indexed from, uint256 amount, uint256 rewardPerShare);
    /// @notice Emitted when a reward arrives while nothing is staked.
    event RewardQueued(address indexed from, uint256 amount);
    /// @notice Emitted when an account claims rewards.
    event RewardsClaimed(address indexed account, uint256 amount);
    /// @notice Emitted when an account is slashed.
    event Slashed(address indexed account, address indexed by, uint256 fromStake, uint256 fromUnbonding);
    /// @notice Emitted when governance adds or removes a slasher.
    event SlasherSet(address indexed slasher, bool allowed);
    /// @notice Emitted when slashed stake is sent to the treasury.
    event TreasuryFlushed(address indexed treasury, uint256 amount);

    /// @notice A zero amount.
    error ZeroAmount();
    /// @notice More than the account's active stake.
    error InsufficientStake(uint256 requested, uint256 available);
    /// @notice Nothing unbonding.
    error NothingUnbonding();
    /// @notice The unbonding period has not passed.
    error StillUnbonding(uint64 releaseAt);
    /// @notice No rewards to claim.
    error NoRewards();
    /// @notice The caller is neither governance nor a slasher.
    error NotSlasher(address caller);
    /// @notice Nothing to send.
    error NothingToFlush();

    /// @param governance_ The parameter store.
    constructor(Governance governance_) Governed(governance_) {}

    /// @notice Semantic version.
    /// @return The version string.
    function version() external pure returns (string memory) {
        return "1.0.0";
    }

    /// @notice Stakes `msg.value` for the caller.
    function stake() external payable {
        if (msg.value == 0) revert ZeroAmount();
        _accrue(msg.sender);
        uint256 newStake = stakeOf[msg.sender] + msg.value;
        stakeOf[msg.sender] = newStake;
        totalStaked += msg.value;
        emit Staked(msg.sender, msg.value, newStake);
    }

    /// @notice Moves `amount` of the caller's active stake into unbonding; it stops earning and
    ///         can be withdrawn after the unbonding period (the clock restarts on every unstake).
    /// @param amount The amount (1..active stake).
    function unstake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 current = stakeOf[msg.sender];
        if (amount > current) revert InsufficientStake(amount, current);
        _accrue(msg.sender);
        stakeOf[msg.sender] = current - amount;
        totalStaked -= amount;
        totalUnbonding += amount;
        Unbonding storage u = _unbonding[msg.sender];
        uint256 unbonding = u.amount + amount;
        uint64 releaseAt = (block.timestamp + governance.stakingUnbondingPeriod()).toUint64();
        u.amount = unbonding;
        u.releaseAt = releaseAt;
        emit Unstaked(msg.sender, amount, unbonding, releaseAt);
    }

    /// @notice Pays out the caller's unbonded stake once the unbonding period has passed.
    function withdraw() external nonReentrant {
        Unbonding memory u = _unbonding[msg.sender];
        if (u.amount == 0) revert NothingUnbonding();
        // Day-scale delay: seconds of timestamp skew do not matter.
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < u.releaseAt) revert StillUnbonding(u.releaseAt);
        delete _unbonding[msg.sender];
        totalUnbonding -= u.amount;
        emit Withdrawn(msg.sender, u.amount);
        Address.sendValue(payable(msg.sender), u.amount);
    }

    /// @notice Distributes `msg.value` (plus queued rewards) to stakers pro rata to active stake,
    ///         or queues it if nothing is staked. Anyone may call (the market does).
    function notifyReward() external payable {
        if (msg.value == 0) revert ZeroAmount();
        uint256 total = totalStaked;
        if (total == 0) {
            queuedRewards += msg.value;
            emit RewardQueued(msg.sender, msg.value);
            return;
        }
        uint256 amount = msg.value + queuedRewards;
        queuedRewards = 0;
        uint256 rps = rewardPerShare + Math.mulDiv(amount, PRECISION, total);
        rewardPerShare = rps;
        emit RewardDistributed(msg.sender, amount, rps);
    }

    /// @notice Pays out the caller's rewards.
    function claimRewards() external nonReentrant {
        _accrue(msg.sender);
        uint256 amount = rewardsAccrued[msg.sender];
        if (amount == 0) revert NoRewards();
        rewardsAccrued[msg.sender] = 0;
        emit RewardsClaimed(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @notice Slashes `amount` from `account`: active stake first, then unbonding stake. The
    ///         slashed OPEN goes to the treasury. Governance or a slasher only.
    /// @param account The account.
    /// @param amount  The amount (1..active plus unbonding stake).
    function slash(address account, uint256 amount) external {
        if (!isSlasher[msg.sender] && msg.sender != governance.owner()) revert NotSlasher(msg.sender);
        if (amount == 0) revert ZeroAmount();
        uint256 active = stakeOf[account];
        Unbonding storage u = _unbonding[account];
        uint256 available = active + u.amount;
        if (amount > available) revert InsufficientStake(amount, available);
        _accrue(account);
        uint256 fromStake = amount < active ? amount : active;
        uint256 fromUnbonding = amount - fromStake;
        stakeOf[account] = active - fromStake;
        totalStaked -= fromStake;
        if (fromUnbonding != 0) {
            u.amount -= fromUnbonding;
            totalUnbonding -= fromUnbonding;
        }
        treasuryAccrued += amount;
        emit Slashed(account, msg.sender, fromStake, fromUnbonding);
    }

    /// @notice Adds or removes a slasher. Governance only.
    /// @param slasher The account (non-zero).
    /// @param allowed True to add, false to remove.
    function setSlasher(address slasher, bool allowed) external onlyGovernance {
        if (slasher == address(0)) revert ZeroAddress();
        isSlasher[slasher] = allowed;
        emit SlasherSet(slasher, allowed);
    }

    /// @notice Sends slashed stake collected so far to `Governance.treasury()`. Anyone.
    function flushTreasury() external nonReentrant {
        uint256 amount = treasuryAccrued;
        if (amount == 0) revert NothingToFlush();
        treasuryAccrued = 0;
        address treasury = governance.treasury();
        emit TreasuryFlushed(treasury, amount);
        Address.sendValue(payable(treasury), amount);
    }

    /// @notice Rewards `account` could claim now.
    /// @param account The account.
    /// @return The amount in wei.
    function earned(address account) public view returns (uint256) {
        return rewardsAccrued[account]
            + Math.mulDiv(stakeOf[account], rewardPerShare - rewardPerSharePaid[account], PRECISION);
    }

    /// @notice The unbonding stake of `account` and when it can be withdrawn.
    /// @param account The account.
    /// @return The unbonding record.
    function unbondingOf(address account) external view returns (Unbonding memory) {
        return _unbonding[account];
    }

    /// @dev Brings `account`'s rewards up to date.
    function _accrue(address account) internal {
        uint256 rps = rewardPerShare;
        uint256 paid = rewardPerSharePaid[account];
        if (rps == paid) return;
        uint256 s = stakeOf[account];
        if (s != 0) rewardsAccrued[account] += Math.mulDiv(s, rps - paid, PRECISION);
        rewardPerSharePaid[account] = rps;
    }
}
