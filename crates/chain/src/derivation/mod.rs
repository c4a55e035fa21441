//! The chain's safe head, from L1 + DA: the derivation pipeline driven against the chain.
//!
//! Each block the pipeline derives either is already in the chain (the sequencer's own block,
//! or one a follower derived before a restart), and is then checked field by field against what
//! derivation says it must be (op-node's consolidation), or is the next block, and is then
//! executed and committed (a follower). Either way it becomes the safe head. A batch whose
//! transactions do not all execute gives a block with only its deposits (Holocene). The safe
//! head is finalized once the L1 block it was derived from is finalized on L1.
//!
//! A stored block above the safe head that differs from the derived one (an unsafe block L1
//! does not confirm) is unwound with everything after it, and the derived block takes its place:
//! L1 wins, as op-node reorgs its unsafe chain onto the safe head.
//!
//! An L1 reorg shows up as the pipeline's origin leaving the canonical chain; the safe head then
//! steps back to the newest one derived from L1 blocks that are still canonical, and derivation
//! reads L1 again from there. Blocks after it stay in the chain and are confirmed again as their
//! batches reappear (the batcher resubmits what a reorg dropped). An unwind by someone else (the
//! sequencer after such a reorg) resets derivation the same way.

mod batch_txs;

pub use batch_txs::{BatchTransactions, InvalidBatchTx, recover_batch, recover_transactions};

use crate::{Chain, ChainError, Unwound};
use alloy_consensus::{Header, Sealed};
use alloy_eips::eip2718::Encodable2718;
use ol_da::DaClient;
use ol_derive::{DerivedBlock, L2BlockInfo, Pipeline, Step, reset_start};
use ol_l1::{L1BlockRef, L1Client, L1View};
use ol_primitives::OpTxEnvelope;
use ol_storage::DerivedHead;
use std::{collections::VecDeque, convert::Infallible, sync::Arc, time::Duration};
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

/// How long derivation waits for L1 when it has read everything it may.
const IDLE_WAIT: Duration = Duration::from_millis(500);
/// How long derivation waits after a failed step before trying it again.
const ERROR_WAIT: Duration = Duration::from_secs(1);
/// How many consumed L1 blocks are remembered for finalization and reorg recovery.
const CONSUMED_WINDOW: usize = 1024;

/// Drives derivation against the chain. Create with [`Derivation::new`], run with
/// [`Derivation::run`].
#[derive(Debug)]
pub struct Derivation<L, D> {
    chain: Arc<Chain>,
    l1: L,
    pipeline: Pipeline<L, D>,
    view: watch::Receiver<L1View>,
    /// L1 blocks fully read, oldest first, each with the safe head once it was read.
    consumed: VecDeque<(L1BlockRef, u64)>,
    /// Changes when the chain is unwound.
    unwinds: watch::Receiver<u64>,
    /// Called with what an unwind for a derived block took off the chain (a sequencer puts
    /// the transactions back into its pool).
    on_unwound: Option<UnwoundHandler>,
}

/// What derivation calls after it unwound unsafe blocks.
#[derive(Clone)]
pub struct UnwoundHandler(pub Arc<dyn Fn(&Unwound) + Send + Sync>);

impl std::fmt::Debug for UnwoundHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnwoundHandler")
    }
}

impl<L: L1Client + Clone, D: DaClient> Derivation<L, D> {
    /// Derivation over `chain` from its stored safe head (genesis the first time), reading L1
    /// through `l1` no further than the watcher's confirmed head in `view`.
    pub fn new(
        chain: Arc<Chain>,
        l1: L,
        da: D,
        view: watch::Receiver<L1View>,
    ) -> Result<Self, ChainError> {
        let rollup = chain.spec().rollup.clone();
        let safe = chain
            .storage()
            .safe_head()?
            .map_or(0, |head| head.l2_number)
            .min(chain.head().number);
        let safe_info = l2_info(&chain, safe)?;
        let start = reset_start(&rollup, safe_info.l1_origin.number);
        info!(safe, l1_start = start, "derivation starts");
        let mut pipeline = Pipeline::new(rollup, l1.clone(), da, safe_info, start)?;
        // A span batch that starts at or before the safe head (a restart mid-span, a batcher
        // re-posting blocks) is checked against the stored block before its start.
        let lookup_chain = chain.clone();
        pipeline.set_l2_lookup(Box::new(move |number| {
            (number <= lookup_chain.safe_number())
                .then(|| l2_info(&lookup_chain, number).ok())
                .flatten()
        }));
        chain.update_sync(|sync| sync.l1_connected = true);
        let unwinds = chain.subscribe_unwinds();
        Ok(Self {
            chain,
            l1,
            pipeline,
            view,
            consumed: VecDeque::new(),
            unwinds,
            on_unwound: None,
        })
    }

