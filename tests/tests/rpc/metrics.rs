//! `metrics`: the Prometheus exporter of the real binary (`--metrics`) counts JSON-RPC calls,
//! errors and latency per method (calls inside a batch one by one, unknown methods as
//! `unknown`), and its pool gauges follow the pool's content.

use alloy::{
    primitives::{Address, U256, address},
    providers::Provider,
    transports::http::reqwest,
};
use eyre::{Context as _, Result, ensure, eyre};
use ol_e2e::{
    TestNode, dev_signer, free_port, generous_fees, raw_rpc, sign_transfer, wait_for_receipt,
    wait_until,
};
use serde_json::{Value, json};
use std::{collections::BTreeMap, time::Duration};

const RECIPIENT: Address = address!("0x00000000000000000000000000000000000e7e01");

/// One scrape of `/metrics`.
struct Scrape(String);

impl Scrape {
    async fn take(client: &reqwest::Client, url: &str) -> Result<Self> {
        let response = client.get(url).send().await.wrap_err("scraping /metrics")?;
        ensure!(
            response.status() == 200,
            "/metrics answered {}",
            response.status()
        );
        Ok(Self(response.text().await?))
    }

    /// The value of the series `name{labels}` (labels in any order; none others), 0 when the
    /// series is absent.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Result<f64> {
        let wanted: BTreeMap<&str, &str> = labels.iter().copied().collect();
        for line in self.0.lines().filter(|line| !line.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let (series_name, series_labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if series_name != name {
                continue;
            }
            let found: BTreeMap<&str, &str> = series_labels
                .split(',')
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| pair.split_once('='))
                .map(|(key, value)| (key, value.trim_matches('"')))
                .collect();
            if found == wanted {
                return value.parse().wrap_err_with(|| format!("value of {line:?}"));
            }
        }
        Ok(0.0)
    }
}

async fn post(client: &reqwest::Client, url: &reqwest::Url, body: Value) -> Result<Value> {
    Ok(client
        .post(url.clone())
        .json(&body)
        .send()
        .await?
        .json()
        .await?)
}

