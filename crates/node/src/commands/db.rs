//! `openledger db`.

use clap::{Args, Subcommand};
use eyre::{WrapErr, bail};
use serde::Serialize;
use std::path::PathBuf;

/// Database tools.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct DbCommand {
    /// The database command.
    #[command(subcommand)]
    pub command: DbSubcommand,
}

/// The database commands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum DbSubcommand {
    /// Check a stopped node's database and recompute its state root
    ///
    /// Runs the consistency check, recomputes the state root from the plain state (every
    /// account and storage slot) and compares it with the head block's. Prints one JSON line
    /// `{"head", "headHash", "stateRoot", "recomputedStateRoot", "ok"}` to stdout and exits
    /// with status 0 only when the roots agree.
    #[command(verbatim_doc_comment)]
    Check(DbCheckCommand),
}

/// `openledger db check`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct DbCheckCommand {
    /// The data directory of the node (it must not be running).
    #[arg(long = "datadir", value_name = "DATA_DIR", help_heading = "Datadir")]
    pub datadir: PathBuf,
}

/// The report `db check` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DbCheckReport {
    /// Head block number.
    pub head: u64,
    /// Head block hash.
    pub head_hash: String,
    /// The head header's state root.
    pub state_root: String,
    /// The state root recomputed from the plain state (`null` when recomputation failed).
    pub recomputed_state_root: Option<String>,
    /// Whether the two roots agree.
    pub ok: bool,
    /// Why recomputation failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl DbCommand {
    /// Runs the command.
    pub fn execute(self) -> eyre::Result<()> {
        match self.command {
            DbSubcommand::Check(command) => command.execute(),
        }
    }
}

impl DbCheckCommand {
    /// Runs the command.
    pub fn execute(self) -> eyre::Result<()> {
        let storage = super::open_initialized(&self.datadir)?;
        let head = storage.head_header().wrap_err("reading the head")?;
        let recomputed = storage.recompute_state_root();
        let report = DbCheckReport {
            head: head.number,
            head_hash: head.hash().to_string(),
            state_root: head.state_root.to_string(),
            recomputed_state_root: recomputed.as_ref().ok().map(ToString::to_string),
            ok: recomputed
                .as_ref()
                .is_ok_and(|root| *root == head.state_root),
            error: recomputed.as_ref().err().map(ToString::to_string),
        };
        println!("{}", serde_json::to_string(&report)?);
        match recomputed {
            Ok(_) if report.ok => Ok(()),
            Ok(root) => bail!(
                "state root mismatch: head {} has {}, the plain state recomputes to {root}",
                head.number,
                head.state_root
            ),
            Err(err) => Err(err).wrap_err("recomputing the state root"),
        }
    }
}
