//! The `Sequencer`: dev blocks on the genesis L1 origin, pool transactions in them, and the
//! block loop following a `MemoryL1`.

use crate::common::{GENESIS_TIME, PORTAL, RECIPIENT, deposit_log, dev_chain, encode, transfer};
use alloy_primitives::{Address, U256};
use ol_chain::{Chain, L1Epochs, Sequencer, SequencerConfig};
use ol_l1::{
    L1View,
    test_utils::{MEMORY_L1_GENESIS_TIME, MemoryL1},
};
use ol_primitives::dev::dev_signer;
use ol_txpool::{PoolConfig, TxPool};
use std::{sync::Arc, time::Duration};
use tokio::sync::watch;

const CONFIG: SequencerConfig = SequencerConfig { block_time: 1 };

/// Origin number and sequence number of stored block `number`, decoded from its L1-info deposit.
fn stored_l1_info(chain: &Chain, number: u64) -> (u64, u64) {
    let header = chain.storage().header_by_number(number).unwrap().unwrap();
    let info = chain.l1_info_of(&header).unwrap();
    (info.origin.number, info.sequence_number)
}

#[test]
fn dev_blocks_stay_on_the_genesis_origin_and_include_pool_transactions() {
    let (_dir, chain) = dev_chain();
    let pool = Arc::new(TxPool::new(PoolConfig::default(), chain.chain_id()));
    let sequencer = Sequencer::new(chain.clone(), pool.clone(), CONFIG);

    sequencer.produce_block().unwrap();
    sequencer.produce_block().unwrap();
    let signer = dev_signer(3);
    let tx = transfer(&signer, chain.chain_id(), 0, 42);
    let hash = pool.add_raw(&encode(&tx), chain.as_ref()).unwrap();
    assert_eq!(hash, tx.tx_hash());
    assert_eq!(pool.status().pending, 1);
    sequencer.produce_block().unwrap();
    sequencer.produce_block().unwrap();

    let head = chain.head();
    assert_eq!(head.number, 4);
    assert_eq!(head.timestamp, GENESIS_TIME + 4);
    let genesis_origin = chain.genesis_l1_origin();
    for number in 1..=4 {
        assert_eq!(
            stored_l1_info(&chain, number),
            (genesis_origin.number, number),
            "block {number}"
        );
    }
    assert_eq!(chain.head_l1_info().origin, genesis_origin);

    let body = |number| chain.storage().body(number).unwrap().unwrap();
    assert_eq!(body(2).transactions.len(), 1, "only the L1-info deposit");
    let with_tx = body(3);
    assert_eq!(with_tx.transactions.len(), 2);
    assert_eq!(with_tx.transactions[1].tx_hash(), hash);
    assert_eq!(with_tx.senders[1], signer.address());
    let receipts = chain.storage().receipts(3).unwrap().unwrap();
    assert!(receipts[1].status(), "the transfer succeeded");
    assert_eq!(body(4).transactions.len(), 1, "the pool is drained");
    assert_eq!(pool.status().pending, 0);
    assert!(pool.get(&hash).is_none());
    assert_eq!(
        chain
            .storage()
            .account(&RECIPIENT)
            .unwrap()
            .map(|a| a.balance),
        Some(U256::from(42))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_follows_l1_epochs_and_stops_on_shutdown() {
    let l1 = Arc::new(MemoryL1::new(900));
    let genesis_l1 = l1.block(0).unwrap();
    let mut spec = crate::common::dev_spec(MEMORY_L1_GENESIS_TIME);
    spec.rollup.genesis.l1 = genesis_l1.id();
    spec.rollup.deposit_contract_address = PORTAL;
    let dir = tempfile::tempdir().unwrap();
    let chain = crate::common::open_chain(dir.path(), &spec);
    let alice = Address::repeat_byte(0xa1);
    l1.mine_with(vec![deposit_log(Address::repeat_byte(0xd0), alice, 11)]);
    let b2 = l1.mine(1);
    let (_view_tx, view_rx) = watch::channel(L1View {
        head: Some(b2),
        ..L1View::default()
    });
    let pool = Arc::new(TxPool::new(PoolConfig::default(), chain.chain_id()));
    let epochs = L1Epochs::new(l1.clone(), view_rx);
    let sequencer = Sequencer::with_epochs(chain.clone(), pool, CONFIG, epochs);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut blocks = chain.subscribe();
    // The genesis is in the past: the loop builds block after block without waiting.
    let running = tokio::spawn(sequencer.run(shutdown_rx));
    tokio::time::timeout(Duration::from_secs(120), async {
        while blocks.recv().await.unwrap().header.number < 30 {}
    })
    .await
    .expect("30 blocks within two minutes");
    shutdown_tx.send_replace(true);
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the loop stops")
        .unwrap()
        .unwrap();

    // One block per second from the L1 genesis time; epochs change every 12 seconds.
    for number in 1..=30 {
        let expected = match number {
            1..=11 => (0, number),
            12..=23 => (1, number - 12),
            _ => (2, number - 24),
        };
        assert_eq!(stored_l1_info(&chain, number), expected, "block {number}");
    }
    let deposits = |number| {
        chain
            .storage()
            .body(number)
            .unwrap()
            .unwrap()
            .transactions
            .len()
    };
    assert_eq!((deposits(11), deposits(12), deposits(13)), (1, 2, 1));
    assert_eq!(
        chain.storage().account(&alice).unwrap().map(|a| a.balance),
        Some(U256::from(11))
    );
}
