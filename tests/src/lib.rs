//! Whole-system tests that start the real openledger binary and drive it with real clients.
//!
//! This library is the shared harness of the `e2e` and `rpc` test binaries:
//!
//! * [`TestNode`] spawns `openledger node --dev` on a fresh temporary data directory and a free
//!   port, waits until its JSON-RPC answers, captures its logs, and can kill it (`SIGKILL`), stop
//!   it gracefully (`SIGTERM`) and restart it on the same data directory. When a test fails while
//!   a node is still alive, the tail of the node's log is printed and the temporary directory is
//!   kept for inspection. [`TestNode::start_with_ws`] also serves WebSocket (`--ws` on its own free
//!   port); [`TestNode::ws_provider`] connects alloy to it.
//! * [`dev_signer`] and friends derive the ten dev accounts of the dev genesis.
//! * [`AnvilProcess`] runs the npm-installed `anvil` as a reference implementation.
//! * Small helpers to wait for blocks and receipts, sign raw transactions and run external
//!   commands with a timeout.
//!
//! The binary under test is `$OPENLEDGER_BIN` if set, else `openledger` next to the directory
//! of the test executable (`$CARGO_TARGET_DIR/debug/openledger`): build it first with
//! `cargo build -p openledger`.

use std::{
    borrow::Cow,
    ffi::OsStr,
    fmt::Write as _,
    fs::{File, OpenOptions},
    io::Write as _,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    time::{Duration, Instant},
};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718,
    network::{EthereumWallet, TxSignerSync},
    primitives::{Address, B256, Bytes, TxHash, TxKind, U256},
    providers::{DynProvider, Provider, ProviderBuilder, WsConnect},
    rpc::{client::RpcClient, types::TransactionReceipt},
    signers::local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English},
    transports::http::{Http, reqwest},
};
use eyre::{Context as _, Result, bail, ensure, eyre};
use serde_json::Value;
use tempfile::TempDir;
use tokio::process::{Child, Command};

/// Bindings of the contracts the tests deploy, generated from their build artifacts.
pub mod contracts {
    #![allow(
        missing_docs,
        missing_debug_implementations,
        unreachable_pub,
        clippy::all,
        clippy::pedantic,
        rustdoc::all
    )]

    alloy::sol!(
        #[sol(rpc)]
        EventEmitter,
        "../contracts/artifacts/EventEmitter.json"
    );
}

/// The mnemonic of the dev accounts (the same as anvil's and hardhat's).
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// Number of funded dev accounts in the dev genesis.
pub const DEV_ACCOUNT_COUNT: u32 = 10;

/// Chain id of the dev chain.
pub const DEV_CHAIN_ID: u64 = 1611;

/// Block time (seconds) the tests run the dev sequencer with.
pub const DEV_BLOCK_TIME_SECS: u64 = 1;

/// How long a freshly spawned node may take before its JSON-RPC answers.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a node may take to exit after `SIGTERM`.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a submitted transaction may take to be mined (dozens of 1 s blocks).
pub const RECEIPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Timeout of a single JSON-RPC request.
pub const RPC_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an external tool (`cast`, `python3`, `openledger db check`, ...) may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Lines of the node log printed when a test fails.
const LOG_TAIL_LINES: usize = 80;

/// Genesis balance of every dev account: 10,000 OPEN.
pub fn dev_account_balance() -> U256 {
    U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18u64))
}

/// One ether / OPEN in wei.
pub fn one_ether() -> U256 {
    U256::from(10u64).pow(U256::from(18u64))
}

/// The workspace root (the directory holding `genesis/`, `contracts/`, `node_modules/`).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or_else(|| manifest.to_path_buf(), Path::to_path_buf)
}

/// Path of the dev genesis file (`genesis/dev.json`).
pub fn dev_genesis_path() -> PathBuf {
    repo_root().join("genesis").join("dev.json")
}

/// Path of a file of the repository given relative to its root, checked to exist.
pub fn repo_file(relative: &str) -> Result<PathBuf> {
    let path = repo_root().join(relative);
    ensure!(
        path.exists(),
        "{} does not exist (expected in the repository)",
        path.display()
    );
    Ok(path)
}

