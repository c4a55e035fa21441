//! Test fixtures: a dev chain on a temporary RocksDB, signed dev-account transactions, and
//! `TransactionDeposited` logs for a `MemoryL1`.

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, Log, LogData, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use ol_chain::{Chain, DevEpochs, derivation::BatchTransactions};
use ol_l1::DEPOSIT_EVENT_TOPIC;
use ol_primitives::{ChainSpec, OpTxEnvelope, dev::dev_chain_spec};
use ol_storage::Storage;
use std::{path::Path, sync::Arc};

/// Genesis timestamp of the dev chains built here when no L1 anchors them.
pub(crate) const GENESIS_TIME: u64 = 1_750_000_000;

/// The L1 deposit contract of the rollups anchored on a `MemoryL1`.
pub(crate) const PORTAL: Address = Address::repeat_byte(0x42);

/// Where every test transaction sends its value.
pub(crate) const RECIPIENT: Address = Address::repeat_byte(0x77);

/// The dev chain spec with its genesis at `timestamp`.
pub(crate) fn dev_spec(timestamp: u64) -> ChainSpec {
    dev_chain_spec(None, timestamp).expect("the embedded dev genesis parses")
}

/// Initialises storage under `dir` with `spec` and opens the chain over it.
pub(crate) fn open_chain(dir: &Path, spec: &ChainSpec) -> Arc<Chain> {
    let storage = Storage::open(dir).expect("storage opens");
    storage.init_genesis(spec).expect("genesis initialises");
    Chain::new(storage, None).expect("chain opens")
}

/// A dev chain at genesis on a fresh temporary database.
pub(crate) fn dev_chain() -> (tempfile::TempDir, Arc<Chain>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let chain = open_chain(dir.path(), &dev_spec(GENESIS_TIME));
    (dir, chain)
}

/// Commits `count` empty blocks on the head of a chain without L1, one second apart.
pub(crate) fn commit_empty_blocks(chain: &Chain, count: u64) {
    for _ in 0..count {
        let head = chain.head();
        let next = DevEpochs::next(chain, &head, head.timestamp + 1);
        chain
            .build_and_commit(
                &head,
                &next.attributes,
                &mut BatchTransactions::new(Vec::new()),
            )
            .expect("an empty block commits");
    }
}

/// An EIP-1559 transfer of `value` wei to [`RECIPIENT`] on chain `chain_id`, signed by `signer`.
pub(crate) fn transfer(
    signer: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    value: u64,
) -> OpTxEnvelope {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(RECIPIENT),
        value: U256::from(value),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash()).expect("signs");
    OpTxEnvelope::Eip1559(tx.into_signed(signature))
}

/// The EIP-2718 encoding of `tx`.
pub(crate) fn encode(tx: &OpTxEnvelope) -> Bytes {
    tx.encoded_2718().into()
}

/// A `TransactionDeposited` log of [`PORTAL`]: `from` deposits `amount` wei to `to` (minted on
/// L2 to `from`, then sent as the value), with a 100,000 gas limit and no calldata.
pub(crate) fn deposit_log(from: Address, to: Address, amount: u64) -> Log {
    let mut opaque = Vec::with_capacity(73);
    opaque.extend(U256::from(amount).to_be_bytes::<32>()); // mint
    opaque.extend(U256::from(amount).to_be_bytes::<32>()); // value
    opaque.extend(100_000u64.to_be_bytes()); // gas limit
    opaque.push(0); // not a contract creation
    let mut data = U256::from(32).to_be_bytes_vec();
    data.extend(U256::from(opaque.len()).to_be_bytes::<32>());
    data.extend(&opaque);
    data.resize(data.len().next_multiple_of(32), 0);
    let topics = vec![
        DEPOSIT_EVENT_TOPIC,
        from.into_word(),
        to.into_word(),
        B256::ZERO, // version 0
    ];
    Log {
        address: PORTAL,
        data: LogData::new_unchecked(topics, data.into()),
    }
}
