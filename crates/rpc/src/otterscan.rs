//! The `ots` namespace: what the Otterscan explorer asks of a node (API level 8, as Erigon, reth
//! and anvil serve it). Address history, sender-and-nonce lookups and contract creators are
//! read from the storage's address index, written in each block's own batch; internal
//! operations, revert data and call traces come from re-executing the transaction behind the
//! trace limits of [`reexec`](crate::reexec).

use crate::{EthRpc, convert, error, reexec::start_with};
use alloy_consensus::{Header, Sealed, Transaction as _, TxReceipt};
use alloy_eips::{BlockId, BlockNumberOrTag, eip1898::LenientBlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_trace::otterscan::{
    BlockDetails, ContractCreator, InternalIssuance, InternalOperation, OperationType, OtsBlock,
    OtsBlockTransactions, OtsReceipt, OtsTransactionReceipt, TraceEntry, TransactionsWithReceipts,
};
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use ol_evm::limits::StepRecording;
use ol_storage::{TxLocation, Walk};
use op_alloy_rpc_types::Transaction;
use revm::inspector::NoOpInspector;
use revm_inspectors::tracing::{
    TracingInspector, TracingInspectorConfig,
    types::{CallKind, CallTraceNode},
};

/// The Otterscan API level served (the one current Otterscan asks for).
pub const OTS_API_LEVEL: u64 = 8;

/// The most transactions one page of `ots_searchTransactions*` or `ots_getBlockTransactions`
/// may ask for.
const MAX_PAGE_SIZE: usize = 1000;

/// The header shape of every block the node serves.
type RpcHeader = alloy_rpc_types_eth::Header;

/// The `ots` namespace.
#[rpc(server, namespace = "ots")]
pub trait OtsApi {
    /// The Otterscan API level this node serves.
    #[method(name = "getApiLevel")]
    fn get_api_level(&self) -> RpcResult<u64>;
    /// A block's header (Otterscan asks for it to check the node is ready).
    #[method(name = "getHeaderByNumber", aliases = ["erigon_getHeaderByNumber"])]
    fn get_header_by_number(&self, number: LenientBlockNumberOrTag)
    -> RpcResult<Option<RpcHeader>>;
    /// Whether `address` has code after `block` (the head when omitted).
    #[method(name = "hasCode")]
    fn has_code(&self, address: Address, block: Option<BlockId>) -> RpcResult<bool>;
    /// The value transfers, creations and self-destructs inside a transaction (not its own
    /// top-level transfer).
    #[method(name = "getInternalOperations")]
    async fn get_internal_operations(&self, hash: B256) -> RpcResult<Vec<InternalOperation>>;
    /// The raw revert data of a failed transaction; `0x` for one that succeeded.
    #[method(name = "getTransactionError")]
    async fn get_transaction_error(&self, hash: B256) -> RpcResult<Bytes>;
    /// Every call frame of a transaction, in execution order, with its depth.
    #[method(name = "traceTransaction")]
    async fn trace_transaction(&self, hash: B256) -> RpcResult<Vec<TraceEntry>>;
    /// A block without its transactions, with its fees and issuance.
    #[method(name = "getBlockDetails")]
    fn get_block_details(
        &self,
        number: LenientBlockNumberOrTag,
    ) -> RpcResult<Option<BlockDetails<RpcHeader>>>;
    /// [`Self::get_block_details`] by hash.
    #[method(name = "getBlockDetailsByHash")]
    fn get_block_details_by_hash(&self, hash: B256) -> RpcResult<Option<BlockDetails<RpcHeader>>>;
    /// One page of a block's transactions with their receipts (logs left out).
    #[method(name = "getBlockTransactions")]
    fn get_block_transactions(
        &self,
        number: LenientBlockNumberOrTag,
        page: usize,
        page_size: usize,
    ) -> RpcResult<Option<OtsBlockTransactions<Transaction, RpcHeader>>>;
    /// The transactions that touched `address` in blocks before `block` (0: from the head),
    /// newest first, whole blocks until `page_size` are found.
    #[method(name = "searchTransactionsBefore")]
    fn search_transactions_before(
        &self,
        address: Address,
        block: LenientBlockNumberOrTag,
        page_size: usize,
    ) -> RpcResult<TransactionsWithReceipts<Transaction>>;
    /// The transactions that touched `address` in blocks after `block` (0: from genesis),
    /// newest first, whole blocks until `page_size` are found.
    #[method(name = "searchTransactionsAfter")]
    fn search_transactions_after(
        &self,
        address: Address,
        block: LenientBlockNumberOrTag,
        page_size: usize,
    ) -> RpcResult<TransactionsWithReceipts<Transaction>>;
    /// The hash of the transaction of `sender` with `nonce`, if it is in the chain.
    #[method(name = "getTransactionBySenderAndNonce")]
    fn get_transaction_by_sender_and_nonce(
        &self,
        sender: Address,
        nonce: U256,
    ) -> RpcResult<Option<B256>>;
    /// The transaction that created the contract at `address` and the account that ran the
    /// creation; `null` for an address that no transaction created.
    #[method(name = "getContractCreator")]
    fn get_contract_creator(&self, address: Address) -> RpcResult<Option<ContractCreator>>;
}

/// A tracer of call frames (no steps), precompile calls left out.
fn frame_tracer() -> TracingInspector {
    TracingInspector::new(TracingInspectorConfig::default_parity())
}

/// Erigon's internal operations (the reference Otterscan was built on): value-carrying `CALL`s
/// inside the transaction, every `CREATE`/`CREATE2` inside it whatever its value, and every
/// self-destruct, in execution order. The transaction's own top-level transfer is not one.
fn internal_operations(nodes: &[CallTraceNode]) -> Vec<InternalOperation> {
    let mut operations = Vec::new();
    for node in nodes.iter().filter(|node| !node.is_precompile()) {
        let trace = &node.trace;
        let operation = |r#type| InternalOperation {
            r#type,
            from: trace.caller,
            to: trace.address,
            value: trace.value,
        };
        if trace.depth > 0 {
            match trace.kind {
                CallKind::Call if !trace.value.is_zero() => {
                    operations.push(operation(OperationType::OpTransfer));
                }
                CallKind::Create => operations.push(operation(OperationType::OpCreate)),
                CallKind::Create2 => operations.push(operation(OperationType::OpCreate2)),
                _ => {}
            }
        }
        if let Some(beneficiary) = trace.selfdestruct_refund_target {
            operations.push(InternalOperation {
                r#type: OperationType::OpSelfDestruct,
                from: trace.selfdestruct_address.unwrap_or(trace.address),
                to: beneficiary,
                value: trace.selfdestruct_transferred_value.unwrap_or_default(),
            });
        }
    }
    operations
}

