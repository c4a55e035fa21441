//! A batch's transactions as a block's transaction source: all of them, in batch order.

use alloy_consensus::transaction::{Recovered, SignerRecoverable};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::Bytes;
use ol_evm::{BestTransactions, SkipReason};
use ol_primitives::OpTxEnvelope;

/// Why a batch cannot be executed as it is. Holocene replaces such a block with one that holds
/// only the deposits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBatchTx {
    /// A transaction does not decode.
    #[error("batch transaction {index} does not decode: {reason}")]
    Decode {
        /// Position in the batch.
        index: usize,
        /// The decoder's message.
        reason: String,
    },
    /// A batch carries a deposit, which only L1 may create.
    #[error("batch transaction {index} is a deposit")]
    Deposit {
        /// Position in the batch.
        index: usize,
    },
    /// A signature does not recover.
    #[error("batch transaction {index} has an invalid signature")]
    Signature {
        /// Position in the batch.
        index: usize,
    },
}

/// Batches at least this long recover their signatures on several threads: recovery is most of
/// a follower's cost per transaction (reth recovers senders in parallel for the same reason).
const PARALLEL_RECOVERY_MIN: usize = 256;

/// Decodes and recovers every transaction of a batch, in order; the first invalid one (lowest
/// index) is the error.
pub fn recover_batch(
    transactions: &[Bytes],
) -> Result<Vec<Recovered<OpTxEnvelope>>, InvalidBatchTx> {
    recover_all(transactions.iter().collect(), |index, raw: &Bytes| {
        let tx = OpTxEnvelope::decode_2718_exact(raw).map_err(|err| InvalidBatchTx::Decode {
            index,
            reason: err.to_string(),
        })?;
        recover_one(index, tx)
    })
}

/// Recovers the senders of transactions already decoded (a gossiped block's), in order, with
/// the same rules and errors as [`recover_batch`].
pub fn recover_transactions(
    transactions: Vec<OpTxEnvelope>,
) -> Result<Vec<Recovered<OpTxEnvelope>>, InvalidBatchTx> {
    recover_all(transactions, recover_one)
}

/// A user transaction with its sender: never a deposit, which only L1 may create.
fn recover_one(index: usize, tx: OpTxEnvelope) -> Result<Recovered<OpTxEnvelope>, InvalidBatchTx> {
    if tx.is_deposit() {
        return Err(InvalidBatchTx::Deposit { index });
    }
    let signer = tx
        .recover_signer()
        .map_err(|_| InvalidBatchTx::Signature { index })?;
    Ok(Recovered::new_unchecked(tx, signer))
}

/// Runs `recover` over `items` with their indexes, on several threads for long lists; each
/// thread stops at its first error and the lowest-index error wins.
fn recover_all<T: Send>(
    items: Vec<T>,
    recover: impl Fn(usize, T) -> Result<Recovered<OpTxEnvelope>, InvalidBatchTx> + Sync,
) -> Result<Vec<Recovered<OpTxEnvelope>>, InvalidBatchTx> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if items.len() < PARALLEL_RECOVERY_MIN || threads == 1 {
        return items
            .into_iter()
            .enumerate()
            .map(|(index, item)| recover(index, item))
            .collect();
    }
    let total = items.len();
    let chunk = total.div_ceil(threads);
    let mut parts = Vec::with_capacity(threads);
    let mut rest = items;
    while !rest.is_empty() {
        let tail = rest.split_off(chunk.min(rest.len()));
        parts.push(std::mem::replace(&mut rest, tail));
    }
    let recover = &recover;
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .enumerate()
            .map(|(i, part)| {
                scope.spawn(move || {
                    part.into_iter()
                        .enumerate()
                        .map(|(offset, item)| recover(i * chunk + offset, item))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut recovered = Vec::with_capacity(total);
    for part in results {
        recovered.extend(part?);
    }
    Ok(recovered)
}

/// Yields a batch's transactions in order; remembers whether the EVM refused any.
#[derive(Debug)]
pub struct BatchTransactions {
    remaining: std::vec::IntoIter<Recovered<OpTxEnvelope>>,
    refused: Option<String>,
}

impl BatchTransactions {
    /// A source over recovered batch transactions.
    pub fn new(transactions: Vec<Recovered<OpTxEnvelope>>) -> Self {
        Self {
            remaining: transactions.into_iter(),
            refused: None,
        }
    }

    /// Why the first refused transaction was refused, if one was.
    pub fn refused(&self) -> Option<&str> {
        self.refused.as_deref()
    }
}

impl BestTransactions for BatchTransactions {
    fn next_transaction(&mut self) -> Option<Recovered<OpTxEnvelope>> {
        if self.refused.is_some() {
            return None;
        }
        self.remaining.next()
    }

    fn skip(&mut self, tx: &Recovered<OpTxEnvelope>, reason: SkipReason, detail: &str) {
        if self.refused.is_none() {
            self.refused = Some(format!("{} ({reason:?}): {detail}", tx.inner().tx_hash()));
        }
    }
}
