//! The `eth`, `net` and `web3` namespaces.

use crate::{
    EthRpc, TxSubmission, convert, error,
    filter::{check_filter_size, connection},
};
use alloy_consensus::{Header, Sealed, Transaction as _};
use alloy_eips::{BlockId, BlockNumberOrTag, eip2930::AccessListResult};
use alloy_primitives::{Address, B256, Bytes, U64, U128, U256, keccak256};
use alloy_rpc_types_eth::{BlockOverrides, state::StateOverride};
use alloy_rpc_types_eth::{
    EIP1186AccountProofResponse, FeeHistory, Filter, FilterChanges, Index, Log, TransactionRequest,
};
use alloy_serde::JsonStorageKey;
use jsonrpsee::{Extensions, core::RpcResult, proc_macros::rpc};
use ol_evm::{
    call::{Budget, Overrides},
    next_block_base_fee,
};
use ol_storage::BlockBody;
use op_alloy_rpc_types::Transaction;

/// The tip suggested to wallets (op-geth's default minimum suggested priority fee, 0.001 gwei).
const SUGGESTED_PRIORITY_FEE: u128 = 1_000_000;
/// Most blocks one `eth_feeHistory` call covers (geth's limit).
const MAX_FEE_HISTORY_BLOCKS: u64 = 1024;

/// The `eth` namespace.
#[rpc(server, namespace = "eth")]
pub trait EthApi {
    /// Chain id.
    #[method(name = "chainId")]
    fn chain_id(&self) -> RpcResult<U64>;
    /// Head block number.
    #[method(name = "blockNumber")]
    fn block_number(&self) -> RpcResult<U64>;
    /// Whether the node is syncing (a sequencer never is).
    #[method(name = "syncing")]
    fn syncing(&self) -> RpcResult<bool>;
    /// Accounts the node holds keys for: none.
    #[method(name = "accounts")]
    fn accounts(&self) -> RpcResult<Vec<Address>>;
    /// Balance of an account.
    #[method(name = "getBalance")]
    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;
    /// Nonce of an account; with `pending`, counting its pool transactions.
    #[method(name = "getTransactionCount")]
    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64>;
    /// Code of an account.
    #[method(name = "getCode")]
    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes>;
    /// A storage slot.
    #[method(name = "getStorageAt")]
    fn storage_at(&self, address: Address, slot: U256, block: Option<BlockId>) -> RpcResult<B256>;
    /// Executes a call without creating a transaction.
    #[method(name = "call")]
    async fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> RpcResult<Bytes>;
    /// Estimates the gas a transaction needs.
    #[method(name = "estimateGas")]
    async fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> RpcResult<U64>;
    /// A legacy gas price: next base fee plus the suggested tip.
    #[method(name = "gasPrice")]
    fn gas_price(&self) -> RpcResult<U256>;
    /// The suggested tip.
    #[method(name = "maxPriorityFeePerGas")]
    fn max_priority_fee_per_gas(&self) -> RpcResult<U256>;
    /// Base fees, gas use and tip percentiles of recent blocks.
    #[method(name = "feeHistory")]
    fn fee_history(
        &self,
        block_count: U64,
        newest: BlockNumberOrTag,
        percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory>;
    /// Submits a signed transaction.
    #[method(name = "sendRawTransaction")]
    async fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256>;
    /// A transaction by hash, mined or pending.
    #[method(name = "getTransactionByHash")]
    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>>;
    /// The receipt of a mined transaction.
    #[method(name = "getTransactionReceipt")]
    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<convert::RpcReceipt>>;
    /// A block by number or tag.
    #[method(name = "getBlockByNumber")]
    fn block_by_number(
        &self,
        number: BlockNumberOrTag,
        full: bool,
    ) -> RpcResult<Option<convert::RpcBlock>>;
    /// A block by hash.
    #[method(name = "getBlockByHash")]
    fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<convert::RpcBlock>>;
    /// Every receipt of a block (`null` for an unknown block).
    #[method(name = "getBlockReceipts")]
    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<convert::RpcReceipt>>>;
    /// Number of transactions of a block by number or tag (`null` for an unknown block).
    #[method(name = "getBlockTransactionCountByNumber")]
    fn block_transaction_count_by_number(&self, number: BlockNumberOrTag)
    -> RpcResult<Option<U64>>;
    /// Number of transactions of a block by hash (`null` for an unknown block).
    #[method(name = "getBlockTransactionCountByHash")]
    fn block_transaction_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;
    /// A transaction by block number or tag and index.
    #[method(name = "getTransactionByBlockNumberAndIndex")]
    fn transaction_by_block_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Index,
    ) -> RpcResult<Option<Transaction>>;
    /// A transaction by block hash and index.
    #[method(name = "getTransactionByBlockHashAndIndex")]
    fn transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> RpcResult<Option<Transaction>>;
    /// Logs matching a filter over a block range or one block.
    #[method(name = "getLogs")]
    async fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>>;
    /// Installs a log filter; poll it with `eth_getFilterChanges`.
    #[method(name = "newFilter", with_extensions)]
    fn new_filter(&self, filter: Filter) -> RpcResult<U128>;
    /// Installs a filter of new block hashes.
    #[method(name = "newBlockFilter", with_extensions)]
    fn new_block_filter(&self) -> RpcResult<U128>;
    /// Installs a filter of transactions the pool accepts: hashes, or whole transactions with
    /// `true`.
    #[method(name = "newPendingTransactionFilter", with_extensions)]
    fn new_pending_transaction_filter(&self, full: Option<bool>) -> RpcResult<U128>;
    /// What a filter saw since its last poll.
    #[method(name = "getFilterChanges")]
    async fn filter_changes(&self, id: U128) -> RpcResult<FilterChanges<Transaction, Log>>;
    /// Every log a log filter matches over its range.
    #[method(name = "getFilterLogs")]
    async fn filter_logs(&self, id: U128) -> RpcResult<Vec<Log>>;
    /// Removes a filter; `false` when there was none with this id.
    #[method(name = "uninstallFilter")]
    fn uninstall_filter(&self, id: U128) -> RpcResult<bool>;
    /// The access list a call would use, with the gas it uses with the list (at the head).
    #[method(name = "createAccessList")]
    async fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
    ) -> RpcResult<AccessListResult>;
    /// EIP-1186 Merkle proof of an account and storage slots (at the head).
    #[method(name = "getProof")]
    async fn proof(
        &self,
        address: Address,
        keys: Vec<JsonStorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse>;
}

