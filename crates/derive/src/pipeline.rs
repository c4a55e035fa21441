//! The derivation pipeline: L1 blocks in, the L2 chain's blocks out, one [`Step`] at a time.
//!
//! Stages, as specs `protocol/derivation.md` ("L2 Chain Derivation Pipeline") lays them out
//! with Holocene's changes (`protocol/holocene/derivation.md`):
//! - L1 traversal: L1 blocks in order, each checked to build on the previous one (a mismatch is
//!   an L1 reorg: [`DeriveError::L1Reorg`], the caller resets);
//! - L1 retrieval and frame queue: the block's batcher transactions, Alt-DA commitments resolved
//!   through DA, parsed into frames ([`crate::retrieval`]);
//! - channel bank: Holocene's single-channel assembler, frames strictly in order, channels
//!   timing out after Granite's `CHANNEL_TIMEOUT`;
//! - channel reader: brotli/zlib channels decompressed within Fjord's limits into batches;
//! - span-batch stage and batch queue: Holocene validity ([`crate::validity`]), fast channel
//!   invalidation on a dropped batch, and empty batches once an epoch's sequencing window ends;
//! - payload attributes: [`crate::payload_attributes`] of the batch's epoch.
//!
//! The pipeline reads everything an L1 block holds before it moves on (op-node's eager
//! derivation), so a batch's inclusion block is always the block just read. All I/O happens
//! when an L1 block is read, and a failed read changes nothing: [`Pipeline::step`] can be
//! retried after any error.

use crate::{
    DeriveError, DerivedBlock, Epoch, L2BlockInfo, Step, epoch_of, payload_attributes,
    retrieval::block_frames,
    validity::{Validity, check_singular, check_span_prefix, span_singular_batches},
};
use ol_da::DaClient;
use ol_l1::{L1BlockRef, L1Client};
use ol_primitives::RollupConfig;
use ol_rollup::{
    Batch, ChannelReader, Frame, SingleBatch,
    batch::SpanBatch,
    channel::{
        CHANNEL_TIMEOUT_GRANITE, ChannelAssembler, ChannelAssemblerConfig,
        MAX_RLP_BYTES_PER_CHANNEL_FJORD,
    },
};
use std::collections::VecDeque;
use tracing::{debug, info, warn};

/// Safe blocks remembered for checking span batches that overlap the safe chain.
const SAFE_HISTORY: usize = 8192;

/// Where to start reading L1 so that a pipeline reset to a safe head with L1 origin number
/// `safe_head_l1_origin_number` sees every frame it still needs: one channel timeout before
/// the origin (clamped at the rollup's genesis L1 block).
///
/// A batch for a block after the safe head names an epoch at or after the safe head's origin
/// and is included after it, in a channel opened at most `CHANNEL_TIMEOUT` blocks before it
/// completed; starting a channel timeout before the origin therefore sees that channel's first
/// frame (specs `protocol/derivation.md`, "Finding the sync starting point", step 5, and
/// `protocol/holocene/derivation.md`, "Sync Start"). Batches read up to the origin itself are
/// discarded, as op-node does.
pub fn reset_start(rollup: &RollupConfig, safe_head_l1_origin_number: u64) -> u64 {
    safe_head_l1_origin_number
        .saturating_sub(CHANNEL_TIMEOUT_GRANITE)
        .max(rollup.genesis.l1.number)
}

/// Looks up a safe L2 block by number (the node's block storage): how the pipeline checks a
/// span batch that starts before the safe head, beyond the blocks it saw executed itself.
pub type L2Lookup = Box<dyn Fn(u64) -> Option<L2BlockInfo> + Send + Sync>;

struct Lookup(L2Lookup);

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("L2Lookup")
    }
}

/// Where the block handed out last came from (what a deposits-only replacement flushes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Batch,
    EmptyBatch,
}

