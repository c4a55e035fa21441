//! The pool itself: per-sender nonce-ordered transactions, pending and queued.

use crate::{BestPoolTransactions, PoolConfig, PoolError, validate::decode_and_check};
use alloy_consensus::{Transaction, transaction::Recovered};
use alloy_primitives::{Address, B256, U256};
use ol_evm::{OpSpecId, l1_fee::additional_cost};
use ol_primitives::{L1BlockInfo, OpTxEnvelope};
use parking_lot::Mutex;
use std::{
    cmp::Reverse,
    collections::{BTreeMap, BinaryHeap, HashMap},
    sync::Arc,
    time::Instant,
};

/// Gauge of the pending transactions.
pub const PENDING_METRIC: &str = "txpool_pending_transactions";
/// Gauge of the queued transactions.
pub const QUEUED_METRIC: &str = "txpool_queued_transactions";
/// Gauge of the encoded size of every pooled transaction, in bytes.
pub const BYTES_METRIC: &str = "txpool_size_bytes";

/// What the pool needs to know of the chain to validate transactions.
pub trait PoolState {
    /// Nonce and balance of an account in the latest state.
    fn account(&self, address: &Address) -> Result<(u64, U256), String>;
    /// The L1 attributes of the latest block (they price the L1 data fee).
    fn l1_block_info(&self) -> Result<L1BlockInfo, String>;
    /// The op-revm spec of the next block.
    fn spec(&self) -> OpSpecId;
    /// The next block's gas limit.
    fn block_gas_limit(&self) -> u64;
    /// The lowest base fee the chain allows (Jovian minimum base fee).
    fn min_base_fee(&self) -> u64;
}

/// A transaction waiting in the pool.
#[derive(Debug)]
pub(crate) struct PooledTx {
    pub(crate) tx: Recovered<OpTxEnvelope>,
    pub(crate) hash: B256,
    pub(crate) added: Instant,
    /// Encoded size in bytes.
    pub(crate) size: usize,
    /// The most it can cost its sender: gas limit × max fee + value + L1 data fee.
    pub(crate) cost: U256,
}

impl PooledTx {
    pub(crate) fn nonce(&self) -> u64 {
        self.tx.nonce()
    }

    /// The tip this transaction pays per gas at `base_fee`, if it can pay the base fee at all.
    pub(crate) fn effective_tip(&self, base_fee: u64) -> Option<u128> {
        self.tx.effective_tip_per_gas(base_fee)
    }
}

#[derive(Debug, Default)]
pub(crate) struct SenderTxs {
    /// The sender's nonce in the latest state.
    pub(crate) state_nonce: u64,
    pub(crate) txs: BTreeMap<u64, Arc<PooledTx>>,
    /// `pending_count()` as of the last [`Inner::refresh`], so that the pool's sizes cost
    /// nothing to read.
    cached_pending: usize,
    /// Bytes of the pending run as of the last [`Inner::refresh`].
    cached_pending_bytes: usize,
}

impl SenderTxs {
    /// The pending transactions: those whose nonces run on from the state nonce without a gap.
    pub(crate) fn pending(&self) -> impl Iterator<Item = &Arc<PooledTx>> {
        let start = self.state_nonce;
        self.txs
            .range(start..)
            .enumerate()
            .take_while(move |(i, (nonce, _))| **nonce == start + *i as u64)
            .map(|(_, (_, tx))| tx)
    }

    fn pending_count(&self) -> usize {
        self.pending().count()
    }

    /// What the sender's pooled transactions from nonce `from` on, other than the one at
    /// `nonce`, can cost it.
    fn cost_except(&self, from: u64, nonce: u64) -> U256 {
        self.txs
            .range(from..)
            .filter(|(n, _)| **n != nonce)
            .fold(U256::ZERO, |sum, (_, tx)| sum.saturating_add(tx.cost))
    }
}

