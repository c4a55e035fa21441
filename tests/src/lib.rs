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

/// Bindings of the contracts the tests deploy or call (the dev genesis's Proof of Attribution
/// suite), generated from their build artifacts.
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
    alloy::sol!(
        #[sol(rpc)]
        CallTree,
        "../contracts/artifacts/CallTree.json"
    );
    alloy::sol!(
        #[sol(rpc)]
        CallTreeChild,
        "../contracts/artifacts/CallTreeChild.json"
    );
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        DatanetRegistry,
        "../contracts/artifacts/DatanetRegistry.json"
    );
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        ModelRegistry,
        "../contracts/artifacts/ModelRegistry.json"
    );
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        InferenceMarket,
        "../contracts/artifacts/InferenceMarket.json"
    );
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        Staking,
        "../contracts/artifacts/Staking.json"
    );
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        IProofOfAttribution,
        "../contracts/artifacts/IProofOfAttribution.json"
    );
}

pub mod content;
pub mod lifecycle;
mod node;
pub mod private;
mod processes;
pub mod training;

pub use node::TestNode;
pub use processes::{AnvilProcess, DaProcess};

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
        _ => profile_dir()?.join(format!("openledger{}", std::env::consts::EXE_SUFFIX)),
    };
    ensure!(
        path.is_file(),
        "the openledger binary was not found at {}: run `cargo build -p openledger` first \
         (with the same CARGO_TARGET_DIR as the tests), or point OPENLEDGER_BIN at it",
        path.display()
    );
    Ok(path)
}

/// The cargo profile directory the test executable was built into (`target/debug`), where the
/// binary under test and the tests' artifacts live.
pub fn profile_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().wrap_err("cannot locate the test executable")?;
    let deps = exe
        .parent()
        .ok_or_else(|| eyre!("test executable has no parent dir"))?;
    Ok(deps
        .parent()
        .map_or_else(|| deps.join(".."), Path::to_path_buf))
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

/// Waits for the receipt of a sent transaction and checks its status.
pub async fn mined(
    provider: &DynProvider,
    pending: alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
    success: bool,
    what: &str,
) -> Result<TransactionReceipt> {
    let receipt = wait_for_receipt(provider, *pending.tx_hash()).await?;
    ensure!(
        receipt.status() == success,
        "{what}: expected status {success}, got {receipt:?}"
    );
    Ok(receipt)
}

/// The first log of `E` in a receipt.
pub fn event<E: alloy::sol_types::SolEvent>(receipt: &TransactionReceipt) -> Result<E> {
    receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| log.log_decode::<E>().ok())
        .map(|log| log.inner.data)
        .ok_or_else(|| {
            eyre!(
                "no {} event in {:?}",
                E::SIGNATURE,
                receipt.transaction_hash
            )
        })
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

    /// Parses the last line of standard output as JSON: the summary a script prints last.
    pub fn last_line_json(&self) -> Result<Value> {
        let line = self
            .stdout
            .lines()
            .last()
            .ok_or_else(|| eyre!("no summary line:\n{self}"))?;
        serde_json::from_str(line)
            .wrap_err_with(|| format!("the summary line is not JSON:\n{self}"))
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
    run_command_with_env(program, args, cwd, &[]).await
}

/// [`run_command`] with extra environment variables.
pub async fn run_command_with_env<S: AsRef<OsStr>>(
    program: &Path,
    args: &[S],
    cwd: &Path,
    env: &[(&str, String)],
) -> Result<CommandOutput> {
    let args: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
    let command = describe(program, &args);
    let child = Command::new(program)
        .args(&args)
        .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
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