/// The frames under `nodes[index]` in Erigon's `ots_traceTransaction` order: each frame, then
/// its sub-frames, then its self-destruct (the last thing it ran) one level deeper; `value` is
/// `null` for `STATICCALL` and `DELEGATECALL`, which move none.
fn trace_entries(nodes: &[CallTraceNode], index: usize, entries: &mut Vec<TraceEntry>) {
    let Some(node) = nodes.get(index) else {
        return;
    };
    if node.is_precompile() {
        return;
    }
    let trace = &node.trace;
    let moves_value = !matches!(trace.kind, CallKind::StaticCall | CallKind::DelegateCall);
    entries.push(TraceEntry {
        r#type: trace.kind.to_str().to_owned(),
        depth: trace.depth as u32,
        from: trace.caller,
        to: trace.address,
        value: moves_value.then_some(trace.value),
        input: trace.data.clone(),
        output: trace.output.clone(),
    });
    for &child in &node.children {
        trace_entries(nodes, child, entries);
    }
    if let Some(beneficiary) = trace.selfdestruct_refund_target {
        entries.push(TraceEntry {
            r#type: "SELFDESTRUCT".to_owned(),
            depth: trace.depth as u32 + 1,
            from: trace.selfdestruct_address.unwrap_or(trace.address),
            to: beneficiary,
            value: Some(trace.selfdestruct_transferred_value.unwrap_or_default()),
            input: Bytes::new(),
            output: Bytes::new(),
        });
    }
}

