//! Installed filters (`eth_newFilter`, `eth_newBlockFilter`, `eth_newPendingTransactionFilter`)
//! polled with `eth_getFilterChanges`.
//!
//! A filter remembers where its last poll ended: log and block filters the next block number to
//! look at, pending-transaction filters a receiver of the pool's announcements. A filter that is
//! not polled for [`DEFAULT_FILTER_TIMEOUT`] (geth's five minutes) is removed. Filter ids are
//! random 128-bit quantities, as geth's hex ids.
//!
//! Installed filters are held by the node for anyone who asks, so they are bounded
//! ([`FilterLimits`]): in number, overall and per connection; in size, per filter (geth's 1,000
//! addresses and 1,000 values per topic position, which `eth_getLogs` and log subscriptions
//! obey too) and overall (the addresses and topics of every installed log filter together).
//! Expired filters are dropped when they are next touched, by a sweep that runs at most once
//! per [`SWEEP_EVERY`], and before a cap refuses an install; so a call costs the same with one
//! filter installed or ten thousand.

use crate::{EthRpc, error, logs::LogBlocks};
use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{B256, U128};
use alloy_rpc_types_eth::{Filter, FilterBlockOption, FilterChanges, Log};
use jsonrpsee::{ConnectionId, Extensions, core::RpcResult, types::ErrorObjectOwned};
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

/// Longest time between two sweeps of expired filters.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// geth's `maxAddresses`: most addresses one log filter or query may name.
pub const MAX_FILTER_ADDRESSES: usize = 1000;

/// geth's `maxSubTopics`: most values one topic position of a log filter or query may list.
pub const MAX_FILTER_TOPIC_VALUES: usize = 1000;

/// The bounds on installed filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterLimits {
    /// How long a filter lives without being polled.
    pub timeout: Duration,
    /// Most filters installed at once, on the whole node.
    pub max_filters: usize,
    /// Most filters one connection may have installed at once.
    pub max_per_connection: usize,
    /// Most addresses and topic values of every installed log filter together.
    pub max_criteria: usize,
}

impl Default for FilterLimits {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_FILTER_TIMEOUT,
            max_filters: 10_000,
            // As many as the subscriptions a WebSocket connection may hold (reth's 1,024).
            max_per_connection: 1024,
            // A hundred filters of the largest size geth allows, a few megabytes.
            max_criteria: 100 * (MAX_FILTER_ADDRESSES + 4 * MAX_FILTER_TOPIC_VALUES),
        }
    }
}

/// Refuses a log filter or query larger than geth allows, with geth's messages.
pub(crate) fn check_filter_size(filter: &Filter) -> RpcResult<()> {
    if filter.address.len() > MAX_FILTER_ADDRESSES {
        return Err(error::server("exceed max addresses"));
    }
    if filter
        .topics
        .iter()
        .any(|topic| topic.len() > MAX_FILTER_TOPIC_VALUES)
    {
        return Err(error::server("exceed max topics"));
    }
    Ok(())
}

/// The addresses and topic values a log filter holds.
fn criteria(filter: &Filter) -> usize {
    filter.address.len() + filter.topics.iter().map(|topic| topic.len()).sum::<usize>()
}

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
    /// The connection that installed it.
    owner: usize,
    /// Its addresses and topic values (0 for block and transaction filters).
    criteria: usize,
    state: Arc<Mutex<FilterState>>,
}

#[derive(Debug, Default)]
struct Registry {
    filters: HashMap<u128, Installed>,
    per_connection: HashMap<usize, usize>,
    criteria: usize,
    next_sweep: Option<Instant>,
}

impl Registry {
    fn remove(&mut self, id: u128) -> Option<Installed> {
        let entry = self.filters.remove(&id)?;
        self.criteria -= entry.criteria;
        if let Some(count) = self.per_connection.get_mut(&entry.owner) {
            *count -= 1;
            if *count == 0 {
                self.per_connection.remove(&entry.owner);
            }
        }
        Some(entry)
    }

    /// Drops expired filters, at most once per [`SWEEP_EVERY`] unless `now` is asked for.
    fn sweep(&mut self, timeout: Duration, force: bool) {
        let now = Instant::now();
        if !force && self.next_sweep.is_some_and(|next| now < next) {
            return;
        }
        self.next_sweep = Some(now + SWEEP_EVERY);
        let expired: Vec<u128> = self
            .filters
            .iter()
            .filter(|(_, entry)| now.duration_since(entry.last_poll) >= timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.remove(id);
        }
    }
}

/// The filters installed on this node, shared by every transport.
#[derive(Debug)]
pub(crate) struct Filters {
    registry: Mutex<Registry>,
    limits: FilterLimits,
}

