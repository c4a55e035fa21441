//! Log queries: `eth_getLogs`, the logs of log filters and of `logs` subscriptions.
//!
//! A query covers one block (`blockHash`) or an inclusive range of blocks (`fromBlock`,
//! `toBlock`, `latest` by default). Blocks whose header `logsBloom` cannot contain a match are
//! skipped without reading their receipts. Two limits protect the node, with reth's defaults:
//! a range may cover at most [`DEFAULT_MAX_BLOCKS_PER_FILTER`] blocks and a response may hold at
//! most [`DEFAULT_MAX_LOGS_PER_RESPONSE`] logs; both refusals are `-32602` errors whose message
//! says what to do.

use crate::{EthRpc, error};
use alloy_consensus::{Header, Sealed};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::B256;
use alloy_rpc_types_eth::{Filter, FilterBlockOption, Log};
use jsonrpsee::{core::RpcResult, types::ErrorObjectOwned};
use ol_primitives::{OpReceiptEnvelope, OpTxEnvelope};

/// Most blocks one log query may cover (reth's `--rpc.max-blocks-per-filter` default).
pub const DEFAULT_MAX_BLOCKS_PER_FILTER: u64 = 100_000;
/// Most logs one response may hold (reth's `--rpc.max-logs-per-response` default).
pub const DEFAULT_MAX_LOGS_PER_RESPONSE: usize = 20_000;

/// The limits of log queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimits {
    /// Most blocks one range may cover.
    pub max_blocks: u64,
    /// Most logs one response may hold.
    pub max_logs: usize,
}

impl Default for LogLimits {
    fn default() -> Self {
        Self {
            max_blocks: DEFAULT_MAX_BLOCKS_PER_FILTER,
            max_logs: DEFAULT_MAX_LOGS_PER_RESPONSE,
        }
    }
}

/// The blocks a log query covers, resolved against the head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LogBlocks {
    /// One block, by hash.
    Block(Box<Sealed<Header>>),
    /// An inclusive range of block numbers, at most the head.
    Range {
        /// First block.
        from: u64,
        /// Last block.
        to: u64,
    },
    /// Nothing to scan (the range starts after the head).
    Empty,
}

/// Appends the logs of one block that match the filter's addresses and topics, as RPC logs with
/// their block, transaction and log positions. Log indexes count every log of the block.
pub(crate) fn block_logs(
    header: &Sealed<Header>,
    transactions: &[OpTxEnvelope],
    receipts: &[OpReceiptEnvelope],
    filter: &Filter,
    out: &mut Vec<Log>,
) {
    let mut log_index = 0u64;
    for (index, (tx, receipt)) in transactions.iter().zip(receipts).enumerate() {
        for log in receipt.logs() {
            if filter.matches(log) {
                out.push(Log {
                    inner: log.clone(),
                    block_hash: Some(header.hash()),
                    block_number: Some(header.number),
                    block_timestamp: Some(header.timestamp),
                    transaction_hash: Some(tx.tx_hash()),
                    transaction_index: Some(index as u64),
                    log_index: Some(log_index),
                    removed: false,
                });
            }
            log_index += 1;
        }
    }
}

fn max_logs_error(max: usize, from: u64, to: u64) -> ErrorObjectOwned {
    error::invalid_params(format!(
        "query exceeds max results {max}, retry with the range {from}-{to}"
    ))
}

impl EthRpc {
    /// The block number a tag of a log query stands for.
    fn log_block_number(&self, tag: BlockNumberOrTag, head: u64) -> u64 {
        match tag {
            BlockNumberOrTag::Latest
            | BlockNumberOrTag::Pending
            | BlockNumberOrTag::Safe
            | BlockNumberOrTag::Finalized => head,
            BlockNumberOrTag::Earliest => 0,
            BlockNumberOrTag::Number(number) => number,
        }
    }

    /// Resolves the blocks of `filter`, with `default_from` when it names no `fromBlock`; checks
    /// the order and size of the range.
    pub(crate) fn log_blocks(
        &self,
        filter: &Filter,
        default_from: Option<u64>,
    ) -> RpcResult<LogBlocks> {
        let head = self.chain.head().number;
        let (from, to) = match filter.block_option {
            FilterBlockOption::AtBlockHash(hash) => return self.log_block_by_hash(hash),
            FilterBlockOption::Range {
                from_block,
                to_block,
            } => (
                from_block.map_or_else(
                    || default_from.unwrap_or(head),
                    |tag| self.log_block_number(tag, head),
                ),
                to_block.map_or(head, |tag| self.log_block_number(tag, head)),
            ),
        };
        if from > to {
            return Err(error::invalid_params(format!(
                "invalid block range params: fromBlock {from} is after toBlock {to}"
            )));
        }
        if from > head {
            return Ok(LogBlocks::Empty);
        }
        let to = to.min(head);
        let max = self.limits.max_blocks;
        if to - from >= max {
            return Err(error::invalid_params(format!(
                "query exceeds max block range {max}"
            )));
        }
        Ok(LogBlocks::Range { from, to })
    }

    fn log_block_by_hash(&self, hash: B256) -> RpcResult<LogBlocks> {
        let storage = self.chain.storage();
        let number = storage
            .block_number(&hash)
            .map_err(error::internal)?
            .ok_or_else(|| error::server("unknown block"))?;
        let header = storage
            .header_by_number(number)
            .map_err(error::internal)?
            .ok_or_else(|| error::server("unknown block"))?;
        Ok(LogBlocks::Block(Box::new(header)))
    }

    /// The logs of `blocks` that match `filter`, within the result limit.
    pub(crate) fn query_logs(&self, filter: &Filter, blocks: &LogBlocks) -> RpcResult<Vec<Log>> {
        let mut logs = Vec::new();
        match blocks {
            LogBlocks::Empty => {}
            LogBlocks::Block(header) => {
                self.append_block_logs(header, filter, &mut logs)?;
                if logs.len() > self.limits.max_logs {
                    return Err(max_logs_error(
                        self.limits.max_logs,
                        header.number,
                        header.number,
                    ));
                }
            }
            LogBlocks::Range { from, to } => {
                let storage = self.chain.storage();
                for number in *from..=*to {
                    let header = storage
                        .header_by_number(number)
                        .map_err(error::internal)?
                        .ok_or_else(|| error::internal(format!("missing header {number}")))?;
                    let before = logs.len();
                    self.append_block_logs(&header, filter, &mut logs)?;
                    if logs.len() > self.limits.max_logs {
                        // Retry up to the last block that still fit (at least the first one).
                        let last_fitting = if before > 0 && number > *from {
                            number - 1
                        } else {
                            number
                        };
                        return Err(max_logs_error(self.limits.max_logs, *from, last_fitting));
                    }
                }
            }
        }
        Ok(logs)
    }

    fn append_block_logs(
        &self,
        header: &Sealed<Header>,
        filter: &Filter,
        out: &mut Vec<Log>,
    ) -> RpcResult<()> {
        if !filter.matches_bloom(header.logs_bloom) {
            return Ok(());
        }
        let (body, receipts) = self.block_parts(header)?;
        block_logs(header, &body.transactions, &receipts, filter, out);
        Ok(())
    }
}