fn check_page_size(page_size: usize) -> RpcResult<()> {
    if page_size == 0 || page_size > MAX_PAGE_SIZE {
        return Err(error::invalid_params(format!(
            "pageSize must be between 1 and {MAX_PAGE_SIZE}, not {page_size}"
        )));
    }
    Ok(())
}

impl EthRpc {
    /// The mined transaction `hash` re-executed with `inspector`, handed to `finish`; an
    /// unknown transaction is an error.
    async fn reexecute_known<I, T>(
        &self,
        hash: B256,
        inspector: I,
        finish: impl FnOnce(ol_evm::Inspected<'_, I, crate::reexec::ReplayDb>) -> T + Send + 'static,
    ) -> RpcResult<T>
    where
        I: revm::Inspector<alloy_op_evm::OpEvmContext<crate::reexec::ReplayDb>> + Send + 'static,
        T: Send + 'static,
    {
        self.reexecute_mined(
            hash,
            start_with(inspector, StepRecording::default()),
            |_, _, inspected| Ok(finish(inspected)),
        )
        .await?
        .ok_or_else(|| error::server("transaction not found"))
    }

    fn block_details(
        &self,
        header: Option<Sealed<Header>>,
    ) -> RpcResult<Option<BlockDetails<RpcHeader>>> {
        let Some(header) = header else {
            return Ok(None);
        };
        let (body, receipts) = self.block_parts(&header)?;
        let base_fee = u128::from(header.base_fee_per_gas.unwrap_or_default());
        let mut total_fees = U256::ZERO;
        let mut previous_cumulative = 0;
        for (tx, receipt) in body.transactions.iter().zip(&receipts) {
            let gas_used = receipt.cumulative_gas_used() - previous_cumulative;
            previous_cumulative = receipt.cumulative_gas_used();
            if tx.is_deposit() {
                continue;
            }
            let price = tx
                .effective_tip_per_gas(base_fee as u64)
                .unwrap_or_default()
                + base_fee;
            total_fees += U256::from(price) * U256::from(gas_used);
        }
        let block = convert::block(&header, &body, &receipts, false);
        // An L2 block issues nothing: there is no block or uncle reward.
        Ok(Some(BlockDetails::new(
            block,
            InternalIssuance::default(),
            total_fees,
        )))
    }

    /// The RPC transactions and Otterscan receipts at `locations`, in that order.
    fn transactions_with_receipts(
        &self,
        locations: &[TxLocation],
        with_logs: bool,
    ) -> RpcResult<(Vec<Transaction>, Vec<OtsTransactionReceipt>)> {
        let mut transactions = Vec::with_capacity(locations.len());
        let mut receipts = Vec::with_capacity(locations.len());
        let mut loaded: Option<(Sealed<Header>, ol_storage::BlockBody, Vec<_>, _)> = None;
        for &(number, index) in locations {
            if loaded
                .as_ref()
                .is_none_or(|(header, ..)| header.number != number)
            {
                let header = self
                    .chain
                    .storage()
                    .header_by_number(number)
                    .map_err(error::internal)?
                    .ok_or_else(|| error::internal("header of an indexed transaction missing"))?;
                let (body, stored) = self.block_parts(&header)?;
                let l1_info = self.chain.l1_info_of(&header).map_err(error::internal)?;
                loaded = Some((header, body, stored, l1_info));
            }
            let Some((header, body, stored, l1_info)) = loaded.as_ref() else {
                continue;
            };
            let index = index as usize;
            let (Some(tx), Some(sender)) = (body.transactions.get(index), body.senders.get(index))
            else {
                return Err(error::internal(
                    "indexed transaction missing from its block",
                ));
            };
            transactions.push(convert::transaction(
                tx,
                *sender,
                header,
                index,
                stored.get(index),
            ));
            let receipt = convert::receipt(self.chain.evm(), header, body, stored, l1_info, index)
                .ok_or_else(|| error::internal("receipt missing"))?;
            receipts.push(ots_receipt(receipt, with_logs));
        }
        Ok((transactions, receipts))
    }

    fn search(
        &self,
        address: Address,
        block: LenientBlockNumberOrTag,
        walk: Walk,
        page_size: usize,
    ) -> RpcResult<TransactionsWithReceipts<Transaction>> {
        check_page_size(page_size)?;
        let head = self.chain.head().number;
        let block = match block.into_inner() {
            BlockNumberOrTag::Number(number) => number,
            BlockNumberOrTag::Earliest => 0,
            tag => {
                self.header(tag)?
                    .ok_or_else(|| error::server("block not found"))?
                    .number
            }
        };
        // Block 0 means "from the newest" for a search back and "from genesis" for one
        // forward: both start past the end they name.
        let (from, from_the_end) = match (walk, block) {
            (Walk::Older, 0) => (head.saturating_add(1), true),
            (Walk::Newer, 0) => (0, true),
            (_, block) => (block, false),
        };
        let page = self
            .chain
            .storage()
            .address_transactions(&address, from, walk, page_size)
            .map_err(error::internal)?;
        let mut locations = page.locations;
        // Newest first either way, as Otterscan lists them.
        if walk == Walk::Newer {
            locations.reverse();
        }
        let (txs, receipts) = self.transactions_with_receipts(&locations, true)?;
        let (first_page, last_page) = match walk {
            Walk::Older => (from_the_end, page.exhausted),
            Walk::Newer => (page.exhausted, from_the_end),
        };
        Ok(TransactionsWithReceipts {
            txs,
            receipts,
            first_page,
            last_page,
        })
    }
}

/// An RPC receipt in Otterscan's slimmer shape, logs and bloom left out unless asked for.
fn ots_receipt(receipt: convert::RpcReceipt, with_logs: bool) -> OtsTransactionReceipt {
    let timestamp = receipt.block_timestamp;
    let receipt = receipt.inner.inner.map_inner(|inner| {
        let tx_type = inner.receipt.tx_type() as u8;
        OtsReceipt {
            status: inner.receipt.status(),
            cumulative_gas_used: inner.receipt.cumulative_gas_used(),
            logs: with_logs.then(|| inner.receipt.logs().to_vec()),
            logs_bloom: with_logs.then_some(inner.logs_bloom),
            r#type: tx_type,
        }
    });
    OtsTransactionReceipt {
        receipt,
        timestamp: Some(timestamp),
    }
}

#[jsonrpsee::core::async_trait]
impl OtsApiServer for EthRpc {
    fn get_api_level(&self) -> RpcResult<u64> {
        Ok(OTS_API_LEVEL)
    }

