//! What a block's transactions touched, as execution saw it: the input of the node's address
//! index (Otterscan's address search, contract creators).

use alloy_primitives::Address;
use std::collections::BTreeSet;

/// A contract creation seen during execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Creation {
    /// The new contract.
    pub contract: Address,
    /// The account whose `CREATE`/`CREATE2` (or creating transaction) made it.
    pub creator: Address,
}

/// What one transaction touched, as execution saw it: the caller and callee of every call
/// frame (internal ones included), and the contracts it created and kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxActivity {
    /// Every address that appeared as a frame's caller, target or beneficiary.
    pub touched: BTreeSet<Address>,
    /// The contracts it created that survived (frames that reverted create nothing).
    pub created: Vec<Creation>,
}

/// The activity of a block's transactions, in block order. A block committed without it (a
/// test that builds blocks by hand) is still indexed by each transaction's sender and
/// recipient.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockActivity {
    /// One entry per transaction; missing entries count as empty.
    pub transactions: Vec<TxActivity>,
}
