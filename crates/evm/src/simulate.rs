//! `eth_simulateV1` (execution-apis, as geth and reth serve it): a sequence of blocks of calls
//! run on top of a block's state, each block with its own block and state overrides, every call
//! seeing the state the earlier ones left. With `validation`, calls are checked as transactions
//! would be (nonce, balance for fees, base fee); without, nonces are not checked and a call
//! without a gas price pays nothing. With `traceTransfers`, every value transfer appears among
//! the call's logs as an ERC-20 `Transfer` from `0xEeeee…EEeE`.

use crate::{
    EvmError, OlEvmConfig, OpSpecId,
    call::{CallError, call_input, move_precompiles, transact_error},
    config::next_block_base_fee,
    limits::Deadline,
};
use alloy_consensus::{
    EMPTY_OMMER_ROOT_HASH, Header, Sealable, Sealed, Signed, TxEip1559, TxEip2930, TxLegacy,
    proofs::{calculate_transaction_root, ordered_trie_root_with_encoder},
    transaction::Recovered,
};
use alloy_eips::{eip2718::Encodable2718, eip7685::EMPTY_REQUESTS_HASH};
use alloy_evm::{
    Evm, EvmEnv, EvmFactory,
    overrides::{StateOverrideError, apply_block_overrides, apply_state_overrides},
};
use alloy_primitives::{B256, Bloom, Signature, U256};
use alloy_rpc_types_eth::{TransactionRequest, simulate::SimBlock};
use ol_primitives::{OpReceiptEnvelope, OpTxEnvelope};
use op_alloy_consensus::OpTxType;
use op_revm::OpHaltReason;
use revm::{
    DatabaseCommit,
    context::{TxEnv, result::ExecutionResult},
    database::{Cache, CacheDB, DatabaseRef},
};
use revm_inspectors::transfer::TransferInspector;
use std::time::Instant;

/// The most blocks one simulation may hold, gaps filled in included (the spec's limit).
pub const MAX_SIMULATED_BLOCKS: u64 = 256;

/// How far apart simulated blocks are when no timestamp is given (the spec's default).
const DEFAULT_BLOCK_SPACING_SECS: u64 = 12;

/// The roots of a simulated block's state: the base state with every change the simulation
/// has made so far (`overlay`, what the simulation's cache holds over the base).
pub trait SimulatedRoots {
    /// The state root and the L2ToL1MessagePasser's storage root (the header's withdrawals
    /// root), or `None` when they cannot be computed on this base; the block's state root is
    /// then zero.
    fn roots(&self, overlay: &Cache) -> Option<(B256, B256)>;
}

/// How a simulation runs.
#[derive(Debug, Clone, Copy)]
pub struct SimulationOptions {
    /// Check calls as transactions (nonce, fees, base fee).
    pub validation: bool,
    /// Report value transfers as logs.
    pub trace_transfers: bool,
    /// The most gas all calls together may use (`--rpc.gascap`).
    pub gas_cap: u64,
    /// When the whole simulation must have finished.
    pub deadline: Option<Instant>,
}

/// Why a simulation was refused as a whole (a call that reverts or halts is a result, not an
/// error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimulateError {
    /// A block number does not follow its parent's.
    #[error("block numbers must be in order: {number} <= {parent}")]
    BlockNumberOrder {
        /// The block's number.
        number: u64,
        /// Its parent's.
        parent: u64,
    },
    /// A timestamp does not follow its parent's.
    #[error("block timestamps must be in order: {timestamp} <= {parent}")]
    TimestampOrder {
        /// The block's timestamp.
        timestamp: u64,
        /// Its parent's.
        parent: u64,
    },
    /// More blocks than [`MAX_SIMULATED_BLOCKS`], or more gas than the cap.
    #[error("{0}")]
    ClientLimit(String),
    /// A call asks for more gas than its block has left.
    #[error("block gas limit reached: call {call} of block {block} asks for {asked}, {left} left")]
    BlockGasLimit {
        /// The block.
        block: u64,
        /// The call's index in it.
        call: usize,
        /// Gas asked for.
        asked: u64,
        /// Gas left in the block.
        left: u64,
    },
    /// A call is not a valid transaction on the state it meets (nonce, funds, fee, ...), or an
    /// override cannot be applied.
    #[error("{0}")]
    Call(CallError),
    /// The parent block cannot be built on.
    #[error("{0}")]
    Parent(String),
}

