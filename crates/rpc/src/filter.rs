//! Installed filters (`eth_newFilter`, `eth_newBlockFilter`, `eth_newPendingTransactionFilter`)
//! polled with `eth_getFilterChanges`.
//!
//! A filter remembers where its last poll ended: log and block filters the next block number to
//! look at, pending-transaction filters a receiver of the pool's announcements. A filter that is
//! not polled for [`DEFAULT_FILTER_TIMEOUT`] (geth's five minutes) is removed; expired filters
//! are swept whenever a filter method is called. Filter ids are random 128-bit quantities, as
//! geth's hex ids.

use crate::{EthRpc, error, logs::LogBlocks};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{B256, U128};
use alloy_rpc_types_eth::{Filter, FilterBlockOption, FilterChanges, Log};
use jsonrpsee::core::RpcResult;
use op_alloy_rpc_types::Transaction;
use parking_lot::Mutex;
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::broadcast::{self, error::TryRecvError};

/// How long a filter lives without being polled (geth's `--rpc` filter timeout).
pub const DEFAULT_FILTER_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// What an installed filter watches, and where its last poll ended.
#[derive(Debug)]
enum FilterState {
    /// Logs matching the filter in blocks from `next_block` on.
    Logs {
        filter: Box<Filter>,
        next_block: u64,
    },
    /// Hashes of blocks from `next_block` on.
    Blocks { next_block: u64 },
    /// Transactions the pool accepted since the last poll, as hashes or in full.
    PendingTransactions {
        receiver: broadcast::Receiver<B256>,
        full: bool,
    },
}

#[derive(Debug)]
struct Installed {
    last_poll: Instant,
    state: Arc<Mutex<FilterState>>,
}

/// The filters installed on this node, shared by every transport.
#[derive(Debug)]
pub(crate) struct Filters {
    installed: Mutex<HashMap<u128, Installed>>,
    timeout: Duration,
}

impl Filters {
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            installed: Mutex::new(HashMap::new()),
            timeout,
        }
    }

    fn install(&self, state: FilterState) -> U128 {
        let mut installed = self.installed.lock();
        self.sweep(&mut installed);
        let id = loop {
            let id = u128::from_be_bytes(alloy_primitives::B128::random().0);
            if id != 0 && !installed.contains_key(&id) {
                break id;
            }
        };
        installed.insert(
            id,
            Installed {
                last_poll: Instant::now(),
                state: Arc::new(Mutex::new(state)),
            },
        );
        U128::from(id)
    }

    /// The filter's state, marking it polled now; `None` when unknown or expired.
    fn poll(&self, id: U128) -> Option<Arc<Mutex<FilterState>>> {
        let mut installed = self.installed.lock();
        self.sweep(&mut installed);
        let entry = installed.get_mut(&id.to::<u128>())?;
        entry.last_poll = Instant::now();
        Some(entry.state.clone())
    }

    fn uninstall(&self, id: U128) -> bool {
        let mut installed = self.installed.lock();
        self.sweep(&mut installed);
        installed.remove(&id.to::<u128>()).is_some()
    }

    fn sweep(&self, installed: &mut HashMap<u128, Installed>) {
        let timeout = self.timeout;
        installed.retain(|_, entry| entry.last_poll.elapsed() < timeout);
    }

    /// Number of live filters (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        let mut installed = self.installed.lock();
        self.sweep(&mut installed);
        installed.len()
    }
}

fn filter_not_found() -> jsonrpsee::types::ErrorObjectOwned {
    error::server("filter not found")
}

impl EthRpc {
    /// `eth_newFilter`: checks the filter like `eth_getLogs` would, then installs it; changes
    /// start with the next block.
    pub(crate) fn install_log_filter(&self, filter: Filter) -> RpcResult<U128> {
        if filter.get_block_hash().is_some() {
            return Err(error::invalid_params(
                "eth_newFilter does not take a blockHash: query one block with eth_getLogs",
            ));
        }
        if let FilterBlockOption::Range {
            from_block: Some(BlockNumberOrTag::Number(from)),
            to_block: Some(BlockNumberOrTag::Number(to)),
        } = filter.block_option
            && from > to
        {
            return Err(error::invalid_params(format!(
                "invalid block range params: fromBlock {from} is after toBlock {to}"
            )));
        }
        let next_block = self.chain.head().number + 1;
        Ok(self.filters.install(FilterState::Logs {
            filter: Box::new(filter),
            next_block,
        }))
    }

