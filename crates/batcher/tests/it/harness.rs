//! The test bench: a real node database with blocks committed through its public API (an
//! L1-info deposit and signed user transactions each), the built-in DA server over HTTP, an
//! in-memory L1, and a decoder that reads the batch inbox back the way a follower does.

use crate::flaky::FlakyL1;
use alloy::signers::{SignerSync, local::PrivateKeySigner};
use alloy_consensus::{Header, Sealable, Sealed, SignableTransaction, TxEip1559};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use ol_batcher::{Batcher, BatcherConfig};
use ol_da::{Commitment, DaClient, DaServer, DaServerConfig, DaStore, HttpDaClient, PutMode};
use ol_l1::test_utils::MemoryL1;
use ol_primitives::{ChainSpec, L1BlockInfo, L1Origin, OpTxEnvelope};
use ol_rollup::{
    Batch, ChannelId, ChannelReader, Frame, batch::SpanBatch,
    channel::MAX_RLP_BYTES_PER_CHANNEL_FJORD, frame::parse_batcher_payload,
};
use ol_storage::{BlockBody, StateChanges, Storage};
use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

pub(crate) type TestBatcher = Batcher<Arc<FlakyL1>, HttpDaClient>;

pub(crate) struct Bench {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) storage: Storage,
    pub(crate) spec: ChainSpec,
    pub(crate) chain: Arc<MemoryL1>,
    pub(crate) l1: Arc<FlakyL1>,
    pub(crate) da: DaServer,
    pub(crate) batcher_key: PrivateKeySigner,
    users: Vec<PrivateKeySigner>,
    nonces: Vec<u64>,
    /// User transactions of every committed block, by block number.
    pub(crate) expected: Vec<(u64, Vec<Bytes>)>,
}

/// What the inbox holds.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    /// Every batched block in inbox order, with its transactions.
    pub(crate) blocks: Vec<(u64, Vec<Bytes>)>,
    /// Inbox transactions carrying a commitment.
    pub(crate) commitment_txs: usize,
    /// Inbox transactions carrying frames.
    pub(crate) calldata_txs: usize,
    /// Longest calldata transaction input.
    pub(crate) max_calldata_len: usize,
    /// Most frames in one DA payload.
    pub(crate) max_frames_per_payload: usize,
    /// Hashes of the inbox transactions, in order.
    pub(crate) tx_hashes: Vec<B256>,
    /// Channel ids in the order they completed.
    pub(crate) channels: Vec<ChannelId>,
}

/// Test settings: channels close at every step, included channels are forgotten 3 blocks deep.
pub(crate) fn quick_config() -> BatcherConfig {
    BatcherConfig {
        max_channel_age_l1: 0,
        finality_depth: 3,
        poll_interval: Duration::from_millis(20),
        ..BatcherConfig::default()
    }
}

