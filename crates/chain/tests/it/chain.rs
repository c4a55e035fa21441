//! `Chain`: committing blocks on the head, refusing them, and the safe and finalized heads.

use crate::common::{
    GENESIS_TIME, RECIPIENT, commit_empty_blocks, dev_chain, dev_spec, open_chain, transfer,
};
use alloy_consensus::transaction::Recovered;
use alloy_primitives::{B256, U256};
use ol_chain::{Chain, ChainError, DevEpochs, derivation::BatchTransactions};
use ol_primitives::{L1BlockRef, addresses::DEPOSITOR_ACCOUNT, dev::dev_signer};
use ol_storage::DerivedHead;
use tokio::sync::broadcast::error::TryRecvError;

/// A source holding one transfer of 5 wei from dev account 1 with nonce 0.
fn one_transfer(chain: &Chain) -> (BatchTransactions, B256) {
    let signer = dev_signer(1);
    let tx = transfer(&signer, chain.chain_id(), 0, 5);
    let hash = tx.tx_hash();
    (
        BatchTransactions::new(vec![Recovered::new_unchecked(tx, signer.address())]),
        hash,
    )
}

fn derived(l2_number: u64, l1_number: u64) -> DerivedHead {
    DerivedHead {
        l2_number,
        derived_from: L1BlockRef {
            hash: B256::with_last_byte(l1_number as u8),
            number: l1_number,
        },
    }
}

#[test]
fn a_block_commits_on_the_head_and_becomes_the_head() {
    let (_dir, chain) = dev_chain();
    let mut events = chain.subscribe();
    let genesis = chain.head();
    let next = DevEpochs::next(&chain, &genesis, GENESIS_TIME + 1);
    let (mut source, hash) = one_transfer(&chain);
    let committed = chain
        .build_and_commit(&genesis, &next.attributes, &mut source)
        .unwrap();

    assert_eq!(committed.header.number, 1);
    assert_eq!(committed.header.parent_hash, genesis.hash());
    assert_eq!(committed.header.timestamp, GENESIS_TIME + 1);
    assert_eq!(committed.deposits, 1);
    assert_eq!(committed.user_transactions, 1);
    assert_eq!(
        committed.senders,
        [DEPOSITOR_ACCOUNT, dev_signer(1).address()]
    );
    assert_eq!(chain.head().hash(), committed.header.hash());
    assert_eq!(chain.head_l1_info(), next.attributes.l1_info);

    let storage = chain.storage();
    assert_eq!(
        storage.head_header().unwrap().hash(),
        committed.header.hash()
    );
    let body = storage.body(1).unwrap().unwrap();
    assert_eq!(body.transactions.len(), 2);
    assert_eq!(body.transactions[1].tx_hash(), hash);
    assert_eq!(
        storage.account(&RECIPIENT).unwrap().map(|a| a.balance),
        Some(U256::from(5))
    );
    assert_eq!(
        storage
            .account(&dev_signer(1).address())
            .unwrap()
            .map(|a| a.nonce),
        Some(1)
    );

    let announced = events.try_recv().unwrap();
    assert_eq!(announced.header.hash(), committed.header.hash());
    assert_eq!(announced.transactions.len(), 2);
    assert_eq!(announced.receipts.len(), 2);
}

#[test]
fn a_refused_block_leaves_head_storage_and_safe_head_unchanged() {
    let (_dir, chain) = dev_chain();
    commit_empty_blocks(&chain, 2);
    let safe = derived(1, 3);
    chain.set_safe_head(safe).unwrap();
    let mut events = chain.subscribe();
    let head = chain.head();
    let head_info = chain.head_l1_info();
    let next = DevEpochs::next(&chain, &head, head.timestamp + 1);
    let (mut source, hash) = one_transfer(&chain);

    let mut seen = None;
    let refused = chain
        .build_and_commit_if(&head, &next.attributes, &mut source, |built| {
            seen = Some(
                built
                    .transactions
                    .iter()
                    .map(|tx| tx.tx_hash())
                    .collect::<Vec<_>>(),
            );
            false
        })
        .unwrap();
    assert!(refused.is_none());
    // The block was built with the transfer in it, then refused.
    let seen = seen.expect("accept was asked");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1], hash);

    assert_eq!(chain.head().hash(), head.hash());
    assert_eq!(chain.head_l1_info(), head_info);
    let storage = chain.storage();
    assert_eq!(storage.head_header().unwrap().hash(), head.hash());
    assert!(storage.header_by_number(3).unwrap().is_none());
    assert!(storage.body(3).unwrap().is_none());
    assert_eq!(storage.account(&RECIPIENT).unwrap(), None);
    assert_eq!(
        storage
            .account(&dev_signer(1).address())
            .unwrap()
            .map(|a| a.nonce),
        Some(0)
    );
    assert_eq!(storage.safe_head().unwrap(), Some(safe));
    assert_eq!(chain.sync_heads().safe, Some(safe));
    assert!(matches!(events.try_recv(), Err(TryRecvError::Empty)));

    // The same block is accepted afterwards: the refusal was the only obstacle.
    let (mut source, _) = one_transfer(&chain);
    let committed = chain
        .build_and_commit_if(&head, &next.attributes, &mut source, |_| true)
        .unwrap()
        .expect("accepted");
    assert_eq!(committed.header.number, 3);
    assert_eq!(chain.head().hash(), committed.header.hash());
}

