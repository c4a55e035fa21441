//! Single calls against a state, for `eth_call` and `eth_estimateGas`.

use crate::{OlEvmConfig, OpSpecId};
use alloy_evm::{Evm, EvmEnv, EvmFactory};
use alloy_op_evm::{OpTx, OpTxError};
use alloy_primitives::Bytes;
use op_revm::{OpTransaction, transaction::deposit::DepositTransactionParts};
use revm::{
    context::{TxEnv, result::ExecutionResult},
    context_interface::result::EVMError,
    database::{CacheDB, DatabaseRef},
};

/// Why a call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The call reverted with this output.
    #[error("execution reverted")]
    Revert(Bytes),
    /// The call halted (out of gas, invalid opcode, ...).
    #[error("{0}")]
    Halt(String),
    /// The call is not a valid transaction on this state (e.g. insufficient funds).
    #[error("{0}")]
    Invalid(String),
    /// Estimation found no gas limit up to the cap that succeeds.
    #[error("gas required exceeds allowance ({0})")]
    GasCapExceeded(u64),
    /// The state could not be read.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Gas used by a successful call, with its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    /// Gas used.
    pub gas_used: u64,
    /// Return data.
    pub output: Bytes,
}

impl OlEvmConfig {
    /// Runs `tx` on `db` in `env` without committing. Nonces are not checked; a call without a
    /// gas price pays no fees (as `eth_call` does in geth); no L1 fee is charged.
    pub fn call<DB>(
        &self,
        db: &DB,
        env: EvmEnv<OpSpecId>,
        tx: TxEnv,
    ) -> Result<CallOutcome, CallError>
    where
        DB: DatabaseRef + std::fmt::Debug,
        DB::Error: std::fmt::Display,
    {
        let (env, op_tx) = call_input(env, tx);
        let mut evm = self.factory.evm_factory().create_evm(CacheDB::new(db), env);
        let result = evm.transact(op_tx).map_err(transact_error)?;
        let gas_used = result.result.tx_gas_used();
        match result.result {
            ExecutionResult::Success { output, .. } => Ok(CallOutcome {
                gas_used,
                output: output.into_data(),
            }),
            ExecutionResult::Revert { output, .. } => Err(CallError::Revert(output)),
            ExecutionResult::Halt { reason, .. } => Err(CallError::Halt(format!("{reason:?}"))),
        }
    }

    /// The smallest gas limit at which `tx` succeeds, searched between its gas used and `cap`.
    pub fn estimate_gas<DB>(
        &self,
        db: &DB,
        env: EvmEnv<OpSpecId>,
        mut tx: TxEnv,
        cap: u64,
    ) -> Result<u64, CallError>
    where
        DB: DatabaseRef + std::fmt::Debug,
        DB::Error: std::fmt::Display,
    {
        tx.gas_limit = cap;
        let first = self
            .call(db, env.clone(), tx.clone())
            .map_err(|err| match err {
                CallError::Halt(reason) if reason.contains("OutOfGas") => {
                    CallError::GasCapExceeded(cap)
                }
                other => other,
            })?;
        // Gas used is a lower bound; refunds and the 63/64 rule can make the needed limit higher.
        let mut low = first.gas_used.saturating_sub(1);
        let mut high = cap;
        // Most calls succeed at gas used plus a small margin: try that first.
        let optimistic = (first.gas_used + 2_300).saturating_mul(64) / 63;
        if optimistic < high {
            tx.gas_limit = optimistic;
            if self.call(db, env.clone(), tx.clone()).is_ok() {
                high = optimistic;
            } else {
                low = optimistic;
            }
        }
        while high - low > 1 {
            // Stop when within 1.5% as geth does: the answer is an upper bound either way.
            if (high - low) * 1000 / high < 15 {
                break;
            }
            let mid = low + (high - low) / 2;
            tx.gas_limit = mid;
            match self.call(db, env.clone(), tx.clone()) {
                Ok(_) => high = mid,
                Err(CallError::Revert(_) | CallError::Halt(_)) => low = mid,
                Err(other) => return Err(other),
            }
        }
        Ok(high)
    }
}

/// The environment and transaction of a call: nonces are not checked, the block gas limit does
/// not apply, and a call without a gas price pays no fees.
pub(crate) fn call_input(mut env: EvmEnv<OpSpecId>, tx: TxEnv) -> (EvmEnv<OpSpecId>, OpTx) {
    env.cfg_env.disable_nonce_check = true;
    env.cfg_env.disable_block_gas_limit = true;
    if tx.gas_price == 0 {
        env.cfg_env.disable_base_fee = true;
        env.cfg_env.disable_fee_charge = true;
    }
    let op_tx = OpTx(OpTransaction {
        base: tx,
        enveloped_tx: Some(Bytes::new()),
        deposit: DepositTransactionParts::default(),
    });
    (env, op_tx)
}

/// A failed `transact` as a call error.
pub(crate) fn transact_error<E: std::fmt::Display>(err: EVMError<E, OpTxError>) -> CallError {
    match err {
        EVMError::Transaction(invalid) => {
            CallError::Invalid(invalid_message(&invalid.to_string(), &invalid))
        }
        EVMError::Database(db) => CallError::Internal(db.to_string()),
        other => CallError::Internal(other.to_string()),
    }
}

/// geth's wording for the invalid-transaction errors wallets match on.
fn invalid_message(fallback: &str, invalid: &dyn std::fmt::Debug) -> String {
    let debug = format!("{invalid:?}");
    if debug.contains("LackOfFundForMaxFee") || debug.contains("OverflowPaymentInTransaction") {
        "insufficient funds for gas * price + value".into()
    } else if debug.contains("CallGasCostMoreThanGasLimit") {
        "intrinsic gas too low".into()
    } else {
        fallback.into()
    }
}
