//! Storage integration tests: the incremental state root against a full recomputation, atomic
//! commits, reopening, and unwinding.

mod address_index;
mod simulation;
mod unwind;

use alloy_consensus::{Header, Sealable};
use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_trie::KECCAK_EMPTY;
use ol_storage::{AccountChange, BlockBody, StateChanges, Storage, StorageError};
use proptest::prelude::*;

pub(crate) fn dev_storage(dir: &std::path::Path) -> Storage {
    let storage = Storage::open(dir).unwrap();
    let spec = ol_primitives::dev::dev_chain_spec(None, 1_700_000_000).unwrap();
    storage.init_genesis(&spec).unwrap();
    storage
}

/// Commits `changes` as the next block (no transactions) and returns its state root.
pub(crate) fn commit(storage: &Storage, changes: &StateChanges) -> B256 {
    let body = BlockBody {
        transactions: vec![],
        senders: vec![],
    };
    commit_with(storage, changes, &body, &Default::default())
}

/// Commits `changes`, `body` and its `activity` as the next block; returns its state root.
pub(crate) fn commit_with(
    storage: &Storage,
    changes: &StateChanges,
    body: &BlockBody,
    activity: &ol_primitives::BlockActivity,
) -> B256 {
    let prepared = storage.prepare_state(changes).unwrap();
    let head = storage.head_header().unwrap();
    let header = Header {
        parent_hash: head.hash(),
        number: head.number + 1,
        state_root: prepared.state_root,
        timestamp: head.timestamp + 1,
        withdrawals_root: Some(prepared.withdrawals_root),
        ..head.inner().clone()
    }
    .seal_slow();
    storage
        .commit_block(&header, body, &[], activity, &prepared)
        .unwrap();
    prepared.state_root
}

/// A random block of changes over a small address and slot space, so that accounts and slots
/// are created, updated, zeroed, deleted and wiped again and again.
pub(crate) fn arb_changes() -> impl Strategy<Value = StateChanges> {
    let account = (
        0u8..12,
        prop::option::weighted(0.85, (0u64..4, 0u64..1_000_000)),
        prop::bool::weighted(0.1),
        prop::collection::vec((0u8..16, prop::option::weighted(0.7, 1u64..1000)), 0..6),
    )
        .prop_map(|(index, info, wipe, slots)| AccountChange {
            address: Address::with_last_byte(index + 1),
            info: info.map(|(nonce, balance)| (nonce, U256::from(balance), KECCAK_EMPTY)),
            wipe_storage: wipe,
            storage: slots
                .into_iter()
                .map(|(slot, value)| (B256::with_last_byte(slot), U256::from(value.unwrap_or(0))))
                .collect(),
        });
    prop::collection::vec(account, 0..8).prop_map(|mut accounts| {
        accounts.sort_by_key(|change| change.address);
        accounts.dedup_by_key(|change| change.address);
        StateChanges {
            accounts,
            contracts: vec![],
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// After every block of random account and storage changes (creations, updates, zeroed
    /// slots, deleted accounts, wiped storage), the incrementally maintained state root equals a
    /// full recomputation from the plain state with alloy-trie's HashBuilder.
    #[test]
    fn incremental_root_matches_full_recomputation(blocks in prop::collection::vec(arb_changes(), 1..10)) {
        let dir = tempfile::tempdir().unwrap();
        let storage = dev_storage(dir.path());
        for changes in &blocks {
            let root = commit(&storage, changes);
            prop_assert_eq!(root, storage.recompute_state_root().unwrap());
            prop_assert_eq!(storage.head_header().unwrap().state_root, root);
        }
    }
}

/// The account and storage space `arb_changes` draws from, read at the head.
pub(crate) fn snapshot(storage: &Storage) -> Vec<(Option<alloy_trie::TrieAccount>, Vec<U256>)> {
    (1..=12u8)
        .map(|index| {
            let address = Address::with_last_byte(index);
            let slots = (0..16u8)
                .map(|slot| {
                    storage
                        .storage(&address, &B256::with_last_byte(slot))
                        .unwrap()
                })
                .collect();
            (storage.account(&address).unwrap(), slots)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The state after every past block, read through the history tables, is exactly what the
    /// head state was right after that block: accounts created, updated and deleted, slots
    /// written, zeroed and wiped.
    #[test]
    fn historical_reads_match_the_state_after_each_block(blocks in prop::collection::vec(arb_changes(), 1..10)) {
        let dir = tempfile::tempdir().unwrap();
        let storage = dev_storage(dir.path());
        let mut snapshots = vec![snapshot(&storage)];
        for changes in &blocks {
            commit(&storage, changes);
            snapshots.push(snapshot(&storage));
        }
        for (number, expected) in snapshots.iter().enumerate() {
            for (index, (account, slots)) in (1..=12u8).zip(expected) {
                let address = Address::with_last_byte(index);
                prop_assert_eq!(&storage.account_at(&address, number as u64).unwrap(), account);
                for (slot, value) in (0..16u8).zip(slots) {
                    prop_assert_eq!(
                        storage.storage_at(&address, &B256::with_last_byte(slot), number as u64).unwrap(),
                        *value,
                        "block {} account {} slot {}", number, index, slot
                    );
                }
            }
        }
    }
}

#[test]
fn genesis_root_matches_in_memory_computation() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dev_storage(dir.path());
    let spec = storage.chain_spec().unwrap();
    let roots = ol_storage::genesis_roots(&spec);
    let genesis = storage.header_by_number(0).unwrap().unwrap();
    assert_eq!(genesis.state_root, roots.state_root);
    assert_eq!(storage.recompute_state_root().unwrap(), roots.state_root);
    assert_eq!(genesis.withdrawals_root, Some(roots.withdrawals_root));
}

#[test]
fn reopen_continues_from_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let root = {
        let storage = dev_storage(dir.path());
        let change = AccountChange {
            address: Address::with_last_byte(0xaa),
            info: Some((1, U256::from(5), KECCAK_EMPTY)),
            wipe_storage: false,
            storage: vec![(B256::with_last_byte(1), U256::from(9))],
        };
        commit(
            &storage,
            &StateChanges {
                accounts: vec![change],
                contracts: vec![],
            },
        )
    };
    let storage = Storage::open(dir.path()).unwrap();
    assert_eq!(storage.head_number().unwrap(), 1);
    assert_eq!(storage.head_header().unwrap().state_root, root);
    assert_eq!(
        storage
            .storage(&Address::with_last_byte(0xaa), &B256::with_last_byte(1))
            .unwrap(),
        U256::from(9)
    );
    let report = storage.check_and_repair().unwrap();
    assert_eq!(report.head, 1);
    assert!(report.repaired.is_empty());
}

#[test]
fn a_block_that_does_not_extend_the_head_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dev_storage(dir.path());
    let prepared = storage.prepare_state(&StateChanges::default()).unwrap();
    let genesis = storage.head_header().unwrap();
    let header = Header {
        number: 5,
        ..genesis.inner().clone()
    }
    .seal_slow();
    let body = BlockBody {
        transactions: vec![],
        senders: vec![],
    };
    let err = storage
        .commit_block(&header, &body, &[], &Default::default(), &prepared)
        .unwrap_err();
    assert!(matches!(
        err,
        StorageError::NotNextBlock { number: 5, head: 0 }
    ));
    assert_eq!(storage.head_number().unwrap(), 0);
}

#[test]
fn a_different_genesis_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    dev_storage(dir.path());
    let storage = Storage::open(dir.path()).unwrap();
    let other = ol_primitives::dev::dev_chain_spec(Some(99), 1_700_000_000).unwrap();
    assert!(matches!(
        storage.init_genesis(&other),
        Err(StorageError::GenesisMismatch { .. })
    ));
}

#[test]
fn a_corrupted_trie_is_refused_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage = dev_storage(dir.path());
        let change = AccountChange {
            address: Address::with_last_byte(0xbb),
            info: Some((0, U256::from(1), KECCAK_EMPTY)),
            wipe_storage: false,
            storage: vec![],
        };
        commit(
            &storage,
            &StateChanges {
                accounts: vec![change],
                contracts: vec![],
            },
        );
    }
    {
        // Rewrite the trie's root node behind the node's back.
        let mut options = rocksdb::Options::default();
        options.create_if_missing(false);
        let db = rocksdb::DB::open_cf(&options, dir.path(), ol_storage::tables::ALL).unwrap();
        let cf = db.cf_handle(ol_storage::tables::ACCOUNT_TRIE).unwrap();
        db.put_cf(cf, [], alloy_rlp::encode(keccak256("garbage").as_slice()))
            .unwrap();
    }
    let err = Storage::open(dir.path()).unwrap_err();
    assert!(matches!(err, StorageError::Inconsistent(_)), "{err}");
}