#[test]
fn building_on_a_block_that_is_not_the_head_is_refused() {
    let (_dir, chain) = dev_chain();
    let genesis = chain.head();
    commit_empty_blocks(&chain, 1);
    let head = chain.head();
    let next = DevEpochs::next(&chain, &genesis, GENESIS_TIME + 1);
    let (mut source, _) = one_transfer(&chain);

    match chain.build_and_commit(&genesis, &next.attributes, &mut source) {
        Err(ChainError::NotHead { parent: 0, head: 1 }) => {}
        other => panic!("expected NotHead {{ parent: 0, head: 1 }}, got {other:?}"),
    }
    let accepted = chain.build_and_commit_if(&genesis, &next.attributes, &mut source, |_| {
        panic!("nothing is built on a stale parent")
    });
    assert!(matches!(
        accepted,
        Err(ChainError::NotHead { parent: 0, head: 1 })
    ));
    assert_eq!(chain.head().hash(), head.hash());
    assert_eq!(chain.storage().head_header().unwrap().hash(), head.hash());
    assert!(chain.storage().header_by_number(2).unwrap().is_none());
    assert_eq!(chain.storage().account(&RECIPIENT).unwrap(), None);
}

#[test]
fn safe_and_finalized_heads_persist_and_the_safe_one_is_announced() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dev_spec(GENESIS_TIME);
    let (safe, finalized) = (derived(3, 9), derived(2, 7));
    {
        let chain = open_chain(dir.path(), &spec);
        commit_empty_blocks(&chain, 4);
        assert_eq!(chain.storage().safe_head().unwrap(), None);
        let mut safe_rx = chain.subscribe_safe();
        assert_eq!(*safe_rx.borrow(), 0);

        chain.set_safe_head(safe).unwrap();
        assert!(safe_rx.has_changed().unwrap());
        assert_eq!(*safe_rx.borrow_and_update(), 3);
        chain.set_finalized_head(finalized).unwrap();
        assert!(
            !safe_rx.has_changed().unwrap(),
            "finalizing does not touch the safe head"
        );
        let sync = chain.sync_heads();
        assert_eq!((sync.safe, sync.finalized), (Some(safe), Some(finalized)));
    }
    // Reopened from disk: both heads are back, and the safe number starts at the stored one.
    let chain = open_chain(dir.path(), &spec);
    assert_eq!(chain.head().number, 4);
    assert_eq!(chain.storage().safe_head().unwrap(), Some(safe));
    assert_eq!(chain.storage().finalized_head().unwrap(), Some(finalized));
    let sync = chain.sync_heads();
    assert_eq!((sync.safe, sync.finalized), (Some(safe), Some(finalized)));
    assert!(!sync.l1_connected);
    assert_eq!(*chain.subscribe_safe().borrow(), 3);
}

#[test]
fn safe_and_finalized_numbers_follow_the_head_without_l1_and_the_derived_heads_with_it() {
    let (_dir, chain) = dev_chain();
    commit_empty_blocks(&chain, 5);
    chain.set_safe_head(derived(3, 2)).unwrap();
    chain.set_finalized_head(derived(1, 1)).unwrap();
    // Without an L1 every sealed block is safe and final.
    assert_eq!(chain.safe_number(), 5);
    assert_eq!(chain.finalized_number(), 5);
    commit_empty_blocks(&chain, 1);
    assert_eq!((chain.safe_number(), chain.finalized_number()), (6, 6));

    chain.update_sync(|sync| sync.l1_connected = true);
    assert_eq!(chain.safe_number(), 3);
    assert_eq!(chain.finalized_number(), 1);
    chain.set_safe_head(derived(4, 3)).unwrap();
    assert_eq!((chain.safe_number(), chain.finalized_number()), (4, 1));
}

#[test]
fn with_l1_and_nothing_derived_yet_safe_and_finalized_are_genesis() {
    let (_dir, chain) = dev_chain();
    commit_empty_blocks(&chain, 2);
    chain.update_sync(|sync| sync.l1_connected = true);
    assert_eq!((chain.safe_number(), chain.finalized_number()), (0, 0));
}

#[test]
fn a_derived_block_and_its_safe_head_land_in_one_commit_or_not_at_all() {
    let (dir, chain) = dev_chain();
    commit_empty_blocks(&chain, 1);
    let mut safe_updates = chain.subscribe_safe();
    let head = chain.head();
    let next = DevEpochs::next(&chain, &head, head.timestamp + 1);
    let from = derived(2, 9).derived_from;

    // Refused: neither the block nor a safe head is written.
    let (mut source, _) = one_transfer(&chain);
    let refused = chain
        .build_and_commit_derived(&head, &next.attributes, &mut source, |_| Err("no"), from)
        .unwrap();
    assert_eq!(refused.unwrap_err(), "no");
    assert_eq!(chain.head().hash(), head.hash());
    assert_eq!(chain.storage().safe_head().unwrap(), None);
    assert_eq!(chain.sync_heads().safe, None);

    // Accepted: the block is the head and the safe head, on disk and announced.
    let (mut source, hash) = one_transfer(&chain);
    let committed = chain
        .build_and_commit_derived(
            &head,
            &next.attributes,
            &mut source,
            |_| Ok::<_, &str>(()),
            from,
        )
        .unwrap()
        .unwrap();
    assert_eq!(committed.header.number, 2);
    assert_eq!(
        chain.storage().transaction_location(&hash).unwrap(),
        Some((2, 1))
    );
    assert_eq!(chain.storage().safe_head().unwrap(), Some(derived(2, 9)));
    assert_eq!(chain.sync_heads().safe, Some(derived(2, 9)));
    assert!(safe_updates.has_changed().unwrap());
    assert_eq!(*safe_updates.borrow_and_update(), 2);

    drop(chain);
    let reopened = open_chain(dir.path(), &dev_spec(GENESIS_TIME));
    assert_eq!(reopened.head().hash(), committed.header.hash());
    assert_eq!(reopened.storage().safe_head().unwrap(), Some(derived(2, 9)));
}
