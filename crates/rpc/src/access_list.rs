//! `eth_createAccessList`: the accounts and slots a call touches, with the gas it uses once the
//! list is attached, as geth computes them.
//!
//! The call runs on the head state with revm-inspectors' `AccessListInspector`, which records
//! every slot read or written and every account touched, except the sender, the recipient (or
//! created contract), the precompiles and EIP-7702 authorities. Since attaching a list changes
//! the gas, and gas can change the path a call takes, the call is repeated with the list found
//! until the list stops changing (geth's loop, bounded here). A reverting or halting call is not
//! an RPC error: the answer carries the list so far and the reason in `error`.

use crate::{EthRpc, error};
use alloy_eips::BlockId;
use alloy_eips::eip2930::{AccessList, AccessListResult};
use alloy_evm::EvmEnv;
use alloy_primitives::U256;
use alloy_rpc_types_eth::TransactionRequest;
use jsonrpsee::core::RpcResult;
use ol_evm::{OlEvmConfig, OpSpecId};
use revm::{context::TxEnv, context_interface::result::ExecutionResult, database::DatabaseRef};
use revm_inspectors::access_list::AccessListInspector;

/// Most rounds of the fixed-point search for the access list (geth loops until stable; in
/// practice one or two rounds settle it).
const MAX_ROUNDS: usize = 8;

/// One inspected execution: the access list it produced and its result.
struct Round {
    access_list: AccessList,
    result: ExecutionResult<op_revm::OpHaltReason>,
}

/// Runs `tx` on `db` with the access-list inspector seeded with `tx`'s own list, on the
/// chain's EVM (so the PoA precompile is there, and excluded from lists like every precompile).
fn inspect<DB>(evm: &OlEvmConfig, db: &DB, env: EvmEnv<OpSpecId>, tx: TxEnv) -> RpcResult<Round>
where
    DB: DatabaseRef + std::fmt::Debug,
    DB::Error: std::fmt::Display,
{
    let inspector = AccessListInspector::new(tx.access_list.clone());
    evm.inspect_call(db, env, tx, &Default::default(), inspector, |inspected| {
        Round {
            access_list: inspected.inspector.access_list(),
            result: inspected.result.result.clone(),
        }
    })
    .map_err(error::call)
}

impl EthRpc {
    /// `eth_createAccessList` on the state after the given block.
    pub(crate) fn create_access_list(
        &self,
        request: &TransactionRequest,
        block: Option<BlockId>,
    ) -> RpcResult<AccessListResult> {
        let header = self.state_header(block)?;
        let mut tx = self.tx_env(request, self.gas_cap)?;
        // A list needs a transaction type that carries one: legacy becomes EIP-2930.
        if tx.tx_type == 0 {
            tx.tx_type = 1;
        }
        let env = self.chain.evm().evm_env_for_header(header.inner());
        let db = self.state_db(header.number);
        let evm = self.chain.evm();
        let mut round = inspect(evm, &db, env.clone(), tx.clone())?;
        for _ in 1..MAX_ROUNDS {
            if round.access_list == tx.access_list {
                break;
            }
            tx.access_list = round.access_list.clone();
            round = inspect(evm, &db, env.clone(), tx.clone())?;
        }
        let gas_used = round.result.tx_gas_used();
        let error = match round.result {
            ExecutionResult::Success { .. } => None,
            ExecutionResult::Revert { output, .. } => Some(
                error::call(ol_evm::call::CallError::Revert(output))
                    .message()
                    .to_string(),
            ),
            ExecutionResult::Halt { reason, .. } => Some(format!("execution halted: {reason:?}")),
        };
        Ok(AccessListResult {
            access_list: round.access_list,
            gas_used: U256::from(gas_used),
            error,
        })
    }
}
