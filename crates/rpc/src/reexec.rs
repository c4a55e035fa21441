//! Re-execution of committed blocks and calls with a tracer attached, behind the limits every
//! trace runs under, for the `debug_`, `trace_` and `ots_` namespaces. A block is re-executed
//! on the state after its parent, read through the storage's history tables, so any block of
//! the chain can be traced.
//!
//! Tracing is bounded three ways ([`TraceLimits`]): at most `--rpc.max-tracing-requests` traces
//! run at once (the rest wait their turn); each stops at its deadline (geth's `timeout` option,
//! by default and at most `--rpc.evmtimeout`); and each stops once the trace it builds would
//! pass `--rpc.max-trace-bytes`, refused with an error before that memory is used.

use crate::{EthRpc, error};
use alloy_consensus::{Header, Sealed, transaction::Recovered};
use alloy_eips::BlockId;
use alloy_primitives::B256;
use alloy_rpc_types_eth::TransactionRequest;
use jsonrpsee::{core::RpcResult, types::ErrorObjectOwned};
use ol_evm::{
    EvmError, Inspected, ReplayState,
    call::Overrides,
    limits::{Deadline, StepRecording, TraceBudget},
};
use ol_primitives::OpTxEnvelope;
use ol_storage::StateProviderDb;
use revm::{Inspector, database::CacheDB};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};

/// The state a committed block's transactions are re-executed on.
pub(crate) type ReplayDb = ReplayState<StateProviderDb>;

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

/// The guards of one trace, run before its tracer so they halt execution before the tracer
/// records what would break them.
pub(crate) type Guards = (Deadline, TraceBudget);

impl TraceLimits {
    pub(crate) fn new(concurrent: usize, max_bytes: usize, max_timeout: Option<Duration>) -> Self {
        Self {
            permits: Semaphore::new(concurrent.max(1)),
            max_bytes,
            max_timeout,
        }
    }

    /// The byte budget of one trace's answer.
    pub(crate) const fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Waits for a turn to trace.
    pub(crate) async fn turn(&self) -> RpcResult<SemaphorePermit<'_>> {
        self.permits
            .acquire()
            .await
            .map_err(|_| error::internal("tracing is shut down"))
    }

    /// The deadline (geth's `timeout` option, capped by `--rpc.evmtimeout`) and byte budget
    /// of one trace whose tracer records `recording` per instruction.
    pub(crate) fn guards(
        &self,
        timeout: Option<&str>,
        recording: StepRecording,
    ) -> RpcResult<Guards> {
        let timeout = match timeout {
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
        let deadline = Deadline::new(timeout.map(|timeout| Instant::now() + timeout));
        Ok((deadline, TraceBudget::new(self.max_bytes, recording)))
    }
}

/// A tracer start for [`EthRpc::reexecute_mined`] and [`EthRpc::call_traced`]: `inspector`
/// behind the default deadline and a byte budget for a tracer that records `recording`.
pub(crate) fn start_with<I>(
    inspector: I,
    recording: StepRecording,
) -> impl FnOnce(&TraceLimits) -> RpcResult<(Guards, I)> {
    move |limits| Ok((limits.guards(None, recording)?, inspector))
}

/// Why a trace was stopped, if it was: its deadline passed or it outgrew its budget.
pub(crate) fn stopped(guards: &Guards) -> Option<ErrorObjectOwned> {
    let (deadline, budget) = guards;
    if deadline.expired() {
        return Some(error::server("execution timeout"));
    }
    budget.exceeded().then(|| too_large(budget.limit()))
}

