//! `recover_batch` and `BatchTransactions`: what derivation executes from a batch.

use crate::common::{encode, transfer};
use alloy_consensus::{Sealed, SignableTransaction, TxEip1559};
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256};
use ol_chain::derivation::{BatchTransactions, InvalidBatchTx, recover_batch};
use ol_evm::{BestTransactions, SkipReason};
use ol_primitives::{OpTxEnvelope, TxDeposit, dev::dev_signer};

const CHAIN_ID: u64 = 1611;

/// Three transfers from dev accounts 1, 2 and 1 again.
fn signed_batch() -> (Vec<OpTxEnvelope>, Vec<Address>) {
    let (a, b) = (dev_signer(1), dev_signer(2));
    let txs = vec![
        transfer(&a, CHAIN_ID, 0, 1),
        transfer(&b, CHAIN_ID, 0, 2),
        transfer(&a, CHAIN_ID, 1, 3),
    ];
    (txs, vec![a.address(), b.address(), a.address()])
}

fn raw(txs: &[OpTxEnvelope]) -> Vec<Bytes> {
    txs.iter().map(encode).collect()
}

#[test]
fn recovers_the_senders_of_signed_transactions_in_order() {
    let (txs, senders) = signed_batch();
    let recovered = recover_batch(&raw(&txs)).unwrap();
    assert_eq!(
        recovered.iter().map(|tx| tx.signer()).collect::<Vec<_>>(),
        senders
    );
    assert_eq!(
        recovered
            .iter()
            .map(|tx| tx.inner().tx_hash())
            .collect::<Vec<_>>(),
        txs.iter().map(OpTxEnvelope::tx_hash).collect::<Vec<_>>()
    );
    assert!(recover_batch(&[]).unwrap().is_empty());
}

#[test]
fn refuses_an_undecodable_transaction_at_its_index() {
    let (txs, _) = signed_batch();
    let mut batch = raw(&txs);
    // A truncated transaction after two good ones.
    let truncated = batch[2].slice(..batch[2].len() - 1);
    batch[2] = truncated;
    match recover_batch(&batch) {
        Err(InvalidBatchTx::Decode { index: 2, reason }) => assert!(!reason.is_empty()),
        other => panic!("expected a decode error at index 2, got {other:?}"),
    }
    // Trailing bytes after a valid transaction are refused too (exact decoding).
    let mut padded = raw(&txs);
    let mut longer = padded[0].to_vec();
    longer.push(0);
    padded[0] = longer.into();
    assert!(matches!(
        recover_batch(&padded),
        Err(InvalidBatchTx::Decode { index: 0, .. })
    ));
    // An unknown type byte.
    assert!(matches!(
        recover_batch(&[Bytes::from_static(&[0x05, 0xc0])]),
        Err(InvalidBatchTx::Decode { index: 0, .. })
    ));
}

#[test]
fn refuses_a_deposit_at_its_index() {
    let (txs, _) = signed_batch();
    let deposit = OpTxEnvelope::Deposit(Sealed::new(TxDeposit {
        source_hash: B256::repeat_byte(1),
        from: Address::repeat_byte(2),
        to: TxKind::Call(Address::repeat_byte(3)),
        mint: 1_000,
        value: U256::from(1_000),
        gas_limit: 100_000,
        is_system_transaction: false,
        input: Bytes::new(),
    }));
    let batch = vec![encode(&txs[0]), encode(&deposit), encode(&txs[1])];
    assert_eq!(batch[1][0], 0x7e, "the deposit is type 0x7e");
    assert_eq!(
        recover_batch(&batch).unwrap_err(),
        InvalidBatchTx::Deposit { index: 1 }
    );
}