/// The `net` namespace.
#[rpc(server, namespace = "net")]
pub trait NetApi {
    /// The network id (the chain id, in decimal).
    #[method(name = "version")]
    fn version(&self) -> RpcResult<String>;
    /// Whether the node listens for connections.
    #[method(name = "listening")]
    fn listening(&self) -> RpcResult<bool>;
    /// Number of connected peers: a sequencer without p2p has none.
    #[method(name = "peerCount")]
    fn peer_count(&self) -> RpcResult<U64>;
}

/// The `web3` namespace.
#[rpc(server, namespace = "web3")]
pub trait Web3Api {
    /// Client name and version.
    #[method(name = "clientVersion")]
    fn client_version(&self) -> RpcResult<String>;
    /// Keccak-256 of the input.
    #[method(name = "sha3")]
    fn sha3(&self, input: Bytes) -> RpcResult<B256>;
}

#[jsonrpsee::core::async_trait]
impl EthApiServer for EthRpc {
    fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.chain.chain_id()))
    }

    fn block_number(&self) -> RpcResult<U64> {
        Ok(U64::from(self.chain.head().number))
    }

    fn syncing(&self) -> RpcResult<bool> {
        Ok(false)
    }

    fn accounts(&self) -> RpcResult<Vec<Address>> {
        Ok(Vec::new())
    }

    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        let header = self.state_header(block)?;
        let account = self
            .chain
            .storage()
            .account_at(&address, header.number)
            .map_err(error::internal)?;
        Ok(account.map_or(U256::ZERO, |account| account.balance))
    }

    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64> {
        let pending = matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending)));
        let header = self.state_header(block)?;
        let nonce = self
            .chain
            .storage()
            .account_at(&address, header.number)
            .map_err(error::internal)?
            .map_or(0, |a| a.nonce);
        Ok(U64::from(if pending {
            self.pool.pending_nonce(&address, nonce)
        } else {
            nonce
        }))
    }

    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes> {
        let header = self.state_header(block)?;
        let storage = self.chain.storage();
        let Some(account) = storage
            .account_at(&address, header.number)
            .map_err(error::internal)?
        else {
            return Ok(Bytes::new());
        };
        Ok(storage
            .code(&account.code_hash)
            .map_err(error::internal)?
            .unwrap_or_default())
    }

    fn storage_at(&self, address: Address, slot: U256, block: Option<BlockId>) -> RpcResult<B256> {
        let header = self.state_header(block)?;
        let value = self
            .chain
            .storage()
            .storage_at(&address, &B256::from(slot), header.number)
            .map_err(error::internal)?;
        Ok(B256::from(value))
    }

    async fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> RpcResult<Bytes> {
        let overrides = Overrides {
            state: state_overrides,
            block: block_overrides,
        };
        let header = self.state_header(block)?;
        let tx = self.tx_env(&request, self.gas_cap)?;
        // The budget starts now: time waiting for a worker counts, as the client sees it.
        let budget = self.evm_timeout.map(Budget::starting_now);
        self.run_blocking(move |this| {
            let env = this.chain.evm().evm_env_for_header(header.inner());
            let db = this.state_db(header.number);
            this.chain
                .evm()
                .call(&db, env, tx, budget, &overrides)
                .map(|outcome| outcome.output)
                .map_err(error::call)
        })
        .await
    }

    async fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
        block_overrides: Option<Box<BlockOverrides>>,
    ) -> RpcResult<U64> {
        let overrides = Overrides {
            state: state_overrides,
            block: block_overrides,
        };
        let header = self.state_header(block)?;
        let cap = request
            .gas
            .unwrap_or(self.gas_cap)
            .min(self.gas_cap)
            .min(self.chain.gas_limit());
        let tx = self.tx_env(&request, cap)?;
        let budget = self.evm_timeout.map(Budget::starting_now);
        self.run_blocking(move |this| {
            let env = this.chain.evm().evm_env_for_header(header.inner());
            let db = this.state_db(header.number);
            this.chain
                .evm()
                .estimate_gas(&db, env, tx, cap, budget, &overrides)
                .map(U64::from)
                .map_err(error::call)
        })
        .await
    }

    fn gas_price(&self) -> RpcResult<U256> {
        let base_fee = next_block_base_fee(self.chain.head().inner()).map_err(error::internal)?;
        Ok(U256::from(u128::from(base_fee) + SUGGESTED_PRIORITY_FEE))
    }

    fn max_priority_fee_per_gas(&self) -> RpcResult<U256> {
        Ok(U256::from(SUGGESTED_PRIORITY_FEE))
    }

    fn fee_history(
        &self,
        block_count: U64,
        newest: BlockNumberOrTag,
        percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory> {
        let count = block_count.to::<u64>().min(MAX_FEE_HISTORY_BLOCKS);
        if let Some(percentiles) = &percentiles {
            let sorted = percentiles.windows(2).all(|pair| pair[0] <= pair[1]);
            if !sorted || percentiles.iter().any(|p| !(0.0..=100.0).contains(p)) {
                return Err(error::invalid_params(
                    "reward percentiles must be ascending and within [0, 100]",
                ));
            }
        }
        let newest = self
            .header(newest)?
            .ok_or_else(|| error::server("header not found"))?;
        if count == 0 {
            return Ok(FeeHistory::default());
        }
        let oldest = newest.number.saturating_sub(count - 1);
        let mut history = FeeHistory {
            oldest_block: oldest,
            ..Default::default()
        };
        let mut rewards = Vec::new();
        for number in oldest..=newest.number {
            let header = self
                .header(BlockNumberOrTag::Number(number))?
                .ok_or_else(|| error::internal("missing header"))?;
            history
                .base_fee_per_gas
                .push(u128::from(header.base_fee_per_gas.unwrap_or_default()));
            history
                .gas_used_ratio
                .push(header.gas_used as f64 / header.gas_limit as f64);
            history.base_fee_per_blob_gas.push(1);
            history.blob_gas_used_ratio.push(0.0);
            if let Some(percentiles) = &percentiles {
                let (body, receipts) = self.block_parts(&header)?;
                rewards.push(block_rewards(&header, &body, &receipts, percentiles));
            }
        }
        history.base_fee_per_gas.push(u128::from(
            next_block_base_fee(newest.inner()).map_err(error::internal)?,
        ));
        history.base_fee_per_blob_gas.push(1);
        history.reward = percentiles.map(|_| rewards);
        Ok(history)
    }

    async fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        self.check_fee_cap(&raw)?;
        match &self.submission {
            TxSubmission::Pool => {
                let hash = self
                    .pool
                    .add_raw(&raw, self.chain.as_ref())
                    .map_err(error::pool)?;
                self.chain.announce_pending_transaction(hash);
                Ok(hash)
            }
            TxSubmission::Forward(url) => crate::forward::forward(&self.http, url, &raw).await,
            TxSubmission::Refuse => Err(error::server(
                "this node follows the chain and includes no transactions: send it to the \
                 sequencer (or start this node with --rollup.sequencer-http to forward)",
            )),
        }
    }

    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>> {
        self.transaction(hash)
    }

    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<convert::RpcReceipt>> {
        let storage = self.chain.storage();
        let Some((number, index)) = storage
            .transaction_location(&hash)
            .map_err(error::internal)?
        else {
            return Ok(None);
        };
        let header = self
            .header(BlockNumberOrTag::Number(number))?
            .ok_or_else(|| error::internal("missing header"))?;
        let (body, receipts) = self.block_parts(&header)?;
        let l1_info = self.chain.l1_info_of(&header).map_err(error::internal)?;
        Ok(convert::receipt(
            self.chain.evm(),
            &header,
            &body,
            &receipts,
            &l1_info,
            index as usize,
        ))
    }

    fn block_by_number(
        &self,
        number: BlockNumberOrTag,
        full: bool,
    ) -> RpcResult<Option<convert::RpcBlock>> {
        self.rpc_block(self.header(number)?, full)
    }

    fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<convert::RpcBlock>> {
        self.rpc_block(self.header_by_id(BlockId::from(hash))?, full)
    }

    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<convert::RpcReceipt>>> {
        let Some(header) = self.header_by_id(block)? else {
            return Ok(None);
        };
        let (body, receipts) = self.block_parts(&header)?;
        let l1_info = self.chain.l1_info_of(&header).map_err(error::internal)?;
        let receipts = (0..body.transactions.len())
            .map(|index| {
                convert::receipt(self.chain.evm(), &header, &body, &receipts, &l1_info, index)
                    .ok_or_else(|| error::internal("receipt missing"))
            })
            .collect::<RpcResult<Vec<_>>>()?;
        Ok(Some(receipts))
    }

    fn block_transaction_count_by_number(
        &self,
        number: BlockNumberOrTag,
    ) -> RpcResult<Option<U64>> {
        self.transaction_count_of(self.header(number)?)
    }

    fn block_transaction_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        self.transaction_count_of(self.header_by_id(BlockId::from(hash))?)
    }

    fn transaction_by_block_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Index,
    ) -> RpcResult<Option<Transaction>> {
        self.transaction_in_block(self.header(number)?, index.0)
    }

    fn transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: Index,
    ) -> RpcResult<Option<Transaction>> {
        self.transaction_in_block(self.header_by_id(BlockId::from(hash))?, index.0)
    }

    async fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>> {
        check_filter_size(&filter)?;
        self.run_blocking(move |this| {
            let blocks = this.log_blocks(&filter, None)?;
            this.query_logs(&filter, &blocks)
        })
        .await
    }

    fn new_filter(&self, ext: &Extensions, filter: Filter) -> RpcResult<U128> {
        self.install_log_filter(connection(ext), filter)
    }

    fn new_block_filter(&self, ext: &Extensions) -> RpcResult<U128> {
        self.install_block_filter(connection(ext))
    }

    fn new_pending_transaction_filter(
        &self,
        ext: &Extensions,
        full: Option<bool>,
    ) -> RpcResult<U128> {
        self.install_pending_transaction_filter(connection(ext), full.unwrap_or(false))
    }

    async fn filter_changes(&self, id: U128) -> RpcResult<FilterChanges<Transaction, Log>> {
        self.run_blocking(move |this| this.poll_filter(id)).await
    }

    async fn filter_logs(&self, id: U128) -> RpcResult<Vec<Log>> {
        self.run_blocking(move |this| this.installed_filter_logs(id))
            .await
    }

    fn uninstall_filter(&self, id: U128) -> RpcResult<bool> {
        Ok(self.remove_filter(id))
    }

    async fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
    ) -> RpcResult<AccessListResult> {
        self.run_blocking(move |this| this.create_access_list(&request, block))
            .await
    }

    async fn proof(
        &self,
        address: Address,
        keys: Vec<JsonStorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse> {
        self.run_blocking(move |this| this.account_proof(address, keys, block))
            .await
    }
}

