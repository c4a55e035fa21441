//! Real libp2p nodes on 127.0.0.1: a sequencer's signed block reaches a follower two hops away
//! through gossipsub; a block signed by another key is rejected at the first hop and never
//! delivered; a follower fetches a block it missed with `payload_by_number`.

use alloy_consensus::{Header, Sealable, Sealed};
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_primitives::{Address, B256, Bytes};
use alloy_signer_local::PrivateKeySigner;
use libp2p::{Multiaddr, identity::Keypair};
use ol_p2p::network::{
    BlockWithTransactions, Network, NetworkConfig, NetworkError, PayloadSource, start,
};
use ol_primitives::{OpTxEnvelope, TxDeposit};
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::watch;

const CHAIN_ID: u64 = 1611;

/// Blocks a test node serves by number.
#[derive(Default)]
struct Blocks(Mutex<BTreeMap<u64, BlockWithTransactions>>);

impl PayloadSource for Blocks {
    fn block(&self, number: u64) -> Option<BlockWithTransactions> {
        self.0.lock().unwrap().get(&number).cloned()
    }
}

fn block(number: u64) -> BlockWithTransactions {
    let deposit = OpTxEnvelope::Deposit(Sealed::new(TxDeposit {
        source_hash: B256::with_last_byte(number as u8),
        from: Address::repeat_byte(1),
        to: alloy_primitives::TxKind::Call(Address::repeat_byte(2)),
        gas_limit: 1_000_000,
        input: Bytes::from_static(b"l1 info"),
        ..Default::default()
    }));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = Header {
        parent_hash: B256::with_last_byte(number as u8),
        number,
        gas_limit: 60_000_000,
        timestamp: now,
        base_fee_per_gas: Some(1_000_000),
        withdrawals_root: Some(B256::repeat_byte(6)),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::repeat_byte(8)),
        requests_hash: Some(EMPTY_REQUESTS_HASH),
        transactions_root: alloy_consensus::proofs::calculate_transaction_root(
            std::slice::from_ref(&deposit),
        ),
        ..Header::default()
    };
    (header.seal_slow(), vec![deposit])
}

fn key(byte: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(byte)).unwrap()
}

async fn node(
    static_peers: Vec<Multiaddr>,
    sequencer_key: Option<PrivateKeySigner>,
    source: Arc<Blocks>,
    shutdown: &watch::Receiver<bool>,
) -> Network {
    node_with_limit(static_peers, sequencer_key, source, shutdown, 30).await
}

async fn node_with_limit(
    static_peers: Vec<Multiaddr>,
    sequencer_key: Option<PrivateKeySigner>,
    source: Arc<Blocks>,
    shutdown: &watch::Receiver<bool>,
    max_peers: u32,
) -> Network {
    start(
        NetworkConfig {
            chain_id: CHAIN_ID,
            listen: "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
            static_peers,
            keypair: Keypair::generate_secp256k1(),
            unsafe_block_signer: key(0x11).address(),
            sequencer_key,
            max_peers,
        },
        source,
        shutdown.clone(),
    )
    .await
    .unwrap()
}

