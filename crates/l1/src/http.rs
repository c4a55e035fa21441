//! `HttpL1Client`: the `L1Client` over alloy's HTTP provider, any Ethereum JSON-RPC endpoint
//! (`--l1.rpc`), with every request under the retry policy of [`crate::retry`].

use crate::{
    block::{L1BlockRef, L1Header, L1Log, L1Receipt, L1Transaction},
    client::{BlockTag, Fees, GasQuery, L1Client},
    error::L1Error,
    retry::{RetryConfig, with_retry},
};
use alloy::{
    consensus::Transaction as _,
    eips::{BlockId, BlockNumberOrTag},
    network::{ReceiptResponse as _, TransactionResponse as _},
    primitives::{Address, B256, Bytes},
    providers::{Provider, RootProvider},
    rpc::types::{Block, BlockTransactions, Filter, TransactionRequest},
};

/// An L1 client over HTTP JSON-RPC.
#[derive(Debug, Clone)]
pub struct HttpL1Client {
    provider: RootProvider,
    retry: RetryConfig,
    url: String,
}

impl HttpL1Client {
    /// A client of the endpoint at `url` (no request is made until the first call).
    pub fn new(url: &str, retry: RetryConfig) -> Result<Self, L1Error> {
        let parsed = url.parse().map_err(|err| L1Error::Rejected {
            method: "connect",
            message: format!("invalid L1 RPC URL {url:?}: {err}"),
        })?;
        Ok(Self {
            provider: RootProvider::new_http(parsed),
            retry,
            url: url.to_owned(),
        })
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The retry policy in force.
    pub const fn retry_config(&self) -> &RetryConfig {
        &self.retry
    }

    const fn number_or_tag(tag: BlockTag) -> BlockNumberOrTag {
        match tag {
            BlockTag::Latest => BlockNumberOrTag::Latest,
            BlockTag::Safe => BlockNumberOrTag::Safe,
            BlockTag::Finalized => BlockNumberOrTag::Finalized,
        }
    }

    fn request(query: GasQuery) -> TransactionRequest {
        TransactionRequest {
            from: Some(query.from),
            to: Some(query.to),
            value: Some(query.value),
            ..TransactionRequest::default()
        }
        .input(query.input.into())
    }

    fn header_of(method: &'static str, block: Block) -> Result<L1Header, L1Error> {
        let hash = block.header.hash;
        let header = block.header.inner;
        // The hash is the endpoint's word; a mismatch means a broken or lying endpoint, and
        // following it would corrupt the derived chain.
        if header.hash_slow() != hash {
            return Err(L1Error::InvalidResponse {
                method,
                message: format!(
                    "block #{} reported hash {hash} does not match its header",
                    header.number
                ),
            });
        }
        Ok(L1Header { hash, header })
    }
}

impl L1Client for HttpL1Client {
    async fn chain_id(&self) -> Result<u64, L1Error> {
        with_retry(&self.retry, "eth_chainId", || async {
            self.provider.get_chain_id().await
        })
        .await
    }

    async fn block_ref(&self, tag: BlockTag) -> Result<L1BlockRef, L1Error> {
        let number = Self::number_or_tag(tag);
        let block = with_retry(&self.retry, "eth_getBlockByNumber", || async {
            self.provider.get_block_by_number(number).await
        })
        .await?
        .ok_or_else(|| L1Error::BlockNotFound(tag.as_str().to_owned()))?;
        Ok(Self::header_of("eth_getBlockByNumber", block)?.block_ref())
    }

    async fn header_by_number(&self, number: u64) -> Result<Option<L1Header>, L1Error> {
        let block = with_retry(&self.retry, "eth_getBlockByNumber", || async {
            self.provider.get_block_by_number(number.into()).await
        })
        .await?;
        let Some(block) = block else { return Ok(None) };
        let header = Self::header_of("eth_getBlockByNumber", block)?;
        if header.header.number != number {
            return Err(L1Error::InvalidResponse {
                method: "eth_getBlockByNumber",
                message: format!("asked for block #{number}, got #{}", header.header.number),
            });
        }
        Ok(Some(header))
    }

    async fn header_by_hash(&self, hash: B256) -> Result<Option<L1Header>, L1Error> {
        let block = with_retry(&self.retry, "eth_getBlockByHash", || async {
            self.provider.get_block_by_hash(hash).await
        })
        .await?;
        let Some(block) = block else { return Ok(None) };
        let header = Self::header_of("eth_getBlockByHash", block)?;
        if header.hash != hash {
            return Err(L1Error::InvalidResponse {
                method: "eth_getBlockByHash",
                message: format!("asked for block {hash}, got {}", header.hash),
            });
        }
        Ok(Some(header))
    }

