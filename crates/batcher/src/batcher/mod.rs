//! The batcher loop: sealed L2 blocks into channels, channels to DA (or L1 calldata on DA
//! failover), commitments to the batch inbox, and inclusion tracking that rewinds and rebuilds
//! whatever an L1 reorg or a channel timeout made derivation lose.
//!
//! One [`Batcher::step`] at L1 head `h`:
//! 1. sends transactions signed but not yet accepted by the endpoint (after a crash, or a failed
//!    send), and after a restart re-sends every signed transaction not seen included: the very
//!    same bytes, so an endpoint that already has one refuses it instead of mining it twice;
//! 2. reads the receipts of every signed transaction and checks their blocks are canonical; a
//!    transaction that was included and no longer is (L1 reorg), a failed one, or a channel not
//!    wholly included within `channel_timeout` L1 blocks makes the batcher rewind: that channel
//!    and every later one are dropped and their blocks batched again. Later channels go too
//!    because since Holocene derivation drops batches that are not the next block, so nothing
//!    after a lost channel can be used until it is replaced (op-batcher also rebuilds from the
//!    first lost block);
//! 3. adds the blocks sealed since the last step to the open channel, sealing it when full and
//!    when it is older than the configured age (L1 blocks or wall time);
//! 4. posts each sealed channel: all its frames in one DA payload (`0x00 ++ frames`, one DA put
//!    and one inbox transaction per channel, so a channel is never half-posted on L1 and the
//!    follower resolves one commitment to a whole channel), then `0x01 ++ commitment` to the
//!    inbox. When DA answers 503 the channel is re-framed into calldata-sized frames and each is
//!    posted as `0x00 ++ frame`, eigenda-proxy's failover.
//!
//! Every transition is persisted before it acts (see [`crate::store`]), so a restart at any
//! point neither loses nor repeats a block.

mod inclusion;
mod submit;

use crate::{
    BatcherConfig, BatcherError,
    blocks::{BlockMeta, read_block},
    store::{BatcherStore, ChannelRecord, Cursor},
};
use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::B256;
use ol_da::DaClient;
use ol_l1::{L1Client, L1Event};
use ol_primitives::RollupConfig;
use ol_rollup::{ChannelBuilder, ChannelConfig, ChannelId, SingleBatch, channel::AddBlockError};
use ol_storage::Storage;
use std::{
    collections::{BTreeMap, VecDeque},
    path::Path,
    time::Instant,
};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

/// What one step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepReport {
    /// Channels sealed.
    pub channels_sealed: u64,
    /// L2 blocks handed to sealed channels.
    pub blocks_batched: u64,
    /// Inbox transactions sent (re-sends included).
    pub txs_sent: u64,
    /// Channels posted as calldata because DA failed over.
    pub fallbacks: u64,
    /// L2 blocks rewound to be batched again (L1 reorg or channel timeout).
    pub blocks_rewound: u64,
    /// Channels finally included and forgotten.
    pub channels_done: u64,
}

/// The L1 head a step runs at after `event`. After a reorg the receipts are re-checked at once
/// (at the common ancestor); the new branch's heads follow as further events.
fn apply_event(head: &mut Option<u64>, event: L1Event) {
    match event {
        L1Event::NewHead(block) => *head = Some(block.number),
        L1Event::Reorg {
            common_ancestor, ..
        } => *head = Some(common_ancestor.number),
        L1Event::ReorgBeyondWindow { .. } => {}
    }
}

#[derive(Debug)]
struct OpenChannel {
    builder: ChannelBuilder,
    metas: Vec<BlockMeta>,
    opened_l1: u64,
    opened_at: Instant,
}

/// The batcher. Create it with [`Batcher::open`]; drive it with [`Batcher::run`] (from L1
/// watcher events) or [`Batcher::step`].
#[derive(Debug)]
pub struct Batcher<L, D> {
    config: BatcherConfig,
    rollup: RollupConfig,
    storage: Storage,
    store: BatcherStore,
    l1: L,
    da: D,
    signer: PrivateKeySigner,
    cursor: Cursor,
    channels: BTreeMap<u64, ChannelRecord>,
    open: Option<OpenChannel>,
    next_seq: u64,
    /// Set after opening: the first step re-sends every transaction not seen included.
    resend_unconfirmed: bool,
}

