//! [`TestNode`]: the real `openledger node` under test, started, stopped, killed and restarted
//! on its own temporary data directory, with its log kept for a failing test.

use super::*;

/// A running (or stopped) `openledger node --dev` with its own temporary data directory.
///
/// Layout of the temporary directory: `data/` (the node's `--datadir`) and `node.log` (stdout and
/// stderr of every run, appended, with a banner per start).
///
/// A test ends with [`TestNode::finish`] (graceful stop, then cleanup). Dropping a `TestNode`
/// without `finish` — the test panicked or bailed out with an error — kills a still-running node,
/// prints the tail of its log and keeps the temporary directory (its path is printed).
#[derive(Debug)]
pub struct TestNode {
    dir: Option<TempDir>,
    root: PathBuf,
    datadir: PathBuf,
    log_path: PathBuf,
    child: Option<Child>,
    port: u16,
    url: reqwest::Url,
    provider: Option<DynProvider>,
    starts: u32,
    extra_args: Vec<String>,
    finished: bool,
    ws: bool,
    ws_port: Option<u16>,
    /// `--dev --block-time 1`, or a chain initialised from files ([`TestNode::start_chain`]).
    dev: bool,
}

impl TestNode {
    /// Starts a dev node (`--block-time 1`) on a fresh temporary data directory and waits until
    /// its JSON-RPC answers.
    pub async fn start() -> Result<Self> {
        Self::start_with_args(Vec::new()).await
    }

    /// Like [`TestNode::start`], with extra command-line arguments for `openledger node`.
    pub async fn start_with_args(extra_args: Vec<String>) -> Result<Self> {
        Self::start_inner(extra_args, false).await
    }

    /// Starts a node on a chain of its own: `openledger init --genesis <genesis> --rollup-config
    /// <rollup>` into a fresh data directory, then `openledger node` with `extra_args` (no
    /// `--dev`, no `--block-time`: the rollup's), waiting until its JSON-RPC answers.
    pub async fn start_chain(
        genesis: &Path,
        rollup: &Path,
        extra_args: Vec<String>,
    ) -> Result<Self> {
        let mut node = Self::new_stopped(extra_args, false, false)?;
        let datadir = node.datadir.clone();
        node.run_cli(&[
            OsStr::new("init"),
            OsStr::new("--genesis"),
            genesis.as_os_str(),
            OsStr::new("--rollup-config"),
            rollup.as_os_str(),
            OsStr::new("--datadir"),
            datadir.as_os_str(),
        ])
        .await?
        .ensure_success()?;
        node.spawn_and_wait().await?;
        Ok(node)
    }

    async fn start_inner(extra_args: Vec<String>, ws: bool) -> Result<Self> {
        let mut node = Self::new_stopped(extra_args, ws, true)?;
        node.spawn_and_wait().await?;
        Ok(node)
    }

    fn new_stopped(extra_args: Vec<String>, ws: bool, dev: bool) -> Result<Self> {
        openledger_bin()?; // fail fast, before creating anything, when it is not built
        let dir = tempfile::Builder::new()
            .prefix("openledger-e2e-")
            .tempdir()
            .wrap_err("creating a temporary directory")?;
        let root = dir.path().to_path_buf();
        let datadir = root.join("data");
        let log_path = root.join("node.log");
        let node = Self {
            dir: Some(dir),
            root,
            datadir,
            log_path,
            child: None,
            port: 0,
            url: "http://127.0.0.1:1".parse()?,
            provider: None,
            starts: 0,
            extra_args,
            finished: false,
            ws,
            ws_port: None,
            dev,
        };
        Ok(node)
    }

    /// Like [`TestNode::start`], with the WebSocket server on too (`--ws` on a free port of
    /// 127.0.0.1; see [`TestNode::ws_url`] and [`TestNode::ws_provider`]).
    pub async fn start_with_ws() -> Result<Self> {
        Self::start_with_ws_and_args(Vec::new()).await
    }

    /// Like [`TestNode::start_with_ws`], with extra command-line arguments.
    pub async fn start_with_ws_and_args(extra_args: Vec<String>) -> Result<Self> {
        Self::start_inner(extra_args, true).await
    }

    /// The WebSocket JSON-RPC URL of the current run, when started with WS.
    pub fn ws_url(&self) -> Option<String> {
        self.ws_port.map(|port| format!("ws://127.0.0.1:{port}"))
    }

