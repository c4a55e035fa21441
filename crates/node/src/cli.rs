//! The top-level command line.

use crate::{
    args::LogArgs,
    commands::{
        attribution::AttributionCommand, da::DaCommand, db::DbCommand, explorer::ExplorerCommand,
        factory::FactoryCommand, genesis::GenesisCommand, init::InitCommand, l1::L1Command,
        node::NodeCommand, serve::ServeCommand,
    },
    logging,
};
use clap::{Parser, Subcommand};
use ol_bench::BenchCommand;
use std::process::ExitCode;

/// OpenLedger: an OP Stack L2 sequencer node.
#[derive(Debug, Parser)]
#[command(name = "openledger", version, propagate_version = true)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Commands,

    /// Logging (global: accepted by every command).
    #[command(flatten)]
    pub logs: LogArgs,
}

/// The commands of the binary.
#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Start the node: JSON-RPC server and sequencer
    ///
    /// Runs until SIGINT or SIGTERM, which stop block production after the block in progress
    /// and the RPC server, then exit with status 0.
    #[command(name = "node", verbatim_doc_comment)]
    Node(Box<NodeCommand>),
    /// Initialize a data directory with a genesis file and rollup configuration
    ///
    /// Writes the genesis block and state and prints the genesis hash and state root. Running
    /// it again with the same genesis changes nothing; a data directory that already holds
    /// another chain is refused.
    #[command(name = "init", verbatim_doc_comment)]
    Init(InitCommand),
    /// Database tools.
    #[command(name = "db")]
    Db(DbCommand),
    /// Genesis tools: genesis roots, the dev genesis.
    #[command(name = "genesis")]
    Genesis(GenesisCommand),
    /// Proof of Attribution: lineage indexes, queries, evaluation, benchmarks.
    #[command(name = "attribution")]
    Attribution(Box<AttributionCommand>),
    /// The Model Factory: train LoRA adapters and base models on Datanet documents, with their
    /// attribution artifacts.
    #[command(name = "factory")]
    Factory(Box<FactoryCommand>),
    /// Throughput benchmark: this node against anvil on the same signed transactions
    ///
    /// Starts a dev node and anvil, funds many senders, submits native and ERC-20 transfers
    /// concurrently over JSON-RPC, and reports transactions per second, latency percentiles and
    /// Mgas/s with the node/anvil ratios, plus the in-process ceiling of block production.
    /// `bench rollup` measures the batcher and follower derivation, `bench inference` OpenLoRA
    /// serving (mixed-adapter batches, adapter loads, the adapter cache).
    #[command(name = "bench", verbatim_doc_comment)]
    Bench(Box<BenchCommand>),
    /// Serve a base model and its LoRA adapters over the OpenAI API (OpenLoRA)
    ///
    /// `POST /v1/completions` and `/v1/chat/completions` with the adapter named in `model`,
    /// `GET /v1/models`, `/health` and `/metrics`. Requests for different adapters share one
    /// batch; output is deterministic on the CPU whatever else is in the batch.
    #[command(name = "serve", verbatim_doc_comment)]
    Serve(Box<ServeCommand>),
    /// Data availability: the built-in DA server.
    #[command(name = "da")]
    Da(DaCommand),
    /// L1 tools: deploy the rollup's L1 contracts.
    #[command(name = "l1")]
    L1(L1Command),
    /// Serve the attribution explorer of a node
    ///
    /// Web pages read from the node's JSON-RPC: blocks and transactions, Datanets with their
    /// contributions and curators, models and adapters with prices, paid inferences with the
    /// spans of the output traced to the Datanet, the contributors' weights and paid shares and
    /// the verifier's verdict, and each contributor's earnings. `openledger node --explorer`
    /// serves the same pages next to its own RPC.
    #[command(name = "explorer", verbatim_doc_comment)]
    Explorer(ExplorerCommand),
}

impl Cli {
    /// Runs the parsed command line.
    pub fn execute(self) -> eyre::Result<()> {
        logging::init(&self.logs)?;
        match self.command {
            Commands::Node(command) => command.execute(),
            Commands::Init(command) => command.execute(),
            Commands::Db(command) => command.execute(),
            Commands::Genesis(command) => command.execute(),
            Commands::Attribution(command) => command.execute(),
            Commands::Factory(command) => command.execute(),
            Commands::Bench(command) => command.execute(),
            Commands::Serve(command) => command.execute(),
            Commands::Da(command) => command.execute(),
            Commands::L1(command) => command.execute(),
            Commands::Explorer(command) => command.execute(),
        }
    }
}

/// Parses the process's arguments and runs the command; errors are printed to stderr with their
/// causes, and make the exit status 1.
pub fn run() -> ExitCode {
    match Cli::parse().execute() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}", render_error(&err));
            ExitCode::FAILURE
        }
    }
}

/// `Error: <message>` and one `Caused by:` line per cause that its parent's message does not
/// already spell out.
pub fn render_error(err: &eyre::Report) -> String {
    let mut out = format!("Error: {err}");
    let mut previous = err.to_string();
    for cause in err.chain().skip(1) {
        let message = cause.to_string();
        if !previous.contains(&message) {
            out.push_str(&format!("\n  Caused by: {message}"));
        }
        previous = message;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn causes_already_in_the_message_are_not_repeated() {
        let io = std::io::Error::other("disk on fire");
        let report = eyre::Report::new(std::io::Error::other(format!("cannot read x: {io}")))
            .wrap_err("opening the chain");
        assert_eq!(
            render_error(&report),
            "Error: opening the chain\n  Caused by: cannot read x: disk on fire"
        );
    }

    #[test]
    fn logging_flags_are_global() {
        let cli = Cli::try_parse_from([
            "openledger",
            "db",
            "check",
            "--datadir",
            "/x",
            "-vv",
            "--log.format",
            "json",
        ])
        .unwrap();
        assert_eq!(cli.logs.verbosity, 2);
        assert_eq!(cli.logs.format, crate::args::LogFormat::Json);
        assert_eq!(cli.logs.level(), tracing::level_filters::LevelFilter::TRACE);
    }
}
