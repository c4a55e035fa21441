//! The Prometheus exporter and the descriptions of the node's metrics.

use eyre::WrapErr;
use metrics::{Unit, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::PrometheusBuilder;
use std::net::SocketAddr;

/// Installs the global Prometheus recorder with its HTTP listener on `addr` and describes the
/// node's metrics. Must run inside a tokio runtime (the listener is spawned on it).
pub fn install_prometheus(addr: SocketAddr) -> eyre::Result<()> {
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .wrap_err_with(|| format!("cannot start the Prometheus exporter on {addr}"))?;
    describe();
    Ok(())
}

/// Describes every metric the node records (names as recorded by `ol-sequencer`).
pub fn describe() {
    describe_gauge!(
        "chain_head_number",
        Unit::Count,
        "Number of the canonical head block"
    );
    describe_histogram!(
        "sequencer_block_execution_seconds",
        Unit::Seconds,
        "Time to build and execute a block, from the start of production to the end of execution"
    );
    describe_histogram!(
        "sequencer_block_state_root_seconds",
        Unit::Seconds,
        "Time to compute a block's state root and the trie and history writes that persist it"
    );
    describe_histogram!(
        "sequencer_block_commit_seconds",
        Unit::Seconds,
        "Time to commit a sealed block to the database (one synced write batch)"
    );
    describe_histogram!(
        "sequencer_block_transactions",
        Unit::Count,
        "User transactions per block (the L1-info deposit is not counted)"
    );
    describe_histogram!(
        "sequencer_block_gas_used",
        Unit::Count,
        "Gas used per block"
    );
}
