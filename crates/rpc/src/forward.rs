//! Where `eth_sendRawTransaction` sends a transaction: into this node's pool (a sequencer), on
//! to the sequencer (a follower with `--rollup.sequencer-http`, op-geth's `--rollup.sequencerhttp`),
//! or nowhere (a follower without one, which must not accept a transaction it can never include).

use crate::error;
use alloy_primitives::{B256, Bytes};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::{Value, json};
use std::time::Duration;

/// What `eth_sendRawTransaction` does with a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TxSubmission {
    /// Into the local pool, for the local sequencer.
    #[default]
    Pool,
    /// Forwarded to the sequencer's JSON-RPC at this URL; its answer is the answer.
    Forward(String),
    /// Refused: this node includes no transactions and knows no sequencer.
    Refuse,
}

/// How long the sequencer may take to answer a forwarded transaction.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends `raw` to the sequencer at `url` and returns its answer: the hash, or its error with
/// its code and message, so that a wallet sees what the sequencer said.
pub(crate) async fn forward(
    http: &reqwest::Client,
    url: &str,
    raw: &Bytes,
) -> Result<B256, ErrorObjectOwned> {
    let request = json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "eth_sendRawTransaction",
        "params": [raw],
    });
    let unreachable = |err: &dyn std::fmt::Display| {
        error::server(format!(
            "cannot forward the transaction to the sequencer at {url}: {err}"
        ))
    };
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .body(request.to_string())
        .timeout(FORWARD_TIMEOUT)
        .send()
        .await
        .map_err(|err| unreachable(&err))?;
    let body = response.bytes().await.map_err(|err| unreachable(&err))?;
    let answer: Value = serde_json::from_slice(&body).map_err(|err| unreachable(&err))?;
    if let Some(err) = answer.get("error") {
        let code = err["code"]
            .as_i64()
            .and_then(|code| i32::try_from(code).ok());
        let message = err["message"]
            .as_str()
            .unwrap_or("the sequencer refused the transaction");
        return Err(ErrorObjectOwned::owned(
            code.unwrap_or(error::SERVER_ERROR),
            message.to_owned(),
            err.get("data").cloned(),
        ));
    }
    answer["result"]
        .as_str()
        .and_then(|hash| hash.parse().ok())
        .ok_or_else(|| unreachable(&format!("unexpected answer {answer}")))
}
