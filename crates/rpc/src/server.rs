//! Starting the HTTP server with its limits.

use crate::{EthApiServer, EthRpc, NetApiServer, RpcError, Web3ApiServer};
use jsonrpsee::{
    RpcModule,
    server::{BatchRequestConfig, Server, ServerConfig, ServerHandle},
};
use ol_sequencer::Chain;
use ol_txpool::TxPool;
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
};

/// Server settings and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcConfig {
    /// Address to listen on (loopback by default: exposing RPC is an operator's decision).
    pub http_addr: IpAddr,
    /// Port to listen on.
    pub http_port: u16,
    /// Most concurrent connections.
    pub max_connections: u32,
    /// Largest request body in bytes.
    pub max_request_body_bytes: u32,
    /// Largest response body in bytes.
    pub max_response_body_bytes: u32,
    /// Most calls in one batch.
    pub max_batch_len: u32,
    /// Gas cap of `eth_call` and `eth_estimateGas`.
    pub gas_cap: u64,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            http_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            http_port: 8545,
            // reth's defaults.
            max_connections: 500,
            max_request_body_bytes: 15 * 1024 * 1024,
            max_response_body_bytes: 160 * 1024 * 1024,
            max_batch_len: 1000,
            gas_cap: 50_000_000,
        }
    }
}

/// Starts the HTTP JSON-RPC server; returns once it listens, with its handle and address.
pub async fn start_http(
    config: &RpcConfig,
    chain: Arc<Chain>,
    pool: Arc<TxPool>,
) -> Result<(ServerHandle, SocketAddr), RpcError> {
    let addr = SocketAddr::new(config.http_addr, config.http_port);
    let server_config = ServerConfig::builder()
        .max_connections(config.max_connections)
        .max_request_body_size(config.max_request_body_bytes)
        .max_response_body_size(config.max_response_body_bytes)
        .set_batch_request_config(BatchRequestConfig::Limit(config.max_batch_len))
        .http_only()
        .build();
    let server = Server::builder()
        .set_config(server_config)
        .build(addr)
        .await
        .map_err(|source| RpcError::Bind { addr, source })?;
    let local = server
        .local_addr()
        .map_err(|source| RpcError::Bind { addr, source })?;
    let api = EthRpc::new(chain, pool, config.gas_cap);
    let mut module = RpcModule::new(());
    module
        .merge(EthApiServer::into_rpc(api.clone()))
        .expect("eth methods are unique");
    module
        .merge(NetApiServer::into_rpc(api.clone()))
        .expect("net methods are unique");
    module
        .merge(Web3ApiServer::into_rpc(api))
        .expect("web3 methods are unique");
    Ok((server.start(module), local))
}
