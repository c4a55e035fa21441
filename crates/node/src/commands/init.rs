//! `openledger init`.

use clap::Args;
use eyre::{WrapErr, eyre};
use std::path::PathBuf;
use tracing::{info, warn};

/// Writes the genesis block and state of a chain into a data directory.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct InitCommand {
    /// The L2 genesis file (go-ethereum format: config, alloc, gasLimit, ...).
    #[arg(long = "genesis", visible_alias = "chain", value_name = "GENESIS_JSON")]
    pub genesis: PathBuf,

    /// The rollup configuration (op-node's `rollup.json` format).
    #[arg(long = "rollup-config", value_name = "ROLLUP_JSON")]
    pub rollup_config: PathBuf,

    /// The data directory to initialise
    ///
    /// Defaults to `$XDG_DATA_HOME/openledger/<CHAIN_ID>/`, or
    /// `$HOME/.local/share/openledger/<CHAIN_ID>/` when `XDG_DATA_HOME` is unset.
    #[arg(
        long = "datadir",
        value_name = "DATA_DIR",
        help_heading = "Datadir",
        verbatim_doc_comment
    )]
    pub datadir: Option<PathBuf>,
}

impl InitCommand {
    /// Runs the command.
    pub fn execute(self) -> eyre::Result<()> {
        let spec = ol_primitives::load_genesis(&self.genesis, &self.rollup_config)
            .wrap_err("loading the genesis and rollup configuration")?;
        let chain_id = spec.chain_id();
        let datadir = match self.datadir {
            Some(datadir) => datadir,
            None => crate::dirs::default_datadir(&chain_id.to_string()).ok_or_else(|| {
                eyre!("cannot find a default data directory (HOME is not set): pass --datadir")
            })?,
        };
        std::fs::create_dir_all(&datadir)
            .wrap_err_with(|| format!("cannot create the data directory {}", datadir.display()))?;
        let storage = super::open_storage(&datadir)?;
        let existed = storage.is_initialized().wrap_err("reading the database")?;
        if existed {
            super::check_stored_chain(&storage, &spec)
                .wrap_err_with(|| format!("cannot initialise {}", datadir.display()))?;
        }
        let header = storage.init_genesis(&spec).wrap_err_with(|| {
            format!(
                "cannot initialise {} with the genesis in {}",
                datadir.display(),
                self.genesis.display()
            )
        })?;
        if existed {
            info!(datadir = %datadir.display(), "the data directory already holds this genesis; nothing to do");
        } else {
            info!(datadir = %datadir.display(), chain_id, hash = %header.hash(), "genesis written");
        }
        let missed =
            super::missed_slots(header.timestamp, super::unix_now(), spec.rollup.block_time);
        if !existed && missed >= super::CATCH_UP_WARN_SLOTS {
            warn!(
                genesis_timestamp = header.timestamp,
                missed_blocks = missed,
                "the genesis timestamp is far in the past: on its first start the sequencer will \
                 produce every block since then back to back (give the genesis a recent timestamp, \
                 or use `openledger node --dev`)"
            );
        }
        println!("chain id:     {chain_id}");
        println!("genesis hash: {}", header.hash());
        println!("state root:   {}", header.state_root);
        println!("datadir:      {}", datadir.display());
        Ok(())
    }
}
