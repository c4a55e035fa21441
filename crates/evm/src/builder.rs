//! Block building: the L1-info deposit, protocol deposits, then transactions from a source in
//! fee order, through `OpBlockExecutor`, into a header ready for its state root.

use crate::activity::ActivityInspector;
use crate::{EvmError, OlEvmConfig, config::next_block_base_fee};
use alloy_consensus::{
    EMPTY_OMMER_ROOT_HASH, Header, Sealed, TxReceipt,
    proofs::{calculate_transaction_root, ordered_trie_root_with_encoder},
    transaction::Recovered,
};
use alloy_eips::{eip2718::Encodable2718, eip7685::EMPTY_REQUESTS_HASH};
use alloy_evm::{
    Evm, EvmFactory,
    block::{BlockExecutionError, BlockExecutor, BlockExecutorFactory, BlockValidationError},
};
use alloy_op_evm::OpBlockExecutionCtx;
use alloy_primitives::{Address, B256, Bloom, Bytes};
use ol_primitives::{
    BlockActivity, L1BlockInfo, OpReceiptEnvelope, OpTxEnvelope, TxDeposit,
    addresses::DEPOSITOR_ACCOUNT,
};
use revm::database::{BundleState, DatabaseRef, State, states::bundle_state::BundleRetention};

/// What the sequencer decided a block should contain, apart from pool transactions.
#[derive(Debug, Clone)]
pub struct PayloadAttributes {
    /// Block timestamp.
    pub timestamp: u64,
    /// `prevRandao` (the L1 origin's mix hash on OP chains).
    pub prev_randao: B256,
    /// Receiver of priority fees.
    pub fee_recipient: Address,
    /// Block gas limit.
    pub gas_limit: u64,
    /// The L1 attributes for the L1-info deposit.
    pub l1_info: L1BlockInfo,
    /// User deposits from L1 (only in the first block of an epoch).
    pub deposits: Vec<TxDeposit>,
    /// Parent beacon block root (the L1 origin's, on OP chains).
    pub parent_beacon_block_root: B256,
    /// `extraData` of the block (the Jovian EIP-1559 parameters).
    pub extra_data: Bytes,
}

/// Why a candidate transaction was left out of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// It does not fit in what is left of this block (gas or DA footprint); try it again later.
    DoesNotFit,
    /// The EVM refused it (nonce, balance, fee, ...); it will never be valid on this state.
    Invalid,
}

/// A source of transactions in the order a block should include them.
pub trait BestTransactions {
    /// The next transaction to try, if any.
    fn next_transaction(&mut self) -> Option<Recovered<OpTxEnvelope>>;
    /// Reports that `tx` was left out. The source must not yield more transactions of the same
    /// sender in this block, since their nonces now have a gap.
    fn skip(&mut self, tx: &Recovered<OpTxEnvelope>, reason: SkipReason, detail: &str);
}

/// A block built on a parent, its state root still to be computed from `bundle`.
#[derive(Debug)]
pub struct BuiltBlock {
    /// The header; `state_root` and `withdrawals_root` are zero until the caller sets them.
    pub header: Header,
    /// Transactions in order.
    pub transactions: Vec<OpTxEnvelope>,
    /// Their senders.
    pub senders: Vec<Address>,
    /// Their receipts.
    pub receipts: Vec<OpReceiptEnvelope>,
    /// What each of them touched, for the address index.
    pub activity: BlockActivity,
    /// The state changes of the block.
    pub bundle: BundleState,
}