/// The error of a trace that would pass its byte budget.
pub(crate) fn too_large(limit: usize) -> ErrorObjectOwned {
    error::server(format!(
        "trace too large: it would exceed {limit} bytes (--rpc.max-trace-bytes); disable the \
         stack or memory capture, trace fewer transactions, or use callTracer"
    ))
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

impl EthRpc {
    /// Re-executes block `header` up to and including transaction `last` (all of it when
    /// `None`) with `inspector` behind `guards`, and hands each transaction `wanted` selects,
    /// in block order, to `each` with its hash; a trace its guards stopped is refused with
    /// their error. `each` resets the tracer when it traces more than one transaction.
    pub(crate) fn replay_traced<I, T>(
        &self,
        header: &Sealed<Header>,
        last: Option<usize>,
        wanted: impl Fn(usize) -> bool,
        guards: Guards,
        inspector: I,
        mut each: impl FnMut(usize, B256, Inspected<'_, I, ReplayDb>) -> Result<T, EvmError>,
    ) -> RpcResult<Vec<T>>
    where
        I: Inspector<alloy_op_evm::OpEvmContext<ReplayDb>>,
    {
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
        let mut traced = Vec::new();
        let mut stop = None;
        let replayed = self.chain.evm().replay_block(
            self.state_db(parent),
            header.inner(),
            &transactions,
            (guards, inspector),
            &wanted,
            |index, inspected: Inspected<'_, (Guards, I), _>| {
                let (guards, inspector) = inspected.inspector;
                if let Some(err) = stopped(guards) {
                    stop = Some(err);
                    return Err(EvmError::Internal("trace stopped".into()));
                }
                let hash = transactions[index].inner().tx_hash();
                let one = Inspected {
                    inspector,
                    tx: inspected.tx,
                    block: inspected.block,
                    result: inspected.result,
                    db: inspected.db,
                };
                traced.push(each(index, hash, one)?);
                Ok(())
            },
        );
        if let Some(err) = stop {
            return Err(err);
        }
        replayed.map_err(error::internal)?;
        Ok(traced)
    }
}

impl EthRpc {
    /// The header of the block holding a mined transaction, and its index there.
    pub(crate) fn mined_location(&self, hash: B256) -> RpcResult<Option<(Sealed<Header>, usize)>> {
        let storage = self.chain.storage();
        let Some((number, index)) = storage
            .transaction_location(&hash)
            .map_err(error::internal)?
        else {
            return Ok(None);
        };
        let header = storage
            .header_by_number(number)
            .map_err(error::internal)?
            .ok_or_else(|| error::internal("header of an indexed transaction missing"))?;
        Ok(Some((header, index as usize)))
    }

    /// Re-executes the mined transaction `hash` with the tracer `start` makes (once it has a
    /// turn, so its deadline runs from there) and hands the execution to `finish` with the
    /// block header and the transaction's index; `None` when the transaction is unknown.
    pub(crate) async fn reexecute_mined<I, T>(
        &self,
        hash: B256,
        start: impl FnOnce(&TraceLimits) -> RpcResult<(Guards, I)>,
        finish: impl FnOnce(&Sealed<Header>, usize, Inspected<'_, I, ReplayDb>) -> Result<T, EvmError>
        + Send
        + 'static,
    ) -> RpcResult<Option<T>>
    where
        I: Inspector<alloy_op_evm::OpEvmContext<ReplayDb>> + Send + 'static,
        T: Send + 'static,
    {
        let Some((header, index)) = self.mined_location(hash)? else {
            return Ok(None);
        };
        let _turn = self.tracing.turn().await?;
        let (guards, inspector) = start(&self.tracing)?;
        self.run_blocking(move |this| {
            let mut finish = Some(finish);
            this.replay_traced(
                &header,
                Some(index),
                |i| i == index,
                guards,
                inspector,
                |_, _, inspected| {
                    let finish = finish
                        .take()
                        .ok_or_else(|| EvmError::Internal("re-executed twice".into()))?;
                    finish(&header, index, inspected)
                },
            )?
            .pop()
            .map(Some)
            .ok_or_else(|| error::internal("the transaction was not re-executed"))
        })
        .await
    }

    /// Runs `request` as `eth_call` would on the state after `block` (with `overrides`), with
    /// the tracer `start` makes once it has a turn, and hands the execution to `finish`; a trace
    /// its guards stopped is refused with their error.
    pub(crate) async fn call_traced<I, T>(
        &self,
        request: &TransactionRequest,
        block: Option<BlockId>,
        overrides: Overrides,
        start: impl FnOnce(&TraceLimits) -> RpcResult<(Guards, I)>,
        finish: impl FnOnce(Inspected<'_, I, CacheDB<&StateProviderDb>>) -> RpcResult<T>
        + Send
        + 'static,
    ) -> RpcResult<T>
    where
        I: for<'db> Inspector<alloy_op_evm::OpEvmContext<CacheDB<&'db StateProviderDb>>>
            + Send
            + 'static,
        T: Send + 'static,
    {
        let header = self.state_header(block)?;
        let tx = self.tx_env(request, self.gas_cap)?;
        let _turn = self.tracing.turn().await?;
        let tracer = start(&self.tracing)?;
        self.run_blocking(move |this| {
            let env = this.chain.evm().evm_env_for_header(header.inner());
            let db = this.state_db(header.number);
            this.chain
                .evm()
                .inspect_call(&db, env, tx, &overrides, tracer, |inspected| {
                    let (guards, inspector) = inspected.inspector;
                    if let Some(err) = stopped(guards) {
                        return Err(err);
                    }
                    finish(Inspected {
                        inspector,
                        tx: inspected.tx,
                        block: inspected.block,
                        result: inspected.result,
                        db: inspected.db,
                    })
                })
                .map_err(error::call)?
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_rpc_types_trace::geth::GethDebugTracingOptions;

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
        let (deadline, _) = limits
            .guards(options.timeout.as_deref(), StepRecording::default())
            .unwrap();
        let at = deadline.at().unwrap();
        assert!(
            at <= Instant::now() + Duration::from_secs(5),
            "capped at 5 s"
        );
        let bad = GethDebugTracingOptions {
            timeout: Some("soon".into()),
            ..Default::default()
        };
        let err = limits
            .guards(bad.timeout.as_deref(), StepRecording::default())
            .err()
            .unwrap();
        assert_eq!(err.code(), error::INVALID_PARAMS);
    }
}
