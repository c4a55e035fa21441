//! `--http.*`, `--ws.*` and `--rpc.*`.

use super::positive_usize;
use clap::Args;
use ol_rpc::RpcConfig;
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

/// One mebibyte: the unit of the `--rpc.max-*-size` flags (as in reth).
const MIB: u32 = 1024 * 1024;

fn default_rpc() -> RpcConfig {
    RpcConfig::default()
}

/// The JSON-RPC server.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
#[command(next_help_heading = "RPC")]
pub struct RpcServerArgs {
    /// Accepted for compatibility with reth command lines: HTTP-RPC is always served.
    #[arg(long = "http")]
    pub http: bool,

    /// Http server address to listen on.
    #[arg(long = "http.addr", value_name = "HTTP_ADDR", default_value_t = default_rpc().http_addr)]
    pub http_addr: IpAddr,

    /// Http server port to listen on (0 picks a free port; the bound address is logged).
    #[arg(long = "http.port", value_name = "HTTP_PORT", default_value_t = default_rpc().http_port)]
    pub http_port: u16,

    /// Enable the WS-RPC server (the same namespaces as HTTP, plus `eth_subscribe`).
    #[arg(long = "ws")]
    pub ws: bool,

    /// Ws server address to listen on [default: 127.0.0.1]. Only with `--ws`.
    #[arg(long = "ws.addr", value_name = "WS_ADDR")]
    pub ws_addr: Option<IpAddr>,

    /// Ws server port to listen on [default: 8546] (0 picks a free port; the bound address is
    /// logged). Only with `--ws`.
    #[arg(long = "ws.port", value_name = "WS_PORT")]
    pub ws_port: Option<u16>,

    /// Maximum number of RPC server connections.
    #[arg(long = "rpc.max-connections", value_name = "COUNT", default_value_t = default_rpc().max_connections, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Set the maximum RPC request payload size for both HTTP and WS in megabytes.
    #[arg(long = "rpc.max-request-size", value_name = "MB", default_value_t = default_rpc().max_request_body_bytes / MIB, value_parser = clap::value_parser!(u32).range(1..=4095))]
    pub max_request_size_mb: u32,

    /// Set the maximum RPC response payload size for both HTTP and WS in megabytes.
    #[arg(long = "rpc.max-response-size", visible_alias = "rpc.returndata.limit", value_name = "MB", default_value_t = default_rpc().max_response_body_bytes / MIB, value_parser = clap::value_parser!(u32).range(1..=4095))]
    pub max_response_size_mb: u32,

    /// Maximum number of calls in one JSON-RPC batch request.
    #[arg(long = "rpc.max-batch-size", value_name = "COUNT", default_value_t = default_rpc().max_batch_len, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_batch_size: u32,

    /// Maximum gas limit for `eth_call` and call-tracing RPC methods.
    #[arg(long = "rpc.gascap", value_name = "GAS_CAP", default_value_t = default_rpc().gas_cap, value_parser = clap::value_parser!(u64).range(1..))]
    pub gas_cap: u64,

    /// Maximum number of subscriptions one WebSocket connection may hold.
    #[arg(long = "rpc.max-subscriptions-per-connection", value_name = "COUNT", default_value_t = default_rpc().max_subscriptions_per_connection, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_subscriptions_per_connection: u32,

    /// Maximum number of blocks one `eth_getLogs` query (or log filter poll) may cover.
    #[arg(long = "rpc.max-blocks-per-filter", value_name = "COUNT", default_value_t = default_rpc().max_blocks_per_filter, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_blocks_per_filter: u64,

    /// Maximum number of logs one `eth_getLogs` (or log filter) response may hold.
    #[arg(long = "rpc.max-logs-per-response", value_name = "COUNT", default_value_t = default_rpc().max_logs_per_response as u64, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_logs_per_response: u64,

