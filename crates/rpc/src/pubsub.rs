//! `eth_subscribe` and `eth_unsubscribe` (WebSocket only): `newHeads`, `logs` and
//! `newPendingTransactions`, as geth serves them.
//!
//! * `newHeads` sends the header of every new block.
//! * `logs` sends every log of a new block that matches the filter's addresses and topics, one
//!   notification per log (block ranges do not apply to subscriptions; `blockHash` is refused).
//! * `newPendingTransactions` sends the hash of every transaction the pool accepts, or the whole
//!   transaction with the parameter `true`.
//!
//! A subscriber that falls behind the node's broadcast buffers misses the notifications it
//! could not keep up with.

use crate::{EthRpc, convert, error, logs::block_logs};
use alloy_rpc_types_eth::{
    Filter, Log,
    pubsub::{Params, SubscriptionKind},
};
use jsonrpsee::{
    PendingSubscriptionSink, SubscriptionMessage, SubscriptionSink, core::SubscriptionResult,
    proc_macros::rpc, server::IdProvider, types::SubscriptionId,
};
use serde::Serialize;
use tokio::sync::broadcast::{self, error::RecvError};

/// The `eth` publish-subscribe methods.
#[rpc(server, namespace = "eth")]
pub trait EthPubSubApi {
    /// Starts a subscription: `newHeads`, `logs` (with an optional filter) or
    /// `newPendingTransactions` (with an optional `true` for whole transactions).
    #[subscription(
        name = "subscribe" => "subscription",
        unsubscribe = "unsubscribe",
        item = serde_json::Value
    )]
    async fn subscribe(&self, kind: SubscriptionKind, params: Option<Params>)
    -> SubscriptionResult;
}

/// What one subscription sends.
enum Stream {
    Heads,
    Logs(Box<Filter>),
    PendingTransactions { full: bool },
}

#[jsonrpsee::core::async_trait]
impl EthPubSubApiServer for EthRpc {
    async fn subscribe(
        &self,
        pending: PendingSubscriptionSink,
        kind: SubscriptionKind,
        params: Option<Params>,
    ) -> SubscriptionResult {
        let stream = match (kind, params.unwrap_or_default()) {
            (SubscriptionKind::NewHeads, Params::None) => Stream::Heads,
            (SubscriptionKind::Logs, Params::None) => Stream::Logs(Box::default()),
            (SubscriptionKind::Logs, Params::Logs(filter)) => {
                if filter.get_block_hash().is_some() {
                    pending
                        .reject(error::invalid_params(
                            "a logs subscription does not take a blockHash",
                        ))
                        .await;
                    return Ok(());
                }
                Stream::Logs(filter)
            }
            (SubscriptionKind::NewPendingTransactions, Params::None) => {
                Stream::PendingTransactions { full: false }
            }
            (SubscriptionKind::NewPendingTransactions, Params::Bool(full)) => {
                Stream::PendingTransactions { full }
            }
            (
                SubscriptionKind::NewHeads
                | SubscriptionKind::Logs
                | SubscriptionKind::NewPendingTransactions,
                _,
            ) => {
                pending
                    .reject(error::invalid_params(format!(
                        "invalid parameters for the {kind} subscription"
                    )))
                    .await;
                return Ok(());
            }
            (SubscriptionKind::Syncing | SubscriptionKind::TransactionReceipts, _) => {
                pending
                    .reject(error::invalid_params(format!(
                        "the {kind} subscription is not supported"
                    )))
                    .await;
                return Ok(());
            }
        };
        // Subscribe before accepting, so nothing announced after the reply is missed.
        match stream {
            Stream::Heads => {
                let blocks = self.chain.subscribe();
                let sink = pending.accept().await?;
                self.stream_blocks(sink, blocks, None).await
            }
            Stream::Logs(filter) => {
                if let Err(err) = crate::filter::check_filter_size(&filter) {
                    pending.reject(err).await;
                    return Ok(());
                }
                let blocks = self.chain.subscribe();
                let sink = pending.accept().await?;
                self.stream_blocks(sink, blocks, Some(filter)).await
            }
            Stream::PendingTransactions { full } => {
                let hashes = self.chain.subscribe_pending_transactions();
                let sink = pending.accept().await?;
                self.stream_pending(sink, hashes, full).await
            }
        }
    }
}

impl EthRpc {
    /// Sends each new block's header (`filter` `None`) or its logs matching `filter`.
    async fn stream_blocks(
        &self,
        sink: SubscriptionSink,
        mut blocks: broadcast::Receiver<std::sync::Arc<ol_chain::NewBlock>>,
        filter: Option<Box<Filter>>,
    ) -> SubscriptionResult {
        loop {
            let block = tokio::select! {
                _ = sink.closed() => return Ok(()),
                block = blocks.recv() => block,
            };
            let block = match block {
                Ok(block) => block,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return Ok(()),
            };
            let Some(filter) = &filter else {
                send(&sink, &convert::rpc_header(&block.header)).await?;
                continue;
            };
            if !filter.matches_bloom(block.header.logs_bloom) {
                continue;
            }
            let mut logs: Vec<Log> = Vec::new();
            block_logs(
                &block.header,
                &block.transactions,
                &block.receipts,
                filter,
                &mut logs,
            );
            for log in &logs {
                send(&sink, log).await?;
            }
        }
    }

    /// Sends the hash (or, with `full`, the transaction) of every transaction the pool accepts.
    async fn stream_pending(
        &self,
        sink: SubscriptionSink,
        mut hashes: broadcast::Receiver<alloy_primitives::B256>,
        full: bool,
    ) -> SubscriptionResult {
        loop {
            let hash = tokio::select! {
                _ = sink.closed() => return Ok(()),
                hash = hashes.recv() => hash,
            };
            let hash = match hash {
                Ok(hash) => hash,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return Ok(()),
            };
            if full {
                // Gone already (mined or replaced): the hash alone is no use to a full
                // subscriber, skip it.
                if let Some(tx) = self.pool.get(&hash) {
                    send(&sink, &convert::pending_transaction(tx)).await?;
                }
            } else {
                send(&sink, &hash).await?;
            }
        }
    }
}

async fn send(sink: &SubscriptionSink, item: &impl Serialize) -> SubscriptionResult {
    let raw = serde_json::value::to_raw_value(item)?;
    sink.send(SubscriptionMessage::from(raw)).await?;
    Ok(())
}

/// Subscription ids as geth makes them: `0x` and 32 random hex digits.
#[derive(Debug, Clone, Copy, Default)]
pub struct HexIdProvider;

impl IdProvider for HexIdProvider {
    fn next_id(&self) -> SubscriptionId<'static> {
        SubscriptionId::Str(alloy_primitives::B128::random().to_string().into())
    }
}
