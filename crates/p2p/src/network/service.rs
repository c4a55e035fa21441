//! The swarm's event loop: validates gossip before gossipsub forwards it, publishes, answers and
//! sends `payload_by_number` requests, keeps static peers connected, refuses connections past
//! the peer limit, and bans peers whose application score falls below op-node's ban threshold.

use super::{
    Command, Network, NetworkConfig, NetworkError, NetworkHandle, PayloadSource, PeerInfo,
    ReceivedBlock, gossip, lock, payloads,
};
use crate::{Validator, Verdict, blocks_topic};
use futures_util::StreamExt;
use libp2p::{
    Multiaddr, PeerId, Swarm, SwarmBuilder,
    connection_limits::{self, ConnectionLimits},
    gossipsub::{self, IdentTopic, MessageAcceptance, PublishError},
    identify,
    multiaddr::Protocol,
    noise, ping,
    request_response::{self, OutboundRequestId, ProtocolSupport},
    swarm::{NetworkBehaviour, SwarmEvent, dial_opts::DialOpts},
    tcp, yamux,
};
use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, warn};

/// What one block that fails execution (or one bad response) costs a peer.
const PENALTY: f64 = 20.0;
/// op-node's `p2p.ban.threshold`.
const BAN_THRESHOLD: f64 = -100.0;
/// op-node's `p2p.ban.duration`.
const BAN_DURATION: Duration = Duration::from_secs(3600);
/// How often disconnected static peers are dialled again.
const REDIAL_INTERVAL: Duration = Duration::from_secs(2);
/// Validated blocks waiting for the node; past this the network drops them (gap filling or
/// derivation brings them back).
const BLOCK_QUEUE: usize = 1024;

#[derive(NetworkBehaviour)]
struct Behaviour {
    limits: connection_limits::Behaviour,
    gossipsub: gossipsub::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    payloads: request_response::Behaviour<payloads::PayloadCodec>,
}

type Reply = oneshot::Sender<Result<Option<Vec<u8>>, NetworkError>>;

struct Service {
    swarm: Swarm<Behaviour>,
    topic: IdentTopic,
    validator: Validator,
    source: Arc<dyn PayloadSource>,
    blocks: mpsc::Sender<ReceivedBlock>,
    peers: Arc<Mutex<BTreeMap<PeerId, PeerInfo>>>,
    listen_addrs: watch::Sender<Vec<Multiaddr>>,
    static_peers: Vec<(PeerId, Multiaddr)>,
    requests: HashMap<OutboundRequestId, (PeerId, Reply)>,
    app_scores: HashMap<PeerId, f64>,
    banned: HashMap<PeerId, Instant>,
}