impl OlEvmConfig {
    /// Builds a block on `parent` over the state `db`: pre-execution system calls, the L1-info
    /// deposit, the protocol deposits, then transactions from `source` while gas lasts.
    pub fn build_block<DB>(
        &self,
        db: DB,
        parent: &Sealed<Header>,
        attributes: &PayloadAttributes,
        source: &mut dyn BestTransactions,
    ) -> Result<BuiltBlock, EvmError>
    where
        DB: DatabaseRef + std::fmt::Debug,
        DB::Error: Send + Sync + 'static,
    {
        let base_fee = next_block_base_fee(parent.inner())?;
        let number = parent.number + 1;
        let env = self.evm_env(
            number,
            attributes.timestamp,
            attributes.fee_recipient,
            attributes.prev_randao,
            attributes.gas_limit,
            base_fee,
        );
        let mut state = State::builder()
            .with_database_ref(db)
            .with_bundle_update()
            .build();
        let evm = self.factory.evm_factory().create_evm_with_inspector(
            &mut state,
            env,
            ActivityInspector::default(),
        );
        let ctx = OpBlockExecutionCtx {
            parent_hash: parent.hash(),
            parent_beacon_block_root: Some(attributes.parent_beacon_block_root),
            extra_data: attributes.extra_data.clone(),
        };
        let mut executor = self.factory.create_executor(evm, ctx);
        executor
            .apply_pre_execution_changes()
            .map_err(|err| EvmError::System(err.to_string()))?;
        // The system calls are no transaction's activity.
        executor.evm_mut().inspector_mut().take();

        let mut transactions = Vec::new();
        let mut senders = Vec::new();
        let mut activity = BlockActivity::default();

        // Protocol transactions first: they must all succeed as transactions (a deposit that
        // reverts still lands with a failed receipt, which is not an error here).
        let l1_info = OpTxEnvelope::Deposit(Sealed::new(attributes.l1_info.deposit_tx()));
        let protocol = std::iter::once((l1_info, DEPOSITOR_ACCOUNT)).chain(
            attributes.deposits.iter().map(|deposit| {
                (
                    OpTxEnvelope::Deposit(Sealed::new(deposit.clone())),
                    deposit.from,
                )
            }),
        );
        for (tx, sender) in protocol {
            executor
                .execute_transaction(Recovered::new_unchecked(&tx, sender))
                .map_err(|err| EvmError::System(err.to_string()))?;
            activity
                .transactions
                .push(executor.evm_mut().inspector_mut().take());
            transactions.push(tx);
            senders.push(sender);
        }

        let mut gas_left = attributes.gas_limit.saturating_sub(
            executor
                .receipts()
                .last()
                .map_or(0, |r| r.cumulative_gas_used()),
        );
        while gas_left >= MIN_TRANSACTION_GAS {
            let Some(tx) = source.next_transaction() else {
                break;
            };
            if tx.inner().is_deposit() {
                source.skip(&tx, SkipReason::Invalid, "deposits only come from L1");
                continue;
            }
            let outcome = executor.execute_transaction_without_commit(tx.as_recovered_ref());
            let touched = executor.evm_mut().inspector_mut().take();
            match outcome {
                Ok(output) => {
                    let gas = executor
                        .commit_transaction(output)
                        .map_err(|err| EvmError::Internal(err.to_string()))?;
                    gas_left = gas_left.saturating_sub(gas.tx_gas_used());
                    activity.transactions.push(touched);
                    senders.push(tx.signer());
                    transactions.push(tx.into_inner());
                }
                Err(BlockExecutionError::Validation(
                    err @ (BlockValidationError::TransactionGasLimitMoreThanAvailableBlockGas {
                        ..
                    }
                    | BlockValidationError::Other(_)),
                )) => source.skip(&tx, SkipReason::DoesNotFit, &err.to_string()),
                Err(BlockExecutionError::Validation(
                    err @ BlockValidationError::InvalidTx { .. },
                )) => {
                    source.skip(&tx, SkipReason::Invalid, &err.to_string());
                }
                Err(err) => return Err(EvmError::Internal(err.to_string())),
            }
        }

        let (_, result) = executor
            .finish()
            .map_err(|err| EvmError::Internal(err.to_string()))?;
        state.merge_transitions(BundleRetention::Reverts);
        let bundle = state.take_bundle();
        let receipts = result.receipts;

        let logs_bloom = receipts.iter().fold(Bloom::ZERO, |mut bloom, receipt| {
            bloom.accrue_bloom(&receipt.bloom());
            bloom
        });
        let header = Header {
            parent_hash: parent.hash(),
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: attributes.fee_recipient,
            state_root: B256::ZERO,
            transactions_root: calculate_transaction_root(&transactions),
            receipts_root: ordered_trie_root_with_encoder(&receipts, |receipt, buf| {
                receipt.encode_2718(buf)
            }),
            logs_bloom,
            difficulty: Default::default(),
            number,
            gas_limit: attributes.gas_limit,
            gas_used: result.gas_used,
            timestamp: attributes.timestamp,
            extra_data: attributes.extra_data.clone(),
            mix_hash: attributes.prev_randao,
            nonce: Default::default(),
            base_fee_per_gas: Some(base_fee),
            withdrawals_root: Some(B256::ZERO),
            blob_gas_used: Some(result.blob_gas_used),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(attributes.parent_beacon_block_root),
            requests_hash: Some(EMPTY_REQUESTS_HASH),
            ..Default::default()
        };
        Ok(BuiltBlock {
            header,
            transactions,
            senders,
            receipts,
            activity,
            bundle,
        })
    }
}

/// No transaction can use less gas than a plain transfer.
const MIN_TRANSACTION_GAS: u64 = 21_000;
