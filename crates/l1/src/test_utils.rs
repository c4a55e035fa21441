//! `MemoryL1`: an in-memory L1 chain implementing [`L1Client`], for tests of this crate and of
//! the crates built on it. It mines blocks on demand (with logs and with the transactions sent to
//! it), reorganises its tip, and injects endpoint failures.

use crate::{
    block::{L1BlockRef, L1Header, L1Log, L1Receipt, L1Transaction},
    client::{BlockTag, Fees, GasQuery, L1Client},
    error::L1Error,
};
use alloy::{
    consensus::{Header, Transaction as _, TxEnvelope, transaction::SignerRecoverable as _},
    eips::Decodable2718,
    primitives::{Address, B256, Bytes, Log, TxKind},
};
use parking_lot::Mutex;
use std::{collections::HashMap, time::Duration};

/// Seconds between the blocks of a [`MemoryL1`].
pub const MEMORY_L1_BLOCK_TIME: u64 = 12;
/// Timestamp of the genesis block of a [`MemoryL1`].
pub const MEMORY_L1_GENESIS_TIME: u64 = 1_700_000_000;

#[derive(Debug, Default)]
struct State {
    chain_id: u64,
    /// Canonical headers; index = block number.
    canonical: Vec<L1Header>,
    /// Every header ever mined, orphans included (reachable by hash, as on a real node).
    by_hash: HashMap<B256, L1Header>,
    logs: HashMap<B256, Vec<L1Log>>,
    transactions: HashMap<B256, Vec<L1Transaction>>,
    receipts: HashMap<B256, L1Receipt>,
    pending: Vec<L1Transaction>,
    nonces: HashMap<Address, u64>,
    /// `eth_call` answers by (contract, calldata): no EVM runs here.
    call_results: HashMap<(Address, Bytes), Bytes>,
    /// Makes re-mined blocks at the same height differ from the ones they replace.
    salt: u64,
    failures_left: u32,
    /// Blocks between the head and the `safe` / `finalized` tags.
    safe_lag: u64,
    finalized_lag: u64,
    calls: u64,
}

/// An in-memory L1 chain.
#[derive(Debug)]
pub struct MemoryL1 {
    state: Mutex<State>,
}

impl MemoryL1 {
    /// A chain with id `chain_id` holding only its genesis block.
    pub fn new(chain_id: u64) -> Self {
        let l1 = Self {
            state: Mutex::new(State {
                chain_id,
                safe_lag: 32,
                finalized_lag: 64,
                ..State::default()
            }),
        };
        l1.mine_with(Vec::new());
        l1
    }

    /// The canonical head.
    pub fn head(&self) -> L1BlockRef {
        let state = self.state.lock();
        state
            .canonical
            .last()
            .map(L1Header::block_ref)
            .unwrap_or_default()
    }

    /// The canonical block at `number`.
    pub fn block(&self, number: u64) -> Option<L1BlockRef> {
        let state = self.state.lock();
        state
            .canonical
            .get(number as usize)
            .map(L1Header::block_ref)
    }

    /// Mines `count` empty blocks (apart from pending transactions); returns the new head.
    pub fn mine(&self, count: u64) -> L1BlockRef {
        let mut head = self.head();
        for _ in 0..count {
            head = self.mine_with(Vec::new());
        }
        head
    }

