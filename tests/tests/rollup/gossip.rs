//! Unsafe blocks over real libp2p on 127.0.0.1: two followers (one peered with the sequencer,
//! one only with the other follower) keep `latest` within two blocks of the sequencer's under a
//! stream of transactions, with equal hashes; a follower killed with SIGKILL catches up from its
//! peer (`payload_by_number`); a test peer's block signed by the wrong key is rejected, and one
//! signed by the right key that does not execute is dropped and its sender scored down, neither
//! changing the chain; a conflicting block from a rogue sequencer holding the signer key is taken
//! first (first seen wins) and replaced by the derived block when derivation reaches it.

use crate::devnet::{Devnet, UNSAFE_SIGNER_INDEX, metric_with, p2p_addr};
use alloy::{
    consensus::Sealable,
    primitives::{Address, TxKind, U256},
    providers::Provider,
};
use eyre::{Result, ensure, eyre};
use ol_e2e::{TestNode, dev_signer, free_port, generous_fees, raw_rpc, sign_eip1559, wait_until};
use ol_p2p::network::{BlockWithTransactions, Keypair, NetworkConfig, PayloadSource};
use std::{sync::Arc, time::Duration};

/// Most blocks a follower's `latest` may trail the sequencer's.
const MAX_LAG: u64 = 2;

/// Serves nothing: the test peer only publishes and asks.
struct NoBlocks;

impl PayloadSource for NoBlocks {
    fn block(&self, _: u64) -> Option<BlockWithTransactions> {
        None
    }
}