    fn get_header_by_number(
        &self,
        number: LenientBlockNumberOrTag,
    ) -> RpcResult<Option<RpcHeader>> {
        Ok(self
            .header(number.into())?
            .map(|header| convert::rpc_header(&header)))
    }

    fn has_code(&self, address: Address, block: Option<BlockId>) -> RpcResult<bool> {
        let header = self.state_header(block)?;
        let account = self
            .chain
            .storage()
            .account_at(&address, header.number)
            .map_err(error::internal)?;
        Ok(account.is_some_and(|account| account.code_hash != revm::primitives::KECCAK_EMPTY))
    }

    async fn get_internal_operations(&self, hash: B256) -> RpcResult<Vec<InternalOperation>> {
        self.reexecute_known(hash, frame_tracer(), |inspected| {
            internal_operations(
                &std::mem::take(inspected.inspector)
                    .into_traces()
                    .into_nodes(),
            )
        })
        .await
    }

    async fn get_transaction_error(&self, hash: B256) -> RpcResult<Bytes> {
        self.reexecute_known(hash, NoOpInspector, |inspected| {
            match &inspected.result.result {
                revm::context::result::ExecutionResult::Revert { output, .. } => output.clone(),
                _ => Bytes::new(),
            }
        })
        .await
    }

    async fn trace_transaction(&self, hash: B256) -> RpcResult<Vec<TraceEntry>> {
        self.reexecute_known(hash, frame_tracer(), |inspected| {
            let nodes = std::mem::take(inspected.inspector)
                .into_traces()
                .into_nodes();
            let mut entries = Vec::with_capacity(nodes.len());
            if !nodes.is_empty() {
                trace_entries(&nodes, 0, &mut entries);
            }
            entries
        })
        .await
    }

