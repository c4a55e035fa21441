//! `--datadir`.

use clap::Args;
use std::path::PathBuf;

/// Where the node keeps its files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Datadir")]
pub struct DatadirArgs {
    /// The path to the data directory for all openledger files and subdirectories
    ///
    /// Defaults to `$XDG_DATA_HOME/openledger/<CHAIN>/`, or when `XDG_DATA_HOME` is unset to
    /// `$HOME/.local/share/openledger/<CHAIN>/`, where `<CHAIN>` is `dev` with `--dev` and the
    /// chain id of the `--chain` genesis otherwise. The database lives in its `db/` subdirectory.
    #[arg(long = "datadir", value_name = "DATA_DIR", verbatim_doc_comment)]
    pub datadir: Option<PathBuf>,
}