    /// Calls `handler` with the blocks each unwind for a derived block removed.
    pub fn on_unwound(mut self, handler: UnwoundHandler) -> Self {
        self.on_unwound = Some(handler);
        self
    }

    /// Derives until `shutdown` flips. Transient L1 and DA failures are retried; a derived block
    /// that contradicts the chain, or a storage failure, ends the loop with an error.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), ChainError> {
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            if self.unwinds.has_changed().unwrap_or(false) {
                self.unwinds.mark_unchanged();
                warn!(
                    head = self.chain.head().number,
                    "the chain was unwound; resetting derivation"
                );
                self.reset().await?;
            }
            let view = self.view.borrow().clone();
            self.publish(&view);
            self.finalize(view.finalized)?;
            let Some(limit) = view.head else {
                self.wait(&mut shutdown, IDLE_WAIT).await;
                continue;
            };
            match self.pipeline.step(limit.number).await {
                Ok(Step::Derived(block)) => {
                    let chain = self.chain.clone();
                    let applied = self
                        .chain
                        .on_chain_thread(move || apply(&chain, &block))
                        .await?;
                    let Applied {
                        info,
                        deposits_only,
                        unwound,
                    } = match applied {
                        Err(ChainError::Unwound(head)) => {
                            warn!(head, "the chain was unwound under derivation; resetting");
                            self.unwinds.mark_unchanged();
                            self.reset().await?;
                            continue;
                        }
                        other => other?,
                    };
                    if let Some(unwound) = unwound {
                        // Our own unwind: the pipeline is where it should be.
                        self.unwinds.mark_unchanged();
                        if let Some(handler) = &self.on_unwound {
                            (handler.0)(&unwound);
                        }
                    }
                    if deposits_only {
                        self.pipeline.on_deposits_only_replacement(info);
                    } else {
                        self.pipeline.on_block_executed(info);
                    }
                }
                Ok(Step::L1Consumed(l1)) => {
                    let safe = self.chain.safe_number();
                    debug!(l1 = l1.number, safe, "L1 block consumed");
                    if self.consumed.len() == CONSUMED_WINDOW {
                        self.consumed.pop_front();
                    }
                    self.consumed.push_back((l1, safe));
                    metrics::gauge!("derive_l1_consumed_number").set(l1.number as f64);
                }
                Ok(Step::Idle) => self.wait(&mut shutdown, IDLE_WAIT).await,
                Err(err) => {
                    metrics::counter!("derive_step_errors_total").increment(1);
                    if err.needs_reset() || self.origin_reorged().await {
                        warn!(%err, "L1 reorged under derivation; resetting");
                        self.reset().await?;
                    } else {
                        warn!(%err, "derivation step failed; retrying");
                        self.wait(&mut shutdown, ERROR_WAIT).await;
                    }
                }
            }
        }
    }

    fn publish(&self, view: &L1View) {
        let current = self.pipeline.origin();
        self.chain.update_sync(|sync| {
            sync.l1_connected = true;
            sync.current_l1 = current;
            sync.head_l1 = view.latest;
            sync.safe_l1 = view.safe;
            sync.finalized_l1 = view.finalized;
        });
    }

    /// Finalizes the newest safe head whose L1 block is at or below L1's finalized block.
    fn finalize(&mut self, finalized_l1: Option<L1BlockRef>) -> Result<(), ChainError> {
        let Some(finalized_l1) = finalized_l1 else {
            return Ok(());
        };
        let mut newest = None;
        while let Some(&(l1, safe)) = self.consumed.front() {
            if l1.number > finalized_l1.number {
                break;
            }
            newest = Some(DerivedHead {
                l2_number: safe,
                derived_from: l1.id(),
            });
            self.consumed.pop_front();
        }
        match newest {
            Some(head)
                if self
                    .chain
                    .sync_heads()
                    .finalized
                    .is_none_or(|old| old.l2_number < head.l2_number) =>
            {
                self.chain.set_finalized_head(head)
            }
            _ => Ok(()),
        }
    }

    async fn wait(&mut self, shutdown: &mut watch::Receiver<bool>, timeout: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(timeout) => {}
            _ = self.view.changed() => {}
            _ = shutdown.changed() => {}
        }
    }

    async fn canonical(&self, block: &L1BlockRef) -> Option<bool> {
        match self.l1.header_by_number(block.number).await {
            Ok(header) => Some(header.is_some_and(|header| header.hash == block.hash)),
            Err(_) => None,
        }
    }

    /// Whether the L1 block the pipeline reads left the canonical chain.
    async fn origin_reorged(&self) -> bool {
        match self.pipeline.origin() {
            Some(origin) => self.canonical(&origin).await == Some(false),
            None => false,
        }
    }

    /// Steps the safe head back to the newest one derived from still-canonical L1 blocks and
    /// restarts the pipeline there.
    async fn reset(&mut self) -> Result<(), ChainError> {
        while let Some((l1, _)) = self.consumed.back().copied() {
            match self.canonical(&l1).await {
                Some(true) => break,
                Some(false) => {
                    self.consumed.pop_back();
                }
                // L1 does not answer: try again later from the same state.
                None => return Ok(()),
            }
        }
        let mut safe = self.chain.safe_number();
        if let Some(&(l1, recorded)) = self.consumed.back() {
            safe = safe.min(recorded);
            self.chain.set_safe_head(DerivedHead {
                l2_number: safe,
                derived_from: l1.id(),
            })?;
        } else {
            // Nothing remembered (a restart): step back to a block whose L1 origin is canonical.
            loop {
                let info = l2_info(&self.chain, safe)?;
                let origin = L1BlockRef {
                    number: info.l1_origin.number,
                    hash: info.l1_origin.hash,
                    ..L1BlockRef::default()
                };
                match self.canonical(&origin).await {
                    Some(true) => break,
                    Some(false) if safe > 0 => safe -= 1,
                    Some(false) => break,
                    None => return Ok(()),
                }
            }
            let info = l2_info(&self.chain, safe)?;
            self.chain.set_safe_head(DerivedHead {
                l2_number: safe,
                derived_from: info.l1_origin,
            })?;
        }
        let info = l2_info(&self.chain, safe)?;
        let start = reset_start(&self.chain.spec().rollup, info.l1_origin.number);
        info!(safe, l1_start = start, "derivation reset");
        metrics::counter!("derive_resets_total").increment(1);
        self.pipeline.reset(info, start);
        Ok(())
    }
}