    /// Sets a timeout used for eth_call and eth_estimateGas (0=infinite), e.g. `5s`, `500ms`,
    /// `1m`, or plain seconds.
    #[arg(long = "rpc.evmtimeout", value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub evm_timeout: Duration,

    /// Sets a cap on transaction fee (in ether) that can be sent via the RPC APIs (0 = no cap).
    #[arg(long = "rpc.txfeecap", value_name = "TX_FEE_CAP", default_value = "1.0", value_parser = parse_ether)]
    pub tx_fee_cap_wei: u128,

    /// Maximum number of `debug_trace*` requests running at once; the rest wait their turn
    /// [default: one core fewer than the machine has, at least 1].
    #[arg(long = "rpc.max-tracing-requests", value_name = "COUNT", value_parser = positive_usize)]
    pub max_tracing_requests: Option<usize>,
    /// Largest trace one request may build, in megabytes of JSON; a trace that would grow
    /// past it is stopped and refused before it uses that memory.
    #[arg(long = "rpc.max-trace-size", value_name = "MB", default_value_t = default_rpc().max_trace_bytes / MIB as usize, value_parser = positive_usize)]
    pub max_trace_size_mb: usize,
    /// Maximum number of execution and other blocking requests (eth_call, eth_estimateGas,
    /// traces, log queries, proofs) queued or running at once; more are refused with -32005.
    #[arg(long = "rpc.max-blocking-io-requests", value_name = "COUNT", default_value_t = default_rpc().blocking.max_requests, value_parser = positive_usize)]
    pub max_blocking_requests: usize,
    /// Threads that run those requests, at a lower scheduling priority than block production
    /// [default: one per core].
    #[arg(long = "rpc.blocking-threads", value_name = "COUNT", value_parser = positive_usize)]
    pub blocking_threads: Option<usize>,
    /// Maximum number of installed filters (eth_newFilter and friends) on the node.
    #[arg(long = "rpc.max-filters", value_name = "COUNT", default_value_t = default_rpc().filters.max_filters, value_parser = positive_usize)]
    pub max_filters: usize,
    /// Maximum number of installed filters per connection.
    #[arg(long = "rpc.max-filters-per-connection", value_name = "COUNT", default_value_t = default_rpc().filters.max_per_connection, value_parser = positive_usize)]
    pub max_filters_per_connection: usize,
    /// Maximum requests per second from one IP address, over HTTP and WebSocket together
    /// (0 = no limit). Refused HTTP requests get status 429, refused WebSocket calls the
    /// JSON-RPC error -32005.
    #[arg(long = "rpc.rate-limit", value_name = "REQUESTS_PER_SECOND", default_value_t = default_rpc().rate_limit)]
    pub rate_limit: u32,
}

