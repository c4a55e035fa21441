//! The `debug` namespace: `debug_traceTransaction`, `debug_traceCall`, `debug_traceBlockByNumber`
//! and `debug_traceBlockByHash`, with every built-in geth tracer `revm-inspectors` provides (the
//! default struct logger, `callTracer`, `prestateTracer`, `4byteTracer`, `flatCallTracer`,
//! `muxTracer`, `noopTracer`), as reth serves them. A block is re-executed on the state after
//! its parent, read through the storage's history tables, so any block of the chain can be
//! traced.
//!
//! Tracing is bounded three ways ([`TraceLimits`]): at most `--rpc.max-tracing-requests` traces
//! run at once (the rest wait their turn); each stops at its deadline (geth's `timeout` option,
//! by default and at most `--rpc.evmtimeout`); and each stops once the trace it builds would
//! pass `--rpc.max-trace-bytes`, refused with an error before that memory is used.

use crate::{EthRpc, error};
use alloy_consensus::{Header, Sealed, transaction::Recovered};
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::B256;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_rpc_types_trace::geth::{GethDebugTracingCallOptions, GethDebugTracingOptions};
use jsonrpsee::{core::RpcResult, proc_macros::rpc, types::ErrorObjectOwned};
use ol_evm::{
    EvmError, Inspected,
    call::Overrides,
    limits::{Deadline, StepRecording, TraceBudget},
};
use ol_primitives::OpTxEnvelope;
use revm_inspectors::tracing::{DebugInspector, TransactionContext};
use serde::Serialize;
use serde_json::value::RawValue;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};

/// The default of `--rpc.max-trace-bytes`: 64 MiB of trace (as JSON) per request. A trace is
/// held about three times over while it is built and sent (recorded steps, geth's frame, the
/// JSON text), so this keeps one trace's peak memory near 200 MB.
pub const DEFAULT_MAX_TRACE_BYTES: usize = 64 * 1024 * 1024;

/// The default of `--rpc.max-tracing-requests`: one core fewer than the machine has (at least
/// one), so traces never take every core from block production.
pub fn default_max_tracing_requests() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .saturating_sub(1)
        .max(1)
}

/// The limits every trace runs under.
#[derive(Debug)]
pub(crate) struct TraceLimits {
    permits: Semaphore,
    max_bytes: usize,
    /// The deadline of a trace without a `timeout`, and the longest one may ask for.
    max_timeout: Option<Duration>,
}

/// The inspector of one trace: the guards first, so they halt execution before the tracer
/// records what would break them.
type Guarded = ((Deadline, TraceBudget), DebugInspector);

impl TraceLimits {
    pub(crate) fn new(concurrent: usize, max_bytes: usize, max_timeout: Option<Duration>) -> Self {
        Self {
            permits: Semaphore::new(concurrent.max(1)),
            max_bytes,
            max_timeout,
        }
    }

    /// Waits for a turn to trace.
    async fn turn(&self) -> RpcResult<SemaphorePermit<'_>> {
        self.permits
            .acquire()
            .await
            .map_err(|_| error::internal("tracing is shut down"))
    }

    /// The tracer `options` ask for, behind its deadline and byte budget.
    fn guarded(&self, options: GethDebugTracingOptions) -> RpcResult<Guarded> {
        let timeout = match options.timeout.as_deref() {
            Some(text) => {
                let asked = parse_go_duration(text).ok_or_else(|| {
                    error::invalid_params(format!(
                        "invalid timeout {text:?}: expected a duration such as \"10s\" or \"500ms\""
                    ))
                })?;
                Some(self.max_timeout.map_or(asked, |max| asked.min(max)))
            }
            None => self.max_timeout,
        };
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
        let deadline = Deadline::new(timeout.map(|timeout| Instant::now() + timeout));
        let budget = TraceBudget::new(self.max_bytes, recording);
        Ok(((deadline, budget), inspector(options)?))
    }
}

/// Why a trace was stopped, if it was: its deadline passed or it outgrew its budget.
fn stopped(guards: &(Deadline, TraceBudget)) -> Option<ErrorObjectOwned> {
    let (deadline, budget) = guards;
    if deadline.expired() {
        return Some(error::server("execution timeout"));
    }
    budget.exceeded().then(|| {
        error::server(format!(
            "trace too large: it would exceed {} bytes (--rpc.max-trace-bytes); disable the \
             stack or memory capture, trace fewer transactions, or use callTracer",
            budget.limit()
        ))
    })
}

/// A duration in Go's syntax (`time.ParseDuration`, which geth's `timeout` option uses): a
/// sequence of decimal numbers with units `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`.
fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * seconds_per_unit;
    }
    Duration::try_from_secs_f64(total).ok()
}

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

