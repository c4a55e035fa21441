//! The attestor's transactions on a dev chain (RocksDB, the dev genesis with `AttestorBatch`):
//! the account delegates once, then the calls of many jobs travel in one transaction, each from
//! the attestor's address, a failing call sparing the others.

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_sol_types::{SolCall, SolEvent};
use ol_chain::{Chain, DevEpochs};
use ol_jobs::attestor::{Attestor, Sending, TxState};
use ol_primitives::{
    addresses::{PROOF_OF_ATTRIBUTION, dev_suite::INFERENCE_MARKET},
    contracts::{AttestorBatch, IProofOfAttribution, InferenceMarket, attribution_method},
    dev::{dev_attestor, dev_chain_spec},
};
use ol_storage::Storage;
use ol_txpool::{PoolConfig, TxPool};
use std::sync::Arc;

/// Seals one block with the pool's transactions, as the sequencer does.
fn produce(chain: &Arc<Chain>, pool: &TxPool) {
    let head = chain.head();
    let base_fee = ol_evm::next_block_base_fee(head.inner()).unwrap();
    let next = DevEpochs::next(chain, &head, head.timestamp + 1);
    let mut best = pool.best_transactions(base_fee);
    let committed = chain
        .build_and_commit(&head, &next.attributes, &mut best)
        .unwrap();
    pool.on_block(&committed.senders, chain.as_ref());
}

fn record(id: u8) -> (Address, Bytes) {
    let call = IProofOfAttribution::recordCall {
        requestId: B256::repeat_byte(id),
        outputHash: keccak256([id]),
        method: attribution_method::INFINIGRAM,
        contributors: Vec::new(),
        weightsPpm: Vec::new(),
        evidenceRoot: B256::ZERO,
    };
    (PROOF_OF_ATTRIBUTION, call.abi_encode().into())
}

#[test]
fn the_attestor_delegates_once_then_batches_and_a_failing_call_spares_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    storage
        .init_genesis(&dev_chain_spec(None, 1_750_000_000).unwrap())
        .unwrap();
    let chain = Chain::new(storage, None).unwrap();
    let pool = Arc::new(TxPool::new(PoolConfig::default(), chain.chain_id()));
    let attestor = Attestor::new(dev_attestor(), chain.clone(), pool.clone());
    let me = attestor.address();

    // The delegation goes out once, and nothing else may be sent while it is pooled.
    assert_eq!(attestor.sending().unwrap(), Sending::Waiting);
    assert_eq!(attestor.sending().unwrap(), Sending::Waiting);
    assert_eq!(attestor.in_flight().unwrap(), 1);
    produce(&chain, &pool);
    assert_eq!(attestor.sending().unwrap(), Sending::Batched);
    let account = chain.storage().account(&me).unwrap().unwrap();
    assert_eq!(
        account.nonce, 2,
        "the sender's and the authority's nonce bumps"
    );

    // One transaction: two records, a fulfilment of a request that does not exist, and the
    // first record again. Only the failing calls fail.
    let fulfil_unknown = InferenceMarket::fulfillCall {
        requestId: B256::repeat_byte(9),
        tokensIn: 1,
        tokensOut: 1,
        output: Bytes::new(),
    };
    let calls = vec![
        record(1),
        (INFERENCE_MARKET, fulfil_unknown.abi_encode().into()),
        record(2),
        record(1),
    ];
    let (hash, raw) = attestor.sign(me, Attestor::batch_input(&calls)).unwrap();
    attestor.send(&raw).unwrap();
    assert_eq!(attestor.state(hash).unwrap(), TxState::Pooled);
    produce(&chain, &pool);
    assert_eq!(attestor.state(hash).unwrap(), TxState::Mined);

    for id in [1, 2] {
        let summary = chain
            .view(
                me,
                PROOF_OF_ATTRIBUTION,
                &IProofOfAttribution::summaryOfCall {
                    requestId: B256::repeat_byte(id),
                },
            )
            .unwrap();
        assert_eq!(summary.attestor, me, "record {id} is the attestor's own");
    }
    let (block, index) = chain
        .storage()
        .transaction_location(&hash)
        .unwrap()
        .unwrap();
    let receipts = chain.storage().receipts(block).unwrap().unwrap();
    let receipt = &receipts[index as usize];
    assert!(receipt.status(), "the batch itself succeeds");
    let failed: Vec<U256> = receipt
        .logs()
        .iter()
        .filter_map(|log| AttestorBatch::CallFailed::decode_log(log).ok())
        .map(|event| event.index)
        .collect();
    assert_eq!(failed, vec![U256::from(1), U256::from(3)]);

    // Nobody else can make the attestor's account act.
    let stranger = Address::repeat_byte(0x55);
    let refused = chain.view(
        stranger,
        me,
        &AttestorBatch::executeCall {
            calls: vec![AttestorBatch::Call {
                to: record(3).0,
                value: U256::ZERO,
                data: record(3).1,
            }],
        },
    );
    assert!(refused.is_err(), "a stranger's execute is refused");
}
