//! `ol-l1` against a real L1: anvil from the repository's npm packages, the OptimismPortal from
//! `contracts/artifacts`, deposits made with `cast send` from an EOA and through a contract, reorgs
//! with `evm_snapshot`/`evm_revert`, and an endpoint that is not there.
#![allow(missing_docs)]

use alloy::{
    hex,
    primitives::{Address, B256, Bytes, TxKind, U256, address},
    signers::local::PrivateKeySigner,
};
use ol_l1::{
    BlockTag, HttpL1Client, L1Client, L1Error, L1Event, L1Watcher, RetryConfig, StartAt,
    WatcherConfig,
    anvil::Anvil,
    block_deposits,
    tx::{L1Call, send_call, wait_for_receipt},
    user_deposit_source_hash,
};
use ol_primitives::TxDeposit;
use serde_json::Value;
use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};
use tokio::sync::mpsc;

/// Anvil's well-known dev keys (mnemonic "test test … junk"), accounts 0 and 1.
const KEY_0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ADDR_0: Address = address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
const KEY_1: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const TARGET: Address = address!("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC");

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tool(name: &str) -> PathBuf {
    let path = repo_root()
        .join("node_modules/@foundry-rs")
        .join(format!("{name}-linux-amd64/bin/{name}"));
    assert!(
        path.is_file(),
        "{} missing: run `npm ci` in the repository root",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `cast` and deployments against the shared test anvil (`ol_l1::anvil::Anvil`).
trait Cast {
    fn cast(&self, args: &[&str]) -> String;
    fn send(&self, key: &str, args: &[&str]) -> Value;
    fn rpc(&self, method: &str, params: &[&str]) -> String;
    fn deploy(&self, code: &str) -> Address;
    fn deploy_portal(&self) -> Address;
}

impl Cast for Anvil {
    /// Runs cast against this anvil and returns its trimmed stdout.
    fn cast(&self, args: &[&str]) -> String {
        let output = Command::new(tool("cast"))
            .args(&args[..1])
            // Before the positional arguments: `send --create <CODE>` takes all that follows.
            .args(["--rpc-url", self.url()])
            .args(&args[1..])
            .output()
            .expect("running cast");
        assert!(
            output.status.success(),
            "cast {:?} failed: {}",
            &args[..args.len().min(4)],
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    /// `cast send … --json`: the receipt.
    fn send(&self, key: &str, args: &[&str]) -> Value {
        let mut all = vec!["send", "--json", "--private-key", key];
        all.extend(args);
        let receipt: Value = serde_json::from_str(&self.cast(&all)).unwrap();
        assert_eq!(receipt["status"], "0x1", "transaction failed: {receipt}");
        receipt
    }

    fn rpc(&self, method: &str, params: &[&str]) -> String {
        let mut all = vec!["rpc", method];
        all.extend(params);
        self.cast(&all)
    }

    fn deploy(&self, code: &str) -> Address {
        let receipt = self.send(KEY_0, &["--create", code]);
        receipt["contractAddress"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    fn deploy_portal(&self) -> Address {
        let artifact: Value = serde_json::from_str(
            &std::fs::read_to_string(repo_root().join("contracts/artifacts/OptimismPortal.json"))
                .unwrap(),
        )
        .unwrap();
        self.deploy(artifact["bytecode"].as_str().unwrap())
    }
}

fn b256(value: &Value) -> B256 {
    value.as_str().unwrap().parse().unwrap()
}

/// A contract that forwards its calldata and value to `target` and reverts if that call fails:
/// a contract depositor, whose `from` the portal aliases.
fn forwarder_init_code(target: Address) -> String {
    let runtime = [
        &hex!("3660006000376000600036600034")[..],
        &[0x73],
        target.as_slice(),
        &hex!("5af1602d5760006000fd5b00"),
    ]
    .concat();
    assert_eq!(runtime.len(), 0x2f);
    let init = [&hex!("602f80600b6000396000f3")[..], &runtime].concat();
    hex::encode_prefixed(init)
}

/// `cast send` arguments of `depositTransaction(to, value, gas, creation, data)` on `contract`
/// with `msg_value` attached.
fn deposit_args(
    contract: Address,
    to: Address,
    value: &str,
    gas: &str,
    creation: bool,
    data: &str,
    msg_value: &str,
) -> Vec<String> {
    [
        &contract.to_string(),
        "depositTransaction(address,uint256,uint64,bool,bytes)",
        &to.to_string(),
        value,
        gas,
        &creation.to_string(),
        data,
        "--value",
        msg_value,
    ]
    .map(str::to_owned)
    .to_vec()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Waits until the watcher reports block `hash` as a new head.
async fn wait_for_head(events: &mut mpsc::Receiver<L1Event>, hash: B256) -> Vec<L1Event> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(left, events.recv())
            .await
            .unwrap_or_else(|_| panic!("block {hash} not reported; saw {seen:?}"))
            .expect("the watcher stopped");
        let done = matches!(&event, L1Event::NewHead(block) if block.hash == hash);
        seen.push(event);
        if done {
            return seen;
        }
    }
}

fn watch(client: HttpL1Client, confirmations: u64) -> mpsc::Receiver<L1Event> {
    let config = WatcherConfig {
        confirmations,
        poll_interval: Duration::from_millis(50),
        start: StartAt::Number(0),
        ..WatcherConfig::default()
    };
    let (watcher, events, _view) = L1Watcher::new(client, config);
    tokio::spawn(watcher.run());
    events
}

#[tokio::test]
async fn deposits_from_an_eoa_and_a_contract_are_parsed_exactly() {
    let anvil = Anvil::start().await;
    let client = anvil.client();
    assert_eq!(client.chain_id().await.unwrap(), 31337);
    let portal = anvil.deploy_portal();
    let mut events = watch(anvil.client(), 0);

    // An EOA deposit: 1 ether minted, 250 wei sent along, to TARGET with calldata.
    let args = deposit_args(
        portal,
        TARGET,
        "250",
        "100000",
        false,
        "0xdeadbeef",
        "1ether",
    );
    let receipt = anvil.send(KEY_0, &strs(&args));
    let block_hash = b256(&receipt["blockHash"]);
    wait_for_head(&mut events, block_hash).await;
    let log_index = u64::from_str_radix(
        receipt["logs"][0]["logIndex"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    let deposits = block_deposits(&client, portal, block_hash).await.unwrap();
    assert_eq!(
        deposits,
        vec![TxDeposit {
            source_hash: user_deposit_source_hash(block_hash, log_index),
            from: ADDR_0,
            to: TxKind::Call(TARGET),
            mint: 1_000_000_000_000_000_000,
            value: U256::from(250),
            gas_limit: 100_000,
            is_system_transaction: false,
            input: Bytes::from_static(&hex!("deadbeef")),
        }]
    );

    // Through a contract: `from` is the forwarder's alias.
    let forwarder = anvil.deploy(&forwarder_init_code(portal));
    let args = deposit_args(forwarder, TARGET, "0", "50000", false, "0x", "7");
    let receipt = anvil.send(KEY_0, &strs(&args));
    let block_hash = b256(&receipt["blockHash"]);
    wait_for_head(&mut events, block_hash).await;
    let deposits = block_deposits(&client, portal, block_hash).await.unwrap();
    assert_eq!(deposits.len(), 1);
    // OP's L1-to-L2 alias: from + 0x1111000000000000000000000000000000001111 (mod 2^160).
    let offset = U256::from_be_slice(&hex!("1111000000000000000000000000000000001111"));
    let sum = U256::from_be_slice(forwarder.as_slice()).wrapping_add(offset);
    let aliased = Address::from_slice(&sum.to_be_bytes::<32>()[12..]);
    assert_eq!(deposits[0].from, aliased);
    assert_eq!(deposits[0].mint, 7);
    assert_eq!(deposits[0].gas_limit, 50_000);
    assert!(deposits[0].input.is_empty());

    // A creation and a call in one block come back in log order; the creation ignores `to`.
    anvil.rpc("evm_setAutomine", &["false"]);
    let init_code = "0x600a600c600039600a6000f3602a60005260206000f3";
    let nonce: u64 = anvil.cast(&["nonce", &ADDR_0.to_string()]).parse().unwrap();
    let calls = [
        deposit_args(portal, Address::ZERO, "0", "200000", true, init_code, "5"),
        deposit_args(portal, TARGET, "5", "21000", false, "0x", "5"),
    ];
    for (offset, args) in calls.iter().enumerate() {
        // With automine off, cast would take the same (latest) nonce twice.
        let nonce = (nonce + offset as u64).to_string();
        let mut all = vec!["send", "--async", "--private-key", KEY_0, "--nonce", &nonce];
        all.extend(["--gas-limit", "300000"]);
        all.extend(strs(args));
        anvil.cast(&all);
    }
    anvil.rpc("evm_mine", &[]);
    anvil.rpc("evm_setAutomine", &["true"]);
    let head = client.block_ref(BlockTag::Latest).await.unwrap();
    wait_for_head(&mut events, head.hash).await;
    let deposits = block_deposits(&client, portal, head.hash).await.unwrap();
    assert_eq!(deposits.len(), 2);
    assert_eq!(deposits[0].to, TxKind::Create);
    assert_eq!(deposits[0].input.as_ref(), hex::decode(init_code).unwrap());
    assert_eq!(deposits[1].to, TxKind::Call(TARGET));
    assert_eq!(
        deposits[0].source_hash,
        user_deposit_source_hash(head.hash, 0)
    );
    assert_eq!(
        deposits[1].source_hash,
        user_deposit_source_hash(head.hash, 1)
    );

    // A block without deposits has none.
    let empty = client.header_by_number(1).await.unwrap().unwrap();
    assert!(
        block_deposits(&client, portal, empty.hash)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_watcher_follows_confirmations_and_reports_a_reorg() {
    let anvil = Anvil::start().await;
    let client = anvil.client();
    anvil.rpc("anvil_mine", &["5"]);
    let mut events = watch(anvil.client(), 2);
    let confirmed = client.header_by_number(3).await.unwrap().unwrap();
    let seen = wait_for_head(&mut events, confirmed.hash).await;
    let numbers: Vec<_> = seen
        .iter()
        .map(|event| match event {
            L1Event::NewHead(block) => block.number,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(numbers, [0, 1, 2, 3]);

    // Fork off block 5: three blocks on the old branch (the watcher confirms 6), then revert
    // and build a different branch (a transfer makes its first block differ).
    let snapshot = anvil.rpc("evm_snapshot", &[]);
    anvil.rpc("anvil_mine", &["3"]);
    let old_6 = client.header_by_number(6).await.unwrap().unwrap();
    wait_for_head(&mut events, old_6.hash).await;
    let ancestor = client
        .header_by_number(5)
        .await
        .unwrap()
        .unwrap()
        .block_ref();
    assert_eq!(anvil.rpc("evm_revert", &[&snapshot]), "true");
    anvil.send(KEY_1, &[&TARGET.to_string(), "--value", "1"]);
    anvil.rpc("anvil_mine", &["3"]);
    let new_7 = client.header_by_number(7).await.unwrap().unwrap();
    let seen = wait_for_head(&mut events, new_7.hash).await;
    let reorg = seen
        .iter()
        .find(|event| matches!(event, L1Event::Reorg { .. }))
        .unwrap_or_else(|| panic!("no reorg reported: {seen:?}"));
    match reorg {
        L1Event::Reorg {
            common_ancestor,
            removed,
        } => {
            assert_eq!(*common_ancestor, ancestor);
            assert_eq!(removed.first().map(|b| b.hash), Some(old_6.hash));
            assert!(removed.iter().all(|b| b.number > 5));
        }
        _ => unreachable!(),
    }
    // After the reorg the reported chain links up from the ancestor.
    let new_6 = client.header_by_number(6).await.unwrap().unwrap();
    assert_ne!(new_6.hash, old_6.hash);
    let after: Vec<_> = seen
        .iter()
        .skip_while(|event| !matches!(event, L1Event::Reorg { .. }))
        .skip(1)
        .map(|event| match event {
            L1Event::NewHead(block) => *block,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(after.first().map(|b| b.parent_hash), Some(ancestor.hash));
    assert_eq!(after.last().map(|b| b.hash), Some(new_7.hash));
}

#[tokio::test]
async fn batches_sent_from_the_batcher_key_are_found_in_their_block() {
    let anvil = Anvil::start().await;
    let client = anvil.client();
    let batcher: PrivateKeySigner = KEY_1.parse().unwrap();
    let inbox = ol_primitives::config::batch_inbox_address(1611);
    let data = Bytes::from_static(&hex!("01000102030405"));
    let call = L1Call {
        to: inbox,
        value: U256::ZERO,
        input: data.clone(),
        gas_limit: None,
    };
    let hash = send_call(&client, &batcher, 31337, call).await.unwrap();
    let receipt = wait_for_receipt(
        &client,
        hash,
        Duration::from_millis(50),
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    assert!(receipt.success);
    let txs = client.block_transactions(receipt.block.hash).await.unwrap();
    let posted: Vec<_> = txs
        .iter()
        .filter(|tx| tx.to == Some(inbox) && tx.from == batcher.address())
        .collect();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].hash, hash);
    assert_eq!(posted[0].input, data);

    // A second post uses the next nonce; a transaction the chain rejects is an error, not a retry.
    let again = L1Call {
        to: inbox,
        value: U256::ZERO,
        input: data,
        gas_limit: Some(10),
    };
    let err = send_call(&client, &batcher, 31337, again)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            L1Error::Rejected {
                method: "eth_sendRawTransaction",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_dead_endpoint_is_retried_then_reported() {
    let port = free_port();
    let retry = RetryConfig {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(80),
        request_timeout: Duration::from_secs(2),
    };
    let client = HttpL1Client::new(&format!("http://127.0.0.1:{port}"), retry).unwrap();
    let started = Instant::now();
    let err = client.block_ref(BlockTag::Latest).await.unwrap_err();
    match &err {
        L1Error::Unavailable {
            method,
            attempts,
            elapsed,
            ..
        } => {
            assert_eq!(*method, "eth_getBlockByNumber");
            assert_eq!(*attempts, 4);
            // Three back-offs of at least half of 20, 40 and 80 ms.
            assert!(*elapsed >= Duration::from_millis(70), "{elapsed:?}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(err.to_string().contains("L1 endpoint unavailable"), "{err}");

    // The watcher keeps running and shows the outage in its view.
    let config = WatcherConfig {
        poll_interval: Duration::from_millis(20),
        ..WatcherConfig::default()
    };
    let (watcher, _events, mut view) = L1Watcher::new(client, config);
    let task = tokio::spawn(watcher.run());
    tokio::time::timeout(
        Duration::from_secs(20),
        view.wait_for(|v| v.consecutive_failures >= 2),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(view.borrow().head.is_none());
    assert!(!task.is_finished());
    task.abort();

    assert!(matches!(
        HttpL1Client::new("not a url", RetryConfig::default()),
        Err(L1Error::Rejected {
            method: "connect",
            ..
        })
    ));
}
