//! Reads of a node over its JSON-RPC: what every page is built from.
//!
//! The explorer holds no index of its own: contract state comes from `eth_call` at `latest`
//! (typed by the suite's `sol!` bindings), history from `eth_getLogs` (in ranges the node
//! accepts), blocks and transactions as the node serves them, and the job service's and the
//! verifier's answers from the `ol` namespace. So it runs the same against its own node
//! (`openledger node --explorer`) or any other (`openledger explorer --rpc-url`), and what
//! it shows is what the node's RPC says, nothing cached that could go stale.

use alloy::{
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{Filter, Log, TransactionRequest},
    transports::{
        RpcError, TransportError, TransportErrorKind,
        http::reqwest::{self, Url},
    },
};
use alloy_primitives::{Address, B256};
use alloy_sol_types::SolCall;
use serde_json::Value;
use std::borrow::Cow;

/// Blocks one `eth_getLogs` asks for: reth's and this node's default
/// `--rpc.max-blocks-per-filter` (a node that allows fewer gets halves).
const LOG_RANGE: u64 = 100_000;

/// How long one read may take.
const RPC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// The JSON-RPC error code of a reverted call (geth's).
const REVERTED: i64 = 3;

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The node did not answer, or answered with an error where none was expected.
    #[error("the node's JSON-RPC: {0}")]
    Rpc(#[from] TransportError),
    /// A view's answer did not decode as the function's return type.
    #[error("{signature}: undecodable answer: {source}")]
    Decode {
        /// The called function.
        signature: &'static str,
        /// The decoder's error.
        source: alloy_sol_types::Error,
    },
    /// The node answered something that is not what the method returns.
    #[error("{method}: unexpected answer: {answer}")]
    Unexpected {
        /// The method.
        method: &'static str,
        /// What came back.
        answer: String,
    },
}

/// An `ol` method's answer from a node that may not serve it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// The node answered.
    Answer(Value),
    /// The node does not serve the method (no job service, no verifier): its error message.
    NotServed(String),
}

/// The node the explorer reads, and the node whose verifier it asks for verdicts.
#[derive(Debug, Clone)]
pub struct Reader {
    node: DynProvider,
    verifier: Option<DynProvider>,
    /// The node's chain id, read once: it never changes under a running node.
    chain_id: std::sync::Arc<tokio::sync::OnceCell<u64>>,
}

impl Reader {
    /// Reads `node`; verdicts come from `verifier` (a follower running
    /// `--verify-attributions`), or from `node` itself when none is given.
    pub fn connect(node: Url, verifier: Option<Url>) -> Result<Self, ReadError> {
        // A page waits for at most this long on a node that stopped answering.
        let client = reqwest::Client::builder()
            .timeout(RPC_TIMEOUT)
            .build()
            .map_err(|err| ReadError::Rpc(TransportErrorKind::custom(err)))?;
        let provider = |url| {
            ProviderBuilder::new()
                .connect_reqwest(client.clone(), url)
                .erased()
        };
        Ok(Self {
            node: provider(node),
            verifier: verifier.map(provider),
            chain_id: Default::default(),
        })
    }

    /// The chain id.
    pub async fn chain_id(&self) -> Result<u64, ReadError> {
        let id = self
            .chain_id
            .get_or_try_init(|| async { self.node.get_chain_id().await })
            .await?;
        Ok(*id)
    }

    /// The latest block number.
    pub async fn head(&self) -> Result<u64, ReadError> {
        Ok(self.node.get_block_number().await?)
    }

