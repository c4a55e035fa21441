//! Starting the HTTP and WebSocket servers with their limits.
//!
//! The servers accept connections themselves (rather than through jsonrpsee's `Server`) so
//! that every request is seen with its client's address, which the per-IP rate limit needs.
//! Each connection is served by jsonrpsee's tower service with the RPC middleware (metrics,
//! WebSocket rate limit) and jsonrpsee's own limits (connections, body, response and batch
//! sizes).

use crate::{
    DebugApiServer, EthApiServer, EthPubSubApiServer, EthRpc, NetApiServer, OlApiServer,
    OptimismApiServer, RpcError, TxPoolApiServer, Web3ApiServer,
    blocking::BlockingConfig,
    filter::FilterLimits,
    logs::{DEFAULT_MAX_BLOCKS_PER_FILTER, DEFAULT_MAX_LOGS_PER_RESPONSE},
    middleware::{
        metrics::RpcMetricsLayer,
        rate_limit::{RateLimiter, WsClient, WsRateLimitLayer},
    },
    pubsub::HexIdProvider,
    reexec::{DEFAULT_MAX_TRACE_BYTES, default_max_tracing_requests},
};
use jsonrpsee::{
    RpcModule,
    core::BoxError,
    server::{
        BatchRequestConfig, HttpRequest, HttpResponse, Methods, Server, ServerConfig,
        ServerConfigBuilder, ServerHandle, middleware::rpc::RpcServiceBuilder,
        serve_with_graceful_shutdown, stop_channel, ws::is_upgrade_request,
    },
};
use ol_chain::Chain;
use ol_txpool::TxPool;
use std::{
    future::Future,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};
use tokio::net::TcpListener;
use tower::Service;
use tracing::debug;

/// Server settings and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcConfig {
    /// Address to listen on (loopback by default: exposing RPC is an operator's decision).
    pub http_addr: IpAddr,
    /// Port to listen on.
    pub http_port: u16,
    /// Where the WebSocket server listens; `None` serves no WebSocket.
    pub ws: Option<SocketAddr>,
    /// Most concurrent connections (per server).
    pub max_connections: u32,
    /// Largest request body in bytes.
    pub max_request_body_bytes: u32,
    /// Largest response body in bytes.
    pub max_response_body_bytes: u32,
    /// Most calls in one batch.
    pub max_batch_len: u32,
    /// Gas cap of `eth_call` and `eth_estimateGas`.
    pub gas_cap: u64,
    /// Most subscriptions one WebSocket connection may hold.
    pub max_subscriptions_per_connection: u32,
    /// Most blocks one `eth_getLogs` range (or log filter poll) may cover.
    pub max_blocks_per_filter: u64,
    /// Most logs one `eth_getLogs` (or log filter) response may hold.
    pub max_logs_per_response: usize,
    /// Bounds on installed filters (timeout, counts, sizes).
    pub filters: FilterLimits,
    /// The RPC's worker threads for execution and other blocking work, and its queue.
    pub blocking: BlockingConfig,
    /// Most `debug_trace*` requests running at once (reth's `--rpc.max-tracing-requests`).
    pub max_tracing_requests: usize,
    /// Largest trace one request may build, in bytes of JSON.
    pub max_trace_bytes: usize,
    /// How long one `eth_call` or `eth_estimateGas` may execute before it is aborted (zero:
    /// no limit).
    pub evm_timeout: Duration,
    /// Most wei `eth_sendRawTransaction` accepts a transaction committing to fees (gas limit ×
    /// max fee per gas); zero: no cap.
    pub tx_fee_cap: u128,
    /// Requests per second one client address may make (HTTP requests, WebSocket handshakes
    /// and WebSocket calls); zero: no limit.
    pub rate_limit: u32,
    /// What `eth_sendRawTransaction` does with a transaction.
    pub transactions: crate::TxSubmission,
}

