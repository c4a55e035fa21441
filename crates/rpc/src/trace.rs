//! The `trace` namespace (OpenEthereum's, as reth serves it through `revm-inspectors`):
//! `trace_block`, `trace_transaction`, `trace_get`, `trace_filter`, `trace_call`,
//! `trace_replayTransaction` and `trace_replayBlockTransactions`, with the `trace`, `vmTrace`
//! and `stateDiff` trace types. Calls to precompiles are left out, as Parity did. Every
//! re-execution runs behind the trace limits of [`reexec`](crate::reexec).

use crate::{
    EthRpc, error,
    reexec::{Guards, ReplayDb, start_with, too_large},
};
use alloy_consensus::{Header, Sealed};
use alloy_eips::BlockId;
use alloy_primitives::{B256, map::HashSet};
use alloy_rpc_types_eth::{
    BlockOverrides, Index, TransactionInfo, TransactionRequest, state::StateOverride,
};
use alloy_rpc_types_trace::{
    filter::TraceFilter,
    parity::{LocalizedTransactionTrace, TraceResults, TraceResultsWithTransactionHash, TraceType},
};
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use ol_evm::{
    EvmError, Inspected,
    call::Overrides,
    limits::{StepRecording, TraceBudget},
};
use revm_inspectors::tracing::{ParityTraceBuilder, TracingInspector, TracingInspectorConfig};

/// The most blocks one `trace_filter` may span (reth's `--rpc.max-trace-filter-blocks`).
pub const MAX_TRACE_FILTER_BLOCKS: u64 = 100;

/// The `trace` namespace.
#[rpc(server, namespace = "trace")]
pub trait TraceApi {
    /// The call traces of every transaction of a block; `null` for an unknown block.
    #[method(name = "block")]
    async fn trace_block(
        &self,
        block: BlockId,
    ) -> RpcResult<Option<Vec<LocalizedTransactionTrace>>>;
    /// The call traces of a mined transaction; `null` for an unknown one.
    #[method(name = "transaction")]
    async fn trace_transaction(
        &self,
        hash: B256,
    ) -> RpcResult<Option<Vec<LocalizedTransactionTrace>>>;
    /// One call trace of a transaction, by its position in `trace_transaction`'s list.
    #[method(name = "get")]
    async fn trace_get(
        &self,
        hash: B256,
        indices: Vec<Index>,
    ) -> RpcResult<Option<LocalizedTransactionTrace>>;
    /// The call traces of a block range that match the filter's addresses.
    #[method(name = "filter")]
    async fn trace_filter(&self, filter: TraceFilter) -> RpcResult<Vec<LocalizedTransactionTrace>>;
    /// Traces a call on the state after a block, as `eth_call` would run it.
    #[method(name = "call")]
    async fn trace_call(
        &self,
        request: TransactionRequest,
        trace_types: HashSet<TraceType>,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> RpcResult<TraceResults>;
    /// Re-executes a mined transaction with the asked trace types.
    #[method(name = "replayTransaction")]
    async fn trace_replay_transaction(
        &self,
        hash: B256,
        trace_types: HashSet<TraceType>,
    ) -> RpcResult<TraceResults>;
    /// Re-executes every transaction of a block with the asked trace types.
    #[method(name = "replayBlockTransactions")]
    async fn trace_replay_block_transactions(
        &self,
        block: BlockId,
        trace_types: HashSet<TraceType>,
    ) -> RpcResult<Option<Vec<TraceResultsWithTransactionHash>>>;
}

/// A tracer for Parity traces of `trace_types`, and the instruction recording its budget
/// charges (a `vmTrace` records every instruction).
fn parity_tracer(trace_types: &HashSet<TraceType>) -> (TracingInspector, StepRecording) {
    let config = TracingInspectorConfig::from_parity_config(trace_types);
    let recording = StepRecording {
        steps: trace_types.contains(&TraceType::VmTrace),
        ..StepRecording::default()
    };
    (TracingInspector::new(config), recording)
}

/// A tracer recording call frames only (for `trace_block`, `trace_transaction`, ...).
fn call_tracer() -> TracingInspector {
    TracingInspector::new(TracingInspectorConfig::default_parity())
}

/// Takes the trace of one execution out of `tracer`, leaving it ready for the next. The root
/// frame's `gasUsed` stays the frame's own (without the intrinsic gas), as reth and anvil
/// report it.
fn take(tracer: &mut TracingInspector) -> ParityTraceBuilder {
    let config = *tracer.config();
    std::mem::replace(tracer, TracingInspector::new(config)).into_parity_builder()
}

/// The [`TraceResults`] of one execution, the state diff read against the state it ran on.
fn results<DB: revm::DatabaseRef>(
    inspected: Inspected<'_, TracingInspector, DB>,
    trace_types: &HashSet<TraceType>,
) -> Result<TraceResults, EvmError> {
    take(inspected.inspector)
        .into_trace_results_with_state(inspected.result, trace_types, &*inspected.db)
        .map_err(|err| EvmError::Internal(format!("state diff: {err}")))
}

/// The blocks a `trace_filter` spans: from `fromBlock` (genesis by default) to `toBlock` (the
/// head by default), at most [`MAX_TRACE_FILTER_BLOCKS`] of them, none past the head.
fn filter_range(filter: &TraceFilter, head: u64) -> RpcResult<(u64, u64)> {
    let from = filter.from_block.unwrap_or(0);
    let to = filter.to_block.unwrap_or(head);
    if from > to {
        return Err(error::invalid_params(format!(
            "invalid block range: fromBlock {from} is after toBlock {to}"
        )));
    }
    if to > head {
        return Err(error::invalid_params(format!(
            "invalid block range: toBlock {to} is past the head {head}"
        )));
    }
    if to - from >= MAX_TRACE_FILTER_BLOCKS {
        return Err(error::invalid_params(format!(
            "block range too large: {} blocks, at most {MAX_TRACE_FILTER_BLOCKS} per trace_filter",
            to - from + 1
        )));
    }
    Ok((from, to))
}

/// Where transaction `index` (hash `hash`) of block `header` sits, for localized traces.
fn tx_info(header: &Sealed<Header>, index: usize, hash: B256) -> TransactionInfo {
    TransactionInfo {
        hash: Some(hash),
        index: Some(index as u64),
        block_hash: Some(header.hash()),
        block_number: Some(header.number),
        base_fee: header.base_fee_per_gas,
        block_timestamp: Some(header.timestamp),
    }
}

impl EthRpc {
    /// The call traces of the transactions of `header` that `wanted` selects (re-executing up
    /// to `last`), with their block positions.
    fn localized_traces(
        &self,
        header: &Sealed<Header>,
        last: Option<usize>,
        wanted: impl Fn(usize) -> bool,
        guards: Guards,
    ) -> RpcResult<Vec<LocalizedTransactionTrace>> {
        let per_tx = self.replay_traced(
            header,
            last,
            wanted,
            guards,
            call_tracer(),
            |index, hash, inspected: Inspected<'_, TracingInspector, ReplayDb>| {
                Ok(take(inspected.inspector)
                    .into_localized_transaction_traces(tx_info(header, index, hash)))
            },
        )?;
        Ok(per_tx.into_iter().flatten().collect())
    }

