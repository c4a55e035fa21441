//! [`EthRpc`]: the API object every namespace is implemented on, what it holds (the chain,
//! the pool, the limits, the worker pool, installed filters) and the lookups they share:
//! headers by number, tag or hash, the state at a block, call requests as revm transactions,
//! blocks and transactions in their RPC shapes, and running work on the worker pool.

use crate::{
    RpcConfig, TxSubmission, blocking::BlockingPool, convert, error, filter::Filters,
    logs::LogLimits, reexec::TraceLimits,
};
use alloy_consensus::{Header, Sealed};
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{B256, TxKind, U64};
use alloy_rpc_types_eth::TransactionRequest;
use jsonrpsee::core::RpcResult;
use ol_chain::Chain;
use ol_storage::BlockBody;
use ol_txpool::TxPool;
use op_alloy_rpc_types::Transaction;
use revm::context::TxEnv;
use std::{sync::Arc, time::Duration};

/// The implementation of the namespaces over the chain and the pool. Clones share the
/// installed filters.
#[derive(Debug, Clone)]
pub struct EthRpc {
    pub(crate) chain: Arc<Chain>,
    pub(crate) pool: Arc<TxPool>,
    pub(crate) gas_cap: u64,
    /// How long one `eth_call` or `eth_estimateGas` may execute; `None` is unbounded.
    pub(crate) evm_timeout: Option<Duration>,
    /// Most wei a submitted transaction may commit to fees (gas limit × fee cap); 0 is no cap.
    pub(crate) tx_fee_cap: u128,
    pub(crate) limits: LogLimits,
    pub(crate) filters: Arc<Filters>,
    /// Where CPU-heavy and blocking work runs.
    pub(crate) blocking: BlockingPool,
    /// The limits of `debug_trace*`.
    pub(crate) tracing: Arc<TraceLimits>,
    /// What `eth_sendRawTransaction` does.
    pub(crate) submission: TxSubmission,
    /// The client that forwards transactions to the sequencer.
    pub(crate) http: reqwest::Client,
    /// The content store of contributions (`ol_putContent`, `ol_getContent`), when served.
    pub(crate) content: Option<Arc<crate::ol::ContentRpc>>,
    /// The sequencer's job service (`ol_jobStatus`, `ol_getInference`, ...), when it runs one.
    pub(crate) jobs: Option<Arc<ol_jobs::JobService>>,
    /// The attribution verifier (`ol_verification`), when the node runs one.
    pub(crate) verifier: Option<Arc<ol_jobs::Verifier>>,
    /// The Model Factory's trainer (`ol_trainAdapter`), when the node runs one.
    pub(crate) training: Option<Arc<ol_jobs::TrainingService>>,
    /// The p2p network (`opp2p_*`), once it runs.
    pub(crate) p2p: crate::P2pSlot,
}

impl EthRpc {
    /// The API over `chain` and `pool`, capping calls at `gas_cap`, with every other limit
    /// at its default.
    pub fn new(chain: Arc<Chain>, pool: Arc<TxPool>, gas_cap: u64) -> Self {
        let config = RpcConfig {
            gas_cap,
            ..RpcConfig::default()
        };
        Self::with_config(chain, pool, &config)
    }

    /// The API over `chain` and `pool` with the limits of `config`. Starts the RPC's worker
    /// threads.
    pub fn with_config(chain: Arc<Chain>, pool: Arc<TxPool>, config: &RpcConfig) -> Self {
        Self {
            chain,
            pool,
            gas_cap: config.gas_cap,
            evm_timeout: non_zero(config.evm_timeout),
            tx_fee_cap: config.tx_fee_cap,
            limits: LogLimits {
                max_blocks: config.max_blocks_per_filter,
                max_logs: config.max_logs_per_response,
            },
            filters: Arc::new(Filters::new(config.filters)),
            blocking: BlockingPool::new(config.blocking),
            tracing: Arc::new(TraceLimits::new(
                config.max_tracing_requests,
                config.max_trace_bytes,
                non_zero(config.evm_timeout),
            )),
            submission: config.transactions.clone(),
            http: reqwest::Client::new(),
            content: None,
            jobs: None,
            verifier: None,
            training: None,
            p2p: crate::P2pSlot::default(),
        }
    }