/// The peer id at the end of `addr`.
fn peer_id_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|protocol| match protocol {
        Protocol::P2p(peer) => Some(peer),
        _ => None,
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

pub(super) async fn start(
    config: NetworkConfig,
    source: Arc<dyn PayloadSource>,
    shutdown: watch::Receiver<bool>,
) -> Result<Network, NetworkError> {
    let static_peers = config
        .static_peers
        .iter()
        .map(|addr| {
            peer_id_of(addr)
                .map(|peer| (peer, addr.clone()))
                .ok_or_else(|| NetworkError::StaticPeerWithoutId(addr.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let topic = IdentTopic::new(blocks_topic(config.chain_id));
    let local_peer_id = config.keypair.public().to_peer_id();
    let gossipsub = gossip::behaviour(&topic)?;
    let static_count = u32::try_from(static_peers.len()).unwrap_or(u32::MAX);
    let transport = |err: &dyn std::fmt::Display| NetworkError::Transport(err.to_string());
    let mut swarm = SwarmBuilder::with_existing_identity(config.keypair.clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|err| transport(&err))?
        .with_behaviour(|key| Behaviour {
            limits: connection_limits::Behaviour::new(
                ConnectionLimits::default()
                    .with_max_established(Some(config.max_peers.saturating_add(static_count)))
                    .with_max_established_incoming(Some(config.max_peers))
                    // A simultaneous dial may briefly open a second connection.
                    .with_max_established_per_peer(Some(2)),
            ),
            gossipsub,
            identify: identify::Behaviour::new(
                identify::Config::new("/opstack/1.0.0".to_owned(), key.public())
                    .with_agent_version(format!("openledger/{}", env!("CARGO_PKG_VERSION"))),
            ),
            ping: ping::Behaviour::new(ping::Config::new()),
            payloads: request_response::Behaviour::new(
                [(payloads::protocol(config.chain_id), ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(Duration::from_secs(10)),
            ),
        })
        .map_err(|err| transport(&err))?
        // Peers stay connected while idle: blocks may be seconds apart.
        .with_swarm_config(|swarm| swarm.with_idle_connection_timeout(BAN_DURATION))
        .build();
    swarm.listen_on(config.listen.clone()).map_err(|err| {
        NetworkError::Transport(format!("cannot listen on {}: {err}", config.listen))
    })?;
    // Wait for the first bound address, so that the handle can say where this node listens.
    let mut bound = Vec::new();
    let deadline = tokio::time::sleep(Duration::from_secs(10));
    tokio::pin!(deadline);
    while bound.is_empty() {
        tokio::select! {
            event = swarm.select_next_some() => match event {
                SwarmEvent::NewListenAddr { address, .. } => {
                    bound.push(address.with(Protocol::P2p(local_peer_id)));
                }
                SwarmEvent::ListenerError { error, .. } | SwarmEvent::ListenerClosed { reason: Err(error), .. } => {
                    return Err(NetworkError::Transport(format!("cannot listen on {}: {error}", config.listen)));
                }
                _ => {}
            },
            () = &mut deadline => {
                return Err(NetworkError::Transport(format!("{} was not bound within 10 s", config.listen)));
            }
        }
    }
    info!(peer_id = %local_peer_id, addrs = ?bound, topic = %topic, "p2p listening");

    let (listen_tx, listen_addrs) = watch::channel(bound);
    let (commands_tx, commands) = mpsc::channel(256);
    let (blocks_tx, blocks) = mpsc::channel(BLOCK_QUEUE);
    let peers = Arc::new(Mutex::new(BTreeMap::new()));
    let mut service = Service {
        swarm,
        topic,
        validator: Validator::new(config.chain_id, config.unsafe_block_signer),
        source,
        blocks: blocks_tx,
        peers: peers.clone(),
        listen_addrs: listen_tx,
        static_peers,
        requests: HashMap::new(),
        app_scores: HashMap::new(),
        banned: HashMap::new(),
    };
    service.redial();
    let task = tokio::spawn(service.run(commands, shutdown));
    Ok(Network {
        handle: NetworkHandle {
            commands: commands_tx,
            local_peer_id,
            listen_addrs,
            peers,
            chain_id: config.chain_id,
            sequencer_key: config.sequencer_key,
        },
        blocks,
        task,
    })
}

impl Service {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut redial = tokio::time::interval(REDIAL_INTERVAL);
        redial.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
                command = commands.recv() => match command {
                    Some(command) => self.command(command),
                    None => break,
                },
                event = self.swarm.select_next_some() => self.event(event),
                _ = redial.tick() => self.redial(),
            }
        }
        debug!("p2p stopped");
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Publish { data, reply } => {
                let published = match self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(self.topic.clone(), data)
                {
                    Ok(_) => {
                        metrics::counter!("p2p_gossip_messages_total", "direction" => "out", "result" => "published").increment(1);
                        Ok(())
                    }
                    // Nobody to send to yet, or already sent: peers fill the gap when they come.
                    Err(PublishError::NoPeersSubscribedToTopic | PublishError::Duplicate) => {
                        metrics::counter!("p2p_gossip_messages_total", "direction" => "out", "result" => "no_peers").increment(1);
                        Ok(())
                    }
                    Err(err) => Err(NetworkError::Gossip(err.to_string())),
                };
                let _ = reply.send(published);
            }
            Command::Request {
                peer,
                number,
                reply,
            } => {
                let id = self
                    .swarm
                    .behaviour_mut()
                    .payloads
                    .send_request(&peer, number);
                self.requests.insert(id, (peer, reply));
            }
            Command::Penalize { peer, reason } => self.penalize(peer, reason),
            Command::SetSigner(signer) => {
                if signer != self.validator.signer() {
                    info!(old = %self.validator.signer(), new = %signer, "unsafe block signer rotated");
                }
                self.validator.set_signer(signer, unix_now());
            }
        }
    }

    fn penalize(&mut self, peer: PeerId, reason: &'static str) {
        let score = self.app_scores.entry(peer).or_default();
        *score -= PENALTY;
        let score = *score;
        self.swarm
            .behaviour_mut()
            .gossipsub
            .set_application_score(&peer, score);
        metrics::counter!("p2p_peer_penalties_total", "reason" => reason).increment(1);
        warn!(%peer, reason, score, "peer scored down");
        if score <= BAN_THRESHOLD {
            warn!(%peer, "peer banned for an hour");
            metrics::counter!("p2p_peers_banned_total").increment(1);
            self.banned.insert(peer, Instant::now() + BAN_DURATION);
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    fn is_banned(&mut self, peer: &PeerId) -> bool {
        match self.banned.get(peer) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                self.banned.remove(peer);
                false
            }
            None => false,
        }
    }

    fn redial(&mut self) {
        for (peer, addr) in self.static_peers.clone() {
            if self.swarm.is_connected(&peer) || self.is_banned(&peer) {
                continue;
            }
            let dial = DialOpts::peer_id(peer)
                .addresses(vec![addr.clone()])
                .build();
            if let Err(err) = self.swarm.dial(dial) {
                debug!(%peer, %addr, %err, "cannot dial static peer");
            }
        }
        let mut peers = lock(&self.peers);
        for (peer, info) in peers.iter_mut() {
            info.gossip_score = self.swarm.behaviour().gossipsub.peer_score(peer);
        }
    }

    fn update_peer(&self, peer: &PeerId, update: impl FnOnce(&mut PeerInfo)) {
        if let Some(info) = lock(&self.peers).get_mut(peer) {
            update(info);
        }
    }

    fn event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                let peer = *self.swarm.local_peer_id();
                self.listen_addrs
                    .send_modify(|addrs| addrs.push(address.with(Protocol::P2p(peer))));
            }
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                if self.is_banned(&peer_id) {
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                }
                let is_static = self.static_peers.iter().any(|(peer, _)| *peer == peer_id);
                let address = endpoint.get_remote_address().clone();
                let mut peers = lock(&self.peers);
                let info = peers.entry(peer_id).or_insert_with(|| PeerInfo {
                    peer_id,
                    addresses: Vec::new(),
                    agent_version: None,
                    protocol_version: None,
                    protocols: Vec::new(),
                    gossip_score: None,
                    latency_ms: None,
                    is_static,
                    outbound: endpoint.is_dialer(),
                });
                if !info.addresses.contains(&address) {
                    info.addresses.push(address);
                }
                metrics::gauge!("p2p_peers").set(peers.len() as f64);
                info!(peer = %peer_id, is_static, "peer connected");
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                let mut peers = lock(&self.peers);
                peers.remove(&peer_id);
                metrics::gauge!("p2p_peers").set(peers.len() as f64);
                info!(peer = %peer_id, "peer disconnected");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.gossip(propagation_source, &message_id, &message.data),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => self.update_peer(&peer_id, |peer| {
                peer.agent_version = Some(info.agent_version);
                peer.protocol_version = Some(info.protocol_version);
                peer.protocols = info.protocols.iter().map(ToString::to_string).collect();
            }),
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                result: Ok(rtt),
                ..
            })) => self.update_peer(&peer, |info| {
                info.latency_ms = Some(rtt.as_millis().try_into().unwrap_or(u64::MAX));
            }),
            SwarmEvent::Behaviour(BehaviourEvent::Payloads(event)) => self.payloads(event),
            _ => {}
        }
    }

    /// Gives gossipsub the verdict on a message and passes a valid block to the node.
    fn gossip(&mut self, from: PeerId, id: &gossipsub::MessageId, data: &[u8]) {
        let received_at = Instant::now();
        let verdict = self.validator.validate(data, unix_now());
        let (acceptance, result, reason) = match &verdict {
            Verdict::Accept(_) => (MessageAcceptance::Accept, "accepted", "none"),
            Verdict::Ignore => (MessageAcceptance::Ignore, "ignored", "seen"),
            Verdict::Reject(rejection) => {
                (MessageAcceptance::Reject, "rejected", rejection.label())
            }
        };
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(id, &from, acceptance);
        metrics::counter!("p2p_gossip_messages_total", "direction" => "in", "result" => result, "reason" => reason).increment(1);
        match verdict {
            Verdict::Accept(block) => {
                debug!(number = block.header.number, hash = %block.header.hash(), peer = %from, "gossiped block");
                let received = ReceivedBlock {
                    block: *block,
                    from,
                    received_at,
                };
                match self.blocks.try_send(received) {
                    Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        warn!("the node is behind on gossiped blocks; dropping one");
                    }
                }
            }
            Verdict::Reject(rejection) => {
                warn!(peer = %from, reason = rejection.label(), "gossiped block rejected");
            }
            Verdict::Ignore => {}
        }
    }

    fn payloads(&mut self, event: request_response::Event<u64, Option<Vec<u8>>>) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                let payload = self
                    .source
                    .block(request)
                    .and_then(|(header, txs)| crate::encode_payload(&header, &txs).ok());
                let result = if payload.is_some() {
                    "served"
                } else {
                    "not_found"
                };
                metrics::counter!("p2p_payload_requests_total", "direction" => "in", "result" => result).increment(1);
                debug!(%peer, number = request, result, "payload_by_number");
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .payloads
                    .send_response(channel, payload);
            }
            request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some((_, reply)) = self.requests.remove(&request_id) {
                    metrics::counter!("p2p_payload_requests_total", "direction" => "out", "result" => "answered").increment(1);
                    let _ = reply.send(Ok(response));
                }
            }
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => {
                if let Some((peer, reply)) = self.requests.remove(&request_id) {
                    metrics::counter!("p2p_payload_requests_total", "direction" => "out", "result" => "failed").increment(1);
                    let _ = reply.send(Err(NetworkError::Request {
                        peer,
                        reason: error.to_string(),
                    }));
                }
            }
            _ => {}
        }
    }
}
