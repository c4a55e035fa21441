//! The rollup: L1 connection, DA, follower mode, batcher and proposer.

use super::rpc::parse_duration;
use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::{Address, B256};
use clap::{Args, ValueEnum};
use ol_batcher::BatcherConfig;
use ol_rollup::CompressionAlgo;
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// Which commitments the DA client asks the DA server for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum DaPutMode {
    /// `POST /put`: the server's commitment (eigenda-proxy certificates; generic, type 1).
    #[default]
    Generic,
    /// `POST /put/0x00<keccak>`: keccak commitments (OP Alt-DA type 0).
    Keccak,
}

/// Channel compression of the batcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Compression {
    /// Brotli level 10 (Fjord channel version byte 1).
    #[default]
    Brotli,
    /// zlib (pre-Fjord channels).
    Zlib,
}

/// The rollup flags.
#[derive(Debug, Clone, PartialEq, Eq, Default, Args)]
#[command(next_help_heading = "Rollup")]
pub struct RollupArgs {
    /// JSON-RPC endpoint of L1 (any Ethereum node; anvil in the devnet)
    ///
    /// With it the sequencer takes its L1 origins and deposits from L1 and derivation confirms
    /// its safe head; without it (the dev chain) every block stays on the genesis L1 block.
    #[arg(long = "l1.rpc", value_name = "URL", verbatim_doc_comment)]
    pub l1_rpc: Option<String>,

    /// L1 blocks kept between the L1 head and the newest L1 block used (op-node's
    /// `sequencer.l1-confs` / `verifier.l1-confs`)
    #[arg(long = "l1.confirmations", value_name = "BLOCKS", default_value_t = 4)]
    pub l1_confirmations: u64,

    /// Pause between L1 polls
    #[arg(long = "l1.poll-interval", value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub l1_poll_interval: Duration,

    /// Run as a follower: no sequencer; every block is derived from L1 + DA
    #[arg(long = "follow", requires = "l1_rpc")]
    pub follow: bool,

    /// The sequencer's JSON-RPC, to which a follower forwards `eth_sendRawTransaction`
    /// (op-geth's `--rollup.sequencerhttp`); without it a follower refuses transactions
    #[arg(
        long = "rollup.sequencer-http",
        value_name = "URL",
        requires = "follow",
        verbatim_doc_comment
    )]
    pub sequencer_http: Option<String>,

    /// DA server (eigenda-proxy or `openledger da serve`) for batches and derivation
    #[arg(long = "da.url", value_name = "URL")]
    pub da_url: Option<String>,

    /// Serve the built-in DA server from this process on ADDR:PORT (payloads in
    /// `<datadir>/da`) and use it as `--da.url`; followers point their `--da.url` at it
    #[arg(
        long = "da.builtin",
        value_name = "ADDR:PORT",
        conflicts_with = "da_url",
        verbatim_doc_comment
    )]
    pub da_builtin: Option<std::net::SocketAddr>,

    /// Commitments the batcher asks the DA server for
    #[arg(long = "da.put-mode", value_name = "MODE", value_enum, default_value_t = DaPutMode::Generic)]
    pub da_put_mode: DaPutMode,

    /// Time allowed to one DA request
    #[arg(long = "da.timeout", value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub da_timeout: Duration,

    /// Batcher key (hex): runs the batcher, which must be the rollup's batcher address
    #[arg(
        long = "batcher.key",
        value_name = "HEX",
        env = "OPENLEDGER_BATCHER_KEY",
        hide_env_values = true,
        conflicts_with = "follow",
        requires = "l1_rpc"
    )]
    pub batcher_key: Option<B256>,

    /// File holding the batcher key (hex), instead of `--batcher.key`: keeps the key out of the
    /// command line and the environment (a secret mounted into a container)
    #[arg(
        long = "batcher.key-file",
        value_name = "PATH",
        conflicts_with_all = ["batcher_key", "follow"],
        requires = "l1_rpc"
    )]
    pub batcher_key_file: Option<PathBuf>,

    /// L1 blocks after which an open channel is posted even if not full
    #[arg(long = "batcher.max-channel-duration", value_name = "BLOCKS", default_value_t = BatcherConfig::default().max_channel_age_l1)]
    pub batcher_max_channel_duration: u64,

    /// Wall time after which an open channel is posted even if not full
    #[arg(long = "batcher.max-channel-age", value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub batcher_max_channel_age: Duration,

    /// Compressed bytes at which a channel is closed
    #[arg(long = "batcher.max-channel-size", value_name = "BYTES", default_value_t = BatcherConfig::default().max_channel_size)]
    pub batcher_max_channel_size: usize,

    /// Largest frame in a DA payload, overhead included
    #[arg(long = "batcher.max-frame-size", value_name = "BYTES", default_value_t = BatcherConfig::default().max_frame_size)]
    pub batcher_max_frame_size: usize,

    /// Channel compression
    #[arg(long = "batcher.compression", value_name = "ALGO", value_enum, default_value_t = Compression::Brotli)]
    pub batcher_compression: Compression,

    /// Proposer key (hex): posts output roots to the L2 output oracle
    #[arg(long = "proposer.key", value_name = "HEX", env = "OPENLEDGER_PROPOSER_KEY", hide_env_values = true, group = PROPOSER_KEYS, conflicts_with = "follow", requires_all = ["l1_rpc", "proposer_oracle"])]
    pub proposer_key: Option<B256>,

    /// File holding the proposer key (hex), instead of `--proposer.key`
    #[arg(long = "proposer.key-file", value_name = "PATH", group = PROPOSER_KEYS, conflicts_with = "follow", requires_all = ["l1_rpc", "proposer_oracle"])]
    pub proposer_key_file: Option<PathBuf>,

    /// The L2OutputOracle contract on L1
    #[arg(
        long = "proposer.l2oo",
        value_name = "ADDRESS",
        requires = PROPOSER_KEYS
    )]
    pub proposer_oracle: Option<Address>,

    /// Unsafe-block gossip.
    #[command(flatten)]
    pub p2p: super::P2pArgs,
}

