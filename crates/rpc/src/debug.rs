//! The `debug` namespace: `debug_traceTransaction`, `debug_traceCall`, `debug_traceBlockByNumber`
//! and `debug_traceBlockByHash`, with every built-in geth tracer `revm-inspectors` provides (the
//! default struct logger, `callTracer`, `prestateTracer`, `4byteTracer`, `flatCallTracer`,
//! `muxTracer`, `noopTracer`), as reth serves them. A block is re-executed on the state after
//! its parent, read through the storage's history tables, so any block of the chain can be
//! traced.

use crate::{EthRpc, error};
use alloy_consensus::{Header, Sealed, transaction::Recovered};
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::B256;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_rpc_types_trace::geth::{
    GethDebugTracingCallOptions, GethDebugTracingOptions, GethTrace, TraceResult,
};
use jsonrpsee::{core::RpcResult, proc_macros::rpc, types::ErrorObjectOwned};
use ol_evm::{EvmError, Inspected};
use ol_primitives::OpTxEnvelope;
use revm_inspectors::tracing::{DebugInspector, TransactionContext};

/// The `debug` namespace (tracing).
#[rpc(server, namespace = "debug")]
pub trait DebugApi {
    /// Re-executes a mined transaction and traces it.
    #[method(name = "traceTransaction")]
    async fn trace_transaction(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<GethTrace>;
    /// Traces a call on the state after a block, as `eth_call` would run it.
    #[method(name = "traceCall")]
    async fn trace_call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        options: Option<GethDebugTracingCallOptions>,
    ) -> RpcResult<GethTrace>;
    /// Re-executes every transaction of a block by number and traces each.
    #[method(name = "traceBlockByNumber")]
    async fn trace_block_by_number(
        &self,
        number: BlockNumberOrTag,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>>;
    /// Re-executes every transaction of a block by hash and traces each.
    #[method(name = "traceBlockByHash")]
    async fn trace_block_by_hash(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>>;
}

/// A tracer for `options`; an unknown tracer or a malformed tracer config is a params error.
fn inspector(options: GethDebugTracingOptions) -> RpcResult<DebugInspector> {
    DebugInspector::new(options).map_err(|err| error::invalid_params(err.to_string()))
}

fn trace_failed(err: impl std::fmt::Display) -> EvmError {
    EvmError::Internal(format!("tracer: {err}"))
}

impl EthRpc {
    /// Re-executes block `header` up to and including transaction `last` (all of it when
    /// `None`) and traces the transactions `wanted` selects, in block order.
    fn trace_block_transactions(
        &self,
        header: &Sealed<Header>,
        last: Option<usize>,
        wanted: impl Fn(usize) -> bool,
        options: GethDebugTracingOptions,
    ) -> RpcResult<Vec<(B256, GethTrace)>> {
        let tracer = inspector(options)?;
        let storage = self.chain.storage();
        let body = storage
            .body(header.number)
            .map_err(error::internal)?
            .ok_or_else(|| error::internal("block body missing"))?;
        let Some(parent) = header.number.checked_sub(1) else {
            // Genesis has no transactions to trace.
            return Ok(Vec::new());
        };
        let count = last.map_or(body.transactions.len(), |last| last + 1);
        let transactions: Vec<Recovered<&OpTxEnvelope>> = body
            .transactions
            .iter()
            .zip(&body.senders)
            .take(count)
            .map(|(tx, sender)| Recovered::new_unchecked(tx, *sender))
            .collect();
        let mut traces = Vec::new();
        self.chain
            .evm()
            .replay_block(
                self.state_db(parent),
                header.inner(),
                &transactions,
                tracer,
                &wanted,
                |index, inspected: Inspected<'_, DebugInspector, _>| {
                    let hash = transactions[index].inner().tx_hash();
                    let context = TransactionContext {
                        block_hash: Some(header.hash()),
                        tx_index: Some(index),
                        tx_hash: Some(hash),
                    };
                    let trace = inspected
                        .inspector
                        .get_result(
                            Some(context),
                            inspected.tx,
                            inspected.block,
                            inspected.result,
                            inspected.db,
                        )
                        .map_err(trace_failed)?;
                    inspected.inspector.fuse().map_err(trace_failed)?;
                    traces.push((hash, trace));
                    Ok(())
                },
            )
            .map_err(error::internal)?;
        Ok(traces)
    }

    async fn trace_block(
        &self,
        header: Option<Sealed<Header>>,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>> {
        let header = header.ok_or_else(|| error::server("block not found"))?;
        let options = options.unwrap_or_default();
        self.run_blocking(move |this| {
            let traces = this.trace_block_transactions(&header, None, |_| true, options)?;
            Ok(traces
                .into_iter()
                .map(|(hash, trace)| TraceResult::Success {
                    result: trace,
                    tx_hash: Some(hash),
                })
                .collect())
        })
        .await
    }
}

#[jsonrpsee::core::async_trait]
impl DebugApiServer for EthRpc {
    async fn trace_transaction(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<GethTrace> {
        let (number, index) = self
            .chain
            .storage()
            .transaction_location(&hash)
            .map_err(error::internal)?
            .ok_or_else(|| error::server("transaction not found"))?;
        let index = index as usize;
        let options = options.unwrap_or_default();
        self.run_blocking(move |this| {
            let header = this
                .chain
                .storage()
                .header_by_number(number)
                .map_err(error::internal)?
                .ok_or_else(|| error::internal("header of an indexed transaction missing"))?;
            this.trace_block_transactions(&header, Some(index), |i| i == index, options)?
                .pop()
                .map(|(_, trace)| trace)
                .ok_or_else(|| error::internal("the transaction was not re-executed"))
        })
        .await
    }

    async fn trace_call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        options: Option<GethDebugTracingCallOptions>,
    ) -> RpcResult<GethTrace> {
        let options = options.unwrap_or_default();
        if options.state_overrides.is_some()
            || options.block_overrides.is_some()
            || options.tx_index.is_some()
        {
            return Err(error::invalid_params(
                "stateOverrides, blockOverrides and txIndex are not supported",
            ));
        }
        let tracer = inspector(options.tracing_options)?;
        let header = self.state_header(block)?;
        let tx = self.tx_env(&request, self.gas_cap)?;
        self.run_blocking(move |this| {
            let env = this.chain.evm().evm_env_for_header(header.inner());
            let db = this.state_db(header.number);
            this.chain
                .evm()
                .inspect_call(&db, env, tx, tracer, |inspected| {
                    inspected.inspector.get_result(
                        None,
                        inspected.tx,
                        inspected.block,
                        inspected.result,
                        inspected.db,
                    )
                })
                .map_err(error::call)?
                .map_err(|err| -> ErrorObjectOwned { error::internal(err) })
        })
        .await
    }

    async fn trace_block_by_number(
        &self,
        number: BlockNumberOrTag,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>> {
        let header = self.header_by_id(BlockId::Number(number))?;
        self.trace_block(header, options).await
    }

    async fn trace_block_by_hash(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>> {
        let header = self.header_by_id(BlockId::from(hash))?;
        self.trace_block(header, options).await
    }
}