impl SimulateError {
    /// The JSON-RPC code the execution-apis give this error.
    pub fn code(&self) -> i32 {
        match self {
            Self::BlockNumberOrder { .. } => -38020,
            Self::TimestampOrder { .. } => -38021,
            Self::ClientLimit(_) => -38026,
            Self::BlockGasLimit { .. } => -38015,
            Self::Call(CallError::Invalid(message)) => invalid_code(message),
            Self::Call(CallError::BadOverride(_)) => -32602,
            Self::Call(CallError::Timeout(_)) => -32016,
            Self::Call(_) | Self::Parent(_) => -32603,
        }
    }
}

/// The codes of invalid transactions, by geth's messages.
fn invalid_code(message: &str) -> i32 {
    let message = message.to_ascii_lowercase();
    if message.contains("nonce too low") || message.contains("nonce") && message.contains("lower") {
        -38010
    } else if message.contains("nonce") {
        -38011
    } else if message.contains("base fee") || message.contains("basefee") {
        -38012
    } else if message.contains("intrinsic gas") {
        -38013
    } else if message.contains("insufficient funds") || message.contains("lackoffund") {
        -38014
    } else {
        -32602
    }
}

/// One simulated call: the transaction it became and what it did.
#[derive(Debug, Clone)]
pub struct SimulatedCall {
    /// The call as an unsigned transaction (zero signature), with its sender.
    pub transaction: Recovered<OpTxEnvelope>,
    /// Its result; the logs include the transfer logs when they were asked for.
    pub result: ExecutionResult<OpHaltReason>,
}

/// One simulated block.
#[derive(Debug, Clone)]
pub struct SimulatedBlockOutput {
    /// Its header (no state root: the state of a simulation is never merklized).
    pub header: Sealed<Header>,
    /// Its calls, in order.
    pub calls: Vec<SimulatedCall>,
}

/// The block a simulated block's number, time and fees come from.
struct Parent {
    header: Header,
    hash: B256,
}

