//! `--dev` and `--dev.*`.

use clap::Args;

/// The development chain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Dev")]
pub struct DevArgs {
    /// Start a single-node development chain
    ///
    /// The first start initialises the data directory from the embedded dev genesis: chain id
    /// 1611, every OP hardfork through Jovian active, and the ten accounts of the mnemonic
    /// `test test test test test test test test test test test junk` (anvil's and hardhat's)
    /// funded with 10,000 OPEN each; the genesis timestamp is the current time. Later starts
    /// reuse the chain found in the data directory. Blocks are sealed every second unless
    /// `--block-time` says otherwise.
    #[arg(long = "dev", verbatim_doc_comment)]
    pub dev: bool,

    /// Chain id of a new dev chain (default: 1611)
    ///
    /// Only applies when `--dev` initialises the data directory; a data directory that already
    /// holds a chain with another chain id is refused.
    #[arg(long = "dev.chain-id", value_name = "CHAIN_ID", requires = "dev", verbatim_doc_comment, value_parser = clap::value_parser!(u64).range(1..))]
    pub chain_id: Option<u64>,
}
