//! The built-in DA server: the HTTP API of OP's DA servers and eigenda-proxy, over [`DaStore`].
//!
//! * `POST /put` with the payload as body stores it and answers the raw bytes of a generic
//!   commitment `0x01 ‖ da_layer ‖ keccak256(payload)` (the layer byte is
//!   [`OPENLEDGER_DA_LAYER`](crate::OPENLEDGER_DA_LAYER) unless configured).
//! * `POST /put/0x00<keccak256>` stores a payload under its keccak commitment (OP Alt-DA type 0),
//!   refusing one that does not match.
//! * `GET /get/0x<commitment>` answers the payload, 404 when unknown.
//! * `GET /health`.
//! * With `admin` on, `POST /admin/put-failover` with body `true` or `false` makes every put
//!   answer 503, as eigenda-proxy's memstore `put-returns-failover-error` does, so the batcher's
//!   fallback to calldata can be exercised.

use crate::{Commitment, DaStore, OPENLEDGER_DA_LAYER};
use alloy_primitives::keccak256;
use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};
use tokio::{sync::watch, task::JoinHandle};
use tracing::{debug, info, warn};

/// The largest payload accepted: EigenDA's largest blob, 16 MiB.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;

/// Server settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaServerConfig {
    /// Largest payload accepted (413 beyond).
    pub max_payload_bytes: usize,
    /// DA-layer byte of the generic commitments `POST /put` answers.
    pub da_layer: u8,
    /// Whether the fault-injection endpoint is served.
    pub admin: bool,
}

impl Default for DaServerConfig {
    fn default() -> Self {
        Self {
            max_payload_bytes: MAX_PAYLOAD_BYTES,
            da_layer: OPENLEDGER_DA_LAYER,
            admin: false,
        }
    }
}

struct Shared {
    store: DaStore,
    config: DaServerConfig,
    put_failover: AtomicBool,
}

/// A running DA server.
#[derive(Debug)]
pub struct DaServer {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

fn text(status: StatusCode, message: impl Into<String>) -> Response {
    (status, message.into()).into_response()
}

fn stored(shared: &Shared, commitment: &Commitment, payload: &[u8]) -> Result<(), Response> {
    shared.store.put(commitment, payload).map_err(|err| {
        warn!(%err, "DA store write failed");
        text(StatusCode::INTERNAL_SERVER_ERROR, err.to_string())
    })?;
    metrics::counter!("da_server_puts_total").increment(1);
    metrics::counter!("da_server_put_bytes_total").increment(payload.len() as u64);
    debug!(%commitment, bytes = payload.len(), "stored a DA payload");
    Ok(())
}

fn check_put(shared: &Shared, payload: &[u8]) -> Result<(), Response> {
    if shared.put_failover.load(Ordering::Relaxed) {
        return Err(text(
            StatusCode::SERVICE_UNAVAILABLE,
            "failover requested: post the frames to L1",
        ));
    }
    if payload.is_empty() {
        return Err(text(StatusCode::BAD_REQUEST, "empty payload"));
    }
    Ok(())
}

async fn put_generic(State(shared): State<Arc<Shared>>, payload: Bytes) -> Response {
    if let Err(response) = check_put(&shared, &payload) {
        return response;
    }
    let commitment = Commitment::Generic {
        da_layer: shared.config.da_layer,
        data: keccak256(&payload).to_vec().into(),
    };
    match stored(&shared, &commitment, &payload) {
        Ok(()) => (StatusCode::OK, commitment.encode()).into_response(),
        Err(response) => response,
    }
}

async fn put_keccak(
    State(shared): State<Arc<Shared>>,
    Path(commitment): Path<String>,
    payload: Bytes,
) -> Response {
    if let Err(response) = check_put(&shared, &payload) {
        return response;
    }
    let commitment = match commitment.parse::<Commitment>() {
        Ok(commitment @ Commitment::Keccak(_)) => commitment,
        Ok(Commitment::Generic { .. }) => {
            return text(
                StatusCode::BAD_REQUEST,
                "only keccak commitments are put by commitment; POST /put for generic ones",
            );
        }
        Err(err) => return text(StatusCode::BAD_REQUEST, err.to_string()),
    };
    if !commitment.verifies(&payload) {
        return text(
            StatusCode::BAD_REQUEST,
            "payload does not match the commitment",
        );
    }
    match stored(&shared, &commitment, &payload) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(response) => response,
    }
}

async fn get_payload(
    State(shared): State<Arc<Shared>>,
    Path(commitment): Path<String>,
) -> Response {
    let commitment = match commitment.parse::<Commitment>() {
        Ok(commitment) => commitment,
        Err(err) => return text(StatusCode::BAD_REQUEST, err.to_string()),
    };
    metrics::counter!("da_server_gets_total").increment(1);
    match shared.store.get(&commitment) {
        Ok(Some(payload)) => (StatusCode::OK, payload).into_response(),
        Ok(None) => text(
            StatusCode::NOT_FOUND,
            format!("no payload for {commitment}"),
        ),
        Err(err) => text(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()),
    }
}

async fn set_failover(State(shared): State<Arc<Shared>>, body: String) -> Response {
    match body.trim() {
        "true" => shared.put_failover.store(true, Ordering::Relaxed),
        "false" => shared.put_failover.store(false, Ordering::Relaxed),
        other => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("expected true or false, got {other:?}"),
            );
        }
    }
    info!(enabled = body.trim(), "DA put failover set");
    StatusCode::OK.into_response()
}

impl DaServer {
    /// Serves `store` on `addr` (port 0 picks a free port) until [`DaServer::stop`].
    pub async fn start(
        store: DaStore,
        addr: SocketAddr,
        config: DaServerConfig,
    ) -> std::io::Result<Self> {
        let limit = config.max_payload_bytes;
        let admin = config.admin;
        let shared = Arc::new(Shared {
            store,
            config,
            put_failover: AtomicBool::new(false),
        });
        let mut router = Router::new()
            .route("/put", post(put_generic))
            .route("/put/", post(put_generic))
            .route("/put/{commitment}", post(put_keccak))
            .route("/get/{commitment}", get(get_payload))
            .route("/health", get(|| async { "ok" }));
        if admin {
            router = router.route("/admin/put-failover", post(set_failover));
        }
        let router = router
            .layer(DefaultBodyLimit::max(limit))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (shutdown, mut stop) = watch::channel(false);
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                })
                .await
        });
        info!(%addr, "DA server listening");
        Ok(Self {
            addr,
            shutdown,
            task,
        })
    }

    /// Where it listens.
    pub const fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits for the server to finish.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        match self.task.await {
            Ok(result) => result,
            Err(join) => Err(std::io::Error::other(join)),
        }
    }
}