/// `account_proof` returns EIP-1186 proofs that verify against the head's state root with
/// alloy-trie's verifier: existing and missing accounts, set and unset slots of a storage trie
/// with branches several levels deep.
#[test]
fn account_proofs_verify_against_the_state_root() {
    use alloy_trie::{Nibbles, TrieAccount, proof::verify_proof};

    let dir = tempfile::tempdir().unwrap();
    let storage = dev_storage(dir.path());
    let contract = Address::with_last_byte(0x77);
    let slots: Vec<(B256, U256)> = (0u8..40)
        .map(|i| (B256::with_last_byte(i), U256::from(u64::from(i) + 1)))
        .collect();
    let root = commit(
        &storage,
        &StateChanges {
            accounts: vec![AccountChange {
                address: contract,
                info: Some((1, U256::from(5), KECCAK_EMPTY)),
                wipe_storage: false,
                storage: slots.clone(),
            }],
            contracts: vec![],
        },
    );
    let head = storage.head_header().unwrap();

    let mut asked: Vec<B256> = slots.iter().map(|(slot, _)| *slot).collect();
    asked.push(B256::repeat_byte(0xee)); // never set
    let proof = storage.account_proof(&contract, &asked).unwrap();
    assert_eq!(proof.state_root, root);
    assert_eq!(proof.block_number, head.number);
    assert_eq!(proof.block_hash, head.hash());
    let account: TrieAccount = proof.account.unwrap();
    assert_eq!((account.nonce, account.balance), (1, U256::from(5)));
    verify_proof(
        root,
        Nibbles::unpack(keccak256(contract)),
        Some(alloy_rlp::encode(account)),
        &proof.account_proof,
    )
    .unwrap();
    for (index, slot_proof) in proof.storage_proofs.iter().enumerate() {
        assert_eq!(slot_proof.slot, asked[index]);
        let expected = slots.get(index).map(|(_, value)| *value);
        assert_eq!(slot_proof.value, expected.unwrap_or_default());
        verify_proof(
            account.storage_root,
            Nibbles::unpack(keccak256(slot_proof.slot)),
            expected.map(alloy_rlp::encode),
            &slot_proof.proof,
        )
        .unwrap_or_else(|err| panic!("slot {index}: {err}"));
    }

    // A missing account: an exclusion proof, and empty storage proofs.
    let missing = Address::repeat_byte(0xab);
    let proof = storage.account_proof(&missing, &[B256::ZERO]).unwrap();
    assert!(proof.account.is_none());
    assert!(proof.storage_proofs[0].proof.is_empty());
    verify_proof(
        root,
        Nibbles::unpack(keccak256(missing)),
        None,
        &proof.account_proof,
    )
    .unwrap();
}