impl<L: L1Client, D: DaClient> Batcher<L, D> {
    /// Opens the batcher's database at `path` and resumes from it (from L2 genesis the first
    /// time). `signer` is the batcher key (the rollup's batcher address).
    pub fn open(
        path: &Path,
        config: BatcherConfig,
        rollup: RollupConfig,
        storage: Storage,
        l1: L,
        da: D,
        signer: PrivateKeySigner,
    ) -> Result<Self, BatcherError> {
        config.validate().map_err(BatcherError::Config)?;
        let store = BatcherStore::open(path)?;
        let cursor = match store.cursor()? {
            Some(cursor) => cursor,
            None => Cursor {
                number: 0,
                hash: storage.genesis_hash()?,
            },
        };
        let expected = rollup.genesis.system_config.batcher_addr;
        if signer.address() != expected {
            // Followers only read inbox transactions from the system config's batcher.
            warn!(batcher = %signer.address(), %expected, "the batcher key is not the rollup's batcher address: followers will ignore its transactions");
        }
        let channels = store.channels()?;
        let next_seq = channels.keys().next_back().map_or(0, |seq| seq + 1);
        info!(cursor = cursor.number, pending_channels = channels.len(), batcher = %signer.address(), "batcher opened");
        Ok(Self {
            config,
            rollup,
            storage,
            store,
            l1,
            da,
            signer,
            cursor,
            channels,
            open: None,
            next_seq,
            resend_unconfirmed: true,
        })
    }

    /// The last L2 block handed to a sealed channel.
    pub const fn cursor(&self) -> Cursor {
        self.cursor
    }

    /// Channels sealed and not yet finally included, by sequence number.
    pub const fn channels(&self) -> &BTreeMap<u64, ChannelRecord> {
        &self.channels
    }