/// The group of the two ways to give the proposer's key (at most one).
const PROPOSER_KEYS: &str = "proposer_keys";

impl RollupArgs {
    /// The batcher's signer, from `--batcher.key` or `--batcher.key-file`; `None` runs no
    /// batcher.
    pub fn batcher_signer(&self) -> eyre::Result<Option<PrivateKeySigner>> {
        key_from(
            self.batcher_key.as_ref(),
            self.batcher_key_file.as_deref(),
            "--batcher.key",
        )
    }

    /// The proposer's signer, from `--proposer.key` or `--proposer.key-file`; `None` runs no
    /// proposer.
    pub fn proposer_signer(&self) -> eyre::Result<Option<PrivateKeySigner>> {
        key_from(
            self.proposer_key.as_ref(),
            self.proposer_key_file.as_deref(),
            "--proposer.key",
        )
    }

    /// The batcher settings from the flags.
    pub fn batcher_config(&self) -> BatcherConfig {
        BatcherConfig {
            max_channel_age_l1: self.batcher_max_channel_duration,
            max_channel_age: self.batcher_max_channel_age,
            max_channel_size: self.batcher_max_channel_size,
            max_frame_size: self.batcher_max_frame_size,
            compression: match self.batcher_compression {
                Compression::Brotli => CompressionAlgo::BROTLI_10,
                Compression::Zlib => CompressionAlgo::ZLIB_BEST,
            },
            ..BatcherConfig::default()
        }
    }
}

/// The signer of a key given on the command line.
pub fn signer(key: &B256, flag: &str) -> eyre::Result<PrivateKeySigner> {
    PrivateKeySigner::from_bytes(key)
        .map_err(|err| eyre::eyre!("{flag} is not a valid secp256k1 key: {err}"))
}

/// The signer of `flag`, given inline or (`<flag>-file`) in a file.
fn key_from(
    key: Option<&B256>,
    file: Option<&Path>,
    flag: &str,
) -> eyre::Result<Option<PrivateKeySigner>> {
    match (key, file) {
        (Some(key), _) => signer(key, flag).map(Some),
        (None, Some(file)) => super::read_key_file(file, &format!("{flag}-file")).map(Some),
        (None, None) => Ok(None),
    }
}
