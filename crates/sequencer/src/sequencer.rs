//! The block production loop.

use crate::{Chain, NewBlock, SequencerError};
use alloy_consensus::Sealable;
use alloy_primitives::B256;
use ol_evm::{PayloadAttributes, next_block_base_fee};
use ol_primitives::{L1BlockInfo, addresses::SEQUENCER_FEE_VAULT, genesis::jovian_extra_data};
use ol_storage::{BlockBody, StateChanges, StateProviderDb};
use ol_txpool::TxPool;
use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tokio::sync::watch;
use tracing::{error, info};

/// Sequencer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequencerConfig {
    /// Seconds between blocks.
    pub block_time: u64,
}

/// Builds, seals and commits blocks on a timer.
#[derive(Debug)]
pub struct Sequencer {
    chain: Arc<Chain>,
    pool: Arc<TxPool>,
    config: SequencerConfig,
}

impl Sequencer {
    /// A sequencer over `chain`, taking transactions from `pool`.
    pub const fn new(chain: Arc<Chain>, pool: Arc<TxPool>, config: SequencerConfig) -> Self {
        Self {
            chain,
            pool,
            config,
        }
    }

    /// Produces a block each time the wall clock reaches the next slot, until `shutdown` flips.
    /// A block that fails to build is logged and retried at the next tick; storage errors end
    /// the loop, since a node that cannot write must not pretend to sequence.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> Result<(), SequencerError> {
        let this = Arc::new(self);
        loop {
            let next = this.chain.head().timestamp + this.config.block_time;
            let wait = Duration::from_secs(next).saturating_sub(unix_now());
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return Ok(()),
            }
            let worker = this.clone();
            match tokio::task::spawn_blocking(move || worker.produce_block()).await {
                Ok(Ok(())) => {}
                Ok(Err(SequencerError::Storage(err))) => {
                    error!(%err, "storage failed; stopping the sequencer");
                    return Err(SequencerError::Storage(err));
                }
                Ok(Err(err)) => {
                    error!(%err, "block production failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(join) => error!(%join, "block production panicked"),
            }
        }
    }

    /// Builds the next block on the head, commits it and announces it.
    pub fn produce_block(&self) -> Result<(), SequencerError> {
        let started = Instant::now();
        let chain = &self.chain;
        let parent = chain.head();
        let number = parent.number + 1;
        let system_config = chain.spec().system_config();
        // Without an L1 connection the origin stays at the genesis L1 block, so the whole chain
        // is one epoch and the sequence number is the block number.
        let l1_info = L1BlockInfo::new(chain.genesis_l1_origin(), number, system_config);
        let attributes = PayloadAttributes {
            timestamp: parent.timestamp + self.config.block_time,
            prev_randao: B256::ZERO,
            fee_recipient: SEQUENCER_FEE_VAULT,
            gas_limit: chain.gas_limit(),
            l1_info: l1_info.clone(),
            deposits: Vec::new(),
            parent_beacon_block_root: B256::ZERO,
            extra_data: jovian_extra_data(system_config),
        };
        let base_fee = next_block_base_fee(parent.inner())?;
        let mut best = self.pool.best_transactions(base_fee);
        let built = chain.evm().build_block(
            StateProviderDb::new(chain.storage().clone()),
            &parent,
            &attributes,
            &mut best,
        )?;
        drop(best);
        let executed = started.elapsed();

        let root_started = Instant::now();
        let prepared = chain
            .storage()
            .prepare_state(&StateChanges::from_bundle(&built.bundle))?;
        let mut header = built.header;
        header.state_root = prepared.state_root;
        header.withdrawals_root = Some(prepared.withdrawals_root);
        let header = header.seal_slow();
        let state_root_time = root_started.elapsed();
        let body = BlockBody {
            transactions: built.transactions,
            senders: built.senders,
        };
        let commit_started = Instant::now();
        chain
            .storage()
            .commit_block(&header, &body, &built.receipts, &prepared)?;
        let committed = commit_started.elapsed();

        self.pool.on_block(&body.senders, chain.as_ref());
        let user_txs = body.transactions.len() - 1;
        info!(
            number,
            hash = %header.hash(),
            txs = user_txs,
            gas = header.gas_used,
            base_fee,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "sealed block"
        );
        metrics::gauge!("chain_head_number").set(number as f64);
        metrics::histogram!("sequencer_block_execution_seconds").record(executed.as_secs_f64());
        metrics::histogram!("sequencer_block_state_root_seconds")
            .record(state_root_time.as_secs_f64());
        metrics::histogram!("sequencer_block_commit_seconds").record(committed.as_secs_f64());
        metrics::histogram!("sequencer_block_transactions").record(user_txs as f64);
        metrics::histogram!("sequencer_block_gas_used").record(header.gas_used as f64);
        chain.advance(
            NewBlock {
                header,
                transactions: body.transactions,
                receipts: built.receipts,
            },
            l1_info,
        );
        Ok(())
    }
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}
