//! Where the sequencer's next block gets its L1 origin, deposits and L1-derived fields.
//!
//! [`DevEpochs`] keeps every block on the rollup's genesis L1 block (a chain without L1: the dev
//! chain). [`L1Epochs`] follows a real L1 as op-node's sequencer does: it moves to the next
//! confirmed L1 block as soon as that block's timestamp allows ([`ol_l1::next_l1_origin`]),
//! carries the new epoch's user deposits in its first block, and keeps producing on the current
//! origin while L1 is slow or unreachable, until the max sequencer drift forces it to stop (past
//! the drift, blocks must be empty, and with no next L1 block known none can be built at all).

use crate::{Chain, ChainError};
use alloy_consensus::{Header, Sealed};
use ol_derive::{Epoch, load_epoch, payload_attributes};
use ol_evm::PayloadAttributes;
use ol_l1::{L1BlockRef, L1Client, L1View, OriginError, next_l1_origin};
use ol_primitives::{L1BlockInfo, addresses::SEQUENCER_FEE_VAULT, genesis::jovian_extra_data};
use parking_lot::Mutex;
use std::future::Future;
use tokio::sync::watch;
use tracing::{info, warn};

/// The attributes of the next block, and whether pool transactions may go into it.
#[derive(Debug, Clone)]
pub struct NextBlock {
    /// The attributes.
    pub attributes: PayloadAttributes,
    /// False past the sequencer drift: derivation only accepts such a block when it is empty.
    pub include_transactions: bool,
}

/// Chooses the L1 side of the sequencer's next block.
pub trait EpochSource: Send + Sync + 'static {
    /// The attributes of the block after `parent` (whose L1 attributes are `parent_info`) at
    /// `timestamp`. An error means no valid block can be built now; the sequencer retries.
    fn next_block(
        &self,
        chain: &Chain,
        parent: &Sealed<Header>,
        parent_info: &L1BlockInfo,
        timestamp: u64,
    ) -> impl Future<Output = Result<NextBlock, ChainError>> + Send;

    /// Whether L1 block `origin` is still on the canonical L1 chain; `None` when L1 does not
    /// answer. An origin that is not makes the sequencer unwind the blocks built on it.
    fn is_canonical(
        &self,
        origin: &ol_primitives::L1Origin,
    ) -> impl Future<Output = Option<bool>> + Send {
        let _ = origin;
        std::future::ready(Some(true))
    }
}

/// Every block on the genesis L1 origin, its sequence number the block number: the dev chain.
#[derive(Debug, Clone, Copy, Default)]
pub struct DevEpochs;

impl DevEpochs {
    /// The next block after `parent` at `timestamp`.
    pub fn next(chain: &Chain, parent: &Sealed<Header>, timestamp: u64) -> NextBlock {
        let system_config = chain.spec().system_config();
        NextBlock {
            attributes: PayloadAttributes {
                timestamp,
                prev_randao: alloy_primitives::B256::ZERO,
                fee_recipient: SEQUENCER_FEE_VAULT,
                gas_limit: chain.gas_limit(),
                l1_info: L1BlockInfo::new(
                    chain.genesis_l1_origin(),
                    parent.number + 1,
                    system_config,
                ),
                deposits: Vec::new(),
                parent_beacon_block_root: alloy_primitives::B256::ZERO,
                extra_data: jovian_extra_data(system_config),
            },
            include_transactions: true,
        }
    }
}

impl EpochSource for DevEpochs {
    async fn next_block(
        &self,
        chain: &Chain,
        parent: &Sealed<Header>,
        _parent_info: &L1BlockInfo,
        timestamp: u64,
    ) -> Result<NextBlock, ChainError> {
        Ok(Self::next(chain, parent, timestamp))
    }
}

/// Epochs from a real L1, confirmed by an [`ol_l1::L1Watcher`].
#[derive(Debug)]
pub struct L1Epochs<C> {
    client: C,
    view: watch::Receiver<L1View>,
    /// The epoch of the last block built, so that staying on it needs no L1 request.
    current: Mutex<Option<Epoch>>,
}

impl<C: L1Client> L1Epochs<C> {
    /// Epochs read through `client`, advancing only to blocks at or below the watcher's
    /// confirmed head in `view`.
    pub const fn new(client: C, view: watch::Receiver<L1View>) -> Self {
        Self {
            client,
            view,
            current: Mutex::new(None),
        }
    }

    async fn epoch(
        &self,
        chain: &Chain,
        hash: alloy_primitives::B256,
    ) -> Result<Epoch, ChainError> {
        if let Some(epoch) = self
            .current
            .lock()
            .as_ref()
            .filter(|e| e.header.hash == hash)
        {
            return Ok(epoch.clone());
        }
        let epoch = load_epoch(&self.client, &chain.spec().rollup, hash).await?;
        *self.current.lock() = Some(epoch.clone());
        Ok(epoch)
    }

    /// The confirmed L1 block after `current`, if L1 has one and answers.
    async fn next_confirmed(&self, current: &L1BlockRef) -> Option<L1BlockRef> {
        let confirmed = self.view.borrow().head?;
        if confirmed.number <= current.number {
            return None;
        }
        match self.client.header_by_number(current.number + 1).await {
            Ok(header) => header.map(|header| header.block_ref()),
            Err(err) => {
                warn!(%err, "cannot read the next L1 block; staying on the current L1 origin");
                None
            }
        }
    }
}

impl<C: L1Client + 'static> EpochSource for L1Epochs<C> {
    async fn is_canonical(&self, origin: &ol_primitives::L1Origin) -> Option<bool> {
        match self.client.header_by_number(origin.number).await {
            Ok(header) => Some(header.is_some_and(|header| header.hash == origin.hash)),
            Err(_) => None,
        }
    }

    async fn next_block(
        &self,
        chain: &Chain,
        _parent: &Sealed<Header>,
        parent_info: &L1BlockInfo,
        timestamp: u64,
    ) -> Result<NextBlock, ChainError> {
        let rollup = &chain.spec().rollup;
        let current = self.epoch(chain, parent_info.origin.hash).await?;
        let next = self.next_confirmed(&current.block_ref()).await;
        let choice = next_l1_origin(
            current.block_ref(),
            next,
            timestamp,
            rollup.max_sequencer_drift,
        )
        .map_err(|err| match err {
            OriginError::NotNext { .. } => ChainError::L1Reorged(err.to_string()),
            other => ChainError::NoOrigin(other.to_string()),
        })?;
        let (epoch, sequence_number) = if choice.advanced {
            match self.epoch(chain, choice.origin.hash).await {
                Ok(epoch) => {
                    info!(
                        l1_origin = choice.origin.number,
                        deposits = epoch.deposits.len(),
                        "new epoch"
                    );
                    (epoch, 0)
                }
                Err(err) if !choice.past_drift => {
                    // The epoch may advance later; the current one is still valid.
                    warn!(%err, "cannot load the next epoch; staying on the current L1 origin");
                    (current, parent_info.sequence_number + 1)
                }
                Err(err) => return Err(err),
            }
        } else {
            (current, parent_info.sequence_number + 1)
        };
        Ok(NextBlock {
            attributes: payload_attributes(rollup, &epoch, sequence_number, timestamp),
            include_transactions: !choice.past_drift,
        })
    }
}
