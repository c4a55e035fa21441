//! The block production loop.

use crate::{
    Chain, ChainError,
    epochs::{DevEpochs, EpochSource, NextBlock},
};
use ol_evm::{BestTransactions, SkipReason, next_block_base_fee};
use ol_txpool::TxPool;
use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tokio::sync::watch;
use tracing::{error, info, warn};

/// Sequencer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequencerConfig {
    /// Seconds between blocks.
    pub block_time: u64,
}

/// Builds, seals and commits blocks on a timer.
#[derive(Debug)]
pub struct Sequencer<E = DevEpochs> {
    chain: Arc<Chain>,
    pool: Arc<TxPool>,
    config: SequencerConfig,
    epochs: E,
}

impl Sequencer<DevEpochs> {
    /// A sequencer over `chain` without L1: every block on the genesis L1 origin.
    pub const fn new(chain: Arc<Chain>, pool: Arc<TxPool>, config: SequencerConfig) -> Self {
        Self::with_epochs(chain, pool, config, DevEpochs)
    }

    /// Builds the next block on the head now, commits it and announces it.
    pub fn produce_block(&self) -> Result<(), ChainError> {
        let parent = self.chain.head();
        let next = DevEpochs::next(
            &self.chain,
            &parent,
            parent.timestamp + self.config.block_time,
        );
        self.produce(next)
    }
}

impl<E: EpochSource> Sequencer<E> {
    /// A sequencer over `chain`, taking transactions from `pool` and L1 origins from `epochs`.
    pub const fn with_epochs(
        chain: Arc<Chain>,
        pool: Arc<TxPool>,
        config: SequencerConfig,
        epochs: E,
    ) -> Self {
        Self {
            chain,
            pool,
            config,
            epochs,
        }
    }