/// The derivation pipeline over an L1 client and a DA client.
///
/// Requires Holocene active at L2 genesis (and with it Delta's span batches, Fjord's brotli
/// channels, limits and drift, and Granite's channel timeout); [`Pipeline::new`] refuses other
/// configurations. The batcher address is the genesis system config's (L1 system-config
/// updates are not followed).
#[derive(Debug)]
pub struct Pipeline<L, D> {
    rollup: RollupConfig,
    l1: L,
    da: D,
    safe_head: L2BlockInfo,
    /// Recent safe blocks, oldest first, the safe head last.
    history: VecDeque<L2BlockInfo>,
    /// The next L1 block number to read.
    next_l1: u64,
    /// The last L1 block read.
    origin: Option<L1BlockRef>,
    /// Whether `origin` was reported consumed.
    origin_reported: bool,
    /// The batch queue's L1 blocks: the current epoch first, then every block read after it.
    epochs: VecDeque<Epoch>,
    /// Frames of the L1 block just read that the assembler has not taken yet.
    frames: VecDeque<Frame>,
    assembler: ChannelAssembler,
    /// The channel being read, with the L1 block that completed it.
    reader: Option<(ChannelReader, L1BlockRef)>,
    /// A span batch waiting for its prefix check.
    span: Option<(SpanBatch, L1BlockRef)>,
    /// Singular batches waiting for their check, with their inclusion block; `from_span` says
    /// whether they came out of a span batch (and take the safe head as parent).
    candidates: VecDeque<SingleBatch>,
    candidates_inclusion: L1BlockRef,
    from_span: bool,
    /// The block handed out and not yet reported executed.
    pending: Option<(DerivedBlock, Source)>,
    l2_lookup: Option<Lookup>,
}

impl<L: L1Client, D: DaClient> Pipeline<L, D> {
    /// A pipeline deriving the blocks after `safe_head`, reading L1 from block `start_l1`
    /// (see [`reset_start`]; a start after the safe head's L1 origin is moved back to it, since
    /// the batch queue needs that block).
    pub fn new(
        rollup: RollupConfig,
        l1: L,
        da: D,
        safe_head: L2BlockInfo,
        start_l1: u64,
    ) -> Result<Self, DeriveError> {
        let genesis = rollup.genesis.l2_time;
        let active = |time: Option<u64>| time.is_some_and(|time| time <= genesis);
        let forks = &rollup.forks;
        if !active(forks.holocene_time) {
            return Err(DeriveError::Config(
                "Holocene must be active at L2 genesis: this pipeline implements Holocene derivation only",
            ));
        }
        if !(active(forks.delta_time) && active(forks.fjord_time) && active(forks.granite_time)) {
            return Err(DeriveError::Config(
                "Delta, Fjord and Granite must be active at L2 genesis along with Holocene",
            ));
        }
        if rollup.block_time == 0 {
            return Err(DeriveError::Config("block_time must be at least 1 second"));
        }
        let mut pipeline = Self {
            rollup,
            l1,
            da,
            safe_head,
            history: VecDeque::new(),
            next_l1: 0,
            origin: None,
            origin_reported: false,
            epochs: VecDeque::new(),
            frames: VecDeque::new(),
            assembler: ChannelAssembler::new(ChannelAssemblerConfig {
                channel_timeout: CHANNEL_TIMEOUT_GRANITE,
                max_channel_size: MAX_RLP_BYTES_PER_CHANNEL_FJORD,
            }),
            reader: None,
            span: None,
            candidates: VecDeque::new(),
            candidates_inclusion: L1BlockRef::default(),
            from_span: false,
            pending: None,
            l2_lookup: None,
        };
        pipeline.reset(safe_head, start_l1);
        Ok(pipeline)
    }

    /// Lets the pipeline read safe L2 blocks by number. A span batch may start before the safe
    /// head (a batcher re-posting blocks, or a restart in the middle of a span batch); its
    /// parent check needs the block before its start. Without a lookup only the blocks this
    /// pipeline saw executed since its last reset are known, and such a span batch is dropped.
    pub fn set_l2_lookup(&mut self, lookup: L2Lookup) {
        self.l2_lookup = Some(Lookup(lookup));
    }

    /// The rollup configuration.
    pub const fn rollup(&self) -> &RollupConfig {
        &self.rollup
    }

    /// The safe head: the last block reported executed (or the one the pipeline was reset to).
    pub const fn safe_head(&self) -> &L2BlockInfo {
        &self.safe_head
    }

    /// The L1 block being read (the last one read), `None` right after a reset.
    pub const fn origin(&self) -> Option<L1BlockRef> {
        self.origin
    }

