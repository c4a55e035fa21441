//! A whole local rollup for one test, torn down when dropped.

use alloy::{
    consensus::Transaction as _,
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::BlockTransactionsKind,
    sol,
    sol_types::SolCall,
    transports::http::reqwest,
};
use eyre::{Result, WrapErr, ensure, eyre};
use ol_e2e::{
    AnvilProcess, DaProcess, TestNode, dev_private_key_hex, free_port, npm_tool, openledger_bin,
    raw_rpc, run_command, wait_until,
};
use serde_json::Value;
use std::time::Duration;
use tempfile::TempDir;

sol! {
    struct OutputProposal {
        bytes32 outputRoot;
        uint128 timestamp;
        uint128 l2BlockNumber;
    }
    function getL2Output(uint256 index) external view returns (OutputProposal memory);
    function latestOutputIndex() external view returns (uint256);
}

/// The dev mnemonic's accounts the devnet gives L1 roles (as `openledger l1 deploy` defaults).
pub(crate) const BATCHER_INDEX: u32 = 8;
/// The proposer's account index.
pub(crate) const PROPOSER_INDEX: u32 = 9;
/// The unsafe block signer's account index (`--p2p.sequencer.key`).
pub(crate) const UNSAFE_SIGNER_INDEX: u32 = 13;

/// Flags the sequencer and the follower share: quick L1 polls, DA at `da`.
fn l1_flags(anvil: &AnvilProcess, da: &str, confirmations: u64) -> Vec<String> {
    vec![
        "--l1.rpc".into(),
        anvil.url().to_string(),
        "--l1.confirmations".into(),
        confirmations.to_string(),
        "--l1.poll-interval".into(),
        "300ms".into(),
        "--da.url".into(),
        da.to_owned(),
        // Every node listens for p2p on a free port of its own; followers peer only when a test
        // gives them `--p2p.static`.
        "--p2p.listen.ip".into(),
        "127.0.0.1".into(),
        "--p2p.listen.tcp".into(),
        "0".into(),
    ]
}

/// The flags of a follower of this devnet.
fn follower_flags(anvil: &AnvilProcess, da: &str) -> Vec<String> {
    let mut args = l1_flags(anvil, da, 1);
    args.push("--follow".into());
    args
}

/// anvil, the deployment, DA, a sequencer and a follower.
#[derive(Debug)]
pub(crate) struct Devnet {
    pub(crate) dir: TempDir,
    pub(crate) anvil: AnvilProcess,
    /// The DA server process, unless the sequencer serves DA itself (`--da.builtin`).
    pub(crate) da: Option<DaProcess>,
    /// The DA URL followers use.
    pub(crate) da_url: String,
    pub(crate) deployment: Value,
    pub(crate) sequencer: TestNode,
    pub(crate) follower: TestNode,
    /// Prometheus ports of the sequencer and the follower.
    pub(crate) metrics: (u16, u16),
}

impl Devnet {
    /// Starts anvil (1 s blocks), deploys, starts DA (a process with the failover switch, or
    /// with `builtin_da` inside the sequencer), the sequencer (`sequencer_confirmations` L1
    /// confirmations, batcher, proposer) and the follower (1).
    pub(crate) async fn start(sequencer_confirmations: u64, builtin_da: bool) -> Result<Self> {
        Self::start_with(sequencer_confirmations, builtin_da, Vec::new(), Vec::new()).await
    }

    /// [`Devnet::start`] with more flags for the sequencer and for the follower.
    pub(crate) async fn start_with(
        sequencer_confirmations: u64,
        builtin_da: bool,
        sequencer_extra: Vec<String>,
        follower_extra: Vec<String>,
    ) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("openledger-rollup-")
            .tempdir()?;
        let anvil =
            AnvilProcess::start(&["--block-time", "1"], &dir.path().join("anvil.log")).await?;
        let out = dir.path().join("devnet");
        run_command(
            &openledger_bin()?,
            &[
                "l1",
                "deploy",
                "--l1.rpc",
                anvil.url().as_str(),
                "--out",
                out.to_str().ok_or_else(|| eyre!("temp path"))?,
            ],
            dir.path(),
        )
        .await?
        .ensure_success()?;
        let deployment: Value =
            serde_json::from_slice(&std::fs::read(out.join("l1-deployment.json"))?)?;
        let (da, da_url) = if builtin_da {
            (None, format!("http://127.0.0.1:{}", free_port()?))
        } else {
            let da = DaProcess::start(&dir.path().join("da"), free_port()?, true).await?;
            let url = da.base().to_owned();
            (Some(da), url)
        };
        let genesis = out.join("genesis.json");
        let rollup = out.join("rollup.json");

