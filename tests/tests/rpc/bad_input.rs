//! `bad_input`: every kind of bad request the node must refuse, sent to the real binary, each
//! checked for its exact JSON-RPC error code (and go-ethereum's message where geth has one) and
//! for leaving the state alone: the balances and nonces of the accounts involved and the pool's
//! content and status are the same after the request as before it.
//!
//! Framing cases (malformed JSON, invalid request objects, oversized bodies and batches) go out
//! as raw HTTP so that the exact bytes and the HTTP status are under the test's control.

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy},
    eips::eip2718::Encodable2718,
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, Signature, TxKind, U256, address},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
    transports::http::reqwest,
};
use eyre::{Context as _, Result, ensure, eyre};
use ol_e2e::{
    DEV_CHAIN_ID, Fees, TestNode, dev_address, dev_signer, generous_fees, raw_rpc, sign_eip1559,
    sign_transfer, wait_for_block, wait_for_receipt,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const RECIPIENT: Address = address!("0x00000000000000000000000000000000000bad01");
/// The sender of the matrix's transactions.
const SENDER: u32 = 6;
/// Limits the matrix node runs with, small enough to reach.
const MAX_BATCH: usize = 10;
const MAX_REQUEST_MIB: usize = 1;
const MAX_BLOCKS_PER_FILTER: u64 = 4;
const EVM_TIMEOUT: &str = "300ms";
/// The pool's transaction size limit (reth's and geth's 128 KiB).
const MAX_TX_BYTES: usize = 128 * 1024;

/// The state a refused request must leave alone.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    accounts: Vec<(Address, U256, u64, u64)>,
    pool_content: Value,
    pool_status: Value,
}

async fn snapshot(provider: &DynProvider, accounts: &[Address]) -> Result<Snapshot> {
    let mut rows = Vec::new();
    for &account in accounts {
        rows.push((
            account,
            provider.get_balance(account).await?,
            provider.get_transaction_count(account).await?,
            provider.get_transaction_count(account).pending().await?,
        ));
    }
    Ok(Snapshot {
        accounts: rows,
        pool_content: raw_rpc(provider, "txpool_content", ()).await?,
        pool_status: raw_rpc(provider, "txpool_status", ()).await?,
    })
}

/// An HTTP answer: status and JSON body.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    /// The `error` object of a single answer (or of the first entry of a batch answer).
    fn error(&self) -> Result<(i64, String)> {
        let error = self
            .body
            .get("error")
            .ok_or_else(|| eyre!("no error in {} (HTTP {})", self.body, self.status))?;
        let code = error["code"]
            .as_i64()
            .ok_or_else(|| eyre!("no error code in {error}"))?;
        let message = error["message"].as_str().unwrap_or_default().to_owned();
        Ok((code, message))
    }
}

async fn post(client: &reqwest::Client, url: &reqwest::Url, body: String) -> Result<Answer> {
    let response = client
        .post(url.clone())
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .wrap_err("POST to the node")?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    let body = serde_json::from_str(&text)
        .wrap_err_with(|| format!("HTTP {status} body is not JSON: {text:?}"))?;
    Ok(Answer { status, body })
}

/// A POST whose `Content-Length` announces `length` bytes, of which only the headers are sent:
/// the server refuses an oversized body from its `Content-Length` alone and closes the
/// connection. Writing the whole body would race that close (a broken pipe before the answer
/// can be read), so the answer is read before any body byte is written.
async fn post_announcing(url: &reqwest::Url, length: usize) -> Result<Answer> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = url.host_str().ok_or_else(|| eyre!("no host in {url}"))?;
    let port = url.port().ok_or_else(|| eyre!("no port in {url}"))?;
    let mut stream = tokio::net::TcpStream::connect((host, port)).await?;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .wrap_err("the server did not answer the announced body")??;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| eyre!("not an HTTP response: {text:?}"))?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| eyre!("no status in {head:?}"))?;
    // The body may be chunked; the JSON object is the part between the outer braces.
    let json = body
        .find('{')
        .zip(body.rfind('}'))
        .map(|(start, end)| &body[start..=end])
        .ok_or_else(|| eyre!("HTTP {status} without a JSON body: {body:?}"))?;
    let body = serde_json::from_str(json)
        .wrap_err_with(|| format!("HTTP {status} body is not JSON: {json:?}"))?;
    Ok(Answer { status, body })
}

