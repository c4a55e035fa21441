//! Execution with an inspector attached, for the `debug_trace*` methods: a committed block's
//! transactions run again on the state before the block through the same block executor that
//! built it (system calls, the L1-info deposit, deposits, then the rest in order), so a trace
//! sees exactly the execution that was committed; and single calls run as `eth_call` runs them.

use crate::{
    EvmError, OlEvmConfig, OpSpecId,
    call::{CallError, Overrides, call_input, move_precompiles, transact_error},
};
use alloy_consensus::{Header, transaction::Recovered};
use alloy_evm::{
    Evm, EvmEnv, EvmFactory, FromRecoveredTx,
    block::{BlockExecutor, BlockExecutorFactory, TxResult},
};
use alloy_op_evm::{OpBlockExecutionCtx, OpEvmContext, OpTx};
use ol_primitives::OpTxEnvelope;
use op_revm::OpHaltReason;
use revm::{
    Inspector,
    context::{BlockEnv, TxEnv, result::ResultAndState},
    database::{CacheDB, DatabaseRef, State, WrapDatabaseRef},
};

/// The state a block is replayed on: the parent's state with the block's changes so far.
pub type ReplayState<DB> = State<WrapDatabaseRef<DB>>;

/// One inspected execution, handed to the caller before anything is committed.
#[derive(Debug)]
pub struct Inspected<'a, I, DB> {
    /// The inspector, having seen this execution only.
    pub inspector: &'a mut I,
    /// The transaction as the EVM ran it.
    pub tx: &'a OpTx,
    /// The block environment it ran in.
    pub block: &'a BlockEnv,
    /// Its result and the state it changed.
    pub result: &'a ResultAndState<OpHaltReason>,
    /// The state it ran on (for a block, every earlier transaction applied).
    pub db: &'a mut DB,
}

impl OlEvmConfig {
    /// Re-executes `transactions` (a prefix of the block `header`, or all of it) on `db`, the
    /// state after the block's parent. Transactions for which `inspect(index)` holds run with
    /// `inspector` enabled and are passed to `on_inspected` before being committed; the caller
    /// resets the inspector there when it traces more than one transaction.
    pub fn replay_block<DB, I>(
        &self,
        db: DB,
        header: &Header,
        transactions: &[Recovered<&OpTxEnvelope>],
        inspector: I,
        mut inspect: impl FnMut(usize) -> bool,
        mut on_inspected: impl FnMut(usize, Inspected<'_, I, ReplayState<DB>>) -> Result<(), EvmError>,
    ) -> Result<(), EvmError>
    where
        DB: DatabaseRef + std::fmt::Debug,
        DB::Error: Send + Sync + 'static,
        I: Inspector<OpEvmContext<ReplayState<DB>>>,
    {
        let env = self.evm_env_for_header(header);
        let state = State::builder().with_database_ref(db).build();
        let mut evm = self
            .factory
            .evm_factory()
            .create_evm_with_inspector(state, env, inspector);
        evm.disable_inspector();
        let ctx = OpBlockExecutionCtx {
            parent_hash: header.parent_hash,
            parent_beacon_block_root: header.parent_beacon_block_root,
            extra_data: header.extra_data.clone(),
        };
        let mut executor = self.factory.create_executor(evm, ctx);
        executor
            .apply_pre_execution_changes()
            .map_err(|err| EvmError::System(err.to_string()))?;
        for (index, tx) in transactions.iter().enumerate() {
            let inspected = inspect(index);
            executor.evm_mut().set_inspector_enabled(inspected);
            let output = executor
                .execute_transaction_without_commit(*tx)
                .map_err(|err| replay_failed(index, &err))?;
            if inspected {
                let tx_env = OpTx::from_recovered_tx(tx.inner(), tx.signer());
                let block = executor.evm().block().clone();
                let (db, inspector, _) = executor.evm_mut().components_mut();
                on_inspected(
                    index,
                    Inspected {
                        inspector,
                        tx: &tx_env,
                        block: &block,
                        result: output.result(),
                        db,
                    },
                )?;
            }
            executor
                .commit_transaction(output)
                .map_err(|err| replay_failed(index, &err))?;
        }
        Ok(())
    }

    /// Runs `tx` as [`OlEvmConfig::call`] does (with `overrides`), with `inspector` attached, and hands the
    /// execution to `finish`. A reverting or halting call is a result here, not an error.
    pub fn inspect_call<DB, I, R>(
        &self,
        db: DB,
        env: EvmEnv<OpSpecId>,
        tx: TxEnv,
        overrides: &Overrides,
        inspector: I,
        finish: impl FnOnce(Inspected<'_, I, CacheDB<DB>>) -> R,
    ) -> Result<R, CallError>
    where
        DB: DatabaseRef + std::fmt::Debug,
        DB::Error: std::fmt::Display,
        I: Inspector<OpEvmContext<CacheDB<DB>>>,
    {
        let (mut env, op_tx) = call_input(env, tx);
        let mut state = CacheDB::new(db);
        let moves = overrides.apply(&mut state, &mut env)?;
        let mut evm = self
            .factory
            .evm_factory()
            .create_evm_with_inspector(state, env, inspector);
        move_precompiles(&mut evm, moves)?;
        let result = evm.transact(op_tx.clone()).map_err(transact_error)?;
        let block = evm.block().clone();
        let (db, inspector, _) = evm.components_mut();
        Ok(finish(Inspected {
            inspector,
            tx: &op_tx,
            block: &block,
            result: &result,
            db,
        }))
    }
}

fn replay_failed(index: usize, err: &dyn std::fmt::Display) -> EvmError {
    EvmError::Internal(format!(
        "re-executing transaction {index} of a committed block failed: {err}"
    ))
}
