//! The shared view of the canonical chain.

use crate::{ChainError, chain_thread::ChainThread};
use alloy_consensus::{Header, Sealed, Transaction};
use alloy_primitives::{Address, B256, U256};
use ol_evm::{OlEvmConfig, OpSpecId};
use ol_primitives::{
    ChainSpec, L1BlockInfo, L1Origin, OpReceiptEnvelope, OpTxEnvelope, addresses::L1_BLOCK,
};
use ol_storage::{DerivedHead, Storage};
use ol_txpool::PoolState;
use parking_lot::RwLock;
use std::sync::Arc;
use tokio::sync::broadcast;

/// A block just committed, as subscribers see it.
#[derive(Debug, Clone)]
pub struct NewBlock {
    /// The sealed header.
    pub header: Sealed<Header>,
    /// Transactions in order.
    pub transactions: Vec<OpTxEnvelope>,
    /// Their receipts.
    pub receipts: Vec<OpReceiptEnvelope>,
}

/// Where derivation and the L1 watcher stand, for `optimism_syncStatus` and the `safe` and
/// `finalized` block tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncHeads {
    /// Whether an L1 is connected. Without one (dev mode) every block counts as safe and
    /// finalized as soon as it is sealed.
    pub l1_connected: bool,
    /// The newest L2 block derivation confirmed from L1 + DA.
    pub safe: Option<DerivedHead>,
    /// The newest safe L2 block whose L1 data is finalized on L1.
    pub finalized: Option<DerivedHead>,
    /// The L1 block derivation is reading.
    pub current_l1: Option<ol_l1::L1BlockRef>,
    /// The L1 head.
    pub head_l1: Option<ol_l1::L1BlockRef>,
    /// The L1 `safe` block.
    pub safe_l1: Option<ol_l1::L1BlockRef>,
    /// The L1 `finalized` block.
    pub finalized_l1: Option<ol_l1::L1BlockRef>,
}

#[derive(Debug)]
struct Head {
    header: Sealed<Header>,
    l1_info: L1BlockInfo,
}

/// Storage, spec, EVM configuration and the current head, shared by RPC, pool and sequencer.
#[derive(Debug)]
pub struct Chain {
    storage: Storage,
    spec: ChainSpec,
    evm: OlEvmConfig,
    head: RwLock<Head>,
    sync: RwLock<SyncHeads>,
    safe_number: tokio::sync::watch::Sender<u64>,
    /// How many unwinds the chain has been through (derivation resets on a change).
    unwinds: tokio::sync::watch::Sender<u64>,
    /// The targets of the latest unwinds, by their count, for scanners that must go back.
    unwind_targets: parking_lot::Mutex<std::collections::VecDeque<(u64, u64)>>,
    /// Held while a block is built and committed.
    pub(crate) writer: parking_lot::Mutex<()>,
    gas_limit: u64,
    events: broadcast::Sender<Arc<NewBlock>>,
    pending_txs: broadcast::Sender<B256>,
    /// Where blocks are built, executed and committed.
    thread: ChainThread,
}

/// How many unwind targets [`Chain::lowest_unwind_since`] remembers.
const UNWINDS_KEPT: usize = 64;

/// How many pending-transaction announcements a slow subscriber may fall behind by before it
/// misses some.
const PENDING_TX_CHANNEL_CAPACITY: usize = 4096;

impl Chain {
    /// Opens the chain view over initialised storage. `gas_limit` overrides the system config's
    /// block gas limit when given.
    pub fn new(storage: Storage, gas_limit: Option<u64>) -> Result<Arc<Self>, ChainError> {
        let spec = storage.chain_spec()?;
        let evm = OlEvmConfig::new(&spec);
        let header = storage.head_header()?;
        let l1_info = l1_info_of(&storage, &spec, &header)?;
        let gas_limit = gas_limit.unwrap_or_else(|| spec.system_config().gas_limit);
        let sync = SyncHeads {
            safe: storage.safe_head()?,
            finalized: storage.finalized_head()?,
            ..SyncHeads::default()
        };
        let (events, _) = broadcast::channel(256);
        let (pending_txs, _) = broadcast::channel(PENDING_TX_CHANNEL_CAPACITY);
        Ok(Arc::new(Self {
            storage,
            spec,
            evm,
            head: RwLock::new(Head { header, l1_info }),
            safe_number: tokio::sync::watch::Sender::new(
                sync.safe.map_or(0, |head| head.l2_number),
            ),
            sync: RwLock::new(sync),
            unwinds: tokio::sync::watch::Sender::new(0),
            unwind_targets: parking_lot::Mutex::default(),
            writer: parking_lot::Mutex::new(()),
            gas_limit,
            events,
            pending_txs,
            thread: ChainThread::start().map_err(ChainError::ThreadStart)?,
        }))
    }

