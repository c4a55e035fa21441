//! op-node's `opp2p` namespace (`opp2p_self`, `opp2p_peers`) in its JSON shapes, over whatever
//! p2p network the node runs: the network fills a [`P2pSlot`] once it is up (after the server
//! starts), so this crate does not depend on libp2p.

use crate::{EthRpc, error};
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use serde::Serialize;
use std::{
    collections::BTreeMap,
    sync::{Arc, OnceLock},
};

/// Scores of a peer (op-node's `peerScores`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PeerScores {
    /// The gossipsub score.
    pub gossip: f64,
}

/// One node as `opp2p_self` and `opp2p_peers` show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerInfo {
    /// Its libp2p peer id.
    #[serde(rename = "peerID")]
    pub peer_id: String,
    /// Its identify agent version.
    pub user_agent: String,
    /// Its identify protocol version.
    pub protocol_version: String,
    /// Its multiaddrs (for this node, each with `/p2p/<peer id>`: what a peer passes as
    /// `--p2p.static`).
    pub addresses: Vec<String>,
    /// The protocols it speaks.
    pub protocols: Vec<String>,
    /// Last ping round trip, in nanoseconds (a Go `time.Duration`).
    pub latency: u64,
    /// Its scores.
    pub peer_scores: PeerScores,
    /// 1: connected (libp2p's `Connectedness`).
    pub connectedness: u8,
    /// 1: it dialled us, 2: we dialled it (libp2p's `Direction`).
    pub direction: u8,
    /// A static peer, kept connected.
    pub protected: bool,
    /// The L2 chain id.
    #[serde(rename = "chainID")]
    pub chain_id: u64,
}

/// `opp2p_peers`' answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerDump {
    /// How many peers are connected.
    pub total_connected: usize,
    /// The peers, by peer id.
    pub peers: BTreeMap<String, PeerInfo>,
    /// Banned peer ids.
    pub banned_peers: Vec<String>,
    /// Banned IPs (none: bans are by peer).
    #[serde(rename = "bannedIPS")]
    pub banned_ips: Vec<String>,
    /// Banned subnets (none).
    pub banned_subnets: Vec<String>,
}

/// What the p2p network tells the RPC.
pub trait P2pStatus: Send + Sync + 'static {
    /// This node.
    fn local(&self) -> PeerInfo;
    /// The connected peers.
    fn peers(&self) -> Vec<PeerInfo>;
}

/// Where the p2p network, once started, makes itself known to the RPC.
#[derive(Clone, Default)]
pub struct P2pSlot(Arc<OnceLock<Arc<dyn P2pStatus>>>);

impl std::fmt::Debug for P2pSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("P2pSlot")
            .field(&self.0.get().is_some())
            .finish()
    }
}

impl P2pSlot {
    /// Fills the slot; a second network is ignored (one node runs one).
    pub fn set(&self, status: Arc<dyn P2pStatus>) {
        let _ = self.0.set(status);
    }

    fn get(&self) -> RpcResult<&Arc<dyn P2pStatus>> {
        self.0
            .get()
            .ok_or_else(|| error::server("p2p is not running on this node"))
    }
}

/// The `opp2p` namespace.
#[rpc(server, namespace = "opp2p")]
pub trait Opp2pApi {
    /// This node's peer id and addresses.
    #[method(name = "self")]
    fn local_peer(&self) -> RpcResult<PeerInfo>;
    /// The connected peers (`connected` is accepted for op-node compatibility: only connected
    /// peers are known).
    #[method(name = "peers")]
    fn peers(&self, connected: Option<bool>) -> RpcResult<PeerDump>;
}

impl Opp2pApiServer for EthRpc {
    fn local_peer(&self) -> RpcResult<PeerInfo> {
        Ok(self.p2p.get()?.local())
    }

    fn peers(&self, _connected: Option<bool>) -> RpcResult<PeerDump> {
        let peers = self.p2p.get()?.peers();
        Ok(PeerDump {
            total_connected: peers.len(),
            peers: peers
                .into_iter()
                .map(|peer| (peer.peer_id.clone(), peer))
                .collect(),
            ..PeerDump::default()
        })
    }
}