impl EthRpc {
    /// Re-executes block `header` up to and including transaction `last` (all of it when
    /// `None`) and traces the transactions `wanted` selects, in block order.
    fn trace_block_transactions(
        &self,
        header: &Sealed<Header>,
        last: Option<usize>,
        wanted: impl Fn(usize) -> bool,
        tracer: Guarded,
    ) -> RpcResult<Vec<(B256, Box<RawValue>)>> {
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
        let mut stop = None;
        let replayed = self.chain.evm().replay_block(
            self.state_db(parent),
            header.inner(),
            &transactions,
            tracer,
            &wanted,
            |index, inspected: Inspected<'_, Guarded, _>| {
                let (guards, tracer) = inspected.inspector;
                if let Some(err) = stopped(guards) {
                    stop = Some(err);
                    return Err(EvmError::Internal("trace stopped".into()));
                }
                let hash = transactions[index].inner().tx_hash();
                let context = TransactionContext {
                    block_hash: Some(header.hash()),
                    tx_index: Some(index),
                    tx_hash: Some(hash),
                };
                let trace = rendered(
                    tracer,
                    Some(context),
                    inspected.tx,
                    inspected.block,
                    inspected.result,
                    inspected.db,
                )?;
                tracer.fuse().map_err(trace_failed)?;
                traces.push((hash, trace));
                Ok(())
            },
        );
        if let Some(err) = stop {
            return Err(err);
        }
        replayed.map_err(error::internal)?;
        Ok(traces)
    }

    async fn trace_block(
        &self,
        header: Option<Sealed<Header>>,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<BlockTrace>> {
        let header = header.ok_or_else(|| error::server("block not found"))?;
        let _turn = self.tracing.turn().await?;
        let tracer = self.tracing.guarded(options.unwrap_or_default())?;
        self.run_blocking(move |this| {
            let traces = this.trace_block_transactions(&header, None, |_| true, tracer)?;
            Ok(traces
                .into_iter()
                .map(|(tx_hash, result)| BlockTrace { tx_hash, result })
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
    ) -> RpcResult<Box<RawValue>> {
        let (number, index) = self
            .chain
            .storage()
            .transaction_location(&hash)
            .map_err(error::internal)?
            .ok_or_else(|| error::server("transaction not found"))?;
        let index = index as usize;
        let _turn = self.tracing.turn().await?;
        let tracer = self.tracing.guarded(options.unwrap_or_default())?;
        self.run_blocking(move |this| {
            let header = this
                .chain
                .storage()
                .header_by_number(number)
                .map_err(error::internal)?
                .ok_or_else(|| error::internal("header of an indexed transaction missing"))?;
            this.trace_block_transactions(&header, Some(index), |i| i == index, tracer)?
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
    ) -> RpcResult<Box<RawValue>> {
        let options = options.unwrap_or_default();
        if options.tx_index.is_some() {
            return Err(error::invalid_params("txIndex is not supported"));
        }
        let overrides = Overrides {
            state: options.state_overrides,
            block: options.block_overrides.map(Box::new),
        };
        let header = self.state_header(block)?;
        let tx = self.tx_env(&request, self.gas_cap)?;
        // Checked before waiting for a turn: a bad tracer name is refused at once.
        inspector(options.tracing_options.clone())?;
        let _turn = self.tracing.turn().await?;
        let tracer = self.tracing.guarded(options.tracing_options)?;
        self.run_blocking(move |this| {
            let env = this.chain.evm().evm_env_for_header(header.inner());
            let db = this.state_db(header.number);
            this.chain
                .evm()
                .inspect_call(&db, env, tx, &overrides, tracer, |inspected| {
                    let (guards, tracer) = inspected.inspector;
                    if let Some(err) = stopped(guards) {
                        return Err(err);
                    }
                    rendered(
                        tracer,
                        None,
                        inspected.tx,
                        inspected.block,
                        inspected.result,
                        inspected.db,
                    )
                    .map_err(error::internal)
                })
                .map_err(error::call)?
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_as_geth_reads_them() {
        let ms = Duration::from_millis;
        assert_eq!(parse_go_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_go_duration("500ms"), Some(ms(500)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("1.5s"), Some(ms(1500)));
        assert_eq!(parse_go_duration("250us"), Some(Duration::from_micros(250)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        for bad in ["", "10", "s", "10x", "-1s", "1e9s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn an_asked_timeout_is_capped_by_the_evm_timeout() {
        let limits = TraceLimits::new(1, 1024, Some(Duration::from_secs(5)));
        let options = GethDebugTracingOptions {
            timeout: Some("1h".into()),
            ..Default::default()
        };
        let ((deadline, _), _) = limits.guarded(options).unwrap();
        let at = deadline.at().unwrap();
        assert!(
            at <= Instant::now() + Duration::from_secs(5),
            "capped at 5 s"
        );
        let bad = GethDebugTracingOptions {
            timeout: Some("soon".into()),
            ..Default::default()
        };
        let err = limits.guarded(bad).err().unwrap();
        assert_eq!(err.code(), error::INVALID_PARAMS);
    }
}