    async fn logs(
        &self,
        block_hash: B256,
        address: Address,
        topic0: B256,
    ) -> Result<Vec<L1Log>, L1Error> {
        let filter = Filter::new()
            .at_block_hash(block_hash)
            .address(address)
            .event_signature(topic0);
        let logs = with_retry(&self.retry, "eth_getLogs", || async {
            self.provider.get_logs(&filter).await
        })
        .await?;
        let mut out = Vec::with_capacity(logs.len());
        for log in logs {
            let invalid = |message: String| L1Error::InvalidResponse {
                method: "eth_getLogs",
                message,
            };
            if log.block_hash != Some(block_hash) {
                return Err(invalid(format!(
                    "asked for the logs of block {block_hash}, got one of {:?}",
                    log.block_hash
                )));
            }
            if log.removed {
                return Err(invalid(format!("log of block {block_hash} marked removed")));
            }
            let log_index = log
                .log_index
                .ok_or_else(|| invalid(format!("log of block {block_hash} without index")))?;
            out.push(L1Log {
                block_hash,
                log_index,
                inner: log.inner,
            });
        }
        // Source hashes commit to the log index, and deposits apply in log order.
        out.sort_by_key(|log| log.log_index);
        Ok(out)
    }

    async fn block_transactions(&self, block_hash: B256) -> Result<Vec<L1Transaction>, L1Error> {
        let block = with_retry(&self.retry, "eth_getBlockByHash", || async {
            self.provider.get_block_by_hash(block_hash).full().await
        })
        .await?
        .ok_or_else(|| L1Error::BlockNotFound(block_hash.to_string()))?;
        if block.header.hash != block_hash {
            return Err(L1Error::InvalidResponse {
                method: "eth_getBlockByHash",
                message: format!("asked for block {block_hash}, got {}", block.header.hash),
            });
        }
        let BlockTransactions::Full(transactions) = block.transactions else {
            return Err(L1Error::InvalidResponse {
                method: "eth_getBlockByHash",
                message: "asked for full transactions, got hashes".into(),
            });
        };
        Ok(transactions
            .into_iter()
            .map(|tx| L1Transaction {
                hash: tx.tx_hash(),
                from: tx.from(),
                to: tx.to(),
                input: tx.input().clone(),
            })
            .collect())
    }

    async fn nonce(&self, address: Address) -> Result<u64, L1Error> {
        with_retry(&self.retry, "eth_getTransactionCount", || async {
            self.provider.get_transaction_count(address).pending().await
        })
        .await
    }

    async fn fees(&self) -> Result<Fees, L1Error> {
        let estimate = with_retry(&self.retry, "eth_feeHistory", || async {
            self.provider.estimate_eip1559_fees().await
        })
        .await?;
        Ok(Fees {
            max_fee_per_gas: estimate.max_fee_per_gas,
            max_priority_fee_per_gas: estimate.max_priority_fee_per_gas,
        })
    }

    async fn estimate_gas(&self, query: GasQuery) -> Result<u64, L1Error> {
        let request = Self::request(query);
        with_retry(&self.retry, "eth_estimateGas", || async {
            self.provider.estimate_gas(request.clone()).await
        })
        .await
    }

    async fn call(&self, query: GasQuery, block: BlockTag) -> Result<Bytes, L1Error> {
        let request = Self::request(query);
        let block = BlockId::Number(Self::number_or_tag(block));
        with_retry(&self.retry, "eth_call", || async {
            self.provider.call(request.clone()).block(block).await
        })
        .await
    }

    async fn send_raw_transaction(&self, raw: Bytes) -> Result<B256, L1Error> {
        // Resending the same bytes is idempotent (same hash), so a retry after a lost reply is
        // safe; "already known" comes back as a rejection the caller can recognise.
        let pending = with_retry(&self.retry, "eth_sendRawTransaction", || async {
            self.provider.send_raw_transaction(&raw).await
        })
        .await?;
        Ok(*pending.tx_hash())
    }

    async fn receipt(&self, hash: B256) -> Result<Option<L1Receipt>, L1Error> {
        let receipt = with_retry(&self.retry, "eth_getTransactionReceipt", || async {
            self.provider.get_transaction_receipt(hash).await
        })
        .await?;
        let Some(receipt) = receipt else {
            return Ok(None);
        };
        // A receipt without a block is a pending one (some endpoints return those): not mined.
        let (Some(block_hash), Some(number)) = (receipt.block_hash(), receipt.block_number())
        else {
            return Ok(None);
        };
        Ok(Some(L1Receipt {
            transaction_hash: receipt.transaction_hash,
            block: ol_primitives::L1BlockRef {
                hash: block_hash,
                number,
            },
            success: receipt.inner.status(),
            gas_used: receipt.gas_used,
            effective_gas_price: receipt.effective_gas_price,
        }))
    }
}
