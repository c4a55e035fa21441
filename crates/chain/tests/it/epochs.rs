//! `L1Epochs` against a `MemoryL1`: when the sequencer stays on its L1 origin, when it moves to
//! the next one, which block carries the new epoch's deposits, the max sequencer drift, and L1
//! failures.

use crate::common::{PORTAL, deposit_log, dev_spec, open_chain};
use alloy_primitives::{Address, U256};
use ol_chain::{
    Chain, ChainError, CommittedBlock, EpochSource, L1Epochs, NextBlock,
    derivation::BatchTransactions,
};
use ol_l1::{
    L1BlockRef, L1View,
    test_utils::{MEMORY_L1_GENESIS_TIME as T0, MemoryL1},
    user_deposit_source_hash,
};
use std::sync::Arc;
use tokio::sync::watch;

const L1_CHAIN_ID: u64 = 900;

/// A dev chain whose genesis is anchored at the `MemoryL1`'s block 0, with deposits read from
/// [`PORTAL`] and the max sequencer drift given.
fn anchored_chain(l1: &MemoryL1, max_drift: u64) -> (tempfile::TempDir, Arc<Chain>) {
    let genesis = l1.block(0).expect("L1 genesis");
    let mut spec = dev_spec(genesis.timestamp);
    spec.rollup.genesis.l1 = genesis.id();
    spec.rollup.deposit_contract_address = PORTAL;
    spec.rollup.max_sequencer_drift = max_drift;
    let dir = tempfile::tempdir().expect("temp dir");
    let chain = open_chain(dir.path(), &spec);
    (dir, chain)
}

/// The watcher's view with `head` as the confirmed L1 head.
fn view(head: L1BlockRef) -> L1View {
    L1View {
        head: Some(head),
        latest: Some(head),
        ..L1View::default()
    }
}

/// The next block after the chain's head at `timestamp`.
async fn next(
    epochs: &L1Epochs<Arc<MemoryL1>>,
    chain: &Chain,
    timestamp: u64,
) -> Result<NextBlock, ChainError> {
    let head = chain.head();
    epochs
        .next_block(chain, &head, &chain.head_l1_info(), timestamp)
        .await
}

/// Commits `next` on the head with no user transactions.
fn commit(chain: &Chain, next: &NextBlock) -> CommittedBlock {
    chain
        .build_and_commit(
            &chain.head(),
            &next.attributes,
            &mut BatchTransactions::new(Vec::new()),
        )
        .expect("the block commits")
}

/// Origin number, sequence number and number of user deposits of `next`.
fn shape(next: &NextBlock) -> (u64, u64, usize) {
    let info = &next.attributes.l1_info;
    (
        info.origin.number,
        info.sequence_number,
        next.attributes.deposits.len(),
    )
}

