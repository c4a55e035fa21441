//! The attestor's transactions: signed locally with the attestor key and put straight into the
//! sequencer's own pool, at the pool's next nonce for the key.
//!
//! Where the chain has the `AttestorBatch` predeploy, the attestor's account delegates to it
//! (EIP-7702, one type-4 transaction the first time) and the calls of many jobs then travel in
//! one transaction the account sends to itself: each call still comes from the attestor's
//! address, one transaction's base cost and one nonce serve them all, and a job's record,
//! fulfilment and settlement land in the same block.

use crate::JobsError;
use alloy_consensus::{SignableTransaction as _, TxEip1559, TxEip7702, constants::KECCAK_EMPTY};
use alloy_eips::{
    eip2718::Encodable2718 as _,
    eip7702::{Authorization, constants::EIP7702_DELEGATION_DESIGNATOR},
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync as _;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall as _;
use ol_chain::Chain;
use ol_primitives::{OpTxEnvelope, addresses::dev_suite::ATTESTOR_BATCH, contracts::AttestorBatch};
use ol_txpool::TxPool;
use parking_lot::Mutex;
use std::sync::Arc;

/// Gas of the delegation transaction: the base cost, one authorization (EIP-7702's 25,000 per
/// tuple) and the empty call of `AttestorBatch.receive`, with room to spare.
const DELEGATION_GAS: u64 = 80_000;

/// How the attestor's transactions carry calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sending {
    /// The account delegates to `AttestorBatch`: many calls per transaction.
    Batched,
    /// One call per transaction: the chain has no `AttestorBatch` (or the delegation did not
    /// take effect).
    Single,
    /// Nothing is to be sent: the delegation is in the pool, and it bumps the account's nonce
    /// twice (once as the sender, once as the authority), which the pool cannot foresee for a
    /// transaction queued behind it.
    Waiting,
}

