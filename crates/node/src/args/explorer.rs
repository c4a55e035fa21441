//! `--explorer.*`: the attribution explorer served by `openledger node` next to its RPC.

use clap::Args;
use ol_explorer::Url;
use std::net::{IpAddr, Ipv4Addr};

/// Default port of the explorer (Otterscan's).
pub const DEFAULT_EXPLORER_PORT: u16 = 5100;

/// The attribution explorer of `openledger node`: web pages read from this node's own RPC.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
#[command(next_help_heading = "Explorer")]
pub struct ExplorerArgs {
    /// Serve the attribution explorer (blocks, Datanets, models, paid inferences with their
    /// traced spans and payouts, contributors) on a port of its own.
    #[arg(long = "explorer")]
    pub explorer: bool,

    /// Address of the explorer.
    #[arg(id = "explorer.addr", long = "explorer.addr", value_name = "ADDR", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST), requires = "explorer")]
    pub addr: IpAddr,

    /// Port of the explorer (0 picks a free port; the bound address is logged).
    #[arg(id = "explorer.port", long = "explorer.port", value_name = "PORT", default_value_t = DEFAULT_EXPLORER_PORT, requires = "explorer")]
    pub port: u16,

    /// JSON-RPC URL of the node whose verifier (`--verify-attributions`) gives the records'
    /// verdicts, such as a follower's; without it, this node's own.
    #[arg(
        id = "explorer.verifier-url",
        long = "explorer.verifier-url",
        value_name = "URL",
        requires = "explorer"
    )]
    pub verifier_url: Option<Url>,
}