#[tokio::test]
async fn stays_until_the_next_l1_block_is_confirmed_and_due_then_carries_its_deposits_once() {
    let l1 = Arc::new(MemoryL1::new(L1_CHAIN_ID));
    let (_dir, chain) = anchored_chain(&l1, 1800);
    let genesis_l1 = l1.block(0).unwrap();
    let (from, alice, bob) = (
        Address::repeat_byte(0xd0),
        Address::repeat_byte(0xa1),
        Address::repeat_byte(0xb0),
    );
    let mut elsewhere = deposit_log(from, bob, 1_000);
    elsewhere.address = Address::repeat_byte(0x43);
    let b1 = l1.mine_with(vec![
        deposit_log(from, alice, 7),
        elsewhere,
        deposit_log(from, bob, 9),
    ]);
    assert_eq!(b1.timestamp, T0 + 12);
    let (view_tx, view_rx) = watch::channel(view(genesis_l1));
    let epochs = L1Epochs::new(l1.clone(), view_rx);

    // L1 block 1 is due at T0 + 12 but not confirmed yet: stay on the genesis origin.
    let unconfirmed = next(&epochs, &chain, T0 + 12).await.unwrap();
    assert_eq!(shape(&unconfirmed), (0, 1, 0));
    assert_eq!(unconfirmed.attributes.l1_info.origin.hash, genesis_l1.hash);
    assert!(unconfirmed.include_transactions);

    // Confirmed, but one second ahead of the L2 clock: stay.
    view_tx.send_replace(view(b1));
    let early = next(&epochs, &chain, T0 + 11).await.unwrap();
    assert_eq!(shape(&early), (0, 1, 0));
    assert!(early.include_transactions);
    commit(&chain, &early);
    assert_eq!(chain.head_l1_info().sequence_number, 1);

    // Due and confirmed: a new epoch, whose first block carries its two portal deposits.
    let first = next(&epochs, &chain, T0 + 12).await.unwrap();
    assert_eq!(shape(&first), (1, 0, 2));
    assert!(first.include_transactions);
    let origin = &first.attributes.l1_info.origin;
    assert_eq!((origin.hash, origin.timestamp), (b1.hash, b1.timestamp));
    assert_eq!(origin.base_fee, 1_000_000_000);
    let deposits = &first.attributes.deposits;
    assert_eq!(
        deposits
            .iter()
            .map(|d| (d.from, d.to.to().copied(), d.mint, d.value, d.gas_limit))
            .collect::<Vec<_>>(),
        [
            (from, Some(alice), 7, U256::from(7), 100_000),
            (from, Some(bob), 9, U256::from(9), 100_000)
        ]
    );
    assert_eq!(
        deposits.iter().map(|d| d.source_hash).collect::<Vec<_>>(),
        [
            user_deposit_source_hash(b1.hash, 0),
            user_deposit_source_hash(b1.hash, 2)
        ]
    );
    let committed = commit(&chain, &first);
    assert_eq!(committed.deposits, 3, "L1 info and two user deposits");
    let balance = |who| chain.storage().account(&who).unwrap().map(|a| a.balance);
    assert_eq!(balance(alice), Some(U256::from(7)));
    assert_eq!(balance(bob), Some(U256::from(9)));

    // The rest of the epoch: same origin, counting up, no deposits again.
    for (timestamp, sequence_number) in [(T0 + 13, 1), (T0 + 14, 2)] {
        let later = next(&epochs, &chain, timestamp).await.unwrap();
        assert_eq!(shape(&later), (1, sequence_number, 0));
        assert_eq!(later.attributes.l1_info.origin.hash, b1.hash);
        commit(&chain, &later);
    }
    assert_eq!(chain.head().number, 4);
    assert_eq!(balance(alice), Some(U256::from(7)), "minted once");
}

#[tokio::test]
async fn past_the_drift_blocks_are_empty_with_the_next_l1_block_known_and_refused_without() {
    let l1 = Arc::new(MemoryL1::new(L1_CHAIN_ID));
    let (_dir, chain) = anchored_chain(&l1, 5);
    let genesis_l1 = l1.block(0).unwrap();
    let (view_tx, view_rx) = watch::channel(view(genesis_l1));
    let epochs = L1Epochs::new(l1.clone(), view_rx);

    // At the drift limit, transactions are still allowed.
    let at_limit = next(&epochs, &chain, T0 + 5).await.unwrap();
    assert_eq!(shape(&at_limit), (0, 1, 0));
    assert!(at_limit.include_transactions);
    commit(&chain, &at_limit);

    // One second past it with no next L1 block: no block can be built.
    let no_next = next(&epochs, &chain, T0 + 6).await;
    match no_next {
        Err(ChainError::NoOrigin(reason)) => {
            assert!(reason.contains("more than 5s past"), "{reason}");
        }
        other => panic!("expected NoOrigin, got {other:?}"),
    }
    // A next block that exists but is not confirmed does not count.
    let b1 = l1.mine(1);
    assert!(matches!(
        next(&epochs, &chain, T0 + 6).await,
        Err(ChainError::NoOrigin(_))
    ));

    // Confirmed and still ahead of the L2 clock: the block stays on the origin, empty.
    view_tx.send_replace(view(b1));
    let past = next(&epochs, &chain, T0 + 6).await.unwrap();
    assert_eq!(shape(&past), (0, 2, 0));
    assert!(!past.include_transactions);
    commit(&chain, &past);

    // L1 unreachable past the drift: the next block is unknown again, so it is refused.
    l1.fail_next(5);
    assert!(matches!(
        next(&epochs, &chain, T0 + 7).await,
        Err(ChainError::NoOrigin(_))
    ));
    l1.fail_next(0);

    // Once the L2 clock reaches the next L1 block, the epoch advances and may hold transactions.
    let advanced = next(&epochs, &chain, T0 + 12).await.unwrap();
    assert_eq!(shape(&advanced), (1, 0, 0));
    assert!(advanced.include_transactions);
}

