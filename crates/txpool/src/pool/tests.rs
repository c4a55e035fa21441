//! Unit tests of the pool: sizes, ordering, replacement, limits and eviction.

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

/// A transfer of `nonce` carrying `data_len` bytes of call data.
fn raw_with_data(signer: &PrivateKeySigner, nonce: u64, tip: u128, data_len: usize) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        // Enough for Prague's calldata floor (40 gas per non-zero byte).
        gas_limit: 21_000 + 64 * data_len as u64,
        max_fee_per_gas: 10_000,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(Address::repeat_byte(9)),
        value: U256::from(1),
        access_list: Default::default(),
        input: Bytes::from(vec![0xab; data_len]),
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    OpTxEnvelope::Eip1559(tx.into_signed(signature)).encoded_2718()
}

fn pooled_bytes(pool: &TxPool) -> usize {
    pool.inner.lock().bytes
}

#[test]
fn a_pool_at_its_byte_budget_evicts_cheaper_bytes_and_never_exceeds_it() {
    let config = PoolConfig {
        pending_max_bytes: 20_000,
        queued_max_bytes: 10_000,
        ..Default::default()
    };
    let budget = config.pending_max_bytes + config.queued_max_bytes;
    let pool = TxPool::new(config, CHAIN_ID);
    let state = rich();
    // Eight transactions of about 3.6 KB fit 30 KB; each later, dearer one evicts the cheapest.
    for seed in 1..=11u8 {
        let tx = raw_with_data(&signer(seed), 0, u128::from(seed), 3_500);
        pool.add_raw(&tx, &state)
            .unwrap_or_else(|err| panic!("sender {seed}: {err}"));
        assert!(
            pooled_bytes(&pool) <= budget,
            "over budget after sender {seed}"
        );
    }
    assert_eq!(pool.status().pending, 8);
    for evicted in 1..=3 {
        assert!(
            pool.content_from(&signer(evicted).address())
                .pending
                .is_empty()
        );
    }
    assert_eq!(pool.content_from(&signer(4).address()).pending.len(), 1);
    // A cheap transaction that would need evictions it cannot pay for changes nothing.
    let before = pool.content();
    let cheap = raw_with_data(&signer(40), 0, 1, 3_500);
    assert_eq!(pool.add_raw(&cheap, &state), Err(PoolError::PoolFull));
    assert_eq!(pool.content(), before);
    // One large transaction that pays more than several small ones evicts all of them.
    let big = raw_with_data(&signer(50), 0, 100, 12_000);
    pool.add_raw(&big, &state).unwrap();
    assert!(pooled_bytes(&pool) <= budget);
    assert_eq!(recount(&pool), pool.status());
}

#[test]
fn the_queue_has_its_own_byte_budget() {
    let config = PoolConfig {
        pending_max_bytes: 100_000,
        queued_max_bytes: 8_000,
        ..Default::default()
    };
    let pool = TxPool::new(config, CHAIN_ID);
    let state = rich();
    // Gapped (queued) transactions of 3.5 KB: two fit the queue, a cheaper third does not.
    pool.add_raw(&raw_with_data(&signer(1), 1, 5, 3_500), &state)
        .unwrap();
    pool.add_raw(&raw_with_data(&signer(2), 1, 5, 3_500), &state)
        .unwrap();
    assert_eq!(
        pool.add_raw(&raw_with_data(&signer(3), 1, 4, 3_500), &state),
        Err(PoolError::PoolFull)
    );
    // Pending transactions still fit: the queue's budget is not theirs.
    pool.add_raw(&raw_with_data(&signer(3), 0, 4, 3_500), &state)
        .unwrap();
    // A dearer queued one evicts a queued one.
    pool.add_raw(&raw_with_data(&signer(4), 1, 9, 3_500), &state)
        .unwrap();
    assert_eq!(pool.status().queued, 2);
    assert_eq!(pool.status().pending, 1);
}

#[test]
fn a_nonce_too_far_ahead_is_refused() {
    let config = PoolConfig {
        max_nonce_gap: 8,
        ..Default::default()
    };
    let pool = TxPool::new(config, CHAIN_ID);
    let state = rich();
    let alice = signer(1);
    state.nonces.lock().insert(alice.address(), 5);
    pool.add_raw(&raw(&alice, 13, 10_000, 1), &state).unwrap();
    let err = pool
        .add_raw(&raw(&alice, 14, 10_000, 1), &state)
        .unwrap_err();
    assert_eq!(
        err,
        PoolError::NonceTooHigh {
            nonce: 14,
            state_nonce: 5,
            max_gap: 8
        }
    );
    assert!(err.to_string().starts_with("nonce too high"), "{err}");
    assert_eq!(pool.status().queued, 1);
}

#[test]
fn a_senders_transactions_must_be_payable_together() {
    let pool = TxPool::new(PoolConfig::default(), CHAIN_ID);
    let alice = signer(1);
    // What one transaction can cost (gas, value and L1 fee), read from a pool that took it.
    let probe = TxPool::new(PoolConfig::default(), CHAIN_ID);
    let first = probe.add_raw(&raw(&alice, 0, 10_000, 1), &rich()).unwrap();
    let cost = probe.inner.lock().by_hash[&first].cost;
    // Enough for two such transactions and a 10% fee bump (21,000 gas × 1,000 wei), not three.
    let state = FixedState {
        balance: cost * U256::from(2) + U256::from(25_000_000u64),
        ..Default::default()
    };
    pool.add_raw(&raw(&alice, 0, 10_000, 1), &state).unwrap();
    pool.add_raw(&raw(&alice, 5, 10_000, 1), &state).unwrap();
    assert_eq!(
        pool.add_raw(&raw(&alice, 1, 10_000, 1), &state),
        Err(PoolError::InsufficientFunds)
    );
    // Replacing one of them is judged without the one it replaces.
    pool.add_raw(&raw(&alice, 5, 11_000, 2), &state).unwrap();
    assert_eq!(pool.status().pending + pool.status().queued, 2);
}
