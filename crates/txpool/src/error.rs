//! Why the pool refuses a transaction. Messages follow go-ethereum's, which wallets match on.

/// A refused transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Larger than the size cap.
    #[error("oversized data: transaction size {size}, limit {limit}")]
    Oversized {
        /// Encoded size.
        size: usize,
        /// The cap.
        limit: usize,
    },
    /// Not decodable.
    #[error("invalid transaction: {0}")]
    Decode(String),
    /// A type this chain does not accept from users (blob, deposit, unknown).
    #[error("transaction type not supported")]
    TypeNotSupported,
    /// Legacy transaction without EIP-155 replay protection.
    #[error("only replay-protected (EIP-155) transactions allowed over RPC")]
    NotReplayProtected,
    /// Signed for another chain.
    #[error("invalid chain id")]
    WrongChainId,
    /// The signature does not recover.
    #[error("invalid sender")]
    InvalidSignature,
    /// Gas limit above what a block can hold.
    #[error("exceeds block gas limit")]
    GasLimitTooHigh,
    /// Gas limit below the intrinsic cost.
    #[error("intrinsic gas too low")]
    IntrinsicGasTooLow,
    /// Tip above fee cap.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// Fee cap below the chain's minimum base fee.
    #[error("transaction underpriced")]
    Underpriced,
    /// Nonce already used.
    #[error("nonce too low")]
    NonceTooLow,
    /// The nonce is further ahead of the sender's state nonce than the pool holds.
    #[error("nonce too high: {nonce} is more than {max_gap} above the account nonce {state_nonce}")]
    NonceTooHigh {
        /// The transaction's nonce.
        nonce: u64,
        /// The sender's nonce in the latest state.
        state_nonce: u64,
        /// The pool's limit.
        max_gap: u64,
    },
    /// Balance does not cover value, gas and the L1 data fee (of this transaction and of the
    /// sender's others in the pool, which must be payable in turn).
    #[error("insufficient funds for gas * price + value")]
    InsufficientFunds,
    /// Same hash already in the pool.
    #[error("already known")]
    AlreadyKnown,
    /// Same sender and nonce, fees not bumped enough.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// The sender has too many transactions in the pool.
    #[error("account limit exceeded: sender has {0} transactions in the pool")]
    SenderLimit(usize),
    /// The pool is full and the transaction does not pay more than what it would evict.
    #[error("txpool is full")]
    PoolFull,
    /// The state could not be read.
    #[error("internal error: {0}")]
    State(String),
}
