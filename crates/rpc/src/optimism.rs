//! The `optimism` namespace of op-node's rollup RPC, served by the same server as `eth`:
//! `optimism_outputAtBlock`, `optimism_syncStatus`, `optimism_rollupConfig`, `optimism_version`,
//! in op-node's JSON shapes (block refs with `parentHash` and `l1origin`, sync status fields in
//! snake case).
//!
//! With an L1, the safe and finalized L2 heads are what derivation confirmed and the L1 refs are
//! the watcher's; an L1 ref not known yet reads as the zero ref, as op-node prints it. Without
//! an L1 (dev mode), the safe and finalized L2 heads are the unsafe head, and the L1 refs are the
//! head's L1 origin, whose parent hash is not known and reads as zero.

use crate::{EthRpc, error};
use alloy_consensus::{Header, Sealed};
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::B256;
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use ol_primitives::{RollupConfig, output_of_header};
use serde::Serialize;

/// An L1 block reference as op-node prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct L1BlockRefJson {
    /// Block hash.
    pub hash: B256,
    /// Block number.
    pub number: u64,
    /// Parent hash (zero when unknown).
    pub parent_hash: B256,
    /// Timestamp.
    pub timestamp: u64,
}

/// A block id: hash and number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BlockIdJson {
    /// Block hash.
    pub hash: B256,
    /// Block number.
    pub number: u64,
}

/// An L2 block reference as op-node prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct L2BlockRefJson {
    /// Block hash.
    pub hash: B256,
    /// Block number.
    pub number: u64,
    /// Parent hash.
    pub parent_hash: B256,
    /// Timestamp.
    pub timestamp: u64,
    /// The L1 origin of the block's epoch.
    #[serde(rename = "l1origin")]
    pub l1_origin: BlockIdJson,
    /// Position of the block in its epoch.
    pub sequence_number: u64,
}

/// op-node's `SyncStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncStatus {
    /// The L1 block derivation has reached.
    pub current_l1: L1BlockRefJson,
    /// The finalized L1 block when `current_l1` was reached.
    pub current_l1_finalized: L1BlockRefJson,
    /// The L1 head.
    pub head_l1: L1BlockRefJson,
    /// The safe L1 block.
    pub safe_l1: L1BlockRefJson,
    /// The finalized L1 block.
    pub finalized_l1: L1BlockRefJson,
    /// The unsafe L2 head.
    pub unsafe_l2: L2BlockRefJson,
    /// The safe L2 head.
    pub safe_l2: L2BlockRefJson,
    /// The finalized L2 head.
    pub finalized_l2: L2BlockRefJson,
    /// The pending safe L2 head.
    pub pending_safe_l2: L2BlockRefJson,
}

/// op-node's `OutputResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputResponse {
    /// Output root version.
    pub version: B256,
    /// The output root.
    pub output_root: B256,
    /// The block it is the output of.
    pub block_ref: L2BlockRefJson,
    /// Storage root of the L2ToL1MessagePasser.
    pub withdrawal_storage_root: B256,
    /// State root of the block.
    pub state_root: B256,
    /// The node's sync status.
    pub sync_status: SyncStatus,
}

/// The `optimism` namespace.
#[rpc(server, namespace = "optimism")]
pub trait OptimismApi {
    /// The output root of an L2 block.
    #[method(name = "outputAtBlock")]
    fn output_at_block(&self, number: BlockNumberOrTag) -> RpcResult<OutputResponse>;
    /// L1 and L2 heads as derivation sees them.
    #[method(name = "syncStatus")]
    fn sync_status(&self) -> RpcResult<SyncStatus>;
    /// The rollup configuration (op-node's `rollup.json`).
    #[method(name = "rollupConfig")]
    fn rollup_config(&self) -> RpcResult<RollupConfig>;
    /// The node's version.
    #[method(name = "version")]
    fn version(&self) -> RpcResult<String>;
}

impl EthRpc {
    fn l2_block_ref(&self, header: &Sealed<Header>) -> RpcResult<L2BlockRefJson> {
        let info = self.chain.l1_info_of(header).map_err(error::internal)?;
        Ok(L2BlockRefJson {
            hash: header.hash(),
            number: header.number,
            parent_hash: header.parent_hash,
            timestamp: header.timestamp,
            l1_origin: BlockIdJson {
                hash: info.origin.hash,
                number: info.origin.number,
            },
            sequence_number: info.sequence_number,
        })
    }

    fn l2_block_ref_at(&self, number: u64) -> RpcResult<L2BlockRefJson> {
        let header = self
            .chain
            .storage()
            .header_by_number(number)
            .map_err(error::internal)?
            .ok_or_else(|| error::internal(format!("block {number} is missing")))?;
        self.l2_block_ref(&header)
    }

    fn current_sync_status(&self) -> RpcResult<SyncStatus> {
        let head = self.chain.head();
        let unsafe_l2 = self.l2_block_ref(&head)?;
        let sync = self.chain.sync_heads();
        if sync.l1_connected {
            let l1 = |block: Option<ol_l1::L1BlockRef>| {
                block.map_or(
                    L1BlockRefJson {
                        hash: B256::ZERO,
                        number: 0,
                        parent_hash: B256::ZERO,
                        timestamp: 0,
                    },
                    |block| L1BlockRefJson {
                        hash: block.hash,
                        number: block.number,
                        parent_hash: block.parent_hash,
                        timestamp: block.timestamp,
                    },
                )
            };
            let safe_l2 = self.l2_block_ref_at(self.chain.safe_number())?;
            return Ok(SyncStatus {
                current_l1: l1(sync.current_l1),
                current_l1_finalized: l1(sync.finalized_l1),
                head_l1: l1(sync.head_l1),
                safe_l1: l1(sync.safe_l1),
                finalized_l1: l1(sync.finalized_l1),
                unsafe_l2,
                safe_l2,
                finalized_l2: self.l2_block_ref_at(self.chain.finalized_number())?,
                pending_safe_l2: safe_l2,
            });
        }
        let origin = self.chain.head_l1_info().origin;
        let l1 = L1BlockRefJson {
            hash: origin.hash,
            number: origin.number,
            parent_hash: B256::ZERO,
            timestamp: origin.timestamp,
        };
        Ok(SyncStatus {
            current_l1: l1,
            current_l1_finalized: l1,
            head_l1: l1,
            safe_l1: l1,
            finalized_l1: l1,
            unsafe_l2,
            safe_l2: unsafe_l2,
            finalized_l2: unsafe_l2,
            pending_safe_l2: unsafe_l2,
        })
    }
}

impl OptimismApiServer for EthRpc {
    fn output_at_block(&self, number: BlockNumberOrTag) -> RpcResult<OutputResponse> {
        let header = self
            .header_by_id(BlockId::Number(number))?
            .ok_or_else(|| error::server("block not found"))?;
        let output = output_of_header(&header)
            .ok_or_else(|| error::internal("a post-Isthmus header without withdrawalsRoot"))?;
        Ok(OutputResponse {
            version: output.version,
            output_root: output.output_root,
            block_ref: self.l2_block_ref(&header)?,
            withdrawal_storage_root: output.message_passer_storage_root,
            state_root: output.state_root,
            sync_status: self.current_sync_status()?,
        })
    }

    fn sync_status(&self) -> RpcResult<SyncStatus> {
        self.current_sync_status()
    }

    fn rollup_config(&self) -> RpcResult<RollupConfig> {
        Ok(self.chain.spec().rollup.clone())
    }

    fn version(&self) -> RpcResult<String> {
        Ok(concat!("openledger/v", env!("CARGO_PKG_VERSION")).to_owned())
    }
}
