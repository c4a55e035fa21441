//! Single calls against a state, for `eth_call` and `eth_estimateGas`, each bounded by gas and,
//! optionally, by wall-clock time ([`crate::deadline`]).

use crate::{OlEvmConfig, OpSpecId, limits::Deadline};
use alloy_evm::{Evm, EvmEnv, EvmFactory};
use alloy_evm::{
    overrides::{StateOverrideError, apply_block_overrides, apply_state_overrides},
    precompiles::PrecompilesMap,
};
use alloy_op_evm::{OpTx, OpTxError};
use alloy_primitives::Address;
use alloy_primitives::Bytes;
use alloy_rpc_types_eth::{BlockOverrides, state::StateOverride};
use op_revm::{OpTransaction, transaction::deposit::DepositTransactionParts};
use revm::{
    context::{TxEnv, result::ExecutionResult},
    context_interface::result::EVMError,
    database::{CacheDB, DatabaseRef},
};
use std::time::{Duration, Instant};

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
    /// The call (or the whole estimation) ran longer than its timeout and was stopped
    /// (geth's message).
    #[error("execution aborted (timeout = {0:?})")]
    Timeout(Duration),
    /// A state or block override cannot be applied (both `state` and `stateDiff` for one
    /// account, bad code, a `movePrecompileToAddress` from an address without a precompile).
    #[error("{0}")]
    BadOverride(String),
    /// The state could not be read.
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a call runs on instead of the plain state: geth's state-override set (balance, nonce,
/// code, `state`, `stateDiff`, `movePrecompileToAddress`) and block overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Per-account overrides.
    pub state: Option<StateOverride>,
    /// Block-environment overrides.
    pub block: Option<Box<BlockOverrides>>,
}

impl Overrides {
    /// `db` with the state overrides applied and `env` with the block overrides; returns the
    /// precompile moves to make on the EVM.
    pub(crate) fn apply<DB>(
        &self,
        db: &mut CacheDB<DB>,
        env: &mut EvmEnv<OpSpecId>,
    ) -> Result<Vec<(Address, Address)>, CallError>
    where
        DB: DatabaseRef,
        DB::Error: std::fmt::Display,
    {
        if let Some(block) = &self.block {
            apply_block_overrides((**block).clone(), db, &mut env.block_env);
        }
        let Some(state) = &self.state else {
            return Ok(Vec::new());
        };
        let moves = state
            .iter()
            .filter_map(|(from, account)| account.move_precompile_to.map(|to| (*from, to)))
            .collect();
        apply_state_overrides(state.clone(), db).map_err(|err| match err {
            StateOverrideError::Database(err) => CallError::Internal(err.to_string()),
            other => CallError::BadOverride(other.to_string()),
        })?;
        Ok(moves)
    }
}

/// Moves the precompiles `moves` names on `evm`.
pub(crate) fn move_precompiles<E: Evm<Precompiles = PrecompilesMap>>(
    evm: &mut E,
    moves: Vec<(Address, Address)>,
) -> Result<(), CallError> {
    evm.precompiles_mut()
        .move_precompiles(moves)
        .map_err(|err| CallError::BadOverride(err.to_string()))
}

/// A wall-clock budget: the timeout and the instant it runs out. An RPC server starts it when
/// the request arrives, so time spent waiting for a worker counts against it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    timeout: Duration,
    until: Instant,
}

impl Budget {
    /// A budget of `timeout` from now.
    pub fn starting_now(timeout: Duration) -> Self {
        Self {
            timeout,
            until: Instant::now() + timeout,
        }
    }
}

/// Gas used by a successful call, with its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    /// Gas used.
    pub gas_used: u64,
    /// Return data.
    pub output: Bytes,
}

/// A plain call from `caller` to `to` with `input`, for the node's own reads of contract state
/// and estimates of its own transactions: no value, no gas price, `gas_limit` gas.
pub fn call_tx(caller: Address, to: Address, input: Bytes, gas_limit: u64, chain_id: u64) -> TxEnv {
    TxEnv {
        tx_type: 0,
        caller,
        gas_limit,
        kind: alloy_primitives::TxKind::Call(to),
        data: input,
        chain_id: Some(chain_id),
        ..Default::default()
    }
}

