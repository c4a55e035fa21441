//! Reads of contract state at the head, for the node's own services (the content store's read
//! policy, the job service): the same EVM and state as `eth_call` at `latest`, typed by the
//! contract's `sol!` bindings.

use crate::Chain;
use alloy_primitives::{Address, Bytes};
use alloy_sol_types::SolCall;
use ol_evm::call::{CallError, Overrides};
use ol_storage::StateProviderDb;

/// Gas given to a head-state read: reads of the registries loop over pages of at most a few
/// hundred entries.
const VIEW_GAS: u64 = 50_000_000;

/// Why a head-state read failed.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The call did not succeed (a revert carries the contract's error data).
    #[error("{signature}: {source}")]
    Call {
        /// The called function.
        signature: &'static str,
        /// What the EVM said.
        source: CallError,
    },
    /// The answer did not decode as the function's return type.
    #[error("{signature}: undecodable answer: {source}")]
    Decode {
        /// The called function.
        signature: &'static str,
        /// The decoder's error.
        source: alloy_sol_types::Error,
    },
}

impl ViewError {
    /// The revert data, when the call reverted.
    pub const fn revert_data(&self) -> Option<&Bytes> {
        match self {
            Self::Call {
                source: CallError::Revert(data),
                ..
            } => Some(data),
            _ => None,
        }
    }
}

impl Chain {
    /// Calls `call` on `to` from `from` on the state after block `number` and decodes the
    /// answer.
    pub fn view_at<C: SolCall>(
        &self,
        number: u64,
        from: Address,
        to: Address,
        call: &C,
    ) -> Result<C::Return, ViewError> {
        let output = self
            .call_at(number, from, to, call.abi_encode().into())
            .map_err(|source| ViewError::Call {
                signature: C::SIGNATURE,
                source,
            })?;
        C::abi_decode_returns(&output).map_err(|source| ViewError::Decode {
            signature: C::SIGNATURE,
            source,
        })
    }

    /// [`Self::view_at`] on the head state.
    pub fn view<C: SolCall>(
        &self,
        from: Address,
        to: Address,
        call: &C,
    ) -> Result<C::Return, ViewError> {
        self.view_at(self.head().number, from, to, call)
    }

    /// Runs a call on the state after block `number`; its return data.
    pub fn call_at(
        &self,
        number: u64,
        from: Address,
        to: Address,
        input: Bytes,
    ) -> Result<Bytes, CallError> {
        let header = self
            .storage()
            .header_by_number(number)
            .map_err(|e| CallError::Internal(e.to_string()))?
            .ok_or_else(|| CallError::Internal(format!("block {number} is not stored")))?;
        let env = self.evm().evm_env_for_header(header.inner());
        let db = StateProviderDb::at_block(self.storage().clone(), number);
        let tx = ol_evm::call_tx(from, to, input, VIEW_GAS, self.chain_id());
        Ok(self
            .evm()
            .call(&db, env, tx, None, &Overrides::default())?
            .output)
    }

    /// The gas a transaction from `from` to `to` with `input` needs on the head state.
    pub fn estimate_at_head(
        &self,
        from: Address,
        to: Address,
        input: Bytes,
    ) -> Result<u64, CallError> {
        let header = self.head();
        let env = self.evm().evm_env_for_header(header.inner());
        let db = StateProviderDb::at_block(self.storage().clone(), header.number);
        let tx = ol_evm::call_tx(from, to, input, self.gas_limit(), self.chain_id());
        self.evm()
            .estimate_gas(&db, env, tx, self.gas_limit(), None, &Overrides::default())
    }
}