/// Path of the `openledger` binary under test.
///
/// `$OPENLEDGER_BIN` if set, else `<dir of the test executable>/../openledger`, which is
/// `$CARGO_TARGET_DIR/debug/openledger` for test executables in `debug/deps/`.
pub fn openledger_bin() -> Result<PathBuf> {
    let path = match std::env::var_os("OPENLEDGER_BIN") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => {
            let exe = std::env::current_exe().wrap_err("cannot locate the test executable")?;
            let deps = exe
                .parent()
                .ok_or_else(|| eyre!("test executable has no parent dir"))?;
            let profile_dir = deps
                .parent()
                .map_or_else(|| deps.join(".."), Path::to_path_buf);
            profile_dir.join(format!("openledger{}", std::env::consts::EXE_SUFFIX))
        }
    };
    ensure!(
        path.is_file(),
        "the openledger binary was not found at {}: run `cargo build -p openledger` first \
         (with the same CARGO_TARGET_DIR as the tests), or point OPENLEDGER_BIN at it",
        path.display()
    );
    Ok(path)
}

/// Path of an npm-installed Foundry tool (`cast`, `anvil`), checked to exist.
///
/// Prefers the native binary of the platform package
/// (`node_modules/@foundry-rs/<tool>-<os>-<arch>/bin/<tool>`) over the `node_modules/.bin/<tool>`
/// wrapper script: the wrapper always exits 0 (it drops the tool's exit status) and runs the tool
/// as a child process, which makes exit statuses and signals unreliable.
pub fn npm_tool(name: &str) -> Result<PathBuf> {
    let modules = repo_root().join("node_modules");
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let binary = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let native = modules
        .join("@foundry-rs")
        .join(format!("{name}-{os}-{arch}"))
        .join("bin")
        .join(&binary);
    if native.is_file() {
        return Ok(native);
    }
    let wrapper = modules.join(".bin").join(name);
    ensure!(
        wrapper.exists(),
        "{} not found (nor {}): run `npm ci` in the repository root to install the pinned \
         Foundry tools",
        wrapper.display(),
        native.display()
    );
    Ok(wrapper)
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, then release it).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").wrap_err("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// The signer of dev account `index` (0..10) of [`DEV_MNEMONIC`].
pub fn dev_signer(index: u32) -> PrivateKeySigner {
    MnemonicBuilder::<English>::default()
        .phrase(DEV_MNEMONIC)
        .index(index)
        .and_then(|builder| builder.build())
        .unwrap_or_else(|err| panic!("deriving dev account {index}: {err}"))
}

/// The signers of all dev accounts, in index order.
pub fn dev_signers() -> Vec<PrivateKeySigner> {
    (0..DEV_ACCOUNT_COUNT).map(dev_signer).collect()
}

/// The address of dev account `index`.
pub fn dev_address(index: u32) -> Address {
    dev_signer(index).address()
}

/// The private key of dev account `index` as `0x`-prefixed hex (for `cast --private-key`).
pub fn dev_private_key_hex(index: u32) -> String {
    format!(
        "0x{}",
        alloy::primitives::hex::encode(dev_signer(index).to_bytes())
    )
}

/// A wallet holding every dev account; dev account 0 is the default signer.
pub fn dev_wallet() -> EthereumWallet {
    let mut signers = dev_signers().into_iter();
    let mut wallet = EthereumWallet::new(signers.next().expect("at least one dev account"));
    for signer in signers {
        wallet.register_signer(signer);
    }
    wallet
}

/// A provider for `url` that signs with every dev account (see [`dev_wallet`]) and gives every
/// request a [`RPC_REQUEST_TIMEOUT`].
pub fn dev_provider(url: &reqwest::Url) -> Result<DynProvider> {
    let http = reqwest::Client::builder()
        .timeout(RPC_REQUEST_TIMEOUT)
        .build()
        .wrap_err("building the HTTP client")?;
    let client = RpcClient::new(Http::with_client(http, url.clone()), true);
    Ok(ProviderBuilder::new()
        .wallet(dev_wallet())
        .connect_client(client)
        .erased())
}

/// Sends a JSON-RPC request and returns the raw JSON result (`null` included). `params` is
/// serialized as given: `()` for none, a tuple `(a, b)` for positional parameters.
pub async fn raw_rpc<P: serde::Serialize>(
    provider: &DynProvider,
    method: &str,
    params: P,
) -> Result<Value> {
    let params = serde_json::to_value(params).wrap_err("serializing JSON-RPC params")?;
    // `()` serializes to `null`; JSON-RPC wants an empty list.
    let params = if params.is_null() {
        Value::Array(Vec::new())
    } else {
        params
    };
    let method_name: Cow<'static, str> = Cow::Owned(method.to_owned());
    provider
        .raw_request(method_name, params)
        .await
        .wrap_err_with(|| format!("{method} failed"))
}

