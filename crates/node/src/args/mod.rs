//! Command-line argument groups, one struct per help heading (reth's layout).

mod content;
mod datadir;
mod dev;
mod explorer;
mod inference;
mod jobs;
mod log;
mod metrics;
mod p2p;
mod rollup;
mod rpc;
mod sequencer;
mod txpool;
mod verify;

pub use content::ContentArgs;
pub use datadir::DatadirArgs;
pub use dev::DevArgs;
pub use explorer::{DEFAULT_EXPLORER_PORT, ExplorerArgs};
pub use inference::{InferenceArgs, NodeInferenceArgs};
pub use jobs::{JobsArgs, read_key_file};
pub use log::{LogArgs, LogFormat};
pub use metrics::MetricsArgs;
pub use p2p::P2pArgs;
pub use rollup::{Compression, DaPutMode, RollupArgs, signer};
pub use rpc::RpcServerArgs;
pub use sequencer::SequencerArgs;
pub use txpool::TxPoolArgs;
pub use verify::VerifyArgs;

/// Parses a count that must be at least 1.
fn positive_usize(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(count) => Ok(count),
        Err(err) => Err(err.to_string()),
    }
}