    /// Runs `work` on the chain's own thread (block building, derivation execution, commits)
    /// and waits for it: never in tokio's blocking pool, where RPC work could delay it.
    pub async fn on_chain_thread<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ChainError> {
        self.thread.run(work).await
    }

    /// The storage.
    pub const fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The chain spec.
    pub const fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// The EVM configuration.
    pub const fn evm(&self) -> &OlEvmConfig {
        &self.evm
    }

    /// The chain id.
    pub const fn chain_id(&self) -> u64 {
        self.spec.rollup.l2_chain_id
    }

    /// The gas limit of blocks this node builds.
    pub const fn gas_limit(&self) -> u64 {
        self.gas_limit
    }

    /// The head header.
    pub fn head(&self) -> Sealed<Header> {
        self.head.read().header.clone()
    }

    /// The L1 attributes of the head block.
    pub fn head_l1_info(&self) -> L1BlockInfo {
        self.head.read().l1_info.clone()
    }

    /// Where derivation and L1 stand.
    pub fn sync_heads(&self) -> SyncHeads {
        self.sync.read().clone()
    }

    /// The number of the `safe` block: the derived safe head with an L1, the head without.
    pub fn safe_number(&self) -> u64 {
        let sync = self.sync.read();
        if sync.l1_connected {
            sync.safe.map_or(0, |head| head.l2_number)
        } else {
            self.head.read().header.number
        }
    }

    /// The number of the `finalized` block: the finalized head with an L1, the head without.
    pub fn finalized_number(&self) -> u64 {
        let sync = self.sync.read();
        if sync.l1_connected {
            sync.finalized.map_or(0, |head| head.l2_number)
        } else {
            self.head.read().header.number
        }
    }

    /// Updates the L1 side of [`SyncHeads`] (the watcher's and derivation's view).
    pub fn update_sync(&self, update: impl FnOnce(&mut SyncHeads)) {
        update(&mut self.sync.write());
    }

    /// Records a new safe head, on disk first.
    pub fn set_safe_head(&self, head: DerivedHead) -> Result<(), ChainError> {
        self.storage.set_safe_head(&head)?;
        self.safe_head_committed(head);
        Ok(())
    }

    /// Publishes a safe head already on disk.
    pub(crate) fn safe_head_committed(&self, head: DerivedHead) {
        self.sync.write().safe = Some(head);
        self.safe_number.send_replace(head.l2_number);
        metrics::gauge!("chain_safe_number").set(head.l2_number as f64);
        set_ref("l2_safe", head.l2_number);
    }

    /// Follows the safe head's number (what a proposer may post outputs for).
    pub fn subscribe_safe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.safe_number.subscribe()
    }

    /// Follows the number of unwinds: a change means blocks left the chain under whoever
    /// held a view of it.
    pub fn subscribe_unwinds(&self) -> tokio::sync::watch::Receiver<u64> {
        self.unwinds.subscribe()
    }

    /// The number of unwinds so far; pass it to [`Self::lowest_unwind_since`] later.
    pub fn unwind_count(&self) -> u64 {
        *self.unwinds.borrow()
    }

    /// The lowest block any unwind after the first `count` went back to, `None` when there
    /// was none: a scanner that read blocks above it must read again from there.
    pub fn lowest_unwind_since(&self, count: u64) -> Option<u64> {
        let targets = self.unwind_targets.lock();
        let lowest = targets
            .iter()
            .filter(|(number, _)| *number > count)
            .map(|(_, target)| *target)
            .min();
        // Forgotten unwinds could have gone anywhere: all the way back.
        let forgotten = targets
            .front()
            .is_some_and(|(number, _)| *number > count + 1);
        if forgotten { Some(0) } else { lowest }
    }

    /// Reloads the head and the derived heads after the storage unwound, and announces it.
    pub(crate) fn unwound(&self) -> Result<(), ChainError> {
        let header = self.storage.head_header()?;
        let l1_info = l1_info_of(&self.storage, &self.spec, &header)?;
        metrics::gauge!("chain_head_number").set(header.number as f64);
        *self.head.write() = Head { header, l1_info };
        let safe = self.storage.safe_head()?;
        let finalized = self.storage.finalized_head()?;
        {
            let mut sync = self.sync.write();
            sync.safe = safe;
            sync.finalized = finalized;
        }
        let safe_number = safe.map_or(0, |head| head.l2_number);
        self.safe_number.send_replace(safe_number);
        metrics::gauge!("chain_safe_number").set(safe_number as f64);
        let target = self.head.read().header.number;
        set_ref("l2_unsafe", target);
        set_ref("l2_safe", safe_number);
        self.unwinds.send_modify(|count| {
            *count += 1;
            let mut targets = self.unwind_targets.lock();
            if targets.len() == UNWINDS_KEPT {
                targets.pop_front();
            }
            targets.push_back((*count, target));
        });
        Ok(())
    }

    /// Records a new finalized head, on disk first.
    pub fn set_finalized_head(&self, head: DerivedHead) -> Result<(), ChainError> {
        self.storage.set_finalized_head(&head)?;
        self.sync.write().finalized = Some(head);
        metrics::gauge!("chain_finalized_number").set(head.l2_number as f64);
        set_ref("l2_finalized", head.l2_number);
        Ok(())
    }

    /// Subscribes to new blocks.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<NewBlock>> {
        self.events.subscribe()
    }

    /// Subscribes to the hashes of transactions the pool accepts (`newPendingTransactions`).
    pub fn subscribe_pending_transactions(&self) -> broadcast::Receiver<B256> {
        self.pending_txs.subscribe()
    }

    /// Announces a transaction the pool just accepted to the pending-transaction subscribers.
    pub fn announce_pending_transaction(&self, hash: B256) {
        // Nobody listening is fine.
        let _ = self.pending_txs.send(hash);
    }

    /// Moves the head after a commit and announces the block.
    pub(crate) fn advance(&self, block: NewBlock, l1_info: L1BlockInfo) {
        set_ref("l2_unsafe", block.header.number);
        *self.head.write() = Head {
            header: block.header.clone(),
            l1_info,
        };
        // Nobody listening is fine.
        let _ = self.events.send(Arc::new(block));
    }

    /// The L1 attributes of any stored block.
    pub fn l1_info_of(&self, header: &Sealed<Header>) -> Result<L1BlockInfo, ChainError> {
        l1_info_of(&self.storage, &self.spec, header)
    }

    /// The L1 origin a block at genesis refers to: the rollup's genesis L1 block. Until an L1
    /// is connected (dev mode), every block stays on it.
    pub fn genesis_l1_origin(&self) -> L1Origin {
        genesis_origin(&self.spec)
    }
}