/// Init code that copies `payload` into memory and ends with the opcode `ending` on it:
/// `RETURN` (`0xf3`) deploys `payload` as the contract's code, `REVERT` (`0xfd`) reverts with it
/// as the revert data.
pub fn init_code(payload: &[u8], ending: u8) -> Bytes {
    let len = u16::try_from(payload.len())
        .unwrap_or(u16::MAX)
        .to_be_bytes();
    // PUSH2 len; PUSH2 13 (the payload's offset); PUSH0; CODECOPY; PUSH2 len; PUSH0; <ending>
    let mut code = vec![0x61, len[0], len[1], 0x61, 0x00, 0x0d, 0x5f, 0x39];
    code.extend_from_slice(&[0x61, len[0], len[1], 0x5f, ending]);
    code.extend_from_slice(payload);
    Bytes::from(code)
}

/// The JSON-RPC error code and message of a failed raw call (`None` when it succeeded).
pub async fn rpc_error<P: serde::Serialize>(
    provider: &DynProvider,
    method: &str,
    params: P,
) -> Result<Option<(i64, String)>> {
    let params = serde_json::to_value(params)?;
    match provider
        .raw_request::<_, Value>(method.to_owned().into(), params)
        .await
    {
        Ok(_) => Ok(None),
        Err(err) => {
            let payload = err
                .as_error_resp()
                .ok_or_else(|| eyre!("{method} failed without a JSON-RPC error: {err}"))?;
            Ok(Some((payload.code, payload.message.to_string())))
        }
    }
}

/// `eth_getTransactionReceipt` as raw JSON, keeping the OP fields (`l1Fee`, ...).
pub async fn raw_receipt(provider: &DynProvider, hash: TxHash) -> Result<Option<Value>> {
    let value = raw_rpc(provider, "eth_getTransactionReceipt", (hash,)).await?;
    Ok(if value.is_null() { None } else { Some(value) })
}

/// Reads a hex quantity field (`"0x.."`) of a JSON object.
pub fn json_quantity(object: &Value, field: &str) -> Result<U256> {
    let text = object
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| eyre!("field `{field}` missing or not a string in {object}"))?;
    text.parse::<U256>()
        .wrap_err_with(|| format!("field `{field}` = {text:?} is not a quantity"))
}

/// Reads a 32-byte hex field of a JSON object.
pub fn json_b256(object: &Value, field: &str) -> Result<B256> {
    let text = object
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| eyre!("field `{field}` missing or not a string in {object}"))?;
    text.parse::<B256>()
        .wrap_err_with(|| format!("field `{field}` = {text:?} is not 32-byte hex"))
}

/// Polls until `check` yields `Some`, every `interval`, for at most `timeout`.
///
/// `what` describes the awaited condition for the timeout error. Errors of `check` are retried
/// too (the last one is reported on timeout).
pub async fn wait_until<T>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut check: impl AsyncFnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        let last_error = match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => None,
            Err(err) => Some(err),
        };
        if Instant::now() >= deadline {
            return Err(match last_error {
                Some(err) => {
                    err.wrap_err(format!("timed out after {timeout:?} waiting for {what}"))
                }
                None => eyre!("timed out after {timeout:?} waiting for {what}"),
            });
        }
        tokio::time::sleep(interval).await;
    }
}

/// Waits for the receipt of `hash` (at most [`RECEIPT_TIMEOUT`]).
pub async fn wait_for_receipt(provider: &DynProvider, hash: TxHash) -> Result<TransactionReceipt> {
    wait_until(
        &format!("the receipt of {hash}"),
        RECEIPT_TIMEOUT,
        Duration::from_millis(100),
        async || Ok(provider.get_transaction_receipt(hash).await?),
    )
    .await
}

/// Waits until the head block number is at least `number`; returns the head number.
pub async fn wait_for_block(provider: &DynProvider, number: u64) -> Result<u64> {
    // One block per DEV_BLOCK_TIME_SECS; allow generous slack.
    let head = provider.get_block_number().await.unwrap_or(0);
    let blocks = number.saturating_sub(head);
    let timeout = Duration::from_secs(20 + 3 * blocks * DEV_BLOCK_TIME_SECS);
    wait_until(
        &format!("block {number}"),
        timeout,
        Duration::from_millis(100),
        async || {
            let head = provider.get_block_number().await?;
            Ok((head >= number).then_some(head))
        },
    )
    .await
}

