//! The `debug` namespace: `debug_traceTransaction`, `debug_traceCall`, `debug_traceBlockByNumber`
//! and `debug_traceBlockByHash`, with every built-in geth tracer `revm-inspectors` provides (the
//! default struct logger, `callTracer`, `prestateTracer`, `4byteTracer`, `flatCallTracer`,
//! `muxTracer`, `noopTracer`), as reth serves them, behind the limits of
//! [`reexec`](crate::reexec).

use crate::{
    EthRpc, error,
    reexec::{Guards, ReplayDb, TraceLimits},
};
use alloy_consensus::{Header, Sealed};
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::B256;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_rpc_types_trace::geth::{GethDebugTracingCallOptions, GethDebugTracingOptions};
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use ol_evm::{EvmError, Inspected, call::Overrides, limits::StepRecording};
use revm_inspectors::tracing::{DebugInspector, TransactionContext};
use serde::Serialize;
use serde_json::value::RawValue;

/// The `debug` namespace (tracing).
#[rpc(server, namespace = "debug")]
pub trait DebugApi {
    /// Re-executes a mined transaction and traces it.
    #[method(name = "traceTransaction")]
    async fn trace_transaction(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Box<RawValue>>;
    /// Traces a call on the state after a block, as `eth_call` would run it.
    #[method(name = "traceCall")]
    async fn trace_call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        options: Option<GethDebugTracingCallOptions>,
    ) -> RpcResult<Box<RawValue>>;
    /// Re-executes every transaction of a block by number and traces each.
    #[method(name = "traceBlockByNumber")]
    async fn trace_block_by_number(
        &self,
        number: BlockNumberOrTag,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<BlockTrace>>;
    /// Re-executes every transaction of a block by hash and traces each.
    #[method(name = "traceBlockByHash")]
    async fn trace_block_by_hash(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<BlockTrace>>;
}

/// A tracer for `options`; an unknown tracer or a malformed tracer config is a params error.
fn inspector(options: GethDebugTracingOptions) -> RpcResult<DebugInspector> {
    DebugInspector::new(options).map_err(|err| error::invalid_params(err.to_string()))
}

/// One transaction's trace in a block trace, as geth answers `debug_traceBlock*`.
#[derive(Debug, Clone, Serialize)]
pub struct BlockTrace {
    /// The transaction.
    #[serde(rename = "txHash")]
    tx_hash: B256,
    /// Its trace.
    result: Box<RawValue>,
}

/// The trace `tracer` recorded of one execution, rendered to JSON here (on the worker
/// thread); the struct logger's without a copy of the storage map per step
/// ([`struct_log`](crate::struct_log)).
fn rendered<DB: revm::DatabaseRef>(
    tracer: &mut DebugInspector,
    context: Option<TransactionContext>,
    tx: &impl revm::context_interface::Transaction,
    block: &impl revm::context_interface::Block,
    result: &revm::context::result::ResultAndState<impl revm::context::result::HaltReasonTr>,
    db: &mut DB,
) -> Result<Box<RawValue>, EvmError> {
    let json = match tracer {
        DebugInspector::Default(inspector, config) => crate::struct_log::render(
            inspector,
            *config,
            tx.gas_limit(),
            tx.caller(),
            result.result.tx_gas_used(),
            result.result.output().cloned().unwrap_or_default(),
        ),
        other => {
            let trace = other
                .get_result(context, tx, block, result, db)
                .map_err(trace_failed)?;
            serde_json::value::to_raw_value(&trace)
        }
    };
    json.map_err(trace_failed)
}

fn trace_failed(err: impl std::fmt::Display) -> EvmError {
    EvmError::Internal(format!("tracer: {err}"))
}

/// The geth tracer `options` ask for, behind its deadline and byte budget.
fn guarded(
    limits: &TraceLimits,
    options: GethDebugTracingOptions,
) -> RpcResult<(Guards, DebugInspector)> {
    let recording = if options.tracer.is_none() {
        let config = &options.config;
        StepRecording {
            steps: true,
            stack: config.is_stack_enabled(),
            memory: config.is_memory_enabled(),
            storage: config.is_storage_enabled(),
            return_data: config.is_return_data_enabled(),
        }
    } else {
        StepRecording::default()
    };
    let guards = limits.guards(options.timeout.as_deref(), recording)?;
    Ok((guards, inspector(options)?))
}

/// The geth trace of transaction `index` (hash `hash`) of block `header`, leaving the tracer
/// ready for the next transaction.
fn traced(
    header: &Sealed<Header>,
    index: usize,
    hash: B256,
    inspected: Inspected<'_, DebugInspector, ReplayDb>,
) -> Result<Box<RawValue>, EvmError> {
    let context = TransactionContext {
        block_hash: Some(header.hash()),
        tx_index: Some(index),
        tx_hash: Some(hash),
    };
    let tracer = inspected.inspector;
    let trace = rendered(
        tracer,
        Some(context),
        inspected.tx,
        inspected.block,
        inspected.result,
        inspected.db,
    )?;
    tracer.fuse().map_err(trace_failed)?;
    Ok(trace)
}

impl EthRpc {
    async fn trace_block(
        &self,
        header: Option<Sealed<Header>>,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<BlockTrace>> {
        let header = header.ok_or_else(|| error::server("block not found"))?;
        let _turn = self.tracing.turn().await?;
        let (guards, tracer) = guarded(&self.tracing, options.unwrap_or_default())?;
        self.run_blocking(move |this| {
            this.replay_traced(
                &header,
                None,
                |_| true,
                guards,
                tracer,
                |index, hash, inspected| {
                    let result = traced(&header, index, hash, inspected)?;
                    Ok(BlockTrace {
                        tx_hash: hash,
                        result,
                    })
                },
            )
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
    ) -> RpcResult<Box<RawValue>> {
        let options = options.unwrap_or_default();
        self.reexecute_mined(
            hash,
            |limits| guarded(limits, options),
            move |header, index, inspected| traced(header, index, hash, inspected),
        )
        .await?
        .ok_or_else(|| error::server("transaction not found"))
    }

    async fn trace_call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        options: Option<GethDebugTracingCallOptions>,
    ) -> RpcResult<Box<RawValue>> {
        let options = options.unwrap_or_default();
        if options.tx_index.is_some() {
            return Err(error::invalid_params("txIndex is not supported"));
        }
        let overrides = Overrides {
            state: options.state_overrides,
            block: options.block_overrides.map(Box::new),
        };
        // Checked before waiting for a turn: a bad tracer name is refused at once.
        inspector(options.tracing_options.clone())?;
        let tracing = options.tracing_options;
        self.call_traced(
            &request,
            block,
            overrides,
            |limits| guarded(limits, tracing),
            |inspected| {
                rendered(
                    inspected.inspector,
                    None,
                    inspected.tx,
                    inspected.block,
                    inspected.result,
                    inspected.db,
                )
                .map_err(error::internal)
            },
        )
        .await
    }

    async fn trace_block_by_number(
        &self,
        number: BlockNumberOrTag,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<BlockTrace>> {
        let header = self.header_by_id(BlockId::Number(number))?;
        self.trace_block(header, options).await
    }

    async fn trace_block_by_hash(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<BlockTrace>> {
        let header = self.header_by_id(BlockId::from(hash))?;
        self.trace_block(header, options).await
    }
}
