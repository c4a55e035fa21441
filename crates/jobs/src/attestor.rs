//! The attestor's transactions: signed locally with the attestor key and put straight into the
//! sequencer's own pool, at the pool's next nonce for the key.

use crate::JobsError;
use alloy_consensus::{SignableTransaction as _, TxEip1559};
use alloy_eips::eip2718::Encodable2718 as _;
use alloy_primitives::{Address, B256, Bytes, TxKind};
use alloy_signer::SignerSync as _;
use alloy_signer_local::PrivateKeySigner;
use ol_chain::Chain;
use ol_primitives::OpTxEnvelope;
use ol_txpool::TxPool;
use std::sync::Arc;

/// The tip the attestor pays (0.001 gwei, what `eth_maxPriorityFeePerGas` suggests).
const PRIORITY_FEE: u128 = 1_000_000;

/// Where a sent transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxState {
    /// Waiting in the pool.
    Pooled,
    /// In a block.
    Mined,
    /// Neither (dropped, or lost with the pool in a crash).
    Unknown,
}

/// Sends transactions from the attestor key.
pub struct Attestor {
    signer: PrivateKeySigner,
    chain: Arc<Chain>,
    pool: Arc<TxPool>,
}

impl std::fmt::Debug for Attestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attestor")
            .field("address", &self.signer.address())
            .finish_non_exhaustive()
    }
}

impl Attestor {
    /// The attestor `signer` on `chain`, sending into `pool`.
    pub const fn new(signer: PrivateKeySigner, chain: Arc<Chain>, pool: Arc<TxPool>) -> Self {
        Self {
            signer,
            chain,
            pool,
        }
    }

    /// The attestor's address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// Signs a call of `to` with `input` at the next nonce, with a gas limit estimated on the
    /// head state (plus a margin) and a fee cap of twice the next base fee plus the tip; the
    /// raw transaction and its hash. Nothing is sent.
    pub fn sign(&self, to: Address, input: Bytes) -> Result<(B256, Vec<u8>), JobsError> {
        let from = self.address();
        let gas = self
            .chain
            .estimate_at_head(from, to, input.clone())
            .map_err(|e| JobsError::Transaction(format!("estimating gas: {e}")))?;
        let head = self.chain.head();
        let base_fee = ol_evm::next_block_base_fee(head.inner())
            .map_err(|e| JobsError::Transaction(format!("next base fee: {e}")))?;
        let state_nonce = self.chain.storage().account(&from)?.map_or(0, |a| a.nonce);
        let tx = TxEip1559 {
            chain_id: self.chain.chain_id(),
            nonce: self.pool.pending_nonce(&from, state_nonce),
            gas_limit: gas + gas / 5 + 10_000,
            max_fee_per_gas: 2 * u128::from(base_fee) + PRIORITY_FEE,
            max_priority_fee_per_gas: PRIORITY_FEE,
            to: TxKind::Call(to),
            input,
            ..TxEip1559::default()
        };
        let signature = self
            .signer
            .sign_hash_sync(&tx.signature_hash())
            .map_err(|e| JobsError::Transaction(format!("signing: {e}")))?;
        let envelope = OpTxEnvelope::Eip1559(tx.into_signed(signature));
        Ok((envelope.tx_hash(), envelope.encoded_2718()))
    }

    /// Puts a transaction [`Self::sign`] made into the pool and announces it.
    pub fn send(&self, raw: &[u8]) -> Result<B256, JobsError> {
        let hash = self.pool.add_raw(raw, self.chain.as_ref())?;
        self.chain.announce_pending_transaction(hash);
        Ok(hash)
    }

    /// Where the transaction `hash` stands. The pool is asked first: a transaction leaves it
    /// only after its block is committed, so one not in the pool and not in a block is lost.
    pub fn state(&self, hash: B256) -> Result<TxState, JobsError> {
        if self.pool.get(&hash).is_some() {
            Ok(TxState::Pooled)
        } else if self.chain.storage().transaction_location(&hash)?.is_some() {
            Ok(TxState::Mined)
        } else {
            Ok(TxState::Unknown)
        }
    }

    /// The attestor's transactions waiting in the pool.
    pub fn in_flight(&self) -> Result<u64, JobsError> {
        let from = self.address();
        let state_nonce = self.chain.storage().account(&from)?.map_or(0, |a| a.nonce);
        Ok(self
            .pool
            .pending_nonce(&from, state_nonce)
            .saturating_sub(state_nonce))
    }
}
