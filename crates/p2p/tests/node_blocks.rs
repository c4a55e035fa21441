//! Blocks the node itself builds (Jovian headers, the L1-info deposit, a signed transfer) go
//! through the gossip envelope and come back with the same hash, header, transactions and
//! signer; a different unsafe block signer is refused.

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use ol_chain::{Chain, Sequencer, SequencerConfig};
use ol_p2p::{Rejection, Validator, Verdict, decode_block, encode_block};
use ol_primitives::OpTxEnvelope;
use ol_txpool::{PoolConfig, TxPool};
use std::sync::Arc;

#[test]
fn the_nodes_own_blocks_round_trip_through_gossip() {
    let dir = tempfile::tempdir().unwrap();
    let storage = ol_storage::Storage::open(dir.path()).unwrap();
    let now = 1_700_000_000;
    let spec = ol_primitives::dev::dev_chain_spec(None, now).unwrap();
    storage.init_genesis(&spec).unwrap();
    let chain = Chain::new(storage, None).unwrap();
    let pool = Arc::new(TxPool::new(PoolConfig::default(), chain.chain_id()));
    let sequencer = Sequencer::new(
        chain.clone(),
        pool.clone(),
        SequencerConfig { block_time: 1 },
    );
    let signers = ol_primitives::dev::dev_signers();
    let tx = TxEip1559 {
        chain_id: chain.chain_id(),
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(7),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let signature = signers[0].sign_hash_sync(&tx.signature_hash()).unwrap();
    let raw = OpTxEnvelope::Eip1559(tx.into_signed(signature)).encoded_2718();
    pool.add_raw(&raw, chain.as_ref()).unwrap();
    sequencer.produce_block().unwrap();
    sequencer.produce_block().unwrap();

    let unsafe_signer = &signers[5];
    let mut validator = Validator::new(chain.chain_id(), unsafe_signer.address());
    for number in 1..=2 {
        let header = chain.storage().header_by_number(number).unwrap().unwrap();
        let body = chain.storage().body(number).unwrap().unwrap();
        let message =
            encode_block(&header, &body.transactions, unsafe_signer, chain.chain_id()).unwrap();
        let decoded = decode_block(&message, chain.chain_id()).unwrap();
        assert_eq!(decoded.header.hash(), header.hash(), "block {number}");
        assert_eq!(decoded.header.inner(), header.inner());
        assert_eq!(decoded.transactions, body.transactions);
        assert_eq!(decoded.signer, unsafe_signer.address());
        match validator.validate(&message, header.timestamp) {
            Verdict::Accept(block) => assert_eq!(block.header.hash(), header.hash()),
            other => panic!("block {number}: {other:?}"),
        }
        let forged =
            encode_block(&header, &body.transactions, &signers[6], chain.chain_id()).unwrap();
        assert_eq!(
            validator.validate(&forged, header.timestamp),
            Verdict::Reject(Rejection::WrongSigner)
        );
    }
    assert_eq!(
        chain.storage().body(1).unwrap().unwrap().transactions.len(),
        2
    );
}
