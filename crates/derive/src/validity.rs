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

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Bytes, FixedBytes, keccak256};
    use ol_l1::L1Header;
    use ol_rollup::batch::SpanBatchElement;

    const T0: u64 = 1_000_000;

    fn rollup() -> RollupConfig {
        let mut rollup = RollupConfig::dev(1612);
        rollup.block_time = 2;
        rollup.seq_window_size = 10;
        rollup
    }

    fn l1_hash(n: u64) -> B256 {
        keccak256(n.to_be_bytes())
    }

    /// L1 blocks `first..=last`, 12 seconds apart from `T0` at block 0.
    fn window(first: u64, last: u64) -> VecDeque<Epoch> {
        (first..=last)
            .map(|n| {
                let mut header = L1Header {
                    hash: l1_hash(n),
                    header: Default::default(),
                };
                header.header.number = n;
                header.header.timestamp = T0 + 12 * n;
                Epoch {
                    header,
                    deposits: Vec::new(),
                }
            })
            .collect()
    }

    fn safe(number: u64, timestamp: u64, origin: u64) -> L2BlockInfo {
        L2BlockInfo {
            number,
            hash: B256::repeat_byte(number as u8),
            parent_hash: B256::ZERO,
            timestamp,
            l1_origin: ol_primitives::L1BlockRef {
                hash: l1_hash(origin),
                number: origin,
            },
            sequence_number: 0,
        }
    }

    fn batch(parent: &L2BlockInfo, epoch: u64, timestamp: u64, txs: &[&[u8]]) -> SingleBatch {
        SingleBatch {
            parent_hash: parent.hash,
            epoch_num: epoch,
            epoch_hash: l1_hash(epoch),
            timestamp,
            transactions: txs.iter().map(|tx| Bytes::copy_from_slice(tx)).collect(),
        }
    }

    #[test]
    fn singular_batch_rules() {
        let rollup = rollup();
        let win = window(5, 7);
        let parent = safe(10, T0 + 60, 5);
        let ts = parent.timestamp + 2;
        let check =
            |b: &SingleBatch, inclusion: u64| check_singular(&rollup, &win, &parent, b, inclusion);
        assert_eq!(
            check(&batch(&parent, 5, ts, &[b"\x02tx"]), 7),
            Validity::Accept
        );
        assert_eq!(
            check(&batch(&parent, 5, ts + 2, &[]), 7),
            Validity::Drop("future_timestamp")
        );
        assert_eq!(check(&batch(&parent, 5, ts - 2, &[]), 7), Validity::Past);
        let mut orphan = batch(&parent, 5, ts, &[]);
        orphan.parent_hash = B256::repeat_byte(0xee);
        assert_eq!(check(&orphan, 7), Validity::Drop("parent_hash"));
        assert_eq!(
            check(&batch(&parent, 5, ts, &[]), 16),
            Validity::Drop("included_too_late")
        );
        assert_eq!(check(&batch(&parent, 5, ts, &[]), 15), Validity::Accept);
        assert_eq!(
            check(&batch(&parent, 4, ts, &[]), 7),
            Validity::Drop("epoch_too_old")
        );
        assert_eq!(
            check(&batch(&parent, 7, ts, &[]), 7),
            Validity::Drop("epoch_too_far_ahead")
        );
        let mut forked = batch(&parent, 5, ts, &[]);
        forked.epoch_hash = B256::repeat_byte(1);
        assert_eq!(check(&forked, 7), Validity::Drop("epoch_hash"));
        // Epoch 6 starts at T0 + 72, after the batch.
        assert_eq!(
            check(&batch(&parent, 6, ts, &[]), 7),
            Validity::Drop("timestamp_before_l1_origin")
        );
        assert_eq!(
            check(&batch(&parent, 5, ts, &[b""]), 7),
            Validity::Drop("empty_transaction")
        );
        assert_eq!(
            check(&batch(&parent, 5, ts, &[b"\x7eabc"]), 7),
            Validity::Drop("deposit_transaction")
        );
        // The next epoch is unknown with a one-block window.
        let short = window(5, 5);
        let b = batch(&parent, 6, ts, &[]);
        assert_eq!(
            check_singular(&rollup, &short, &parent, &b, 6),
            Validity::Undecided
        );
    }

    #[test]
    fn sequencer_drift_allows_only_empty_batches_that_could_not_adopt_the_next_origin() {
        let rollup = rollup();
        // Epoch 5 at T0 + 60; epoch 6 at T0 + 72. Put the safe head past the drift.
        let ts = T0 + 60 + MAX_SEQUENCER_DRIFT_FJORD + 2;
        let parent = safe(900, ts - 2, 5);
        let mut win = window(5, 6);
        let late_next = T0 + 60 + MAX_SEQUENCER_DRIFT_FJORD + 100;
        win[1].header.header.timestamp = late_next;
        let check =
            |w: &VecDeque<Epoch>, b: &SingleBatch| check_singular(&rollup, w, &parent, b, 6);
        assert_eq!(
            check(&win, &batch(&parent, 5, ts, &[b"\x02tx"])),
            Validity::Drop("sequencer_drift")
        );
        // Empty, and the next origin is still in the future: allowed.
        assert_eq!(check(&win, &batch(&parent, 5, ts, &[])), Validity::Accept);
        // Empty, but the next origin could have been adopted.
        win[1].header.header.timestamp = ts;
        assert_eq!(
            check(&win, &batch(&parent, 5, ts, &[])),
            Validity::Drop("drift_next_origin_not_adopted")
        );
        // Without the next origin the answer must wait.
        assert_eq!(
            check(&window(5, 5), &batch(&parent, 5, ts, &[])),
            Validity::Undecided
        );
    }

    fn span(parent_hash: B256, elements: &[(u64, u64)], last_origin: B256) -> SpanBatch {
        SpanBatch {
            parent_check: FixedBytes::from_slice(&parent_hash[..20]),
            l1_origin_check: FixedBytes::from_slice(&last_origin[..20]),
            starts_epoch: false,
            elements: elements
                .iter()
                .map(|&(timestamp, epoch_num)| SpanBatchElement {
                    timestamp,
                    epoch_num,
                    transactions: Vec::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn span_prefix_rules() {
        let rollup = rollup();
        let win = window(5, 8);
        let grandparent = safe(9, T0 + 58, 4);
        let parent = safe(10, T0 + 60, 5);
        let none = |_| None;
        let next = parent.timestamp + 2;
        let ok = span(parent.hash, &[(next, 5), (next + 2, 5)], l1_hash(5));
        let check = |s: &SpanBatch| check_span_prefix(&rollup, &win, &parent, s, 8, none).0;
        assert_eq!(
            check_span_prefix(&rollup, &win, &parent, &ok, 8, none),
            (Validity::Accept, Some(parent))
        );
        assert_eq!(
            check(&span(parent.hash, &[(next + 2, 5)], l1_hash(5))),
            Validity::Drop("span_future_timestamp")
        );
        assert_eq!(
            check(&span(parent.hash, &[(next - 2, 5)], l1_hash(5))),
            Validity::Past
        );
        assert_eq!(
            check(&span(B256::ZERO, &[(next, 5)], l1_hash(5))),
            Validity::Drop("span_parent_check")
        );
        assert_eq!(
            check(&span(parent.hash, &[(next, 5)], l1_hash(6))),
            Validity::Drop("span_l1_origin_check")
        );
        assert_eq!(
            check(&span(parent.hash, &[(next, 7)], l1_hash(7))),
            Validity::Drop("span_epoch_too_far_ahead")
        );
        assert_eq!(
            check_span_prefix(&rollup, &win, &parent, &ok, 16, none).0,
            Validity::Drop("span_included_too_late")
        );
        // Overlapping the safe head by one block: its parent is the grandparent.
        let overlap = span(
            grandparent.hash,
            &[(parent.timestamp, 5), (next, 5)],
            l1_hash(5),
        );
        assert_eq!(check(&overlap), Validity::Drop("span_parent_unknown"));
        let known = |n| (n == 9).then_some(grandparent);
        assert_eq!(
            check_span_prefix(&rollup, &win, &parent, &overlap, 8, known),
            (Validity::Accept, Some(grandparent))
        );
        let singles = span_singular_batches(&win, &parent, &overlap).unwrap();
        assert_eq!(singles.len(), 1, "the overlapped block is skipped");
        assert_eq!(
            (singles[0].timestamp, singles[0].epoch_hash),
            (next, l1_hash(5))
        );
        let odd = span(
            grandparent.hash,
            &[(parent.timestamp - 1, 5), (next + 1, 5)],
            l1_hash(5),
        );
        assert_eq!(check(&odd), Validity::Drop("span_not_overlapped_exactly"));
    }
}