/// The derivation view of stored block `number`.
pub fn l2_info(chain: &Chain, number: u64) -> Result<L2BlockInfo, ChainError> {
    let header = chain
        .storage()
        .header_by_number(number)?
        .ok_or(ChainError::MissingBlock(number))?;
    l2_info_of(chain, &header)
}

fn l2_info_of(chain: &Chain, header: &Sealed<Header>) -> Result<L2BlockInfo, ChainError> {
    let info = chain.l1_info_of(header)?;
    Ok(L2BlockInfo {
        number: header.number,
        hash: header.hash(),
        parent_hash: header.parent_hash,
        timestamp: header.timestamp,
        l1_origin: ol_primitives::L1BlockRef {
            hash: info.origin.hash,
            number: info.origin.number,
        },
        sequence_number: info.sequence_number,
    })
}

/// What applying a derived block did.
struct Applied {
    /// The block as the pipeline tracks it.
    info: L2BlockInfo,
    /// Whether its batch did not execute and it kept only its deposits.
    deposits_only: bool,
    /// The unsafe blocks it replaced.
    unwound: Option<Unwound>,
}

/// Makes `block` part of the safe chain: consolidates it with the stored block of that number,
/// or executes it on the head, after unwinding a stored unsafe block that differs from it.
fn apply(chain: &Chain, block: &DerivedBlock) -> Result<Applied, ChainError> {
    let number = block.parent.number + 1;
    let derived_from = block.derived_from.id();
    let mut unwound = None;
    if let Some(stored) = chain.storage().header_by_number(number)? {
        match consolidate(chain, block, &stored) {
            Ok(()) => {
                chain.set_safe_head(DerivedHead {
                    l2_number: number,
                    derived_from,
                })?;
                metrics::counter!("derive_blocks_consolidated_total").increment(1);
                // Consolidation checked the stored block against these attributes.
                return Ok(Applied {
                    info: block.block_info(stored.hash()),
                    deposits_only: false,
                    unwound: None,
                });
            }
            Err(ChainError::DerivationMismatch { reason, .. })
                if stored.parent_hash == block.parent.hash =>
            {
                warn!(
                    number,
                    %reason,
                    stored = %stored.hash(),
                    "the unsafe block differs from the derived one; reorging to the derived chain"
                );
                metrics::counter!("derive_unsafe_reorgs_total").increment(1);
                unwound = Some(chain.unwind_to(number - 1)?);
            }
            Err(err) => return Err(err),
        }
    }
    let head = chain.head();
    if head.number + 1 < number {
        return Err(ChainError::Unwound(head.number));
    }
    if head.number + 1 != number || head.hash() != block.parent.hash {
        return Err(ChainError::DerivationMismatch {
            number,
            reason: format!(
                "derived on parent {} but the head is block {} ({})",
                block.parent.hash,
                head.number,
                head.hash()
            ),
        });
    }
    let expected = 1 + block.attributes.deposits.len() + block.transactions.len();
    let committed = match recover_batch(&block.transactions) {
        Ok(transactions) => {
            let mut source = BatchTransactions::new(transactions);
            let all_included = |built: &ol_evm::BuiltBlock| {
                (built.transactions.len() == expected)
                    .then_some(())
                    .ok_or(())
            };
            let committed = chain
                .build_and_commit_derived(
                    &head,
                    &block.attributes,
                    &mut source,
                    all_included,
                    derived_from,
                )?
                .ok();
            if committed.is_none() {
                warn!(
                    number,
                    reason = source.refused().unwrap_or("a transaction was left out"),
                    "batch does not execute; the block keeps only its deposits"
                );
            }
            committed
        }
        Err(invalid) => {
            warn!(number, %invalid, "batch is invalid; the block keeps only its deposits");
            None
        }
    };
    let (committed, deposits_only) = match committed {
        Some(committed) => (committed, false),
        None => {
            let deposits_only = chain.build_and_commit_derived(
                &head,
                &block.attributes,
                &mut BatchTransactions::new(Vec::new()),
                |_| Ok::<_, Infallible>(()),
                derived_from,
            )?;
            match deposits_only {
                Ok(committed) => (committed, true),
                Err(never) => match never {},
            }
        }
    };
    info!(
        number,
        hash = %committed.header.hash(),
        txs = committed.user_transactions,
        l1_origin = block.epoch.number,
        derived_from = block.derived_from.number,
        "derived block"
    );
    metrics::counter!("derive_blocks_executed_total").increment(1);
    metrics::gauge!("chain_head_number").set(number as f64);
    Ok(Applied {
        info: block.block_info(committed.header.hash()),
        deposits_only,
        unwound,
    })
}