/// Tips at the requested percentiles of a block's gas, as geth computes them: transactions
/// sorted by tip, each weighted by the gas it used.
fn block_rewards(
    header: &Sealed<Header>,
    body: &BlockBody,
    receipts: &[ol_primitives::OpReceiptEnvelope],
    percentiles: &[f64],
) -> Vec<u128> {
    let base_fee = header.base_fee_per_gas.unwrap_or_default();
    let mut previous = 0;
    let mut tips: Vec<(u128, u64)> = Vec::new();
    for (tx, receipt) in body.transactions.iter().zip(receipts) {
        let gas = receipt.cumulative_gas_used() - previous;
        previous = receipt.cumulative_gas_used();
        if !tx.is_deposit() {
            tips.push((tx.effective_tip_per_gas(base_fee).unwrap_or_default(), gas));
        }
    }
    if tips.is_empty() {
        return vec![0; percentiles.len()];
    }
    tips.sort_unstable();
    let total: u64 = tips.iter().map(|(_, gas)| gas).sum();
    percentiles
        .iter()
        .map(|percentile| {
            let threshold = (total as f64 * percentile / 100.0) as u64;
            let mut cumulative = 0;
            for (tip, gas) in &tips {
                cumulative += gas;
                if cumulative >= threshold {
                    return *tip;
                }
            }
            tips.last().map_or(0, |(tip, _)| *tip)
        })
        .collect()
}

impl NetApiServer for EthRpc {
    fn version(&self) -> RpcResult<String> {
        Ok(self.chain.chain_id().to_string())
    }

    fn listening(&self) -> RpcResult<bool> {
        Ok(true)
    }

    fn peer_count(&self) -> RpcResult<U64> {
        Ok(U64::ZERO)
    }
}

impl Web3ApiServer for EthRpc {
    fn client_version(&self) -> RpcResult<String> {
        Ok(format!(
            "openledger/v{}/{}-{}",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH
        ))
    }

    fn sha3(&self, input: Bytes) -> RpcResult<B256> {
        Ok(keccak256(&input))
    }
}