/// The delegation's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delegation {
    NotSent,
    Sent(B256),
    /// Mined without taking effect: the service stays with one call per transaction.
    Failed,
}

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
    /// The delegation transaction's progress.
    delegation: Mutex<Delegation>,
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
            delegation: Mutex::new(Delegation::NotSent),
        }
    }

    /// The attestor's address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The gas a call of `to` with `input` from the attestor takes on the head state.
    pub fn estimate(&self, to: Address, input: Bytes) -> Result<u64, JobsError> {
        self.chain
            .estimate_at_head(self.address(), to, input)
            .map_err(|e| JobsError::Transaction(format!("estimating gas: {e}")))
    }

    /// Signs a call of `to` with `input` at the next nonce, with a gas limit estimated on the
    /// head state (plus a margin) and a fee cap of twice the next base fee plus the tip; the
    /// raw transaction and its hash. Nothing is sent.
    pub fn sign(&self, to: Address, input: Bytes) -> Result<(B256, Vec<u8>), JobsError> {
        let gas = self.estimate(to, input.clone())?;
        self.sign_with_gas(to, input, gas)
    }

    /// [`Self::sign`] with the gas already estimated.
    pub fn sign_with_gas(
        &self,
        to: Address,
        input: Bytes,
        gas: u64,
    ) -> Result<(B256, Vec<u8>), JobsError> {
        let (nonce, max_fee) = self.next_nonce_and_fee_cap()?;
        let tx = TxEip1559 {
            chain_id: self.chain.chain_id(),
            nonce,
            gas_limit: gas + gas / 5 + 10_000,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: PRIORITY_FEE,
            to: TxKind::Call(to),
            input,
            ..TxEip1559::default()
        };
        let signature = self.sign_digest(tx.signature_hash())?;
        let envelope = OpTxEnvelope::Eip1559(tx.into_signed(signature));
        Ok((envelope.tx_hash(), envelope.encoded_2718()))
    }

    /// The calldata of one batch transaction (`AttestorBatch.execute`) carrying `calls`, each a
    /// destination and its input, in order. The transaction goes to [`Self::address`].
    pub fn batch_input(calls: &[(Address, Bytes)]) -> Bytes {
        AttestorBatch::executeCall {
            calls: calls
                .iter()
                .map(|(to, data)| AttestorBatch::Call {
                    to: *to,
                    value: U256::ZERO,
                    data: data.clone(),
                })
                .collect(),
        }
        .abi_encode()
        .into()
    }

    /// How transactions can carry calls now. Sends the delegation to `AttestorBatch` when the
    /// chain has it and the account does not delegate yet, so that later passes batch.
    pub fn sending(&self) -> Result<Sending, JobsError> {
        let storage = self.chain.storage();
        let from = self.address();
        let delegated = keccak256(
            [
                &EIP7702_DELEGATION_DESIGNATOR[..],
                ATTESTOR_BATCH.as_slice(),
            ]
            .concat(),
        );
        if storage
            .account(&from)?
            .is_some_and(|a| a.code_hash == delegated)
        {
            return Ok(Sending::Batched);
        }
        let batch_deployed = storage
            .account(&ATTESTOR_BATCH)?
            .is_some_and(|a| a.code_hash != KECCAK_EMPTY);
        let mut delegation = self.delegation.lock();
        if !batch_deployed || *delegation == Delegation::Failed {
            return Ok(Sending::Single);
        }
        if let Delegation::Sent(hash) = *delegation {
            match self.state(hash)? {
                TxState::Pooled => return Ok(Sending::Waiting),
                TxState::Mined => {
                    // Mined since the account was read above, perhaps.
                    if storage
                        .account(&from)?
                        .is_some_and(|a| a.code_hash == delegated)
                    {
                        return Ok(Sending::Batched);
                    }
                    tracing::warn!(target: "jobs", tx = %hash, "the delegation to AttestorBatch did not take effect; one call per transaction");
                    *delegation = Delegation::Failed;
                    return Ok(Sending::Single);
                }
                // Dropped: sign it again.
                TxState::Unknown => {}
            }
        }
        let (hash, raw) = self.sign_delegation()?;
        *delegation = Delegation::Sent(hash);
        self.send(&raw)?;
        tracing::info!(target: "jobs", tx = %hash, batch = %ATTESTOR_BATCH, "attestor delegating to AttestorBatch (EIP-7702)");
        Ok(Sending::Waiting)
    }

    /// A type-4 transaction from the attestor to itself whose one authorization (signed by the
    /// same key, so at the transaction's nonce plus one) delegates the account to
    /// `AttestorBatch`.
    fn sign_delegation(&self) -> Result<(B256, Vec<u8>), JobsError> {
        let (nonce, max_fee) = self.next_nonce_and_fee_cap()?;
        let chain_id = self.chain.chain_id();
        let authorization = Authorization {
            chain_id: U256::from(chain_id),
            address: ATTESTOR_BATCH,
            nonce: nonce + 1,
        };
        let signature = self.sign_digest(authorization.signature_hash())?;
        let tx = TxEip7702 {
            chain_id,
            nonce,
            gas_limit: DELEGATION_GAS,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: PRIORITY_FEE,
            to: self.address(),
            authorization_list: vec![authorization.into_signed(signature)],
            ..TxEip7702::default()
        };
        let signature = self.sign_digest(tx.signature_hash())?;
        let envelope = OpTxEnvelope::Eip7702(tx.into_signed(signature));
        Ok((envelope.tx_hash(), envelope.encoded_2718()))
    }

    /// The pool's next nonce for the attestor and a fee cap of twice the next base fee plus the
    /// tip.
    fn next_nonce_and_fee_cap(&self) -> Result<(u64, u128), JobsError> {
        let from = self.address();
        let base_fee = ol_evm::next_block_base_fee(self.chain.head().inner())
            .map_err(|e| JobsError::Transaction(format!("next base fee: {e}")))?;
        let state_nonce = self.chain.storage().account(&from)?.map_or(0, |a| a.nonce);
        Ok((
            self.pool.pending_nonce(&from, state_nonce),
            2 * u128::from(base_fee) + PRIORITY_FEE,
        ))
    }

    fn sign_digest(&self, digest: B256) -> Result<alloy_primitives::Signature, JobsError> {
        self.signer
            .sign_hash_sync(&digest)
            .map_err(|e| JobsError::Transaction(format!("signing: {e}")))
    }

    /// A replacement of the pooled transaction `hash` when the next block cannot include it
    /// (its fee cap is below the next base fee plus the tip, the base fee having risen since
    /// it was signed): the same nonce, gas, destination and input, with fees raised as
    /// [`bumped_fees`] says. `None` when it is not in the pool or is includable. Nothing is
    /// sent.
    pub fn replacement_if_stuck(&self, hash: B256) -> Result<Option<(B256, Vec<u8>)>, JobsError> {
        let Some(pooled) = self.pool.get(&hash) else {
            return Ok(None);
        };
        let OpTxEnvelope::Eip1559(signed) = pooled.inner() else {
            return Ok(None);
        };
        let old = signed.tx();
        let base_fee = ol_evm::next_block_base_fee(self.chain.head().inner())
            .map_err(|e| JobsError::Transaction(format!("next base fee: {e}")))?;
        let Some((max_fee, tip)) = bumped_fees(
            old.max_fee_per_gas,
            old.max_priority_fee_per_gas,
            u128::from(base_fee),
        ) else {
            return Ok(None);
        };
        let tx = TxEip1559 {
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            ..old.clone()
        };
        let signature = self.sign_digest(tx.signature_hash())?;
        let envelope = OpTxEnvelope::Eip1559(tx.into_signed(signature));
        Ok(Some((envelope.tx_hash(), envelope.encoded_2718())))
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

/// The fees of a replacement for a transaction with fee cap `max_fee` and tip `tip` when the
/// next base fee is `base_fee`: `None` while `max_fee` still covers `base_fee + tip`; else a
/// cap of twice the base fee plus the tip, and at least the pool's replacement bump (+10%, as
/// geth and reth ask; 12.5% here, so that rounding never falls short) on both fields.
pub fn bumped_fees(max_fee: u128, tip: u128, base_fee: u128) -> Option<(u128, u128)> {
    if max_fee >= base_fee.saturating_add(tip) {
        return None;
    }
    let bump = |fee: u128| fee.saturating_add(fee / 8).saturating_add(1);
    let tip = bump(tip).max(PRIORITY_FEE);
    let max_fee = bump(max_fee).max(base_fee.saturating_mul(2).saturating_add(tip));
    Some((max_fee, tip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_includable_transaction_is_left_alone() {
        assert_eq!(bumped_fees(3_000, 1_000, 2_000), None);
        assert_eq!(bumped_fees(10_000, 1_000, 2_000), None);
    }

    #[test]
    fn a_stuck_transaction_is_replaced_above_the_pools_bump_and_the_base_fee() {
        let (max_fee, tip) = bumped_fees(2_000_000, PRIORITY_FEE, 5_000_000).expect("stuck");
        // The pool takes a replacement that raises both fields by 10% or more.
        assert!(tip * 100 >= PRIORITY_FEE * 110);
        assert!(max_fee * 100 >= 2_000_000 * 110);
        // And the next block can include it.
        assert!(max_fee >= 5_000_000 + tip);
        // A cap far below the base fee is raised to twice it plus the tip.
        assert_eq!(max_fee, 2 * 5_000_000 + tip);
        // Fees near the top do not overflow.
        let (max_fee, tip) = bumped_fees(u128::MAX - 1, 1, u128::MAX).expect("stuck");
        assert_eq!((max_fee, tip), (u128::MAX, PRIORITY_FEE));
    }
}