/// Sends transfers from dev account `index` through `provider` until the task is aborted.
async fn transfers(provider: alloy::providers::DynProvider, index: u32) -> Result<()> {
    let chain_id = provider.get_chain_id().await?;
    let signer = dev_signer(index);
    let mut nonce = provider.get_transaction_count(signer.address()).await?;
    loop {
        let fees = generous_fees(&provider).await?;
        for _ in 0..10 {
            let (_, raw) = sign_eip1559(
                &signer,
                chain_id,
                nonce,
                TxKind::Call(Address::repeat_byte(0x77)),
                U256::from(1),
                Default::default(),
                21_000,
                fees,
            )?;
            let _pending = provider.send_raw_transaction(&raw).await?;
            nonce += 1;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn head(node: &TestNode) -> Result<u64> {
    Ok(node.provider().get_block_number().await?)
}

/// Blocks 1..=`upto` have the same hashes on every node.
async fn same_blocks(nodes: &[&TestNode], upto: u64) -> Result<()> {
    for number in (1..=upto).rev().step_by(3) {
        let mut hashes = Vec::new();
        for node in nodes {
            let block = node
                .provider()
                .get_block_by_number(number.into())
                .await?
                .ok_or_else(|| eyre!("block {number} missing"))?;
            hashes.push(block.header.hash);
        }
        ensure!(
            hashes.windows(2).all(|pair| pair[0] == pair[1]),
            "block {number} differs: {hashes:?}"
        );
    }
    Ok(())
}

/// Waits until `node`'s `latest` is within [`MAX_LAG`] of the sequencer's.
async fn at_head(devnet: &Devnet, node: &TestNode, timeout: Duration) -> Result<u64> {
    wait_until(
        "the follower at the sequencer's head",
        timeout,
        Duration::from_millis(200),
        async || {
            let (sequencer, follower) = (head(&devnet.sequencer).await?, head(node).await?);
            Ok((follower + MAX_LAG >= sequencer).then_some(follower))
        },
    )
    .await
    .map_err(|err| eyre!("{err}\nfollower log:\n{}", node.log_tail(30)))
}

fn follower_args(devnet: &Devnet, static_peer: &str, metrics: u16) -> Vec<String> {
    let mut args = devnet.follower_args();
    args.extend([
        "--p2p.static".into(),
        static_peer.to_owned(),
        "--metrics".into(),
        format!("127.0.0.1:{metrics}"),
    ]);
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_stay_at_the_sequencers_head_over_gossip() -> Result<()> {
    let devnet = Devnet::start(2, true).await?;
    let sequencer_addr = p2p_addr(&devnet.sequencer).await?;
    let ports = (free_port()?, free_port()?);
    let near = TestNode::start_chain(
        &devnet.genesis_path(),
        &devnet.rollup_path(),
        follower_args(&devnet, &sequencer_addr, ports.0),
    )
    .await?;
    let near_addr = p2p_addr(&near).await?;
    let mut far = TestNode::start_chain(
        &devnet.genesis_path(),
        &devnet.rollup_path(),
        follower_args(&devnet, &near_addr, ports.1),
    )
    .await?;

    let load = tokio::spawn(transfers(devnet.sequencer.provider(), 3));
    let timeout = Duration::from_secs(90);
    at_head(&devnet, &near, timeout).await?;
    at_head(&devnet, &far, timeout).await?;
    // Past the catch-up from genesis, under load, every sample of both followers is within two
    // blocks.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut lags = Vec::new();
    for _ in 0..40 {
        let sequencer = head(&devnet.sequencer).await?;
        let near_lag = sequencer.saturating_sub(head(&near).await?);
        let far_lag = sequencer.saturating_sub(head(&far).await?);
        lags.push((near_lag, far_lag));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let worst = lags.iter().map(|(a, b)| *a.max(b)).max().unwrap_or(0);
    ensure!(
        worst <= MAX_LAG,
        "a follower trailed by {worst} blocks; (near, far) lags: {lags:?}\nfar log:\n{}",
        far.log_tail(40)
    );
    let upto = head(&far).await?.min(head(&near).await?);
    same_blocks(&[&devnet.sequencer, &near, &far], upto).await?;
    let safe = crate::devnet::safe_number(&far).await?;
    ensure!(
        upto > safe,
        "the far follower's latest {upto} is not ahead of its safe head {safe}: not from gossip"
    );
    ensure!(metric_with(ports.1, "p2p_unsafe_blocks_total", "result=\"applied\"").await? > 0.0);
    // op-node's refs: the unsafe head is the gossiped one.
    let unsafe_ref = metric_with(ports.1, "refs_number", "type=\"l2_unsafe\"").await?;
    ensure!(
        unsafe_ref >= upto as f64,
        "refs_number l2_unsafe {unsafe_ref}, latest {upto}: {:?}",
        reqwest::get(format!("http://127.0.0.1:{}/metrics", ports.1))
            .await?
            .text()
            .await?
            .lines()
            .filter(|line| line.contains("refs") || line.contains("head_number"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    );

    // Killed and restarted with DA out of reach (derivation cannot close the gap), the far
    // follower fills the gap from its peer.
    far.kill9().await?;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let mut args = follower_args(&devnet, &near_addr, ports.1);
    let da = args
        .iter()
        .position(|arg| arg == "--da.url")
        .ok_or_else(|| eyre!("no --da.url"))?;
    args[da + 1] = format!("http://127.0.0.1:{}", free_port()?);
    far.set_extra_args(args);
    far.restart().await?;
    at_head(&devnet, &far, Duration::from_secs(60)).await?;
    let fetched = crate::devnet::metric(ports.1, "p2p_gap_blocks_fetched_total").await?;
    ensure!(
        fetched > 0.0,
        "the restarted follower fetched no block from its peer:\n{}",
        far.log_tail(80)
    );
    load.abort();
    let upto = head(&far).await?;
    same_blocks(&[&devnet.sequencer, &near, &far], upto).await?;

    far.finish().await?;
    near.finish().await?;
    devnet.finish().await
}

/// A test peer on the follower's p2p network, signing with `key`. It validates what it receives
/// against the real signer, as every peer does (else it would score down the honest peers and
/// stop sending to them).
async fn test_peer(
    static_peers: Vec<String>,
    key: alloy::signers::local::PrivateKeySigner,
    chain_id: u64,
    shutdown: &tokio::sync::watch::Receiver<bool>,
) -> Result<ol_p2p::network::Network> {
    Ok(ol_p2p::network::start(
        NetworkConfig {
            chain_id,
            listen: "/ip4/127.0.0.1/tcp/0".parse()?,
            static_peers: static_peers
                .iter()
                .map(|addr| addr.parse())
                .collect::<Result<_, _>>()?,
            keypair: Keypair::generate_secp256k1(),
            unsafe_block_signer: dev_signer(UNSAFE_SIGNER_INDEX).address(),
            sequencer_key: Some(key),
            max_peers: 30,
        },
        Arc::new(NoBlocks),
        shutdown.clone(),
    )
    .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrongly_signed_and_invalid_blocks_change_nothing() -> Result<()> {
    let devnet = Devnet::start(2, true).await?;
    let sequencer_addr = p2p_addr(&devnet.sequencer).await?;
    let port = free_port()?;
    let follower = TestNode::start_chain(
        &devnet.genesis_path(),
        &devnet.rollup_path(),
        follower_args(&devnet, &sequencer_addr, port),
    )
    .await?;
    at_head(&devnet, &follower, Duration::from_secs(90)).await?;
    let follower_addr = p2p_addr(&follower).await?;
    let chain_id = devnet.sequencer.provider().get_chain_id().await?;
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let sequencer_peer: ol_p2p::network::Multiaddr = sequencer_addr.parse()?;
    let sequencer_id = sequencer_peer
        .iter()
        .find_map(|protocol| match protocol {
            ol_p2p::network::Protocol::P2p(peer) => Some(peer),
            _ => None,
        })
        .ok_or_else(|| eyre!("no peer id in {sequencer_addr}"))?;

    // A peer with another key: its block is rejected for its signer.
    let impostor = test_peer(
        vec![follower_addr.clone(), sequencer_addr.clone()],
        dev_signer(12),
        chain_id,
        &shutdown,
    )
    .await?;
    // A peer with the real key, whose block does not execute.
    let forger = test_peer(
        vec![follower_addr.clone(), sequencer_addr.clone()],
        dev_signer(UNSAFE_SIGNER_INDEX),
        chain_id,
        &shutdown,
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let latest = head(&devnet.sequencer).await?;
    let (header, txs) = impostor
        .handle
        .request_block(sequencer_id, latest)
        .await?
        .ok_or_else(|| eyre!("the sequencer does not serve block {latest}"))?;
    ensure!(header.number == latest);
    impostor.handle.publish(&header, &txs).await?;
    let rejected = wait_until(
        "the impostor's block rejected",
        Duration::from_secs(20),
        Duration::from_millis(200),
        async || {
            Ok(
                (metric_with(port, "p2p_gossip_messages_total", "reason=\"signer\"").await? >= 1.0)
                    .then_some(()),
            )
        },
    )
    .await;
    if let Err(err) = rejected {
        let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await?
            .text()
            .await?;
        let p2p: Vec<_> = metrics
            .lines()
            .filter(|line| line.starts_with("p2p_"))
            .collect();
        eyre::bail!(
            "{err}: follower metrics {p2p:?}\nfollower log:\n{}",
            follower.log_tail(30)
        );
    }

    let rollup: serde_json::Value = serde_json::from_slice(&std::fs::read(devnet.rollup_path())?)?;
    let block_time = rollup["block_time"]
        .as_u64()
        .ok_or_else(|| eyre!("rollup.json without block_time"))?;
    // Block N+1 made of block N's transactions, signed by the real key: valid gossip, but it
    // does not execute to its hash. Retried in case the real N+1 wins the race.
    let mut dropped = false;
    for _ in 0..5 {
        let tip = head(&follower).await?;
        let (parent, parent_txs) = forger
            .handle
            .request_block(sequencer_id, tip)
            .await?
            .ok_or_else(|| eyre!("block {tip} not served"))?;
        let mut forged = parent.inner().clone();
        forged.parent_hash = parent.hash();
        forged.number = tip + 1;
        forged.timestamp = parent.timestamp + block_time;
        let forged = forged.seal_slow();
        forger.handle.publish(&forged, &parent_txs).await?;
        tokio::time::sleep(Duration::from_millis(700)).await;
        if metric_with(port, "p2p_unsafe_blocks_total", "result=\"invalid\"").await? >= 1.0 {
            dropped = true;
            break;
        }
    }
    ensure!(dropped, "no forged block was executed and dropped");
    // The follower scored the impostor down (opp2p_peers refreshes scores every 2 s).
    let impostor_id = impostor.handle.local_peer_id().to_string();
    wait_until(
        "the impostor scored down",
        Duration::from_secs(10),
        Duration::from_millis(250),
        async || {
            let peers = raw_rpc(&follower.provider(), "opp2p_peers", (true,)).await?;
            let score = peers["peers"][&impostor_id]["peerScores"]["gossip"].as_f64();
            Ok(score.filter(|score| *score < 0.0))
        },
    )
    .await?;

    // Nothing of theirs is in the chain: the follower still agrees with the sequencer.
    at_head(&devnet, &follower, Duration::from_secs(30)).await?;
    let upto = head(&follower).await?;
    same_blocks(&[&devnet.sequencer, &follower], upto).await?;
    follower.finish().await?;
    devnet.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_unsafe_block_gives_way_to_the_derived_chain() -> Result<()> {
    let devnet = Devnet::start(2, true).await?;
    // A rogue sequencer holding the real signer key, on the same L1 and genesis, that never
    // batches and cannot read DA (so it never reorgs onto the real chain).
    let mut rogue_args: Vec<String> = devnet
        .follower_args()
        .into_iter()
        .filter(|arg| arg != "--follow")
        .collect();
    let da = rogue_args
        .iter()
        .position(|arg| arg == "--da.url")
        .ok_or_else(|| eyre!("no --da.url"))?;
    rogue_args[da + 1] = format!("http://127.0.0.1:{}", free_port()?);
    rogue_args.extend([
        "--p2p.sequencer.key".into(),
        ol_e2e::dev_private_key_hex(UNSAFE_SIGNER_INDEX),
    ]);
    let rogue =
        TestNode::start_chain(&devnet.genesis_path(), &devnet.rollup_path(), rogue_args).await?;
    // A follower whose only peer is the rogue.
    let port = free_port()?;
    let victim = TestNode::start_chain(
        &devnet.genesis_path(),
        &devnet.rollup_path(),
        follower_args(&devnet, &p2p_addr(&rogue).await?, port),
    )
    .await?;

    // A transfer only the rogue has: its block at that height differs from the sequencer's.
    let provider = rogue.provider();
    let fees = generous_fees(&provider).await?;
    let (hash, raw) = sign_eip1559(
        &dev_signer(4),
        provider.get_chain_id().await?,
        0,
        TxKind::Call(Address::repeat_byte(0x55)),
        U256::from(5),
        Default::default(),
        21_000,
        fees,
    )?;
    let _pending = provider.send_raw_transaction(&raw).await?;
    let receipt = ol_e2e::wait_for_receipt(&provider, hash).await?;
    let number = receipt
        .block_number
        .ok_or_else(|| eyre!("receipt without a block"))?;
    let rogue_block = receipt
        .block_hash
        .ok_or_else(|| eyre!("receipt without a block hash"))?;
    let block_hash = async |node: &TestNode| -> Result<Option<alloy::primitives::B256>> {
        Ok(node
            .provider()
            .get_block_by_number(number.into())
            .await?
            .map(|block| block.header.hash))
    };
    // First seen wins: the victim takes the rogue's block as its unsafe block.
    wait_until(
        "the victim on the rogue's block",
        Duration::from_secs(30),
        Duration::from_millis(100),
        async || Ok((block_hash(&victim).await? == Some(rogue_block)).then_some(())),
    )
    .await?;
    // Derivation reaches that height: the derived (sequencer's) block replaces it.
    let real = wait_until(
        "the sequencer's block",
        Duration::from_secs(30),
        Duration::from_millis(200),
        async || block_hash(&devnet.sequencer).await,
    )
    .await?;
    ensure!(real != rogue_block);
    crate::devnet::wait_for_safe(&victim, number, Duration::from_secs(90)).await?;
    ensure!(
        block_hash(&victim).await? == Some(real),
        "the victim kept the rogue's block {number}:\n{}",
        victim.log_tail(40)
    );
    ensure!(
        victim
            .provider()
            .get_transaction_receipt(hash)
            .await?
            .is_none(),
        "the rogue's transfer is still in the victim's chain"
    );
    ensure!(crate::devnet::metric(port, "derive_unsafe_reorgs_total").await? >= 1.0);
    let upto = crate::devnet::safe_number(&victim).await?;
    same_blocks(&[&devnet.sequencer, &victim], upto).await?;

    victim.finish().await?;
    rogue.finish().await?;
    devnet.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_follow_a_rotation_of_the_unsafe_block_signer() -> Result<()> {
    let mut devnet = Devnet::start(2, true).await?;
    let port = free_port()?;
    let follower = TestNode::start_chain(
        &devnet.genesis_path(),
        &devnet.rollup_path(),
        follower_args(&devnet, &p2p_addr(&devnet.sequencer).await?, port),
    )
    .await?;
    at_head(&devnet, &follower, Duration::from_secs(60)).await?;

    // The owner names a new signer in SystemConfig; the sequencer keeps signing with the old
    // key, which stays valid for the grace period.
    const NEW_SIGNER: u32 = 14;
    let system_config = devnet.address("systemConfig")?.to_string();
    let new_signer = dev_signer(NEW_SIGNER).address().to_string();
    let owner = ol_e2e::dev_private_key_hex(0);
    devnet
        .cast(&[
            "send",
            &system_config,
            "setUnsafeBlockSigner(address)",
            &new_signer,
            "--private-key",
            &owner,
        ])
        .await?;
    wait_until(
        "the follower sees the rotation",
        Duration::from_secs(40),
        Duration::from_millis(500),
        async || {
            Ok(
                (crate::devnet::metric(port, "p2p_unsafe_block_signer_rotations_total").await?
                    >= 1.0)
                    .then_some(()),
            )
        },
    )
    .await?;
    at_head(&devnet, &follower, Duration::from_secs(20)).await?;

    // The sequencer restarts with the new key (and dials the follower, whose address stays).
    let follower_addr = p2p_addr(&follower).await?;
    let mut args = devnet.sequencer.extra_args().to_vec();
    let key = args
        .iter()
        .position(|arg| arg == "--p2p.sequencer.key")
        .ok_or_else(|| eyre!("no --p2p.sequencer.key"))?;
    args[key + 1] = ol_e2e::dev_private_key_hex(NEW_SIGNER);
    args.extend(["--p2p.static".into(), follower_addr]);
    devnet.sequencer.stop().await?;
    devnet.sequencer.set_extra_args(args);
    devnet.sequencer.restart().await?;
    let before = metric_with(port, "p2p_unsafe_blocks_total", "result=\"applied\"").await?;
    let restarted_at = head(&devnet.sequencer).await?;
    wait_until(
        "blocks signed by the new key applied",
        Duration::from_secs(40),
        Duration::from_millis(250),
        async || {
            let applied =
                metric_with(port, "p2p_unsafe_blocks_total", "result=\"applied\"").await?;
            let follower_head = head(&follower).await?;
            Ok((applied > before && follower_head > restarted_at + 2).then_some(()))
        },
    )
    .await?;
    ensure!(
        metric_with(port, "p2p_gossip_messages_total", "reason=\"signer\"").await? == 0.0,
        "a block was rejected for its signer"
    );
    at_head(&devnet, &follower, Duration::from_secs(20)).await?;
    let upto = head(&follower).await?;
    same_blocks(&[&devnet.sequencer, &follower], upto).await?;
    follower.finish().await?;
    devnet.finish().await
}
