//! The built-in DA server driven by the HTTP client over real sockets: both commitment kinds,
//! the error statuses the batcher and derivation act on, the payload limit, and durability
//! across a restart.

use alloy_primitives::Bytes;
use ol_da::{
    Commitment, DaClient, DaError, DaServer, DaServerConfig, DaStore, HttpDaClient,
    OPENLEDGER_DA_LAYER, PutMode,
};
use std::{net::SocketAddr, time::Duration};

async fn serve(dir: &std::path::Path, config: DaServerConfig) -> DaServer {
    let store = DaStore::open(&dir.join("da")).unwrap();
    DaServer::start(store, SocketAddr::from(([127, 0, 0, 1], 0)), config)
        .await
        .unwrap()
}

fn client(server: &DaServer, mode: PutMode) -> HttpDaClient {
    HttpDaClient::new(
        &format!("http://{}", server.local_addr()),
        mode,
        Duration::from_secs(30),
    )
    .unwrap()
}

#[tokio::test]
async fn generic_and_keccak_commitments_round_trip_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), DaServerConfig::default()).await;
    let generic = client(&server, PutMode::Generic);
    let keccak = client(&server, PutMode::Keccak);

    let first = Bytes::from_static(b"\x00frames of channel one");
    let commitment = generic.put(first.clone()).await.unwrap();
    let Commitment::Generic { da_layer, data } = &commitment else {
        panic!("POST /put answers a generic commitment: {commitment:?}");
    };
    assert_eq!(*da_layer, OPENLEDGER_DA_LAYER);
    assert_eq!(data.len(), 32);
    assert_eq!(generic.get(&commitment).await.unwrap(), first);

    // The largest payload EigenDA takes.
    let big = Bytes::from(vec![7u8; ol_da::MAX_PAYLOAD_BYTES]);
    let big_commitment = keccak.put(big.clone()).await.unwrap();
    assert_eq!(big_commitment, Commitment::keccak(&big));
    assert_eq!(keccak.get(&big_commitment).await.unwrap(), big);

    server.stop().await.unwrap();
    let server = serve(dir.path(), DaServerConfig::default()).await;
    let after = client(&server, PutMode::Generic);
    assert_eq!(after.get(&commitment).await.unwrap(), first);
    assert_eq!(after.get(&big_commitment).await.unwrap().len(), big.len());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn errors_carry_the_status_the_pipeline_acts_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        DaServerConfig {
            max_payload_bytes: 1024,
            admin: true,
            ..DaServerConfig::default()
        },
    )
    .await;
    let base = format!("http://{}", server.local_addr());
    let da = client(&server, PutMode::Generic);

    // Unknown commitments are 404: derivation waits instead of skipping.
    let unknown = Commitment::keccak(b"never stored");
    assert!(matches!(da.get(&unknown).await, Err(DaError::NotFound(_))));

    // Oversized bodies are refused by the server (413).
    match da.put(Bytes::from(vec![1u8; 2048])).await {
        Err(DaError::Http { status: 413, .. }) => {}
        other => panic!("expected 413, got {other:?}"),
    }

    // A keccak put whose payload does not match its commitment changes nothing.
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{base}/put/{unknown}"))
        .body("something else")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(matches!(da.get(&unknown).await, Err(DaError::NotFound(_))));

    // Malformed commitments in paths are 400.
    let response = http.get(format!("{base}/get/0x02ff")).send().await.unwrap();
    assert_eq!(response.status(), 400);

    // With failover requested, puts answer 503 and the client says to fall back.
    let response = http
        .post(format!("{base}/admin/put-failover"))
        .body("true")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let err = da.put(Bytes::from_static(b"frames")).await.unwrap_err();
    assert!(err.should_fail_over(), "{err}");
    http.post(format!("{base}/admin/put-failover"))
        .body("false")
        .send()
        .await
        .unwrap();
    let commitment = da.put(Bytes::from_static(b"frames")).await.unwrap();
    assert_eq!(
        da.get(&commitment).await.unwrap(),
        Bytes::from_static(b"frames")
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_admin_endpoint_is_absent_unless_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), DaServerConfig::default()).await;
    let response = reqwest::Client::new()
        .post(format!("http://{}/admin/put-failover", server.local_addr()))
        .body("true")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    server.stop().await.unwrap();
}