/// One JSON-RPC call as raw HTTP.
async fn call(
    client: &reqwest::Client,
    url: &reqwest::Url,
    method: &str,
    params: Value,
) -> Result<Answer> {
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    post(client, url, body.to_string()).await
}

/// Runs `case` between two snapshots and checks it was refused with `code` and a message
/// `message` accepts, and that the state did not move.
struct Matrix<'a> {
    provider: &'a DynProvider,
    accounts: Vec<Address>,
    checked: Vec<&'static str>,
}

impl Matrix<'_> {
    async fn check(
        &mut self,
        name: &'static str,
        answer: impl Future<Output = Result<Answer>>,
        expected_code: i64,
        message_ok: impl Fn(&str) -> bool,
    ) -> Result<Answer> {
        let before = snapshot(self.provider, &self.accounts).await?;
        let answer = answer.await.wrap_err(name)?;
        let (code, message) = answer.error().wrap_err(name)?;
        ensure!(
            code == expected_code,
            "{name}: code {code} ({message:?}), expected {expected_code}; body {}",
            answer.body
        );
        ensure!(
            message_ok(&message),
            "{name}: unexpected message {message:?}"
        );
        let after = snapshot(self.provider, &self.accounts).await?;
        ensure!(
            after == before,
            "{name} changed the state:\nbefore {before:?}\nafter  {after:?}"
        );
        self.checked.push(name);
        Ok(answer)
    }
}

fn exactly(expected: &'static str) -> impl Fn(&str) -> bool {
    move |message| message == expected
}

fn starting(prefix: &'static str) -> impl Fn(&str) -> bool {
    move |message| message.starts_with(prefix)
}

fn signed_1559(signer: &PrivateKeySigner, tx: TxEip1559) -> Result<Bytes> {
    let mut tx = tx;
    let signature = signer.sign_transaction_sync(&mut tx)?;
    Ok(Bytes::from(
        TxEnvelope::from(tx.into_signed(signature)).encoded_2718(),
    ))
}