/// Checks that the stored block is the one derivation produced.
fn consolidate(
    chain: &Chain,
    block: &DerivedBlock,
    stored: &Sealed<Header>,
) -> Result<(), ChainError> {
    let mismatch = |reason: String| {
        error!(number = stored.number, %reason, "a derived block contradicts the chain");
        ChainError::DerivationMismatch {
            number: stored.number,
            reason,
        }
    };
    let attributes = &block.attributes;
    let checks = [
        ("parent hash", stored.parent_hash == block.parent.hash),
        ("timestamp", stored.timestamp == attributes.timestamp),
        ("prevRandao", stored.mix_hash == attributes.prev_randao),
        (
            "fee recipient",
            stored.beneficiary == attributes.fee_recipient,
        ),
        ("gas limit", stored.gas_limit == attributes.gas_limit),
        ("extraData", stored.extra_data == attributes.extra_data),
        (
            "parent beacon root",
            stored.parent_beacon_block_root == Some(attributes.parent_beacon_block_root),
        ),
    ];
    if let Some((field, _)) = checks.iter().find(|(_, ok)| !ok) {
        return Err(mismatch(format!("{field} differs")));
    }
    let body = chain
        .storage()
        .body(stored.number)?
        .ok_or(ChainError::MissingBlock(stored.number))?;
    let expected = std::iter::once(OpTxEnvelope::Deposit(Sealed::new(
        attributes.l1_info.deposit_tx(),
    )))
    .chain(
        attributes
            .deposits
            .iter()
            .map(|deposit| OpTxEnvelope::Deposit(Sealed::new(deposit.clone()))),
    )
    .map(|tx| tx.encoded_2718())
    .chain(block.transactions.iter().map(|raw| raw.to_vec()));
    let stored_txs = body.transactions.iter().map(Encodable2718::encoded_2718);
    if !expected.eq(stored_txs) {
        return Err(mismatch("transactions differ".to_owned()));
    }
    Ok(())
}