    /// Mines one block with these logs (their `log_index` is their position) and the pending
    /// transactions.
    pub fn mine_with(&self, logs: Vec<Log>) -> L1BlockRef {
        let mut state = self.state.lock();
        state.salt += 1;
        let parent = state.canonical.last().cloned();
        let header = Header {
            parent_hash: parent.as_ref().map_or(B256::ZERO, |p| p.hash),
            number: parent.as_ref().map_or(0, |p| p.header.number + 1),
            timestamp: parent.as_ref().map_or(MEMORY_L1_GENESIS_TIME, |p| {
                p.header.timestamp + MEMORY_L1_BLOCK_TIME
            }),
            base_fee_per_gas: Some(1_000_000_000),
            gas_limit: 30_000_000,
            extra_data: Bytes::copy_from_slice(&state.salt.to_be_bytes()),
            ..Header::default()
        };
        let sealed = L1Header {
            hash: header.hash_slow(),
            header,
        };
        let block = sealed.block_ref();
        let logs = logs
            .into_iter()
            .enumerate()
            .map(|(index, inner)| L1Log {
                block_hash: block.hash,
                log_index: index as u64,
                inner,
            })
            .collect();
        let transactions = std::mem::take(&mut state.pending);
        for tx in &transactions {
            state.receipts.insert(
                tx.hash,
                L1Receipt {
                    transaction_hash: tx.hash,
                    block: block.id(),
                    success: true,
                    gas_used: 21_000,
                    effective_gas_price: 1_000_000_000,
                },
            );
        }
        state.logs.insert(block.hash, logs);
        state.transactions.insert(block.hash, transactions);
        state.by_hash.insert(block.hash, sealed.clone());
        state.canonical.push(sealed);
        block
    }

    /// Replaces the newest `depth` blocks by `new_blocks` fresh ones (without the replaced
    /// blocks' logs or transactions); returns the new head. The genesis block stays.
    pub fn reorg(&self, depth: u64, new_blocks: u64) -> L1BlockRef {
        {
            let mut state = self.state.lock();
            let keep = state.canonical.len().saturating_sub(depth as usize).max(1);
            let dropped: Vec<_> = state.canonical.drain(keep..).collect();
            // Transactions of dropped blocks lose their receipts, as on a real node.
            for header in dropped {
                let txs = state
                    .transactions
                    .get(&header.hash)
                    .cloned()
                    .unwrap_or_default();
                for tx in txs {
                    state.receipts.remove(&tx.hash);
                }
            }
        }
        self.mine(new_blocks)
    }

    /// Makes `eth_call`s of `to` with calldata `input` answer `output` (at every block); other
    /// calls are refused as reverted, since no EVM runs here.
    pub fn set_call_result(&self, to: Address, input: Bytes, output: Bytes) {
        self.state.lock().call_results.insert((to, input), output);
    }

    /// Makes the next `count` requests fail as an unreachable endpoint would.
    pub fn fail_next(&self, count: u32) {
        self.state.lock().failures_left = count;
    }

    /// Requests served or refused so far.
    pub fn calls(&self) -> u64 {
        self.state.lock().calls
    }

    fn enter(&self, method: &'static str) -> Result<parking_lot::MutexGuard<'_, State>, L1Error> {
        let mut state = self.state.lock();
        state.calls += 1;
        if state.failures_left > 0 {
            state.failures_left -= 1;
            return Err(L1Error::Unavailable {
                method,
                attempts: 1,
                elapsed: Duration::ZERO,
                last: "injected failure".into(),
            });
        }
        Ok(state)
    }
}

impl L1Client for MemoryL1 {
    async fn chain_id(&self) -> Result<u64, L1Error> {
        Ok(self.enter("eth_chainId")?.chain_id)
    }

    async fn block_ref(&self, tag: BlockTag) -> Result<L1BlockRef, L1Error> {
        let state = self.enter("eth_getBlockByNumber")?;
        let len = state.canonical.len() as u64;
        let lag = match tag {
            BlockTag::Latest => 0,
            BlockTag::Safe => state.safe_lag,
            BlockTag::Finalized => state.finalized_lag,
        };
        let index = (len - 1).saturating_sub(lag);
        Ok(state.canonical[index as usize].block_ref())
    }

    async fn header_by_number(&self, number: u64) -> Result<Option<L1Header>, L1Error> {
        Ok(self
            .enter("eth_getBlockByNumber")?
            .canonical
            .get(number as usize)
            .cloned())
    }

