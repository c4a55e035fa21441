//! The address index: every transaction that touched an address, found from either end in
//! whole blocks; the sender-and-nonce lookup; contract creators; all of it written in the
//! block's own batch and kept across a reopen.

use crate::{commit_with, dev_storage};
use alloy_consensus::{Signed, TxLegacy};
use alloy_primitives::{Address, B256, Signature, TxKind};
use ol_primitives::{BlockActivity, Creation, OpTxEnvelope, TxActivity, TxDeposit};
use ol_storage::{AddressPage, StateChanges, Storage, TxLocation, Walk};

fn address(byte: u8) -> Address {
    Address::repeat_byte(byte)
}

pub(crate) fn deposit(from: Address, to: Address, salt: u8) -> (OpTxEnvelope, Address) {
    let tx = TxDeposit {
        source_hash: B256::repeat_byte(salt),
        from,
        to: TxKind::Call(to),
        gas_limit: 21_000,
        ..Default::default()
    };
    (
        OpTxEnvelope::Deposit(alloy_consensus::Sealed::new(tx)),
        from,
    )
}

/// A legacy transaction as the storage sees it: the sender is recorded beside it, so the
/// signature is never checked here.
pub(crate) fn signed(from: Address, nonce: u64, to: Address) -> (OpTxEnvelope, Address) {
    let tx = TxLegacy {
        nonce,
        to: TxKind::Call(to),
        gas_limit: 21_000,
        ..Default::default()
    };
    let hash = B256::with_last_byte(nonce as u8);
    let envelope =
        OpTxEnvelope::Legacy(Signed::new_unchecked(tx, Signature::test_signature(), hash));
    (envelope, from)
}

/// Commits the next block with `transactions` and their `activity`.
pub(crate) fn commit(
    storage: &Storage,
    transactions: Vec<(OpTxEnvelope, Address)>,
    activity: BlockActivity,
) {
    let (transactions, senders) = transactions.into_iter().unzip();
    let body = ol_storage::BlockBody {
        transactions,
        senders,
    };
    commit_with(storage, &StateChanges::default(), &body, &activity);
}

fn page(locations: &[TxLocation], exhausted: bool) -> AddressPage {
    AddressPage {
        locations: locations.to_vec(),
        exhausted,
    }
}

#[test]
fn transactions_are_found_by_every_address_they_touched() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c, d, e, f) = (
        address(0xa),
        address(0xb),
        address(0xc),
        address(0xd),
        address(0xe),
        address(0xf),
    );
    {
        let storage = dev_storage(dir.path());
        // Block 1: a deposit a→b, then c→d which internally reached e and made contract f
        // through d.
        let internal = TxActivity {
            touched: [c, d, e].into_iter().collect(),
            created: vec![Creation {
                contract: f,
                creator: d,
            }],
        };
        commit(
            &storage,
            vec![deposit(a, b, 1), signed(c, 0, d)],
            BlockActivity {
                transactions: vec![TxActivity::default(), internal],
            },
        );
        // Block 2: two deposits to b. Block 3: c→b.
        commit(
            &storage,
            vec![deposit(a, b, 2), deposit(a, b, 3)],
            BlockActivity::default(),
        );
        commit(&storage, vec![signed(c, 1, b)], BlockActivity::default());
    }
    let storage = Storage::open(dir.path()).unwrap();
    let older = |who, from, limit| {
        storage
            .address_transactions(&who, from, Walk::Older, limit)
            .unwrap()
    };
    let newer = |who, from, limit| {
        storage
            .address_transactions(&who, from, Walk::Newer, limit)
            .unwrap()
    };

    // Newest first, from past the head; the block that reaches the limit is taken whole.
    assert_eq!(older(b, 4, 1), page(&[(3, 0)], false));
    assert_eq!(older(b, 3, 1), page(&[(2, 1), (2, 0)], false));
    assert_eq!(older(b, 2, 5), page(&[(1, 0)], true));
    assert_eq!(older(b, 0, 5), page(&[], true));
    // Oldest first, from after a block.
    assert_eq!(newer(b, 0, 2), page(&[(1, 0), (2, 0), (2, 1)], false));
    assert_eq!(newer(b, 2, 2), page(&[(3, 0)], true));
    // Addresses met only inside execution are indexed too: the callee's callee and the
    // created contract.
    assert_eq!(older(e, 4, 10), page(&[(1, 1)], true));
    assert_eq!(older(f, 4, 10), page(&[(1, 1)], true));
    assert_eq!(older(address(0x77), 4, 10), page(&[], true));

    // Sender and nonce: signed transactions only (deposits have no nonce of their own).
    assert_eq!(
        storage.transaction_by_sender_nonce(&c, 0).unwrap(),
        Some((1, 1))
    );
    assert_eq!(
        storage.transaction_by_sender_nonce(&c, 1).unwrap(),
        Some((3, 0))
    );
    assert_eq!(storage.transaction_by_sender_nonce(&c, 2).unwrap(), None);
    assert_eq!(storage.transaction_by_sender_nonce(&a, 0).unwrap(), None);

    assert_eq!(storage.contract_creation(&f).unwrap(), Some(((1, 1), d)));
    assert_eq!(storage.contract_creation(&e).unwrap(), None);
}
