//! Stored blocks, transactions and receipts into their RPC shapes.

use alloy_consensus::transaction::TransactionInfo;
use alloy_consensus::{Header, ReceiptWithBloom, Sealed, Transaction as _, transaction::Recovered};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, U256};
use alloy_rlp::Encodable;
use alloy_rpc_types_eth::{Block, BlockTransactions, Log, TransactionReceipt};
use ol_evm::{OlEvmConfig, l1_fee::receipt_fields};
use ol_primitives::{L1BlockInfo, OpReceiptEnvelope, OpTxEnvelope};
use ol_storage::BlockBody;
use op_alloy_consensus::transaction::OpDepositInfo;
use op_alloy_consensus::{OpReceipt, transaction::OpTransactionInfo};
use op_alloy_rpc_types::{L1BlockInfo as RpcL1BlockInfo, OpTransactionReceipt, Transaction};

/// An RPC block.
pub(crate) type RpcBlock = Block<Transaction, alloy_rpc_types_eth::Header>;

/// A receipt as the node serves it: op-alloy's OP receipt plus `blockTimestamp`, which anvil
/// and current geth put in receipts as in logs (alloy's receipt type has no such field).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RpcReceipt {
    /// The receipt.
    #[serde(flatten)]
    pub inner: OpTransactionReceipt,
    /// The timestamp of the block that holds it.
    #[serde(rename = "blockTimestamp", with = "alloy_serde::quantity")]
    pub block_timestamp: u64,
}

/// An RPC transaction inside block `header` at `index`.
pub(crate) fn transaction(
    tx: &OpTxEnvelope,
    sender: Address,
    header: &Sealed<Header>,
    index: usize,
    receipt: Option<&OpReceiptEnvelope>,
) -> Transaction {
    let info = TransactionInfo {
        hash: Some(tx.tx_hash()),
        index: Some(index as u64),
        block_hash: Some(header.hash()),
        block_number: Some(header.number),
        base_fee: header.base_fee_per_gas,
        block_timestamp: Some(header.timestamp),
    };
    let deposit_meta = OpDepositInfo {
        deposit_nonce: receipt.and_then(OpReceiptEnvelope::deposit_nonce),
        deposit_receipt_version: receipt.and_then(OpReceiptEnvelope::deposit_receipt_version),
    };
    Transaction::from_transaction(
        Recovered::new_unchecked(tx.clone(), sender),
        OpTransactionInfo::new(info, deposit_meta),
    )
}

/// A transaction still in the pool (no block fields).
pub(crate) fn pending_transaction(tx: Recovered<OpTxEnvelope>) -> Transaction {
    Transaction::from_transaction(tx, OpTransactionInfo::default())
}

/// An RPC block, with full transactions or hashes.
pub(crate) fn block(
    header: &Sealed<Header>,
    body: &BlockBody,
    receipts: &[OpReceiptEnvelope],
    full: bool,
) -> RpcBlock {
    let transactions = if full {
        BlockTransactions::Full(
            body.transactions
                .iter()
                .zip(&body.senders)
                .enumerate()
                .map(|(index, (tx, sender))| {
                    transaction(tx, *sender, header, index, receipts.get(index))
                })
                .collect(),
        )
    } else {
        BlockTransactions::Hashes(
            body.transactions
                .iter()
                .map(OpTxEnvelope::tx_hash)
                .collect(),
        )
    };
    let size = block_size(header, body);
    let rpc_header = alloy_rpc_types_eth::Header {
        hash: header.hash(),
        inner: header.inner().clone(),
        total_difficulty: Some(U256::ZERO),
        size: Some(U256::from(size)),
    };
    Block {
        header: rpc_header,
        uncles: Vec::new(),
        transactions,
        withdrawals: Some(Default::default()),
    }
}

/// A header as `newHeads` subscribers see it (no block size or total difficulty).
pub(crate) fn rpc_header(header: &Sealed<Header>) -> alloy_rpc_types_eth::Header {
    alloy_rpc_types_eth::Header {
        hash: header.hash(),
        inner: header.inner().clone(),
        total_difficulty: None,
        size: None,
    }
}

/// The RLP size of the block (header, transactions, no uncles, empty withdrawals).
fn block_size(header: &Sealed<Header>, body: &BlockBody) -> usize {
    let txs: usize = body
        .transactions
        .iter()
        .map(|tx| tx.encode_2718_len())
        .sum::<usize>()
        + 3;
    header.inner().length() + txs + 2 + 3
}