#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub(crate) by_hash: HashMap<B256, Arc<PooledTx>>,
    pub(crate) senders: HashMap<Address, SenderTxs>,
    /// Sum of the pooled transactions' sizes.
    bytes: usize,
    /// Sum of the senders' cached pending counts.
    pending_total: usize,
    /// Sum of the senders' cached pending bytes.
    pending_bytes: usize,
}

impl Inner {
    fn add(&mut self, tx: Arc<PooledTx>) {
        let sender = tx.tx.signer();
        self.bytes += tx.size;
        self.by_hash.insert(tx.hash, tx.clone());
        self.senders
            .entry(sender)
            .or_default()
            .txs
            .insert(tx.nonce(), tx);
        self.refresh(&sender);
    }

    fn remove(&mut self, hash: &B256) -> Option<Arc<PooledTx>> {
        let tx = self.by_hash.remove(hash)?;
        self.bytes -= tx.size;
        let address = tx.tx.signer();
        if let Some(sender) = self.senders.get_mut(&address) {
            sender.txs.remove(&tx.nonce());
            if sender.txs.is_empty() {
                self.pending_total -= sender.cached_pending;
                self.pending_bytes -= sender.cached_pending_bytes;
                self.senders.remove(&address);
            } else {
                self.refresh(&address);
            }
        }
        Some(tx)
    }

    /// Records a sender's nonce in the latest state.
    fn set_state_nonce(&mut self, address: &Address, nonce: u64) {
        self.senders.entry(*address).or_default().state_nonce = nonce;
        self.refresh(address);
    }

    /// Recounts one sender's pending run (work proportional to that sender's transactions)
    /// after anything that can change it.
    fn refresh(&mut self, address: &Address) {
        let Some(sender) = self.senders.get_mut(address) else {
            return;
        };
        let (previous, previous_bytes) = (sender.cached_pending, sender.cached_pending_bytes);
        let (count, bytes) = sender
            .pending()
            .fold((0, 0), |(count, bytes), tx| (count + 1, bytes + tx.size));
        sender.cached_pending = count;
        sender.cached_pending_bytes = bytes;
        self.pending_total = self.pending_total - previous + count;
        self.pending_bytes = self.pending_bytes - previous_bytes + bytes;
    }

    /// Sets the pool's gauges to its current sizes.
    fn publish_metrics(&self) {
        let status = self.counts();
        metrics::gauge!(PENDING_METRIC).set(status.pending as f64);
        metrics::gauge!(QUEUED_METRIC).set(status.queued as f64);
        metrics::gauge!(BYTES_METRIC).set(self.bytes as f64);
    }

    fn counts(&self) -> PoolStatus {
        PoolStatus {
            pending: self.pending_total,
            queued: self.by_hash.len() - self.pending_total,
        }
    }

    /// The transactions to evict so that `new` fits the pool's limits (counts and bytes of
    /// the whole pool, and of the queue when `new` is queued): the cheapest of other senders,
    /// each taken from the end of its sender's nonces so that evicting it opens no gap, all
    /// paying less than `new`. The queue's limits are met from queued transactions only, so
    /// a full queue never costs a pending transaction its place. `None` when no such set
    /// makes room; nothing is removed here.
    fn victims_for(
        &self,
        new: &PooledTx,
        is_queued: bool,
        config: &PoolConfig,
    ) -> Option<Vec<B256>> {
        let status = self.counts();
        let queued_bytes = self.bytes - self.pending_bytes;
        let max_count = config
            .pending_max_count
            .saturating_add(config.queued_max_count);
        let max_bytes = config
            .pending_max_bytes
            .saturating_add(config.queued_max_bytes);
        let queue_fits = |freed: &Freed| {
            !is_queued
                || (status.queued - freed.queued_count < config.queued_max_count
                    && queued_bytes - freed.queued_bytes + new.size <= config.queued_max_bytes)
        };
        let pool_fits = |freed: &Freed| {
            status.pending + status.queued - freed.count < max_count
                && self.bytes - freed.bytes + new.size <= max_bytes
        };
        let mut freed = Freed::default();
        self.evict_until(new, true, &mut freed, queue_fits)?;
        self.evict_until(new, false, &mut freed, pool_fits)?;
        Some(freed.victims)
    }

