//! The ceiling: the same transactions through this node's own pool and block production in
//! process, with no JSON-RPC and no clock (blocks are sealed back to back), on a RocksDB in a
//! temporary directory. What the node could do if submission cost nothing.

use super::workload::{SignedTx, Workload};
use eyre::{WrapErr, bail};
use ol_chain::{Chain, Sequencer, SequencerConfig};
use ol_txpool::{PoolConfig, TxPool};
use std::{
    sync::Arc,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

/// What one phase measured in process.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(crate) struct CeilingResult {
    /// Transactions mined.
    pub(crate) included: usize,
    /// Seconds to admit them to the pool (decoding, signature recovery, validation).
    pub(crate) admission_seconds: f64,
    /// Seconds to build, execute, compute the state root of and commit the blocks.
    pub(crate) block_seconds: f64,
    /// Blocks produced.
    pub(crate) blocks: u64,
    /// Mined transactions per second of block production.
    pub(crate) tx_per_s: f64,
    /// Millions of gas per second of block production.
    pub(crate) mgas_per_s: f64,
}

pub(super) struct InProcess {
    pub(super) chain: Arc<Chain>,
    pool: Arc<TxPool>,
    sequencer: Sequencer,
    _dir: tempfile::TempDir,
}

impl InProcess {
    pub(super) fn new(gas_limit: u64) -> eyre::Result<Self> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |now| now.as_secs());
        Self::with_genesis_time(gas_limit, now)
    }

    /// A dev chain whose genesis is at `genesis_time` (two nodes of one chain share it).
    pub(super) fn with_genesis_time(gas_limit: u64, genesis_time: u64) -> eyre::Result<Self> {
        let dir = tempfile::tempdir()?;
        let storage = ol_storage::Storage::open(&dir.path().join("db"))?;
        let spec = ol_primitives::dev::dev_chain_spec(None, genesis_time)?;
        storage.init_genesis(&spec)?;
        let chain = Chain::new(storage, Some(gas_limit))?;
        let pool = Arc::new(TxPool::new(
            PoolConfig {
                max_account_slots: usize::MAX,
                pending_max_count: usize::MAX,
                queued_max_count: usize::MAX,
                // A phase is admitted whole before its blocks are produced.
                max_nonce_gap: u64::MAX,
                ..PoolConfig::default()
            },
            chain.chain_id(),
        ));
        let sequencer = Sequencer::new(
            chain.clone(),
            pool.clone(),
            SequencerConfig { block_time: 1 },
        );
        Ok(Self {
            chain,
            pool,
            sequencer,
            _dir: dir,
        })
    }

    pub(super) fn admit(&self, txs: &[SignedTx]) -> eyre::Result<()> {
        for tx in txs {
            self.pool
                .add_raw(&tx.raw, self.chain.as_ref())
                .wrap_err_with(|| format!("the pool refused {}", tx.hash))?;
        }
        Ok(())
    }

    /// Produces blocks until the pool is empty; returns (transactions, gas, blocks).
    pub(super) fn drain(&self) -> eyre::Result<(usize, u64, u64)> {
        let (mut txs, mut gas, mut blocks) = (0, 0, 0);
        while self.pool.status().pending > 0 {
            self.sequencer.produce_block()?;
            let head = self.chain.head();
            let body = self
                .chain
                .storage()
                .body(head.number)?
                .map_or(0, |body| body.transactions.len());
            // The L1-info deposit is not a benchmark transaction.
            let user = body.saturating_sub(1);
            if user == 0 {
                bail!(
                    "a block took nothing from a non-empty pool: {:?}",
                    self.pool.status()
                );
            }
            txs += user;
            gas += head.gas_used;
            blocks += 1;
        }
        Ok((txs, gas, blocks))
    }
}

/// Runs the setup, then each phase, in process.
pub(crate) fn run(workload: &Workload, gas_limit: u64) -> eyre::Result<Vec<CeilingResult>> {
    let node = InProcess::new(gas_limit)?;
    node.admit(&workload.setup)?;
    node.drain()?;
    let mut results = Vec::new();
    for (_, txs) in &workload.phases {
        let started = Instant::now();
        node.admit(txs)?;
        let admission_seconds = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let (included, gas, blocks) = node.drain()?;
        let block_seconds = started.elapsed().as_secs_f64();
        results.push(CeilingResult {
            included,
            admission_seconds,
            block_seconds,
            blocks,
            tx_per_s: included as f64 / block_seconds,
            mgas_per_s: gas as f64 / 1e6 / block_seconds,
        });
    }
    Ok(results)
}
