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
    /// Unwind a stopped node's chain to an earlier block
    ///
    /// Removes every block above the target and restores the state right after it (the state,
    /// the trie, receipts, indexes and the safe and finalized heads) in one synced write, as
    /// `reth stage unwind`. The target is kept. A follower started afterwards derives the
    /// removed blocks again from L1; a sequencer re-sequences on top of the target. Prints one
    /// JSON line `{"from", "to", "headHash", "stateRoot", "restoredKeys", "transactions",
    /// "loweredSafe", "loweredFinalized"}`.
    #[command(verbatim_doc_comment)]
    Unwind(DbUnwindCommand),
}

/// `openledger db unwind`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["to", "num_blocks"])))]
pub struct DbUnwindCommand {
    /// The data directory of the node (it must not be running).
    #[arg(long = "datadir", value_name = "DATA_DIR", help_heading = "Datadir")]
    pub datadir: PathBuf,
    /// The block to unwind to (kept).
    #[arg(long = "to", value_name = "BLOCK")]
    pub to: Option<u64>,
    /// How many blocks to take off the head.
    #[arg(long = "num-blocks", value_name = "N")]
    pub num_blocks: Option<u64>,
}

/// The report `db unwind` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DbUnwindReport {
    /// The head before.
    pub from: u64,
    /// The head now.
    pub to: u64,
    /// The new head's hash.
    pub head_hash: String,
    /// The new head's state root (the restored state's root, checked before writing).
    pub state_root: String,
    /// Accounts and slots restored.
    pub restored_keys: usize,
    /// User transactions in the removed blocks.
    pub transactions: usize,
    /// Whether the safe head came down to the new head.
    pub lowered_safe: bool,
    /// Whether the finalized head came down to the new head.
    pub lowered_finalized: bool,
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
            DbSubcommand::Unwind(command) => command.execute(),
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

impl DbUnwindCommand {
    /// Runs the command.
    pub fn execute(self) -> eyre::Result<()> {
        let storage = super::open_initialized(&self.datadir)?;
        let spec = storage.chain_spec().wrap_err("reading the chain spec")?;
        let head = storage.head_number().wrap_err("reading the head")?;
        let target = self
            .to
            .unwrap_or_else(|| head.saturating_sub(self.num_blocks.unwrap_or(0)));
        if target > head {
            bail!("cannot unwind to block {target}: the head is {head}");
        }
        if let Some(finalized) = storage.finalized_head()?
            && finalized.l2_number > target
        {
            tracing::warn!(
                finalized = finalized.l2_number,
                target,
                "unwinding below the finalized head"
            );
        }
        let unwound = ol_chain::unwind_storage(&storage, &spec, target)
            .wrap_err_with(|| format!("unwinding to block {target}"))?;
        let header = storage.head_header().wrap_err("reading the new head")?;
        let report = DbUnwindReport {
            from: unwound.report.from,
            to: unwound.report.to,
            head_hash: unwound.report.head_hash.to_string(),
            state_root: header.state_root.to_string(),
            restored_keys: unwound.report.restored_keys,
            transactions: unwound.transactions.len(),
            lowered_safe: unwound.report.lowered_safe,
            lowered_finalized: unwound.report.lowered_finalized,
        };
        println!("{}", serde_json::to_string(&report)?);
        Ok(())
    }
}