impl RpcConfig {
    /// Default port of the WebSocket server.
    pub const DEFAULT_WS_PORT: u16 = 8546;
    /// geth's `--rpc.evmtimeout` default.
    pub const DEFAULT_EVM_TIMEOUT: Duration = Duration::from_secs(5);
    /// geth's and reth's `--rpc.txfeecap` default: 1 OPEN.
    pub const DEFAULT_TX_FEE_CAP: u128 = 1_000_000_000_000_000_000;
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            http_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            http_port: 8545,
            ws: None,
            // reth's defaults.
            max_connections: 500,
            max_request_body_bytes: 15 * 1024 * 1024,
            max_response_body_bytes: 160 * 1024 * 1024,
            max_batch_len: 1000,
            gas_cap: 50_000_000,
            max_subscriptions_per_connection: 1024,
            max_blocks_per_filter: DEFAULT_MAX_BLOCKS_PER_FILTER,
            max_logs_per_response: DEFAULT_MAX_LOGS_PER_RESPONSE,
            filters: FilterLimits::default(),
            blocking: BlockingConfig::default_for_machine(),
            max_tracing_requests: default_max_tracing_requests(),
            max_trace_bytes: DEFAULT_MAX_TRACE_BYTES,
            evm_timeout: Self::DEFAULT_EVM_TIMEOUT,
            tx_fee_cap: Self::DEFAULT_TX_FEE_CAP,
            // Off, as in geth and reth: the server listens on loopback unless told otherwise,
            // and whoever exposes it chooses the limit that suits its clients.
            rate_limit: 0,
            transactions: crate::TxSubmission::Pool,
        }
    }
}

/// The running servers.
#[derive(Debug)]
pub struct RpcServers {
    /// The HTTP server.
    pub http: ServerHandle,
    /// Where it listens.
    pub http_addr: SocketAddr,
    /// The WebSocket server and where it listens, when one was asked for.
    pub ws: Option<(ServerHandle, SocketAddr)>,
}

impl RpcServers {
    /// Stops every server and waits until they have stopped.
    pub async fn stop(self) {
        let _ = self.http.stop();
        if let Some((ws, _)) = &self.ws {
            let _ = ws.stop();
        }
        self.http.stopped().await;
        if let Some((ws, _)) = self.ws {
            ws.stopped().await;
        }
    }
}

/// Every namespace over one API (so that all transports share the installed filters);
/// `eth_subscribe` only where it can work (WebSocket): over HTTP it is an unknown method.
fn module(api: EthRpc, pubsub: bool) -> RpcModule<()> {
    let mut module = RpcModule::new(());
    module
        .merge(EthApiServer::into_rpc(api.clone()))
        .expect("eth methods are unique");
    if pubsub {
        module
            .merge(EthPubSubApiServer::into_rpc(api.clone()))
            .expect("eth pubsub methods are unique");
    }
    module
        .merge(DebugApiServer::into_rpc(api.clone()))
        .expect("debug methods are unique");
    module
        .merge(crate::EthSimulateApiServer::into_rpc(api.clone()))
        .expect("eth_simulateV1 is unique");
    module
        .merge(crate::TraceApiServer::into_rpc(api.clone()))
        .expect("trace methods are unique");
    module
        .merge(crate::OtsApiServer::into_rpc(api.clone()))
        .expect("ots methods are unique");
    module
        .merge(OptimismApiServer::into_rpc(api.clone()))
        .expect("optimism methods are unique");
    module
        .merge(OlApiServer::into_rpc(api.clone()))
        .expect("ol methods are unique");
    module
        .merge(crate::ol::OlJobsApiServer::into_rpc(api.clone()))
        .expect("ol methods are unique");
    module
        .merge(crate::ol::OlTrainingApiServer::into_rpc(api.clone()))
        .expect("ol methods are unique");
    module
        .merge(crate::ol::OlVerifyApiServer::into_rpc(api.clone()))
        .expect("ol methods are unique");
    module
        .merge(crate::Opp2pApiServer::into_rpc(api.clone()))
        .expect("opp2p methods are unique");
    module
        .merge(NetApiServer::into_rpc(api.clone()))
        .expect("net methods are unique");
    module
        .merge(TxPoolApiServer::into_rpc(api.clone()))
        .expect("txpool methods are unique");
    module
        .merge(Web3ApiServer::into_rpc(api))
        .expect("web3 methods are unique");
    module
}

fn server_config(config: &RpcConfig) -> ServerConfigBuilder {
    ServerConfig::builder()
        .max_connections(config.max_connections)
        .max_request_body_size(config.max_request_body_bytes)
        .max_response_body_size(config.max_response_body_bytes)
        .set_batch_request_config(BatchRequestConfig::Limit(config.max_batch_len))
        .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
        .set_id_provider(HexIdProvider)
}

/// The middleware every server runs, shared by its connections.
#[derive(Debug, Clone)]
struct Guards {
    limiter: Option<Arc<RateLimiter>>,
    max_response_bytes: usize,
}