    /// Adds to `freed` the cheapest transactions of senders other than `new`'s (queued ones
    /// only with `queued_only`), from the end of each sender's nonces, until `fits` holds.
    /// `None` once the next candidate pays as much as `new`, or none is left.
    fn evict_until(
        &self,
        new: &PooledTx,
        queued_only: bool,
        freed: &mut Freed,
        fits: impl Fn(&Freed) -> bool,
    ) -> Option<()> {
        if fits(freed) {
            return Some(());
        }
        let sender = new.tx.signer();
        let price = new.tx.priority_fee_or_price();
        // Each other sender's live transactions from its highest nonce down, marked queued,
        // without those already chosen.
        let mut stacks: Vec<Vec<(&Arc<PooledTx>, bool)>> = self
            .senders
            .iter()
            .filter(|(address, _)| **address != sender)
            .map(|(_, txs)| {
                let pending = txs.cached_pending;
                txs.txs
                    .range(txs.state_nonce..)
                    .enumerate()
                    .map(|(index, (_, tx))| (tx, index >= pending))
                    .filter(|(tx, queued)| {
                        (*queued || !queued_only) && !freed.victims.contains(&tx.hash)
                    })
                    .collect()
            })
            .collect();
        let mut heap: BinaryHeap<Reverse<(u128, usize)>> = stacks
            .iter()
            .enumerate()
            .filter_map(|(i, stack)| {
                let (tx, _) = stack.last()?;
                Some(Reverse((tx.tx.priority_fee_or_price(), i)))
            })
            .collect();
        while !fits(freed) {
            let Reverse((victim_price, i)) = heap.pop()?;
            if victim_price >= price {
                return None;
            }
            let (tx, queued) = stacks[i].pop()?;
            freed.count += 1;
            freed.bytes += tx.size;
            if queued {
                freed.queued_count += 1;
                freed.queued_bytes += tx.size;
            }
            freed.victims.push(tx.hash);
            if let Some((next, _)) = stacks[i].last() {
                heap.push(Reverse((next.tx.priority_fee_or_price(), i)));
            }
        }
        Some(())
    }
}

/// What a set of evictions frees.
#[derive(Debug, Default)]
struct Freed {
    victims: Vec<B256>,
    count: usize,
    bytes: usize,
    queued_count: usize,
    queued_bytes: usize,
}

/// Sizes of the sub-pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStatus {
    /// Transactions ready for the next block.
    pub pending: usize,
    /// Transactions waiting for a nonce gap to fill.
    pub queued: usize,
}

/// Pooled transactions by sender, then nonce (the shape of geth's `txpool_content`).
pub type SenderTransactions = BTreeMap<Address, BTreeMap<u64, Recovered<OpTxEnvelope>>>;

/// A snapshot of the pool's transactions, split into the sub-pools.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolContent {
    /// Transactions ready for the next block, by sender and nonce.
    pub pending: SenderTransactions,
    /// Transactions waiting for a nonce gap to fill, by sender and nonce.
    pub queued: SenderTransactions,
}

/// The transaction pool.
#[derive(Debug)]
pub struct TxPool {
    pub(crate) inner: Mutex<Inner>,
    config: PoolConfig,
    chain_id: u64,
}

impl TxPool {
    /// An empty pool for `chain_id`. Its gauges read zero from now on (a metrics recorder
    /// installed later sees them at the first change).
    pub fn new(config: PoolConfig, chain_id: u64) -> Self {
        let inner = Inner::default();
        inner.publish_metrics();
        Self {
            inner: Mutex::new(inner),
            config,
            chain_id,
        }
    }

