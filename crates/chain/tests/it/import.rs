//! Importing another node's blocks (a follower taking the sequencer's gossiped blocks): the
//! blocks execute to the same hashes and state; a block whose parent is not the head, one already
//! held, one conflicting with a held block, and forgeries (wrong timestamp, transactions that do
//! not execute to the claimed hash) are each told apart, and a refused block writes nothing.

use crate::common::{dev_chain, encode, transfer};
use alloy_consensus::{Sealable, Sealed};
use ol_chain::{Chain, Imported, Sequencer, SequencerConfig};
use ol_primitives::{OpTxEnvelope, dev::dev_signer};
use ol_txpool::{PoolConfig, TxPool};
use std::sync::Arc;

fn block(chain: &Chain, number: u64) -> (Sealed<alloy_consensus::Header>, Vec<OpTxEnvelope>) {
    let header = chain.storage().header_by_number(number).unwrap().unwrap();
    let body = chain.storage().body(number).unwrap().unwrap();
    (header, body.transactions)
}

fn import(chain: &Chain, block: &(Sealed<alloy_consensus::Header>, Vec<OpTxEnvelope>)) -> Imported {
    chain
        .import_unsafe_block(&block.0, &block.1)
        .unwrap()
        .unwrap()
}

#[test]
fn a_follower_imports_the_sequencers_blocks_and_refuses_forgeries() {
    let (_dir, sequencer_chain) = dev_chain();
    let pool = Arc::new(TxPool::new(
        PoolConfig::default(),
        sequencer_chain.chain_id(),
    ));
    let sequencer = Sequencer::new(
        sequencer_chain.clone(),
        pool.clone(),
        SequencerConfig { block_time: 1 },
    );
    let signer = dev_signer(3);
    for nonce in 0..3 {
        let tx = transfer(&signer, sequencer_chain.chain_id(), nonce, 7 + nonce);
        pool.add_raw(&encode(&tx), sequencer_chain.as_ref())
            .unwrap();
        sequencer.produce_block().unwrap();
    }
    let blocks: Vec<_> = (1..=3).map(|n| block(&sequencer_chain, n)).collect();

    let (_follower_dir, follower) = dev_chain();
    // A follower with an L1: only derivation makes blocks safe.
    follower.update_sync(|sync| sync.l1_connected = true);
    assert!(matches!(
        import(&follower, &blocks[1]),
        Imported::NotOnHead { head: 0, .. }
    ));
    assert!(matches!(
        import(&follower, &blocks[0]),
        Imported::Applied(_)
    ));
    assert!(matches!(import(&follower, &blocks[0]), Imported::Known));

    // Block 2 one second late: refused before execution.
    let mut late = blocks[1].0.inner().clone();
    late.timestamp += 1;
    let late = late.seal_slow();
    let refused = follower
        .import_unsafe_block(&late, &blocks[1].1)
        .unwrap()
        .unwrap_err();
    assert!(refused.reason.contains("timestamp"), "{refused}");
    // Block 2's header with its transfer left out: executes, but not to that hash.
    let refused = follower
        .import_unsafe_block(&blocks[1].0, &blocks[1].1[..1])
        .unwrap()
        .unwrap_err();
    assert!(refused.reason.contains("executes to"), "{refused}");
    // Block 2 with block 1's transfer (a spent nonce): does not execute.
    let replayed = vec![blocks[1].1[0].clone(), blocks[0].1[1].clone()];
    let refused = follower
        .import_unsafe_block(&blocks[1].0, &replayed)
        .unwrap()
        .unwrap_err();
    assert!(refused.reason.contains("does not execute"), "{refused}");
    assert_eq!(
        follower.head().hash(),
        blocks[0].0.hash(),
        "nothing written"
    );

    assert!(matches!(
        import(&follower, &blocks[1]),
        Imported::Applied(_)
    ));
    assert!(matches!(
        import(&follower, &blocks[2]),
        Imported::Applied(_)
    ));
    assert_eq!(follower.head().hash(), sequencer_chain.head().hash());
    assert_eq!(
        follower.head().state_root,
        sequencer_chain.head().state_root
    );

    // The follower builds its own block 4; the sequencer's block 4 then conflicts with it.
    crate::common::commit_empty_blocks(&follower, 1);
    let tx = transfer(&signer, sequencer_chain.chain_id(), 3, 1);
    pool.add_raw(&encode(&tx), sequencer_chain.as_ref())
        .unwrap();
    sequencer.produce_block().unwrap();
    let fourth = block(&sequencer_chain, 4);
    assert_ne!(fourth.0.hash(), follower.head().hash());
    assert!(matches!(import(&follower, &fourth), Imported::Conflicts));
}
