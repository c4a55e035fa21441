//! Batch validity under Holocene: the checks of the batch queue for singular batches and of the
//! span-batch stage for a span batch's prefix.
//!
//! Rules from specs `protocol/derivation.md` ("Batch Queue"), `protocol/delta/span-batches.md`
//! ("Batch Queue") and `protocol/holocene/derivation.md` ("Span Batches", "Batch Queue"): no
//! `future` batches (a gap drops the batch), a new `past` validity for batches at or before the
//! safe head, and the span-batch checks reduced to its prefix, its singular batches being checked
//! one by one afterwards. The maximum sequencer drift is Fjord's constant
//! (specs `protocol/fjord/derivation.md`). Where the specs and op-node differ, op-node (and kona)
//! are followed, since they define the chain in practice: a transaction is rejected for being
//! empty or a deposit (or a set-code transaction before Isthmus), and other unknown types are
//! left to the execution engine.

use crate::{Epoch, L2BlockInfo};
use alloy_primitives::B256;
use ol_primitives::RollupConfig;
use ol_rollup::{SingleBatch, batch::SpanBatch};
use std::collections::VecDeque;

/// `max_sequencer_drift` since Fjord, in seconds.
pub const MAX_SEQUENCER_DRIFT_FJORD: u64 = 1800;

const DEPOSIT_TX_TYPE: u8 = 0x7e;
const SET_CODE_TX_TYPE: u8 = 0x04;

/// The verdict on a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Validity {
    /// The batch is the next block.
    Accept,
    /// The batch is invalid: drop it, the rest of its span batch and its channel.
    Drop(&'static str),
    /// The batch is at or before the safe head: skip it silently.
    Past,
    /// More L1 blocks are needed to decide.
    Undecided,
}

fn epoch_at(window: &VecDeque<Epoch>, number: u64) -> Option<&Epoch> {
    let first = window.front()?.header.header.number;
    window.get(usize::try_from(number.checked_sub(first)?).ok()?)
}

/// The hash of the window's L1 block `number`, if the window holds it.
pub(crate) fn epoch_hash(window: &VecDeque<Epoch>, number: u64) -> Option<B256> {
    epoch_at(window, number).map(|epoch| epoch.header.hash)
}

/// Checks a singular batch against the safe head `parent`. `window` starts at the current
/// epoch (the safe head's origin, or the next L1 block once empty batches moved past it);
/// `inclusion` is the L1 block the batch was read in.
pub(crate) fn check_singular(
    rollup: &RollupConfig,
    window: &VecDeque<Epoch>,
    parent: &L2BlockInfo,
    batch: &SingleBatch,
    inclusion: u64,
) -> Validity {
    let Some(epoch) = window.front() else {
        return Validity::Undecided;
    };
    let epoch_ref = epoch.block_ref();
    let next_timestamp = parent.timestamp + rollup.block_time;
    if batch.timestamp > next_timestamp {
        return Validity::Drop("future_timestamp");
    }
    if batch.timestamp < next_timestamp {
        return Validity::Past;
    }
    if batch.parent_hash != parent.hash {
        return Validity::Drop("parent_hash");
    }
    if batch.epoch_num.saturating_add(rollup.seq_window_size) < inclusion {
        return Validity::Drop("included_too_late");
    }
    let batch_origin = if batch.epoch_num < epoch_ref.number {
        return Validity::Drop("epoch_too_old");
    } else if batch.epoch_num == epoch_ref.number {
        epoch_ref
    } else if batch.epoch_num == epoch_ref.number + 1 {
        match window.get(1) {
            Some(next) => next.block_ref(),
            None => return Validity::Undecided,
        }
    } else {
        return Validity::Drop("epoch_too_far_ahead");
    };
    if batch.epoch_hash != batch_origin.hash {
        return Validity::Drop("epoch_hash");
    }
    if batch.timestamp < batch_origin.timestamp {
        return Validity::Drop("timestamp_before_l1_origin");
    }
    if batch.timestamp
        > batch_origin
            .timestamp
            .saturating_add(MAX_SEQUENCER_DRIFT_FJORD)
    {
        if !batch.transactions.is_empty() {
            return Validity::Drop("sequencer_drift");
        }
        // An empty batch past the drift is allowed only if it could not have adopted the next
        // origin while keeping L2 time >= L1 time.
        if epoch_ref.number == batch_origin.number {
            match window.get(1) {
                None => return Validity::Undecided,
                Some(next) if batch.timestamp >= next.header.header.timestamp => {
                    return Validity::Drop("drift_next_origin_not_adopted");
                }
                Some(_) => {}
            }
        }
    }
    let isthmus = rollup
        .forks
        .isthmus_time
        .is_some_and(|time| time <= batch.timestamp);
    for tx in &batch.transactions {
        match tx.first() {
            None => return Validity::Drop("empty_transaction"),
            Some(&DEPOSIT_TX_TYPE) => return Validity::Drop("deposit_transaction"),
            Some(&SET_CODE_TX_TYPE) if !isthmus => return Validity::Drop("set_code_pre_isthmus"),
            Some(_) => {}
        }
    }
    Validity::Accept
}

