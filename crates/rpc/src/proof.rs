//! `eth_getProof` (EIP-1186): the account and storage proofs of the head state.

use crate::{EthRpc, error};
use alloy_consensus::constants::{EMPTY_ROOT_HASH, KECCAK_EMPTY};
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256};
use alloy_rpc_types_eth::{EIP1186AccountProofResponse, EIP1186StorageProof};
use alloy_serde::JsonStorageKey;
use jsonrpsee::core::RpcResult;

/// Whether `block` names the head whatever it is (no block, or a tag that resolves to the
/// head on this node).
fn names_the_head(block: Option<BlockId>) -> bool {
    matches!(
        block,
        None | Some(BlockId::Number(
            BlockNumberOrTag::Latest
                | BlockNumberOrTag::Pending
                | BlockNumberOrTag::Safe
                | BlockNumberOrTag::Finalized
        ))
    )
}

impl EthRpc {
    /// The proof of `address` and its `keys` at `block`, which must be the head.
    pub(crate) fn account_proof(
        &self,
        address: Address,
        keys: Vec<JsonStorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse> {
        // Refuse historical blocks before doing the work.
        self.ensure_head_state(block)?;
        let slots: Vec<B256> = keys.iter().map(JsonStorageKey::as_b256).collect();
        let proof = self
            .chain
            .storage()
            .account_proof(&address, &slots)
            .map_err(error::internal)?;
        // The proof is read from one snapshot, which may already hold a block committed after
        // the check above: a block named by number or hash must still be that block.
        if !names_the_head(block)
            && let Some(id) = block
        {
            let header = self
                .header_by_id(id)?
                .ok_or_else(|| error::server("header not found"))?;
            if header.hash() != proof.block_hash {
                return Err(error::server(format!(
                    "historical state is not available: this node serves state at the head ({}) only",
                    proof.block_number
                )));
            }
        }
        let storage_proof = keys
            .into_iter()
            .zip(proof.storage_proofs)
            .map(|(key, slot)| EIP1186StorageProof {
                key,
                value: slot.value,
                proof: slot.proof,
            })
            .collect();
        let account = proof.account;
        Ok(EIP1186AccountProofResponse {
            address,
            balance: account.map(|a| a.balance).unwrap_or_default(),
            code_hash: account.map_or(KECCAK_EMPTY, |a| a.code_hash),
            nonce: account.map_or(0, |a| a.nonce),
            storage_hash: account.map_or(EMPTY_ROOT_HASH, |a| a.storage_root),
            account_proof: proof.account_proof,
            storage_proof,
        })
    }
}