/// The connection a call came on (0 when the transport does not say).
pub(crate) fn connection(ext: &Extensions) -> usize {
    ext.get::<ConnectionId>().map_or(0, |id| id.0)
}

impl Filters {
    pub(crate) fn new(limits: FilterLimits) -> Self {
        Self {
            registry: Mutex::new(Registry::default()),
            limits,
        }
    }

    fn install(&self, owner: usize, state: FilterState) -> RpcResult<U128> {
        let criteria = match &state {
            FilterState::Logs { filter, .. } => criteria(filter),
            _ => 0,
        };
        let limits = self.limits;
        let mut registry = self.registry.lock();
        registry.sweep(limits.timeout, false);
        let full = |registry: &Registry| {
            registry.filters.len() >= limits.max_filters
                || registry.per_connection.get(&owner).copied().unwrap_or(0)
                    >= limits.max_per_connection
                || registry.criteria + criteria > limits.max_criteria
        };
        // Expired filters not yet swept must not hold places: sweep before refusing.
        if full(&registry) {
            registry.sweep(limits.timeout, true);
        }
        if registry.filters.len() >= limits.max_filters {
            return Err(limit(format!(
                "too many installed filters: the node holds its limit of {}; uninstall \
                 filters you no longer poll",
                limits.max_filters
            )));
        }
        if registry.per_connection.get(&owner).copied().unwrap_or(0) >= limits.max_per_connection {
            return Err(limit(format!(
                "too many installed filters on this connection (limit {}); uninstall filters \
                 you no longer poll",
                limits.max_per_connection
            )));
        }
        if registry.criteria + criteria > limits.max_criteria {
            return Err(limit(format!(
                "installed log filters hold too many addresses and topics (limit {} in all); \
                 use fewer or narrower filters, or eth_getLogs",
                limits.max_criteria
            )));
        }
        let id = loop {
            let id = u128::from_be_bytes(alloy_primitives::B128::random().0);
            if id != 0 && !registry.filters.contains_key(&id) {
                break id;
            }
        };
        registry.filters.insert(
            id,
            Installed {
                last_poll: Instant::now(),
                owner,
                criteria,
                state: Arc::new(Mutex::new(state)),
            },
        );
        registry.criteria += criteria;
        *registry.per_connection.entry(owner).or_default() += 1;
        Ok(U128::from(id))
    }

    /// The filter's state, marking it polled now; `None` when unknown or expired.
    fn poll(&self, id: U128) -> Option<Arc<Mutex<FilterState>>> {
        let id = id.to::<u128>();
        let mut registry = self.registry.lock();
        registry.sweep(self.limits.timeout, false);
        if registry.filters.get(&id)?.last_poll.elapsed() >= self.limits.timeout {
            registry.remove(id);
            return None;
        }
        let entry = registry.filters.get_mut(&id)?;
        entry.last_poll = Instant::now();
        Some(entry.state.clone())
    }

    fn uninstall(&self, id: U128) -> bool {
        let mut registry = self.registry.lock();
        registry.sweep(self.limits.timeout, false);
        let Some(entry) = registry.remove(id.to::<u128>()) else {
            return false;
        };
        entry.last_poll.elapsed() < self.limits.timeout
    }

    /// Number of live filters (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        let registry = self.registry.lock();
        let timeout = self.limits.timeout;
        registry
            .filters
            .values()
            .filter(|entry| entry.last_poll.elapsed() < timeout)
            .count()
    }
}

/// A limit of installed filters was reached.
fn limit(message: String) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(error::LIMIT_EXCEEDED, message, None::<()>)
}

fn filter_not_found() -> jsonrpsee::types::ErrorObjectOwned {
    error::server("filter not found")
}

impl EthRpc {
    /// `eth_newFilter`: checks the filter like `eth_getLogs` would, then installs it; changes
    /// start with the next block.
    pub(crate) fn install_log_filter(&self, owner: usize, filter: Filter) -> RpcResult<U128> {
        check_filter_size(&filter)?;
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
        self.filters.install(
            owner,
            FilterState::Logs {
                filter: Box::new(filter),
                next_block,
            },
        )
    }

    /// `eth_newBlockFilter`.
    pub(crate) fn install_block_filter(&self, owner: usize) -> RpcResult<U128> {
        let next_block = self.chain.head().number + 1;
        self.filters
            .install(owner, FilterState::Blocks { next_block })
    }