impl OlEvmConfig {
    /// Runs `blocks` on `db`, the state after `base`. `to_tx` turns a call request into a
    /// transaction; a missing nonce then becomes the sender's nonce and a missing gas limit
    /// what is left of the block. Each block's state and withdrawals roots come from `roots`.
    pub fn simulate<DB>(
        &self,
        db: DB,
        base: &Sealed<Header>,
        blocks: &[SimBlock],
        options: SimulationOptions,
        roots: &dyn SimulatedRoots,
        to_tx: impl Fn(&TransactionRequest) -> Result<TxEnv, CallError>,
    ) -> Result<Vec<SimulatedBlockOutput>, SimulateError>
    where
        DB: DatabaseRef + std::fmt::Debug,
        DB::Error: std::fmt::Display,
    {
        let mut state = CacheDB::new(db);
        let mut parent = Parent {
            header: base.inner().clone(),
            hash: base.hash(),
        };
        let mut gas_left = options.gas_cap;
        let mut out = Vec::new();
        for block in blocks {
            let overrides = block.block_overrides.clone().unwrap_or_default();
            let number = match overrides.number {
                Some(number) => {
                    u64::try_from(number).map_err(|_| SimulateError::BlockNumberOrder {
                        number: u64::MAX,
                        parent: parent.header.number,
                    })?
                }
                None => parent.header.number + 1,
            };
            if number <= parent.header.number {
                return Err(SimulateError::BlockNumberOrder {
                    number,
                    parent: parent.header.number,
                });
            }
            if number - base.number > MAX_SIMULATED_BLOCKS {
                return Err(SimulateError::ClientLimit(format!(
                    "too many blocks: a simulation spans at most {MAX_SIMULATED_BLOCKS}"
                )));
            }
            // The spec fills a gap in the numbers with empty blocks.
            while parent.header.number + 1 < number {
                // A block of the gap changes nothing: it keeps its parent's roots.
                let empty = self.simulated_header(&parent, None)?;
                parent = self.advance(&mut state, None, &mut out, empty, Vec::new());
            }
            let mut header = self.simulated_header(&parent, Some(&overrides))?;
            if !options.validation && overrides.base_fee.is_none() {
                // As geth: without validation a call pays no base fee, and BASEFEE reads 0.
                header.base_fee_per_gas = Some(0);
            }
            if header.timestamp <= parent.header.timestamp {
                return Err(SimulateError::TimestampOrder {
                    timestamp: header.timestamp,
                    parent: parent.header.timestamp,
                });
            }
            let mut env = self.env_of(&header, options.validation);
            // The block-hash overrides go into the state; the rest is already in the header.
            apply_block_overrides(overrides, &mut state, &mut env.block_env);
            let moves = match &block.state_overrides {
                Some(state_overrides) => {
                    let moves = state_overrides
                        .iter()
                        .filter_map(|(from, account)| {
                            account.move_precompile_to.map(|to| (*from, to))
                        })
                        .collect::<Vec<_>>();
                    apply_state_overrides(state_overrides.clone(), &mut state).map_err(|err| {
                        SimulateError::Call(match err {
                            StateOverrideError::Database(err) => {
                                CallError::Internal(err.to_string())
                            }
                            other => CallError::BadOverride(other.to_string()),
                        })
                    })?;
                    moves
                }
                None => Vec::new(),
            };
            let mut calls = Vec::with_capacity(block.calls.len());
            let mut block_gas_used = 0u64;
            for (index, request) in block.calls.iter().enumerate() {
                let block_gas_left = header.gas_limit.saturating_sub(block_gas_used);
                let mut tx = to_tx(request).map_err(SimulateError::Call)?;
                if request.gas.is_none() {
                    tx.gas_limit = block_gas_left.min(gas_left);
                } else if tx.gas_limit > block_gas_left {
                    return Err(SimulateError::BlockGasLimit {
                        block: header.number,
                        call: index,
                        asked: tx.gas_limit,
                        left: block_gas_left,
                    });
                }
                if request.nonce.is_none() {
                    tx.nonce = state
                        .basic_ref(tx.caller)
                        .map_err(|err| SimulateError::Call(CallError::Internal(err.to_string())))?
                        .map_or(0, |account| account.nonce);
                }
                let result = self.simulate_call(&mut state, &env, &tx, &moves, &options)?;
                let gas_used = result.tx_gas_used();
                block_gas_used += gas_used;
                gas_left = gas_left.checked_sub(gas_used).ok_or_else(|| {
                    SimulateError::ClientLimit(format!(
                        "the calls use more than the gas cap of {} (--rpc.gascap)",
                        options.gas_cap
                    ))
                })?;
                calls.push(SimulatedCall {
                    transaction: Recovered::new_unchecked(unsigned_transaction(&tx), tx.caller),
                    result,
                });
            }
            let roots = (roots, options.deadline);
            parent = self.advance(&mut state, Some(roots), &mut out, header, calls);
        }
        Ok(out)
    }

