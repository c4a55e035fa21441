//! Building a block on the head and committing it: the one path by which the chain grows, used
//! by the sequencer (transactions from the pool) and by derivation (transactions from a batch).

use crate::{Chain, ChainError, NewBlock};
use alloy_consensus::{Header, Sealable, Sealed};
use alloy_primitives::{Address, B256};
use ol_evm::{BestTransactions, BuiltBlock, PayloadAttributes};
use ol_storage::DerivedHead;
use ol_storage::{BlockBody, StateChanges, StateProviderDb};
use std::{
    convert::Infallible,
    time::{Duration, Instant},
};

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
    ) -> Result<CommittedBlock, ChainError> {
        match self.build_and_commit_with(
            parent,
            attributes,
            source,
            |_| Ok::<_, Infallible>(()),
            None,
            None,
        )? {
            Ok(committed) => Ok(committed),
            Err(never) => match never {},
        }
    }

    /// [`Self::build_and_commit`], committing only when `accept` approves the built block;
    /// `None` when refused.
    pub fn build_and_commit_if(
        &self,
        parent: &Sealed<Header>,
        attributes: &PayloadAttributes,
        source: &mut dyn BestTransactions,
        accept: impl FnOnce(&BuiltBlock) -> bool,
    ) -> Result<Option<CommittedBlock>, ChainError> {
        let accept = |built: &BuiltBlock| if accept(built) { Ok(()) } else { Err(()) };
        Ok(self
            .build_and_commit_with(parent, attributes, source, accept, None, None)?
            .ok())
    }

    /// Builds and commits a block derivation produced from L1 block `derived_from`, unless
    /// `decide` refuses it (its error is returned, nothing is written); the same synced write
    /// makes the block the safe head.
    pub fn build_and_commit_derived<R>(
        &self,
        parent: &Sealed<Header>,
        attributes: &PayloadAttributes,
        source: &mut dyn BestTransactions,
        decide: impl FnOnce(&BuiltBlock) -> Result<(), R>,
        derived_from: ol_primitives::L1BlockRef,
    ) -> Result<Result<CommittedBlock, R>, ChainError> {
        let safe = DerivedHead {
            l2_number: parent.number + 1,
            derived_from,
        };
        let committed =
            self.build_and_commit_with(parent, attributes, source, decide, Some(safe), None)?;
        if committed.is_ok() {
            self.safe_head_committed(safe);
        }
        Ok(committed)
    }

    /// Builds the block after `parent` and commits it only if it hashes to `expected` (a block
    /// another node built and signed); [`ChainError::UnexpectedHash`] otherwise, with nothing
    /// written. `decide` may refuse it first, as in [`Self::build_and_commit_derived`].
    pub fn build_and_commit_expecting<R>(
        &self,
        parent: &Sealed<Header>,
        attributes: &PayloadAttributes,
        source: &mut dyn BestTransactions,
        decide: impl FnOnce(&BuiltBlock) -> Result<(), R>,
        expected: B256,
    ) -> Result<Result<CommittedBlock, R>, ChainError> {
        self.build_and_commit_with(parent, attributes, source, decide, None, Some(expected))
    }

    /// The one build-and-commit path: `decide` may refuse the built block (its error is
    /// returned and nothing is written); `safe` is written in the same batch. Block writers are
    /// serialised, so two paths cannot both extend the same head.
    fn build_and_commit_with<R>(
        &self,
        parent: &Sealed<Header>,
        attributes: &PayloadAttributes,
        source: &mut dyn BestTransactions,
        decide: impl FnOnce(&BuiltBlock) -> Result<(), R>,
        safe: Option<DerivedHead>,
        expected_hash: Option<B256>,
    ) -> Result<Result<CommittedBlock, R>, ChainError> {
        let _writer = self.writer.lock();
        let head = self.head();
        if head.hash() != parent.hash() {
            return Err(ChainError::NotHead {
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
        if let Err(refusal) = decide(&built) {
            return Ok(Err(refusal));
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
        if let Some(expected) = expected_hash.filter(|expected| *expected != header.hash()) {
            return Err(ChainError::UnexpectedHash {
                number: header.number,
                expected,
                built: header.hash(),
            });
        }

        let body = BlockBody {
            transactions: built.transactions,
            senders: built.senders,
        };
        let commit_started = Instant::now();
        match &safe {
            Some(safe) => self.storage().commit_derived_block(
                &header,
                &body,
                &built.receipts,
                &built.activity,
                &prepared,
                safe,
            )?,
            None => self.storage().commit_block(
                &header,
                &body,
                &built.receipts,
                &built.activity,
                &prepared,
            )?,
        }
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
        Ok(Ok(committed))
    }
}