    /// Calls the view `call` on `to` at `latest`; `None` when it reverts (an unknown id).
    pub async fn view<C: SolCall>(
        &self,
        to: Address,
        call: &C,
    ) -> Result<Option<C::Return>, ReadError> {
        let request = TransactionRequest::default()
            .to(to)
            .input(call.abi_encode().into());
        match self.node.call(request).await {
            Ok(output) => {
                C::abi_decode_returns(&output)
                    .map(Some)
                    .map_err(|source| ReadError::Decode {
                        signature: C::SIGNATURE,
                        source,
                    })
            }
            Err(RpcError::ErrorResp(payload))
                if payload.code == REVERTED || payload.as_revert_data().is_some() =>
            {
                Ok(None)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// [`Self::view`] of a view that does not revert.
    pub async fn view_required<C: SolCall>(
        &self,
        to: Address,
        call: &C,
    ) -> Result<C::Return, ReadError> {
        self.view(to, call)
            .await?
            .ok_or_else(|| ReadError::Unexpected {
                method: C::SIGNATURE,
                answer: "reverted".into(),
            })
    }

    /// A method's answer as JSON.
    pub async fn raw(&self, method: &'static str, params: Value) -> Result<Value, ReadError> {
        Ok(self
            .node
            .raw_request::<_, Value>(Cow::Borrowed(method), params)
            .await?)
    }

    /// An `ol` method of the job service or the verifier on `provider`: an error answer means
    /// the node does not serve it (or refuses), which a page shows rather than fails on.
    async fn served(
        provider: &DynProvider,
        method: &'static str,
        params: Value,
    ) -> Result<Served, ReadError> {
        match provider
            .raw_request::<_, Value>(Cow::Borrowed(method), params)
            .await
        {
            Ok(answer) => Ok(Served::Answer(answer)),
            Err(RpcError::ErrorResp(payload)) => Ok(Served::NotServed(payload.message.to_string())),
            Err(err) => Err(err.into()),
        }
    }

    /// An `ol` method of the node's job service (`ol_jobStatus`, `ol_getAttribution`).
    pub async fn job_service(
        &self,
        method: &'static str,
        request_id: B256,
    ) -> Result<Served, ReadError> {
        Self::served(&self.node, method, serde_json::json!([request_id])).await
    }

    /// The verifier's verdict on the record of `request_id` (`ol_verification`).
    pub async fn verification(&self, request_id: B256) -> Result<Served, ReadError> {
        let provider = self.verifier.as_ref().unwrap_or(&self.node);
        Self::served(provider, "ol_verification", serde_json::json!([request_id])).await
    }

    /// The logs matching `filter` in blocks `from..=to`, in one call when the node accepts the
    /// range, else in halves (a node refuses ranges over its `--rpc.max-blocks-per-filter` and
    /// answers over its `--rpc.max-logs-per-response`; providers' limits are lower still).
    async fn logs_in(&self, filter: &Filter, from: u64, to: u64) -> Result<Vec<Log>, ReadError> {
        let range = filter.clone().from_block(from).to_block(to);
        match self.node.get_logs(&range).await {
            Ok(logs) => Ok(logs),
            Err(RpcError::ErrorResp(_)) if from < to => {
                let middle = from + (to - from) / 2;
                let mut logs = Box::pin(self.logs_in(filter, from, middle)).await?;
                logs.extend(Box::pin(self.logs_in(filter, middle + 1, to)).await?);
                Ok(logs)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// The ranges of at most [`LOG_RANGE`] blocks that cover `from..=to`, oldest first.
    fn ranges(from: u64, to: u64) -> impl DoubleEndedIterator<Item = (u64, u64)> {
        let count = if from > to {
            0
        } else {
            (to - from) / LOG_RANGE + 1
        };
        (0..count).map(move |i| {
            let start = from + i * LOG_RANGE;
            (start, to.min(start.saturating_add(LOG_RANGE - 1)))
        })
    }

    /// Every log matching `filter` in blocks `from..=to`, oldest first.
    pub async fn logs(&self, filter: &Filter, from: u64, to: u64) -> Result<Vec<Log>, ReadError> {
        let mut logs = Vec::new();
        for (start, end) in Self::ranges(from, to) {
            logs.extend(self.logs_in(filter, start, end).await?);
        }
        Ok(logs)
    }

    /// The first log matching `filter` in blocks `from..=to`, read a range at a time from
    /// `from` (the events that follow a request sit close to it).
    pub async fn first_log(
        &self,
        filter: &Filter,
        from: u64,
        to: u64,
    ) -> Result<Option<Log>, ReadError> {
        for (start, end) in Self::ranges(from, to) {
            if let Some(log) = self.logs_in(filter, start, end).await?.into_iter().next() {
                return Ok(Some(log));
            }
        }
        Ok(None)
    }

    /// The last log matching `filter` in blocks `from..=to`, read a range at a time from `to`
    /// backwards (an event known to be at or before `to`).
    pub async fn last_log(
        &self,
        filter: &Filter,
        from: u64,
        to: u64,
    ) -> Result<Option<Log>, ReadError> {
        for (start, end) in Self::ranges(from, to).rev() {
            if let Some(log) = self.logs_in(filter, start, end).await?.into_iter().last() {
                return Ok(Some(log));
            }
        }
        Ok(None)
    }

    /// A block as the node serves it (`eth_getBlockByNumber` or `eth_getBlockByHash`), with
    /// full transactions when `full`; `None` when the node has none.
    pub async fn block(&self, id: BlockId, full: bool) -> Result<Option<Value>, ReadError> {
        let answer = match id {
            BlockId::Number(number) => {
                self.raw(
                    "eth_getBlockByNumber",
                    serde_json::json!([format!("{number:#x}"), full]),
                )
                .await?
            }
            BlockId::Tag(tag) => {
                self.raw("eth_getBlockByNumber", serde_json::json!([tag, full]))
                    .await?
            }
            BlockId::Hash(hash) => {
                self.raw("eth_getBlockByHash", serde_json::json!([hash, full]))
                    .await?
            }
        };
        Ok((!answer.is_null()).then_some(answer))
    }

    /// A transaction and its receipt, as the node serves them.
    pub async fn transaction(&self, hash: B256) -> Result<Option<(Value, Value)>, ReadError> {
        let tx = self
            .raw("eth_getTransactionByHash", serde_json::json!([hash]))
            .await?;
        if tx.is_null() {
            return Ok(None);
        }
        let receipt = self
            .raw("eth_getTransactionReceipt", serde_json::json!([hash]))
            .await?;
        Ok(Some((tx, receipt)))
    }
}

/// Which block to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockId {
    /// By number.
    Number(u64),
    /// `latest`, `safe` or `finalized`.
    Tag(&'static str),
    /// By hash.
    Hash(B256),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_block_once() {
        let all: Vec<_> = Reader::ranges(5, 250_004).collect();
        assert_eq!(
            all,
            vec![(5, 100_004), (100_005, 200_004), (200_005, 250_004)]
        );
        assert_eq!(Reader::ranges(7, 7).collect::<Vec<_>>(), vec![(7, 7)]);
        assert_eq!(Reader::ranges(8, 7).count(), 0);
        let top: Vec<_> = Reader::ranges(u64::MAX - 3, u64::MAX).collect();
        assert_eq!(top, vec![(u64::MAX - 3, u64::MAX)]);
        assert_eq!(
            Reader::ranges(0, 250_004).next_back(),
            Some((200_000, 250_004))
        );
    }
}
