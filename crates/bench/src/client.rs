//! A lean JSON-RPC client for the load generator: batched `eth_sendRawTransaction`, and
//! inclusion tracking from `eth_getBlockReceipts` of every new block. Both targets (the node
//! and anvil) are driven through exactly this code.

use alloy::{
    primitives::B256,
    transports::http::reqwest::{self, header::CONTENT_TYPE},
};
use eyre::{WrapErr, bail, eyre};
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

/// A JSON-RPC endpoint.
#[derive(Debug)]
pub(crate) struct RpcClient {
    http: reqwest::Client,
    url: String,
    next_id: AtomicU64,
}

/// A mined transaction as its block's receipts describe it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Included {
    /// Whether it succeeded.
    pub(crate) success: bool,
    /// Gas it used.
    pub(crate) gas_used: u64,
}

fn quantity(value: &Value) -> eyre::Result<u64> {
    let text = value
        .as_str()
        .ok_or_else(|| eyre!("expected a hex quantity, got {value}"))?;
    u64::from_str_radix(text.trim_start_matches("0x"), 16)
        .wrap_err_with(|| format!("bad quantity {text}"))
}

impl RpcClient {
    /// A client of `url`.
    pub(crate) fn new(url: String) -> eyre::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(600))
            .pool_max_idle_per_host(64)
            .build()
            .wrap_err("building the HTTP client")?;
        Ok(Self {
            http,
            url,
            next_id: AtomicU64::new(1),
        })
    }

    async fn post(&self, body: String) -> eyre::Result<Value> {
        let response = self
            .http
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .wrap_err_with(|| format!("POST {}", self.url))?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            bail!(
                "{} answered HTTP {status}: {}",
                self.url,
                String::from_utf8_lossy(&bytes)
            );
        }
        serde_json::from_slice(&bytes).wrap_err("a JSON-RPC response that is not JSON")
    }

    /// Calls `method`; a JSON-RPC error is an error.
    /// The endpoint's URL.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) async fn call(&self, method: &str, params: Value) -> eyre::Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let request = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let mut response = self.post(request.to_string()).await?;
        if let Some(error) = response.get("error") {
            bail!("{method}: {error}");
        }
        Ok(response["result"].take())
    }

    /// The head block number.
    pub(crate) async fn block_number(&self) -> eyre::Result<u64> {
        quantity(&self.call("eth_blockNumber", json!([])).await?)
    }

    /// Submits `raws` in one batch; returns each one's refusal message, if refused.
    pub(crate) async fn send_raw_batch(
        &self,
        raws: &[String],
    ) -> eyre::Result<Vec<Option<String>>> {
        let first_id = self.next_id.fetch_add(raws.len() as u64, Ordering::Relaxed);
        let batch: Vec<Value> = raws
            .iter()
            .enumerate()
            .map(|(offset, raw)| {
                json!({
                    "jsonrpc": "2.0",
                    "id": first_id + offset as u64,
                    "method": "eth_sendRawTransaction",
                    "params": [raw],
                })
            })
            .collect();
        let response = self.post(Value::Array(batch).to_string()).await?;
        let items = response
            .as_array()
            .ok_or_else(|| eyre!("a batch answered with {response}"))?;
        let mut outcomes = vec![Some("no answer in the batch response".to_owned()); raws.len()];
        for item in items {
            let id = item["id"]
                .as_u64()
                .ok_or_else(|| eyre!("a batch item without a numeric id: {item}"))?;
            let slot = id
                .checked_sub(first_id)
                .and_then(|offset| outcomes.get_mut(offset as usize))
                .ok_or_else(|| eyre!("an answer to an id that was not asked: {id}"))?;
            *slot = item.get("error").map(Value::to_string);
        }
        Ok(outcomes)
    }

    /// The receipts of block `number` by transaction hash.
    pub(crate) async fn block_receipts(
        &self,
        number: u64,
    ) -> eyre::Result<HashMap<B256, Included>> {
        let receipts = self
            .call("eth_getBlockReceipts", json!([format!("{number:#x}")]))
            .await?;
        let receipts = receipts
            .as_array()
            .ok_or_else(|| eyre!("eth_getBlockReceipts({number}) answered {receipts}"))?;
        receipts
            .iter()
            .map(|receipt| {
                let hash: B256 = serde_json::from_value(receipt["transactionHash"].clone())
                    .wrap_err("a receipt's transactionHash")?;
                Ok((
                    hash,
                    Included {
                        success: quantity(&receipt["status"])? == 1,
                        gas_used: quantity(&receipt["gasUsed"])?,
                    },
                ))
            })
            .collect()
    }
}
