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
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if transactions.len() < PARALLEL_RECOVERY_MIN || threads == 1 {
        return recover_range(transactions, 0);
    }
    let chunk = transactions.len().div_ceil(threads);
    let parts: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = transactions
            .chunks(chunk)
            .enumerate()
            .map(|(i, part)| scope.spawn(move || recover_range(part, i * chunk)))
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
    let mut recovered = Vec::with_capacity(transactions.len());
    for part in parts {
        recovered.extend(part?);
    }
    Ok(recovered)
}

fn recover_range(
    transactions: &[Bytes],
    first_index: usize,
) -> Result<Vec<Recovered<OpTxEnvelope>>, InvalidBatchTx> {
    transactions
        .iter()
        .enumerate()
        .map(|(offset, raw)| {
            let index = first_index + offset;
            let tx =
                OpTxEnvelope::decode_2718_exact(raw).map_err(|err| InvalidBatchTx::Decode {
                    index,
                    reason: err.to_string(),
                })?;
            if tx.is_deposit() {
                return Err(InvalidBatchTx::Deposit { index });
            }
            let signer = tx
                .recover_signer()
                .map_err(|_| InvalidBatchTx::Signature { index })?;
            Ok(Recovered::new_unchecked(tx, signer))
        })
        .collect()
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