    /// `eth_newBlockFilter`.
    pub(crate) fn install_block_filter(&self) -> U128 {
        let next_block = self.chain.head().number + 1;
        self.filters.install(FilterState::Blocks { next_block })
    }

    /// `eth_newPendingTransactionFilter`.
    pub(crate) fn install_pending_transaction_filter(&self, full: bool) -> U128 {
        let receiver = self.chain.subscribe_pending_transactions();
        self.filters
            .install(FilterState::PendingTransactions { receiver, full })
    }

    /// `eth_uninstallFilter`.
    pub(crate) fn remove_filter(&self, id: U128) -> bool {
        self.filters.uninstall(id)
    }

    /// `eth_getFilterChanges`.
    pub(crate) fn poll_filter(&self, id: U128) -> RpcResult<FilterChanges<Transaction, Log>> {
        let state = self.filters.poll(id).ok_or_else(filter_not_found)?;
        let mut state = state.lock();
        let head = self.chain.head().number;
        match &mut *state {
            FilterState::Blocks { next_block } => {
                let storage = self.chain.storage();
                let mut hashes = Vec::new();
                for number in *next_block..=head {
                    let hash = storage
                        .canonical_hash(number)
                        .map_err(error::internal)?
                        .ok_or_else(|| error::internal(format!("missing block {number}")))?;
                    hashes.push(hash);
                }
                *next_block = (*next_block).max(head + 1);
                Ok(non_empty(hashes, FilterChanges::Hashes))
            }
            FilterState::Logs { filter, next_block } => {
                let from = filter
                    .get_from_block()
                    .map_or(*next_block, |from| from.max(*next_block));
                let to = filter.get_to_block().map_or(head, |to| to.min(head));
                let logs = if from <= to {
                    self.query_logs(filter, &LogBlocks::Range { from, to })?
                } else {
                    Vec::new()
                };
                *next_block = (*next_block).max(head + 1);
                Ok(non_empty(logs, FilterChanges::Logs))
            }
            FilterState::PendingTransactions { receiver, full } => {
                let mut hashes = Vec::new();
                loop {
                    match receiver.try_recv() {
                        Ok(hash) => hashes.push(hash),
                        // Announcements this filter fell too far behind on are lost.
                        Err(TryRecvError::Lagged(_)) => {}
                        Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                    }
                }
                if !*full {
                    return Ok(non_empty(hashes, FilterChanges::Hashes));
                }
                let mut transactions = Vec::with_capacity(hashes.len());
                for hash in hashes {
                    if let Some(tx) = self.transaction(hash)? {
                        transactions.push(tx);
                    }
                }
                Ok(non_empty(transactions, FilterChanges::Transactions))
            }
        }
    }

    /// `eth_getFilterLogs`: every log the filter matches over its whole range.
    pub(crate) fn installed_filter_logs(&self, id: U128) -> RpcResult<Vec<Log>> {
        let state = self.filters.poll(id).ok_or_else(filter_not_found)?;
        let filter = match &*state.lock() {
            FilterState::Logs { filter, .. } => filter.clone(),
            _ => return Err(filter_not_found()),
        };
        let blocks = self.log_blocks(&filter, None)?;
        self.query_logs(&filter, &blocks)
    }
}

fn non_empty<T>(
    items: Vec<T>,
    wrap: impl FnOnce(Vec<T>) -> FilterChanges<Transaction, Log>,
) -> FilterChanges<Transaction, Log> {
    if items.is_empty() {
        FilterChanges::Empty
    } else {
        wrap(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_expire_when_not_polled() {
        let filters = Filters::new(Duration::from_millis(50));
        let id = filters.install(FilterState::Blocks { next_block: 1 });
        assert!(filters.poll(id).is_some());
        std::thread::sleep(Duration::from_millis(30));
        // Polling keeps it alive.
        assert!(filters.poll(id).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(filters.poll(id).is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert!(filters.poll(id).is_none());
        assert_eq!(filters.len(), 0);
    }

    #[test]
    fn uninstall_removes_once() {
        let filters = Filters::new(DEFAULT_FILTER_TIMEOUT);
        let a = filters.install(FilterState::Blocks { next_block: 1 });
        let b = filters.install(FilterState::Blocks { next_block: 1 });
        assert_ne!(a, b);
        assert!(filters.uninstall(a));
        assert!(!filters.uninstall(a));
        assert!(filters.poll(b).is_some());
        assert_eq!(filters.len(), 1);
    }
}