    /// Serves what the job service `jobs` did in the `ol` namespace.
    pub fn with_jobs(mut self, jobs: Arc<ol_jobs::JobService>) -> Self {
        self.jobs = Some(jobs);
        self
    }

    /// Takes training requests for `training` in the `ol` namespace.
    pub fn with_training(mut self, training: Arc<ol_jobs::TrainingService>) -> Self {
        self.training = Some(training);
        self
    }

    /// Serves the verdicts of `verifier` in the `ol` namespace.
    pub fn with_verifier(mut self, verifier: Arc<ol_jobs::Verifier>) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Serves `opp2p_*` from whatever network fills `slot`.
    pub fn with_p2p(mut self, slot: crate::P2pSlot) -> Self {
        self.p2p = slot;
        self
    }

    /// Serves the content store `content` in the `ol` namespace.
    pub fn with_content(mut self, content: crate::ol::ContentRpc) -> Self {
        self.content = Some(Arc::new(content));
        self
    }

    pub(crate) fn header(&self, id: BlockNumberOrTag) -> RpcResult<Option<Sealed<Header>>> {
        let storage = self.chain.storage();
        match id {
            BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => Ok(Some(self.chain.head())),
            BlockNumberOrTag::Safe => storage
                .header_by_number(self.chain.safe_number())
                .map_err(error::internal),
            BlockNumberOrTag::Finalized => storage
                .header_by_number(self.chain.finalized_number())
                .map_err(error::internal),
            BlockNumberOrTag::Earliest => storage.header_by_number(0).map_err(error::internal),
            BlockNumberOrTag::Number(number) => {
                storage.header_by_number(number).map_err(error::internal)
            }
        }
    }

    pub(crate) fn header_by_id(&self, id: BlockId) -> RpcResult<Option<Sealed<Header>>> {
        match id {
            BlockId::Number(number) => self.header(number),
            BlockId::Hash(hash) => {
                let Some(number) = self
                    .chain
                    .storage()
                    .block_number(&hash.block_hash)
                    .map_err(error::internal)?
                else {
                    return Ok(None);
                };
                self.header(BlockNumberOrTag::Number(number))
            }
        }
    }

    /// The block whose post-state a state read asks for (the head when none is given); any
    /// block of the chain is served, through the storage's history tables.
    pub(crate) fn state_header(&self, block: Option<BlockId>) -> RpcResult<Sealed<Header>> {
        let Some(id) = block else {
            return Ok(self.chain.head());
        };
        self.header_by_id(id)?
            .ok_or_else(|| error::server("header not found"))
    }

    /// Proofs are served for the head only (as reth's default proof window of 0 does): the trie
    /// nodes of earlier states are not kept.
    pub(crate) fn ensure_head_state(&self, block: Option<BlockId>) -> RpcResult<Sealed<Header>> {
        let head = self.chain.head();
        let Some(id) = block else { return Ok(head) };
        let header = self
            .header_by_id(id)?
            .ok_or_else(|| error::server("header not found"))?;
        if header.hash() != head.hash() {
            return Err(error::server(format!(
                "historical state is not available: this node serves state at the head ({}) only",
                head.number
            )));
        }
        Ok(head)
    }

    /// The state after block `number`, for revm.
    pub(crate) fn state_db(&self, number: u64) -> ol_storage::StateProviderDb {
        ol_storage::StateProviderDb::at_block(self.chain.storage().clone(), number)
    }

    pub(crate) fn block_parts(
        &self,
        header: &Sealed<Header>,
    ) -> RpcResult<(BlockBody, Vec<ol_primitives::OpReceiptEnvelope>)> {
        let storage = self.chain.storage();
        let body = storage
            .body(header.number)
            .map_err(error::internal)?
            .ok_or_else(|| error::internal("block body missing"))?;
        let receipts = storage
            .receipts(header.number)
            .map_err(error::internal)?
            .ok_or_else(|| error::internal("receipts missing"))?;
        Ok((body, receipts))
    }