    /// Drops all derivation state and starts over from `safe_head`, reading L1 from block
    /// `start_l1` (after an L1 reorg, or on restart; see [`reset_start`]).
    pub fn reset(&mut self, safe_head: L2BlockInfo, start_l1: u64) {
        let start = start_l1.min(safe_head.l1_origin.number).max(
            self.rollup
                .genesis
                .l1
                .number
                .min(safe_head.l1_origin.number),
        );
        info!(
            safe_head = safe_head.number,
            l1_origin = safe_head.l1_origin.number,
            start_l1 = start,
            "derivation pipeline reset"
        );
        self.safe_head = safe_head;
        self.history.clear();
        self.history.push_back(safe_head);
        self.next_l1 = start;
        self.origin = None;
        self.origin_reported = false;
        self.epochs.clear();
        self.frames.clear();
        self.assembler.reset();
        self.reader = None;
        self.span = None;
        self.candidates.clear();
        self.from_span = false;
        self.pending = None;
    }

    /// Records that the caller executed the last derived block: `block` is the new safe head.
    pub fn on_block_executed(&mut self, block: L2BlockInfo) {
        if let Some((pending, _)) = &self.pending
            && (block.number != pending.number() || block.parent_hash != pending.parent.hash)
        {
            warn!(
                expected = pending.number(),
                got = block.number,
                "executed block is not the derived one; taking it as the safe head"
            );
        }
        self.pending = None;
        self.safe_head = block;
        self.history.push_back(block);
        if self.history.len() > SAFE_HISTORY {
            self.history.pop_front();
        }
        // The batch queue's window starts at the safe head's epoch.
        while self
            .epochs
            .front()
            .is_some_and(|epoch| epoch.header.header.number < block.l1_origin.number)
        {
            self.epochs.pop_front();
        }
    }

    /// Records that the last derived block's payload was invalid and the caller executed a
    /// deposits-only block with the same attributes instead (`block`, the new safe head).
    /// Holocene drops the rest of the span batch and of the channel the payload came from
    /// (specs `protocol/holocene/derivation.md`, "Engine Queue").
    pub fn on_deposits_only_replacement(&mut self, block: L2BlockInfo) {
        let from_batch = matches!(self.pending, Some((_, Source::Batch)));
        self.on_block_executed(block);
        if from_batch {
            warn!(
                block = block.number,
                "payload replaced by a deposits-only block; flushing its channel"
            );
            metrics::counter!("derive_deposits_only_replacements_total").increment(1);
            self.flush_channel();
        }
    }

    /// Derives the next block, reading L1 up to block `l1_limit` at most.
    ///
    /// Returns [`Step::Derived`] for the next block (again, until it is reported executed),
    /// [`Step::L1Consumed`] once every block derivable from the L1 block just read has been
    /// returned, and [`Step::Idle`] when the next L1 block is above `l1_limit` or not mined
    /// yet. An error changes nothing: the same step can be retried (after a
    /// [`reset`](Self::reset) if [`DeriveError::needs_reset`]).
    pub async fn step(&mut self, l1_limit: u64) -> Result<Step, DeriveError> {
        loop {
            if let Some((block, _)) = &self.pending {
                return Ok(Step::Derived(block.clone()));
            }
            if let Some((block, source)) = self.derive_next() {
                self.pending = Some((block.clone(), source));
                return Ok(Step::Derived(block));
            }
            if let Some(origin) = self.origin
                && !self.origin_reported
            {
                self.origin_reported = true;
                return Ok(Step::L1Consumed(origin));
            }
            if self.next_l1 > l1_limit || !self.read_next_l1().await? {
                return Ok(Step::Idle);
            }
        }
    }

    /// Reads the next L1 block: header, continuity, frames and (from the safe head's origin
    /// on) its epoch data; commits only once everything was read. `false` if it is not mined.
    async fn read_next_l1(&mut self) -> Result<bool, DeriveError> {
        let number = self.next_l1;
        let Some(header) = self.l1.header_by_number(number).await? else {
            return Ok(false);
        };
        let block = header.block_ref();
        if let Some(origin) = self.origin
            && block.parent_hash != origin.hash
        {
            return Err(DeriveError::L1Reorg {
                number,
                parent_hash: block.parent_hash,
                expected: origin.hash,
            });
        }
        let safe_origin = self.safe_head.l1_origin;
        if number == safe_origin.number && block.hash != safe_origin.hash {
            return Err(DeriveError::SafeHeadOriginReorged {
                number,
                expected: safe_origin.hash,
                found: block.hash,
            });
        }
        let frames = block_frames(&self.l1, &self.da, &self.rollup, &block).await?;
        let epoch = if number >= safe_origin.number {
            Some(epoch_of(&self.l1, &self.rollup, header).await?)
        } else {
            None
        };
        debug!(block = number, hash = %block.hash, frames = frames.len(), "read L1 block");
        metrics::counter!("derive_l1_blocks_total").increment(1);
        self.origin = Some(block);
        self.origin_reported = false;
        self.next_l1 = number + 1;
        self.frames.extend(frames);
        self.epochs.extend(epoch);
        Ok(true)
    }

