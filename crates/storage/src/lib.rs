//! RocksDB storage of the OpenLedger node.
//!
//! This crate owns everything on disk: the column families ([`tables`]), the atomic block commit
//! (one synced `WriteBatch` holding the block, its receipts, the state changes, the trie nodes and
//! the new head), the state provider revm executes against ([`StateProviderDb`]), genesis
//! initialisation, the consistency check that runs on open, and the address index explorers
//! read ([`BlockActivity`]: the transactions that touched an address, by sender and nonce, and
//! contract creators), and unwinding to an earlier block ([`Storage::unwind_to`]).
//!
//! The state is kept twice: as plain state (accounts by address, storage by address and slot) for
//! execution, and as Merkle-Patricia trie nodes keyed by path (see `ol-trie`) so that a block's
//! state root costs work proportional to what it changed.

mod activity;
mod changes;
mod check;
mod error;
mod forkchoice;
mod genesis;
mod proof;
pub use genesis::{GenesisRoots, genesis_changes, genesis_roots};
mod provider;
mod state;
pub mod tables;
mod unwind;

pub use activity::{AddressPage, TxLocation, Walk};
pub use changes::{AccountChange, PreparedState, StateChanges};
pub use check::ConsistencyReport;
pub use error::StorageError;
pub use forkchoice::DerivedHead;
pub use proof::{AccountProof, SlotProof};
pub use provider::{BlockBody, Storage};
pub use state::StateProviderDb;
pub use unwind::{ChangeSet, UnwindReport};