    /// Seals `header` with the roots, bloom and gas of `calls` as the next simulated block,
    /// makes its hash visible to `BLOCKHASH` and returns it as the parent of the next. With
    /// `roots`, the block changed the state: its state and withdrawals roots are computed,
    /// unless the deadline has passed (they can cost as much as the calls) or they cannot be,
    /// and then they are zero; without, it keeps its parent's, which the header carries.
    fn advance<DB: DatabaseRef>(
        &self,
        state: &mut CacheDB<DB>,
        roots: Option<(&dyn SimulatedRoots, Option<Instant>)>,
        out: &mut Vec<SimulatedBlockOutput>,
        mut header: Header,
        calls: Vec<SimulatedCall>,
    ) -> Parent {
        if let Some((roots, deadline)) = roots {
            let (state_root, withdrawals_root) = deadline
                .is_none_or(|at| Instant::now() < at)
                .then(|| roots.roots(&state.cache))
                .flatten()
                .unwrap_or((B256::ZERO, B256::ZERO));
            header.state_root = state_root;
            if header.withdrawals_root.is_some() {
                header.withdrawals_root = Some(withdrawals_root);
            }
        }
        let sealed = with_calls(header, &calls).seal_slow();
        state
            .cache
            .block_hashes
            .insert(U256::from(sealed.number), sealed.hash());
        let parent = Parent {
            header: sealed.inner().clone(),
            hash: sealed.hash(),
        };
        out.push(SimulatedBlockOutput {
            header: sealed,
            calls,
        });
        parent
    }

    /// The EVM environment of a simulated block: a simulation without validation checks no
    /// nonces and no base fee.
    fn env_of(&self, header: &Header, validation: bool) -> EvmEnv<OpSpecId> {
        let mut env = self.evm_env_for_header(header);
        if !validation {
            env.cfg_env.disable_nonce_check = true;
            env.cfg_env.disable_base_fee = true;
        }
        env
    }

    /// Runs one call on `state` and commits what it changed.
    fn simulate_call<DB>(
        &self,
        state: &mut CacheDB<DB>,
        env: &EvmEnv<OpSpecId>,
        tx: &TxEnv,
        moves: &[(alloy_primitives::Address, alloy_primitives::Address)],
        options: &SimulationOptions,
    ) -> Result<ExecutionResult<OpHaltReason>, SimulateError>
    where
        DB: DatabaseRef + std::fmt::Debug,
        DB::Error: std::fmt::Display,
    {
        let (mut call_env, op_tx) = call_input(env.clone(), tx.clone());
        if options.validation {
            // call_input relaxes what eth_call relaxes; a validating simulation keeps the
            // checks a transaction meets.
            call_env.cfg_env.disable_nonce_check = false;
            call_env.cfg_env.disable_base_fee = false;
            call_env.cfg_env.disable_fee_charge = false;
        }
        call_env.cfg_env.disable_block_gas_limit = false;
        let transfers = TransferInspector::new(false).with_logs(options.trace_transfers);
        let inspector = (Deadline::new(options.deadline), transfers);
        let mut evm =
            self.factory
                .evm_factory()
                .create_evm_with_inspector(&mut *state, call_env, inspector);
        move_precompiles(&mut evm, moves.to_vec()).map_err(SimulateError::Call)?;
        let outcome = evm.transact(op_tx);
        if evm.inspector().0.expired() {
            return Err(SimulateError::Call(CallError::Timeout(
                options
                    .deadline
                    .map(|at| at.saturating_duration_since(Instant::now()))
                    .unwrap_or_default(),
            )));
        }
        drop(evm);
        let outcome = outcome.map_err(|err| SimulateError::Call(transact_error(err)))?;
        state.commit(outcome.state);
        Ok(outcome.result)
    }

    /// A simulated block's header on `parent`, before its calls: number, time and fees from
    /// `overrides` or the defaults (the next number, 12 s later, the parent's gas limit, and
    /// the base fee the parent implies).
    fn simulated_header(
        &self,
        parent: &Parent,
        overrides: Option<&alloy_rpc_types_eth::BlockOverrides>,
    ) -> Result<Header, SimulateError> {
        let base_fee = next_block_base_fee(&parent.header)
            .map_err(|err: EvmError| SimulateError::Parent(err.to_string()))?;
        let overrides = overrides.cloned().unwrap_or_default();
        let number = overrides
            .number
            .map_or(parent.header.number + 1, |number| number.saturating_to());
        let timestamp = overrides
            .time
            .unwrap_or(parent.header.timestamp + DEFAULT_BLOCK_SPACING_SECS);
        Ok(Header {
            parent_hash: parent.hash,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: overrides.coinbase.unwrap_or(parent.header.beneficiary),
            // The parent's, until the block's changes give it its own (`advance`).
            state_root: parent.header.state_root,
            difficulty: U256::ZERO,
            number,
            gas_limit: overrides.gas_limit.unwrap_or(parent.header.gas_limit),
            timestamp,
            extra_data: parent.header.extra_data.clone(),
            mix_hash: overrides.random.unwrap_or(parent.header.mix_hash),
            base_fee_per_gas: Some(
                overrides
                    .base_fee
                    .map_or(base_fee, |fee| fee.saturating_to()),
            ),
            withdrawals_root: parent.header.withdrawals_root,
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(B256::ZERO),
            requests_hash: Some(EMPTY_REQUESTS_HASH),
            ..Default::default()
        })
    }
}