        let metrics = (free_port()?, free_port()?);
        let mut sequencer_args = l1_flags(&anvil, &da_url, sequencer_confirmations);
        if builtin_da {
            // The sequencer serves DA itself at the URL the follower uses.
            let at = sequencer_args
                .iter()
                .position(|arg| arg == "--da.url")
                .ok_or_else(|| eyre!("no --da.url"))?;
            sequencer_args[at] = "--da.builtin".into();
            sequencer_args[at + 1] = da_url.trim_start_matches("http://").to_owned();
        }
        sequencer_args.extend(["--metrics".into(), format!("127.0.0.1:{}", metrics.0)]);
        sequencer_args.extend([
            "--batcher.key".into(),
            dev_private_key_hex(BATCHER_INDEX),
            "--batcher.max-channel-duration".into(),
            "1".into(),
            "--batcher.max-channel-age".into(),
            "2s".into(),
            "--proposer.key".into(),
            dev_private_key_hex(PROPOSER_INDEX),
            "--proposer.l2oo".into(),
            address(&deployment, "l2OutputOracle")?.to_string(),
            "--p2p.sequencer.key".into(),
            dev_private_key_hex(UNSAFE_SIGNER_INDEX),
        ]);
        sequencer_args.extend(sequencer_extra);
        let sequencer = TestNode::start_chain(&genesis, &rollup, sequencer_args).await?;
        let mut follower_args = follower_flags(&anvil, &da_url);
        follower_args.extend([
            "--metrics".into(),
            format!("127.0.0.1:{}", metrics.1),
            "--rollup.sequencer-http".into(),
            sequencer.url().to_string(),
        ]);
        follower_args.extend(follower_extra);
        let follower = TestNode::start_chain(&genesis, &rollup, follower_args).await?;
        Ok(Self {
            dir,
            anvil,
            da,
            da_url,
            deployment,
            sequencer,
            follower,
            metrics,
        })
    }

    /// The L2 genesis `openledger l1 deploy` wrote.
    pub(crate) fn genesis_path(&self) -> std::path::PathBuf {
        self.dir.path().join("devnet/genesis.json")
    }

    /// The rollup config `openledger l1 deploy` wrote.
    pub(crate) fn rollup_path(&self) -> std::path::PathBuf {
        self.dir.path().join("devnet/rollup.json")
    }

    /// Flags for another follower of this devnet.
    pub(crate) fn follower_args(&self) -> Vec<String> {
        follower_flags(&self.anvil, &self.da_url)
    }

    /// An address from `l1-deployment.json`.
    pub(crate) fn address(&self, field: &str) -> Result<Address> {
        address(&self.deployment, field)
    }

    /// `cast` with arguments, against anvil; fails unless it exits 0. Returns stdout.
    pub(crate) async fn cast(&self, args: &[&str]) -> Result<String> {
        let url = self.anvil.url().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--rpc-url", &url]);
        let output = run_command(&npm_tool("cast")?, &all, self.dir.path())
            .await?
            .ensure_success()?;
        Ok(output.stdout.trim().to_owned())
    }

    /// Stops both nodes gracefully and removes the directories.
    pub(crate) async fn finish(self) -> Result<()> {
        self.follower.finish().await?;
        self.sequencer.finish().await?;
        Ok(())
    }
}

/// The sum over all label sets of Prometheus counter `name` on `port` (0 when not exported yet).
pub(crate) async fn metric(port: u16, name: &str) -> Result<f64> {
    metric_with(port, name, "").await
}