/// EIP-1559 fee caps for hand-signed transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    /// `maxFeePerGas`.
    pub max_fee_per_gas: u128,
    /// `maxPriorityFeePerGas`.
    pub max_priority_fee_per_gas: u128,
}

/// Fee caps with plenty of headroom: the node's EIP-1559 estimate with the fee cap doubled.
pub async fn generous_fees(provider: &DynProvider) -> Result<Fees> {
    let estimate = provider
        .estimate_eip1559_fees()
        .await
        .wrap_err("estimating EIP-1559 fees")?;
    Ok(Fees {
        max_fee_per_gas: estimate.max_fee_per_gas.saturating_mul(2).max(1),
        max_priority_fee_per_gas: estimate.max_priority_fee_per_gas,
    })
}

/// Signs an EIP-1559 transaction; returns its hash and its EIP-2718 encoding for
/// `eth_sendRawTransaction`.
#[allow(clippy::too_many_arguments)]
pub fn sign_eip1559(
    signer: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    to: TxKind,
    value: U256,
    input: Bytes,
    gas_limit: u64,
    fees: Fees,
) -> Result<(TxHash, Bytes)> {
    let mut tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: fees.max_fee_per_gas,
        max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        to,
        value,
        access_list: Default::default(),
        input,
    };
    let signature = signer
        .sign_transaction_sync(&mut tx)
        .wrap_err("signing a transaction")?;
    let envelope = TxEnvelope::from(tx.into_signed(signature));
    Ok((*envelope.tx_hash(), Bytes::from(envelope.encoded_2718())))
}

/// Signs a plain value transfer (21,000 gas); see [`sign_eip1559`].
pub fn sign_transfer(
    signer: &PrivateKeySigner,
    nonce: u64,
    to: Address,
    value: U256,
    fees: Fees,
) -> Result<(TxHash, Bytes)> {
    sign_eip1559(
        signer,
        DEV_CHAIN_ID,
        nonce,
        TxKind::Call(to),
        value,
        Bytes::new(),
        21_000,
        fees,
    )
}

/// What an external command printed and how it exited.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    /// The command line, for messages.
    pub command: String,
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl CommandOutput {
    /// Fails (with everything printed) unless the command exited with status 0.
    pub fn ensure_success(self) -> Result<Self> {
        ensure!(self.status.success(), "{self}");
        Ok(self)
    }

    /// Parses standard output as one JSON document.
    pub fn json(&self) -> Result<Value> {
        serde_json::from_str(self.stdout.trim())
            .wrap_err_with(|| format!("stdout is not a JSON document:\n{self}"))
    }
}

impl std::fmt::Display for CommandOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.status,
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }
}

/// Describes a command for messages: program and arguments.
fn describe(program: &Path, args: &[&OsStr]) -> String {
    let mut line = program.display().to_string();
    for arg in args {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Runs `program args..` in `cwd` with a [`COMMAND_TIMEOUT`], capturing its output; the exit
/// status is not checked (see [`CommandOutput::ensure_success`]).
pub async fn run_command<S: AsRef<OsStr>>(
    program: &Path,
    args: &[S],
    cwd: &Path,
) -> Result<CommandOutput> {
    let args: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
    let command = describe(program, &args);
    let child = Command::new(program)
        .args(&args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .wrap_err_with(|| format!("spawning `{command}`"))?;
    let output = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| eyre!("`{command}` did not finish within {COMMAND_TIMEOUT:?}"))?
        .wrap_err_with(|| format!("waiting for `{command}`"))?;
    Ok(CommandOutput {
        command,
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// Sends `signal` to process `pid` (or, with a negative `pid`, to its process group).
pub fn send_signal(pid: i32, signal: i32) -> Result<()> {
    // SAFETY: kill(2) has no memory-safety preconditions; callers only signal processes they
    // spawned and have not reaped yet, so the pid cannot have been reused.
    let rc = unsafe { libc::kill(pid, signal) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        // ESRCH: it is already gone (e.g. exited on its own) — nothing to signal.
        if err.raw_os_error() != Some(libc::ESRCH) {
            return Err(err).wrap_err_with(|| format!("kill({pid}, {signal})"));
        }
    }
    Ok(())
}

/// The last `lines` lines of a text file (or a note why it cannot be read).
pub fn file_tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(err) => format!("<cannot read {}: {err}>", path.display()),
    }
}

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
