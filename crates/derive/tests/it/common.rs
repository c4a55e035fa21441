//! The test world: an in-memory L1 with a batcher key and a deposit contract, a model L2
//! chain a sequencer would have built on it, channels built from that chain as the batcher
//! builds them, and a driver that runs a pipeline and "executes" what it derives.

use alloy::signers::local::PrivateKeySigner;
use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_primitives::{Address, B256, Bytes, Log, LogData, Signature, TxKind, U256, keccak256};
use ol_da::{Commitment, DaClient, DaServer, DaServerConfig, DaStore, HttpDaClient, PutMode};
use ol_derive::{DerivedBlock, L2BlockInfo, Pipeline, Step};
use ol_l1::{
    DEPOSIT_EVENT_TOPIC, L1BlockRef,
    test_utils::{MEMORY_L1_GENESIS_TIME, MemoryL1},
    tx::{L1Call, send_call},
};
use ol_primitives::RollupConfig;
use ol_rollup::{
    ChannelBuilder, ChannelConfig, ChannelId, Frame, SingleBatch,
    channel::{BatchMode, MAX_RLP_BYTES_PER_CHANNEL_FJORD},
    compression::CompressionAlgo,
    frame::encode_batcher_payload,
};
use std::{sync::Arc, time::Duration};

/// L2 chain id of the test rollup.
pub(crate) const L2_CHAIN_ID: u64 = 1612;
/// L1 chain id.
pub(crate) const L1_CHAIN_ID: u64 = 900;
/// Seconds between L2 blocks (six per 12-second L1 block).
pub(crate) const BLOCK_TIME: u64 = 2;

/// The deposit contract of the test rollup.
pub(crate) fn portal() -> Address {
    Address::repeat_byte(0x42)
}

/// A `TransactionDeposited` log minting `mint` wei to `to`.
pub(crate) fn deposit_log(to: Address, mint: u8) -> Log {
    let mut opaque = vec![0u8; 73];
    opaque[31] = mint;
    opaque[71] = 0x52; // gas limit 0x52
    let mut data = U256::from(32).to_be_bytes_vec();
    data.extend(U256::from(73).to_be_bytes::<32>());
    data.extend(&opaque);
    data.resize(160, 0);
    let topics = vec![
        DEPOSIT_EVENT_TOPIC,
        Address::repeat_byte(0x99).into_word(),
        to.into_word(),
        B256::ZERO,
    ];
    Log {
        address: portal(),
        data: LogData::new_unchecked(topics, data.into()),
    }
}

/// A signed-looking EIP-1559 transaction (derivation never checks signatures), distinct per
/// `seed`, in its EIP-2718 encoding: span batches carry it exactly.
pub(crate) fn user_tx(seed: u64) -> Bytes {
    let tx = TxEip1559 {
        chain_id: L2_CHAIN_ID,
        nonce: seed,
        gas_limit: 21_000 + seed,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000,
        to: TxKind::Call(Address::repeat_byte(0x11)),
        value: U256::from(seed),
        input: Bytes::from(seed.to_be_bytes().to_vec()),
        access_list: Default::default(),
    };
    let r = U256::from_be_bytes(keccak256(seed.to_be_bytes()).0);
    let s = U256::from(seed + 1);
    let signed = tx.into_signed(Signature::new(r, s, seed % 2 == 1));
    let mut out = Vec::new();
    alloy::eips::Encodable2718::encode_2718(&signed, &mut out);
    out.into()
}

/// The model L2 block hash of block `number` (the tests "execute" blocks by looking it up).
pub(crate) fn l2_hash(number: u64) -> B256 {
    keccak256([b"l2".as_slice(), &number.to_be_bytes()].concat())
}

/// One L2 block of the model chain.
#[derive(Debug, Clone)]
pub(crate) struct ModelBlock {
    pub(crate) info: L2BlockInfo,
    pub(crate) txs: Vec<Bytes>,
}

impl ModelBlock {
    /// The block as a singular batch.
    pub(crate) fn batch(&self) -> SingleBatch {
        SingleBatch {
            parent_hash: self.info.parent_hash,
            epoch_num: self.info.l1_origin.number,
            epoch_hash: self.info.l1_origin.hash,
            timestamp: self.info.timestamp,
            transactions: self.txs.clone(),
        }
    }
}

/// The test world.
pub(crate) struct World {
    pub(crate) rollup: RollupConfig,
    pub(crate) l1: Arc<MemoryL1>,
    pub(crate) batcher: PrivateKeySigner,
    /// Genesis first.
    pub(crate) chain: Vec<ModelBlock>,
}

