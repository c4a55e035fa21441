//! The node's side of unsafe-block gossip: starts the libp2p network when the rollup roles run,
//! publishes every block the sequencer commits, and on a follower executes gossiped blocks as
//! the unsafe head, filling a gap below one by asking the peer that sent it (`payload_by_number`,
//! each block checked against its child's parent hash) or leaving it to derivation.

use super::rollup::TaskResult;
use crate::args::RollupArgs;
use alloy_consensus::{Header, Sealed};
use alloy_primitives::{Address, B256};
use eyre::{WrapErr, bail, eyre};
use ol_chain::{Chain, Imported};
use ol_l1::L1Client;
use ol_p2p::network::{
    BlockWithTransactions, Network, NetworkConfig, NetworkHandle, PeerId, ReceivedBlock,
    load_or_create_key,
};
use std::{collections::BTreeMap, path::Path, sync::Arc, time::Instant};
use tokio::{
    sync::{broadcast, mpsc, watch},
    task::JoinSet,
};
use tracing::{debug, info, warn};

/// The longest gap a follower fills from a peer; a longer one is left to derivation.
const MAX_GAP: u64 = 2048;
/// Gossiped blocks kept while the gap below them is filled.
const MAX_PENDING: usize = 4096;

/// Starts the network (unless `--p2p.disable`) and the task that publishes (sequencer) or
/// imports (follower) blocks. The signer gossiped blocks need is `--p2p.unsafe.block.signer` or
/// else L1's `SystemConfig.unsafeBlockSigner`.
pub(crate) async fn start<C: L1Client + Send + Sync + 'static>(
    rollup_args: &RollupArgs,
    chain: Arc<Chain>,
    l1: Arc<C>,
    datadir: &Path,
    rpc: &ol_rpc::P2pSlot,
    shutdown: &watch::Receiver<bool>,
    tasks: &mut JoinSet<TaskResult>,
) -> eyre::Result<Option<NetworkHandle>> {
    let (args, follower) = (&rollup_args.p2p, rollup_args.follow);
    if args.disable {
        info!("p2p disabled (--p2p.disable)");
        return Ok(None);
    }
    let rollup = &chain.spec().rollup;
    let signer = match args.unsafe_block_signer {
        Some(signer) => signer,
        None => ol_l1::unsafe_block_signer(l1.as_ref(), rollup.l1_system_config_address)
            .await
            .wrap_err_with(|| {
                format!(
                    "cannot read the unsafe block signer from SystemConfig at {} (or pass \
                     --p2p.unsafe.block.signer)",
                    rollup.l1_system_config_address
                )
            })?,
    };
    if signer == Address::ZERO {
        bail!(
            "SystemConfig at {} names no unsafe block signer: pass --p2p.unsafe.block.signer \
             or --p2p.disable",
            rollup.l1_system_config_address
        );
    }
    let sequencer_key = match (&args.sequencer_key, &args.sequencer_key_path) {
        (Some(key), _) => Some(crate::args::signer(key, "--p2p.sequencer.key")?),
        (None, Some(path)) => Some(crate::args::read_key_file(
            path,
            "--p2p.sequencer.key.path",
        )?),
        (None, None) => None,
    };
    if let Some(key) = &sequencer_key
        && key.address() != signer
    {
        bail!(
            "--p2p.sequencer.key is for {}, but the unsafe block signer is {signer}: \
             followers would reject every block",
            key.address()
        );
    }
    let priv_path = args
        .priv_path
        .clone()
        .unwrap_or_else(|| datadir.join("p2p").join("opnode_p2p_priv.txt"));
    let keypair = load_or_create_key(&priv_path)?;
    crate::metrics::describe_p2p();
    let network = ol_p2p::network::start(
        NetworkConfig {
            chain_id: chain.chain_id(),
            listen: args.listen_addr(),
            static_peers: args.static_peers.clone(),
            keypair,
            unsafe_block_signer: signer,
            sequencer_key,
            max_peers: args.peers_hi,
        },
        Arc::new(chain.storage().clone()),
        shutdown.clone(),
    )
    .await
    .wrap_err("cannot start the p2p network")?;
    let Network {
        handle,
        blocks,
        task,
    } = network;
    for addr in handle.listen_addrs() {
        info!(%addr, "p2p address (another node's --p2p.static)");
    }
    if args.unsafe_block_signer.is_none() {
        let (network, stop) = (handle.clone(), shutdown.clone());
        let system_config = rollup.l1_system_config_address;
        tasks.spawn(async move {
            let followed = follow_signer(l1, system_config, signer, network, stop).await;
            ("unsafe block signer", followed)
        });
    }
    rpc.set(Arc::new(RpcStatus {
        network: handle.clone(),
        chain_id: chain.chain_id(),
    }));
    tasks.spawn(async move {
        let stopped = task
            .await
            .map_err(|err| eyre!("the p2p task panicked: {err}"));
        ("p2p", stopped)
    });
    let stop = shutdown.clone();
    if follower {
        let sync = UnsafeSync {
            chain,
            network: handle.clone(),
            pending: BTreeMap::new(),
        };
        tasks.spawn(async move { ("unsafe-block sync", sync.run(blocks, stop).await) });
        info!(%signer, "following unsafe blocks from gossip");
    } else if handle.can_sign() {
        let events = chain.subscribe();
        let publisher = handle.clone();
        tasks.spawn(async move { ("block gossip", publish(publisher, events, stop).await) });
        info!(%signer, "publishing unsafe blocks");
    } else {
        warn!("no --p2p.sequencer.key: this sequencer's blocks are not gossiped");
    }
    Ok(Some(handle))
}