    fn get_block_details(
        &self,
        number: LenientBlockNumberOrTag,
    ) -> RpcResult<Option<BlockDetails<RpcHeader>>> {
        self.block_details(self.header(number.into())?)
    }

    fn get_block_details_by_hash(&self, hash: B256) -> RpcResult<Option<BlockDetails<RpcHeader>>> {
        self.block_details(self.header_by_id(BlockId::from(hash))?)
    }

    fn get_block_transactions(
        &self,
        number: LenientBlockNumberOrTag,
        page: usize,
        page_size: usize,
    ) -> RpcResult<Option<OtsBlockTransactions<Transaction, RpcHeader>>> {
        check_page_size(page_size)?;
        let Some(header) = self.header(number.into())? else {
            return Ok(None);
        };
        let (body, stored) = self.block_parts(&header)?;
        let count = body.transactions.len();
        // Page 0 is the first `page_size` transactions of the block, in block order.
        let start = page.saturating_mul(page_size).min(count);
        let end = start.saturating_add(page_size).min(count);
        let locations: Vec<TxLocation> = (start..end)
            .map(|index| (header.number, index as u32))
            .collect();
        let (transactions, receipts) = self.transactions_with_receipts(&locations, false)?;
        let mut block = convert::block(&header, &body, &stored, false);
        block.transactions = alloy_rpc_types_eth::BlockTransactions::Full(transactions);
        Ok(Some(OtsBlockTransactions {
            fullblock: OtsBlock {
                block,
                transaction_count: count,
            },
            receipts,
        }))
    }

    fn search_transactions_before(
        &self,
        address: Address,
        block: LenientBlockNumberOrTag,
        page_size: usize,
    ) -> RpcResult<TransactionsWithReceipts<Transaction>> {
        self.search(address, block, Walk::Older, page_size)
    }

    fn search_transactions_after(
        &self,
        address: Address,
        block: LenientBlockNumberOrTag,
        page_size: usize,
    ) -> RpcResult<TransactionsWithReceipts<Transaction>> {
        self.search(address, block, Walk::Newer, page_size)
    }

    fn get_transaction_by_sender_and_nonce(
        &self,
        sender: Address,
        nonce: U256,
    ) -> RpcResult<Option<B256>> {
        // A nonce past u64 was never used (EIP-2681).
        let Ok(nonce) = u64::try_from(nonce) else {
            return Ok(None);
        };
        let storage = self.chain.storage();
        let Some((number, index)) = storage
            .transaction_by_sender_nonce(&sender, nonce)
            .map_err(error::internal)?
        else {
            return Ok(None);
        };
        let body = storage
            .body(number)
            .map_err(error::internal)?
            .ok_or_else(|| error::internal("block body missing"))?;
        Ok(body
            .transactions
            .get(index as usize)
            .map(ol_primitives::OpTxEnvelope::tx_hash))
    }

    fn get_contract_creator(&self, address: Address) -> RpcResult<Option<ContractCreator>> {
        // A contract that self-destructed has no creator any more, as Erigon and reth answer.
        if !self.has_code(address, None)? {
            return Ok(None);
        }
        let storage = self.chain.storage();
        let Some(((number, index), creator)) = storage
            .contract_creation(&address)
            .map_err(error::internal)?
        else {
            return Ok(None);
        };
        let body = storage
            .body(number)
            .map_err(error::internal)?
            .ok_or_else(|| error::internal("block body missing"))?;
        Ok(body
            .transactions
            .get(index as usize)
            .map(|tx| ContractCreator {
                hash: tx.tx_hash(),
                creator,
            }))
    }
}