impl OlEvmConfig {
    /// Runs `tx` on `db` in `env` without committing. Nonces are not checked; a call without a
    /// gas price pays no fees (as `eth_call` does in geth); no L1 fee is charged. With a
    /// `budget`, execution stops once it runs out ([`CallError::Timeout`]).
    pub fn call<DB>(
        &self,
        db: &DB,
        env: EvmEnv<OpSpecId>,
        tx: TxEnv,
        budget: Option<Budget>,
        overrides: &Overrides,
    ) -> Result<CallOutcome, CallError>
    where
        DB: DatabaseRef + std::fmt::Debug,
        DB::Error: std::fmt::Display,
    {
        self.call_within(db, env, tx, budget, overrides)
    }

    fn call_within<DB>(
        &self,
        db: &DB,
        env: EvmEnv<OpSpecId>,
        tx: TxEnv,
        budget: Option<Budget>,
        overrides: &Overrides,
    ) -> Result<CallOutcome, CallError>
    where
        DB: DatabaseRef + std::fmt::Debug,
        DB::Error: std::fmt::Display,
    {
        let (mut env, op_tx) = call_input(env, tx);
        let mut state = CacheDB::new(db);
        let moves = overrides.apply(&mut state, &mut env)?;
        let deadline = Deadline::new(budget.map(|budget| budget.until));
        let mut evm = self
            .factory
            .evm_factory()
            .create_evm_with_inspector(state, env, deadline);
        move_precompiles(&mut evm, moves)?;
        let result = evm.transact(op_tx);
        if let Some(budget) = budget.filter(|_| evm.inspector().expired()) {
            return Err(CallError::Timeout(budget.timeout));
        }
        let result = result.map_err(transact_error)?;
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
    /// With a `budget`, the whole search stops once it runs out.
    pub fn estimate_gas<DB>(
        &self,
        db: &DB,
        env: EvmEnv<OpSpecId>,
        mut tx: TxEnv,
        cap: u64,
        budget: Option<Budget>,
        overrides: &Overrides,
    ) -> Result<u64, CallError>
    where
        DB: DatabaseRef + std::fmt::Debug,
        DB::Error: std::fmt::Display,
    {
        tx.gas_limit = cap;
        let first = self
            .call_within(db, env.clone(), tx.clone(), budget, overrides)
            .map_err(|err| match err {
                CallError::Halt(reason) if reason.contains("OutOfGas") => {
                    CallError::GasCapExceeded(cap)
                }
                other => other,
            })?;
        // A plain transfer to an account without code needs exactly what it used (21,000 with
        // no access list): answer that, as geth, reth and anvil do, rather than the upper end
        // of a search that stops within 1.5%.
        if tx.data.is_empty()
            && let alloy_primitives::TxKind::Call(to) = tx.kind
            && overrides
                .state
                .as_ref()
                .is_none_or(|state| state.get(&to).is_none_or(|account| account.code.is_none()))
            && db
                .basic_ref(to)
                .map_err(|err| CallError::Internal(err.to_string()))?
                .is_none_or(|account| account.is_empty_code_hash() || account.code_hash.is_zero())
        {
            tx.gas_limit = first.gas_used;
            if self
                .call_within(db, env.clone(), tx.clone(), budget, overrides)
                .is_ok()
            {
                return Ok(first.gas_used);
            }
        }
        // Gas used is a lower bound; refunds and the 63/64 rule can make the needed limit higher.
        let mut low = first.gas_used.saturating_sub(1);
        let mut high = cap;
        // Most calls succeed at gas used plus a small margin: try that first.
        let optimistic = (first.gas_used + 2_300).saturating_mul(64) / 63;
        if optimistic < high {
            tx.gas_limit = optimistic;
            match self.call_within(db, env.clone(), tx.clone(), budget, overrides) {
                Ok(_) => high = optimistic,
                Err(err @ (CallError::Timeout(_) | CallError::Internal(_))) => return Err(err),
                Err(_) => low = optimistic,
            }
        }
        while high - low > 1 {
            // Stop when within 1.5% as geth does: the answer is an upper bound either way.
            if (high - low) * 1000 / high < 15 {
                break;
            }
            let mid = low + (high - low) / 2;
            tx.gas_limit = mid;
            match self.call_within(db, env.clone(), tx.clone(), budget, overrides) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, U256};
    use revm::{
        bytecode::Bytecode,
        database::{CacheDB, EmptyDB},
        state::AccountInfo,
    };

    const LOOP: Address = Address::repeat_byte(0x10);
    const CALLER: Address = Address::repeat_byte(0x20);

    /// A state with a contract that loops forever (`JUMPDEST PUSH1 0 JUMP`).
    fn looping_state() -> CacheDB<EmptyDB> {
        let mut db = CacheDB::new(EmptyDB::default());
        let code = Bytecode::new_raw(Bytes::from_static(&[0x5b, 0x60, 0x00, 0x56]));
        db.insert_account_info(
            LOOP,
            AccountInfo {
                code_hash: code.hash_slow(),
                code: Some(code),
                ..Default::default()
            },
        );
        db.insert_account_info(
            CALLER,
            AccountInfo {
                balance: U256::from(10u128.pow(20)),
                ..Default::default()
            },
        );
        db
    }

    fn setup() -> (OlEvmConfig, EvmEnv<OpSpecId>, TxEnv) {
        let spec = ol_primitives::dev::dev_chain_spec(None, 0).unwrap();
        let config = OlEvmConfig::new(&spec);
        let env = config.evm_env(1, 1, Address::ZERO, Default::default(), 30_000_000, 0);
        let tx = TxEnv {
            caller: CALLER,
            kind: alloy_primitives::TxKind::Call(LOOP),
            // Far more gas than the loop could burn in the timeout.
            gas_limit: 20_000_000_000,
            chain_id: Some(config.chain_id()),
            ..Default::default()
        };
        (config, env, tx)
    }

    #[test]
    fn a_call_past_its_timeout_is_aborted() {
        let (config, env, tx) = setup();
        let db = looping_state();
        let timeout = Duration::from_millis(50);
        let started = Instant::now();
        let err = config
            .call(
                &db,
                env,
                tx,
                Some(Budget::starting_now(timeout)),
                &Overrides::default(),
            )
            .unwrap_err();
        assert_eq!(err, CallError::Timeout(timeout));
        assert_eq!(err.to_string(), "execution aborted (timeout = 50ms)");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "stopped soon after the deadline, took {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn an_estimate_past_its_timeout_is_aborted() {
        let (config, env, tx) = setup();
        let db = looping_state();
        let timeout = Duration::from_millis(50);
        let err = config
            .estimate_gas(
                &db,
                env,
                tx,
                20_000_000_000,
                Some(Budget::starting_now(timeout)),
                &Overrides::default(),
            )
            .unwrap_err();
        assert_eq!(err, CallError::Timeout(timeout));
    }

    #[test]
    fn a_precompile_call_that_would_outlive_its_timeout_is_refused_up_front() {
        let (config, env, mut tx) = setup();
        // BLAKE2F with 4 billion rounds: about a minute of CPU, and only 4e9 gas.
        let mut input = vec![0u8; 213];
        input[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        tx.kind = alloy_primitives::TxKind::Call(Address::with_last_byte(9));
        tx.data = input.into();
        let timeout = Duration::from_millis(100);
        let started = Instant::now();
        let err = config
            .call(
                &looping_state(),
                env,
                tx,
                Some(Budget::starting_now(timeout)),
                &Overrides::default(),
            )
            .unwrap_err();
        assert_eq!(err, CallError::Timeout(timeout));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "refused before running, took {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_plain_transfer_is_estimated_at_exactly_what_it_uses() {
        let (config, env, mut tx) = setup();
        tx.kind = alloy_primitives::TxKind::Call(Address::repeat_byte(0x33));
        tx.value = U256::from(1);
        let estimate = |tx: TxEnv| {
            config.estimate_gas(
                &looping_state(),
                env.clone(),
                tx,
                30_000_000,
                None,
                &Overrides::default(),
            )
        };
        assert_eq!(estimate(tx.clone()).unwrap(), 21_000);
        // One address and two keys: 2,400 + 2 × 1,900.
        tx.tx_type = 1;
        tx.access_list = vec![alloy_eips::eip2930::AccessListItem {
            address: Address::repeat_byte(0x44),
            storage_keys: vec![Default::default(), alloy_primitives::B256::repeat_byte(1)],
        }]
        .into();
        assert_eq!(estimate(tx).unwrap(), 27_200);
    }

    #[test]
    fn without_a_timeout_gas_bounds_the_call() {
        let (config, env, mut tx) = setup();
        tx.gas_limit = 1_000_000;
        let err = config
            .call(&looping_state(), env, tx, None, &Overrides::default())
            .unwrap_err();
        assert!(
            matches!(&err, CallError::Halt(reason) if reason.contains("OutOfGas")),
            "{err:?}"
        );
    }
}