impl World {
    /// A world with an L1 genesis block and an L2 genesis on it; `seq_window_size` as given.
    pub(crate) fn new(seq_window_size: u64) -> Self {
        let l1 = Arc::new(MemoryL1::new(L1_CHAIN_ID));
        let batcher = PrivateKeySigner::random();
        let genesis_l1 = l1.block(0).expect("L1 genesis");
        let mut rollup = RollupConfig::dev(L2_CHAIN_ID);
        rollup.block_time = BLOCK_TIME;
        rollup.seq_window_size = seq_window_size;
        rollup.deposit_contract_address = portal();
        rollup.genesis.l1 = genesis_l1.id();
        rollup.genesis.l2 = ol_primitives::L1BlockRef {
            hash: l2_hash(0),
            number: 0,
        };
        rollup.genesis.l2_time = MEMORY_L1_GENESIS_TIME;
        rollup.genesis.system_config.batcher_addr = batcher.address();
        let genesis = ModelBlock {
            info: L2BlockInfo {
                number: 0,
                hash: l2_hash(0),
                parent_hash: B256::ZERO,
                timestamp: MEMORY_L1_GENESIS_TIME,
                l1_origin: genesis_l1.id(),
                sequence_number: 0,
            },
            txs: Vec::new(),
        };
        Self {
            rollup,
            l1,
            batcher,
            chain: vec![genesis],
        }
    }

    /// The L2 genesis block.
    pub(crate) fn genesis(&self) -> L2BlockInfo {
        self.chain[0].info
    }

    /// Extends the model chain to block `last`, as a sequencer would: each block takes the
    /// newest L1 block at or before its timestamp as origin (one step at most), and carries
    /// `txs_per_block` user transactions.
    pub(crate) fn sequence_to(&mut self, last: u64, txs_per_block: u64) {
        while (self.chain.len() as u64) <= last {
            let parent = self.chain.last().expect("genesis").info;
            let timestamp = parent.timestamp + BLOCK_TIME;
            let next = self.l1.block(parent.l1_origin.number + 1);
            let origin = match next {
                Some(next) if next.timestamp <= timestamp => next,
                _ => self.l1.block(parent.l1_origin.number).expect("origin"),
            };
            let number = parent.number + 1;
            let info = L2BlockInfo {
                number,
                hash: l2_hash(number),
                parent_hash: parent.hash,
                timestamp,
                l1_origin: origin.id(),
                sequence_number: if origin.number == parent.l1_origin.number {
                    parent.sequence_number + 1
                } else {
                    0
                },
            };
            let txs = (0..txs_per_block)
                .map(|i| user_tx(number * 100 + i))
                .collect();
            self.chain.push(ModelBlock { info, txs });
        }
    }

    /// Model blocks `first..=last`.
    pub(crate) fn blocks(&self, first: u64, last: u64) -> &[ModelBlock] {
        &self.chain[first as usize..=last as usize]
    }

    /// A span-batch channel of `blocks`, cut into frames of at most `frame_data` bytes.
    pub(crate) fn span_channel(
        &self,
        id: u8,
        blocks: &[ModelBlock],
        frame_data: usize,
    ) -> Vec<Frame> {
        let mode = BatchMode::Span {
            genesis_timestamp: self.rollup.genesis.l2_time,
            block_time: BLOCK_TIME,
            chain_id: L2_CHAIN_ID,
        };
        channel(id, blocks, mode, frame_data)
    }

    /// A singular-batch channel of `batches`.
    pub(crate) fn singular_channel(&self, id: u8, batches: &[SingleBatch]) -> Vec<Frame> {
        let blocks: Vec<ModelBlock> = batches
            .iter()
            .map(|batch| ModelBlock {
                info: L2BlockInfo {
                    parent_hash: batch.parent_hash,
                    timestamp: batch.timestamp,
                    l1_origin: ol_primitives::L1BlockRef {
                        hash: batch.epoch_hash,
                        number: batch.epoch_num,
                    },
                    ..Default::default()
                },
                txs: batch.transactions.clone(),
            })
            .collect();
        channel(id, &blocks, BatchMode::Singular, 100_000)
    }

    /// Sends an inbox transaction with `input` from `from` to `to` (mined with the next block).
    pub(crate) async fn send(&self, from: &PrivateKeySigner, to: Address, input: Vec<u8>) {
        let call = L1Call {
            to,
            value: U256::ZERO,
            input: input.into(),
            gas_limit: Some(1_000_000),
        };
        send_call(&*self.l1, from, L1_CHAIN_ID, call)
            .await
            .expect("sent");
    }

    /// Posts `frames` from the batcher to the inbox as calldata, one frame per transaction.
    pub(crate) async fn post_calldata(&self, frames: &[Frame]) {
        for frame in frames {
            let input = encode_batcher_payload(std::slice::from_ref(frame)).expect("encodes");
            self.send(&self.batcher, self.rollup.batch_inbox_address, input)
                .await;
        }
    }

