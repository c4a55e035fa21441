//! Reading sealed blocks for the events the job service and the verifier act on.

use crate::JobsError;
use alloy_primitives::{Address, BloomInput, Log};
use ol_chain::Chain;
use std::sync::atomic::{AtomicU64, Ordering};

/// Blocks scanned per pass, so a long catch-up still lets the work of earlier blocks advance
/// between passes.
pub(crate) const SCAN_BATCH: u64 = 1_000;

/// The first block a scanner whose cursor is at `scanned` reads next: after the cursor, or
/// after the lowest block an unwind went back to since the scanner last looked (`seen` holds
/// the chain's unwind count it saw). Reading a block again is harmless; missing one that
/// replaced an unwound block is not.
pub(crate) fn scan_from(chain: &Chain, scanned: u64, seen: &AtomicU64) -> u64 {
    let count = chain.unwind_count();
    let previous = seen.swap(count, Ordering::Relaxed);
    let floor = (count != previous)
        .then(|| chain.lowest_unwind_since(previous))
        .flatten()
        .unwrap_or(u64::MAX);
    scanned.min(floor).min(chain.head().number) + 1
}

/// The logs that any of `addresses` emitted in block `number`, in block order; `None` when the
/// block is not stored yet. The header's bloom is asked first, so a block without such logs
/// costs no receipt read.
pub(crate) fn block_logs(
    chain: &Chain,
    number: u64,
    addresses: &[Address],
) -> Result<Option<Vec<Log>>, JobsError> {
    let storage = chain.storage();
    let Some(header) = storage.header_by_number(number)? else {
        return Ok(None);
    };
    let mut logs = Vec::new();
    if !addresses.iter().any(|a| {
        header
            .logs_bloom
            .contains_input(BloomInput::Raw(a.as_slice()))
    }) {
        return Ok(Some(logs));
    }
    for receipt in storage.receipts(number)?.unwrap_or_default() {
        logs.extend(
            receipt
                .logs()
                .iter()
                .filter(|log| addresses.contains(&log.address))
                .cloned(),
        );
    }
    Ok(Some(logs))
}
