//! The proposer against a real L1: anvil, the rollup contracts deployed with
//! `ol_l1::deploy_rollup`, an L2 chain of real blocks built by the sequencer on the genesis that
//! deployment describes, and the outputs read back from the `L2OutputOracle`.
#![allow(missing_docs)]

use alloy::{
    primitives::{Address, B256, TxKind, U256},
    providers::Provider,
    sol_types::SolCall,
};
use ol_chain::{Chain, Sequencer, SequencerConfig};
use ol_l1::{
    BlockTag, GasQuery, HttpL1Client, L1Client, RollupDeployParams, anvil::Anvil,
    contracts::L2OutputOracle, deploy_rollup,
};
use ol_primitives::dev::{DEV_CHAIN_ID, dev_signer};
use ol_proposer::{Proposer, ProposerConfig, ProposerError};
use ol_storage::Storage;
use ol_txpool::{PoolConfig, TxPool};
use std::{sync::Arc, time::Duration};
use tokio::sync::watch;

/// Reads output `index` from the oracle: (output root, L2 block number).
async fn l2_output(client: &HttpL1Client, oracle: Address, index: u64) -> (B256, u128) {
    let query = GasQuery {
        from: Address::ZERO,
        to: TxKind::Call(oracle),
        value: U256::ZERO,
        input: L2OutputOracle::getL2OutputCall {
            index: U256::from(index),
        }
        .abi_encode()
        .into(),
    };
    let raw = client.call(query, BlockTag::Latest).await.unwrap();
    let output = L2OutputOracle::getL2OutputCall::abi_decode_returns(&raw).unwrap();
    (output.outputRoot, output.l2BlockNumber)
}

async fn next_block_number(client: &HttpL1Client, oracle: Address) -> u64 {
    let query = GasQuery {
        from: Address::ZERO,
        to: TxKind::Call(oracle),
        value: U256::ZERO,
        input: L2OutputOracle::nextBlockNumberCall {}.abi_encode().into(),
    };
    let raw = client.call(query, BlockTag::Latest).await.unwrap();
    L2OutputOracle::nextBlockNumberCall::abi_decode_returns(&raw)
        .unwrap()
        .to::<u64>()
}

fn config(oracle: Address) -> ProposerConfig {
    ProposerConfig {
        poll_interval: Duration::from_millis(50),
        receipt_timeout: Duration::from_secs(20),
        max_backoff: Duration::from_millis(200),
        ..ProposerConfig::new(oracle)
    }
}

#[tokio::test]
async fn outputs_of_safe_blocks_land_in_the_oracle_and_a_restart_continues() {
    let anvil = Anvil::start().await;
    let client = anvil.client();
    let proposer_key = dev_signer(9);
    let params = RollupDeployParams::dev(
        DEV_CHAIN_ID,
        dev_signer(8).address(),
        proposer_key.address(),
    );
    let deployed = deploy_rollup(&client, &dev_signer(0), &params)
        .await
        .unwrap();
    let oracle = deployed.output_oracle;
    assert_eq!(next_block_number(&client, oracle).await, 10);

    // The L2 chain of this deployment, 25 blocks of it.
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    let spec = deployed.dev_chain_spec(&params).unwrap();
    storage.init_genesis(&spec).unwrap();
    let chain = Chain::new(storage.clone(), None).unwrap();
    let pool = Arc::new(TxPool::new(PoolConfig::default(), DEV_CHAIN_ID));
    let sequencer = Sequencer::new(chain, pool, SequencerConfig { block_time: 1 });
    let produce = |count: u64| {
        for _ in 0..count {
            sequencer.produce_block().unwrap();
        }
    };
    produce(25);

    // A key that is not the oracle's proposer is refused before anything is sent.
    let mut foreign = Proposer::new(
        config(oracle),
        storage.clone(),
        client.clone(),
        dev_signer(0),
    );
    assert!(matches!(
        foreign.step(25).await,
        Err(ProposerError::NotProposer { .. })
    ));

    let mut proposer = Proposer::new(
        config(oracle),
        storage.clone(),
        client.clone(),
        proposer_key.clone(),
    );
    // Block 10 is stamped 10 s after the anchor; until L1 is past that, nothing is proposed.
    let head = client.block_ref(BlockTag::Latest).await.unwrap();
    if head.timestamp <= deployed.block.timestamp + 10 {
        assert_eq!(proposer.step(25).await.unwrap(), None);
        assert_eq!(next_block_number(&client, oracle).await, 10);
    }
    let provider = anvil.provider();
    let _: serde_json::Value = provider
        .raw_request("evm_increaseTime".into(), (1000u64,))
        .await
        .unwrap();
    let _: serde_json::Value = provider
        .raw_request("evm_mine".into(), Vec::<u64>::new())
        .await
        .unwrap();

    // Safe head 25: outputs for 10 and 20, then nothing (30 is not safe).
    for (index, block) in [(0u64, 10u64), (1, 20)] {
        let proposal = proposer.step(25).await.unwrap().expect("a proposal");
        let expected = storage.output_at(block).unwrap().unwrap();
        assert_eq!(proposal.l2_block_number, block);
        assert_eq!(proposal.output_root, expected.output_root);
        let (root, number) = l2_output(&client, oracle, index).await;
        assert_eq!(root, expected.output_root);
        assert_eq!(number, u128::from(block));
    }
    assert_eq!(proposer.step(25).await.unwrap(), None);
    assert_eq!(next_block_number(&client, oracle).await, 30);
    let nonce = client.nonce(proposer_key.address()).await.unwrap();

    // A restarted proposer takes up at the oracle's next block.
    drop(proposer);
    produce(10);
    let mut restarted = Proposer::new(
        config(oracle),
        storage.clone(),
        client.clone(),
        proposer_key.clone(),
    );
    assert_eq!(restarted.step(29).await.unwrap(), None);
    assert_eq!(client.nonce(proposer_key.address()).await.unwrap(), nonce);
    let proposal = restarted.step(35).await.unwrap().expect("a proposal");
    assert_eq!(proposal.l2_block_number, 30);
    let (root, number) = l2_output(&client, oracle, 2).await;
    assert_eq!(root, storage.output_at(30).unwrap().unwrap().output_root);
    assert_eq!(number, 30);

    // The loop follows the safe head and stops on shutdown.
    produce(20);
    let (safe_tx, safe) = watch::channel(35);
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(restarted.run(safe, stop));
    safe_tx.send(55).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while next_block_number(&client, oracle).await < 60 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the loop did not propose 40 and 50"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (index, block) in [(3u64, 40u64), (4, 50)] {
        let (root, number) = l2_output(&client, oracle, index).await;
        assert_eq!(number, u128::from(block));
        assert_eq!(root, storage.output_at(block).unwrap().unwrap().output_root);
    }
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("shutdown ends the loop")
        .unwrap()
        .unwrap();
}
