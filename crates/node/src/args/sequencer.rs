//! Block production settings.

use clap::Args;

/// Block production.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Sequencer")]
pub struct SequencerArgs {
    /// Seconds between blocks
    ///
    /// Defaults to 1 with `--dev`, else to the rollup configuration's `block_time`.
    #[arg(long = "block-time", value_name = "SECS", verbatim_doc_comment, value_parser = clap::value_parser!(u64).range(1..))]
    pub block_time: Option<u64>,

    /// Gas limit of the blocks this node builds
    ///
    /// Defaults to the rollup configuration's system config `gasLimit` (60,000,000 on the dev
    /// chain). At least 1,000,000, the gas of the L1-info deposit that opens every block.
    #[arg(long = "gas-limit", value_name = "GAS", verbatim_doc_comment, value_parser = clap::value_parser!(u64).range(1_000_000..))]
    pub gas_limit: Option<u64>,
}
