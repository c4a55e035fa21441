//! `--txpool.*`.

use super::positive_usize;
use clap::Args;
use ol_txpool::PoolConfig;
use std::time::Duration;

/// One megabyte (MiB), the unit of the size flags (as reth's).
const MB: usize = 1024 * 1024;

fn default_pool() -> PoolConfig {
    PoolConfig::default()
}

/// The transaction pool.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
#[command(next_help_heading = "TxPool")]
pub struct TxPoolArgs {
    /// Max number of executable transactions allowed in the pool.
    #[arg(long = "txpool.pending-max-count", value_name = "COUNT", default_value_t = default_pool().pending_max_count, value_parser = positive_usize)]
    pub pending_max_count: usize,

    /// Max number of queued transactions (waiting for a nonce gap to fill) allowed in the pool.
    #[arg(long = "txpool.queued-max-count", value_name = "COUNT", default_value_t = default_pool().queued_max_count, value_parser = positive_usize)]
    pub queued_max_count: usize,

    /// Max size of the executable transactions in the pool, in megabytes.
    #[arg(long = "txpool.pending-max-size", value_name = "MB", default_value_t = default_pool().pending_max_bytes / MB, value_parser = positive_usize)]
    pub pending_max_size_mb: usize,

    /// Max size of the queued transactions in the pool, in megabytes.
    #[arg(long = "txpool.queued-max-size", value_name = "MB", default_value_t = default_pool().queued_max_bytes / MB, value_parser = positive_usize)]
    pub queued_max_size_mb: usize,

    /// How far above its sender's account nonce a transaction's nonce may be.
    #[arg(long = "txpool.max-nonce-gap", value_name = "COUNT", default_value_t = default_pool().max_nonce_gap)]
    pub max_nonce_gap: u64,

    /// Max number of transactions a single sender may have in the pool.
    #[arg(long = "txpool.max-account-slots", value_name = "COUNT", default_value_t = default_pool().max_account_slots, value_parser = positive_usize)]
    pub max_account_slots: usize,

    /// Price bump (in %) on both fee fields to replace a transaction with the same nonce.
    #[arg(long = "txpool.pricebump", value_name = "PERCENT", default_value_t = default_pool().price_bump_percent)]
    pub price_bump: u128,

    /// Maximum time in seconds a queued transaction may wait for its nonce gap to fill.
    #[arg(long = "txpool.lifetime", value_name = "SECS", default_value_t = default_pool().queued_lifetime.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub lifetime_secs: u64,
}

impl Default for TxPoolArgs {
    fn default() -> Self {
        let pool = default_pool();
        Self {
            pending_max_count: pool.pending_max_count,
            queued_max_count: pool.queued_max_count,
            pending_max_size_mb: pool.pending_max_bytes / MB,
            queued_max_size_mb: pool.queued_max_bytes / MB,
            max_nonce_gap: pool.max_nonce_gap,
            max_account_slots: pool.max_account_slots,
            price_bump: pool.price_bump_percent,
            lifetime_secs: pool.queued_lifetime.as_secs(),
        }
    }
}

impl TxPoolArgs {
    /// The pool configuration these flags describe (other limits keep their defaults).
    pub fn pool_config(&self) -> PoolConfig {
        PoolConfig {
            max_account_slots: self.max_account_slots,
            pending_max_count: self.pending_max_count,
            queued_max_count: self.queued_max_count,
            pending_max_bytes: self.pending_max_size_mb.saturating_mul(MB),
            queued_max_bytes: self.queued_max_size_mb.saturating_mul(MB),
            max_nonce_gap: self.max_nonce_gap,
            price_bump_percent: self.price_bump,
            queued_lifetime: Duration::from_secs(self.lifetime_secs),
            ..default_pool()
        }
    }
}