    /// The pool's configuration.
    pub const fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Validates raw EIP-2718 bytes against `state` and adds the transaction. Returns its hash.
    pub fn add_raw(&self, raw: &[u8], state: &impl PoolState) -> Result<B256, PoolError> {
        let tx = decode_and_check(raw, &self.config, self.chain_id, state.block_gas_limit())?;
        let hash = tx.tx_hash();
        if self.inner.lock().by_hash.contains_key(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        if tx.max_fee_per_gas() < u128::from(state.min_base_fee()) {
            return Err(PoolError::Underpriced);
        }
        let sender = tx.signer();
        let (state_nonce, balance) = state.account(&sender).map_err(PoolError::State)?;
        if tx.nonce() < state_nonce {
            return Err(PoolError::NonceTooLow);
        }
        if tx.nonce() - state_nonce > self.config.max_nonce_gap {
            return Err(PoolError::NonceTooHigh {
                nonce: tx.nonce(),
                state_nonce,
                max_gap: self.config.max_nonce_gap,
            });
        }
        let l1_info = state.l1_block_info().map_err(PoolError::State)?;
        let extra = additional_cost(&l1_info, raw, tx.gas_limit(), state.spec());
        let max_cost = U256::from(tx.gas_limit())
            .saturating_mul(U256::from(tx.max_fee_per_gas()))
            .saturating_add(tx.value())
            .saturating_add(extra);
        if max_cost > balance {
            return Err(PoolError::InsufficientFunds);
        }
        let mut inner = self.inner.lock();
        // The sender's other transactions must stay payable too (as geth checks): a balance
        // that covers one transaction does not cover sixteen.
        let committed = inner
            .senders
            .get(&sender)
            .map_or(U256::ZERO, |txs| txs.cost_except(state_nonce, tx.nonce()));
        if committed.saturating_add(max_cost) > balance {
            return Err(PoolError::InsufficientFunds);
        }
        let inserted = self.insert(
            &mut inner,
            PooledTx {
                tx,
                hash,
                added: Instant::now(),
                size: raw.len(),
                cost: max_cost,
            },
            state_nonce,
        );
        // Even a refused replacement may have dropped stale nonces.
        inner.publish_metrics();
        inserted.map(|()| hash)
    }

    fn insert(&self, inner: &mut Inner, new: PooledTx, state_nonce: u64) -> Result<(), PoolError> {
        let sender_address = new.tx.signer();
        let nonce = new.nonce();
        inner.set_state_nonce(&sender_address, state_nonce);
        let entry = inner.senders.entry(sender_address).or_default();
        let stale: Vec<B256> = entry
            .txs
            .range(..state_nonce)
            .map(|(_, tx)| tx.hash)
            .collect();
        let replaced = entry.txs.get(&nonce).cloned();
        let sender_count = entry.txs.len();
        for hash in stale {
            inner.remove(&hash);
        }

        if let Some(old) = replaced {
            let bump = |old: u128| old.saturating_mul(100 + self.config.price_bump_percent) / 100;
            let old_tip = old
                .tx
                .max_priority_fee_per_gas()
                .unwrap_or_else(|| old.tx.max_fee_per_gas());
            let new_tip = new
                .tx
                .max_priority_fee_per_gas()
                .unwrap_or_else(|| new.tx.max_fee_per_gas());
            if new.tx.max_fee_per_gas() < bump(old.tx.max_fee_per_gas()) || new_tip < bump(old_tip)
            {
                return Err(PoolError::ReplacementUnderpriced);
            }
            inner.remove(&old.hash);
        } else {
            if sender_count >= self.config.max_account_slots && nonce != state_nonce {
                return Err(PoolError::SenderLimit(sender_count));
            }
            let is_queued = nonce
                > state_nonce
                    + inner
                        .senders
                        .get(&sender_address)
                        .map_or(0, |s| s.pending_count() as u64);
            let victims = inner
                .victims_for(&new, is_queued, &self.config)
                .ok_or(PoolError::PoolFull)?;
            for victim in victims {
                inner.remove(&victim);
            }
        }
        inner.set_state_nonce(&sender_address, state_nonce);
        inner.add(Arc::new(new));
        Ok(())
    }

    /// Pending transactions in the order a block should take them, at `base_fee`.
    pub fn best_transactions(&self, base_fee: u64) -> BestPoolTransactions<'_> {
        BestPoolTransactions::new(self, base_fee)
    }