#[test]
fn refuses_a_bad_signature_at_its_index() {
    let (txs, _) = signed_batch();
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Address::repeat_byte(9)),
        value: U256::from(1),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    // r = 0 is not a point on the curve: nothing recovers from it.
    let unrecoverable =
        OpTxEnvelope::Eip1559(tx.into_signed(Signature::new(U256::ZERO, U256::from(1), false)));
    let batch = vec![encode(&txs[0]), encode(&txs[1]), encode(&unrecoverable)];
    assert_eq!(
        recover_batch(&batch).unwrap_err(),
        InvalidBatchTx::Signature { index: 2 }
    );
    // A malleable signature (high s), as EIP-2 forbids, is refused as well.
    let OpTxEnvelope::Eip1559(signed) = &txs[0] else {
        unreachable!("transfers are EIP-1559")
    };
    let order = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let sig = signed.signature();
    let high_s = Signature::new(sig.r(), order - sig.s(), !sig.v());
    let malleable = OpTxEnvelope::Eip1559(signed.tx().clone().into_signed(high_s));
    assert_eq!(
        recover_batch(&[encode(&malleable)]).unwrap_err(),
        InvalidBatchTx::Signature { index: 0 }
    );
}

#[test]
fn batch_transactions_yield_in_order_and_stop_after_a_skip() {
    let (txs, senders) = signed_batch();
    let mut source = BatchTransactions::new(recover_batch(&raw(&txs)).unwrap());
    assert_eq!(source.refused(), None);
    let first = source.next_transaction().unwrap();
    assert_eq!(first.signer(), senders[0]);
    assert_eq!(first.inner().tx_hash(), txs[0].tx_hash());
    let second = source.next_transaction().unwrap();
    assert_eq!(second.inner().tx_hash(), txs[1].tx_hash());

    source.skip(&second, SkipReason::Invalid, "nonce too high");
    assert_eq!(
        source.refused(),
        Some(format!("{} (Invalid): nonce too high", txs[1].tx_hash()).as_str())
    );
    assert!(
        source.next_transaction().is_none(),
        "nothing after a refused transaction"
    );
    // Only the first refusal is kept.
    source.skip(&first, SkipReason::DoesNotFit, "later");
    assert_eq!(
        source.refused(),
        Some(format!("{} (Invalid): nonce too high", txs[1].tx_hash()).as_str())
    );
}

#[test]
fn batch_transactions_yield_everything_when_nothing_is_refused() {
    let (txs, _) = signed_batch();
    let mut source = BatchTransactions::new(recover_batch(&raw(&txs)).unwrap());
    let yielded: Vec<_> = std::iter::from_fn(|| source.next_transaction())
        .map(|tx| tx.inner().tx_hash())
        .collect();
    assert_eq!(
        yielded,
        txs.iter().map(OpTxEnvelope::tx_hash).collect::<Vec<_>>()
    );
    assert_eq!(source.refused(), None);
}

#[test]
fn long_batches_recover_in_parallel_in_order_and_report_the_first_invalid_index() {
    // Long enough for the threaded path: senders alternate so that order is visible.
    let signers = [dev_signer(1), dev_signer(2), dev_signer(3)];
    let txs: Vec<OpTxEnvelope> = (0..600u64)
        .map(|i| {
            let signer = &signers[(i % 3) as usize];
            transfer(signer, CHAIN_ID, i / 3, i + 1)
        })
        .collect();
    let recovered = recover_batch(&raw(&txs)).unwrap();
    assert_eq!(recovered.len(), 600);
    for (i, tx) in recovered.iter().enumerate() {
        assert_eq!(tx.signer(), signers[i % 3].address(), "sender of {i}");
        assert_eq!(tx.inner().tx_hash(), txs[i].tx_hash(), "hash of {i}");
    }
    // Two bad transactions in different chunks: the lower index is the one reported.
    let mut batch = raw(&txs);
    batch[590] = Bytes::from_static(&[0x02, 0xc0]);
    batch[450] = Bytes::from_static(&[0x7e, 0xc0]);
    assert!(matches!(
        recover_batch(&batch),
        Err(InvalidBatchTx::Decode { index: 450, .. })
    ));
}
