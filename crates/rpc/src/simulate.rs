//! `eth_simulateV1`: blocks of calls simulated on a block's state ([`ol_evm::simulate`]),
//! answered as blocks with a `calls` list, in the execution-apis shape geth and reth serve,
//! with their error codes; on the head, each block has the state root its changes give.

use crate::{EthRpc, convert, error};
use alloy_eips::BlockId;
use alloy_primitives::{B256, U256};
use alloy_rpc_types_eth::{
    Block, BlockTransactions,
    simulate::{SimCallResult, SimulateError as CallFailure, SimulatePayload, SimulatedBlock},
};
use jsonrpsee::{core::RpcResult, proc_macros::rpc, types::ErrorObjectOwned};
use ol_evm::simulate::{
    MAX_SIMULATED_BLOCKS, SimulateError, SimulatedBlockOutput, SimulatedRoots, SimulationOptions,
};
use ol_storage::{StateChanges, Storage};
use revm::{context::result::ExecutionResult, database::Cache};
use std::time::Instant;

/// `eth_simulateV1`, beside the rest of the `eth` namespace.
#[rpc(server, namespace = "eth")]
pub trait EthSimulateApi {
    /// Simulates blocks of calls on the state after `block` (the head by default).
    #[method(name = "simulateV1")]
    async fn simulate_v1(
        &self,
        payload: SimulatePayload,
        block: Option<BlockId>,
    ) -> RpcResult<Vec<SimulatedBlock<convert::RpcBlock>>>;
}

/// The roots of blocks simulated on the head: the head's stored trie with the simulation's
/// changes applied, nothing written. The node keeps only its head's trie, so blocks simulated
/// on an older block, or on a head that moved while they ran, get zero roots (never wrong
/// ones).
struct HeadRoots<'a> {
    storage: &'a Storage,
    base: B256,
}

impl SimulatedRoots for HeadRoots<'_> {
    fn roots(&self, overlay: &Cache) -> Option<(B256, B256)> {
        let on_base = || {
            self.storage
                .head_header()
                .is_ok_and(|head| head.hash() == self.base)
        };
        if !on_base() {
            return None;
        }
        let prepared = self
            .storage
            .prepare_state(&StateChanges::from_cache(overlay))
            .ok()?;
        on_base().then_some((prepared.state_root, prepared.withdrawals_root))
    }
}

fn simulate_error(err: SimulateError) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(err.code(), err.to_string(), None::<()>)
}

/// One simulated block in its RPC shape: the block (hashes or whole transactions) and what each
/// call returned, its logs placed in the block.
fn rpc_block(block: SimulatedBlockOutput, full: bool) -> SimulatedBlock<convert::RpcBlock> {
    let header = &block.header;
    let mut log_index = 0u64;
    let calls = block
        .calls
        .iter()
        .enumerate()
        .map(|(index, call)| {
            let hash = call.transaction.inner().tx_hash();
            let logs = call
                .result
                .logs()
                .iter()
                .map(|inner| {
                    let log = convert::rpc_log(inner.clone(), header, hash, index, log_index);
                    log_index += 1;
                    log
                })
                .collect();
            let (return_data, error) = match &call.result {
                ExecutionResult::Success { output, .. } => (output.data().clone(), None),
                ExecutionResult::Revert { output, .. } => (
                    output.clone(),
                    Some(CallFailure {
                        code: CallFailure::EXECUTION_REVERTED_CODE,
                        message: error::revert_message(output),
                        data: Some(output.clone()),
                    }),
                ),
                ExecutionResult::Halt { reason, .. } => (
                    Default::default(),
                    Some(CallFailure {
                        code: CallFailure::VM_EXECUTION_ERROR_CODE,
                        message: halt_message(reason),
                        data: None,
                    }),
                ),
            };
            SimCallResult {
                return_data,
                logs,
                gas_used: call.result.tx_gas_used(),
                max_used_gas: None,
                status: call.result.is_success(),
                error,
            }
        })
        .collect();
    let transactions = if full {
        BlockTransactions::Full(
            block
                .calls
                .iter()
                .enumerate()
                .map(|(index, call)| {
                    convert::transaction(
                        call.transaction.inner(),
                        call.transaction.signer(),
                        header,
                        index,
                        None,
                    )
                })
                .collect(),
        )
    } else {
        BlockTransactions::Hashes(
            block
                .calls
                .iter()
                .map(|call| call.transaction.inner().tx_hash())
                .collect(),
        )
    };
    let inner = Block {
        header: alloy_rpc_types_eth::Header {
            hash: header.hash(),
            inner: header.inner().clone(),
            total_difficulty: Some(U256::ZERO),
            size: None,
        },
        uncles: Vec::new(),
        transactions,
        withdrawals: Some(Default::default()),
    };
    SimulatedBlock { inner, calls }
}

/// geth's words for the halts a wallet shows.
fn halt_message(reason: &op_revm::OpHaltReason) -> String {
    let debug = format!("{reason:?}");
    if debug.contains("OutOfGas") {
        "out of gas".into()
    } else if debug.contains("InvalidFEOpcode") || debug.contains("OpcodeNotFound") {
        "invalid opcode".into()
    } else if debug.contains("StackOverflow") {
        "stack overflow".into()
    } else if debug.contains("StackUnderflow") {
        "stack underflow".into()
    } else {
        debug
    }
}

#[jsonrpsee::core::async_trait]
impl EthSimulateApiServer for EthRpc {
    async fn simulate_v1(
        &self,
        payload: SimulatePayload,
        block: Option<BlockId>,
    ) -> RpcResult<Vec<SimulatedBlock<convert::RpcBlock>>> {
        if payload.block_state_calls.len() as u64 > MAX_SIMULATED_BLOCKS {
            return Err(simulate_error(SimulateError::ClientLimit(format!(
                "too many blocks: a simulation spans at most {MAX_SIMULATED_BLOCKS}"
            ))));
        }
        let header = self.state_header(block)?;
        // The deadline starts now: time waiting for a worker counts, as the client sees it.
        let options = SimulationOptions {
            validation: payload.validation,
            trace_transfers: payload.trace_transfers,
            gas_cap: self.gas_cap,
            deadline: self.evm_timeout.map(|timeout| Instant::now() + timeout),
        };
        self.run_blocking(move |this| {
            let db = this.state_db(header.number);
            let blocks = this
                .chain
                .evm()
                .simulate(
                    &db,
                    &header,
                    &payload.block_state_calls,
                    options,
                    &HeadRoots {
                        storage: this.chain.storage(),
                        base: header.hash(),
                    },
                    |request| {
                        this.tx_env(request, this.gas_cap).map_err(|err| {
                            ol_evm::call::CallError::BadOverride(err.message().to_owned())
                        })
                    },
                )
                .map_err(simulate_error)?;
            Ok(blocks
                .into_iter()
                .map(|block| rpc_block(block, payload.return_full_transactions))
                .collect())
        })
        .await
    }
}
