//! The processes the benchmark drives: `openledger node --dev` (this very binary) and anvil,
//! each on a free port with its output in a log file, stopped when the benchmark is done.

use super::client::RpcClient;
use eyre::{WrapErr, bail, eyre};
use std::{
    collections::HashMap,
    fs::File,
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};
use tempfile::TempDir;
use tokio::process::{Child, Command};

/// The dev chain's block gas limit, the node's default.
pub(crate) const DEV_GAS_LIMIT: u64 = 60_000_000;

/// How long a target may take to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running chain under load.
#[derive(Debug)]
pub(crate) struct Target {
    /// Its name in reports.
    pub(crate) name: &'static str,
    /// Its JSON-RPC client.
    pub(crate) client: Arc<RpcClient>,
    /// Its Prometheus endpoint, when it has one.
    pub(crate) metrics_url: Option<String>,
    child: Child,
    log: PathBuf,
    _dir: TempDir,
}

fn free_port() -> eyre::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// anvil from `--anvil`, else the npm-installed one of this checkout, else `anvil` on `PATH`.
pub(crate) fn find_anvil(explicit: Option<&Path>) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_path_buf();
    }
    let bundled = Path::new("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    if bundled.exists() {
        return bundled.to_path_buf();
    }
    PathBuf::from("anvil")
}

impl Target {
    async fn spawn(
        name: &'static str,
        program: &Path,
        args: Vec<String>,
        port: u16,
        metrics_url: Option<String>,
        dir: TempDir,
    ) -> eyre::Result<Self> {
        let log = dir.path().join(format!("{name}.log"));
        let out = File::create(&log).wrap_err_with(|| format!("creating {}", log.display()))?;
        let child = Command::new(program)
            .args(&args)
            .stdout(out.try_clone()?)
            .stderr(out)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .wrap_err_with(|| format!("starting {}", program.display()))?;
        let client = Arc::new(RpcClient::new(format!("http://127.0.0.1:{port}"))?);
        let mut target = Self {
            name,
            client,
            metrics_url,
            child,
            log,
            _dir: dir,
        };
        target.wait_ready().await?;
        Ok(target)
    }

    /// This binary as a dev sequencer with pool limits that hold the whole workload.
    pub(crate) async fn openledger(gas_limit: u64, block_time: u64) -> eyre::Result<Self> {
        Self::openledger_args(gas_limit, block_time, Vec::new()).await
    }

    /// [`Self::openledger`] at a 1 s block time, with `extra` flags.
    pub(crate) async fn openledger_with(gas_limit: u64, extra: Vec<String>) -> eyre::Result<Self> {
        Self::openledger_args(gas_limit, 1, extra).await
    }

    async fn openledger_args(
        gas_limit: u64,
        block_time: u64,
        extra: Vec<String>,
    ) -> eyre::Result<Self> {
        let dir = tempfile::tempdir()?;
        let (port, metrics_port) = (free_port()?, free_port()?);
        let metrics = format!("127.0.0.1:{metrics_port}");
        let args = [
            "node",
            "--dev",
            "--datadir",
            &dir.path().join("data").display().to_string(),
            "--http.port",
            &port.to_string(),
            "--metrics",
            &metrics,
            "--gas-limit",
            &gas_limit.to_string(),
            "--block-time",
            &block_time.to_string(),
            "--txpool.pending-max-count",
            "1000000",
            "--txpool.queued-max-count",
            "1000000",
            "--txpool.max-account-slots",
            "1000000",
            // The setup sends the deployer's hundreds of transactions at once.
            "--txpool.max-nonce-gap",
            "1000000",
        ]
        .map(str::to_owned)
        .into_iter()
        .chain(extra)
        .collect();
        let exe = std::env::current_exe().wrap_err("locating the openledger binary")?;
        Self::spawn(
            "openledger",
            &exe,
            args,
            port,
            Some(format!("http://{metrics}/metrics")),
            dir,
        )
        .await
    }

    /// anvil with the same chain id, accounts (its default mnemonic is the dev one), block
    /// time and gas limit.
    pub(crate) async fn anvil(bin: &Path, gas_limit: u64, block_time: u64) -> eyre::Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let args = [
            "--port",
            &port.to_string(),
            "--chain-id",
            &ol_primitives::dev::DEV_CHAIN_ID.to_string(),
            "--block-time",
            &block_time.to_string(),
            "--gas-limit",
            &gas_limit.to_string(),
            "--silent",
        ]
        .map(str::to_owned)
        .to_vec();
        Self::spawn("anvil", bin, args, port, None, dir).await
    }

    async fn wait_ready(&mut self) -> eyre::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited with {status} while starting; its log is {}:\n{}",
                    self.name,
                    self.log.display(),
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if self.client.block_number().await.is_ok() {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                bail!("{} did not answer within {START_TIMEOUT:?}", self.name);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The unlabelled samples of the target's Prometheus endpoint, by name.
    pub(crate) async fn scrape(&self) -> eyre::Result<HashMap<String, f64>> {
        let url = self
            .metrics_url
            .as_ref()
            .ok_or_else(|| eyre!("{} exports no metrics", self.name))?;
        let text = alloy::transports::http::reqwest::get(url)
            .await?
            .text()
            .await?;
        Ok(text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (name, value) = line.split_once(' ')?;
                Some((name.to_owned(), value.trim().parse().ok()?))
            })
            .collect())
    }

    /// The last `lines` lines of the target's log.
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Stops the process (the temporary directory goes with it).
    pub(crate) async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