    /// The call traces of a mined transaction, `None` when it is unknown.
    async fn transaction_traces(
        &self,
        hash: B256,
    ) -> RpcResult<Option<Vec<LocalizedTransactionTrace>>> {
        self.reexecute_mined(
            hash,
            start_with(call_tracer(), StepRecording::default()),
            move |header, index, inspected| {
                Ok(take(inspected.inspector)
                    .into_localized_transaction_traces(tx_info(header, index, hash)))
            },
        )
        .await
    }
}

#[jsonrpsee::core::async_trait]
impl TraceApiServer for EthRpc {
    async fn trace_block(
        &self,
        block: BlockId,
    ) -> RpcResult<Option<Vec<LocalizedTransactionTrace>>> {
        let Some(header) = self.header_by_id(block)? else {
            return Ok(None);
        };
        let _turn = self.tracing.turn().await?;
        let guards = self.tracing.guards(None, StepRecording::default())?;
        self.run_blocking(move |this| {
            this.localized_traces(&header, None, |_| true, guards)
                .map(Some)
        })
        .await
    }

    async fn trace_transaction(
        &self,
        hash: B256,
    ) -> RpcResult<Option<Vec<LocalizedTransactionTrace>>> {
        self.transaction_traces(hash).await
    }

    async fn trace_get(
        &self,
        hash: B256,
        indices: Vec<Index>,
    ) -> RpcResult<Option<LocalizedTransactionTrace>> {
        // Parity's trace address is a path, but only a single index was ever served (reth and
        // OpenEthereum answer null for more): the position in the transaction's trace list.
        let [Index(position)] = indices[..] else {
            return Ok(None);
        };
        Ok(self
            .transaction_traces(hash)
            .await?
            .and_then(|traces| traces.into_iter().nth(position)))
    }

