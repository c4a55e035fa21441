//! The L1 data the rollup reads: block references, headers, transactions and receipts, in small
//! backend-independent types so that `L1Client` implementations need not share alloy's RPC types.

use alloy::{
    consensus::Header,
    primitives::{Address, B256, Bytes},
};
use ol_primitives::L1Origin;

/// A reference to an L1 block with what chain following needs (op-node's `L1BlockRef`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct L1BlockRef {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// Hash of the parent block.
    pub parent_hash: B256,
    /// Block timestamp in seconds.
    pub timestamp: u64,
}

impl L1BlockRef {
    /// Number and hash only (op-node's `BlockID`, which `ol-primitives` calls `L1BlockRef`).
    pub const fn id(&self) -> ol_primitives::L1BlockRef {
        ol_primitives::L1BlockRef {
            hash: self.hash,
            number: self.number,
        }
    }
}

impl std::fmt::Display for L1BlockRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{} ({})", self.number, self.hash)
    }
}

/// An L1 header with its hash as the endpoint reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L1Header {
    /// The block hash.
    pub hash: B256,
    /// The consensus header.
    pub header: Header,
}

impl L1Header {
    /// The block reference of this header.
    pub const fn block_ref(&self) -> L1BlockRef {
        L1BlockRef {
            number: self.header.number,
            hash: self.hash,
            parent_hash: self.header.parent_hash,
            timestamp: self.header.timestamp,
        }
    }

    /// The L1 origin fields the L1-info deposit carries. `blob_base_fee` is computed by the caller
    /// from `excess_blob_gas` with the blob parameters of the L1 fork in force (the header does
    /// not say which fork that is); a chain without blobs uses 1, as OP specifies.
    pub fn origin(&self, blob_base_fee: u128) -> L1Origin {
        L1Origin {
            number: self.header.number,
            hash: self.hash,
            timestamp: self.header.timestamp,
            base_fee: self.header.base_fee_per_gas.map_or(0, u128::from),
            blob_base_fee,
        }
    }
}

/// An L1 transaction as the batch inbox reader needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L1Transaction {
    /// Transaction hash.
    pub hash: B256,
    /// Recovered sender.
    pub from: Address,
    /// Recipient (`None` for a creation).
    pub to: Option<Address>,
    /// Calldata.
    pub input: Bytes,
}

/// The outcome of a mined L1 transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L1Receipt {
    /// Transaction hash.
    pub transaction_hash: B256,
    /// The block it was mined in.
    pub block: ol_primitives::L1BlockRef,
    /// Whether it succeeded.
    pub success: bool,
    /// Gas used.
    pub gas_used: u64,
    /// Price paid per gas.
    pub effective_gas_price: u128,
}

/// A log of an L1 block, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L1Log {
    /// The block the log is in.
    pub block_hash: B256,
    /// Index of the log in the block (what deposit source hashes commit to).
    pub log_index: u64,
    /// Emitting contract, topics and data.
    pub inner: alloy::primitives::Log,
}
