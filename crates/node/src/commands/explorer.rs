//! `openledger explorer`: the attribution explorer against any node's JSON-RPC, and the
//! explorer `openledger node --explorer` serves next to its own.

use crate::args::DEFAULT_EXPLORER_PORT;
use clap::Args;
use eyre::WrapErr;
use ol_explorer::{Reader, Url};
use std::{
    future::Future,
    net::{IpAddr, Ipv4Addr, SocketAddr},
};

/// Serve the attribution explorer of a node
#[derive(Debug, Args)]
pub struct ExplorerCommand {
    /// JSON-RPC URL of the node to show (a sequencer running the job service shows the spans
    /// of each paid inference; any node shows the rest).
    #[arg(
        long = "rpc-url",
        value_name = "URL",
        default_value = "http://127.0.0.1:8545"
    )]
    pub rpc_url: Url,

    /// JSON-RPC URL of the node whose verifier (`--verify-attributions`) gives the records'
    /// verdicts, such as a follower's; without it, the shown node's own.
    #[arg(long = "verifier-url", value_name = "URL")]
    pub verifier_url: Option<Url>,

    /// Address to listen on.
    #[arg(long = "http.addr", value_name = "HTTP_ADDR", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub http_addr: IpAddr,

    /// Port to listen on (0 picks a free port; the bound address is logged).
    #[arg(long = "http.port", value_name = "HTTP_PORT", default_value_t = DEFAULT_EXPLORER_PORT)]
    pub http_port: u16,
}

impl ExplorerCommand {
    /// Serves until SIGINT or SIGTERM.
    pub fn execute(self) -> eyre::Result<()> {
        let runtime = super::service_runtime()?;
        runtime.block_on(async move {
            let mut signals =
                super::signals::Signals::new().wrap_err("cannot watch stop signals")?;
            let listener = bind(SocketAddr::new(self.http_addr, self.http_port)).await?;
            serve(listener, self.rpc_url, self.verifier_url, async move {
                let signal = signals.next().await;
                tracing::info!(signal, "stopping the explorer");
            })
            .await
        })
    }
}

/// Binds the explorer's listener and logs its URL.
pub async fn bind(addr: SocketAddr) -> eyre::Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .wrap_err_with(|| format!("cannot listen for the explorer on {addr}"))?;
    let bound = listener
        .local_addr()
        .wrap_err("reading the explorer's address")?;
    tracing::info!(url = %format!("http://{bound}/"), "attribution explorer started");
    Ok(listener)
}

/// Serves the explorer of the node at `rpc_url` on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    rpc_url: Url,
    verifier_url: Option<Url>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> eyre::Result<()> {
    let reader = Reader::connect(rpc_url, verifier_url).wrap_err("cannot make the RPC client")?;
    ol_explorer::serve(listener, reader, shutdown)
        .await
        .wrap_err("the explorer failed")
}