fn request(id: usize, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_and_pool_metrics_count_what_happened() -> Result<()> {
    let metrics_port = free_port()?;
    let node = TestNode::start_with_args(vec![
        "--metrics".into(),
        format!("127.0.0.1:{metrics_port}"),
    ])
    .await?;
    let provider = node.provider();
    let url = node.url().clone();
    let metrics_url = format!("http://127.0.0.1:{metrics_port}/metrics");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;

    let before = Scrape::take(&client, &metrics_url).await?;
    let chain_id = [("method", "eth_chainId")];
    let balance = [("method", "web3_sha3")];
    let requests =
        |scrape: &Scrape, labels: &[(&str, &str)]| scrape.value("rpc_requests_total", labels);

    // 7 single calls and a batch of 5 eth_chainId; 3 web3_sha3 with bad params; 2 unknown
    // methods (under two names: both count as `unknown`).
    const SINGLE: usize = 7;
    const BATCHED: usize = 5;
    for id in 0..SINGLE {
        let answer = post(&client, &url, request(id, "eth_chainId", json!([]))).await?;
        ensure!(answer["result"].is_string(), "{answer}");
    }
    let batch: Vec<Value> = (0..BATCHED)
        .map(|id| request(id, "eth_chainId", json!([])))
        .collect();
    let answers = post(&client, &url, Value::Array(batch)).await?;
    ensure!(
        answers.as_array().map(Vec::len) == Some(BATCHED),
        "{answers}"
    );
    for id in 0..3 {
        let answer = post(&client, &url, request(id, "web3_sha3", json!([42]))).await?;
        ensure!(answer["error"]["code"] == json!(-32602), "{answer}");
    }
    for method in ["eth_noSuchMethod", "debug_noSuchMethod"] {
        let answer = post(&client, &url, request(1, method, json!([]))).await?;
        ensure!(answer["error"]["code"] == json!(-32601), "{answer}");
    }

    let after = Scrape::take(&client, &metrics_url).await?;
    let moved = |name: &str, labels: &[(&str, &str)]| -> Result<f64> {
        Ok(after.value(name, labels)? - before.value(name, labels)?)
    };
    assert_eq!(
        requests(&after, &chain_id)? - requests(&before, &chain_id)?,
        (SINGLE + BATCHED) as f64,
        "eth_chainId calls, batched ones included"
    );
    assert_eq!(
        moved("rpc_request_duration_seconds_count", &chain_id)?,
        (SINGLE + BATCHED) as f64,
        "one latency sample per eth_chainId call"
    );
    ensure!(
        after.value(
            "rpc_request_duration_seconds_bucket",
            &[("method", "eth_chainId"), ("le", "+Inf")]
        )? >= (SINGLE + BATCHED) as f64,
        "the latency is a histogram with buckets"
    );
    assert_eq!(
        moved("rpc_errors_total", &chain_id)?,
        0.0,
        "eth_chainId never failed"
    );
    assert_eq!(moved("rpc_requests_total", &balance)?, 3.0);
    assert_eq!(
        moved(
            "rpc_errors_total",
            &[("method", "web3_sha3"), ("code", "-32602")]
        )?,
        3.0,
        "invalid params errors by method and code"
    );
    assert_eq!(moved("rpc_requests_total", &[("method", "unknown")])?, 2.0);
    assert_eq!(
        moved(
            "rpc_errors_total",
            &[("method", "unknown"), ("code", "-32601")]
        )?,
        2.0
    );
    ensure!(
        !after.0.contains("eth_noSuchMethod"),
        "names of unknown methods never become labels"
    );
    for name in [
        "rpc_requests_total",
        "rpc_errors_total",
        "rpc_request_duration_seconds",
        "txpool_pending_transactions",
    ] {
        ensure!(
            after.0.contains(&format!("# HELP {name} ")),
            "{name} is described"
        );
    }

    // Pool gauges: a queued transaction (nonce gap), then pending once the gap fills, then
    // nothing once both are mined.
    let signer = dev_signer(7);
    let fees = generous_fees(&provider).await?;
    let (hash1, raw1) = sign_transfer(&signer, 1, RECIPIENT, U256::from(1u64), fees)?;
    let (hash0, raw0) = sign_transfer(&signer, 0, RECIPIENT, U256::from(1u64), fees)?;
    let _ = provider.send_raw_transaction(&raw1).await?;
    let scrape = Scrape::take(&client, &metrics_url).await?;
    assert_eq!(scrape.value("txpool_queued_transactions", &[])?, 1.0);
    assert_eq!(scrape.value("txpool_pending_transactions", &[])?, 0.0);
    assert_eq!(
        scrape.value("txpool_size_bytes", &[])?,
        raw1.len() as f64,
        "the pool's bytes are the queued transaction's"
    );
    assert_eq!(
        raw_rpc(&provider, "txpool_status", ()).await?,
        json!({ "pending": "0x0", "queued": "0x1" })
    );
    let _ = provider.send_raw_transaction(&raw0).await?;
    wait_for_receipt(&provider, hash0).await?;
    wait_for_receipt(&provider, hash1).await?;
    wait_until(
        "empty pool gauges",
        Duration::from_secs(10),
        Duration::from_millis(100),
        async || {
            let scrape = Scrape::take(&client, &metrics_url).await?;
            let sizes = [
                scrape.value("txpool_pending_transactions", &[])?,
                scrape.value("txpool_queued_transactions", &[])?,
                scrape.value("txpool_size_bytes", &[])?,
            ];
            Ok((sizes == [0.0; 3]).then_some(()))
        },
    )
    .await
    .map_err(|err| eyre!("the pool gauges did not return to zero after mining: {err}"))?;
    ensure!(
        provider.get_balance(RECIPIENT).await? == U256::from(2u64),
        "both transfers mined"
    );
    node.finish().await
}
