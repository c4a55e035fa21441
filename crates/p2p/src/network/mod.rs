//! The libp2p node that carries unsafe blocks: TCP, noise, yamux, identify, ping, gossipsub on
//! the blocks topic and op-node's `payload_by_number` request-response, with static peers kept
//! connected. [`start`] binds it and hands back a [`NetworkHandle`] (publish, request, score,
//! list peers) and the stream of validated blocks; the swarm runs on its own task.

mod gossip;
mod key;
mod payloads;
mod service;

pub use key::load_or_create_key;
pub use libp2p::{Multiaddr, PeerId, identity::Keypair, multiaddr::Protocol};

use crate::GossipBlock;
use alloy_consensus::{Header, Sealed};
use alloy_primitives::Address;
use alloy_signer_local::PrivateKeySigner;
use ol_primitives::OpTxEnvelope;
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Instant,
};
use tokio::sync::{mpsc, oneshot, watch};

/// Why the network cannot start or a request failed.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The node key file is unreadable or not a key.
    #[error("p2p key {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The gossipsub settings were refused.
    #[error("gossipsub: {0}")]
    Gossip(String),
    /// The transport could not be built or bound.
    #[error("transport: {0}")]
    Transport(String),
    /// A static peer address without its `/p2p/<peer id>`.
    #[error("static peer {0} has no /p2p/<peer id>")]
    StaticPeerWithoutId(Multiaddr),
    /// The block could not be encoded or signed.
    #[error(transparent)]
    Envelope(#[from] crate::EnvelopeError),
    /// This node has no `--p2p.sequencer.key` and cannot sign blocks.
    #[error("this node has no sequencer key to sign blocks with")]
    NoSequencerKey,
    /// A request to a peer failed (dial, timeout, stream, bad response).
    #[error("request to {peer} failed: {reason}")]
    Request {
        /// The peer asked.
        peer: PeerId,
        /// What went wrong.
        reason: String,
    },
    /// The network task has stopped.
    #[error("the p2p network has stopped")]
    Stopped,
}

/// How the network starts.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The L2 chain id: the topic, the signature domain and the request protocol name.
    pub chain_id: u64,
    /// Where to listen (`/ip4/0.0.0.0/tcp/9222`; port 0 picks one).
    pub listen: Multiaddr,
    /// Peers kept connected, each with its `/p2p/<peer id>`.
    pub static_peers: Vec<Multiaddr>,
    /// This node's identity.
    pub keypair: Keypair,
    /// The address whose signature makes a gossiped block acceptable.
    pub unsafe_block_signer: Address,
    /// The key a sequencer signs its blocks with.
    pub sequencer_key: Option<PrivateKeySigner>,
    /// Most peers connected besides the static ones (op-node's `p2p.peers.hi`); connections
    /// past it are refused.
    pub max_peers: u32,
}

/// A sealed header with its block's transactions.
pub type BlockWithTransactions = (Sealed<Header>, Vec<OpTxEnvelope>);

/// Where the blocks that peers ask for by number come from (the node's storage).
pub trait PayloadSource: Send + Sync + 'static {
    /// The canonical block `number` with its transactions, if this node has it.
    fn block(&self, number: u64) -> Option<BlockWithTransactions>;
}

/// The canonical chain in the node's storage.
impl PayloadSource for ol_storage::Storage {
    fn block(&self, number: u64) -> Option<BlockWithTransactions> {
        let header = self.header_by_number(number).ok()??;
        let body = self.body(number).ok()??;
        Some((header, body.transactions))
    }
}

/// A block that passed gossip validation, with the peer that delivered it.
#[derive(Debug, Clone)]
pub struct ReceivedBlock {
    /// The block and its signer.
    pub block: GossipBlock,
    /// The peer it came from.
    pub from: PeerId,
    /// When it arrived.
    pub received_at: Instant,
}

/// What the node knows of a connected peer.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerInfo {
    /// Its peer id.
    pub peer_id: PeerId,
    /// The addresses it is connected on.
    pub addresses: Vec<Multiaddr>,
    /// Its identify agent version, once identified.
    pub agent_version: Option<String>,
    /// Its identify protocol version, once identified.
    pub protocol_version: Option<String>,
    /// The protocols it speaks, once identified.
    pub protocols: Vec<String>,
    /// Its gossipsub score.
    pub gossip_score: Option<f64>,
    /// Its last ping round trip, in milliseconds.
    pub latency_ms: Option<u64>,
    /// Whether it is one of `--p2p.static`.
    pub is_static: bool,
    /// Whether this node dialled it.
    pub outbound: bool,
}