/// `header` with the transactions root, receipts root, logs bloom and gas used of `calls`.
fn with_calls(header: Header, calls: &[SimulatedCall]) -> Header {
    let transactions: Vec<OpTxEnvelope> = calls
        .iter()
        .map(|call| call.transaction.inner().clone())
        .collect();
    let receipts = receipts_of(calls);
    let logs_bloom = receipts.iter().fold(Bloom::ZERO, |mut bloom, receipt| {
        bloom.accrue_bloom(receipt.logs_bloom());
        bloom
    });
    Header {
        transactions_root: calculate_transaction_root(&transactions),
        receipts_root: ordered_trie_root_with_encoder(&receipts, |receipt, buf| {
            receipt.encode_2718(buf)
        }),
        logs_bloom,
        gas_used: receipts
            .last()
            .map_or(0, |receipt| receipt.cumulative_gas_used()),
        ..header
    }
}

/// The receipts of a simulated block's calls.
fn receipts_of(calls: &[SimulatedCall]) -> Vec<OpReceiptEnvelope> {
    let mut cumulative = 0;
    calls
        .iter()
        .map(|call| {
            cumulative += call.result.tx_gas_used();
            let tx_type = match call.transaction.inner() {
                OpTxEnvelope::Legacy(_) => OpTxType::Legacy,
                OpTxEnvelope::Eip2930(_) => OpTxType::Eip2930,
                _ => OpTxType::Eip1559,
            };
            OpReceiptEnvelope::from_parts(
                call.result.is_success(),
                cumulative,
                call.result.logs(),
                tx_type,
                None,
                None,
            )
        })
        .collect()
}

/// A call as the unsigned transaction it stands for (a zero signature, as geth hashes it).
fn unsigned_transaction(tx: &TxEnv) -> OpTxEnvelope {
    let signature = Signature::new(U256::ZERO, U256::ZERO, false);
    match tx.tx_type {
        0 => OpTxEnvelope::Legacy(Signed::new_unhashed(
            TxLegacy {
                chain_id: tx.chain_id,
                nonce: tx.nonce,
                gas_price: tx.gas_price,
                gas_limit: tx.gas_limit,
                to: tx.kind,
                value: tx.value,
                input: tx.data.clone(),
            },
            signature,
        )),
        1 => OpTxEnvelope::Eip2930(Signed::new_unhashed(
            TxEip2930 {
                chain_id: tx.chain_id.unwrap_or_default(),
                nonce: tx.nonce,
                gas_price: tx.gas_price,
                gas_limit: tx.gas_limit,
                to: tx.kind,
                value: tx.value,
                access_list: tx.access_list.clone(),
                input: tx.data.clone(),
            },
            signature,
        )),
        _ => OpTxEnvelope::Eip1559(Signed::new_unhashed(
            TxEip1559 {
                chain_id: tx.chain_id.unwrap_or_default(),
                nonce: tx.nonce,
                gas_limit: tx.gas_limit,
                max_fee_per_gas: tx.gas_price,
                max_priority_fee_per_gas: tx.gas_priority_fee.unwrap_or_default(),
                to: tx.kind,
                value: tx.value,
                access_list: tx.access_list.clone(),
                input: tx.data.clone(),
            },
            signature,
        )),
    }
}