/// op-node's `refs_number{layer="l2",type}` gauge: a number that goes down means a reorg.
fn set_ref(kind: &'static str, number: u64) {
    metrics::gauge!("refs_number", "layer" => "l2", "type" => kind).set(number as f64);
}

fn genesis_origin(spec: &ChainSpec) -> L1Origin {
    L1Origin {
        number: spec.rollup.genesis.l1.number,
        hash: spec.rollup.genesis.l1.hash,
        timestamp: spec.rollup.genesis.l2_time,
        base_fee: DEV_L1_BASE_FEE,
        blob_base_fee: 1,
    }
}

/// The L1 base fee the dev chain's fixed L1 origin reports (1 gwei), so that L1 data fees are
/// real and visible in receipts.
const DEV_L1_BASE_FEE: u128 = 1_000_000_000;

/// Decodes the L1 attributes from a block's first transaction; the genesis block has none and
/// reports the genesis origin.
pub(crate) fn l1_info_of(
    storage: &Storage,
    spec: &ChainSpec,
    header: &Sealed<Header>,
) -> Result<L1BlockInfo, ChainError> {
    if header.number == 0 {
        return Ok(L1BlockInfo::new(
            genesis_origin(spec),
            0,
            spec.system_config(),
        ));
    }
    let body = storage
        .body(header.number)?
        .ok_or(ChainError::MissingL1Info(header.number))?;
    l1_info_in(header.number, &body.transactions)
}

/// Decodes the L1 attributes from the first of block `number`'s transactions, which must be the
/// L1-info deposit.
pub(crate) fn l1_info_in(
    number: u64,
    transactions: &[OpTxEnvelope],
) -> Result<L1BlockInfo, ChainError> {
    let first = transactions
        .first()
        .ok_or(ChainError::MissingL1Info(number))?;
    if !first.is_deposit() || first.to() != Some(L1_BLOCK) {
        return Err(ChainError::MissingL1Info(number));
    }
    L1BlockInfo::decode_jovian(first.input()).map_err(|_| ChainError::MissingL1Info(number))
}

impl PoolState for Chain {
    fn account(&self, address: &Address) -> Result<(u64, U256), String> {
        let account = self
            .storage
            .account(address)
            .map_err(|err| err.to_string())?;
        Ok(account.map_or((0, U256::ZERO), |account| (account.nonce, account.balance)))
    }

    fn l1_block_info(&self) -> Result<L1BlockInfo, String> {
        Ok(self.head_l1_info())
    }

    fn spec(&self) -> OpSpecId {
        self.evm
            .spec_at(self.head().timestamp + self.spec.rollup.block_time)
    }

    fn block_gas_limit(&self) -> u64 {
        self.gas_limit
    }

    fn min_base_fee(&self) -> u64 {
        self.spec.system_config().min_base_fee
    }
}