    /// Removes transactions the block builder found invalid.
    pub fn remove(&self, hashes: &[B256]) {
        let mut inner = self.inner.lock();
        for hash in hashes {
            inner.remove(hash);
        }
        inner.publish_metrics();
    }

    /// Brings the pool up to date after a block: for every sender of the block, drops the
    /// transactions its new state nonce has mined or made stale; expires queued transactions
    /// that waited longer than the lifetime.
    pub fn on_block(&self, senders: &[Address], state: &impl PoolState) {
        let mut inner = self.inner.lock();
        for sender in senders {
            let Ok((nonce, _)) = state.account(sender) else {
                continue;
            };
            if !inner.senders.contains_key(sender) {
                continue;
            }
            inner.set_state_nonce(sender, nonce);
            let mined: Vec<B256> = inner.senders[sender]
                .txs
                .range(..nonce)
                .map(|(_, tx)| tx.hash)
                .collect();
            for hash in mined {
                inner.remove(&hash);
            }
        }
        let lifetime = self.config.queued_lifetime;
        let expired: Vec<B256> = inner
            .senders
            .values()
            .flat_map(|sender| {
                let pending = sender.pending_count();
                sender
                    .txs
                    .values()
                    .skip(pending)
                    .filter(|tx| tx.added.elapsed() > lifetime)
                    .map(|tx| tx.hash)
            })
            .collect();
        for hash in expired {
            inner.remove(&hash);
        }
        inner.publish_metrics();
    }

    /// The next nonce of `sender` counting its pending transactions (`eth_getTransactionCount`
    /// with the `pending` tag), given its state nonce.
    pub fn pending_nonce(&self, sender: &Address, state_nonce: u64) -> u64 {
        let inner = self.inner.lock();
        let Some(entry) = inner.senders.get(sender) else {
            return state_nonce;
        };
        let start = state_nonce.max(entry.state_nonce);
        let mut next = start;
        while entry.txs.contains_key(&next) {
            next += 1;
        }
        next
    }

    /// A pooled transaction by hash.
    pub fn get(&self, hash: &B256) -> Option<Recovered<OpTxEnvelope>> {
        self.inner.lock().by_hash.get(hash).map(|tx| tx.tx.clone())
    }

    /// Sizes of the sub-pools.
    pub fn status(&self) -> PoolStatus {
        self.inner.lock().counts()
    }

    /// Every pooled transaction by sender and nonce, split into pending and queued.
    pub fn content(&self) -> PoolContent {
        self.content_where(|_| true)
    }

    /// The pooled transactions of `sender` alone, split into pending and queued.
    pub fn content_from(&self, sender: &Address) -> PoolContent {
        self.content_where(|address| address == sender)
    }

    fn content_where(&self, wanted: impl Fn(&Address) -> bool) -> PoolContent {
        let inner = self.inner.lock();
        let mut content = PoolContent::default();
        for (address, sender) in inner.senders.iter().filter(|(address, _)| wanted(address)) {
            let pending = sender.cached_pending;
            // Nonces below the state nonce were mined and wait for `on_block` to drop them.
            for (index, (nonce, tx)) in sender.txs.range(sender.state_nonce..).enumerate() {
                let pool = if index < pending {
                    &mut content.pending
                } else {
                    &mut content.queued
                };
                pool.entry(*address)
                    .or_default()
                    .insert(*nonce, tx.tx.clone());
            }
        }
        content
    }
}

#[cfg(test)]
mod tests;