impl Guards {
    fn new(config: &RpcConfig) -> Self {
        Self {
            limiter: (config.rate_limit > 0).then(|| Arc::new(RateLimiter::new(config.rate_limit))),
            max_response_bytes: config.max_response_body_bytes as usize,
        }
    }
}

async fn serve(
    addr: SocketAddr,
    server_config: ServerConfig,
    module: RpcModule<()>,
    guards: Guards,
) -> Result<(ServerHandle, SocketAddr), RpcError> {
    let bind_error = |source| RpcError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    let rpc_middleware = RpcServiceBuilder::new()
        .layer(RpcMetricsLayer::new(
            module.method_names(),
            guards.max_response_bytes,
        ))
        .layer(WsRateLimitLayer::new(
            guards.limiter.clone(),
            guards.max_response_bytes,
        ));
    let methods = Methods::from(module);
    let services = Server::builder()
        .set_config(server_config)
        .set_rpc_middleware(rpc_middleware)
        .to_service_builder();
    let (stop, handle) = stop_channel();
    tokio::spawn(async move {
        loop {
            let (socket, remote) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        debug!(%err, "cannot accept an RPC connection");
                        continue;
                    }
                },
                () = stop.clone().shutdown() => break,
            };
            // Small JSON-RPC answers must not wait for Nagle's algorithm.
            let _ = socket.set_nodelay(true);
            let service = PerClient {
                inner: services.clone().build(methods.clone(), stop.clone()),
                ip: remote.ip(),
                limiter: guards.limiter.clone(),
            };
            tokio::spawn(serve_with_graceful_shutdown(
                socket,
                service,
                stop.clone().shutdown(),
            ));
        }
    });
    Ok((handle, local))
}

/// jsonrpsee's service for one connection, behind the client's rate limit.
#[derive(Debug, Clone)]
struct PerClient<S> {
    inner: S,
    ip: IpAddr,
    limiter: Option<Arc<RateLimiter>>,
}

type BoxedAnswer = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

impl<S, B> Service<HttpRequest<B>> for PerClient<S>
where
    S: Service<HttpRequest<B>, Response = HttpResponse, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = BoxedAnswer;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: HttpRequest<B>) -> Self::Future {
        if let Some(limiter) = &self.limiter {
            if let Some(refused) = limiter.check_http(self.ip) {
                return Box::pin(async move { Ok(refused) });
            }
            if is_upgrade_request(&request) {
                request.extensions_mut().insert(WsClient(self.ip));
            }
        }
        Box::pin(self.inner.call(request))
    }
}

/// Starts the HTTP JSON-RPC server; returns once it listens, with its handle and address.
pub async fn start_http(
    config: &RpcConfig,
    chain: Arc<Chain>,
    pool: Arc<TxPool>,
) -> Result<(ServerHandle, SocketAddr), RpcError> {
    let api = EthRpc::with_config(chain, pool, config);
    let addr = SocketAddr::new(config.http_addr, config.http_port);
    serve(
        addr,
        server_config(config).http_only().build(),
        module(api, false),
        Guards::new(config),
    )
    .await
}

/// Starts the HTTP server and, when `config.ws` names an address, the WebSocket server (with
/// `eth_subscribe`); both serve the same API and share installed filters. Returns once they
/// listen.
pub async fn start(
    config: &RpcConfig,
    chain: Arc<Chain>,
    pool: Arc<TxPool>,
) -> Result<RpcServers, RpcError> {
    start_api(config, EthRpc::with_config(chain, pool, config)).await
}

/// [`start`] with an API already built (for example with [`EthRpc::with_content`]); `api`
/// must have been built with `config`.
pub async fn start_api(config: &RpcConfig, api: EthRpc) -> Result<RpcServers, RpcError> {
    // HTTP and WebSocket share the buckets: a client's limit does not double with a second
    // transport.
    let guards = Guards::new(config);
    let http_addr = SocketAddr::new(config.http_addr, config.http_port);
    let (http, http_addr) = serve(
        http_addr,
        server_config(config).http_only().build(),
        module(api.clone(), false),
        guards.clone(),
    )
    .await?;
    let ws = match config.ws {
        Some(addr) => {
            match serve(
                addr,
                server_config(config).ws_only().build(),
                module(api, true),
                guards,
            )
            .await
            {
                Ok(ws) => Some(ws),
                Err(err) => {
                    let _ = http.stop();
                    http.stopped().await;
                    return Err(err);
                }
            }
        }
        None => None,
    };
    Ok(RpcServers {
        http,
        http_addr,
        ws,
    })
}
