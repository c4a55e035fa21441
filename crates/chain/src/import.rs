//! Unsafe blocks another node built (the sequencer's, by gossip): executed on the head as
//! derivation executes a batch, from attributes read off the block itself, and committed only
//! when the block built here has the hash the signed one claims. Derivation stays the judge of
//! `safe`: a block imported here that L1 contradicts is unwound when derivation reaches it.

use crate::{Chain, ChainError, CommittedBlock, chain::l1_info_in, derivation::BatchTransactions};
use alloy_consensus::{Header, Sealed};
use alloy_primitives::B256;
use ol_evm::PayloadAttributes;
use ol_primitives::{OpTxEnvelope, TxDeposit};

/// What became of a block offered to [`Chain::import_unsafe_block`].
#[derive(Debug)]
pub enum Imported {
    /// Executed and committed: the new head.
    Applied(Box<CommittedBlock>),
    /// The chain already holds it.
    Known,
    /// At or below the safe head, which derivation owns: dropped.
    BelowSafe,
    /// The chain holds a different block at that height: the first one seen stays (op-node),
    /// until derivation says otherwise.
    Conflicts,
    /// Its parent is not the head: `head` is where the chain stands (a gap when the block is
    /// further ahead, a fork otherwise).
    NotOnHead {
        /// The head's number.
        head: u64,
        /// The head's hash.
        head_hash: B256,
    },
}

/// Why a signed block is not a valid child of its parent; the peer that sent it is at fault.
#[derive(Debug, thiserror::Error)]
#[error("invalid unsafe block {number}: {reason}")]
pub struct InvalidBlock {
    /// Its number.
    pub number: u64,
    /// What is wrong.
    pub reason: String,
}

impl Chain {
    /// Offers `header` with `transactions` (checked to hash to `header.hash()` by the caller's
    /// decoder) as the next unsafe block. `Ok(Err(_))` when the block itself is invalid: its
    /// transactions do not execute to that hash. Nothing is written unless it is applied.
    pub fn import_unsafe_block(
        &self,
        header: &Sealed<Header>,
        transactions: &[OpTxEnvelope],
    ) -> Result<Result<Imported, InvalidBlock>, ChainError> {
        let number = header.number;
        if let Some(stored) = self.storage().header_by_number(number)? {
            if stored.hash() == header.hash() {
                return Ok(Ok(Imported::Known));
            }
            if number <= self.safe_number() {
                return Ok(Ok(Imported::BelowSafe));
            }
            return Ok(Ok(Imported::Conflicts));
        }
        let head = self.head();
        if number <= self.safe_number() {
            return Ok(Ok(Imported::BelowSafe));
        }
        if head.number + 1 != number || head.hash() != header.parent_hash {
            return Ok(Ok(Imported::NotOnHead {
                head: head.number,
                head_hash: head.hash(),
            }));
        }
        let invalid = |reason: String| Ok(Err(InvalidBlock { number, reason }));
        let block_time = self.spec().rollup.block_time;
        if header.timestamp != head.timestamp + block_time {
            return invalid(format!(
                "timestamp {} is not its parent's {} + {block_time}",
                header.timestamp, head.timestamp
            ));
        }
        let (attributes, user) = match attributes_of(header, transactions) {
            Ok(parts) => parts,
            Err(reason) => return invalid(reason),
        };
        let recovered = match crate::derivation::recover_transactions(user.to_vec()) {
            Ok(recovered) => recovered,
            Err(err) => return invalid(err.to_string()),
        };
        let mut source = BatchTransactions::new(recovered);
        let all_included = |built: &ol_evm::BuiltBlock| {
            if built.transactions.len() == transactions.len() {
                Ok(())
            } else {
                Err(())
            }
        };
        match self.build_and_commit_expecting(
            &head,
            &attributes,
            &mut source,
            all_included,
            header.hash(),
        ) {
            Ok(Ok(committed)) => Ok(Ok(Imported::Applied(Box::new(committed)))),
            Ok(Err(())) => invalid(format!(
                "a transaction does not execute: {}",
                source.refused().unwrap_or("left out")
            )),
            Err(ChainError::UnexpectedHash { built, .. }) => invalid(format!(
                "executes to block {built}, not to {}",
                header.hash()
            )),
            Err(err) => Err(err),
        }
    }
}

/// The attributes a block was built from: its header fields, the L1-info deposit that opens it,
/// the user deposits that follow, and then its other transactions (none of them a deposit).
fn attributes_of<'a>(
    header: &Header,
    transactions: &'a [OpTxEnvelope],
) -> Result<(PayloadAttributes, &'a [OpTxEnvelope]), String> {
    let l1_info = l1_info_in(header.number, transactions).map_err(|err| err.to_string())?;
    let deposits: Vec<TxDeposit> = transactions[1..]
        .iter()
        .map_while(|tx| match tx {
            OpTxEnvelope::Deposit(deposit) => Some(deposit.inner().clone()),
            _ => None,
        })
        .collect();
    let user = &transactions[1 + deposits.len()..];
    if user.iter().any(|tx| tx.is_deposit()) {
        return Err("a deposit after a user transaction".to_owned());
    }
    let parent_beacon_block_root = header
        .parent_beacon_block_root
        .ok_or("no parent beacon block root")?;
    Ok((
        PayloadAttributes {
            timestamp: header.timestamp,
            prev_randao: header.mix_hash,
            fee_recipient: header.beneficiary,
            gas_limit: header.gas_limit,
            l1_info,
            deposits,
            parent_beacon_block_root,
            extra_data: header.extra_data.clone(),
        },
        user,
    ))
}
