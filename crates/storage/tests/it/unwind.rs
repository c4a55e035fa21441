//! Unwinding: the state, the trie, the block records and the indexes after an unwind are
//! exactly those of the target block, and committing the same blocks again gives the same
//! roots.

use crate::{address_index, arb_changes, commit, dev_storage, snapshot};
use alloy_primitives::{Address, B256};
use ol_primitives::{BlockActivity, Creation, L1BlockRef, TxActivity};
use ol_storage::{DerivedHead, Storage, StorageError, Walk};
use proptest::prelude::*;

fn head_at(number: u64) -> DerivedHead {
    DerivedHead {
        l2_number: number,
        derived_from: L1BlockRef {
            hash: B256::with_last_byte(number as u8),
            number: 100 + number,
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Unwinding to any block leaves the state of that block (plain state, trie and history
    /// reads), a database that passes the consistency check, and committing the unwound blocks
    /// again gives the same headers.
    #[test]
    fn unwind_then_forward_again_gives_the_same_roots(
        blocks in prop::collection::vec(arb_changes(), 1..10),
        target_pick in any::<prop::sample::Index>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let storage = dev_storage(dir.path());
        let mut snapshots = vec![snapshot(&storage)];
        let mut hashes = vec![storage.head_header().unwrap().hash()];
        for changes in &blocks {
            commit(&storage, changes);
            snapshots.push(snapshot(&storage));
            hashes.push(storage.head_header().unwrap().hash());
        }
        let head = blocks.len() as u64;
        let target = target_pick.index(blocks.len()) as u64;
        let report = storage.unwind_to(target, head_at(target)).unwrap();
        prop_assert_eq!((report.from, report.to), (head, target));
        prop_assert_eq!(report.head_hash, hashes[target as usize]);

        prop_assert_eq!(storage.head_number().unwrap(), target);
        prop_assert_eq!(&snapshot(&storage), &snapshots[target as usize]);
        prop_assert_eq!(
            storage.recompute_state_root().unwrap(),
            storage.head_header().unwrap().state_root
        );
        prop_assert!(storage.check_and_repair().unwrap().repaired.is_empty());
        for number in target + 1..=head {
            prop_assert!(storage.header_by_number(number).unwrap().is_none());
            prop_assert!(storage.change_set(number).unwrap().is_none());
            prop_assert_eq!(storage.block_number(&hashes[number as usize]).unwrap(), None);
        }
        // History reads up to the target still answer as before.
        for number in 0..=target {
            for index in 1..=12u8 {
                let address = Address::with_last_byte(index);
                prop_assert_eq!(
                    &storage.account_at(&address, number).unwrap(),
                    &snapshots[number as usize][usize::from(index) - 1].0
                );
            }
        }

        for changes in &blocks[target as usize..] {
            commit(&storage, changes);
        }
        for (number, hash) in hashes.iter().enumerate() {
            prop_assert_eq!(storage.canonical_hash(number as u64).unwrap(), Some(*hash));
        }
        prop_assert_eq!(&snapshot(&storage), &snapshots[head as usize]);
    }
}

#[test]
fn unwinding_takes_back_the_block_records_and_the_address_index() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dev_storage(dir.path());
    let (a, b, c, d, f) = (
        Address::repeat_byte(0xa),
        Address::repeat_byte(0xb),
        Address::repeat_byte(0xc),
        Address::repeat_byte(0xd),
        Address::repeat_byte(0xf),
    );
    let creating = |creator| BlockActivity {
        transactions: vec![TxActivity {
            touched: [c, creator, f].into_iter().collect(),
            created: vec![Creation {
                contract: f,
                creator,
            }],
        }],
    };
    // Block 1: c creates f through d. Block 2: a deposit to b and c's next transaction.
    // Block 3: f is created again (after a self-destruct), now through b.
    address_index::commit(&storage, vec![address_index::signed(c, 0, d)], creating(d));
    address_index::commit(
        &storage,
        vec![
            address_index::deposit(a, b, 1),
            address_index::signed(c, 1, b),
        ],
        BlockActivity::default(),
    );
    address_index::commit(&storage, vec![address_index::signed(c, 2, f)], creating(b));
    assert_eq!(storage.contract_creation(&f).unwrap(), Some(((3, 0), b)));
    let unwound_tx = storage.body(2).unwrap().unwrap().transactions[1].clone();

    storage.unwind_to(1, head_at(1)).unwrap();
    let older = |who| {
        storage
            .address_transactions(&who, 10, Walk::Older, 10)
            .unwrap()
            .locations
    };
    assert_eq!(older(b), vec![]);
    assert_eq!(older(c), vec![(1, 0)]);
    assert_eq!(older(f), vec![(1, 0)]);
    assert_eq!(storage.contract_creation(&f).unwrap(), Some(((1, 0), d)));
    assert_eq!(
        storage.transaction_by_sender_nonce(&c, 0).unwrap(),
        Some((1, 0))
    );
    assert_eq!(storage.transaction_by_sender_nonce(&c, 1).unwrap(), None);
    assert_eq!(storage.transaction_by_sender_nonce(&c, 2).unwrap(), None);
    use alloy_eips::eip2718::Encodable2718;
    assert_eq!(
        storage
            .transaction_location(&unwound_tx.trie_hash())
            .unwrap(),
        None
    );
    assert!(storage.body(2).unwrap().is_none());
    assert!(storage.receipts(2).unwrap().is_none());

    // Reopening runs the consistency check on what the unwind left.
    drop(storage);
    let storage = Storage::open(dir.path()).unwrap();
    assert_eq!(storage.head_number().unwrap(), 1);
    storage.unwind_to(0, head_at(0)).unwrap();
    assert_eq!(storage.contract_creation(&f).unwrap(), None);
    assert_eq!(
        storage
            .address_transactions(&c, 10, Walk::Older, 10)
            .unwrap()
            .locations,
        vec![]
    );
}

#[test]
fn the_safe_and_finalized_heads_come_down_only_when_above_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dev_storage(dir.path());
    for _ in 0..5 {
        commit(&storage, &Default::default());
    }
    storage.set_safe_head(&head_at(4)).unwrap();
    storage.set_finalized_head(&head_at(2)).unwrap();
    let report = storage.unwind_to(3, head_at(3)).unwrap();
    assert!(report.lowered_safe && !report.lowered_finalized);
    assert_eq!(storage.safe_head().unwrap(), Some(head_at(3)));
    assert_eq!(storage.finalized_head().unwrap(), Some(head_at(2)));
    let report = storage.unwind_to(1, head_at(1)).unwrap();
    assert!(report.lowered_safe && report.lowered_finalized);
    assert_eq!(storage.finalized_head().unwrap(), Some(head_at(1)));
}

#[test]
fn an_unwind_that_cannot_be_done_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dev_storage(dir.path());
    commit(&storage, &Default::default());
    let head = storage.head_header().unwrap();
    assert!(matches!(
        storage.unwind_to(2, head_at(2)),
        Err(StorageError::UnwindAboveHead { target: 2, head: 1 })
    ));
    assert!(storage.unwind_to(0, head_at(1)).is_err());
    assert_eq!(storage.head_header().unwrap(), head);
    // Unwinding to the head is a no-op.
    let report = storage.unwind_to(1, head_at(1)).unwrap();
    assert_eq!((report.from, report.to, report.restored_keys), (1, 1, 0));
    assert_eq!(storage.head_header().unwrap(), head);
}