    /// A provider over WebSocket for the current run that signs with every dev account;
    /// retries the connection for a few seconds (the WS server starts just after HTTP).
    pub async fn ws_provider(&self) -> Result<DynProvider> {
        let url = self
            .ws_url()
            .ok_or_else(|| eyre!("the node was not started with WebSocket (start_with_ws)"))?;
        wait_until(
            &format!("a WebSocket connection to {url}"),
            Duration::from_secs(10),
            Duration::from_millis(100),
            async || {
                let provider = ProviderBuilder::new()
                    .wallet(dev_wallet())
                    .connect_ws(WsConnect::new(url.clone()))
                    .await?;
                Ok(Some(provider.erased()))
            },
        )
        .await
    }

    /// The HTTP JSON-RPC URL of the current run (the port changes on every restart).
    pub fn url(&self) -> &reqwest::Url {
        &self.url
    }

    /// The HTTP JSON-RPC port of the current run.
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// The node's `--datadir`.
    pub fn datadir(&self) -> &Path {
        &self.datadir
    }

    /// The test's temporary directory (scratch space for files the test writes).
    pub fn temp_dir(&self) -> &Path {
        &self.root
    }

    /// The log file (stdout and stderr of every run of this node).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `lines` lines of the node log.
    pub fn log_tail(&self, lines: usize) -> String {
        file_tail(&self.log_path, lines)
    }

    /// A provider for the current run that signs with every dev account (see [`dev_provider`]).
    ///
    /// Providers keep the URL of the run they were made for: get a new one after a restart.
    pub fn provider(&self) -> DynProvider {
        self.provider
            .clone()
            .expect("the node has a provider once started")
    }

    /// Whether the node process was started and has not been reaped yet.
    pub const fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Process id of the running node.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Kills the node with `SIGKILL` (no chance to flush anything) and reaps it.
    pub async fn kill9(&mut self) -> Result<()> {
        let mut child = self
            .child
            .take()
            .ok_or_else(|| eyre!("kill9: the node is not running"))?;
        child.start_kill().wrap_err("sending SIGKILL to the node")?;
        let status = tokio::time::timeout(SHUTDOWN_TIMEOUT, child.wait())
            .await
            .map_err(|_| eyre!("the node did not die within {SHUTDOWN_TIMEOUT:?} of SIGKILL"))??;
        self.note(&format!("killed with SIGKILL ({status})"));
        Ok(())
    }

    /// Stops the node gracefully with `SIGTERM` and waits (at most [`SHUTDOWN_TIMEOUT`]) for it to
    /// exit; a graceful stop must exit with status 0.
    pub async fn stop(&mut self) -> Result<()> {
        self.stop_with_signal(libc::SIGTERM).await
    }

    /// Like [`TestNode::stop`] but with `SIGINT` (Ctrl-C).
    pub async fn interrupt(&mut self) -> Result<()> {
        self.stop_with_signal(libc::SIGINT).await
    }