/// A log of transaction `index` (hash `hash`) of block `header`, at `log_index` in the block.
pub(crate) fn rpc_log(
    inner: alloy_primitives::Log,
    header: &Sealed<Header>,
    hash: alloy_primitives::B256,
    index: usize,
    log_index: u64,
) -> Log {
    Log {
        inner,
        block_hash: Some(header.hash()),
        block_number: Some(header.number),
        block_timestamp: Some(header.timestamp),
        transaction_hash: Some(hash),
        transaction_index: Some(index as u64),
        log_index: Some(log_index),
        removed: false,
    }
}

/// The receipt of transaction `index` of a block, with OP's L1 fee fields.
pub(crate) fn receipt(
    evm: &OlEvmConfig,
    header: &Sealed<Header>,
    body: &BlockBody,
    receipts: &[OpReceiptEnvelope],
    l1_info: &L1BlockInfo,
    index: usize,
) -> Option<RpcReceipt> {
    let tx = body.transactions.get(index)?;
    let sender = *body.senders.get(index)?;
    let stored = receipts.get(index)?.clone();
    let previous_cumulative = index
        .checked_sub(1)
        .and_then(|i| receipts.get(i))
        .map_or(0, |r| r.cumulative_gas_used());
    let gas_used = stored.cumulative_gas_used() - previous_cumulative;
    let first_log_index: usize = receipts[..index].iter().map(|r| r.logs().len()).sum();
    let hash = tx.tx_hash();
    let mut log_index = first_log_index as u64;
    let logs_bloom = *stored.logs_bloom();
    let with_rpc_logs = stored.map_logs(|inner| {
        let log = rpc_log(inner, header, hash, index, log_index);
        log_index += 1;
        log
    });
    let op_receipt = match with_rpc_logs {
        OpReceiptEnvelope::Legacy(r) => OpReceipt::Legacy(r.receipt),
        OpReceiptEnvelope::Eip2930(r) => OpReceipt::Eip2930(r.receipt),
        OpReceiptEnvelope::Eip1559(r) => OpReceipt::Eip1559(r.receipt),
        OpReceiptEnvelope::Eip7702(r) => OpReceipt::Eip7702(r.receipt),
        OpReceiptEnvelope::PostExec(r) => OpReceipt::PostExec(r.receipt),
        OpReceiptEnvelope::Deposit(r) => OpReceipt::Deposit(r.receipt),
    };
    let base_fee = header.base_fee_per_gas.unwrap_or_default();
    let effective_gas_price = if tx.is_deposit() {
        0
    } else {
        tx.effective_tip_per_gas(base_fee).unwrap_or_default() + u128::from(base_fee)
    };
    let contract_address = tx.is_create().then(|| sender.create(tx.nonce()));
    let fields = receipt_fields(l1_info, &tx.encoded_2718(), evm.spec_at(header.timestamp));
    let l1_block_info = if tx.is_deposit() {
        RpcL1BlockInfo::default()
    } else {
        RpcL1BlockInfo {
            l1_gas_price: Some(fields.l1_gas_price),
            l1_gas_used: Some(fields.l1_gas_used),
            l1_fee: Some(fields.l1_fee),
            l1_fee_scalar: None,
            l1_base_fee_scalar: Some(fields.l1_base_fee_scalar),
            l1_blob_base_fee: Some(fields.l1_blob_base_fee),
            l1_blob_base_fee_scalar: Some(fields.l1_blob_base_fee_scalar),
            operator_fee_scalar: Some(fields.operator_fee_scalar),
            operator_fee_constant: Some(fields.operator_fee_constant),
            ..Default::default()
        }
    };
    let inner = OpTransactionReceipt {
        inner: TransactionReceipt {
            inner: ReceiptWithBloom {
                receipt: op_receipt,
                logs_bloom,
            },
            transaction_hash: hash,
            transaction_index: Some(index as u64),
            block_hash: Some(header.hash()),
            block_number: Some(header.number),
            gas_used,
            effective_gas_price,
            blob_gas_used: None,
            blob_gas_price: None,
            from: sender,
            to: tx.to(),
            contract_address,
        },
        l1_block_info,
        op_gas_refund: None,
    };
    Some(RpcReceipt {
        inner,
        block_timestamp: header.timestamp,
    })
}