    /// Stores `frames` in DA as one payload and posts the commitment to the inbox.
    pub(crate) async fn post_da(&self, da: &HttpDaClient, frames: &[Frame]) -> Commitment {
        let payload = encode_batcher_payload(frames).expect("encodes");
        let commitment = da.put(payload.into()).await.expect("DA put");
        self.send(
            &self.batcher,
            self.rollup.batch_inbox_address,
            commitment.to_tx_data(),
        )
        .await;
        commitment
    }

    /// Mines one L1 block (with the pending transactions) and returns it.
    pub(crate) fn mine(&self) -> L1BlockRef {
        self.l1.mine(1)
    }

    /// A pipeline over this world from the L2 genesis.
    pub(crate) fn pipeline<D: DaClient>(&self, da: D) -> Pipeline<Arc<MemoryL1>, D> {
        Pipeline::new(
            self.rollup.clone(),
            self.l1.clone(),
            da,
            self.genesis(),
            self.rollup.genesis.l1.number,
        )
        .expect("Holocene config")
    }
}

fn channel(id: u8, blocks: &[ModelBlock], mode: BatchMode, frame_data: usize) -> Vec<Frame> {
    let config = ChannelConfig {
        compression: CompressionAlgo::BROTLI_10,
        batch_mode: mode,
        max_frame_size: frame_data + ol_rollup::frame::FRAME_OVERHEAD,
        max_frames: 10_000,
        target_size: 10_000_000,
        max_rlp_bytes: MAX_RLP_BYTES_PER_CHANNEL_FJORD,
        max_duration: 0,
    };
    let mut builder = ChannelBuilder::new(ChannelId::repeat_byte(id), config, 0);
    for block in blocks {
        builder
            .add_block(&block.batch(), block.info.sequence_number == 0)
            .expect("block fits");
    }
    builder.seal().expect("seals").expect("not empty").frames
}

/// A running DA server with its client.
pub(crate) struct Da {
    pub(crate) server: DaServer,
    pub(crate) client: HttpDaClient,
    _dir: tempfile::TempDir,
}

impl Da {
    /// Starts a DA server on a free port; `mode` is how the client puts.
    pub(crate) async fn start(mode: PutMode) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = DaStore::open(dir.path()).expect("store");
        let server = DaServer::start(
            store,
            "127.0.0.1:0".parse().expect("addr"),
            DaServerConfig::default(),
        )
        .await
        .expect("server");
        let client = HttpDaClient::new(
            &format!("http://{}", server.local_addr()),
            mode,
            Duration::from_secs(5),
        )
        .expect("client");
        Self {
            server,
            client,
            _dir: dir,
        }
    }
}

/// What a run of steps produced, in order.
#[derive(Debug, Clone)]
pub(crate) enum Event {
    Derived(Box<DerivedBlock>),
    Consumed(u64),
}

/// Steps `pipeline` until idle at `l1_limit`, executing every derived block as the model
/// chain's block of that number (or, past the model chain, under its model hash).
pub(crate) async fn run<D: DaClient>(
    pipeline: &mut Pipeline<Arc<MemoryL1>, D>,
    l1_limit: u64,
) -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        match pipeline.step(l1_limit).await.expect("step") {
            Step::Derived(block) => {
                pipeline.on_block_executed(block.block_info(l2_hash(block.number())));
                events.push(Event::Derived(Box::new(block)));
            }
            Step::L1Consumed(block) => events.push(Event::Consumed(block.number)),
            Step::Idle => return events,
        }
        assert!(events.len() < 10_000, "pipeline does not go idle");
    }
}

/// The derived blocks among `events`.
pub(crate) fn derived(events: &[Event]) -> Vec<DerivedBlock> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Derived(block) => Some((**block).clone()),
            Event::Consumed(_) => None,
        })
        .collect()
}

/// Asserts `derived` are exactly model blocks `first..`, each derived from `derived_from`.
pub(crate) fn assert_model_blocks(
    world: &World,
    derived: &[DerivedBlock],
    first: u64,
    derived_from: u64,
) {
    for (i, block) in derived.iter().enumerate() {
        let model = &world.chain[first as usize + i];
        assert_eq!(block.number(), model.info.number);
        assert_eq!(block.parent, world.chain[first as usize + i - 1].info);
        assert_eq!(
            block.block_info(model.info.hash),
            model.info,
            "block {}",
            model.info.number
        );
        assert_eq!(
            block.transactions, model.txs,
            "txs of block {}",
            model.info.number
        );
        assert_eq!(block.epoch.id(), model.info.l1_origin);
        assert_eq!(block.derived_from.number, derived_from);
        assert_eq!(block.attributes.timestamp, model.info.timestamp);
        assert_eq!(
            block.attributes.l1_info.origin.number,
            model.info.l1_origin.number
        );
        assert_eq!(
            block.attributes.l1_info.origin.hash,
            model.info.l1_origin.hash
        );
    }
}
