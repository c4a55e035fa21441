//! The values the pipeline hands out: the L2 blocks it sees ([`L2BlockInfo`]), the blocks it
//! derives ([`DerivedBlock`]) and what a step did ([`Step`]).

use alloy_primitives::{B256, Bytes};
use ol_evm::PayloadAttributes;

/// An L2 block as derivation sees it (op-node's `L2BlockRef`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct L2BlockInfo {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// Hash of the parent block.
    pub parent_hash: B256,
    /// Block timestamp.
    pub timestamp: u64,
    /// The L1 origin (epoch) of the block.
    pub l1_origin: ol_primitives::L1BlockRef,
    /// Position of the block in its epoch (0 for the epoch's first block).
    pub sequence_number: u64,
}

/// One derived L2 block: what the caller executes on top of [`DerivedBlock::parent`].
#[derive(Debug, Clone)]
pub struct DerivedBlock {
    /// The block it builds on (the pipeline's safe head).
    pub parent: L2BlockInfo,
    /// The L1-derived part: L1-info deposit, user deposits iff first of its epoch, timestamp,
    /// `prevRandao`, gas limit and the rest (from [`crate::payload_attributes`]).
    pub attributes: PayloadAttributes,
    /// The batch's EIP-2718 user transactions, in order (empty for a generated empty batch).
    pub transactions: Vec<Bytes>,
    /// The block's L1 origin.
    pub epoch: ol_l1::L1BlockRef,
    /// The L1 block whose data completed this block's batch (for a generated empty batch, the
    /// L1 block whose arrival closed the sequencing window).
    pub derived_from: ol_l1::L1BlockRef,
}

impl DerivedBlock {
    /// Number of the derived block.
    pub const fn number(&self) -> u64 {
        self.parent.number + 1
    }

    /// Position of the block in its epoch.
    pub const fn sequence_number(&self) -> u64 {
        self.attributes.l1_info.sequence_number
    }

    /// The block's [`L2BlockInfo`] once executed with hash `hash`: what the caller passes to
    /// [`crate::Pipeline::on_block_executed`].
    pub const fn block_info(&self, hash: B256) -> L2BlockInfo {
        L2BlockInfo {
            number: self.number(),
            hash,
            parent_hash: self.parent.hash,
            timestamp: self.attributes.timestamp,
            l1_origin: self.epoch.id(),
            sequence_number: self.sequence_number(),
        }
    }
}

/// What one [`crate::Pipeline::step`] produced.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "one step per derived block, moved straight to the caller; boxing buys nothing"
)]
pub enum Step {
    /// The next L2 block. The pipeline returns it again until the caller reports it executed
    /// ([`crate::Pipeline::on_block_executed`] or
    /// [`crate::Pipeline::on_deposits_only_replacement`]).
    Derived(DerivedBlock),
    /// Every block derivable from L1 data up to and including this L1 block was returned.
    L1Consumed(ol_l1::L1BlockRef),
    /// Caught up to the L1 limit: nothing more until a higher limit.
    Idle,
}
