//! `openledger da`: the built-in DA server.

use crate::dirs;
use clap::{Args, Subcommand};
use eyre::WrapErr;
use ol_da::{DaServer, DaServerConfig, DaStore, MAX_PAYLOAD_BYTES};
use std::{net::IpAddr, net::SocketAddr, path::PathBuf, time::Duration};
use tracing::info;

/// Data availability tools.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct DaCommand {
    /// The DA command.
    #[command(subcommand)]
    pub command: DaSubcommand,
}

/// The DA commands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum DaSubcommand {
    /// Serve the built-in DA server: eigenda-proxy's and OP's DA HTTP API over RocksDB
    ///
    /// `POST /put` stores a payload and answers a generic commitment
    /// (`0x01 0x4f keccak256(payload)`), `POST /put/0x00<keccak256>` stores one under its
    /// keccak commitment, `GET /get/0x<commitment>` answers it (404 when unknown). Payloads up
    /// to 16 MiB; every put is on disk (synced) before it is acknowledged, so nothing is lost
    /// across restarts. Runs until SIGINT or SIGTERM.
    #[command(verbatim_doc_comment)]
    Serve(DaServeCommand),
}

/// `openledger da serve`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct DaServeCommand {
    /// Data directory; payloads are kept in its `da/` subdirectory
    #[arg(long = "datadir", value_name = "DATA_DIR")]
    pub datadir: PathBuf,

    /// Address to listen on
    #[arg(long = "da.addr", value_name = "ADDR", default_value = "127.0.0.1")]
    pub addr: IpAddr,

    /// Port to listen on (eigenda-proxy's default)
    #[arg(long = "da.port", value_name = "PORT", default_value_t = 3100)]
    pub port: u16,

    /// Largest payload accepted, in bytes
    #[arg(long = "da.max-payload", value_name = "BYTES", default_value_t = MAX_PAYLOAD_BYTES)]
    pub max_payload: usize,

    /// Serve `POST /admin/put-failover` (body `true`/`false`) to make puts answer 503, as
    /// eigenda-proxy's memstore failover switch does: for testing the batcher's fallback
    #[arg(long = "da.admin")]
    pub admin: bool,
}

impl DaCommand {
    /// Runs the command.
    pub fn execute(self) -> eyre::Result<()> {
        match self.command {
            DaSubcommand::Serve(command) => command.execute(),
        }
    }
}

impl DaServeCommand {
    /// Serves until SIGINT or SIGTERM.
    pub fn execute(self) -> eyre::Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .wrap_err("cannot start the tokio runtime")?;
        runtime.block_on(async {
            let path = dirs::da_path(&self.datadir);
            std::fs::create_dir_all(&path)
                .wrap_err_with(|| format!("cannot create {}", path.display()))?;
            let store = DaStore::open(&path)
                .wrap_err_with(|| format!("cannot open the DA store in {}", path.display()))?;
            let config = DaServerConfig {
                max_payload_bytes: self.max_payload,
                admin: self.admin,
                ..DaServerConfig::default()
            };
            let addr = SocketAddr::new(self.addr, self.port);
            let server = DaServer::start(store, addr, config)
                .await
                .wrap_err_with(|| format!("cannot serve DA on {addr}"))?;
            info!(url = %format!("http://{}", server.local_addr()), datadir = %self.datadir.display(), "DA server started");
            super::shutdown_signal().await?;
            info!("stopping the DA server");
            tokio::time::timeout(Duration::from_secs(10), server.stop())
                .await
                .wrap_err("the DA server did not stop within 10 s")?
                .wrap_err("the DA server failed")
        })
    }
}
