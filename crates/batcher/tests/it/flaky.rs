//! An `L1Client` over `MemoryL1` whose transaction sends can be made to fail in the ways a real
//! endpoint does: refused before delivery, delivered but unacknowledged, or accepted and lost.

use alloy::{
    consensus::TxEnvelope,
    primitives::{Address, B256, Bytes},
};
use alloy_eips::eip2718::Decodable2718;
use ol_l1::{
    BlockTag, Fees, GasQuery, L1BlockRef, L1Client, L1Error, L1Header, L1Log, L1Receipt,
    L1Transaction, test_utils::MemoryL1,
};
use std::{
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
    time::Duration,
};

/// How `send_raw_transaction` behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum SendMode {
    /// Forwarded to the chain.
    Normal,
    /// Fails before reaching the chain.
    Fail,
    /// Reaches the chain, but the caller gets an error (a connection lost after delivery).
    DeliverThenFail,
    /// Acknowledged, never mined (dropped from the mempool).
    Swallow,
}

#[derive(Debug)]
pub(crate) struct FlakyL1 {
    pub(crate) chain: Arc<MemoryL1>,
    mode: AtomicU8,
}

fn unavailable() -> L1Error {
    L1Error::Unavailable {
        method: "eth_sendRawTransaction",
        attempts: 1,
        elapsed: Duration::ZERO,
        last: "injected".into(),
    }
}

impl FlakyL1 {
    pub(crate) fn new(chain: Arc<MemoryL1>) -> Self {
        Self {
            chain,
            mode: AtomicU8::new(SendMode::Normal as u8),
        }
    }

    pub(crate) fn set(&self, mode: SendMode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    fn mode(&self) -> u8 {
        self.mode.load(Ordering::SeqCst)
    }
}

impl L1Client for FlakyL1 {
    async fn chain_id(&self) -> Result<u64, L1Error> {
        self.chain.chain_id().await
    }
    async fn block_ref(&self, tag: BlockTag) -> Result<L1BlockRef, L1Error> {
        self.chain.block_ref(tag).await
    }
    async fn header_by_number(&self, number: u64) -> Result<Option<L1Header>, L1Error> {
        self.chain.header_by_number(number).await
    }
    async fn header_by_hash(&self, hash: B256) -> Result<Option<L1Header>, L1Error> {
        self.chain.header_by_hash(hash).await
    }
    async fn logs(
        &self,
        block_hash: B256,
        address: Address,
        topic0: B256,
    ) -> Result<Vec<L1Log>, L1Error> {
        self.chain.logs(block_hash, address, topic0).await
    }
    async fn block_transactions(&self, block_hash: B256) -> Result<Vec<L1Transaction>, L1Error> {
        self.chain.block_transactions(block_hash).await
    }
    async fn nonce(&self, address: Address) -> Result<u64, L1Error> {
        self.chain.nonce(address).await
    }
    async fn fees(&self) -> Result<Fees, L1Error> {
        self.chain.fees().await
    }
    async fn estimate_gas(&self, query: GasQuery) -> Result<u64, L1Error> {
        self.chain.estimate_gas(query).await
    }
    async fn call(&self, query: GasQuery, block: BlockTag) -> Result<Bytes, L1Error> {
        self.chain.call(query, block).await
    }
    async fn send_raw_transaction(&self, raw: Bytes) -> Result<B256, L1Error> {
        match self.mode() {
            m if m == SendMode::Fail as u8 => Err(unavailable()),
            m if m == SendMode::DeliverThenFail as u8 => {
                self.chain.send_raw_transaction(raw).await?;
                Err(unavailable())
            }
            m if m == SendMode::Swallow as u8 => {
                let envelope = TxEnvelope::decode_2718(&mut raw.as_ref()).unwrap();
                Ok(*envelope.tx_hash())
            }
            _ => self.chain.send_raw_transaction(raw).await,
        }
    }
    async fn receipt(&self, hash: B256) -> Result<Option<L1Receipt>, L1Error> {
        self.chain.receipt(hash).await
    }
}
