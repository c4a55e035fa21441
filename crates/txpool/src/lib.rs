//! The transaction pool.
//!
//! Transactions arrive as raw EIP-2718 bytes from RPC, are validated against the latest state
//! ([`validate`]: size, type, chain id, signature, gas, intrinsic gas, fees, nonce, balance
//! including the L1 data fee), and wait per sender by nonce. A sender's transactions whose
//! nonces follow the state nonce without a gap are *pending* and offered to the block builder
//! in order of effective tip ([`BestPoolTransactions`]); the rest are *queued* until the gap
//! fills. After every block the pool drops what was mined and what became invalid
//! ([`TxPool::on_block`]).

mod best;
mod config;
mod error;
mod pool;
pub mod validate;

pub use best::BestPoolTransactions;
pub use config::PoolConfig;
pub use error::PoolError;
pub use pool::{
    BYTES_METRIC, PENDING_METRIC, PoolContent, PoolState, PoolStatus, QUEUED_METRIC,
    SenderTransactions, TxPool,
};