/// [`metric`] over the label sets whose text contains `labels` (`result="applied"`).
pub(crate) async fn metric_with(port: u16, name: &str, labels: &str) -> Result<f64> {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
                && line.contains(labels)
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

fn address(deployment: &Value, field: &str) -> Result<Address> {
    deployment[field]
        .as_str()
        .ok_or_else(|| eyre!("l1-deployment.json has no {field}: {deployment}"))?
        .parse()
        .wrap_err_with(|| format!("l1-deployment.json {field}"))
}

/// The first p2p multiaddr of a node (`opp2p_self`), what another node passes as
/// `--p2p.static`.
/// The network starts after the RPC server (it reads the signer from L1): wait for it.
pub(crate) async fn p2p_addr(node: &TestNode) -> Result<String> {
    wait_until(
        "p2p up",
        Duration::from_secs(20),
        Duration::from_millis(100),
        async || {
            let Ok(local) = raw_rpc(&node.provider(), "opp2p_self", ()).await else {
                return Ok(None);
            };
            Ok(local["addresses"][0].as_str().map(str::to_owned))
        },
    )
    .await
}

/// `optimism_syncStatus` of a node.
pub(crate) async fn sync_status(node: &TestNode) -> Result<Value> {
    raw_rpc(&node.provider(), "optimism_syncStatus", ()).await
}

/// The safe L2 head number of a node.
pub(crate) async fn safe_number(node: &TestNode) -> Result<u64> {
    let status = sync_status(node).await?;
    status["safe_l2"]["number"]
        .as_u64()
        .ok_or_else(|| eyre!("syncStatus without safe_l2.number: {status}"))
}

/// Waits until `node`'s safe head reaches `number` (at most `timeout`).
pub(crate) async fn wait_for_safe(node: &TestNode, number: u64, timeout: Duration) -> Result<u64> {
    wait_until(
        &format!("safe head {number}"),
        timeout,
        Duration::from_millis(500),
        async || Ok(Some(safe_number(node).await?).filter(|safe| *safe >= number)),
    )
    .await
    .wrap_err_with(|| format!("node log:\n{}", node.log_tail(40)))
}

/// Waits (at most `timeout`) until the follower's safe head passes the sequencer's current
/// head, then compares the two chains block by block; returns the follower's safe head.
pub(crate) async fn follower_catches_up(devnet: &Devnet, timeout: Duration) -> Result<u64> {
    let head = devnet.sequencer.provider().get_block_number().await?;
    let safe = wait_for_safe(&devnet.follower, head, timeout).await?;
    assert_same_chain(
        &devnet.sequencer.provider(),
        &devnet.follower.provider(),
        safe,
    )
    .await?;
    Ok(safe)
}

/// Checks that both nodes have the same block hash at every height up to `upto`.
pub(crate) async fn assert_same_chain(a: &DynProvider, b: &DynProvider, upto: u64) -> Result<()> {
    for number in 0..=upto {
        let ours = block_hash(a, number).await?;
        let theirs = block_hash(b, number).await?;
        ensure!(
            ours == theirs,
            "block {number} differs: sequencer {ours}, follower {theirs}"
        );
    }
    Ok(())
}

async fn block_hash(provider: &DynProvider, number: u64) -> Result<B256> {
    Ok(provider
        .get_block_by_number(number.into())
        .await?
        .ok_or_else(|| eyre!("block {number} missing"))?
        .header
        .hash)
}

/// The calldata of every transaction sent to `inbox` in L1 blocks `from..=to`.
pub(crate) async fn inbox_payloads(
    l1: &DynProvider,
    inbox: Address,
    from: u64,
    to: u64,
) -> Result<Vec<Bytes>> {
    let mut payloads = Vec::new();
    for number in from..=to {
        let block = l1
            .get_block_by_number(number.into())
            .kind(BlockTransactionsKind::Full)
            .await?
            .ok_or_else(|| eyre!("L1 block {number} missing"))?;
        for tx in block.transactions.txns() {
            if tx.inner.to() == Some(inbox) {
                payloads.push(tx.inner.input().clone());
            }
        }
    }
    Ok(payloads)
}

/// The oracle's output at `index`: (output root, L2 block number).
pub(crate) async fn oracle_output(devnet: &Devnet, index: u64) -> Result<(B256, u64)> {
    let l1 = devnet.anvil.provider()?;
    let oracle = devnet.address("l2OutputOracle")?;
    let call = getL2OutputCall {
        index: U256::from(index),
    };
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(oracle)
        .input(call.abi_encode().into());
    let raw = l1.call(tx).await?;
    let output = getL2OutputCall::abi_decode_returns(&raw)?;
    Ok((output.outputRoot, u64::try_from(output.l2BlockNumber)?))
}

/// How many outputs the oracle holds.
pub(crate) async fn oracle_outputs(devnet: &Devnet) -> Result<u64> {
    let l1 = devnet.anvil.provider()?;
    let oracle = devnet.address("l2OutputOracle")?;
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(oracle)
        .input(latestOutputIndexCall {}.abi_encode().into());
    match l1.call(tx).await {
        // latestOutputIndex reverts (underflow) while the oracle is empty.
        Err(_) => Ok(0),
        Ok(raw) => Ok(latestOutputIndexCall::abi_decode_returns(&raw)?.to::<u64>() + 1),
    }
}