/// Checks a span batch's prefix (Holocene's span-batch stage) against the safe head `safe`.
/// `ancestor` looks up an earlier safe block by number, for a span that overlaps the safe
/// chain. On acceptance returns the block the span builds on.
pub(crate) fn check_span_prefix(
    rollup: &RollupConfig,
    window: &VecDeque<Epoch>,
    safe: &L2BlockInfo,
    span: &SpanBatch,
    inclusion: u64,
    ancestor: impl Fn(u64) -> Option<L2BlockInfo>,
) -> (Validity, Option<L2BlockInfo>) {
    let (Some(epoch), Some(first), Some(last)) =
        (window.front(), span.elements.first(), span.elements.last())
    else {
        return (Validity::Undecided, None);
    };
    let epoch_number = epoch.header.header.number;
    let start_epoch = first.epoch_num;
    if start_epoch == epoch_number + 1 && window.len() < 2 {
        return (Validity::Undecided, None);
    }
    let next_timestamp = safe.timestamp + rollup.block_time;
    if first.timestamp > next_timestamp {
        return (Validity::Drop("span_future_timestamp"), None);
    }
    if last.timestamp < next_timestamp {
        return (Validity::Past, None);
    }
    let parent = if first.timestamp < next_timestamp {
        if first.timestamp > safe.timestamp {
            return (Validity::Drop("span_misaligned_timestamp"), None);
        }
        let behind = safe.timestamp - first.timestamp;
        if !behind.is_multiple_of(rollup.block_time) {
            return (Validity::Drop("span_not_overlapped_exactly"), None);
        }
        let Some(number) = safe.number.checked_sub(behind / rollup.block_time + 1) else {
            return (Validity::Drop("span_before_genesis"), None);
        };
        match ancestor(number) {
            Some(block) => block,
            // op-node fetches it from its engine; without `Pipeline::set_l2_lookup` only the
            // blocks executed since the last reset are known, and an older one cannot be checked.
            None => return (Validity::Drop("span_parent_unknown"), None),
        }
    } else {
        *safe
    };
    if parent.hash[..20] != span.parent_check[..] {
        return (Validity::Drop("span_parent_check"), None);
    }
    if start_epoch.saturating_add(rollup.seq_window_size) < inclusion {
        return (Validity::Drop("span_included_too_late"), None);
    }
    if start_epoch > parent.l1_origin.number + 1 {
        return (Validity::Drop("span_epoch_too_far_ahead"), None);
    }
    match epoch_hash(window, last.epoch_num) {
        Some(hash) if hash[..20] == span.l1_origin_check[..] => {}
        Some(_) => return (Validity::Drop("span_l1_origin_check"), None),
        None if last.epoch_num < epoch_number => {
            // The span ends in an epoch the window already left behind (empty batches moved
            // past it): it can never be checked. op-node calls it undecided and discards it
            // without flushing the channel; skipping it as past does the same.
            return (Validity::Past, None);
        }
        None => return (Validity::Undecided, None),
    }
    if start_epoch < parent.l1_origin.number {
        return (Validity::Drop("span_epoch_too_old"), None);
    }
    (Validity::Accept, Some(parent))
}

/// The singular batches of an accepted span after the safe head, their epoch hashes filled
/// from the window and their parent hashes left for the batch stage to set, or why the span
/// must be dropped (an element with an origin older than the safe head's, or unknown).
pub(crate) fn span_singular_batches(
    window: &VecDeque<Epoch>,
    safe: &L2BlockInfo,
    span: &SpanBatch,
) -> Result<VecDeque<SingleBatch>, &'static str> {
    let mut batches = VecDeque::new();
    for element in span
        .elements
        .iter()
        .filter(|e| e.timestamp > safe.timestamp)
    {
        if element.epoch_num < safe.l1_origin.number {
            return Err("span_origin_before_safe_head");
        }
        let epoch_hash = epoch_hash(window, element.epoch_num).ok_or("span_origin_unknown")?;
        batches.push_back(SingleBatch {
            parent_hash: B256::ZERO,
            epoch_num: element.epoch_num,
            epoch_hash,
            timestamp: element.timestamp,
            transactions: element.transactions.clone(),
        });
    }
    Ok(batches)
}
