//! Pool limits, with reth's and op-reth's defaults.

use std::time::Duration;

/// Limits and rules of the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Most transactions one sender may have in the pool (reth and geth: 16).
    pub max_account_slots: usize,
    /// Most pending transactions (reth: 10,000 per sub-pool).
    pub pending_max_count: usize,
    /// Most queued transactions (reth: 10,000 per sub-pool).
    pub queued_max_count: usize,
    /// Most bytes of pending transactions (reth: 20 MB per sub-pool).
    pub pending_max_bytes: usize,
    /// Most bytes of queued transactions (reth: 20 MB per sub-pool).
    pub queued_max_bytes: usize,
    /// How far above the sender's state nonce a queued transaction's nonce may be: a
    /// transaction further ahead could only be mined after that many others.
    pub max_nonce_gap: u64,
    /// Largest accepted transaction in bytes (reth and geth: 128 KiB, four 32 KiB slots).
    pub max_tx_bytes: usize,
    /// Percent by which a replacement must raise both fee fields (reth and geth: 10).
    pub price_bump_percent: u128,
    /// How long a queued transaction may wait for its nonce gap to fill (reth and geth: 3 h).
    pub queued_lifetime: Duration,
    /// Gas reserved in every block for the L1-info deposit (op-geth `l1InfoGasOverhead`).
    pub l1_info_gas_overhead: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_account_slots: 16,
            pending_max_count: 10_000,
            queued_max_count: 10_000,
            pending_max_bytes: 20 * 1024 * 1024,
            queued_max_bytes: 20 * 1024 * 1024,
            max_nonce_gap: 64,
            max_tx_bytes: 128 * 1024,
            price_bump_percent: 10,
            queued_lifetime: Duration::from_secs(3 * 60 * 60),
            l1_info_gas_overhead: 70_000,
        }
    }
}
