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

use crate::{
    BatcherConfig, BatcherError,
    blocks::{BlockMeta, read_block},
    store::{BatcherStore, ChannelRecord, Cursor, Plan, TxRecord},
};
use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::{B256, Bytes, U256};
use ol_da::{ALT_DA_TX_VERSION, DaClient};
use ol_l1::{
    L1Client, L1Error, L1Event,
    tx::{L1Call, send_signed, sign_call},
};
use ol_primitives::RollupConfig;
use ol_rollup::{
    ChannelBuilder, ChannelConfig, ChannelId, Frame, SingleBatch,
    channel::{AddBlockError, BatchMode, MAX_RLP_BYTES_PER_CHANNEL_FJORD},
    frame::encode_batcher_payload,
};
use ol_storage::Storage;
use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    path::Path,
    time::Instant,
};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

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

/// Splits compressed channel bytes into frames of at most `chunk` data bytes.
fn frames(id: ChannelId, data: &[u8], chunk: usize) -> Vec<Frame> {
    let count = data.len().div_ceil(chunk).max(1);
    (0..count)
        .map(|i| {
            let start = (i * chunk).min(data.len());
            let end = ((i + 1) * chunk).min(data.len());
            Frame {
                channel_id: id,
                // Bounded by `BatcherConfig::validate` (at most u16::MAX frames).
                number: i as u16,
                data: Bytes::copy_from_slice(&data[start..end]),
                is_last: i + 1 == count,
            }
        })
        .collect()
}