#[tokio::test]
async fn l1_failures_within_the_epoch_keep_producing_on_the_cached_origin() {
    let l1 = Arc::new(MemoryL1::new(L1_CHAIN_ID));
    let (_dir, chain) = anchored_chain(&l1, 1800);
    let b1 = l1.mine_with(vec![deposit_log(
        Address::repeat_byte(0xd0),
        Address::repeat_byte(0xa1),
        3,
    )]);
    let (_view_tx, view_rx) = watch::channel(view(b1));
    let epochs = L1Epochs::new(l1.clone(), view_rx);

    commit(&chain, &next(&epochs, &chain, T0 + 1).await.unwrap());

    l1.fail_next(u32::MAX);
    let calls = l1.calls();
    let cached = next(&epochs, &chain, T0 + 2).await.unwrap();
    assert_eq!(shape(&cached), (0, 2, 0));
    assert!(cached.include_transactions);
    commit(&chain, &cached);
    // Due to advance, but L1 cannot say what comes next: stay, still with transactions.
    let stuck = next(&epochs, &chain, T0 + 12).await.unwrap();
    assert_eq!(shape(&stuck), (0, 3, 0));
    assert!(stuck.include_transactions);
    commit(&chain, &stuck);
    assert!(l1.calls() > calls, "L1 was asked and failed");

    // Without the cached epoch, the current origin cannot be read at all.
    let (_fresh_tx, fresh_rx) = watch::channel(view(b1));
    let fresh = L1Epochs::new(l1.clone(), fresh_rx);
    assert!(matches!(
        next(&fresh, &chain, T0 + 13).await,
        Err(ChainError::Derive(_))
    ));

    // L1 answers again: the epoch advances with its deposit.
    l1.fail_next(0);
    let advanced = next(&epochs, &chain, T0 + 13).await.unwrap();
    assert_eq!(shape(&advanced), (1, 0, 1));
    assert_eq!(advanced.attributes.deposits[0].mint, 3);
}

#[tokio::test]
async fn an_l1_reorg_under_the_current_origin_is_reported() {
    let l1 = Arc::new(MemoryL1::new(L1_CHAIN_ID));
    let (_dir, chain) = anchored_chain(&l1, 1800);
    let b1 = l1.mine(1);
    let (view_tx, view_rx) = watch::channel(view(b1));
    let epochs = L1Epochs::new(l1.clone(), view_rx);
    let first = next(&epochs, &chain, T0 + 12).await.unwrap();
    assert_eq!(shape(&first), (1, 0, 0));
    commit(&chain, &first);

    let new_head = l1.reorg(1, 2);
    assert_ne!(l1.block(1).unwrap().hash, b1.hash);
    view_tx.send_replace(view(new_head));
    assert!(matches!(
        next(&epochs, &chain, T0 + 24).await,
        Err(ChainError::L1Reorged(_))
    ));
    // A next block that is not the origin's child is reported whatever the L2 time.
    assert!(matches!(
        next(&epochs, &chain, T0 + 13).await,
        Err(ChainError::L1Reorged(_))
    ));
}