impl Bench {
    pub(crate) async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(&dir.path().join("node")).unwrap();
        let batcher_key = PrivateKeySigner::random();
        let mut spec = ol_primitives::dev::dev_chain_spec(None, 1_700_000_000).unwrap();
        spec.rollup.genesis.system_config.batcher_addr = batcher_key.address();
        storage.init_genesis(&spec).unwrap();
        let chain = Arc::new(MemoryL1::new(spec.rollup.l1_chain_id));
        let l1 = Arc::new(FlakyL1::new(chain.clone()));
        let store = DaStore::open(&dir.path().join("da")).unwrap();
        let da = DaServer::start(
            store,
            SocketAddr::from(([127, 0, 0, 1], 0)),
            DaServerConfig {
                admin: true,
                ..DaServerConfig::default()
            },
        )
        .await
        .unwrap();
        let users: Vec<_> = (0..3).map(ol_primitives::dev::dev_signer).collect();
        Self {
            dir,
            storage,
            spec,
            chain,
            l1,
            da,
            batcher_key,
            nonces: vec![0; users.len()],
            users,
            expected: Vec::new(),
        }
    }

    pub(crate) fn da_client(&self) -> HttpDaClient {
        HttpDaClient::new(
            &format!("http://{}", self.da.local_addr()),
            PutMode::Generic,
            Duration::from_secs(10),
        )
        .unwrap()
    }

    pub(crate) fn batcher(&self, config: BatcherConfig) -> TestBatcher {
        self.batcher_with(config, self.spec.rollup.clone())
    }

    pub(crate) fn batcher_with(
        &self,
        config: BatcherConfig,
        rollup: ol_primitives::RollupConfig,
    ) -> TestBatcher {
        Batcher::open(
            &self.dir.path().join("batcher"),
            config,
            rollup,
            self.storage.clone(),
            self.l1.clone(),
            self.da_client(),
            self.batcher_key.clone(),
        )
        .unwrap()
    }

    pub(crate) fn l1_head(&self) -> u64 {
        self.chain.head().number
    }

    /// Makes every DA put answer 503 (or not).
    pub(crate) async fn set_da_failover(&self, on: bool) {
        let response = reqwest::Client::new()
            .post(format!(
                "http://{}/admin/put-failover",
                self.da.local_addr()
            ))
            .body(on.to_string())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    /// Commits the next L2 block with `txs` user transactions of `data_len` random bytes each.
    /// Two L2 blocks per epoch, so span batches carry origin changes.
    pub(crate) fn commit_block(&mut self, txs: usize, data_len: usize) -> u64 {
        let head = self.storage.head_header().unwrap();
        let number = head.number + 1;
        let epoch = (number - 1) / 2;
        let origin = L1Origin {
            number: epoch,
            hash: keccak256(epoch.to_be_bytes()),
            timestamp: 1_600_000_000 + epoch * 12,
            base_fee: 1_000_000_000,
            blob_base_fee: 1,
        };
        let info = L1BlockInfo::new(origin, (number - 1) % 2, self.spec.system_config());
        let deposit = info.deposit_tx();
        let mut transactions = vec![OpTxEnvelope::Deposit(Sealed::new(deposit.clone()))];
        let mut senders = vec![deposit.from];
        let mut user_txs = Vec::new();
        for i in 0..txs {
            let who = (number as usize + i) % self.users.len();
            let signer = &self.users[who];
            let input: Vec<u8> = (0..data_len).map(|_| rand::random::<u8>()).collect();
            let tx = TxEip1559 {
                chain_id: self.spec.chain_id(),
                nonce: self.nonces[who],
                gas_limit: 21_000 + 16 * data_len as u64,
                max_fee_per_gas: 2_000_000_000,
                max_priority_fee_per_gas: 1,
                to: TxKind::Call(Address::repeat_byte(0x77)),
                value: U256::from(number),
                access_list: Default::default(),
                input: input.into(),
            };
            self.nonces[who] += 1;
            let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
            let envelope = OpTxEnvelope::Eip1559(tx.into_signed(signature));
            user_txs.push(Bytes::from(envelope.encoded_2718()));
            transactions.push(envelope);
            senders.push(signer.address());
        }
        let prepared = self
            .storage
            .prepare_state(&StateChanges::default())
            .unwrap();
        let header = Header {
            parent_hash: head.hash(),
            number,
            state_root: prepared.state_root,
            timestamp: self.spec.rollup.genesis.l2_time + number * self.spec.rollup.block_time,
            withdrawals_root: Some(prepared.withdrawals_root),
            ..head.inner().clone()
        }
        .seal_slow();
        let body = BlockBody {
            transactions,
            senders,
        };
        self.storage
            .commit_block(&header, &body, &[], &Default::default(), &prepared)
            .unwrap();
        self.expected.push((number, user_txs));
        number
    }

    pub(crate) fn commit_blocks(&mut self, count: usize, txs: usize, data_len: usize) {
        for _ in 0..count {
            self.commit_block(txs, data_len);
        }
    }

    /// Reads the canonical L1 chain's inbox as a follower does: batcher transactions to the
    /// inbox, commitments resolved through DA, frames reassembled into channels, span batches
    /// decoded into blocks.
    pub(crate) async fn read_inbox(&self) -> Inbox {
        let rollup = &self.spec.rollup;
        let da = self.da_client();
        let mut inbox = Inbox::default();
        let mut pending: HashMap<ChannelId, Vec<Frame>> = HashMap::new();
        for number in 0..=self.l1_head() {
            let block = self.chain.block(number).unwrap();
            for tx in ol_l1::L1Client::block_transactions(&*self.chain, block.hash)
                .await
                .unwrap()
            {
                if tx.to != Some(rollup.batch_inbox_address)
                    || tx.from != self.batcher_key.address()
                {
                    continue;
                }
                inbox.tx_hashes.push(tx.hash);
                let payload = match tx.input.first() {
                    Some(1) => {
                        inbox.commitment_txs += 1;
                        let commitment = Commitment::from_tx_data(&tx.input).unwrap();
                        da.get(&commitment).await.unwrap()
                    }
                    Some(0) => {
                        inbox.calldata_txs += 1;
                        inbox.max_calldata_len = inbox.max_calldata_len.max(tx.input.len());
                        tx.input.clone()
                    }
                    other => panic!("unexpected batcher transaction version {other:?}"),
                };
                let frames = parse_batcher_payload(&payload).unwrap();
                inbox.max_frames_per_payload = inbox.max_frames_per_payload.max(frames.len());
                for frame in frames {
                    let id = frame.channel_id;
                    let is_last = frame.is_last;
                    pending.entry(id).or_default().push(frame);
                    if is_last {
                        let mut frames = pending.remove(&id).unwrap();
                        frames.sort_by_key(|frame| frame.number);
                        let data: Vec<u8> = frames
                            .iter()
                            .flat_map(|frame| frame.data.iter().copied())
                            .collect();
                        inbox.channels.push(id);
                        inbox.blocks.extend(self.decode_channel(&data));
                    }
                }
            }
        }
        inbox
    }

    fn decode_channel(&self, data: &[u8]) -> Vec<(u64, Vec<Bytes>)> {
        let rollup = &self.spec.rollup;
        assert_eq!(data[0], 0x01, "Fjord brotli channel version byte");
        let mut out = Vec::new();
        for batch in ChannelReader::new(data, MAX_RLP_BYTES_PER_CHANNEL_FJORD, true).unwrap() {
            let Batch::Span(raw) = batch.unwrap() else {
                panic!("the batcher writes span batches")
            };
            let span = SpanBatch::from_raw(
                &raw,
                rollup.genesis.l2_time,
                rollup.block_time,
                rollup.l2_chain_id,
            )
            .unwrap();
            // As a follower does: the span must extend the block before it and name the
            // origins the blocks were built on.
            let first = (span.elements[0].timestamp - rollup.genesis.l2_time) / rollup.block_time;
            let parent = self.storage.canonical_hash(first - 1).unwrap().unwrap();
            let singles = span
                .to_singular_batches(parent, |epoch| Some(keccak256(epoch.to_be_bytes())))
                .unwrap();
            for (index, single) in singles.into_iter().enumerate() {
                let number = (single.timestamp - rollup.genesis.l2_time) / rollup.block_time;
                assert_eq!(number, first + index as u64);
                assert_eq!(
                    single.epoch_num,
                    (number - 1) / 2,
                    "L1 origin of block {number}"
                );
                out.push((number, single.transactions));
            }
        }
        out
    }

    /// Asserts the inbox carries every committed block exactly once, in order, with exactly its
    /// user transactions.
    pub(crate) fn assert_all_blocks_once(&self, inbox: &Inbox) {
        let numbers: Vec<u64> = inbox.blocks.iter().map(|(n, _)| *n).collect();
        let expected: Vec<u64> = self.expected.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, expected, "every block exactly once, in order");
        assert_eq!(inbox.blocks, self.expected, "the blocks' user transactions");
    }
}