    async fn header_by_hash(&self, hash: B256) -> Result<Option<L1Header>, L1Error> {
        Ok(self
            .enter("eth_getBlockByHash")?
            .by_hash
            .get(&hash)
            .cloned())
    }

    async fn logs(
        &self,
        block_hash: B256,
        address: Address,
        topic0: B256,
    ) -> Result<Vec<L1Log>, L1Error> {
        let state = self.enter("eth_getLogs")?;
        Ok(state
            .logs
            .get(&block_hash)
            .into_iter()
            .flatten()
            .filter(|log| {
                log.inner.address == address && log.inner.topics().first() == Some(&topic0)
            })
            .cloned()
            .collect())
    }

    async fn block_transactions(&self, block_hash: B256) -> Result<Vec<L1Transaction>, L1Error> {
        let state = self.enter("eth_getBlockByHash")?;
        state
            .transactions
            .get(&block_hash)
            .cloned()
            .ok_or_else(|| L1Error::BlockNotFound(block_hash.to_string()))
    }

    async fn nonce(&self, address: Address) -> Result<u64, L1Error> {
        Ok(self
            .enter("eth_getTransactionCount")?
            .nonces
            .get(&address)
            .copied()
            .unwrap_or(0))
    }

    async fn fees(&self) -> Result<Fees, L1Error> {
        drop(self.enter("eth_feeHistory")?);
        Ok(Fees {
            max_fee_per_gas: 3_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
        })
    }

    async fn estimate_gas(&self, query: GasQuery) -> Result<u64, L1Error> {
        drop(self.enter("eth_estimateGas")?);
        Ok(21_000 + 16 * query.input.len() as u64)
    }

    async fn call(&self, query: GasQuery, _block: BlockTag) -> Result<Bytes, L1Error> {
        let state = self.enter("eth_call")?;
        let reverted = || L1Error::Rejected {
            method: "eth_call",
            message: "execution reverted (no result set on this MemoryL1)".into(),
        };
        let TxKind::Call(to) = query.to else {
            return Err(reverted());
        };
        state
            .call_results
            .get(&(to, query.input))
            .cloned()
            .ok_or_else(reverted)
    }

    async fn send_raw_transaction(&self, raw: Bytes) -> Result<B256, L1Error> {
        let mut state = self.enter("eth_sendRawTransaction")?;
        let rejected = |message: String| L1Error::Rejected {
            method: "eth_sendRawTransaction",
            message,
        };
        let envelope = TxEnvelope::decode_2718(&mut raw.as_ref())
            .map_err(|err| rejected(format!("undecodable transaction: {err}")))?;
        let from = envelope
            .recover_signer()
            .map_err(|err| rejected(err.to_string()))?;
        let expected = state.nonces.get(&from).copied().unwrap_or(0);
        if envelope.nonce() != expected {
            return Err(rejected(format!(
                "nonce {} is not {expected}",
                envelope.nonce()
            )));
        }
        state.nonces.insert(from, expected + 1);
        let hash = *envelope.tx_hash();
        state.pending.push(L1Transaction {
            hash,
            from,
            to: envelope.to(),
            input: envelope.input().clone(),
        });
        Ok(hash)
    }

