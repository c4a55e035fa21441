//! The block builder's view of the pool: pending transactions by effective tip, each sender's
//! in nonce order.

use crate::{TxPool, pool::PooledTx};
use alloy_consensus::transaction::Recovered;
use alloy_primitives::{Address, B256};
use ol_evm::{BestTransactions, SkipReason};
use ol_primitives::OpTxEnvelope;
use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap, VecDeque},
    sync::Arc,
};
use tracing::debug;

/// Pending transactions ordered for a block at one base fee. Ties go to the transaction that
/// arrived first.
#[derive(Debug)]
pub struct BestPoolTransactions<'a> {
    pool: &'a TxPool,
    base_fee: u64,
    /// Each sender's remaining pending transactions, next nonce first.
    queues: HashMap<Address, VecDeque<Arc<PooledTx>>>,
    /// Senders by the effective tip of their next transaction.
    heap: BinaryHeap<(u128, Reverse<std::time::Instant>, Address)>,
}

impl<'a> BestPoolTransactions<'a> {
    pub(crate) fn new(pool: &'a TxPool, base_fee: u64) -> Self {
        let inner = pool.inner.lock();
        let queues: HashMap<Address, VecDeque<Arc<PooledTx>>> = inner
            .senders
            .iter()
            .map(|(address, sender)| (*address, sender.pending().cloned().collect::<VecDeque<_>>()))
            .filter(|(_, queue)| !queue.is_empty())
            .collect();
        drop(inner);
        let mut best = Self {
            pool,
            base_fee,
            queues,
            heap: BinaryHeap::new(),
        };
        let senders: Vec<Address> = best.queues.keys().copied().collect();
        for sender in senders {
            best.push_next(sender);
        }
        best
    }

    fn push_next(&mut self, sender: Address) {
        let Some(next) = self.queues.get(&sender).and_then(|queue| queue.front()) else {
            return;
        };
        // A transaction that cannot pay the base fee blocks its sender's later nonces too.
        if let Some(tip) = next.effective_tip(self.base_fee) {
            self.heap.push((tip, Reverse(next.added), sender));
        }
    }
}

impl BestTransactions for BestPoolTransactions<'_> {
    fn next_transaction(&mut self) -> Option<Recovered<OpTxEnvelope>> {
        let (_, _, sender) = self.heap.pop()?;
        let tx = self.queues.get_mut(&sender)?.pop_front()?;
        self.push_next(sender);
        Some(tx.tx.clone())
    }

    fn skip(&mut self, tx: &Recovered<OpTxEnvelope>, reason: SkipReason, detail: &str) {
        let sender = tx.signer();
        self.queues.remove(&sender);
        self.heap.retain(|(_, _, queued)| *queued != sender);
        debug!(hash = %tx.tx_hash(), %sender, ?reason, detail, "transaction left out of block");
        if reason == SkipReason::Invalid {
            let hash: B256 = tx.tx_hash();
            self.pool.remove(&[hash]);
        }
    }
}
