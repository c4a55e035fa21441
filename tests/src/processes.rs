//! The other real processes the tests run beside the node: anvil as the L1 and as a reference
//! implementation ([`AnvilProcess`]), and the built-in DA server ([`DaProcess`]).

use super::*;

/// A running `anvil` (the npm-installed Foundry build) used as a reference implementation.
///
/// It runs in its own process group so that killing it also kills the native binary behind the
/// npm wrapper script. Dropping it kills the group.
#[derive(Debug)]
pub struct AnvilProcess {
    child: Option<Child>,
    url: reqwest::Url,
    log_path: PathBuf,
}

impl AnvilProcess {
    /// Starts `anvil --port <free> --silent <args..>` with its output in `log_path`, and waits
    /// (at most [`STARTUP_TIMEOUT`]) until it answers `eth_chainId`.
    pub async fn start<S: AsRef<OsStr>>(args: &[S], log_path: &Path) -> Result<Self> {
        let bin = npm_tool("anvil")?;
        let port = free_port()?;
        let mut all: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
        let port_text = port.to_string();
        all.extend([
            OsStr::new("--port"),
            OsStr::new(&port_text),
            OsStr::new("--silent"),
        ]);
        let command_line = describe(&bin, &all);
        let log =
            File::create(log_path).wrap_err_with(|| format!("creating {}", log_path.display()))?;
        let log_err = log.try_clone()?;
        let child = Command::new(&bin)
            .args(&all)
            .current_dir(log_path.parent().unwrap_or_else(|| Path::new(".")))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .wrap_err_with(|| format!("spawning `{command_line}`"))?;
        let mut anvil = Self {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}").parse()?,
            log_path: log_path.to_path_buf(),
        };
        let provider = anvil.provider()?;
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = anvil
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten())
            {
                anvil.child = None;
                bail!(
                    "anvil exited during startup with {status}: `{command_line}`\n{}",
                    file_tail(&anvil.log_path, LOG_TAIL_LINES)
                );
            }
            match provider.get_chain_id().await {
                Ok(_) => return Ok(anvil),
                Err(err) if Instant::now() >= deadline => bail!(
                    "anvil did not answer on {} within {STARTUP_TIMEOUT:?} ({err}): `{command_line}`\n{}",
                    anvil.url,
                    file_tail(&anvil.log_path, LOG_TAIL_LINES)
                ),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// The HTTP JSON-RPC URL.
    pub fn url(&self) -> &reqwest::Url {
        &self.url
    }

    /// A provider for this anvil (with the dev wallet).
    pub fn provider(&self) -> Result<DynProvider> {
        dev_provider(&self.url)
    }
}

impl Drop for AnvilProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
                let _ = send_signal(-pid, libc::SIGKILL);
            }
            let _ = child.start_kill();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
    }
}

/// `openledger da serve` as a process (the built-in DA server), stopped by a signal or killed
/// when dropped.
#[derive(Debug)]
pub struct DaProcess {
    child: Child,
    base: String,
}

impl DaProcess {
    /// Starts the DA server on `port` with its store under `datadir`, `--da.admin` when `admin`
    /// (the failover switch), and waits until `/health` answers.
    pub async fn start(datadir: &Path, port: u16, admin: bool) -> Result<Self> {
        let mut command = Command::new(openledger_bin()?);
        command
            .args(["da", "serve", "--datadir"])
            .arg(datadir)
            .args(["--da.port", &port.to_string()]);
        if admin {
            command.arg("--da.admin");
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http
                .get(format!("{base}/health"))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success())
            {
                return Ok(Self { child, base });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(eyre!("the DA server did not answer /health on {base}"))
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The process id.
    pub fn pid(&self) -> Result<i32> {
        self.child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .ok_or_else(|| eyre!("the DA server has exited"))
    }

    /// Sends `signal` and waits (at most 20 s) for the exit status.
    pub async fn stop(mut self, signal: i32) -> Result<std::process::ExitStatus> {
        send_signal(self.pid()?, signal)?;
        Ok(tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await??)
    }

    /// Turns eigenda-proxy's failover switch: while on, puts answer 503 (needs `admin`).
    pub async fn set_failover(&self, on: bool) -> Result<()> {
        let response = reqwest::Client::new()
            .post(format!("{}/admin/put-failover", self.base))
            .body(if on { "true" } else { "false" })
            .send()
            .await?;
        ensure!(
            response.status().is_success(),
            "failover switch: {}",
            response.status()
        );
        Ok(())
    }
}