    async fn receipt(&self, hash: B256) -> Result<Option<L1Receipt>, L1Error> {
        Ok(self
            .enter("eth_getTransactionReceipt")?
            .receipts
            .get(&hash)
            .copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        deposits::{BlockDepositsError, DEPOSIT_EVENT_TOPIC, DepositError, block_deposits},
        tx::{L1Call, send_call, send_signed, sign_call, wait_for_receipt},
    };
    use alloy::{
        primitives::{LogData, U256},
        signers::local::PrivateKeySigner,
    };

    #[tokio::test]
    async fn block_deposits_keep_log_order_and_fail_on_a_malformed_log() {
        let l1 = MemoryL1::new(1);
        let portal = Address::repeat_byte(0x42);
        let deposit = |mint: u8| {
            let mut opaque = vec![0u8; 73];
            opaque[31] = mint;
            opaque[71] = 0x52; // gas limit 0x52
            let mut data = U256::from(32).to_be_bytes_vec();
            data.extend(U256::from(73).to_be_bytes::<32>());
            data.extend(&opaque);
            data.resize(160, 0);
            let topics = vec![DEPOSIT_EVENT_TOPIC, B256::ZERO, B256::ZERO, B256::ZERO];
            Log {
                address: portal,
                data: LogData::new_unchecked(topics, data.into()),
            }
        };
        let other = Log {
            address: Address::repeat_byte(1),
            ..deposit(9)
        };
        let block = l1.mine_with(vec![deposit(1), other, deposit(2)]);
        let deposits = block_deposits(&l1, portal, block.hash).await.unwrap();
        assert_eq!(deposits.iter().map(|d| d.mint).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(
            deposits[1].source_hash,
            crate::user_deposit_source_hash(block.hash, 2)
        );

        let mut broken = deposit(3);
        broken.data = LogData::new_unchecked(broken.data.topics().to_vec(), vec![0u8; 31].into());
        let block = l1.mine_with(vec![deposit(1), broken]);
        match block_deposits(&l1, portal, block.hash).await {
            Err(BlockDepositsError::Malformed {
                log_index: 1,
                error,
                ..
            }) => {
                assert_eq!(error, DepositError::UnalignedData(31));
            }
            other => panic!("expected a malformed-log error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_signed_call_is_sent_only_when_asked_and_a_second_send_is_refused() {
        let l1 = MemoryL1::new(1);
        let signer = PrivateKeySigner::random();
        let call = L1Call {
            to: Address::repeat_byte(0xbb),
            value: U256::ZERO,
            input: Bytes::from_static(b"\x00frame"),
            gas_limit: None,
        };
        let signed = sign_call(&l1, &signer, 1, call).await.unwrap();
        assert_eq!(signed.nonce, 0);
        assert_eq!(
            l1.nonce(signer.address()).await.unwrap(),
            0,
            "signing sends nothing"
        );
        assert_eq!(send_signed(&l1, &signed).await.unwrap(), signed.hash);
        assert!(matches!(
            send_signed(&l1, &signed).await,
            Err(L1Error::Rejected { .. })
        ));
        let block = l1.mine(1);
        let txs = l1.block_transactions(block.hash).await.unwrap();
        assert_eq!(
            txs.iter().map(|tx| tx.hash).collect::<Vec<_>>(),
            [signed.hash]
        );
    }

    #[tokio::test]
    async fn sent_transactions_are_mined_with_their_sender_and_lose_receipts_in_a_reorg() {
        let l1 = MemoryL1::new(1);
        let signer = PrivateKeySigner::random();
        let inbox = Address::repeat_byte(0xbb);
        let call = L1Call {
            to: inbox,
            value: U256::ZERO,
            input: Bytes::from_static(b"\x01frame"),
            gas_limit: None,
        };
        let hash = send_call(&l1, &signer, 1, call.clone()).await.unwrap();
        assert_eq!(l1.receipt(hash).await.unwrap(), None);
        let block = l1.mine(1);
        let receipt = wait_for_receipt(&l1, hash, Duration::ZERO, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(receipt.block, block.id());
        let txs = l1.block_transactions(block.hash).await.unwrap();
        assert_eq!(txs.len(), 1);
        assert_eq!(
            (txs[0].from, txs[0].to, &txs[0].input),
            (signer.address(), Some(inbox), &call.input)
        );
        assert_eq!(l1.nonce(signer.address()).await.unwrap(), 1);

        l1.reorg(1, 2);
        assert_eq!(l1.receipt(hash).await.unwrap(), None);
        assert!(matches!(
            wait_for_receipt(&l1, hash, Duration::ZERO, Duration::ZERO).await,
            Err(L1Error::ReceiptTimeout { .. })
        ));
    }
}
