//! Building a block on the head and committing it: the one path by which the chain grows, used
//! by the sequencer (transactions from the pool) and by derivation (transactions from a batch).

use crate::{Chain, NewBlock, SequencerError};
use alloy_consensus::{Header, Sealable, Sealed};
use alloy_primitives::Address;
use ol_evm::{BestTransactions, BuiltBlock, PayloadAttributes};
use ol_storage::{BlockBody, StateChanges, StateProviderDb};
use std::time::{Duration, Instant};

/// Where the time of one block went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockTimings {
    /// Executing the transactions.
    pub execution: Duration,
    /// Computing the state root.
    pub state_root: Duration,
    /// Writing the block.
    pub commit: Duration,
}

/// A block that is now the head.
#[derive(Debug, Clone)]
pub struct CommittedBlock {
    /// The sealed header.
    pub header: Sealed<Header>,
    /// The senders of its transactions, in order.
    pub senders: Vec<Address>,
    /// How many of its transactions are not deposits.
    pub user_transactions: usize,
    /// How many of its transactions are deposits (the L1-info deposit included).
    pub deposits: usize,
    /// Timings.
    pub timings: BlockTimings,
}

impl Chain {
    /// Builds the block after `parent` from `attributes` and transactions from `source`,
    /// computes its state root, commits it in one synced write and makes it the head.
    /// `parent` must be the head: the chain only grows at its tip.
    pub fn build_and_commit(
        &self,
        parent: &Sealed<Header>,
        attributes: &PayloadAttributes,
        source: &mut dyn BestTransactions,
    ) -> Result<CommittedBlock, SequencerError> {
        self.build_and_commit_if(parent, attributes, source, |_| true)?
            .ok_or(SequencerError::NotHead {
                parent: parent.number,
                head: parent.number,
            })
    }

    /// [`Self::build_and_commit`], committing only when `accept` approves the built block
    /// (derivation refuses a block that left out a batch transaction); `None` when refused.
    /// Block writers are serialised, so two paths cannot both extend the same head.
    pub fn build_and_commit_if(
        &self,
        parent: &Sealed<Header>,
        attributes: &PayloadAttributes,
        source: &mut dyn BestTransactions,
        accept: impl FnOnce(&BuiltBlock) -> bool,
    ) -> Result<Option<CommittedBlock>, SequencerError> {
        let _writer = self.writer.lock();
        let head = self.head();
        if head.hash() != parent.hash() {
            return Err(SequencerError::NotHead {
                parent: parent.number,
                head: head.number,
            });
        }
        let started = Instant::now();
        let built = self.evm().build_block(
            StateProviderDb::new(self.storage().clone()),
            parent,
            attributes,
            source,
        )?;
        let execution = started.elapsed();
        if !accept(&built) {
            return Ok(None);
        }

        let root_started = Instant::now();
        let prepared = self
            .storage()
            .prepare_state(&StateChanges::from_bundle(&built.bundle))?;
        let mut header = built.header;
        header.state_root = prepared.state_root;
        header.withdrawals_root = Some(prepared.withdrawals_root);
        let header = header.seal_slow();
        let state_root = root_started.elapsed();

        let body = BlockBody {
            transactions: built.transactions,
            senders: built.senders,
        };
        let commit_started = Instant::now();
        self.storage()
            .commit_block(&header, &body, &built.receipts, &prepared)?;
        let commit = commit_started.elapsed();

        let deposits = 1 + attributes.deposits.len();
        let committed = CommittedBlock {
            header: header.clone(),
            senders: body.senders,
            user_transactions: body.transactions.len() - deposits,
            deposits,
            timings: BlockTimings {
                execution,
                state_root,
                commit,
            },
        };
        self.advance(
            NewBlock {
                header,
                transactions: body.transactions,
                receipts: built.receipts,
            },
            attributes.l1_info.clone(),
        );
        Ok(Some(committed))
    }
}
