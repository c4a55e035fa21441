//! The flags of `openledger node`: defaults, the full set, conflicts and ranges as documented.

use super::*;
use crate::cli::{Cli, Commands};
use clap::Parser;
use std::{
    ffi::OsStr,
    net::{IpAddr, Ipv4Addr, SocketAddr},
};

fn parse(args: &[&str]) -> NodeCommand {
    let cli = Cli::try_parse_from(["openledger", "node"].iter().chain(args)).unwrap();
    match cli.command {
        Commands::Node(command) => *command,
        other => panic!("parsed {other:?}"),
    }
}

fn home_default(chain: &str) -> Option<PathBuf> {
    dirs::default_datadir_from(None, Some(OsStr::new("/home/op")), chain)
}

#[test]
fn defaults() {
    let node = parse(&[]);
    assert_eq!(node.chain, None);
    assert_eq!(node.datadir, DatadirArgs::default());
    assert_eq!(node.rpc, RpcServerArgs::default());
    assert_eq!(node.txpool, TxPoolArgs::default());
    assert_eq!(node.sequencer, SequencerArgs::default());
    assert_eq!(node.dev, DevArgs::default());
    assert_eq!(node.metrics, MetricsArgs::default());
    assert_eq!(node.content, crate::args::ContentArgs::default());
    assert_eq!(node.jobs, JobsArgs::default());
    assert_eq!(node.verify, VerifyArgs::default());
    assert_eq!(node.content.limits(), ol_content::ContentLimits::default());
    assert_eq!(node.rollup.l1_confirmations, 4);
    assert!(node.rollup.l1_rpc.is_none() && !node.rollup.follow);

    assert_eq!(node.rpc.rpc_config(), ol_rpc::RpcConfig::default());
    assert_eq!(node.rpc.http_addr, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(node.rpc.http_port, 8545);
    assert_eq!(node.rpc.max_batch_size, 1000);
    assert_eq!(node.rpc.gas_cap, 50_000_000);
    assert_eq!(node.rpc.max_request_size_mb, 15);
    assert_eq!(node.rpc.max_response_size_mb, 160);
    assert!(!node.rpc.ws_requested());
    assert_eq!(node.rpc.rpc_config().ws, None);
    assert_eq!(node.rpc.max_blocks_per_filter, 100_000);
    assert_eq!(node.rpc.max_logs_per_response, 20_000);
    assert_eq!(node.rpc.evm_timeout, Duration::from_secs(5));
    assert_eq!(node.rpc.tx_fee_cap_wei, 1_000_000_000_000_000_000);
    assert_eq!(node.rpc.rate_limit, 0);
    assert_eq!(node.txpool.pool_config(), ol_txpool::PoolConfig::default());
    assert_eq!(node.txpool.lifetime_secs, 3 * 60 * 60);
}

#[test]
fn full_flag_set() {
    let node = parse(&[
        "--dev",
        "--dev.chain-id",
        "4242",
        "--datadir",
        "/tmp/ol",
        "--http",
        "--http.addr",
        "0.0.0.0",
        "--http.port",
        "9545",
        "--ws",
        "--ws.addr",
        "::1",
        "--ws.port",
        "9546",
        "--rpc.max-connections",
        "42",
        "--rpc.max-request-size",
        "2",
        "--rpc.max-response-size",
        "3",
        "--rpc.max-batch-size",
        "7",
        "--rpc.gascap",
        "1000000",
        "--rpc.max-subscriptions-per-connection",
        "9",
        "--rpc.max-blocks-per-filter",
        "500",
        "--rpc.max-logs-per-response",
        "600",
        "--rpc.evmtimeout",
        "1500ms",
        "--rpc.txfeecap",
        "2.5",
        "--rpc.rate-limit",
        "50",
        "--rpc.max-filters",
        "77",
        "--rpc.max-filters-per-connection",
        "5",
        "--rpc.blocking-threads",
        "3",
        "--rpc.max-blocking-io-requests",
        "64",
        "--rpc.max-tracing-requests",
        "2",
        "--rpc.max-trace-size",
        "8",
        "--txpool.pending-max-size",
        "7",
        "--txpool.queued-max-size",
        "3",
        "--txpool.max-nonce-gap",
        "12",
        "--txpool.max-account-slots",
        "4",
        "--txpool.pending-max-count",
        "100",
        "--txpool.queued-max-count",
        "50",
        "--txpool.pricebump",
        "25",
        "--txpool.lifetime",
        "60",
        "--block-time",
        "2",
        "--gas-limit",
        "30000000",
        "--metrics",
        "127.0.0.1:9001",
        "-vv",
        "--log.format",
        "json",
    ]);
    assert_eq!(
        node.dev,
        DevArgs {
            dev: true,
            chain_id: Some(4242)
        }
    );
    assert_eq!(node.datadir.datadir, Some(PathBuf::from("/tmp/ol")));
    assert_eq!(
        node.rpc.rpc_config(),
        ol_rpc::RpcConfig {
            http_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            http_port: 9545,
            max_connections: 42,
            max_request_body_bytes: 2 * 1024 * 1024,
            max_response_body_bytes: 3 * 1024 * 1024,
            max_batch_len: 7,
            gas_cap: 1_000_000,
            ws: Some(SocketAddr::from(("::1".parse::<IpAddr>().unwrap(), 9546))),
            max_subscriptions_per_connection: 9,
            max_blocks_per_filter: 500,
            max_logs_per_response: 600,
            filters: ol_rpc::FilterLimits {
                max_filters: 77,
                max_per_connection: 5,
                ..ol_rpc::FilterLimits::default()
            },
            blocking: ol_rpc::BlockingConfig {
                threads: 3,
                max_requests: 64,
            },
            max_tracing_requests: 2,
            max_trace_bytes: 8 * 1024 * 1024,
            evm_timeout: Duration::from_millis(1500),
            tx_fee_cap: 2_500_000_000_000_000_000,
            rate_limit: 50,
            transactions: ol_rpc::TxSubmission::Pool,
        }
    );
    assert!(node.rpc.http && node.rpc.ws_requested());
    assert_eq!(node.rpc.ws_addr, Some("::1".parse().unwrap()));
    assert_eq!(node.rpc.ws_port, Some(9546));
    let pool = node.txpool.pool_config();
    assert_eq!(pool.max_account_slots, 4);
    assert_eq!(pool.pending_max_count, 100);
    assert_eq!(pool.queued_max_count, 50);
    assert_eq!(pool.price_bump_percent, 25);
    assert_eq!(pool.queued_lifetime, Duration::from_secs(60));
    assert_eq!(pool.pending_max_bytes, 7 * 1024 * 1024);
    assert_eq!(pool.queued_max_bytes, 3 * 1024 * 1024);
    assert_eq!(pool.max_nonce_gap, 12);
    assert_eq!(
        pool.max_tx_bytes,
        ol_txpool::PoolConfig::default().max_tx_bytes
    );
    assert_eq!(
        node.sequencer,
        SequencerArgs {
            block_time: Some(2),
            gas_limit: Some(30_000_000)
        }
    );
    assert_eq!(
        node.metrics.prometheus,
        Some(SocketAddr::from(([127, 0, 0, 1], 9001)))
    );
}

#[test]
fn ws_is_served_only_with_the_ws_flag() {
    assert_eq!(
        parse(&["--ws"]).rpc.rpc_config().ws,
        Some(SocketAddr::from(([127, 0, 0, 1], 8546)))
    );
    assert_eq!(
        parse(&["--ws", "--ws.port", "0"]).rpc.rpc_config().ws,
        Some(SocketAddr::from(([127, 0, 0, 1], 0)))
    );
    let without = parse(&["--ws.port", "9000"]);
    assert!(without.rpc.ws_requested());
    assert_eq!(without.rpc.rpc_config().ws, None);
}

#[test]
fn chain_and_rollup_config_go_together() {
    let node = parse(&["--chain", "g.json", "--rollup-config", "r.json"]);
    assert_eq!(node.chain, Some(PathBuf::from("g.json")));
    assert_eq!(node.rollup_config, Some(PathBuf::from("r.json")));
    for args in [
        &["node", "--chain", "g.json"][..],
        &["node", "--rollup-config", "r.json"],
        &[
            "node",
            "--dev",
            "--chain",
            "g.json",
            "--rollup-config",
            "r.json",
        ],
        &["node", "--dev.chain-id", "5"],
    ] {
        let result = Cli::try_parse_from(std::iter::once("openledger").chain(args.iter().copied()));
        assert!(result.is_err(), "{args:?} must be refused");
    }
}

#[test]
fn out_of_range_values_are_refused() {
    for args in [
        &["node", "--block-time", "0"][..],
        &["node", "--gas-limit", "21000"],
        &["node", "--txpool.max-account-slots", "0"],
        &["node", "--rpc.max-batch-size", "0"],
        &["node", "--http.addr", "localhost"],
        &["node", "--ws.port", "65536"],
        &["node", "--metrics", "9001"],
        &["node", "--log.format", "xml"],
    ] {
        let result = Cli::try_parse_from(std::iter::once("openledger").chain(args.iter().copied()));
        assert!(result.is_err(), "{args:?} must be refused");
    }
}

#[test]
fn rollup_flags_parse_and_conflict_as_documented() {
    let node = parse(&[
        "--l1.rpc",
        "http://127.0.0.1:8545",
        "--l1.confirmations",
        "2",
        "--l1.poll-interval",
        "500ms",
        "--da.url",
        "http://127.0.0.1:3100",
        "--batcher.key",
        "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
        "--batcher.max-channel-duration",
        "3",
        "--batcher.compression",
        "zlib",
        "--proposer.key",
        "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
        "--proposer.l2oo",
        "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
    ]);
    let rollup = &node.rollup;
    assert_eq!(rollup.l1_rpc.as_deref(), Some("http://127.0.0.1:8545"));
    assert_eq!(rollup.l1_confirmations, 2);
    assert_eq!(rollup.l1_poll_interval, Duration::from_millis(500));
    let batcher = rollup.batcher_config();
    assert_eq!(batcher.max_channel_age_l1, 3);
    assert_eq!(batcher.compression, ol_rollup::CompressionAlgo::ZLIB_BEST);
    assert_eq!(
        crate::args::signer(rollup.batcher_key.as_ref().unwrap(), "--batcher.key")
            .unwrap()
            .address(),
        ol_primitives::dev::dev_signer(8).address()
    );
    assert!(rollup.proposer_oracle.is_some());
    for args in [
        &["node", "--follow"][..],
        &[
            "node",
            "--l1.rpc",
            "http://x",
            "--follow",
            "--batcher.key",
            "0x01",
        ],
        &[
            "node",
            "--l1.rpc",
            "http://x",
            "--da.url",
            "http://d",
            "--da.builtin",
            "127.0.0.1:3100",
        ],
        &["node", "--l1.rpc", "http://x", "--proposer.key", "0x01"],
        &["node", "--batcher.key", "0x01"],
    ] {
        let result = Cli::try_parse_from(std::iter::once("openledger").chain(args.iter().copied()));
        assert!(result.is_err(), "{args:?} must be refused");
    }
}

#[test]
fn rollup_keys_can_be_files() {
    const BATCHER_KEY: &str = "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97";
    const PROPOSER_KEY: &str = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6";
    let dir = tempfile::tempdir().unwrap();
    let batcher = dir.path().join("batcher.key");
    let proposer = dir.path().join("proposer.key");
    std::fs::write(&batcher, format!("{BATCHER_KEY}\n")).unwrap();
    std::fs::write(&proposer, PROPOSER_KEY).unwrap();
    let (batcher, proposer) = (batcher.to_str().unwrap(), proposer.to_str().unwrap());
    let node = parse(&[
        "--l1.rpc",
        "http://x",
        "--batcher.key-file",
        batcher,
        "--proposer.key-file",
        proposer,
        "--proposer.l2oo",
        "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
    ]);
    let rollup = &node.rollup;
    let address = |signer: eyre::Result<Option<alloy::signers::local::PrivateKeySigner>>| {
        signer.unwrap().unwrap().address()
    };
    assert_eq!(
        address(rollup.batcher_signer()),
        ol_primitives::dev::dev_signer(8).address()
    );
    assert_eq!(
        address(rollup.proposer_signer()),
        ol_primitives::dev::dev_signer(9).address()
    );
    // Without a key no batcher or proposer runs.
    let plain = parse(&["--l1.rpc", "http://x"]);
    assert!(plain.rollup.batcher_signer().unwrap().is_none());
    assert!(plain.rollup.proposer_signer().unwrap().is_none());
    // A file without a key is a clear error naming the flag.
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "not a key").unwrap();
    let node = parse(&[
        "--l1.rpc",
        "http://x",
        "--batcher.key-file",
        bad.to_str().unwrap(),
    ]);
    let err = node.rollup.batcher_signer().unwrap_err().to_string();
    assert!(err.contains("32-byte hex key"), "{err}");
    let missing = parse(&[
        "--l1.rpc",
        "http://x",
        "--batcher.key-file",
        "/nonexistent/key",
    ]);
    let err = format!("{:#}", missing.rollup.batcher_signer().unwrap_err());
    assert!(err.contains("--batcher.key-file"), "{err}");
    // One way per key; the oracle needs a proposer key; followers run neither.
    for args in [
        &[
            "node",
            "--l1.rpc",
            "http://x",
            "--batcher.key",
            BATCHER_KEY,
            "--batcher.key-file",
            batcher,
        ][..],
        &[
            "node",
            "--l1.rpc",
            "http://x",
            "--proposer.key",
            PROPOSER_KEY,
            "--proposer.key-file",
            proposer,
            "--proposer.l2oo",
            "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
        ],
        &[
            "node",
            "--l1.rpc",
            "http://x",
            "--proposer.key-file",
            proposer,
        ],
        &[
            "node",
            "--l1.rpc",
            "http://x",
            "--proposer.l2oo",
            "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
        ],
        &[
            "node",
            "--l1.rpc",
            "http://x",
            "--follow",
            "--batcher.key-file",
            batcher,
        ],
        &["node", "--batcher.key-file", batcher],
    ] {
        let err = Cli::try_parse_from(std::iter::once("openledger").chain(args.iter().copied()))
            .expect_err(&format!("{args:?} must be refused"));
        assert!(
            matches!(
                err.kind(),
                clap::error::ErrorKind::ArgumentConflict
                    | clap::error::ErrorKind::MissingRequiredArgument
            ),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn datadir_resolution() {
    let explicit = parse(&["--dev", "--datadir", "/srv/ol"]);
    assert_eq!(
        explicit.resolve_datadir(None, home_default).unwrap(),
        PathBuf::from("/srv/ol")
    );

    let dev = parse(&["--dev"]);
    assert_eq!(
        dev.resolve_datadir(None, home_default).unwrap(),
        PathBuf::from("/home/op/.local/share/openledger/dev")
    );

    let chain = parse(&["--chain", "g.json", "--rollup-config", "r.json"]);
    assert_eq!(
        chain.resolve_datadir(Some(10), home_default).unwrap(),
        PathBuf::from("/home/op/.local/share/openledger/10")
    );

    let nothing = parse(&[]);
    let err = nothing
        .resolve_datadir(None, home_default)
        .unwrap_err()
        .to_string();
    assert!(err.contains("--datadir") && err.contains("--dev"), "{err}");

    let no_home = dev.resolve_datadir(None, |_| None).unwrap_err().to_string();
    assert!(no_home.contains("HOME"), "{no_home}");
}

#[test]
fn missed_slots_count_whole_block_times() {
    assert_eq!(missed_slots(100, 100, 1), 0);
    assert_eq!(missed_slots(100, 99, 1), 0);
    assert_eq!(missed_slots(100, 161, 2), 30);
}

#[test]
fn block_time_defaults() {
    let mut spec = ol_primitives::dev::dev_chain_spec(None, 0).unwrap();
    spec.rollup.block_time = 2;
    assert_eq!(parse(&["--dev"]).block_time(&spec), 1);
    assert_eq!(parse(&[]).block_time(&spec), 2);
    assert_eq!(parse(&["--dev", "--block-time", "5"]).block_time(&spec), 5);
}
