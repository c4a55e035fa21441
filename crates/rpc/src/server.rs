//! Starting the HTTP and WebSocket servers with their limits.

use crate::{
    DebugApiServer, EthApiServer, EthPubSubApiServer, EthRpc, NetApiServer, RpcError,
    TxPoolApiServer, Web3ApiServer,
    filter::DEFAULT_FILTER_TIMEOUT,
    logs::{DEFAULT_MAX_BLOCKS_PER_FILTER, DEFAULT_MAX_LOGS_PER_RESPONSE},
    pubsub::HexIdProvider,
};
use jsonrpsee::{
    RpcModule,
    server::{BatchRequestConfig, Server, ServerConfig, ServerConfigBuilder, ServerHandle},
};
use ol_sequencer::Chain;
use ol_txpool::TxPool;
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

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
    /// How long an installed filter lives without being polled.
    pub filter_timeout: Duration,
}

impl RpcConfig {
    /// Default port of the WebSocket server.
    pub const DEFAULT_WS_PORT: u16 = 8546;
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
            // geth's.
            filter_timeout: DEFAULT_FILTER_TIMEOUT,
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

async fn serve(
    addr: SocketAddr,
    server_config: ServerConfig,
    module: RpcModule<()>,
) -> Result<(ServerHandle, SocketAddr), RpcError> {
    let server = Server::builder()
        .set_config(server_config)
        .build(addr)
        .await
        .map_err(|source| RpcError::Bind { addr, source })?;
    let local = server
        .local_addr()
        .map_err(|source| RpcError::Bind { addr, source })?;
    Ok((server.start(module), local))
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
    let api = EthRpc::with_config(chain, pool, config);
    let http_addr = SocketAddr::new(config.http_addr, config.http_port);
    let (http, http_addr) = serve(
        http_addr,
        server_config(config).http_only().build(),
        module(api.clone(), false),
    )
    .await?;
    let ws = match config.ws {
        Some(addr) => {
            match serve(
                addr,
                server_config(config).ws_only().build(),
                module(api, true),
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
