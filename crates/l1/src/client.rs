//! The `L1Client` trait: every L1 read and write the rollup makes, as one seam that the alloy HTTP
//! client, test chains and other backends implement.

use crate::{
    block::{L1BlockRef, L1Header, L1Log, L1Receipt, L1Transaction},
    error::L1Error,
};
use alloy::primitives::{Address, B256, Bytes, TxKind, U256};
use std::{future::Future, sync::Arc};

/// A named L1 block (the JSON-RPC block tags the rollup uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockTag {
    /// The chain head.
    Latest,
    /// The latest block the consensus layer deems safe (justified).
    Safe,
    /// The latest finalized block.
    Finalized,
}

impl BlockTag {
    /// The JSON-RPC spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Latest => "latest",
            Self::Safe => "safe",
            Self::Finalized => "finalized",
        }
    }
}

/// EIP-1559 fees to offer for an L1 transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    /// `maxFeePerGas`.
    pub max_fee_per_gas: u128,
    /// `maxPriorityFeePerGas`.
    pub max_priority_fee_per_gas: u128,
}

/// A call to estimate the gas of or to run without a transaction (`eth_call`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GasQuery {
    /// Sender.
    pub from: Address,
    /// Recipient, or a contract creation.
    pub to: TxKind,
    /// Value in wei.
    pub value: U256,
    /// Calldata.
    pub input: Bytes,
}

/// Access to an L1 chain. Implementations retry transient failures themselves; an error means
/// the request is lost for now (see [`L1Error::is_transient`]).
pub trait L1Client: Send + Sync {
    /// The L1 chain id.
    fn chain_id(&self) -> impl Future<Output = Result<u64, L1Error>> + Send;

    /// The block a tag names.
    fn block_ref(&self, tag: BlockTag) -> impl Future<Output = Result<L1BlockRef, L1Error>> + Send;

    /// The canonical header at `number`, `None` when the chain is not that long.
    fn header_by_number(
        &self,
        number: u64,
    ) -> impl Future<Output = Result<Option<L1Header>, L1Error>> + Send;

    /// The header with this hash, `None` when the endpoint does not know it.
    fn header_by_hash(
        &self,
        hash: B256,
    ) -> impl Future<Output = Result<Option<L1Header>, L1Error>> + Send;

    /// The logs of block `block_hash` emitted by `address` with first topic `topic0`, in log order.
    /// Selecting the block by hash (EIP-234) means a reorg cannot mix in another block's logs.
    fn logs(
        &self,
        block_hash: B256,
        address: Address,
        topic0: B256,
    ) -> impl Future<Output = Result<Vec<L1Log>, L1Error>> + Send;

    /// The transactions of block `block_hash` in block order; [`L1Error::BlockNotFound`] when the
    /// endpoint does not know the block.
    fn block_transactions(
        &self,
        block_hash: B256,
    ) -> impl Future<Output = Result<Vec<L1Transaction>, L1Error>> + Send;

    /// The next nonce of `address`, counting its pending transactions.
    fn nonce(&self, address: Address) -> impl Future<Output = Result<u64, L1Error>> + Send;

    /// Fees likely to get a transaction into the next blocks.
    fn fees(&self) -> impl Future<Output = Result<Fees, L1Error>> + Send;

    /// The gas a call would use.
    fn estimate_gas(&self, query: GasQuery) -> impl Future<Output = Result<u64, L1Error>> + Send;

    /// Runs `query` against the state after block `block` without a transaction (`eth_call`) and
    /// returns its output; a revert is [`L1Error::Rejected`].
    fn call(
        &self,
        query: GasQuery,
        block: BlockTag,
    ) -> impl Future<Output = Result<Bytes, L1Error>> + Send;

    /// Sends a signed, EIP-2718 encoded transaction and returns its hash.
    fn send_raw_transaction(
        &self,
        raw: Bytes,
    ) -> impl Future<Output = Result<B256, L1Error>> + Send;

    /// The receipt of a mined transaction, `None` while it is not mined.
    fn receipt(
        &self,
        hash: B256,
    ) -> impl Future<Output = Result<Option<L1Receipt>, L1Error>> + Send;
}

impl<T: L1Client> L1Client for Arc<T> {
    fn chain_id(&self) -> impl Future<Output = Result<u64, L1Error>> + Send {
        (**self).chain_id()
    }

    fn block_ref(&self, tag: BlockTag) -> impl Future<Output = Result<L1BlockRef, L1Error>> + Send {
        (**self).block_ref(tag)
    }

    fn header_by_number(
        &self,
        number: u64,
    ) -> impl Future<Output = Result<Option<L1Header>, L1Error>> + Send {
        (**self).header_by_number(number)
    }

    fn header_by_hash(
        &self,
        hash: B256,
    ) -> impl Future<Output = Result<Option<L1Header>, L1Error>> + Send {
        (**self).header_by_hash(hash)
    }

    fn logs(
        &self,
        block_hash: B256,
        address: Address,
        topic0: B256,
    ) -> impl Future<Output = Result<Vec<L1Log>, L1Error>> + Send {
        (**self).logs(block_hash, address, topic0)
    }

    fn block_transactions(
        &self,
        block_hash: B256,
    ) -> impl Future<Output = Result<Vec<L1Transaction>, L1Error>> + Send {
        (**self).block_transactions(block_hash)
    }

    fn nonce(&self, address: Address) -> impl Future<Output = Result<u64, L1Error>> + Send {
        (**self).nonce(address)
    }

    fn fees(&self) -> impl Future<Output = Result<Fees, L1Error>> + Send {
        (**self).fees()
    }

    fn estimate_gas(&self, query: GasQuery) -> impl Future<Output = Result<u64, L1Error>> + Send {
        (**self).estimate_gas(query)
    }

    fn call(
        &self,
        query: GasQuery,
        block: BlockTag,
    ) -> impl Future<Output = Result<Bytes, L1Error>> + Send {
        (**self).call(query, block)
    }

    fn send_raw_transaction(
        &self,
        raw: Bytes,
    ) -> impl Future<Output = Result<B256, L1Error>> + Send {
        (**self).send_raw_transaction(raw)
    }

    fn receipt(
        &self,
        hash: B256,
    ) -> impl Future<Output = Result<Option<L1Receipt>, L1Error>> + Send {
        (**self).receipt(hash)
    }
}