    async fn trace_filter(&self, filter: TraceFilter) -> RpcResult<Vec<LocalizedTransactionTrace>> {
        let (from, to) = filter_range(&filter, self.chain.head().number)?;
        let _turn = self.tracing.turn().await?;
        let (deadline, _) = self.tracing.guards(None, StepRecording::default())?;
        self.run_blocking(move |this| {
            let matcher = filter.matcher();
            let skip = usize::try_from(filter.after.unwrap_or(0)).unwrap_or(usize::MAX);
            let take = filter.count.map_or(usize::MAX, |count| {
                usize::try_from(count).unwrap_or(usize::MAX)
            });
            let max_bytes = this.tracing.max_bytes();
            // The byte budget covers the whole answer: each block is traced with what the
            // matches kept so far left of it.
            let mut kept_bytes = 0usize;
            let mut matching = Vec::new();
            for number in from..=to {
                let header = this
                    .chain
                    .storage()
                    .header_by_number(number)
                    .map_err(error::internal)?
                    .ok_or_else(|| error::internal("header below the head missing"))?;
                let budget = TraceBudget::new(
                    max_bytes.saturating_sub(kept_bytes),
                    StepRecording::default(),
                );
                let traces = this.localized_traces(&header, None, |_| true, (deadline, budget))?;
                for trace in traces {
                    if matcher.matches(&trace.trace) {
                        kept_bytes += serde_json::to_vec(&trace).map_or(0, |json| json.len());
                        matching.push(trace);
                    }
                }
                if kept_bytes > max_bytes {
                    return Err(too_large(max_bytes));
                }
                if matching.len() >= skip.saturating_add(take) {
                    break;
                }
            }
            Ok(matching.into_iter().skip(skip).take(take).collect())
        })
        .await
    }

    async fn trace_call(
        &self,
        request: TransactionRequest,
        trace_types: HashSet<TraceType>,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> RpcResult<TraceResults> {
        let overrides = Overrides {
            state: state_overrides,
            block: block_overrides,
        };
        let (tracer, recording) = parity_tracer(&trace_types);
        self.call_traced(
            &request,
            block,
            overrides,
            start_with(tracer, recording),
            move |inspected| results(inspected, &trace_types).map_err(error::internal),
        )
        .await
    }

    async fn trace_replay_transaction(
        &self,
        hash: B256,
        trace_types: HashSet<TraceType>,
    ) -> RpcResult<TraceResults> {
        let (tracer, recording) = parity_tracer(&trace_types);
        self.reexecute_mined(
            hash,
            start_with(tracer, recording),
            move |_, _, inspected| results(inspected, &trace_types),
        )
        .await?
        .ok_or_else(|| error::server("transaction not found"))
    }

    async fn trace_replay_block_transactions(
        &self,
        block: BlockId,
        trace_types: HashSet<TraceType>,
    ) -> RpcResult<Option<Vec<TraceResultsWithTransactionHash>>> {
        let Some(header) = self.header_by_id(block)? else {
            return Ok(None);
        };
        let _turn = self.tracing.turn().await?;
        let (tracer, recording) = parity_tracer(&trace_types);
        let guards = self.tracing.guards(None, recording)?;
        self.run_blocking(move |this| {
            this.replay_traced(
                &header,
                None,
                |_| true,
                guards,
                tracer,
                |_, transaction_hash, inspected| {
                    Ok(TraceResultsWithTransactionHash {
                        full_trace: results(inspected, &trace_types)?,
                        transaction_hash,
                    })
                },
            )
            .map(Some)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(from: Option<u64>, to: Option<u64>, head: u64) -> Result<(u64, u64), i32> {
        let filter = TraceFilter {
            from_block: from,
            to_block: to,
            ..Default::default()
        };
        filter_range(&filter, head).map_err(|err| err.code())
    }

    #[test]
    fn a_filter_spans_at_most_its_limit_of_blocks_up_to_the_head() {
        assert_eq!(range(None, None, 50), Ok((0, 50)));
        assert_eq!(range(Some(10), None, 50), Ok((10, 50)));
        assert_eq!(range(Some(1), Some(100), 500), Ok((1, 100)));
        let invalid = Err(error::INVALID_PARAMS);
        assert_eq!(range(Some(0), Some(100), 500), invalid, "101 blocks");
        assert_eq!(range(None, None, 100), invalid, "genesis to 100");
        assert_eq!(range(Some(9), Some(8), 50), invalid, "backwards");
        assert_eq!(range(Some(40), Some(51), 50), invalid, "past the head");
    }
}