    /// `eth_newPendingTransactionFilter`.
    pub(crate) fn install_pending_transaction_filter(
        &self,
        owner: usize,
        full: bool,
    ) -> RpcResult<U128> {
        let receiver = self.chain.subscribe_pending_transactions();
        self.filters
            .install(owner, FilterState::PendingTransactions { receiver, full })
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

    fn limits(timeout: Duration) -> FilterLimits {
        FilterLimits {
            timeout,
            ..FilterLimits::default()
        }
    }

    fn blocks() -> FilterState {
        FilterState::Blocks { next_block: 1 }
    }

    #[test]
    fn filters_expire_when_not_polled() {
        let filters = Filters::new(limits(Duration::from_millis(50)));
        let id = filters.install(0, blocks()).unwrap();
        assert!(filters.poll(id).is_some());
        std::thread::sleep(Duration::from_millis(30));
        // Polling keeps it alive.
        assert!(filters.poll(id).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(filters.poll(id).is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert!(filters.poll(id).is_none());
        assert_eq!(filters.len(), 0);
        assert!(
            filters.registry.lock().filters.is_empty(),
            "dropped when touched"
        );
    }

    #[test]
    fn uninstall_removes_once() {
        let filters = Filters::new(FilterLimits::default());
        let a = filters.install(0, blocks()).unwrap();
        let b = filters.install(0, blocks()).unwrap();
        assert_ne!(a, b);
        assert!(filters.uninstall(a));
        assert!(!filters.uninstall(a));
        assert!(filters.poll(b).is_some());
        assert_eq!(filters.len(), 1);
    }

    #[test]
    fn the_global_and_per_connection_counts_are_capped_and_freed_by_uninstall() {
        let filters = Filters::new(FilterLimits {
            max_filters: 3,
            max_per_connection: 2,
            ..FilterLimits::default()
        });
        let a = filters.install(1, blocks()).unwrap();
        filters.install(1, blocks()).unwrap();
        let err = filters.install(1, blocks()).unwrap_err();
        assert_eq!(err.code(), error::LIMIT_EXCEEDED);
        assert!(
            err.message().contains("on this connection"),
            "{}",
            err.message()
        );
        filters.install(2, blocks()).unwrap();
        let err = filters.install(3, blocks()).unwrap_err();
        assert!(err.message().contains("limit of 3"), "{}", err.message());
        assert!(filters.uninstall(a));
        filters.install(1, blocks()).unwrap();
    }

    #[test]
    fn log_filters_share_one_budget_of_addresses_and_topics() {
        let filters = Filters::new(FilterLimits {
            max_criteria: 3,
            ..FilterLimits::default()
        });
        let two = Filter::new().address(vec![
            alloy_primitives::Address::ZERO,
            alloy_primitives::Address::repeat_byte(1),
        ]);
        let logs = |filter: &Filter| FilterState::Logs {
            filter: Box::new(filter.clone()),
            next_block: 1,
        };
        let first = filters.install(0, logs(&two)).unwrap();
        let err = filters.install(0, logs(&two)).unwrap_err();
        assert!(
            err.message().contains("too many addresses and topics"),
            "{}",
            err.message()
        );
        assert!(filters.uninstall(first));
        filters.install(0, logs(&two)).unwrap();
    }

    #[test]
    fn filters_larger_than_geth_allows_are_refused_with_its_messages() {
        let addresses: Vec<_> = (0..=MAX_FILTER_ADDRESSES as u64)
            .map(|i| alloy_primitives::Address::left_padding_from(&i.to_be_bytes()))
            .collect();
        let err = check_filter_size(&Filter::new().address(addresses)).unwrap_err();
        assert_eq!(err.message(), "exceed max addresses");
        let topics: Vec<_> = (0..=MAX_FILTER_TOPIC_VALUES as u64)
            .map(|i| B256::left_padding_from(&i.to_be_bytes()))
            .collect();
        let err = check_filter_size(&Filter::new().event_signature(topics)).unwrap_err();
        assert_eq!(err.message(), "exceed max topics");
        assert!(check_filter_size(&Filter::new()).is_ok());
    }

    #[test]
    fn a_sweep_runs_at_most_once_per_interval() {
        let filters = Filters::new(limits(Duration::from_millis(20)));
        filters.install(0, blocks()).unwrap();
        std::thread::sleep(Duration::from_millis(40));
        // The install above swept; the next sweep is not due, so the expired filter stays
        // stored (though invisible) until it is touched or the interval passes.
        filters.install(0, blocks()).unwrap();
        assert_eq!(filters.registry.lock().filters.len(), 2);
        assert_eq!(filters.len(), 1);
    }

    #[test]
    fn expired_filters_do_not_hold_places_against_the_caps() {
        let filters = Filters::new(FilterLimits {
            timeout: Duration::from_millis(20),
            max_filters: 1,
            ..FilterLimits::default()
        });
        filters.install(0, blocks()).unwrap();
        std::thread::sleep(Duration::from_millis(40));
        filters.install(0, blocks()).unwrap();
        assert_eq!(filters.registry.lock().filters.len(), 1);
    }
}