    pub(crate) fn rpc_block(
        &self,
        header: Option<Sealed<Header>>,
        full: bool,
    ) -> RpcResult<Option<convert::RpcBlock>> {
        let Some(header) = header else {
            return Ok(None);
        };
        let (body, receipts) = self.block_parts(&header)?;
        Ok(Some(convert::block(&header, &body, &receipts, full)))
    }

    /// A call request as a revm transaction, gas capped.
    pub(crate) fn tx_env(&self, request: &TransactionRequest, gas_cap: u64) -> RpcResult<TxEnv> {
        let gas_price = request
            .max_fee_per_gas
            .or(request.gas_price)
            .unwrap_or_default();
        let mut tx = TxEnv {
            // Without a `type`, the fields decide (as geth does): an access list applies
            // whatever the type says, so a request that has one is at least an EIP-2930 one.
            tx_type: request.transaction_type.unwrap_or_else(|| {
                if request.max_fee_per_gas.is_some() {
                    2
                } else if request.access_list.is_some() {
                    1
                } else {
                    0
                }
            }),
            caller: request.from.unwrap_or_default(),
            gas_limit: request.gas.unwrap_or(gas_cap).min(gas_cap),
            gas_price,
            kind: request.to.unwrap_or(TxKind::Create),
            value: request.value.unwrap_or_default(),
            data: request.input.input().cloned().unwrap_or_default(),
            nonce: request.nonce.unwrap_or_default(),
            chain_id: Some(self.chain.chain_id()),
            access_list: request.access_list.clone().unwrap_or_default(),
            gas_priority_fee: request.max_priority_fee_per_gas,
            ..Default::default()
        };
        if request
            .blob_versioned_hashes
            .as_ref()
            .is_some_and(|hashes| !hashes.is_empty())
        {
            return Err(error::server("transaction type not supported"));
        }
        if let Some(list) = &request.authorization_list {
            tx.tx_type = 4;
            tx.set_signed_authorization(list.clone());
        }
        Ok(tx)
    }

    /// A mined transaction by hash, else a pooled one.
    pub(crate) fn transaction(&self, hash: B256) -> RpcResult<Option<Transaction>> {
        let storage = self.chain.storage();
        if let Some((number, index)) = storage
            .transaction_location(&hash)
            .map_err(error::internal)?
        {
            let header = self
                .header(BlockNumberOrTag::Number(number))?
                .ok_or_else(|| error::internal("missing header"))?;
            return self.transaction_in_block(Some(header), index as usize);
        }
        Ok(self.pool.get(&hash).map(convert::pending_transaction))
    }

    /// Transaction `index` of the block `header`, if both exist.
    pub(crate) fn transaction_in_block(
        &self,
        header: Option<Sealed<Header>>,
        index: usize,
    ) -> RpcResult<Option<Transaction>> {
        let Some(header) = header else {
            return Ok(None);
        };
        let (body, receipts) = self.block_parts(&header)?;
        let Some(tx) = body.transactions.get(index) else {
            return Ok(None);
        };
        Ok(Some(convert::transaction(
            tx,
            body.senders[index],
            &header,
            index,
            receipts.get(index),
        )))
    }

    /// Number of transactions of the block `header`, if it exists.
    pub(crate) fn transaction_count_of(
        &self,
        header: Option<Sealed<Header>>,
    ) -> RpcResult<Option<U64>> {
        let Some(header) = header else {
            return Ok(None);
        };
        let (body, _) = self.block_parts(&header)?;
        Ok(Some(U64::from(body.transactions.len())))
    }

    pub(crate) async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(Self) -> RpcResult<T> + Send + 'static,
    ) -> RpcResult<T> {
        let this = self.clone();
        self.blocking.run(move || work(this)).await
    }
}

/// A zero duration means no limit (as geth's `--rpc.evmtimeout 0`).
fn non_zero(timeout: Duration) -> Option<Duration> {
    (!timeout.is_zero()).then_some(timeout)
}
