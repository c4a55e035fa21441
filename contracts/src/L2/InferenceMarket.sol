// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Governance} from "./governance/Governance.sol";
import {Governed} from "./governance/Governed.sol";
import {DatanetRegistry} from "./DatanetRegistry.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {Staking} from "./Staking.sol";
import {IProofOfAttribution} from "./poa/IProofOfAttribution.sol";
import {Predeploys} from "./Predeploys.sol";

/// @title InferenceMarket
/// @notice Paid inference with attribution-based fee sharing.
///
///         Flow:
///         1. `request` (prompt bytes on chain, emitted in `PromptSubmitted`) or `requestWithHash`
///            (prompt delivered off chain, e.g. through `ol_putContent`): the requester declares
///            `maxTokensIn` and `maxTokensOut` and escrows `msg.value`, which must cover the
///            maximum fee `quote(adapterId, maxTokensIn, maxTokensOut)`. Prompt tokens are
///            declared, not estimated: the chain has no tokenizer, and a declared bound keeps
///            the escrow exact. The adapter's prices, the platform fee and the expiry block are
///            fixed at request time.
///         2. The sequencer runs the inference and the attribution job; an attestor writes the
///            record to the PoA precompile (`record` with this request id), then calls
///            `fulfill(requestId, tokensIn, tokensOut, output)` with the counted tokens (at most
///            the declared maxima). `fulfill` checks that the record exists, that it was made
///            with the adapter's attribution method (fixed at request time) and that the method
///            is enabled with at most `maxContributors` contributors (`Governance.methodParams`).
///            The output of a request made with `request` is published: it must hash to the
///            record's `outputHash` and is emitted in `OutputPublished`, so explorers and
///            followers read it from the chain. That of a `requestWithHash` request stays off
///            chain (the requester reads it from the node): `output` must then be empty.
///         3. Anyone calls `settle`. Fee = ceil((T_in·R_in + T_out·R_out) / 1000) + F_platform,
///            with one rounding up of the token part (so a non-zero usage never rounds to a
///            free inference). The fee is monotone in the token counts, so fee <= max fee <=
///            escrow, and the refund `escrow - fee` is never negative. The net fee
///            `fee - F_platform` is split by the governance fee shares (read at settlement):
///            model owner, stakers and contributors each get `floor(net * share / 1e6)`; the
///            treasury gets the rest (its own share, `F_platform` and the rounding dust), so the
///            parts add up to the fee exactly. The contributors' part is divided by the record's
///            weights with the precompile's exact largest-remainder `split` (an empty record
///            sends it to the treasury). Stakers' part goes to `Staking.notifyReward`; everything
///            else is credited to pull balances (`withdraw`); the treasury's part accrues here
///            and `flushTreasury` sends it.
///         4. A request not fulfilled by its expiry block (`Governance.requestExpiryBlocks` after
///            the request) can be refunded in full by anyone (`refundExpired`, credited to the
///            requester's balance).
///
///         Settlement loops only over the record's contributors, at most 256 (the precompile's
///         `MAX_CONTRIBUTORS`).
contract InferenceMarket is Governed, ReentrancyGuardTransient {
    using SafeCast for uint256;

    /// @notice Parts-per-million denominator of the fee shares.
    uint256 public constant PPM = 1_000_000;
    /// @notice Prices are per this many tokens.
    uint256 public constant TOKENS_PER_PRICE_UNIT = 1000;
    /// @notice Largest prompt accepted on chain by `request`, in bytes.
    uint256 public constant MAX_PROMPT_BYTES = 65_536;

    /// @notice Lifecycle of a request.
    enum Status {
        None,
        Open,
        Fulfilled,
        Settled,
        Refunded
    }

    /// @notice A request. Prices, platform fee and expiry are fixed when it is made.
    struct Request {
        address requester;
        uint32 maxTokensIn;
        uint32 maxTokensOut;
        Status status;
        uint8 attributionMethod;
        bool promptOnChain;
        uint64 adapterId;
        uint128 escrow;
        uint128 priceInPer1k;
        uint128 priceOutPer1k;
        uint128 platformFee;
        uint64 expiryBlock;
        uint32 tokensIn;
        uint32 tokensOut;
        bytes32 promptHash;
    }

    /// @notice The parts a settled fee was divided into (`modelOwner + stakers + contributors +
    ///         treasury == fee`, `fee + refund == escrow`).
    struct Settlement {
        uint256 fee;
        uint256 refund;
        uint256 modelOwner;
        uint256 stakers;
        uint256 contributors;
        uint256 treasury;
    }

    /// @notice Adapters and their prices.
    ModelRegistry public immutable models;
    /// @notice Where contributors' attributed weight is reported.
    DatanetRegistry public immutable datanets;
    /// @notice Where the stakers' share goes.
    Staking public immutable staking;

    /// @notice Number of requests made; the next request id derives from it.
    uint256 public requestCount;
    mapping(bytes32 => Request) internal _requests;
    /// @notice Pull balances (refunds, model-owner and contributor shares).
    mapping(address => uint256) public balanceOf;
    /// @notice Sum of all pull balances.
    uint256 public totalBalances;
    /// @notice Sum of the escrows of open and fulfilled requests.
    uint256 public totalEscrowed;
    /// @notice Treasury income not yet sent.
    uint256 public treasuryAccrued;

    /// @notice Emitted for every request.
    event Requested(
        bytes32 indexed requestId,
        address indexed requester,
        uint256 indexed adapterId,
        bytes32 promptHash,
        uint32 maxTokensIn,
        uint32 maxTokensOut,
        uint256 escrow,
        uint64 expiryBlock
    );
    /// @notice Carries the prompt of requests made with `request`.
    event PromptSubmitted(bytes32 indexed requestId, bytes prompt);
    /// @notice Carries the output of a fulfilled request made with `request`.
    event OutputPublished(bytes32 indexed requestId, bytes output);
    /// @notice Emitted when an attestor reports the token counts.
    event Fulfilled(bytes32 indexed requestId, address indexed attestor, uint32 tokensIn, uint32 tokensOut);
    /// @notice Emitted when a request is settled.
    event Settled(
        bytes32 indexed requestId,
        uint256 fee,
        uint256 refund,
        uint256 modelOwnerShare,
        uint256 stakersShare,
        uint256 contributorsShare,
        uint256 treasuryShare
    );
    /// @notice Emitted when an expired request is refunded.
    event Refunded(bytes32 indexed requestId, address indexed requester, uint256 amount);
    /// @notice Emitted when a pull balance is credited.
    event Credited(address indexed account, bytes32 indexed requestId, uint256 amount);
    /// @notice Emitted when a pull balance is paid out.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice Emitted when treasury income is sent.
    event TreasuryFlushed(address indexed treasury, uint256 amount);
    /// @notice Emitted when a settlement could not add reputation (market not a reporter).
    event ReputationNotReported(bytes32 indexed requestId);

    /// @notice The adapter does not exist or is not servable.
    error AdapterNotServable(uint256 adapterId);
    /// @notice The escrow does not cover the maximum fee.
    error InsufficientEscrow(uint256 sent, uint256 required);
    /// @notice A zero output-token maximum.
    error ZeroMaxTokens();
    /// @notice An empty or too long prompt, or a zero prompt hash.
    error InvalidPrompt();
    /// @notice The request does not exist.
    error UnknownRequest(bytes32 requestId);
    /// @notice The request is not in a state that allows the action.
    error InvalidStatus(Status status);
    /// @notice The caller is not an attestor.
    error NotAttestor(address caller);
    /// @notice The request expired before it was fulfilled.
    error Expired(uint64 expiryBlock);
    /// @notice The request has not expired yet.
    error NotExpired(uint64 expiryBlock);
    /// @notice Token counts above the declared maxima.
    error TokensExceedMax(uint32 tokensIn, uint32 tokensOut);
    /// @notice The PoA precompile has no record for the request.
    error NotRecorded(bytes32 requestId);
    /// @notice The record's method is disabled, or it has more contributors than the method allows.
    error RecordNotAccepted(uint8 method, uint256 contributorCount);
    /// @notice The record names another method than the adapter's.
    error WrongMethod(uint8 adapterMethod, uint8 recordMethod);
    /// @notice The published output does not hash to the record's `outputHash`.
    error OutputMismatch(bytes32 recorded, bytes32 published);
    /// @notice An output was given for a request whose prompt is off chain.
    error OutputNotPublic();
    /// @notice Nothing to pay out.
    error NothingToWithdraw();

    /// @param governance_ The parameter store.
    /// @param models_     The model registry.
    /// @param datanets_   The Datanet registry (this market must be one of its reporters).
    /// @param staking_    The staking contract.
    constructor(Governance governance_, ModelRegistry models_, DatanetRegistry datanets_, Staking staking_)
        Governed(governance_)
    {
        if (address(models_) == address(0) || address(datanets_) == address(0) || address(staking_) == address(0)) {
            revert ZeroAddress();
        }
        models = models_;
        datanets = datanets_;
        staking = staking_;
    }

    /// @notice Semantic version.
    /// @return The version string.
    function version() external pure returns (string memory) {
        return "1.0.0";
    }

    /// @notice The PoA precompile.
    /// @return The precompile.
    function poa() public pure returns (IProofOfAttribution) {
        return IProofOfAttribution(Predeploys.PROOF_OF_ATTRIBUTION);
    }

    /// @notice The fee formula: `ceil((tokensIn * priceIn + tokensOut * priceOut) / 1000) + platformFee`.
    /// @param priceInPer1k  `R_in`, wei per 1,000 input tokens.
    /// @param priceOutPer1k `R_out`, wei per 1,000 output tokens.
    /// @param platformFee   `F_platform`, wei.
    /// @param tokensIn      `T_in`.
    /// @param tokensOut     `T_out`.
    /// @return The fee in wei.
    function feeFor(uint128 priceInPer1k, uint128 priceOutPer1k, uint256 platformFee, uint32 tokensIn, uint32 tokensOut)
        public
        pure
        returns (uint256)
    {
        // < 2^161: no overflow.
        uint256 usage = uint256(tokensIn) * priceInPer1k + uint256(tokensOut) * priceOutPer1k;
        return (usage + TOKENS_PER_PRICE_UNIT - 1) / TOKENS_PER_PRICE_UNIT + platformFee;
    }

    /// @notice The fee of an inference on `adapterId` at current prices and platform fee; with
    ///         the declared maxima this is the escrow a request needs.
    /// @param adapterId The adapter.
    /// @param tokensIn  Input tokens.
    /// @param tokensOut Output tokens.
    /// @return The fee in wei.
    function quote(uint256 adapterId, uint32 tokensIn, uint32 tokensOut) external view returns (uint256) {
        ModelRegistry.Pricing memory p = models.pricingOf(adapterId);
        return feeFor(p.priceInPer1k, p.priceOutPer1k, governance.platformFee(), tokensIn, tokensOut);
    }

    /// @notice Requests an inference with the prompt on chain (emitted, hashed, not stored),
    ///         escrowing `msg.value` (at least the maximum fee; the excess is refunded at
    ///         settlement).
    /// @param adapterId    A servable adapter.
    /// @param prompt       The prompt (1 to 65,536 bytes).
    /// @param maxTokensIn  Upper bound of the prompt's token count, declared by the requester.
    /// @param maxTokensOut Upper bound of the output token count (non-zero).
    /// @return requestId   The request id (also the PoA record key).
    function request(uint256 adapterId, bytes calldata prompt, uint32 maxTokensIn, uint32 maxTokensOut)
        external
        payable
        nonReentrant
        returns (bytes32 requestId)
    {
        if (prompt.length == 0 || prompt.length > MAX_PROMPT_BYTES) revert InvalidPrompt();
        requestId = _open(adapterId, keccak256(prompt), true, maxTokensIn, maxTokensOut);
        emit PromptSubmitted(requestId, prompt);
    }

    /// @notice Requests an inference whose prompt is delivered off chain; as `request` otherwise.
    /// @param adapterId    A servable adapter.
    /// @param promptHash   keccak256 of the prompt (non-zero).
    /// @param maxTokensIn  Upper bound of the prompt's token count.
    /// @param maxTokensOut Upper bound of the output token count (non-zero).
    /// @return requestId   The request id.
    function requestWithHash(uint256 adapterId, bytes32 promptHash, uint32 maxTokensIn, uint32 maxTokensOut)
        external
        payable
        nonReentrant
        returns (bytes32 requestId)
    {
        if (promptHash == bytes32(0)) revert InvalidPrompt();
        requestId = _open(adapterId, promptHash, false, maxTokensIn, maxTokensOut);
    }

    /// @notice Reports the token counts of a request whose attribution is recorded in the PoA
    ///         precompile. Attestors only, before expiry, once.
    /// @param requestId The request.
    /// @param tokensIn  Counted input tokens (<= maxTokensIn).
    /// @param tokensOut Counted output tokens (<= maxTokensOut).
    /// @param output    The output text of a `request` request (hashing to the record's
    ///                  `outputHash`); empty for a `requestWithHash` one.
    function fulfill(bytes32 requestId, uint32 tokensIn, uint32 tokensOut, bytes calldata output) external {
        IProofOfAttribution p = poa();
        if (!p.isAttestor(msg.sender)) revert NotAttestor(msg.sender);
        Request storage r = _request(requestId);
        if (r.status != Status.Open) revert InvalidStatus(r.status);
        if (block.number > r.expiryBlock) revert Expired(r.expiryBlock);
        if (tokensIn > r.maxTokensIn || tokensOut > r.maxTokensOut) revert TokensExceedMax(tokensIn, tokensOut);
        if (!p.isRecorded(requestId)) revert NotRecorded(requestId);
        (,, uint8 method, uint256 count) = p.summaryOf(requestId);
        if (method != r.attributionMethod) revert WrongMethod(r.attributionMethod, method);
        Governance.MethodParams memory mp = governance.methodParams(method);
        if (!mp.enabled || count > mp.maxContributors) revert RecordNotAccepted(method, count);
        if (r.promptOnChain) {
            bytes32 recorded = p.outputHashOf(requestId);
            bytes32 published = keccak256(output);
            if (published != recorded) revert OutputMismatch(recorded, published);
            emit OutputPublished(requestId, output);
        } else if (output.length != 0) {
            revert OutputNotPublic();
        }
        r.status = Status.Fulfilled;
        r.tokensIn = tokensIn;
        r.tokensOut = tokensOut;
        emit Fulfilled(requestId, msg.sender, tokensIn, tokensOut);
    }

    /// @notice Settles a fulfilled request: charges the fee, refunds the rest and splits the fee
    ///         (see the contract notes). Anyone.
    /// @param requestId The request.
    /// @return s The parts the escrow was divided into.
    function settle(bytes32 requestId) external nonReentrant returns (Settlement memory s) {
        Request storage r = _request(requestId);
        if (r.status != Status.Fulfilled) revert InvalidStatus(r.status);
        r.status = Status.Settled;
        uint256 escrow = r.escrow;
        totalEscrowed -= escrow;

        s = _divide(r, escrow);
        IProofOfAttribution.Attribution memory rec = poa().attributionOf(requestId);
        if (rec.contributors.length == 0) {
            s.treasury += s.contributors;
            s.contributors = 0;
        }

        _credit(r.requester, requestId, s.refund);
        _credit(models.pricingOf(r.adapterId).owner, requestId, s.modelOwner);
        if (s.contributors != 0) {
            uint256[] memory shares = poa().split(s.contributors, rec.weightsPpm);
            for (uint256 i; i < shares.length; ++i) {
                _credit(rec.contributors[i], requestId, shares[i]);
            }
        }
        treasuryAccrued += s.treasury;
        emit Settled(requestId, s.fee, s.refund, s.modelOwner, s.stakers, s.contributors, s.treasury);

        // Interactions with the trusted system contracts last. The reputation update is skipped
        // (not fatal) when governance has revoked this market's reporter role, so a fulfilled
        // request, which can no longer be refunded, always settles.
        if (rec.contributors.length != 0) {
            if (datanets.isReporter(address(this))) datanets.addAttributedWeight(rec.contributors, rec.weightsPpm);
            else emit ReputationNotReported(requestId);
        }
        if (s.stakers != 0) staking.notifyReward{value: s.stakers}();
    }

    /// @notice Refunds an expired, unfulfilled request to its requester's balance. Anyone.
    /// @param requestId The request.
    function refundExpired(bytes32 requestId) external nonReentrant {
        Request storage r = _request(requestId);
        if (r.status != Status.Open) revert InvalidStatus(r.status);
        if (block.number <= r.expiryBlock) revert NotExpired(r.expiryBlock);
        r.status = Status.Refunded;
        uint256 escrow = r.escrow;
        totalEscrowed -= escrow;
        _credit(r.requester, requestId, escrow);
        emit Refunded(requestId, r.requester, escrow);
    }

    /// @notice Pays out the caller's balance.
    function withdraw() external nonReentrant {
        uint256 amount = balanceOf[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        balanceOf[msg.sender] = 0;
        totalBalances -= amount;
        emit Withdrawn(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @notice Sends the treasury income collected so far to `Governance.treasury()`. Anyone.
    function flushTreasury() external nonReentrant {
        uint256 amount = treasuryAccrued;
        if (amount == 0) revert NothingToWithdraw();
        treasuryAccrued = 0;
        address treasury = governance.treasury();
        emit TreasuryFlushed(treasury, amount);
        Address.sendValue(payable(treasury), amount);
    }

    /// @notice A request; reverts `UnknownRequest` if none.
    /// @param requestId The request.
    /// @return The request.
    function getRequest(bytes32 requestId) external view returns (Request memory) {
        return _request(requestId);
    }

    /// @notice The id the `n`-th request gets (n starts at 1).
    /// @param n The request number.
    /// @return The id.
    function requestIdOf(uint256 n) public view returns (bytes32) {
        return keccak256(abi.encode(block.chainid, address(this), n));
    }

    function _open(uint256 adapterId, bytes32 promptHash, bool promptOnChain, uint32 maxTokensIn, uint32 maxTokensOut)
        internal
        returns (bytes32 requestId)
    {
        if (maxTokensOut == 0) revert ZeroMaxTokens();
        ModelRegistry.Pricing memory p = models.pricingOf(adapterId);
        if (!p.servable) revert AdapterNotServable(adapterId);
        uint256 platformFee = governance.platformFee();
        uint256 maxFee = feeFor(p.priceInPer1k, p.priceOutPer1k, platformFee, maxTokensIn, maxTokensOut);
        if (msg.value < maxFee) revert InsufficientEscrow(msg.value, maxFee);
        uint64 expiryBlock = (block.number + governance.requestExpiryBlocks()).toUint64();

        requestId = requestIdOf(++requestCount);
        Request storage r = _requests[requestId];
        r.requester = msg.sender;
        r.maxTokensIn = maxTokensIn;
        r.maxTokensOut = maxTokensOut;
        r.status = Status.Open;
        r.attributionMethod = p.attributionMethod;
        r.promptOnChain = promptOnChain;
        r.adapterId = adapterId.toUint64();
        r.escrow = msg.value.toUint128();
        r.priceInPer1k = p.priceInPer1k;
        r.priceOutPer1k = p.priceOutPer1k;
        r.platformFee = platformFee.toUint128();
        r.expiryBlock = expiryBlock;
        r.promptHash = promptHash;
        totalEscrowed += msg.value;
        emit Requested(requestId, msg.sender, adapterId, promptHash, maxTokensIn, maxTokensOut, msg.value, expiryBlock);
    }

    /// @dev Fee, refund and the split of the net fee by the governance shares.
    function _divide(Request storage r, uint256 escrow) internal view returns (Settlement memory s) {
        uint256 platformFee = r.platformFee;
        s.fee = feeFor(r.priceInPer1k, r.priceOutPer1k, platformFee, r.tokensIn, r.tokensOut);
        s.refund = escrow - s.fee;
        uint256 net = s.fee - platformFee;
        Governance.FeeShares memory sh = governance.feeShares();
        s.modelOwner = net * sh.modelOwnerPpm / PPM;
        s.stakers = net * sh.stakersPpm / PPM;
        s.contributors = net * sh.contributorsPpm / PPM;
        s.treasury = s.fee - s.modelOwner - s.stakers - s.contributors;
    }

    function _credit(address account, bytes32 requestId, uint256 amount) internal {
        if (amount == 0) return;
        balanceOf[account] += amount;
        totalBalances += amount;
        emit Credited(account, requestId, amount);
    }

    function _request(bytes32 requestId) internal view returns (Request storage r) {
        r = _requests[requestId];
        if (r.status == Status.None) revert UnknownRequest(requestId);
    }
}
