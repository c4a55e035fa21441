//! The roots of a simulation (`eth_simulateV1`'s cache over the head) against the real path:
//! the same EVM changes committed through revm's `State` into a bundle, as block building does,
//! must give the same state and withdrawals roots.

use crate::dev_storage;
use alloy_primitives::{Address, Bytes, U256, address, keccak256};
use ol_storage::{StateChanges, StateProviderDb};
use revm::{
    Database, DatabaseCommit, DatabaseRef,
    bytecode::Bytecode,
    database::{CacheDB, State, states::bundle_state::BundleRetention},
    state::{Account, AccountInfo, EvmState, EvmStorageSlot},
};

const TIMELOCK: Address = address!("0x4200000000000000000000000000000000001000");
const GOVERNANCE: Address = address!("0x4200000000000000000000000000000000001001");

/// One block's worth of EVM changes on the dev genesis: a balance paid, a slot rewritten, a
/// contract created with storage, a contract self-destructed, and an empty account touched
/// (which EIP-161 removes).
fn changes(db: &StateProviderDb) -> EvmState {
    let dev = ol_primitives::dev::dev_signer(0).address();
    let existing = |address: Address| -> AccountInfo {
        db.basic_ref(address).unwrap().expect("a genesis account")
    };
    let mut paid = existing(dev);
    paid.balance -= U256::from(1_000_000u64);
    paid.nonce += 1;
    let slot = U256::ZERO;
    let original = db.storage_ref(TIMELOCK, slot).unwrap();
    let code = Bytecode::new_raw(Bytes::from_static(&[0x60, 0x00, 0x60, 0x00, 0xf3]));
    let created = AccountInfo {
        balance: U256::from(1_000_000u64),
        nonce: 1,
        code_hash: keccak256(code.original_bytes()),
        code: Some(code),
        ..Default::default()
    };
    let created_at = address!("0x00000000000000000000000000000000000c0de0");
    EvmState::from_iter([
        (dev, Account::from(paid).with_touched_mark()),
        (
            TIMELOCK,
            Account::from(existing(TIMELOCK))
                .with_touched_mark()
                .with_storage(
                    [(
                        slot,
                        EvmStorageSlot::new_changed(original, original + U256::from(7), 0),
                    )]
                    .into_iter(),
                ),
        ),
        (
            created_at,
            Account::from(created)
                .with_created_mark()
                .with_touched_mark()
                .with_storage(
                    [(
                        U256::from(3),
                        EvmStorageSlot::new_changed(U256::ZERO, U256::from(9), 0),
                    )]
                    .into_iter(),
                ),
        ),
        (
            GOVERNANCE,
            Account::from(existing(GOVERNANCE))
                .with_selfdestruct_mark()
                .with_touched_mark(),
        ),
        (
            address!("0x00000000000000000000000000000000000e0e0e"),
            Account::from(AccountInfo::default()).with_touched_mark(),
        ),
    ])
}

#[test]
fn a_simulations_cache_gives_the_roots_a_committed_block_gets() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dev_storage(dir.path());
    let head = storage.head_header().unwrap();
    let db = StateProviderDb::at_block(storage.clone(), head.number);
    let evm_changes = changes(&db);

    // The simulation: a cache over the head that reads each account, then takes the changes.
    let mut cache = CacheDB::new(&db);
    for address in evm_changes.keys() {
        cache.basic(*address).unwrap();
    }
    cache.commit(evm_changes.clone());
    let simulated = storage
        .prepare_state(&StateChanges::from_cache(&cache.cache))
        .unwrap();

    // Block building: revm's `State` with its bundle.
    let mut state = State::builder()
        .with_database_ref(&db)
        .with_bundle_update()
        .build();
    for address in evm_changes.keys() {
        state.basic(*address).unwrap();
    }
    state.commit(evm_changes);
    state.merge_transitions(BundleRetention::Reverts);
    let built = storage
        .prepare_state(&StateChanges::from_bundle(&state.take_bundle()))
        .unwrap();

    assert_ne!(
        simulated.state_root, head.state_root,
        "the changes change the root"
    );
    assert_eq!(simulated.state_root, built.state_root);
    assert_eq!(simulated.withdrawals_root, built.withdrawals_root);

    // Reading alone changes nothing.
    let mut reader = CacheDB::new(&db);
    for address in [TIMELOCK, GOVERNANCE, Address::repeat_byte(0x77)] {
        reader.basic(address).unwrap();
        reader.storage(address, U256::ZERO).unwrap();
    }
    let read = storage
        .prepare_state(&StateChanges::from_cache(&reader.cache))
        .unwrap();
    assert_eq!(read.state_root, head.state_root);
}