enum Command {
    Publish {
        data: Vec<u8>,
        reply: oneshot::Sender<Result<(), NetworkError>>,
    },
    Request {
        peer: PeerId,
        number: u64,
        reply: oneshot::Sender<Result<Option<Vec<u8>>, NetworkError>>,
    },
    Penalize {
        peer: PeerId,
        reason: &'static str,
    },
    SetSigner(Address),
}

/// Talks to the running network; cheap to clone.
#[derive(Clone)]
pub struct NetworkHandle {
    commands: mpsc::Sender<Command>,
    local_peer_id: PeerId,
    listen_addrs: watch::Receiver<Vec<Multiaddr>>,
    peers: Arc<Mutex<BTreeMap<PeerId, PeerInfo>>>,
    chain_id: u64,
    sequencer_key: Option<PrivateKeySigner>,
}

impl std::fmt::Debug for NetworkHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkHandle")
            .field("local_peer_id", &self.local_peer_id)
            .field("chain_id", &self.chain_id)
            .finish_non_exhaustive()
    }
}

impl NetworkHandle {
    /// This node's peer id.
    pub const fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// The addresses this node listens on, each with its `/p2p/<peer id>` (what another node
    /// passes as `--p2p.static`).
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.listen_addrs.borrow().clone()
    }

    /// The connected peers, by peer id.
    pub fn peers(&self) -> Vec<PeerInfo> {
        lock(&self.peers).values().cloned().collect()
    }

    /// How many peers are connected.
    pub fn peer_count(&self) -> usize {
        lock(&self.peers).len()
    }

    /// Whether this node can sign blocks.
    pub const fn can_sign(&self) -> bool {
        self.sequencer_key.is_some()
    }

    /// Signs `header` with the sequencer key and publishes it on the blocks topic. Having no
    /// peer yet is not an error: followers without the block fill the gap from peers later.
    pub async fn publish(
        &self,
        header: &Sealed<Header>,
        transactions: &[OpTxEnvelope],
    ) -> Result<(), NetworkError> {
        let key = self
            .sequencer_key
            .as_ref()
            .ok_or(NetworkError::NoSequencerKey)?;
        let data = crate::encode_block(header, transactions, key, self.chain_id)?;
        let (reply, answer) = oneshot::channel();
        self.send(Command::Publish { data, reply }).await?;
        answer.await.map_err(|_| NetworkError::Stopped)?
    }

    /// Asks `peer` for block `number` (op-node's `payload_by_number`): `None` when it does not
    /// have it. The block's hash is checked; whether it is the block wanted (the parent of a
    /// known block) is the caller's check.
    pub async fn request_block(
        &self,
        peer: PeerId,
        number: u64,
    ) -> Result<Option<BlockWithTransactions>, NetworkError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Request {
            peer,
            number,
            reply,
        })
        .await?;
        let Some(payload) = answer.await.map_err(|_| NetworkError::Stopped)?? else {
            return Ok(None);
        };
        let block = crate::decode_payload(&payload).map_err(|err| NetworkError::Request {
            peer,
            reason: err.to_string(),
        })?;
        if block.0.number != number {
            self.penalize(peer, "wrong_number");
            return Err(NetworkError::Request {
                peer,
                reason: format!("asked for block {number}, got {}", block.0.number),
            });
        }
        Ok(Some(block))
    }

    /// Scores `peer` down for a block that passed gossip validation but not execution, or for
    /// a bad response; a peer scored below op-node's ban threshold is disconnected for an hour.
    pub fn penalize(&self, peer: PeerId, reason: &'static str) {
        // A full queue means the network is overwhelmed; dropping one penalty is harmless.
        let _ = self.commands.try_send(Command::Penalize { peer, reason });
    }

    /// Follows a rotation of the unsafe block signer on L1: `signer` signs from now on, and
    /// the one it replaces stays valid for [`crate::SIGNER_GRACE_SECS`].
    pub async fn set_unsafe_block_signer(&self, signer: Address) -> Result<(), NetworkError> {
        self.send(Command::SetSigner(signer)).await
    }

    async fn send(&self, command: Command) -> Result<(), NetworkError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| NetworkError::Stopped)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running network: its handle, the validated blocks peers send, and the swarm's task, which
/// ends when `shutdown` turns true or every handle is dropped.
#[derive(Debug)]
pub struct Network {
    /// Talks to the network.
    pub handle: NetworkHandle,
    /// Validated gossiped blocks, in arrival order; drop it to take none (a sequencer).
    pub blocks: mpsc::Receiver<ReceivedBlock>,
    /// The swarm's task.
    pub task: tokio::task::JoinHandle<()>,
}

/// Binds the listen address, dials the static peers and runs the swarm on a new task.
pub async fn start(
    config: NetworkConfig,
    source: Arc<dyn PayloadSource>,
    shutdown: watch::Receiver<bool>,
) -> Result<Network, NetworkError> {
    service::start(config, source, shutdown).await
}