    /// The next block derivable from the data read so far, if any.
    fn derive_next(&mut self) -> Option<(DerivedBlock, Source)> {
        let origin = self.origin?;
        if origin.number <= self.safe_head.l1_origin.number {
            // Nothing read up to the safe head's origin can hold a later block's batch; read
            // it through (channels may span into later blocks) and discard the batches.
            self.drain_batches();
            return None;
        }
        loop {
            if let Some(batch) = self.candidates.front() {
                let mut batch = batch.clone();
                if self.from_span {
                    // The span's parent check covered the chain the batches build on.
                    batch.parent_hash = self.safe_head.hash;
                }
                let inclusion = self.candidates_inclusion;
                match check_singular(
                    &self.rollup,
                    &self.epochs,
                    &self.safe_head,
                    &batch,
                    inclusion.number,
                ) {
                    Validity::Accept => {
                        self.candidates.pop_front();
                        match self.build(batch, inclusion) {
                            Some(block) => return Some((block, Source::Batch)),
                            None => continue,
                        }
                    }
                    Validity::Past => {
                        debug!(
                            timestamp = batch.timestamp,
                            "skipping batch at or before the safe head"
                        );
                        metrics::counter!("derive_batches_past_total").increment(1);
                        self.candidates.pop_front();
                    }
                    Validity::Drop(reason) => {
                        self.drop_batch(reason, batch.timestamp);
                    }
                    Validity::Undecided => return None,
                }
                continue;
            }
            if let Some((span, inclusion)) = self.span.take() {
                let (history, lookup) = (&self.history, &self.l2_lookup);
                let (validity, _) = check_span_prefix(
                    &self.rollup,
                    &self.epochs,
                    &self.safe_head,
                    &span,
                    inclusion.number,
                    |number| {
                        history
                            .iter()
                            .rev()
                            .find(|b| b.number == number)
                            .copied()
                            .or_else(|| lookup.as_ref().and_then(|lookup| (lookup.0)(number)))
                    },
                );
                match validity {
                    Validity::Accept => {
                        match span_singular_batches(&self.epochs, &self.safe_head, &span) {
                            Ok(batches) => {
                                self.candidates = batches;
                                self.candidates_inclusion = inclusion;
                                self.from_span = true;
                            }
                            Err(reason) => self.drop_batch(reason, span_start(&span)),
                        }
                    }
                    Validity::Past => {
                        debug!("skipping span batch at or before the safe head");
                        metrics::counter!("derive_batches_past_total").increment(1);
                    }
                    Validity::Drop(reason) => self.drop_batch(reason, span_start(&span)),
                    Validity::Undecided => {
                        self.span = Some((span, inclusion));
                        return None;
                    }
                }
                continue;
            }
            if let Some((batch, inclusion)) = self.next_batch() {
                match batch {
                    Batch::Single(batch) => {
                        self.candidates.push_back(batch);
                        self.candidates_inclusion = inclusion;
                        self.from_span = false;
                    }
                    Batch::Span(raw) => match SpanBatch::from_raw(
                        &raw,
                        self.rollup.genesis.l2_time,
                        self.rollup.block_time,
                        self.rollup.l2_chain_id,
                    ) {
                        Ok(span) => self.span = Some((span, inclusion)),
                        Err(err) => {
                            warn!(%err, "undecodable span batch");
                            self.drop_batch("span_decode", 0);
                        }
                    },
                }
                continue;
            }
            return self
                .empty_batch(origin)
                .and_then(|batch| self.build(batch, origin))
                .map(|block| (block, Source::EmptyBatch));
        }
    }

    /// Drops an invalid batch, the rest of its span batch and its channel (Holocene's fast
    /// channel invalidation).
    fn drop_batch(&mut self, reason: &'static str, timestamp: u64) {
        warn!(
            reason,
            timestamp,
            safe_head = self.safe_head.number,
            "dropping invalid batch and the rest of its channel"
        );
        metrics::counter!("derive_batches_dropped_total", "reason" => reason).increment(1);
        self.flush_channel();
    }

