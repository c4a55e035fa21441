//! The L1 side of the rollup.
//!
//! - [`L1Client`]: the seam for every L1 read and write, implemented over alloy's HTTP provider
//!   by [`HttpL1Client`] with per-request timeouts and bounded retries ([`RetryConfig`]).
//! - [`L1Watcher`]: follows L1 a configurable number of confirmations behind its head, reports
//!   new blocks and reorgs as [`L1Event`]s, and publishes its last good [`L1View`].
//! - [`deposits`]: `TransactionDeposited` logs into deposit transactions, per the OP spec.
//! - [`next_l1_origin`]: the sequencer's L1 origin rule.
//! - [`tx`]: signing and sending L1 transactions from a local key.
//! - [`contracts`]: the rollup's L1 contracts (bindings, creation code) and their deployment.

#[cfg(feature = "test-utils")]
pub mod anvil;
pub mod block;
pub mod client;
pub mod contracts;
pub mod deposits;
pub mod error;
pub mod http;
pub mod origin;
pub mod retry;
#[cfg(any(test, feature = "test-utils"))]
pub mod test_utils;
pub mod tx;
pub mod watcher;

pub use block::{L1BlockRef, L1Header, L1Log, L1Receipt, L1Transaction};
pub use client::{BlockTag, Fees, GasQuery, L1Client};
pub use contracts::{
    DeployError, DeployedRollup, RollupDeployParams, deploy_rollup, unsafe_block_signer,
};
pub use deposits::{
    BlockDepositsError, DEPOSIT_EVENT_TOPIC, DepositError, block_deposits, decode_deposit,
    deposit_from_log, user_deposit_source_hash,
};
pub use error::L1Error;
pub use http::HttpL1Client;
pub use origin::{OriginChoice, OriginError, next_l1_origin};
pub use retry::RetryConfig;
pub use watcher::{L1Event, L1View, L1Watcher, StartAt, WatcherConfig};