fn transfer(nonce: u64, fees: Fees) -> TxEip1559 {
    TxEip1559 {
        chain_id: DEV_CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: fees.max_fee_per_gas,
        max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        to: TxKind::Call(RECIPIENT),
        value: U256::from(1_000u64),
        access_list: Default::default(),
        input: Bytes::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_changes_nothing() -> Result<()> {
    let node = TestNode::start_with_args(
        [
            "--rpc.max-batch-size",
            &MAX_BATCH.to_string(),
            "--rpc.max-request-size",
            &MAX_REQUEST_MIB.to_string(),
            "--rpc.max-blocks-per-filter",
            &MAX_BLOCKS_PER_FILTER.to_string(),
            "--rpc.evmtimeout",
            EVM_TIMEOUT,
            "--rpc.gascap",
            "10000000000",
        ]
        .map(String::from)
        .to_vec(),
    )
    .await?;
    let provider = node.provider();
    let url = node.url().clone();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let signer = dev_signer(SENDER);
    let sender = dev_address(SENDER);
    let poor = PrivateKeySigner::random();
    let fees = generous_fees(&provider).await?;

    // Setup: one mined transaction (so that nonce 0 is too low) and one queued transaction at
    // nonce 2 (a gap at 1 keeps it in the pool, to be replaced).
    let (mined, raw) = sign_transfer(&signer, 0, RECIPIENT, U256::from(1u64), fees)?;
    let _ = provider.send_raw_transaction(&raw).await?;
    wait_for_receipt(&provider, mined).await?;
    // Round fees well above the base fee, so that 9% and 10% bumps are exact and tips stay
    // below fee caps.
    let queued_fees = Fees {
        max_fee_per_gas: fees.max_fee_per_gas.max(1_000_000_000) * 100,
        max_priority_fee_per_gas: 1_000_000,
    };
    let queued = signed_1559(&signer, transfer(2, queued_fees))?;
    let _ = provider.send_raw_transaction(&queued).await?;
    assert_eq!(
        raw_rpc(&provider, "txpool_status", ()).await?,
        json!({ "pending": "0x0", "queued": "0x1" }),
        "the setup's queued transaction"
    );

    let mut matrix = Matrix {
        provider: &provider,
        accounts: vec![sender, RECIPIENT, poor.address()],
        checked: Vec::new(),
    };

    // --- framing --------------------------------------------------------------------------
    matrix
        .check(
            "malformed JSON",
            post(
                &client,
                &url,
                r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId""#.into(),
            ),
            -32700,
            exactly("Parse error"),
        )
        .await?;
    matrix
        .check(
            "invalid request object (no method)",
            post(&client, &url, r#"{"jsonrpc":"2.0","id":1}"#.into()),
            -32600,
            exactly("Invalid request"),
        )
        .await?;
    matrix
        .check(
            "invalid request object (method not a string)",
            post(
                &client,
                &url,
                r#"{"jsonrpc":"2.0","id":1,"method":42}"#.into(),
            ),
            -32600,
            exactly("Invalid request"),
        )
        .await?;
    matrix
        .check(
            "invalid request object (empty batch)",
            post(&client, &url, "[]".into()),
            -32600,
            exactly("Invalid request"),
        )
        .await?;
    matrix
        .check(
            "unknown method",
            call(&client, &url, "eth_noSuchMethod", json!([])),
            -32601,
            exactly("Method not found"),
        )
        .await?;
    matrix
        .check(
            "wrong param types",
            call(&client, &url, "eth_getBalance", json!([42, "latest"])),
            -32602,
            starting("Invalid params"),
        )
        .await?;
    matrix
        .check(
            "wrong param count",
            call(&client, &url, "eth_sendRawTransaction", json!([])),
            -32602,
            starting("Invalid params"),
        )
        .await?;
    matrix
        .check(
            "a raw transaction that is not hex",
            call(&client, &url, "eth_sendRawTransaction", json!(["0xzz"])),
            -32602,
            starting("Invalid params"),
        )
        .await?;

    // --- transactions ---------------------------------------------------------------------
    let send = |raw: Bytes| call(&client, &url, "eth_sendRawTransaction", json!([raw]));
    matrix
        .check(
            "bad RLP",
            send(Bytes::from_static(&[0x02, 0xc3, 0x01, 0x02])),
            -32000,
            starting("invalid transaction"),
        )
        .await?;
    matrix
        .check(
            "trailing bytes after a valid transaction",
            send(
                [
                    signed_1559(&signer, transfer(1, fees))?.as_ref(),
                    &[0x00][..],
                ]
                .concat()
                .into(),
            ),
            -32000,
            starting("invalid transaction"),
        )
        .await?;
    let unsigned = transfer(1, fees);
    let bad_signature = TxEnvelope::from(unsigned.clone().into_signed(Signature::new(
        U256::ZERO,
        U256::from(1u64),
        false,
    )));
    matrix
        .check(
            "bad signature",
            send(bad_signature.encoded_2718().into()),
            -32000,
            exactly("invalid sender"),
        )
        .await?;
    let mut other_chain = transfer(1, fees);
    other_chain.chain_id = DEV_CHAIN_ID + 1;
    matrix
        .check(
            "wrong chain id",
            send(signed_1559(&signer, other_chain)?),
            -32000,
            exactly("invalid chain id"),
        )
        .await?;
    let mut legacy = TxLegacy {
        chain_id: None,
        nonce: 1,
        gas_price: fees.max_fee_per_gas,
        gas_limit: 21_000,
        to: TxKind::Call(RECIPIENT),
        value: U256::from(1u64),
        input: Bytes::new(),
    };
    let legacy_signature = signer.sign_transaction_sync(&mut legacy)?;
    matrix
        .check(
            "pre-EIP-155 legacy transaction",
            send(
                TxEnvelope::from(legacy.into_signed(legacy_signature))
                    .encoded_2718()
                    .into(),
            ),
            -32000,
            exactly("only replay-protected (EIP-155) transactions allowed over RPC"),
        )
        .await?;
    matrix
        .check(
            "nonce too low",
            send(signed_1559(&signer, transfer(0, fees))?),
            -32000,
            exactly("nonce too low"),
        )
        .await?;
    let bump = |value: u128, percent: u128| value * (100 + percent) / 100;
    let underpriced_fee_cap = Fees {
        max_fee_per_gas: bump(queued_fees.max_fee_per_gas, 9),
        max_priority_fee_per_gas: bump(queued_fees.max_priority_fee_per_gas, 10),
    };
    matrix
        .check(
            "replacement with a 9% higher fee cap",
            send(signed_1559(&signer, transfer(2, underpriced_fee_cap))?),
            -32000,
            exactly("replacement transaction underpriced"),
        )
        .await?;
    let underpriced_tip = Fees {
        max_fee_per_gas: bump(queued_fees.max_fee_per_gas, 10),
        max_priority_fee_per_gas: bump(queued_fees.max_priority_fee_per_gas, 9),
    };
    matrix
        .check(
            "replacement with a 9% higher tip",
            send(signed_1559(&signer, transfer(2, underpriced_tip))?),
            -32000,
            exactly("replacement transaction underpriced"),
        )
        .await?;
    matrix
        .check(
            "same transaction again",
            send(queued.clone()),
            -32000,
            exactly("already known"),
        )
        .await?;
    matrix
        .check(
            "insufficient funds",
            send(signed_1559(&poor, transfer(0, fees))?),
            -32000,
            exactly("insufficient funds for gas * price + value"),
        )
        .await?;
    let mut too_little_gas = transfer(1, fees);
    too_little_gas.gas_limit = 20_999;
    matrix
        .check(
            "intrinsic gas too low",
            send(signed_1559(&signer, too_little_gas)?),
            -32000,
            exactly("intrinsic gas too low"),
        )
        .await?;
    // 21,000 gas at 100,000 gwei: 2.1 OPEN of fees against the default cap of 1.
    let expensive = Fees {
        max_fee_per_gas: 100_000_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
    };
    matrix
        .check(
            "fee above the fee cap",
            send(signed_1559(&signer, transfer(1, expensive))?),
            -32000,
            exactly("tx fee (2.10 ether) exceeds the configured cap (1.00 ether)"),
        )
        .await?;
    let (_, oversized) = sign_eip1559(
        &signer,
        DEV_CHAIN_ID,
        1,
        TxKind::Call(RECIPIENT),
        U256::ZERO,
        Bytes::from(vec![1u8; MAX_TX_BYTES + 1]),
        5_000_000,
        fees,
    )?;
    let size = oversized.len();
    matrix
        .check(
            "oversized transaction",
            send(oversized),
            -32000,
            move |message| {
                message == format!("oversized data: transaction size {size}, limit {MAX_TX_BYTES}")
            },
        )
        .await?;

    // --- server limits --------------------------------------------------------------------
    let limit = MAX_REQUEST_MIB * 1024 * 1024;
    let too_big = matrix
        .check(
            "oversized body",
            post_announcing(&url, limit + 1),
            -32007,
            exactly("Request is too big"),
        )
        .await?;
    assert_eq!(too_big.status, 413, "oversized body: HTTP 413");
    let batch = |len: usize| {
        let calls: Vec<Value> = (0..len)
            .map(|id| json!({ "jsonrpc": "2.0", "id": id, "method": "eth_chainId", "params": [] }))
            .collect();
        Value::Array(calls).to_string()
    };
    let full = post(&client, &url, batch(MAX_BATCH)).await?;
    assert_eq!(
        full.body.as_array().map(Vec::len),
        Some(MAX_BATCH),
        "a batch at the limit is served: {}",
        full.body
    );
    matrix
        .check(
            "oversized batch",
            post(&client, &url, batch(MAX_BATCH + 1)),
            -32010,
            exactly("The batch request was too large"),
        )
        .await?;
    let head = wait_for_block(&provider, MAX_BLOCKS_PER_FILTER + 1).await?;
    matrix
        .check(
            "too wide a log range",
            call(
                &client,
                &url,
                "eth_getLogs",
                json!([{ "fromBlock": "0x0", "toBlock": format!("{head:#x}") }]),
            ),
            -32602,
            exactly("query exceeds max block range 4"),
        )
        .await?;
    let started = Instant::now();
    // Init code that loops forever (JUMPDEST PUSH1 0 JUMP) with ten billion gas: only the
    // timeout stops it.
    matrix
        .check(
            "eth_call past --rpc.evmtimeout",
            call(
                &client,
                &url,
                "eth_call",
                json!([{ "from": sender, "data": "0x5b600056", "gas": "0x2540be400" }, "latest"]),
            ),
            -32000,
            exactly("execution aborted (timeout = 300ms)"),
        )
        .await?;
    ensure!(
        started.elapsed() < Duration::from_secs(5),
        "the aborted call answered after {:?}",
        started.elapsed()
    );

    // The node is still healthy and the queued transaction is untouched.
    let content = raw_rpc(&provider, "txpool_content", ()).await?;
    let hash = content["queued"][sender.to_checksum(None)]["2"]["hash"].clone();
    assert_eq!(
        hash,
        json!(B256::from(alloy::primitives::keccak256(&queued))),
        "the queued transaction is still the original: {content}"
    );
    eprintln!(
        "checked {} bad inputs: {:?}",
        matrix.checked.len(),
        matrix.checked
    );
    node.finish().await
}

/// `--rpc.rate-limit`: past the per-second budget of one address, HTTP requests get 429 with a
/// JSON-RPC error (and change nothing), and calls over an open WebSocket get the same error
/// while the connection stays open; after a second the address is served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_refuses_with_429_and_recovers() -> Result<()> {
    const PER_SECOND: usize = 5;
    let node =
        TestNode::start_with_ws_and_args(vec!["--rpc.rate-limit".into(), PER_SECOND.to_string()])
            .await?;
    let url = node.url().clone();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    // Let the startup polling's bucket refill.
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let sender = dev_address(SENDER);
    let balance = json!([sender, "latest"]);
    let before = call(&client, &url, "eth_getBalance", balance.clone()).await?;
    assert_eq!(before.status, 200, "{:?}", before.body);
    let mut refused = None;
    let mut served = 1;
    for _ in 0..4 * PER_SECOND {
        let answer = call(&client, &url, "eth_getBalance", balance.clone()).await?;
        if answer.status == 429 {
            refused = Some(answer);
            break;
        }
        served += 1;
    }
    let refused =
        refused.ok_or_else(|| eyre!("{} requests in a burst were all served", 4 * PER_SECOND))?;
    ensure!(
        served <= PER_SECOND + 1,
        "{served} requests served before the first refusal (limit {PER_SECOND}/s)"
    );
    let (code, message) = refused.error()?;
    assert_eq!(code, -32005, "{message}");
    assert_eq!(
        message,
        format!("rate limit exceeded: more than {PER_SECOND} requests per second from 127.0.0.1")
    );
    assert_eq!(refused.body["id"], Value::Null);

    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let after = call(&client, &url, "eth_getBalance", balance).await?;
    assert_eq!(
        after.status, 200,
        "served again after a pause: {:?}",
        after.body
    );
    assert_eq!(
        after.body["result"], before.body["result"],
        "the balance did not move"
    );

    // Over WebSocket every call counts.
    let ws = node.ws_provider().await?;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let mut served = 0;
    let mut refusal = None;
    for _ in 0..4 * PER_SECOND {
        match crate::rpc_error(&ws, "eth_getBalance", (sender, "latest")).await? {
            None => served += 1,
            Some(error) => {
                refusal = Some(error);
                break;
            }
        }
    }
    let (code, message) = refusal.ok_or_else(|| {
        eyre!(
            "{} WebSocket calls in a burst were all served",
            4 * PER_SECOND
        )
    })?;
    ensure!(
        (1..=PER_SECOND).contains(&served),
        "{served} WebSocket calls served before the first refusal (limit {PER_SECOND}/s)"
    );
    assert_eq!(code, -32005, "{message}");
    assert!(message.starts_with("rate limit exceeded"), "{message}");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        raw_rpc(&ws, "eth_getBalance", (sender, "latest")).await?,
        before.body["result"],
        "the same WebSocket connection is served again after a pause"
    );
    node.finish().await
}
