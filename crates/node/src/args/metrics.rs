//! `--metrics`.

use clap::Args;
use std::net::SocketAddr;

/// Prometheus metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Metrics")]
pub struct MetricsArgs {
    /// Enable Prometheus metrics
    ///
    /// The metrics will be served at the given interface and port, e.g. `127.0.0.1:9001`
    /// (scrape `http://127.0.0.1:9001/metrics`).
    #[arg(long = "metrics", value_name = "ADDR:PORT", verbatim_doc_comment)]
    pub prometheus: Option<SocketAddr>,
}