/// How often `SystemConfig.unsafeBlockSigner` is read again (about one L1 slot).
const SIGNER_POLL: std::time::Duration = std::time::Duration::from_secs(12);

/// Follows rotations of the unsafe block signer on L1 (SystemConfig's `ConfigUpdate` type 3):
/// the network accepts the new signer at once and the old one for op-node's grace period. A
/// failed read keeps the current signer and is tried again at the next poll.
async fn follow_signer<C: L1Client>(
    l1: Arc<C>,
    system_config: Address,
    mut current: Address,
    network: NetworkHandle,
    mut shutdown: watch::Receiver<bool>,
) -> eyre::Result<()> {
    loop {
        tokio::select! {
            () = stopped(&mut shutdown) => return Ok(()),
            () = tokio::time::sleep(SIGNER_POLL) => {}
        }
        match ol_l1::unsafe_block_signer(l1.as_ref(), system_config).await {
            Ok(signer) if signer != current && signer != Address::ZERO => {
                info!(old = %current, new = %signer, "SystemConfig rotated the unsafe block signer");
                metrics::counter!("p2p_unsafe_block_signer_rotations_total").increment(1);
                if network.set_unsafe_block_signer(signer).await.is_err() {
                    return Ok(());
                }
                current = signer;
            }
            Ok(_) => {}
            Err(err) => debug!(%err, "cannot read the unsafe block signer; keeping {current}"),
        }
    }
}

/// `opp2p_self` and `opp2p_peers` over the running network.
struct RpcStatus {
    network: NetworkHandle,
    chain_id: u64,
}

impl ol_rpc::P2pStatus for RpcStatus {
    fn local(&self) -> ol_rpc::opp2p::PeerInfo {
        ol_rpc::opp2p::PeerInfo {
            peer_id: self.network.local_peer_id().to_string(),
            user_agent: format!("openledger/{}", env!("CARGO_PKG_VERSION")),
            protocol_version: "/opstack/1.0.0".to_owned(),
            addresses: self
                .network
                .listen_addrs()
                .iter()
                .map(ToString::to_string)
                .collect(),
            chain_id: self.chain_id,
            ..ol_rpc::opp2p::PeerInfo::default()
        }
    }