    /// Produces a block each time the wall clock reaches the next slot, until `shutdown` flips.
    /// A block that cannot be built (no valid L1 origin yet, an execution failure) is logged and
    /// retried; storage errors end the loop, since a node that cannot write must not pretend to
    /// sequence.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> Result<(), ChainError> {
        let this = Arc::new(self);
        loop {
            let parent = this.chain.head();
            let timestamp = parent.timestamp + this.config.block_time;
            let wait = Duration::from_secs(timestamp).saturating_sub(unix_now());
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return Ok(()),
            }
            let parent_info = this.chain.head_l1_info();
            let next = match this
                .epochs
                .next_block(&this.chain, &parent, &parent_info, timestamp)
                .await
            {
                Ok(next) => next,
                Err(err) => {
                    warn!(%err, number = parent.number + 1, "cannot start the next block; retrying");
                    metrics::counter!("sequencer_origin_errors_total").increment(1);
                    let reorged = matches!(err, ChainError::L1Reorged(_))
                        || this.epochs.is_canonical(&parent_info.origin).await == Some(false);
                    if reorged {
                        match this.reorg().await {
                            Ok(()) => continue,
                            Err(ChainError::Storage(err)) => return Err(ChainError::Storage(err)),
                            Err(err) => error!(%err, "cannot unwind the reorged blocks"),
                        }
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        _ = shutdown.changed() => return Ok(()),
                    }
                }
            };
            let worker = this.clone();
            let produced = this
                .chain
                .on_chain_thread(move || worker.produce(next))
                .await
                .and_then(|produced| produced);
            match produced {
                Ok(()) => {}
                Err(ChainError::Storage(err)) => {
                    error!(%err, "storage failed; stopping the sequencer");
                    return Err(ChainError::Storage(err));
                }
                Err(err) => {
                    error!(%err, "block production failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// Unwinds the blocks whose L1 origin left the canonical L1 chain (op-node's sequencer
    /// reorg), never below the finalized head, and puts their transactions back into the pool
    /// so that the re-sequenced chain carries them again. Only storage errors are returned;
    /// an L1 that does not answer leaves the chain as it is, to be tried again.
    async fn reorg(&self) -> Result<(), ChainError> {
        let chain = &self.chain;
        let floor = chain.finalized_number();
        let mut target = chain.head().number;
        let mut checked: Option<(alloy_primitives::B256, bool)> = None;
        while target > floor {
            let header = chain
                .storage()
                .header_by_number(target)?
                .ok_or(ChainError::MissingBlock(target))?;
            let origin = chain.l1_info_of(&header)?.origin;
            let canonical = match checked {
                // Consecutive blocks share their origin: one L1 request per epoch.
                Some((hash, canonical)) if hash == origin.hash => canonical,
                _ => match self.epochs.is_canonical(&origin).await {
                    Some(canonical) => canonical,
                    None => return Ok(()),
                },
            };
            checked = Some((origin.hash, canonical));
            if canonical {
                break;
            }
            target -= 1;
        }
        if target == chain.head().number {
            return Ok(());
        }
        let worker = chain.clone();
        let unwound = chain
            .on_chain_thread(move || worker.unwind_to(target))
            .await??;
        let requeued = crate::unwind::requeue(&self.pool, chain, &unwound);
        warn!(
            from = unwound.report.from,
            to = target,
            transactions = unwound.transactions.len(),
            requeued,
            "L1 origin reorged away: unwound the unsafe blocks built on it"
        );
        metrics::counter!("sequencer_reorgs_total").increment(1);
        Ok(())
    }

    /// Builds the block `next` describes on the head, with pool transactions unless it must be
    /// empty, commits it and announces it.
    fn produce(&self, next: NextBlock) -> Result<(), ChainError> {
        let chain = &self.chain;
        let parent = chain.head();
        let base_fee = next_block_base_fee(parent.inner())?;
        let committed = if next.include_transactions {
            let mut best = self.pool.best_transactions(base_fee);
            chain.build_and_commit(&parent, &next.attributes, &mut best)?
        } else {
            warn!(
                number = parent.number + 1,
                "past the max sequencer drift: the block leaves the pool out"
            );
            chain.build_and_commit(&parent, &next.attributes, &mut NoTransactions)?
        };
        self.pool.on_block(&committed.senders, chain.as_ref());
        let header = &committed.header;
        info!(
            number = header.number,
            hash = %header.hash(),
            txs = committed.user_transactions,
            deposits = committed.deposits - 1,
            l1_origin = next.attributes.l1_info.origin.number,
            gas = header.gas_used,
            base_fee,
            elapsed_ms = (committed.timings.execution + committed.timings.state_root + committed.timings.commit).as_millis() as u64,
            "sealed block"
        );
        metrics::gauge!("chain_head_number").set(header.number as f64);
        metrics::gauge!("sequencer_l1_origin_number")
            .set(next.attributes.l1_info.origin.number as f64);
        let timings = committed.timings;
        metrics::histogram!("sequencer_block_execution_seconds")
            .record(timings.execution.as_secs_f64());
        metrics::histogram!("sequencer_block_state_root_seconds")
            .record(timings.state_root.as_secs_f64());
        metrics::histogram!("sequencer_block_commit_seconds").record(timings.commit.as_secs_f64());
        metrics::histogram!("sequencer_block_transactions")
            .record(committed.user_transactions as f64);
        metrics::histogram!("sequencer_block_gas_used").record(header.gas_used as f64);
        Ok(())
    }
}

/// The transaction source of a block that must stay empty.
#[derive(Debug)]
struct NoTransactions;

impl BestTransactions for NoTransactions {
    fn next_transaction(
        &mut self,
    ) -> Option<alloy_consensus::transaction::Recovered<ol_primitives::OpTxEnvelope>> {
        None
    }

    fn skip(
        &mut self,
        _tx: &alloy_consensus::transaction::Recovered<ol_primitives::OpTxEnvelope>,
        _reason: SkipReason,
        _detail: &str,
    ) {
    }
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}