    fn flush_channel(&mut self) {
        self.candidates.clear();
        self.span = None;
        self.reader = None;
    }

    /// Discards every batch the data read so far yields.
    fn drain_batches(&mut self) {
        self.candidates.clear();
        self.span = None;
        while self.next_batch().is_some() {
            metrics::counter!("derive_batches_past_total").increment(1);
        }
    }

    /// The next batch out of the current channel, feeding frames to the assembler when the
    /// channel is used up.
    fn next_batch(&mut self) -> Option<(Batch, L1BlockRef)> {
        let origin = self.origin?;
        loop {
            if let Some((reader, inclusion)) = &mut self.reader {
                match reader.next() {
                    Some(Ok(batch)) => return Some((batch, *inclusion)),
                    Some(Err(err)) => {
                        warn!(%err, "channel ended early; its remaining data is ignored");
                        metrics::counter!("derive_channels_truncated_total").increment(1);
                    }
                    None => {}
                }
                self.reader = None;
            }
            let frame = self.frames.pop_front()?;
            match self.assembler.add_frame(frame, origin.number) {
                Ok(Some(channel)) => {
                    metrics::counter!("derive_channels_total").increment(1);
                    match ChannelReader::new(&channel.data, MAX_RLP_BYTES_PER_CHANNEL_FJORD, true) {
                        Ok(reader) => {
                            debug!(channel = %channel.id, opened_at = channel.opened_at, "channel complete");
                            self.reader = Some((reader, origin));
                        }
                        Err(err) => {
                            warn!(channel = %channel.id, %err, "dropping undecodable channel");
                            metrics::counter!("derive_channels_dropped_total", "reason" => "decode")
                                .increment(1);
                        }
                    }
                }
                Ok(None) => {}
                Err(drop) => {
                    warn!(%drop, "dropping frame");
                    metrics::counter!("derive_frames_dropped_total").increment(1);
                }
            }
        }
    }

    /// The empty batch due once the current epoch's sequencing window has passed with no batch
    /// for the next block (specs `protocol/derivation.md`, "Batch Queue"). Moves the window to
    /// the next epoch once the current one has all the blocks its time allows.
    fn empty_batch(&mut self, origin: L1BlockRef) -> Option<SingleBatch> {
        loop {
            let epoch = self.epochs.front()?.block_ref();
            if epoch.number.saturating_add(self.rollup.seq_window_size) > origin.number {
                return None;
            }
            let next_epoch = self.epochs.get(1)?.block_ref();
            let timestamp = self.safe_head.timestamp + self.rollup.block_time;
            let first_of_epoch = epoch.number == self.safe_head.l1_origin.number + 1;
            if timestamp < next_epoch.timestamp || first_of_epoch {
                info!(
                    epoch = epoch.number,
                    timestamp, "sequencing window expired: empty batch"
                );
                return Some(SingleBatch {
                    parent_hash: self.safe_head.hash,
                    epoch_num: epoch.number,
                    epoch_hash: epoch.hash,
                    timestamp,
                    transactions: Vec::new(),
                });
            }
            debug!(
                epoch = next_epoch.number,
                "empty batches move to the next epoch"
            );
            self.epochs.pop_front();
        }
    }

    /// The derived block of an accepted batch.
    fn build(&self, batch: SingleBatch, derived_from: L1BlockRef) -> Option<DerivedBlock> {
        let Some(epoch) = self
            .epochs
            .iter()
            .find(|epoch| epoch.header.header.number == batch.epoch_num)
        else {
            // Validation found the epoch in this same window; reaching here is a bug, and
            // skipping the batch is safer than deriving a wrong block.
            warn!(
                epoch = batch.epoch_num,
                "accepted batch without its epoch; skipped"
            );
            return None;
        };
        let sequence_number = if batch.epoch_num == self.safe_head.l1_origin.number {
            self.safe_head.sequence_number + 1
        } else {
            0
        };
        let kind = if batch.transactions.is_empty() {
            "empty"
        } else {
            "batch"
        };
        metrics::counter!("derive_blocks_total", "kind" => kind).increment(1);
        Some(DerivedBlock {
            parent: self.safe_head,
            attributes: payload_attributes(&self.rollup, epoch, sequence_number, batch.timestamp),
            transactions: batch.transactions,
            epoch: epoch.block_ref(),
            derived_from,
        })
    }
}

fn span_start(span: &SpanBatch) -> u64 {
    span.elements.first().map_or(0, |element| element.timestamp)
}