/// A duration as geth writes them (`5s`, `500ms`, `1m`, `1h`), or a number of seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 5s, 500ms or 1m"))?;
    let seconds = match unit {
        "" | "s" => number,
        "ms" => number / 1e3,
        "us" | "µs" => number / 1e6,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}` (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|err| format!("`{text}`: {err}"))
}

/// An amount of ether (decimal, as geth and reth take `--rpc.txfeecap`) in wei.
fn parse_ether(text: &str) -> Result<u128, String> {
    let ether: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not an amount of ether such as 1 or 0.5"))?;
    if !ether.is_finite() || ether < 0.0 {
        return Err(format!("`{text}` must be a non-negative amount of ether"));
    }
    let wei = ether * 1e18;
    if wei > u128::MAX as f64 {
        return Err(format!("`{text}` ether is too large"));
    }
    Ok(wei.round() as u128)
}

impl Default for RpcServerArgs {
    fn default() -> Self {
        let rpc = default_rpc();
        Self {
            http: false,
            http_addr: rpc.http_addr,
            http_port: rpc.http_port,
            ws: false,
            ws_addr: None,
            ws_port: None,
            max_connections: rpc.max_connections,
            max_request_size_mb: rpc.max_request_body_bytes / MIB,
            max_response_size_mb: rpc.max_response_body_bytes / MIB,
            max_batch_size: rpc.max_batch_len,
            gas_cap: rpc.gas_cap,
            max_subscriptions_per_connection: rpc.max_subscriptions_per_connection,
            max_blocks_per_filter: rpc.max_blocks_per_filter,
            max_logs_per_response: rpc.max_logs_per_response as u64,
            evm_timeout: rpc.evm_timeout,
            tx_fee_cap_wei: rpc.tx_fee_cap,
            max_tracing_requests: None,
            max_trace_size_mb: rpc.max_trace_bytes / MIB as usize,
            max_blocking_requests: rpc.blocking.max_requests,
            blocking_threads: None,
            max_filters: rpc.filters.max_filters,
            max_filters_per_connection: rpc.filters.max_per_connection,
            rate_limit: rpc.rate_limit,
        }
    }
}

impl RpcServerArgs {
    /// Default address of the WS server.
    pub const DEFAULT_WS_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    /// Default port of the WS server.
    pub const DEFAULT_WS_PORT: u16 = RpcConfig::DEFAULT_WS_PORT;

    /// Whether any WS flag was given.
    pub const fn ws_requested(&self) -> bool {
        self.ws || self.ws_addr.is_some() || self.ws_port.is_some()
    }

    /// Where the WS server listens: `None` without `--ws` (as in reth and geth, `--ws.addr`
    /// and `--ws.port` alone do not enable it).
    pub fn ws_socket(&self) -> Option<SocketAddr> {
        self.ws.then(|| {
            SocketAddr::new(
                self.ws_addr.unwrap_or(Self::DEFAULT_WS_ADDR),
                self.ws_port.unwrap_or(Self::DEFAULT_WS_PORT),
            )
        })
    }

    /// The server configuration these flags describe.
    pub fn rpc_config(&self) -> RpcConfig {
        let defaults = default_rpc();
        RpcConfig {
            http_addr: self.http_addr,
            http_port: self.http_port,
            max_connections: self.max_connections,
            max_request_body_bytes: self.max_request_size_mb.saturating_mul(MIB),
            max_response_body_bytes: self.max_response_size_mb.saturating_mul(MIB),
            max_batch_len: self.max_batch_size,
            gas_cap: self.gas_cap,
            ws: self.ws_socket(),
            max_subscriptions_per_connection: self.max_subscriptions_per_connection,
            max_blocks_per_filter: self.max_blocks_per_filter,
            max_logs_per_response: usize::try_from(self.max_logs_per_response)
                .unwrap_or(usize::MAX),
            filters: ol_rpc::FilterLimits {
                max_filters: self.max_filters,
                max_per_connection: self.max_filters_per_connection,
                ..defaults.filters
            },
            blocking: ol_rpc::BlockingConfig {
                threads: self.blocking_threads.unwrap_or(defaults.blocking.threads),
                max_requests: self.max_blocking_requests,
            },
            max_tracing_requests: self
                .max_tracing_requests
                .unwrap_or(defaults.max_tracing_requests),
            max_trace_bytes: self.max_trace_size_mb.saturating_mul(MIB as usize),
            evm_timeout: self.evm_timeout,
            tx_fee_cap: self.tx_fee_cap_wei,
            rate_limit: self.rate_limit,
            // Where transactions go is the node's role (sequencer or follower), not an RPC flag.
            transactions: ol_rpc::TxSubmission::Pool,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_geth_writes_them() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        for bad in ["", "s", "5d", "-1s", "five"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn ether_amounts_in_wei() {
        assert_eq!(parse_ether("1"), Ok(1_000_000_000_000_000_000));
        assert_eq!(parse_ether("1.0"), Ok(1_000_000_000_000_000_000));
        assert_eq!(parse_ether("0.5"), Ok(500_000_000_000_000_000));
        assert_eq!(parse_ether("0"), Ok(0));
        for bad in ["-1", "NaN", "inf", "one", ""] {
            assert!(parse_ether(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
