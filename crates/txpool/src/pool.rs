//! The pool itself: per-sender nonce-ordered transactions, pending and queued.

use crate::{BestPoolTransactions, PoolConfig, PoolError, validate::decode_and_check};
use alloy_consensus::{Transaction, transaction::Recovered};
use alloy_primitives::{Address, B256, U256};
use ol_evm::{OpSpecId, l1_fee::additional_cost};
use ol_primitives::{L1BlockInfo, OpTxEnvelope};
use parking_lot::Mutex;
use std::{
    collections::{BTreeMap, HashMap},
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
}

#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub(crate) by_hash: HashMap<B256, Arc<PooledTx>>,
    pub(crate) senders: HashMap<Address, SenderTxs>,
    /// Sum of the pooled transactions' sizes.
    bytes: usize,
    /// Sum of the senders' cached pending counts.
    pending_total: usize,
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
        let previous = sender.cached_pending;
        sender.cached_pending = sender.pending_count();
        self.pending_total = self.pending_total - previous + sender.cached_pending;
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

    /// The cheapest transaction of another sender, taken from the end of its nonce run so that
    /// evicting it opens no gap.
    fn cheapest_evictable(&self, except: &Address) -> Option<(u128, B256)> {
        self.senders
            .iter()
            .filter(|(address, _)| *address != except)
            .filter_map(|(_, sender)| sender.txs.values().next_back())
            .map(|tx| (tx.tx.priority_fee_or_price(), tx.hash))
            .min()
    }
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
        let inserted = self.insert(
            &mut inner,
            PooledTx {
                tx,
                hash,
                added: Instant::now(),
                size: raw.len(),
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
            let status = inner.counts();
            let full = status.pending + status.queued
                >= self
                    .config
                    .pending_max_count
                    .saturating_add(self.config.queued_max_count);
            let is_queued = nonce
                > state_nonce
                    + inner
                        .senders
                        .get(&sender_address)
                        .map_or(0, |s| s.pending_count() as u64);
            if full || (is_queued && status.queued >= self.config.queued_max_count) {
                match inner.cheapest_evictable(&sender_address) {
                    Some((price, victim)) if price < new.tx.priority_fee_or_price() => {
                        inner.remove(&victim);
                    }
                    _ => return Err(PoolError::PoolFull),
                }
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
        let inner = self.inner.lock();
        let mut content = PoolContent::default();
        for (address, sender) in &inner.senders {
            let pending = sender.pending_count();
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
mod tests {
    use super::*;
    use crate::PoolConfig;
    use alloy_consensus::{SignableTransaction, TxEip1559};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_primitives::{Bytes, TxKind};
    use alloy_signer::SignerSync;
    use alloy_signer_local::PrivateKeySigner;
    use ol_evm::BestTransactions;
    use ol_primitives::{L1Origin, SystemConfig};
    use std::{collections::HashMap, time::Duration};

    const CHAIN_ID: u64 = 7;

    /// A fixed state: every account has a large balance and the nonces set here.
    #[derive(Default)]
    struct FixedState {
        nonces: Mutex<HashMap<Address, u64>>,
        balance: U256,
    }

    impl PoolState for FixedState {
        fn account(&self, address: &Address) -> Result<(u64, U256), String> {
            Ok((
                self.nonces.lock().get(address).copied().unwrap_or_default(),
                self.balance,
            ))
        }
        fn l1_block_info(&self) -> Result<L1BlockInfo, String> {
            Ok(L1BlockInfo::new(
                L1Origin {
                    base_fee: 1_000_000_000,
                    blob_base_fee: 1,
                    ..Default::default()
                },
                0,
                &SystemConfig::default(),
            ))
        }
        fn spec(&self) -> OpSpecId {
            OpSpecId::JOVIAN
        }
        fn block_gas_limit(&self) -> u64 {
            30_000_000
        }
        fn min_base_fee(&self) -> u64 {
            1_000
        }
    }

    fn rich() -> FixedState {
        FixedState {
            balance: U256::from(10u128.pow(24)),
            ..Default::default()
        }
    }

    fn signer(seed: u8) -> PrivateKeySigner {
        PrivateKeySigner::from_bytes(&B256::repeat_byte(seed)).unwrap()
    }

    fn raw(signer: &PrivateKeySigner, nonce: u64, max_fee: u128, tip: u128) -> Vec<u8> {
        let tx = TxEip1559 {
            chain_id: CHAIN_ID,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(Address::repeat_byte(9)),
            value: U256::from(1),
            access_list: Default::default(),
            input: Bytes::new(),
        };
        let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
        OpTxEnvelope::Eip1559(tx.into_signed(signature)).encoded_2718()
    }

    fn drain(pool: &TxPool, base_fee: u64) -> Vec<(Address, u64)> {
        let mut best = pool.best_transactions(base_fee);
        std::iter::from_fn(|| best.next_transaction())
            .map(|tx| (tx.signer(), tx.nonce()))
            .collect()
    }

    /// The sub-pool sizes recounted from scratch.
    fn recount(pool: &TxPool) -> PoolStatus {
        let inner = pool.inner.lock();
        let pending = inner.senders.values().map(SenderTxs::pending_count).sum();
        PoolStatus {
            pending,
            queued: inner.by_hash.len() - pending,
        }
    }

    #[test]
    fn cached_sizes_match_a_recount_through_gaps_replacements_blocks_and_expiry() {
        let pool = TxPool::new(
            PoolConfig {
                queued_lifetime: Duration::from_millis(1),
                ..PoolConfig::default()
            },
            CHAIN_ID,
        );
        let state = rich();
        let signers: Vec<_> = (1..=4).map(signer).collect();
        // A deterministic mix: gaps, fills, replacements, and blocks that mine some nonces.
        for step in 0u64..60 {
            let who = &signers[(step % 4) as usize];
            let nonce = (step * 7) % 9;
            let fee = 2_000_000_000 + u128::from(step) * 300_000_000;
            let _ = pool.add_raw(&raw(who, nonce, fee, fee / 2), &state);
            assert_eq!(pool.status(), recount(&pool), "after adding at step {step}");
            if step % 10 == 9 {
                let mined = who.address();
                let next = state.nonces.lock().get(&mined).copied().unwrap_or_default() + 2;
                state.nonces.lock().insert(mined, next);
                pool.on_block(&[mined], &state);
                assert_eq!(
                    pool.status(),
                    recount(&pool),
                    "after a block at step {step}"
                );
            }
        }
        // The builder drops a transaction in the middle of a pending run: its followers queue.
        let content = pool.content();
        let (_, run) = content
            .pending
            .iter()
            .find(|(_, run)| run.len() >= 2)
            .expect("some sender has a pending run");
        let first = run.values().next().expect("a pending transaction");
        pool.remove(&[first.inner().tx_hash()]);
        assert_eq!(
            pool.status(),
            recount(&pool),
            "after removing a pending transaction"
        );
        std::thread::sleep(Duration::from_millis(5));
        pool.on_block(&[], &state);
        assert_eq!(pool.status(), recount(&pool), "after expiry");
        assert_eq!(pool.status().queued, 0, "queued transactions expired");
    }

    #[test]
    fn a_nonce_gap_waits_in_the_queue_until_filled() {
        let pool = TxPool::new(PoolConfig::default(), CHAIN_ID);
        let state = rich();
        let alice = signer(1);
        pool.add_raw(&raw(&alice, 1, 10_000, 10), &state).unwrap();
        assert_eq!(
            pool.status(),
            PoolStatus {
                pending: 0,
                queued: 1
            }
        );
        assert!(drain(&pool, 1_000).is_empty());
        pool.add_raw(&raw(&alice, 0, 10_000, 10), &state).unwrap();
        assert_eq!(
            pool.status(),
            PoolStatus {
                pending: 2,
                queued: 0
            }
        );
        assert_eq!(
            drain(&pool, 1_000),
            vec![(alice.address(), 0), (alice.address(), 1)]
        );
        assert_eq!(pool.pending_nonce(&alice.address(), 0), 2);
    }

    #[test]
    fn best_orders_senders_by_tip_and_each_sender_by_nonce() {
        let pool = TxPool::new(PoolConfig::default(), CHAIN_ID);
        let state = rich();
        let (low, high) = (signer(1), signer(2));
        pool.add_raw(&raw(&low, 0, 10_000, 5), &state).unwrap();
        pool.add_raw(&raw(&high, 0, 10_000, 50), &state).unwrap();
        pool.add_raw(&raw(&high, 1, 10_000, 1), &state).unwrap();
        assert_eq!(
            drain(&pool, 1_000),
            vec![(high.address(), 0), (low.address(), 0), (high.address(), 1)]
        );
        // A transaction that cannot pay the base fee is not offered.
        assert!(drain(&pool, 20_000).is_empty());
    }

    #[test]
    fn replacement_needs_a_ten_percent_bump_of_both_fees() {
        let pool = TxPool::new(PoolConfig::default(), CHAIN_ID);
        let state = rich();
        let alice = signer(1);
        let first = raw(&alice, 0, 10_000, 100);
        pool.add_raw(&first, &state).unwrap();
        assert_eq!(pool.add_raw(&first, &state), Err(PoolError::AlreadyKnown));
        assert_eq!(
            pool.add_raw(&raw(&alice, 0, 10_999, 110), &state),
            Err(PoolError::ReplacementUnderpriced)
        );
        assert_eq!(
            pool.add_raw(&raw(&alice, 0, 11_000, 109), &state),
            Err(PoolError::ReplacementUnderpriced)
        );
        let hash = pool.add_raw(&raw(&alice, 0, 11_000, 110), &state).unwrap();
        assert_eq!(pool.status().pending, 1);
        assert!(pool.get(&hash).is_some());
    }

    #[test]
    fn nonce_too_low_and_insufficient_funds_are_refused() {
        let pool = TxPool::new(PoolConfig::default(), CHAIN_ID);
        let state = rich();
        let alice = signer(1);
        state.nonces.lock().insert(alice.address(), 3);
        assert_eq!(
            pool.add_raw(&raw(&alice, 2, 10_000, 1), &state),
            Err(PoolError::NonceTooLow)
        );
        let poor = FixedState::default();
        assert_eq!(
            pool.add_raw(&raw(&alice, 3, 10_000, 1), &poor),
            Err(PoolError::InsufficientFunds)
        );
        assert_eq!(
            pool.add_raw(&raw(&alice, 3, 999, 1), &state),
            Err(PoolError::Underpriced)
        );
        assert_eq!(pool.status(), PoolStatus::default());
    }

    #[test]
    fn sender_slots_are_limited_and_a_full_pool_evicts_the_cheapest() {
        let config = PoolConfig {
            max_account_slots: 2,
            pending_max_count: 2,
            queued_max_count: 1,
            ..Default::default()
        };
        let pool = TxPool::new(config, CHAIN_ID);
        let state = rich();
        let (alice, bob, carol) = (signer(1), signer(2), signer(3));
        pool.add_raw(&raw(&alice, 0, 10_000, 1), &state).unwrap();
        pool.add_raw(&raw(&alice, 1, 10_000, 1), &state).unwrap();
        assert_eq!(
            pool.add_raw(&raw(&alice, 2, 10_000, 1), &state),
            Err(PoolError::SenderLimit(2))
        );
        pool.add_raw(&raw(&bob, 0, 10_000, 5), &state).unwrap();
        // Full at 3: a cheaper transaction is refused, a dearer one evicts alice's last nonce.
        assert_eq!(
            pool.add_raw(&raw(&carol, 0, 10_000, 1), &state),
            Err(PoolError::PoolFull)
        );
        pool.add_raw(&raw(&carol, 0, 10_000, 9), &state).unwrap();
        assert_eq!(pool.status().pending + pool.status().queued, 3);
        assert_eq!(pool.pending_nonce(&alice.address(), 0), 1);
    }

    #[test]
    fn on_block_removes_mined_nonces_and_promotes_the_rest() {
        let pool = TxPool::new(PoolConfig::default(), CHAIN_ID);
        let state = rich();
        let alice = signer(1);
        for nonce in 0..3 {
            pool.add_raw(&raw(&alice, nonce, 10_000, 1), &state)
                .unwrap();
        }
        state.nonces.lock().insert(alice.address(), 2);
        pool.on_block(&[alice.address()], &state);
        assert_eq!(
            pool.status(),
            PoolStatus {
                pending: 1,
                queued: 0
            }
        );
        assert_eq!(drain(&pool, 1_000), vec![(alice.address(), 2)]);
    }

    #[test]
    fn content_splits_pending_and_queued_by_sender_and_nonce() {
        let pool = TxPool::new(PoolConfig::default(), CHAIN_ID);
        let state = rich();
        let (alice, bob) = (signer(1), signer(2));
        pool.add_raw(&raw(&alice, 0, 10_000, 1), &state).unwrap();
        pool.add_raw(&raw(&alice, 1, 10_000, 1), &state).unwrap();
        pool.add_raw(&raw(&alice, 3, 10_000, 1), &state).unwrap();
        pool.add_raw(&raw(&bob, 2, 10_000, 1), &state).unwrap();
        let content = pool.content();
        let nonces = |pool: &SenderTransactions, who: &PrivateKeySigner| {
            pool.get(&who.address())
                .map(|txs| txs.keys().copied().collect::<Vec<_>>())
                .unwrap_or_default()
        };
        assert_eq!(nonces(&content.pending, &alice), vec![0, 1]);
        assert_eq!(nonces(&content.queued, &alice), vec![3]);
        assert_eq!(nonces(&content.pending, &bob), Vec::<u64>::new());
        assert_eq!(nonces(&content.queued, &bob), vec![2]);
        assert_eq!(content.pending[&alice.address()][&1].nonce(), 1);
    }

    #[test]
    fn queued_transactions_expire() {
        let config = PoolConfig {
            queued_lifetime: std::time::Duration::ZERO,
            ..Default::default()
        };
        let pool = TxPool::new(config, CHAIN_ID);
        let state = rich();
        let alice = signer(1);
        pool.add_raw(&raw(&alice, 0, 10_000, 1), &state).unwrap();
        pool.add_raw(&raw(&alice, 5, 10_000, 1), &state).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        pool.on_block(&[], &state);
        assert_eq!(
            pool.status(),
            PoolStatus {
                pending: 1,
                queued: 0
            }
        );
    }
}