    fn peers(&self) -> Vec<ol_rpc::opp2p::PeerInfo> {
        self.network
            .peers()
            .into_iter()
            .map(|peer| ol_rpc::opp2p::PeerInfo {
                peer_id: peer.peer_id.to_string(),
                user_agent: peer.agent_version.unwrap_or_default(),
                protocol_version: peer.protocol_version.unwrap_or_default(),
                addresses: peer.addresses.iter().map(ToString::to_string).collect(),
                protocols: peer.protocols,
                latency: peer.latency_ms.unwrap_or(0).saturating_mul(1_000_000),
                peer_scores: ol_rpc::opp2p::PeerScores {
                    gossip: peer.gossip_score.unwrap_or(0.0),
                },
                connectedness: 1,
                direction: if peer.outbound { 2 } else { 1 },
                protected: peer.is_static,
                chain_id: self.chain_id,
            })
            .collect()
    }
}

/// Publishes each block the chain commits.
async fn publish(
    network: NetworkHandle,
    mut events: broadcast::Receiver<Arc<ol_chain::NewBlock>>,
    mut shutdown: watch::Receiver<bool>,
) -> eyre::Result<()> {
    loop {
        tokio::select! {
            () = stopped(&mut shutdown) => return Ok(()),
            event = events.recv() => match event {
                Ok(block) => {
                    if let Err(err) = network.publish(&block.header, &block.transactions).await {
                        warn!(number = block.header.number, %err, "cannot publish block");
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    warn!(missed, "the gossip publisher fell behind; peers fill the gap");
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
        }
    }
}

/// Resolves when the node shuts down (the guard `wait_for` returns is not `Send`).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// A follower's unsafe chain from gossip.
struct UnsafeSync {
    chain: Arc<Chain>,
    network: NetworkHandle,
    /// Blocks above a gap (gossiped, or fetched to fill it), by number.
    pending: BTreeMap<u64, PendingBlock>,
}

/// A block offered to the chain, or waiting for its parent. Shared, not copied, with the
/// chain's thread that executes it.
struct PendingBlock {
    block: Arc<BlockWithTransactions>,
    /// The peer it came from (scored down if it does not execute).
    from: PeerId,
    received_at: Instant,
}

/// What happened to one block.
enum Outcome {
    Applied,
    Gap,
    Dropped,
}

impl UnsafeSync {
    async fn run(
        mut self,
        mut blocks: mpsc::Receiver<ReceivedBlock>,
        mut shutdown: watch::Receiver<bool>,
    ) -> eyre::Result<()> {
        loop {
            tokio::select! {
                () = stopped(&mut shutdown) => return Ok(()),
                block = blocks.recv() => match block {
                    Some(block) => self.on_block(block).await?,
                    None => return Ok(()),
                },
            }
        }
    }

    async fn on_block(&mut self, received: ReceivedBlock) -> eyre::Result<()> {
        let pending = PendingBlock {
            block: Arc::new((received.block.header, received.block.transactions)),
            from: received.from,
            received_at: received.received_at,
        };
        match self.import(&pending).await? {
            Outcome::Applied => self.apply_pending().await,
            Outcome::Gap => {
                let head = self.chain.head();
                let (number, parent_hash) = (pending.block.0.number, pending.block.0.parent_hash);
                let from = pending.from;
                self.hold(pending);
                self.fill_gap(from, number, parent_hash, &head).await;
                self.apply_pending().await
            }
            Outcome::Dropped => Ok(()),
        }
    }

    /// Executes one block on the chain's thread.
    async fn import(&self, pending: &PendingBlock) -> eyre::Result<Outcome> {
        let (chain, block) = (self.chain.clone(), pending.block.clone());
        let imported = self
            .chain
            .on_chain_thread(move || chain.import_unsafe_block(&block.0, &block.1))
            .await??;
        let (number, from, received_at) =
            (pending.block.0.number, pending.from, pending.received_at);
        let (outcome, label) = match imported {
            Ok(Imported::Applied(committed)) => {
                metrics::histogram!("p2p_unsafe_block_import_seconds")
                    .record(received_at.elapsed().as_secs_f64());
                metrics::gauge!("chain_head_number").set(number as f64);
                info!(
                    number,
                    hash = %committed.header.hash(),
                    txs = committed.user_transactions,
                    "unsafe block from gossip"
                );
                (Outcome::Applied, "applied")
            }
            Ok(Imported::NotOnHead { head, .. }) if number > head + 1 => (Outcome::Gap, "gap"),
            Ok(Imported::NotOnHead { head, head_hash }) => {
                debug!(number, head, %head_hash, "gossiped block is not on the head; first seen wins");
                (Outcome::Dropped, "not_on_head")
            }
            Ok(Imported::Known) => (Outcome::Dropped, "known"),
            Ok(Imported::BelowSafe) => (Outcome::Dropped, "below_safe"),
            Ok(Imported::Conflicts) => {
                debug!(
                    number,
                    "a different unsafe block is already at this height; first seen wins"
                );
                (Outcome::Dropped, "conflict")
            }
            Err(invalid) => {
                warn!(peer = %from, %invalid, "gossiped block does not execute; dropped");
                self.network.penalize(from, "invalid_block");
                (Outcome::Dropped, "invalid")
            }
        };
        metrics::counter!("p2p_unsafe_blocks_total", "result" => label).increment(1);
        Ok(outcome)
    }

    /// Keeps a block until its parent is the head; past [`MAX_PENDING`] the highest goes.
    fn hold(&mut self, block: PendingBlock) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_last();
        }
        self.pending.insert(block.block.0.number, block);
    }

    /// Fetches the blocks between `head` and `number` from `peer`, newest first, each the
    /// parent its child names, down to a child of `head`; they join the pending blocks. A peer
    /// that sends another block is scored down; one that does not have it leaves the gap to
    /// derivation.
    async fn fill_gap(
        &mut self,
        peer: PeerId,
        number: u64,
        parent_hash: B256,
        head: &Sealed<Header>,
    ) {
        if number - head.number - 1 > MAX_GAP {
            debug!(
                number,
                head = head.number,
                "gap too long to fill from peers; derivation will close it"
            );
            return;
        }
        let (mut wanted, mut wanted_hash) = (number - 1, parent_hash);
        let mut fetched = Vec::new();
        while wanted > head.number {
            if let Some(pending) = self.pending.get(&wanted)
                && pending.block.0.hash() == wanted_hash
            {
                // Already here: continue below it.
                wanted_hash = pending.block.0.parent_hash;
                wanted -= 1;
                continue;
            }
            match self.network.request_block(peer, wanted).await {
                Ok(Some((header, txs))) if header.hash() == wanted_hash => {
                    wanted_hash = header.parent_hash;
                    fetched.push((header, txs));
                    wanted -= 1;
                }
                Ok(Some(_)) => {
                    warn!(%peer, number = wanted, "peer sent a block that is not the parent asked for");
                    self.network.penalize(peer, "wrong_parent");
                    return;
                }
                Ok(None) => {
                    debug!(%peer, number = wanted, "peer does not have the block; derivation will bring it");
                    return;
                }
                Err(err) => {
                    debug!(%err, number = wanted, "cannot fill the gap from this peer");
                    return;
                }
            }
        }
        if wanted_hash != head.hash() {
            // The gossiped chain does not descend from this head: first seen wins until
            // derivation decides.
            debug!(
                number,
                head = head.number,
                "the gossiped chain forks below the gap"
            );
            return;
        }
        metrics::counter!("p2p_gap_blocks_fetched_total").increment(fetched.len() as u64);
        let received_at = Instant::now();
        for block in fetched {
            self.hold(PendingBlock {
                block: Arc::new(block),
                from: peer,
                received_at,
            });
        }
    }

    /// Executes the pending blocks that now sit on the head.
    async fn apply_pending(&mut self) -> eyre::Result<()> {
        loop {
            let head = self.chain.head().number;
            self.pending = self.pending.split_off(&(head + 1));
            let Some(next) = self.pending.remove(&(head + 1)) else {
                return Ok(());
            };
            let outcome = self.import(&next).await?;
            if !matches!(outcome, Outcome::Applied) {
                return Ok(());
            }
        }
    }
}
