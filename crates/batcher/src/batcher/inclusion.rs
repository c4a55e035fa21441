//! Inclusion tracking: receipts of the inbox transactions checked against the canonical L1
//! chain, rewinds when an L1 reorg or a channel timeout lost a channel, and forgetting channels
//! once their inclusion is final.

use super::{Batcher, StepReport};
use crate::{
    BatcherError,
    store::{ChannelRecord, Cursor},
};
use alloy_primitives::B256;
use ol_da::DaClient;
use ol_l1::L1Client;
use std::collections::HashMap;
use tracing::{info, warn};

impl<L: L1Client, D: DaClient> Batcher<L, D> {
    pub(super) async fn track_inclusion(
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

    pub(super) fn rewind(&mut self, seq: u64, report: &mut StepReport) -> Result<(), BatcherError> {
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
}