    async fn stop_with_signal(&mut self, signal: i32) -> Result<()> {
        let mut child = self
            .child
            .take()
            .ok_or_else(|| eyre!("stop: the node is not running"))?;
        let pid = child
            .id()
            .ok_or_else(|| eyre!("the node was already reaped"))?;
        send_signal(i32::try_from(pid)?, signal)?;
        let status = match tokio::time::timeout(SHUTDOWN_TIMEOUT, child.wait()).await {
            Ok(status) => status.wrap_err("waiting for the node to exit")?,
            Err(_) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                self.note("did not exit in time after a stop signal; killed with SIGKILL");
                bail!(
                    "the node did not exit within {SHUTDOWN_TIMEOUT:?} of signal {signal}\n{}",
                    self.log_banner()
                );
            }
        };
        self.note(&format!("stopped by signal {signal}: {status}"));
        ensure!(
            status.success(),
            "the node exited with {status} after signal {signal} (a graceful stop exits 0)\n{}",
            self.log_banner()
        );
        Ok(())
    }

    /// Ends a passing test: stops the node gracefully if it runs (see [`TestNode::stop`]) and
    /// deletes the temporary directory.
    pub async fn finish(mut self) -> Result<()> {
        if self.child.is_some() {
            self.stop().await?;
        }
        self.finished = true;
        Ok(())
    }

    /// The extra command-line arguments the node runs with.
    pub fn extra_args(&self) -> &[String] {
        &self.extra_args
    }

    /// Replaces the extra command-line arguments of the next [`TestNode::restart`].
    pub fn set_extra_args(&mut self, extra_args: Vec<String>) {
        self.extra_args = extra_args;
    }

    /// Starts the node again on the same data directory (after [`TestNode::stop`] or
    /// [`TestNode::kill9`]) on a new free port, and waits until its JSON-RPC answers.
    pub async fn restart(&mut self) -> Result<()> {
        ensure!(
            self.child.is_none(),
            "restart: the node is still running; stop or kill it first"
        );
        self.spawn_and_wait().await
    }

    /// Runs `openledger <args..>` (another subcommand, e.g. `db check`) to completion in the
    /// temporary directory, with a timeout. The exit status is not checked.
    pub async fn run_cli<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<CommandOutput> {
        run_command(&openledger_bin()?, args, &self.root).await
    }

    /// Runs `openledger db check --datadir <datadir>` (the node must be stopped) and returns its
    /// JSON report; fails unless it printed one JSON object.
    pub async fn db_check(&self) -> Result<(CommandOutput, Value)> {
        ensure!(self.child.is_none(), "db check needs the node stopped");
        let datadir = self.datadir.clone();
        let output = self
            .run_cli(&[
                OsStr::new("db"),
                OsStr::new("check"),
                OsStr::new("--datadir"),
                datadir.as_os_str(),
            ])
            .await?;
        let report = output.json()?;
        Ok((output, report))
    }

    /// Appends a harness note to the log, so the log tells what the test did to the process.
    fn note(&self, message: &str) {
        if let Ok(mut log) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
        {
            let _ = writeln!(log, "===== [ol-e2e harness] {message} =====");
        }
    }

    fn log_banner(&self) -> String {
        format!(
            "----- last {LOG_TAIL_LINES} lines of {} -----\n{}\n----- end of node log -----",
            self.log_path.display(),
            self.log_tail(LOG_TAIL_LINES)
        )
    }

    async fn spawn_and_wait(&mut self) -> Result<()> {
        let bin = openledger_bin()?;
        // A port picked by `free_port` may be taken by a parallel test before the node binds it:
        // retry a few times with a new port when the node exits early.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.spawn_once(&bin).await {
                Ok(()) => return Ok(()),
                Err(err) if attempt < 3 && self.child.is_none() => {
                    self.note(&format!(
                        "start attempt {attempt} failed, retrying: {err:#}"
                    ));
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn spawn_once(&mut self, bin: &Path) -> Result<()> {
        self.port = free_port()?;
        self.url = format!("http://127.0.0.1:{}", self.port).parse()?;
        self.starts += 1;
        let mut args: Vec<String> = vec![
            "node".into(),
            "--datadir".into(),
            self.datadir.display().to_string(),
            "--http.addr".into(),
            "127.0.0.1".into(),
            "--http.port".into(),
            self.port.to_string(),
        ];
        if self.dev {
            args.extend([
                "--dev".into(),
                "--block-time".into(),
                DEV_BLOCK_TIME_SECS.to_string(),
            ]);
        }
        if self.ws {
            let ws_port = free_port()?;
            self.ws_port = Some(ws_port);
            args.extend([
                "--ws".into(),
                "--ws.addr".into(),
                "127.0.0.1".into(),
                "--ws.port".into(),
                ws_port.to_string(),
            ]);
        }
        args.extend(self.extra_args.iter().cloned());
        let command_line = describe(bin, &args.iter().map(OsStr::new).collect::<Vec<_>>());
        self.note(&format!("start #{}: {command_line}", self.starts));

        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .wrap_err_with(|| format!("opening {}", self.log_path.display()))?;
        let log_err = log.try_clone()?;
        let child = Command::new(bin)
            .args(&args)
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .env("RUST_BACKTRACE", "1")
            .kill_on_drop(true)
            .spawn()
            .wrap_err_with(|| format!("spawning `{command_line}`"))?;
        self.child = Some(child);
        let provider = dev_provider(&self.url)?;
        self.provider = Some(provider.clone());

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                self.child = None;
                self.note(&format!("exited during startup: {status}"));
                bail!(
                    "the node exited during startup with {status}: `{command_line}`\n{}",
                    self.log_banner()
                );
            }
            match provider.get_block_number().await {
                Ok(_) => return Ok(()),
                Err(err) if Instant::now() >= deadline => {
                    bail!(
                        "the node did not answer eth_blockNumber on {} within {STARTUP_TIMEOUT:?} \
                         (last error: {err})\n{}",
                        self.url,
                        self.log_banner()
                    );
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        let was_running = self.child.is_some();
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            // Reap it so no zombie outlives the test (bounded: SIGKILL cannot be ignored).
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            self.note("killed by the harness at drop (test did not stop the node)");
        }
        if !self.finished || was_running || std::thread::panicking() {
            let mut message = String::new();
            let _ = writeln!(
                message,
                "\n[ol-e2e] test ended abnormally; node log tail follows\n{}",
                self.log_banner()
            );
            if let Some(dir) = self.dir.take() {
                let kept = dir.keep();
                let _ = writeln!(
                    message,
                    "[ol-e2e] kept the node's directory: {}",
                    kept.display()
                );
            }
            eprintln!("{message}");
        }
    }
}