    /// Runs steps on every L1 event and every `poll_interval` until `shutdown` turns true or the
    /// events end. Step failures are logged and retried at the next tick: the persisted state
    /// is always consistent.
    pub async fn run(
        mut self,
        mut events: mpsc::Receiver<L1Event>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut head: Option<u64> = None;
        let mut tick = tokio::time::interval(self.config.poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => return,
                event = events.recv() => {
                    let Some(event) = event else { return };
                    apply_event(&mut head, event);
                    // While L1 catches up, one step covers every event already queued.
                    while let Ok(event) = events.try_recv() {
                        apply_event(&mut head, event);
                    }
                }
                _ = tick.tick() => {}
            }
            let Some(l1_head) = head else { continue };
            if let Err(err) = self.step(l1_head).await {
                metrics::counter!("batcher_step_errors_total").increment(1);
                warn!(%err, l1_head, "batcher step failed; retrying");
            }
        }
    }

    /// One step at L1 head number `l1_head` (see the module documentation).
    pub async fn step(&mut self, l1_head: u64) -> Result<StepReport, BatcherError> {
        let mut report = StepReport::default();
        self.send_pending(&mut report).await?;
        self.track_inclusion(l1_head, &mut report).await?;
        self.build(l1_head, &mut report)?;
        self.submit_sealed(l1_head, &mut report).await?;
        Ok(report)
    }

    fn channel_config(&self) -> ChannelConfig {
        self.config.channel_config(&self.rollup)
    }

    /// The last block handed on: to the open channel, else to a sealed one.
    fn last_handed(&self) -> (u64, B256) {
        match self.open.as_ref().and_then(|open| open.metas.last()) {
            Some(meta) => (meta.number, meta.hash),
            None => (self.cursor.number, self.cursor.hash),
        }
    }

    fn build(&mut self, l1_head: u64, report: &mut StepReport) -> Result<(), BatcherError> {
        let head = self.storage.head_number()?;
        let (mut last, mut last_hash) = self.last_handed();
        if self.storage.canonical_hash(last)? != Some(last_hash) {
            self.on_unwound(report)?;
            (last, last_hash) = self.last_handed();
        }
        while last < head {
            let (meta, batch) = read_block(&self.storage, last + 1)?;
            if batch.parent_hash != last_hash {
                return Err(BatcherError::ChainChanged {
                    number: meta.number,
                    expected: last_hash,
                    found: batch.parent_hash,
                });
            }
            (last, last_hash) = (meta.number, meta.hash);
            self.add(meta, batch, l1_head, report)?;
        }
        let due = self.open.as_ref().is_some_and(|open| {
            l1_head
                >= open
                    .opened_l1
                    .saturating_add(self.config.max_channel_age_l1)
                || open.opened_at.elapsed() >= self.config.max_channel_age
        });
        if due {
            let returned = self.seal(report)?;
            for (meta, batch) in returned {
                self.add(meta, batch, l1_head, report)?;
            }
        }
        Ok(())
    }

    /// The chain was unwound under blocks already handed on (a reorg of the unsafe chain):
    /// every channel with a block above the safe head is dropped and those blocks batched
    /// again from the chain as it is now. Blocks up to the safe head are what derivation
    /// already confirmed from L1, so their batches stand; re-batching an unchanged block is
    /// harmless, derivation drops a batch for a block it already has.
    fn on_unwound(&mut self, report: &mut StepReport) -> Result<(), BatcherError> {
        let head = self.storage.head_number()?;
        let safe = self
            .storage
            .safe_head()?
            .map_or(0, |safe| safe.l2_number)
            .min(head);
        self.open = None;
        let first_stale = self
            .channels
            .values()
            .find(|record| record.last_block > safe)
            .map(|record| record.seq);
        match first_stale {
            Some(seq) => self.rewind(seq, report),
            None => {
                // Only the open channel held unwound blocks, or the cursor itself left the
                // chain (an operator unwound below it): start again from the chain's block.
                let number = self.cursor.number.min(safe);
                let hash = self
                    .storage
                    .canonical_hash(number)?
                    .ok_or(BatcherError::MissingBlock(number))?;
                if (number, hash) != (self.cursor.number, self.cursor.hash) {
                    self.cursor = Cursor { number, hash };
                    self.store.rewind([], self.cursor)?;
                }
                warn!(
                    cursor = number,
                    "the chain was unwound; batching again from the cursor"
                );
                Ok(())
            }
        }
    }

    fn add(
        &mut self,
        meta: BlockMeta,
        batch: SingleBatch,
        l1_head: u64,
        report: &mut StepReport,
    ) -> Result<(), BatcherError> {
        let config = self.channel_config();
        let mut queue = VecDeque::from([(meta, batch)]);
        while let Some((meta, batch)) = queue.pop_front() {
            let open = self.open.get_or_insert_with(|| OpenChannel {
                builder: ChannelBuilder::new(
                    ChannelId::from(rand::random::<[u8; 16]>()),
                    config,
                    l1_head,
                ),
                metas: Vec::new(),
                opened_l1: l1_head,
                opened_at: Instant::now(),
            });
            match open.builder.add_block(&batch, meta.starts_epoch) {
                Ok(()) => open.metas.push(meta),
                Err(AddBlockError::Full(_)) => {
                    let returned = self.seal(report)?;
                    queue.push_front((meta, batch));
                    for item in returned.into_iter().rev() {
                        queue.push_front(item);
                    }
                }
                Err(source) => {
                    return Err(BatcherError::Channel {
                        block: meta.number,
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    /// Seals the open channel and records it; returns the blocks it gave back.
    fn seal(
        &mut self,
        report: &mut StepReport,
    ) -> Result<Vec<(BlockMeta, SingleBatch)>, BatcherError> {
        let Some(OpenChannel {
            builder, mut metas, ..
        }) = self.open.take()
        else {
            return Ok(Vec::new());
        };
        let block = metas.last().map_or(0, |meta| meta.number);
        let Some(sealed) = builder
            .seal()
            .map_err(|source| BatcherError::Channel { block, source })?
        else {
            return Ok(Vec::new());
        };
        let returned_metas = metas.split_off(metas.len() - sealed.returned.len());
        let (Some(first), Some(last)) = (metas.first().copied(), metas.last().copied()) else {
            return Ok(returned_metas.into_iter().zip(sealed.returned).collect());
        };
        let data: Vec<u8> = sealed
            .frames
            .iter()
            .flat_map(|frame| frame.data.iter().copied())
            .collect();
        let record = ChannelRecord {
            seq: self.next_seq,
            id: sealed.id,
            first_block: first.number,
            last_block: last.number,
            data: data.into(),
            plan: None,
            submitted_at: None,
            txs: Vec::new(),
        };
        let cursor = Cursor {
            number: last.number,
            hash: last.hash,
        };
        self.store.seal(&record, cursor)?;
        info!(
            channel = record.seq, id = %record.id, first = first.number, last = last.number,
            rlp = sealed.rlp_len, compressed = sealed.compressed_len, "channel sealed"
        );
        let blocks = record.block_count();
        report.channels_sealed += 1;
        report.blocks_batched += blocks;
        metrics::counter!("batcher_channels_sealed_total").increment(1);
        metrics::counter!("batcher_blocks_batched_total").increment(blocks);
        self.next_seq += 1;
        self.cursor = cursor;
        self.channels.insert(record.seq, record);
        Ok(returned_metas.into_iter().zip(sealed.returned).collect())
    }
}