async fn wait_for_peers(network: &Network, peers: usize) {
    tokio::time::timeout(Duration::from_secs(20), async {
        while network.handle.peer_count() < peers {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("peers connect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_travel_two_hops_and_bad_signers_stop_at_the_first() {
    let (_stop, shutdown) = watch::channel(false);
    let sequencer = node(vec![], Some(key(0x11)), Arc::default(), &shutdown).await;
    let relay = node(
        sequencer.handle.listen_addrs(),
        None,
        Arc::default(),
        &shutdown,
    )
    .await;
    let mut follower = node(relay.handle.listen_addrs(), None, Arc::default(), &shutdown).await;
    let impostor = node(
        relay.handle.listen_addrs(),
        Some(key(0x22)),
        Arc::default(),
        &shutdown,
    )
    .await;
    wait_for_peers(&relay, 3).await;
    wait_for_peers(&follower, 1).await;
    // Let gossipsub exchange subscriptions (one heartbeat is 0.5 s).
    tokio::time::sleep(Duration::from_secs(2)).await;

    let (forged, forged_txs) = block(7);
    impostor.handle.publish(&forged, &forged_txs).await.unwrap();
    let (header, txs) = block(8);
    sequencer.handle.publish(&header, &txs).await.unwrap();

    let received = tokio::time::timeout(Duration::from_secs(20), follower.blocks.recv())
        .await
        .expect("the block arrives")
        .unwrap();
    assert_eq!(received.block.header.hash(), header.hash());
    assert_eq!(received.block.transactions, txs);
    assert_eq!(received.block.signer, key(0x11).address());
    assert_eq!(received.from, relay.handle.local_peer_id());
    // The impostor's block, published first, never arrived.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(follower.blocks.try_recv().is_err());
    // The relay graylisted the impostor after one invalid block.
    let impostor_score = relay
        .handle
        .peers()
        .into_iter()
        .find(|peer| peer.peer_id == impostor.handle.local_peer_id())
        .and_then(|peer| peer.gossip_score);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = relay
        .handle
        .peers()
        .into_iter()
        .find(|peer| peer.peer_id == impostor.handle.local_peer_id())
        .and_then(|peer| peer.gossip_score);
    assert!(
        later.or(impostor_score).is_some_and(|score| score < -40.0),
        "impostor score {later:?}"
    );
    // A node without a sequencer key cannot publish.
    assert!(matches!(
        follower.handle.publish(&header, &txs).await,
        Err(NetworkError::NoSequencerKey)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_block_is_fetched_by_number() {
    let (_stop, shutdown) = watch::channel(false);
    let served = Arc::new(Blocks::default());
    for number in 1..=3 {
        let block = block(number);
        served.0.lock().unwrap().insert(number, block);
    }
    let server = node(vec![], None, served.clone(), &shutdown).await;
    let client = node(
        server.handle.listen_addrs(),
        None,
        Arc::default(),
        &shutdown,
    )
    .await;
    wait_for_peers(&client, 1).await;
    let peer = server.handle.local_peer_id();
    let (header, txs) = client.handle.request_block(peer, 2).await.unwrap().unwrap();
    assert_eq!(header.hash(), served.block(2).unwrap().0.hash());
    assert_eq!(txs, served.block(2).unwrap().1);
    assert!(
        client
            .handle
            .request_block(peer, 9)
            .await
            .unwrap()
            .is_none()
    );
    let info = client.handle.peers();
    assert_eq!(info.len(), 1);
    assert!(info[0].is_static && info[0].outbound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_peer_limit_are_refused() {
    let (_stop, shutdown) = watch::channel(false);
    let full = node_with_limit(vec![], None, Arc::default(), &shutdown, 1).await;
    let first = node(full.handle.listen_addrs(), None, Arc::default(), &shutdown).await;
    wait_for_peers(&first, 1).await;
    let second = node(full.handle.listen_addrs(), None, Arc::default(), &shutdown).await;
    // The second keeps redialling; every attempt is refused.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(full.handle.peer_count(), 1);
    assert!(
        !full
            .handle
            .peers()
            .iter()
            .any(|peer| peer.peer_id == second.handle.local_peer_id())
    );
    assert_eq!(full.handle.peers()[0].peer_id, first.handle.local_peer_id());
}

#[tokio::test]
async fn a_static_peer_without_its_id_is_refused() {
    let (_stop, shutdown) = watch::channel(false);
    let result = start(
        NetworkConfig {
            chain_id: CHAIN_ID,
            listen: "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
            static_peers: vec!["/ip4/127.0.0.1/tcp/9222".parse().unwrap()],
            keypair: Keypair::generate_secp256k1(),
            unsafe_block_signer: Address::ZERO,
            sequencer_key: None,
            max_peers: 30,
        },
        Arc::new(Blocks::default()),
        shutdown,
    )
    .await;
    assert!(matches!(result, Err(NetworkError::StaticPeerWithoutId(_))));
}
