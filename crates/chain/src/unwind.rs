//! Taking blocks off the tip: the node's use of [`Storage::unwind_to`](ol_storage::Storage).
//!
//! Three callers, as op-node reorgs its unsafe chain: derivation, when a derived block differs
//! from the stored block at its height (L1 wins: back to the safe head, then the derived block);
//! the sequencer, when the L1 origin of its unsafe blocks is reorged away (back to the newest
//! block on a canonical origin, its transactions back into the pool); and `openledger db
//! unwind`. None goes below the finalized head except the command, which says so.

use crate::{Chain, ChainError, chain::l1_info_of};
use alloy_consensus::transaction::Recovered;
use alloy_eips::eip2718::Encodable2718;
use ol_primitives::{ChainSpec, OpTxEnvelope};
use ol_storage::{DerivedHead, Storage, UnwindReport};
use tracing::warn;

/// What an unwind took off the chain.
#[derive(Debug, Clone)]
pub struct Unwound {
    /// What the storage did.
    pub report: UnwindReport,
    /// The unwound blocks' transactions that are not deposits, oldest first, with their
    /// senders: what a sequencer puts back into its pool.
    pub transactions: Vec<Recovered<OpTxEnvelope>>,
}

/// The safe head that block `number` would be after an unwind to it: derivation restarts from
/// its L1 origin.
pub fn derived_head_at(
    storage: &Storage,
    spec: &ChainSpec,
    number: u64,
) -> Result<DerivedHead, ChainError> {
    let header = storage
        .header_by_number(number)?
        .ok_or(ChainError::MissingBlock(number))?;
    let origin = l1_info_of(storage, spec, &header)?.origin;
    Ok(DerivedHead {
        l2_number: number,
        derived_from: ol_primitives::L1BlockRef {
            hash: origin.hash,
            number: origin.number,
        },
    })
}

/// Unwinds `storage` to block `target` (see [`Storage::unwind_to`]) and returns the unwound
/// user transactions.
pub fn unwind_storage(
    storage: &Storage,
    spec: &ChainSpec,
    target: u64,
) -> Result<Unwound, ChainError> {
    let head = storage.head_number()?;
    let mut transactions = Vec::new();
    for number in target + 1..=head {
        let body = storage
            .body(number)?
            .ok_or(ChainError::MissingBlock(number))?;
        transactions.extend(
            body.transactions
                .into_iter()
                .zip(body.senders)
                .filter(|(tx, _)| !tx.is_deposit())
                .map(|(tx, sender)| Recovered::new_unchecked(tx, sender)),
        );
    }
    let target_head = derived_head_at(storage, spec, target.min(head))?;
    let report = storage.unwind_to(target, target_head)?;
    Ok(Unwound {
        report,
        transactions,
    })
}

/// Puts the unwound transactions back into `pool`, oldest first, validated against the chain as
/// it is now; returns how many it took. Those the unwound state no longer allows (a nonce the
/// new chain already used, a balance gone) are left out, as for any new transaction.
pub fn requeue(pool: &ol_txpool::TxPool, chain: &Chain, unwound: &Unwound) -> usize {
    unwound
        .transactions
        .iter()
        .filter(|tx| pool.add_raw(&tx.inner().encoded_2718(), chain).is_ok())
        .count()
}

impl Chain {
    /// Unwinds the chain to block `target`, which must be at or above the finalized head, and
    /// moves the head, the safe head and the derivation generation with it. Run it on the
    /// chain's thread: it holds the block writer.
    pub fn unwind_to(&self, target: u64) -> Result<Unwound, ChainError> {
        let _writer = self.writer.lock();
        let finalized = self.finalized_number();
        let head = self.head().number;
        if target < finalized && self.sync_heads().l1_connected {
            return Err(ChainError::UnwindBelowFinalized { target, finalized });
        }
        let unwound = unwind_storage(self.storage(), self.spec(), target)?;
        let depth = head - target;
        if depth > 0 {
            warn!(from = head, to = target, depth, "unwound the chain");
            metrics::counter!("chain_unwinds_total").increment(1);
            metrics::histogram!("chain_unwind_depth").record(depth as f64);
        }
        self.unwound()?;
        Ok(unwound)
    }
}
