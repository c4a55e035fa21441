//! The `txpool` namespace with geth's formats: `status`, `content`, `contentFrom` and `inspect`.
//!
//! `pending` holds the transactions ready for the next block, `queued` those waiting for a
//! nonce gap to fill. Content maps go by sender (checksummed address) then nonce (decimal
//! string), as geth's do.

use crate::{EthRpc, convert, error};
use alloy_consensus::{Transaction as _, transaction::Recovered};
use alloy_primitives::{Address, U64};
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use ol_primitives::OpTxEnvelope;
use ol_txpool::SenderTransactions;
use op_alloy_rpc_types::Transaction;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// `txpool_status`: the sizes of the sub-pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxpoolStatus {
    /// Transactions ready for the next block.
    pub pending: U64,
    /// Transactions waiting for a nonce gap to fill.
    pub queued: U64,
}

/// Entries by sender (checksummed address), then nonce.
pub type BySender<T> = BTreeMap<String, BTreeMap<u64, T>>;

/// `txpool_content` (and `txpool_inspect` with `T = String`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxpoolContent<T> {
    /// Pending transactions by sender and nonce.
    pub pending: BySender<T>,
    /// Queued transactions by sender and nonce.
    pub queued: BySender<T>,
}

/// `txpool_contentFrom`: one sender's transactions by nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxpoolContentFrom {
    /// Pending transactions by nonce.
    pub pending: BTreeMap<u64, Transaction>,
    /// Queued transactions by nonce.
    pub queued: BTreeMap<u64, Transaction>,
}

/// The `txpool` namespace.
#[rpc(server, namespace = "txpool")]
pub trait TxPoolApi {
    /// Numbers of pending and queued transactions.
    #[method(name = "status")]
    fn status(&self) -> RpcResult<TxpoolStatus>;
    /// Every pooled transaction, by sub-pool, sender and nonce ([`TxpoolContent`] of RPC
    /// transactions, rendered on a worker thread).
    #[method(name = "content")]
    async fn content(&self) -> RpcResult<Box<RawValue>>;
    /// The pooled transactions of one sender, by sub-pool and nonce ([`TxpoolContentFrom`]).
    #[method(name = "contentFrom")]
    async fn content_from(&self, address: Address) -> RpcResult<Box<RawValue>>;
    /// A one-line summary of every pooled transaction, by sub-pool, sender and nonce:
    /// `"<to>: <value> wei + <gas> gas × <max fee per gas> wei"`.
    #[method(name = "inspect")]
    async fn inspect(&self) -> RpcResult<Box<RawValue>>;
}

/// geth's one-line summary of a transaction.
fn summary(tx: &OpTxEnvelope) -> String {
    let to = tx.to().map_or_else(
        || "contract creation".to_string(),
        |to| to.to_checksum(None),
    );
    format!(
        "{to}: {} wei + {} gas × {} wei",
        tx.value(),
        tx.gas_limit(),
        tx.max_fee_per_gas()
    )
}

fn by_sender<T>(
    pool: SenderTransactions,
    convert: impl Fn(Recovered<OpTxEnvelope>) -> T,
) -> BySender<T> {
    pool.into_iter()
        .map(|(sender, txs)| {
            let txs = txs
                .into_iter()
                .map(|(nonce, tx)| (nonce, convert(tx)))
                .collect();
            (sender.to_checksum(None), txs)
        })
        .collect()
}

/// JSON text of `value`, made where it is called (a worker thread), so that the async threads
/// only copy bytes out.
fn rendered<T: serde::Serialize>(value: &T) -> RpcResult<Box<RawValue>> {
    serde_json::value::to_raw_value(value).map_err(error::internal)
}

// The whole-pool reads copy, convert and render every pooled transaction: all of it runs on
// the RPC's worker threads (bounded in number, below the chain's priority), never on the async
// ones, which answer everyone else.
#[jsonrpsee::core::async_trait]
impl TxPoolApiServer for EthRpc {
    fn status(&self) -> RpcResult<TxpoolStatus> {
        let status = self.pool.status();
        Ok(TxpoolStatus {
            pending: U64::from(status.pending),
            queued: U64::from(status.queued),
        })
    }

    async fn content(&self) -> RpcResult<Box<RawValue>> {
        self.run_blocking(|this| {
            let content = this.pool.content();
            rendered(&TxpoolContent {
                pending: by_sender(content.pending, convert::pending_transaction),
                queued: by_sender(content.queued, convert::pending_transaction),
            })
        })
        .await
    }

    async fn content_from(&self, address: Address) -> RpcResult<Box<RawValue>> {
        self.run_blocking(move |this| {
            let mut content = this.pool.content_from(&address);
            let take = |pool: &mut SenderTransactions| -> BTreeMap<u64, Transaction> {
                pool.remove(&address)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(nonce, tx)| (nonce, convert::pending_transaction(tx)))
                    .collect()
            };
            rendered(&TxpoolContentFrom {
                pending: take(&mut content.pending),
                queued: take(&mut content.queued),
            })
        })
        .await
    }

    async fn inspect(&self) -> RpcResult<Box<RawValue>> {
        self.run_blocking(|this| {
            let content = this.pool.content();
            rendered(&TxpoolContent {
                pending: by_sender(content.pending, |tx| summary(tx.inner())),
                queued: by_sender(content.queued, |tx| summary(tx.inner())),
            })
        })
        .await
    }
}
