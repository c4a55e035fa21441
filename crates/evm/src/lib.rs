//! Execution for the OpenLedger chain.
//!
//! This crate owns the EVM configuration: op-revm with the hardforks of the rollup config
//! ([`OlEvmConfig`]), driven through `alloy-op-evm`'s `OpEvmFactory` and `OpBlockExecutor` (the
//! executor op-reth uses for system calls, deposits and receipts); the OP base-fee rule; block
//! building from a transaction source ([`BestTransactions`]), which records what each
//! transaction touched for the address index ([`ActivityInspector`]); the OP receipt fields (L1 fee and
//! friends, [`l1_fee`]); single calls for `eth_call` and gas estimation ([`call`]); blocks of
//! calls for `eth_simulateV1` ([`simulate`]);
//! re-execution with an inspector for tracing ([`Inspected`]) and the time and size bounds of
//! RPC execution ([`limits`]); the native Proof of Attribution
//! precompile ([`poa`]) that every EVM of [`OlEvmFactory`] carries; and contracts deployed in
//! place into a genesis alloc ([`genesis`]).

mod activity;
mod builder;
pub mod call;
mod config;
mod error;
mod factory;
pub mod genesis;
pub mod l1_fee;
pub mod limits;
pub mod poa;
mod replay;
pub mod simulate;

pub use activity::ActivityInspector;
pub use builder::{BestTransactions, BuiltBlock, PayloadAttributes, SkipReason};
pub use call::call_tx;
pub use config::{OlEvmConfig, next_block_base_fee};
pub use error::EvmError;
pub use factory::OlEvmFactory;
pub use op_revm::OpSpecId;
pub use replay::{Inspected, ReplayState};
