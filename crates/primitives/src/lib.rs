//! Primitive types of the OpenLedger chain.
//!
//! This crate owns what every other crate agrees on and nothing that executes or stores: the
//! predeploy and system addresses, the rollup configuration (`rollup.json` in op-node's format),
//! genesis loading and the embedded dev genesis, the dev accounts, and the L1-info deposit
//! transaction in its Jovian encoding, the output root formula, the ABI of the Proof of
//! Attribution contracts, and what a block's transactions touched ([`BlockActivity`]).

pub mod activity;
pub mod addresses;
pub mod config;
pub mod contracts;
pub mod dev;
pub mod genesis;
pub mod l1_info;
pub mod output;

pub use activity::{BlockActivity, Creation, TxActivity};
pub use config::{
    ChainSpec, ForkTimes, GenesisAnchor, L1BlockRef, OpenLedgerConfig, RollupConfig, SystemConfig,
};
pub use genesis::{GenesisError, load_genesis};
pub use l1_info::{L1BlockInfo, L1InfoError, L1Origin};
pub use output::{L2Output, output_of_header, output_root};

/// Re-exported so downstream crates name one set of types.
pub use op_alloy_consensus::{OpReceiptEnvelope, OpTxEnvelope, OpTypedTransaction, TxDeposit};
