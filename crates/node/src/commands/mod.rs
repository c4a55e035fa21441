//! The commands of the `openledger` binary.

pub mod attribution;
mod attribution_report;
pub mod da;
pub mod db;
mod dev_suite;
pub mod explorer;
pub mod factory;
pub mod genesis;
pub mod init;
mod jobs;
pub mod l1;
pub mod node;
mod p2p;
mod remote;
mod rollup;
pub mod serve;
mod signals;
mod verify;

pub(crate) use signals::shutdown_signal;

use eyre::{WrapErr, bail};
use ol_primitives::{ChainSpec, genesis::genesis_header};
use ol_storage::{Storage, StorageError};
use std::{
    path::Path,
    time::{SystemTime, UNIX_EPOCH},
};

/// Opens the database under `datadir` (running its consistency check), with an error that says
/// which directory and, when RocksDB's lock is held, that another process is using it.
pub(crate) fn open_storage(datadir: &Path) -> eyre::Result<Storage> {
    let path = crate::dirs::db_path(datadir);
    Storage::open(&path).map_err(|err| {
        let locked = matches!(&err, StorageError::Rocks(rocks) if rocks.to_string().to_lowercase().contains("lock"));
        let report = eyre::Report::new(err);
        if locked {
            report.wrap_err(format!(
                "cannot open the database in {}: is another openledger process using this data directory?",
                path.display()
            ))
        } else {
            report.wrap_err(format!("cannot open the database in {}", path.display()))
        }
    })
}

/// How far a head at `head_timestamp` is behind the wall clock, in blocks: the sequencer
/// produces the missed slots back to back, since every L2 timestamp is its parent's plus the
/// block time.
pub(crate) const fn missed_slots(head_timestamp: u64, now: u64, block_time: u64) -> u64 {
    now.saturating_sub(head_timestamp) / if block_time == 0 { 1 } else { block_time }
}

/// Missed slots from which the node warns about the catch-up.
pub(crate) const CATCH_UP_WARN_SLOTS: u64 = 60;

/// The runtime of a command that serves HTTP beside little else (`serve`, `explorer`): two
/// workers, I/O and timers.
pub(crate) fn service_runtime() -> eyre::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |now| now.as_secs())
}

/// Refuses a data directory whose genesis, chain id or rollup configuration differ from `spec`.
pub(crate) fn check_stored_chain(storage: &Storage, spec: &ChainSpec) -> eyre::Result<()> {
    let roots = ol_storage::genesis_roots(spec);
    let requested = genesis_header(spec, roots.state_root, roots.withdrawals_root).hash_slow();
    let existing = storage
        .genesis_hash()
        .wrap_err("reading the genesis hash")?;
    if existing != requested {
        bail!(
            "the data directory holds the chain with genesis {existing}, but the given genesis hashes to \
             {requested}"
        );
    }
    check_same_chain(
        &storage
            .chain_spec()
            .wrap_err("reading the stored chain spec")?,
        spec,
    )
}

/// Refuses a stored chain whose chain id or rollup configuration differs from `requested` (the
/// genesis hash alone does not cover them: neither is part of the genesis header or state).
fn check_same_chain(stored: &ChainSpec, requested: &ChainSpec) -> eyre::Result<()> {
    if stored.chain_id() != requested.chain_id() {
        bail!(
            "the data directory holds chain id {}, but the given genesis and rollup configuration \
             are for chain id {}",
            stored.chain_id(),
            requested.chain_id()
        );
    }
    // `init` fills in the L2 genesis anchor; compare everything else.
    let mut requested_rollup = requested.rollup.clone();
    requested_rollup.genesis.l2 = stored.rollup.genesis.l2;
    if stored.rollup != requested_rollup {
        bail!(
            "the data directory was initialised with another rollup configuration than the one \
             given (same genesis state, different settings); use the original rollup \
             configuration, or initialise a new data directory"
        );
    }
    Ok(())
}

/// Opens the database of a data directory that must already hold a chain; the error says how to
/// create one.
pub(crate) fn open_initialized(datadir: &Path) -> eyre::Result<Storage> {
    let not_initialized = || {
        eyre::eyre!(
            "the data directory {} holds no chain: initialise it with \
             `openledger init --genesis <GENESIS_JSON> --rollup-config <ROLLUP_JSON> --datadir {}`, \
             or start a development chain with `openledger node --dev`",
            datadir.display(),
            datadir.display()
        )
    };
    if !crate::dirs::db_path(datadir).is_dir() {
        return Err(not_initialized());
    }
    let storage = open_storage(datadir)?;
    if !storage.is_initialized().wrap_err("reading the database")? {
        return Err(not_initialized());
    }
    Ok(storage)
}