/// Sends a recorded transaction. A refusal means the endpoint already has it (a re-send) or
/// its nonce was taken; either way waiting for its receipt, and the channel timeout, decide.
async fn broadcast<L: L1Client>(l1: &L, tx: &mut TxRecord) -> Result<(), BatcherError> {
    let signed = ol_l1::tx::SignedCall {
        hash: tx.hash,
        nonce: tx.nonce,
        raw: tx.raw.clone(),
    };
    match send_signed(l1, &signed).await {
        Ok(_) => {}
        Err(L1Error::Rejected { message, .. }) => {
            debug!(hash = %tx.hash, %message, "endpoint refused a batcher transaction; waiting for its receipt");
        }
        Err(err) => return Err(err.into()),
    }
    tx.broadcast = true;
    metrics::counter!("batcher_l1_txs_total").increment(1);
    Ok(())
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
                event = events.recv() => match event {
                    None => return,
                    Some(L1Event::NewHead(block)) => head = Some(block.number),
                    // The receipts are re-checked at once; the new branch's heads follow.
                    Some(L1Event::Reorg { common_ancestor, .. }) => head = Some(common_ancestor.number),
                    Some(L1Event::ReorgBeyondWindow { .. }) => {}
                },
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

    async fn send_pending(&mut self, report: &mut StepReport) -> Result<(), BatcherError> {
        let resend = self.resend_unconfirmed;
        for record in self.channels.values_mut() {
            let mut changed = false;
            for tx in &mut record.txs {
                let resending = resend && tx.broadcast && tx.included.is_none();
                if tx.broadcast && !resending {
                    continue;
                }
                broadcast(&self.l1, tx).await?;
                if resending {
                    metrics::counter!("batcher_rebroadcasts_total").increment(1);
                }
                report.txs_sent += 1;
                changed = true;
            }
            if changed {
                self.store.update(record)?;
            }
        }
        self.resend_unconfirmed = false;
        Ok(())
    }

    async fn track_inclusion(
        &mut self,
        l1_head: u64,
        report: &mut StepReport,
    ) -> Result<(), BatcherError> {
        let timeout = self.rollup.channel_timeout;
        let mut canonical: HashMap<u64, Option<B256>> = HashMap::new();
        let mut rewind_from = None;
        for (&seq, record) in &mut self.channels {
            let mut changed = false;
            let mut lost = false;
            for tx in record.txs.iter_mut().filter(|tx| tx.broadcast) {
                let seen = match self.l1.receipt(tx.hash).await? {
                    Some(receipt) if !receipt.success => {
                        warn!(hash = %tx.hash, "batcher transaction failed on L1");
                        lost = true;
                        None
                    }
                    Some(receipt) => {
                        let number = receipt.block.number;
                        let hash = match canonical.get(&number) {
                            Some(hash) => *hash,
                            None => {
                                let hash = self.l1.header_by_number(number).await?.map(|h| h.hash);
                                canonical.insert(number, hash);
                                hash
                            }
                        };
                        (hash == Some(receipt.block.hash)).then_some(receipt.block)
                    }
                    None => None,
                };
                if tx.included.is_some() && seen.is_none() {
                    warn!(hash = %tx.hash, channel = seq, "batcher transaction dropped by an L1 reorg");
                    lost = true;
                }
                if seen != tx.included {
                    tx.included = seen;
                    changed = true;
                }
            }
            if changed {
                self.store.update(record)?;
            }
            let inclusion: Vec<u64> = record
                .txs
                .iter()
                .filter_map(|tx| tx.included.map(|b| b.number))
                .collect();
            let spread = match (inclusion.iter().min(), inclusion.iter().max()) {
                (Some(min), Some(max)) => max - min,
                _ => 0,
            };
            let timed_out = if record.fully_included() {
                // Derivation drops frames included more than the timeout after the first.
                spread > timeout
            } else {
                record
                    .submitted_at
                    .is_some_and(|at| l1_head > at.saturating_add(timeout))
            };
            if timed_out {
                warn!(channel = seq, id = %record.id, l1_head, "channel timed out before all of it was included");
            }
            if (lost || timed_out) && rewind_from.is_none() {
                rewind_from = Some(seq);
            }
        }
        if let Some(seq) = rewind_from {
            self.rewind(seq, report)?;
        }
        self.forget_final(l1_head, report)
    }

    fn rewind(&mut self, seq: u64, report: &mut StepReport) -> Result<(), BatcherError> {
        let first_block = self.channels[&seq].first_block;
        let parent = first_block - 1;
        let hash = self
            .storage
            .canonical_hash(parent)?
            .ok_or(BatcherError::MissingBlock(parent))?;
        let cursor = Cursor {
            number: parent,
            hash,
        };
        let dropped = self.channels.split_off(&seq);
        self.store.rewind(dropped.keys().copied(), cursor)?;
        let blocks: u64 = dropped.values().map(ChannelRecord::block_count).sum();
        self.cursor = cursor;
        self.open = None;
        report.blocks_rewound += blocks;
        metrics::counter!("batcher_resubmitted_blocks_total").increment(blocks);
        info!(
            from_block = first_block,
            channels = dropped.len(),
            blocks,
            "rewound to batch lost blocks again"
        );
        Ok(())
    }

    fn forget_final(&mut self, l1_head: u64, report: &mut StepReport) -> Result<(), BatcherError> {
        let depth = self.config.finality_depth;
        let done: Vec<u64> = self
            .channels
            .values()
            .take_while(|record| {
                record.fully_included()
                    && record.txs.iter().all(|tx| {
                        tx.included
                            .is_some_and(|b| b.number.saturating_add(depth) <= l1_head)
                    })
            })
            .map(|record| record.seq)
            .collect();
        if done.is_empty() {
            return Ok(());
        }
        self.store.forget(done.iter().copied())?;
        for seq in &done {
            self.channels.remove(seq);
        }
        report.channels_done += done.len() as u64;
        Ok(())
    }

    fn channel_config(&self) -> ChannelConfig {
        ChannelConfig {
            compression: self.config.compression,
            batch_mode: BatchMode::Span {
                genesis_timestamp: self.rollup.genesis.l2_time,
                block_time: self.rollup.block_time,
                chain_id: self.rollup.l2_chain_id,
            },
            max_frame_size: self.config.max_frame_size,
            max_frames: self.config.max_da_frames(),
            target_size: self.config.max_channel_size,
            max_rlp_bytes: MAX_RLP_BYTES_PER_CHANNEL_FJORD,
            // Channel age is judged here, in L1 blocks and in wall time.
            max_duration: 0,
        }
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

    async fn submit_sealed(
        &mut self,
        l1_head: u64,
        report: &mut StepReport,
    ) -> Result<(), BatcherError> {
        let unsent: Vec<u64> = self
            .channels
            .values()
            .filter(|record| record.planned_txs() != Some(record.txs.len()))
            .map(|record| record.seq)
            .collect();
        for seq in unsent {
            self.submit(seq, l1_head, report).await?;
        }
        Ok(())
    }

    /// Decides how channel `seq` is posted (DA, or calldata on failover) and signs, records and
    /// sends the transactions it still lacks.
    async fn submit(
        &mut self,
        seq: u64,
        l1_head: u64,
        report: &mut StepReport,
    ) -> Result<(), BatcherError> {
        let mut record = self.channels[&seq].clone();
        if record.plan.is_none() {
            let da_frames = frames(record.id, &record.data, self.config.da_frame_data_len());
            let payload = encode_batcher_payload(&da_frames)?;
            let size = payload.len();
            match self.da.put(payload.into()).await {
                Ok(commitment) => {
                    metrics::counter!("batcher_da_bytes_total").increment(size as u64);
                    debug!(channel = seq, %commitment, bytes = size, "channel stored in DA");
                    record.plan = Some(Plan::Da {
                        commitment: commitment.encode().into(),
                    });
                }
                Err(err) if err.should_fail_over() => {
                    let count = frames(
                        record.id,
                        &record.data,
                        self.config.calldata_frame_data_len(),
                    )
                    .len();
                    warn!(channel = seq, %err, frames = count, "DA failed over: posting the channel as L1 calldata");
                    metrics::counter!("batcher_calldata_fallbacks_total").increment(1);
                    report.fallbacks += 1;
                    record.plan = Some(Plan::Calldata {
                        // Bounded by `BatcherConfig::validate`.
                        frames: count as u16,
                    });
                }
                Err(err) => return Err(err.into()),
            }
            self.store.update(&record)?;
            self.channels.insert(seq, record.clone());
        }
        let inputs: Vec<Bytes> = match &record.plan {
            Some(Plan::Da { commitment }) => {
                let mut input = vec![ALT_DA_TX_VERSION];
                input.extend_from_slice(commitment);
                vec![input.into()]
            }
            Some(Plan::Calldata { .. }) => frames(
                record.id,
                &record.data,
                self.config.calldata_frame_data_len(),
            )
            .iter()
            .map(|frame| encode_batcher_payload(std::slice::from_ref(frame)).map(Bytes::from))
            .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        for (item, input) in inputs.into_iter().enumerate().skip(record.txs.len()) {
            let call = L1Call {
                to: self.rollup.batch_inbox_address,
                value: U256::ZERO,
                input,
                gas_limit: None,
            };
            let signed = sign_call(&self.l1, &self.signer, self.rollup.l1_chain_id, call).await?;
            record.submitted_at.get_or_insert(l1_head);
            record.txs.push(TxRecord {
                hash: signed.hash,
                nonce: signed.nonce,
                raw: signed.raw,
                // Bounded by the frame count.
                item: item as u16,
                broadcast: false,
                included: None,
            });
            // Recorded before it is sent: a crash in between re-sends these exact bytes.
            self.store.update(&record)?;
            self.channels.insert(seq, record.clone());
            let tx = record.txs.last_mut().expect("just pushed");
            broadcast(&self.l1, tx).await?;
            self.store.update(&record)?;
            self.channels.insert(seq, record.clone());
            report.txs_sent += 1;
            debug!(channel = seq, hash = %record.txs[item].hash, item, "inbox transaction sent");
        }
        Ok(())
    }
}
