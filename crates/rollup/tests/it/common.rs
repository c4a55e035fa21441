//! Generators shared by the integration tests: signed transactions of every batchable type,
//! runs of consecutive L2 blocks, and deterministic load-like blocks for size measurements.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEip7702, TxLegacy};
use alloy_eips::{
    eip2718::Encodable2718,
    eip2930::{AccessList, AccessListItem},
    eip7702::Authorization,
};
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256, keccak256};
use ol_rollup::{
    SingleBatch,
    channel::{BatchMode, ChannelBuilder, ChannelConfig, SealedChannel},
    compression::CompressionAlgo,
    frame::ChannelId,
};
use op_alloy_consensus::OpTxEnvelope;
use proptest::prelude::*;
use rand::{Rng, SeedableRng, rngs::StdRng};

/// Chain id of the test chain.
pub(crate) const CHAIN_ID: u64 = 1_612;
/// L2 genesis timestamp of the test chain.
pub(crate) const GENESIS_TIMESTAMP: u64 = 1_700_000_000;
/// Seconds between test blocks.
pub(crate) const BLOCK_TIME: u64 = 2;

/// The L1 block hash the tests use for origin number `n`.
pub(crate) fn l1_hash(n: u64) -> B256 {
    keccak256(n.to_be_bytes())
}

/// Span batch mode for the test chain.
pub(crate) const fn span_mode() -> BatchMode {
    BatchMode::Span {
        genesis_timestamp: GENESIS_TIMESTAMP,
        block_time: BLOCK_TIME,
        chain_id: CHAIN_ID,
    }
}

/// A channel config with small frames so channels span many of them.
pub(crate) fn config(compression: CompressionAlgo, batch_mode: BatchMode) -> ChannelConfig {
    ChannelConfig {
        compression,
        batch_mode,
        max_frame_size: 300,
        max_frames: 10_000,
        target_size: 1_000_000,
        max_rlp_bytes: ol_rollup::channel::MAX_RLP_BYTES_PER_CHANNEL_FJORD,
        max_duration: 0,
    }
}

/// Builds one sealed channel holding `blocks`.
pub(crate) fn build_channel(
    id: ChannelId,
    config: ChannelConfig,
    blocks: &[SingleBatch],
) -> SealedChannel {
    let mut builder = ChannelBuilder::new(id, config, 100);
    for (i, block) in blocks.iter().enumerate() {
        builder.add_block(block, i == 0).expect("block fits");
    }
    builder.seal().expect("seals").expect("not empty")
}

fn signature() -> impl Strategy<Value = Signature> {
    (any::<[u8; 32]>(), any::<[u8; 32]>(), any::<bool>())
        .prop_map(|(r, s, y)| Signature::new(U256::from_be_bytes(r), U256::from_be_bytes(s), y))
}

fn value() -> impl Strategy<Value = U256> {
    prop_oneof![
        Just(U256::ZERO),
        any::<u64>().prop_map(U256::from),
        any::<[u8; 32]>().prop_map(U256::from_be_bytes)
    ]
}

fn kind() -> impl Strategy<Value = TxKind> {
    prop_oneof![
        Just(TxKind::Create),
        any::<[u8; 20]>().prop_map(|a| TxKind::Call(Address::from(a))),
    ]
}

fn input() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..120).prop_map(Bytes::from)
}

fn access_list() -> impl Strategy<Value = AccessList> {
    proptest::collection::vec(
        (
            any::<[u8; 20]>(),
            proptest::collection::vec(any::<[u8; 32]>(), 0..3),
        ),
        0..3,
    )
    .prop_map(|items| {
        AccessList(
            items
                .into_iter()
                .map(|(address, keys)| AccessListItem {
                    address: address.into(),
                    storage_keys: keys.into_iter().map(B256::from).collect(),
                })
                .collect(),
        )
    })
}

fn legacy() -> impl Strategy<Value = Bytes> {
    (
        any::<bool>(),
        any::<u64>(),
        any::<u128>(),
        any::<u64>(),
        kind(),
        value(),
        input(),
        signature(),
    )
        .prop_map(
            |(protected, nonce, gas_price, gas_limit, to, value, input, sig)| {
                let tx = TxLegacy {
                    chain_id: protected.then_some(CHAIN_ID),
                    nonce,
                    gas_price,
                    gas_limit,
                    to,
                    value,
                    input,
                };
                OpTxEnvelope::Legacy(tx.into_signed(sig))
                    .encoded_2718()
                    .into()
            },
        )
}

fn eip2930() -> impl Strategy<Value = Bytes> {
    (
        any::<u64>(),
        any::<u128>(),
        any::<u64>(),
        kind(),
        value(),
        input(),
        access_list(),
        signature(),
    )
        .prop_map(
            |(nonce, gas_price, gas_limit, to, value, input, access_list, sig)| {
                let tx = TxEip2930 {
                    chain_id: CHAIN_ID,
                    nonce,
                    gas_price,
                    gas_limit,
                    to,
                    value,
                    access_list,
                    input,
                };
                OpTxEnvelope::Eip2930(tx.into_signed(sig))
                    .encoded_2718()
                    .into()
            },
        )
}

fn eip1559() -> impl Strategy<Value = Bytes> {
    (
        (any::<u64>(), any::<u128>(), any::<u128>(), any::<u64>()),
        (kind(), value(), input(), access_list(), signature()),
    )
        .prop_map(
            |((nonce, tip, fee, gas_limit), (to, value, input, access_list, sig))| {
                let tx = TxEip1559 {
                    chain_id: CHAIN_ID,
                    nonce,
                    gas_limit,
                    max_fee_per_gas: fee,
                    max_priority_fee_per_gas: tip,
                    to,
                    value,
                    access_list,
                    input,
                };
                OpTxEnvelope::Eip1559(tx.into_signed(sig))
                    .encoded_2718()
                    .into()
            },
        )
}

fn authorization() -> impl Strategy<Value = alloy_eips::eip7702::SignedAuthorization> {
    (any::<u64>(), any::<[u8; 20]>(), any::<u64>(), signature()).prop_map(
        |(chain_id, address, nonce, sig)| {
            Authorization {
                chain_id: U256::from(chain_id),
                address: address.into(),
                nonce,
            }
            .into_signed(sig)
        },
    )
}

fn eip7702() -> impl Strategy<Value = Bytes> {
    (
        (
            any::<u64>(),
            any::<u128>(),
            any::<u128>(),
            any::<u64>(),
            any::<[u8; 20]>(),
        ),
        (
            value(),
            input(),
            access_list(),
            proptest::collection::vec(authorization(), 1..3),
        ),
        signature(),
    )
        .prop_map(
            |((nonce, tip, fee, gas_limit, to), (value, input, access_list, auths), sig)| {
                let tx = TxEip7702 {
                    chain_id: CHAIN_ID,
                    nonce,
                    gas_limit,
                    max_fee_per_gas: fee,
                    max_priority_fee_per_gas: tip,
                    to: to.into(),
                    value,
                    access_list,
                    authorization_list: auths,
                    input,
                };
                OpTxEnvelope::Eip7702(tx.into_signed(sig))
                    .encoded_2718()
                    .into()
            },
        )
}

/// Any batchable transaction: legacy (protected or not), EIP-2930, EIP-1559 or EIP-7702.
pub(crate) fn transaction() -> impl Strategy<Value = Bytes> {
    prop_oneof![legacy(), eip2930(), eip1559(), eip7702()]
}

/// 1..`max_blocks` consecutive blocks with random transactions; each block keeps or advances
/// the L1 origin by one.
pub(crate) fn blocks(max_blocks: usize) -> impl Strategy<Value = Vec<SingleBatch>> {
    (
        0u64..1_000_000,
        0u64..1_000_000,
        proptest::collection::vec(
            (
                any::<bool>(),
                any::<[u8; 32]>(),
                proptest::collection::vec(transaction(), 0..4),
            ),
            1..max_blocks,
        ),
    )
        .prop_map(|(first_epoch, rel_start, specs)| {
            let mut epoch = first_epoch;
            specs
                .into_iter()
                .enumerate()
                .map(|(i, (advance, parent, transactions))| {
                    if advance && i > 0 {
                        epoch += 1;
                    }
                    SingleBatch {
                        parent_hash: B256::from(parent),
                        epoch_num: epoch,
                        epoch_hash: l1_hash(epoch),
                        timestamp: GENESIS_TIMESTAMP + rel_start + i as u64 * BLOCK_TIME,
                        transactions,
                    }
                })
                .collect()
        })
}

/// Deterministic blocks resembling a token-transfer load: 50 senders with rising nonces, most
/// transactions EIP-1559 ERC-20 `transfer`s to five tokens, some plain ETH transfers and some
/// legacy ones. Signatures are random, as real ones are to a compressor.
pub(crate) fn load_blocks(count: usize, txs_per_block: usize, seed: u64) -> Vec<SingleBatch> {
    let mut rng = StdRng::seed_from_u64(seed);
    let tokens: Vec<Address> = (0..5u8).map(|i| Address::repeat_byte(0x70 + i)).collect();
    let recipients: Vec<Address> = (0..200u16)
        .map(|i| Address::from_slice(&keccak256(i.to_be_bytes())[..20]))
        .collect();
    let mut nonces = [0u64; 50];
    let mut parent = B256::repeat_byte(0x11);
    (0..count)
        .map(|i| {
            let transactions = (0..txs_per_block)
                .map(|_| {
                    let sender = rng.random_range(0..nonces.len());
                    let nonce = nonces[sender];
                    nonces[sender] += 1;
                    let sig = Signature::new(
                        U256::from_be_bytes(rng.random::<[u8; 32]>()),
                        U256::from_be_bytes(rng.random::<[u8; 32]>()),
                        rng.random(),
                    );
                    let recipient = recipients[rng.random_range(0..recipients.len())];
                    let kind: u8 = rng.random_range(0..10);
                    let envelope = if kind < 7 {
                        let mut data = vec![0xa9, 0x05, 0x9c, 0xbb];
                        data.extend_from_slice(
                            B256::left_padding_from(recipient.as_slice()).as_slice(),
                        );
                        data.extend_from_slice(
                            &U256::from(rng.random_range(1..1_000_000u64) * 1_000_000_000_000)
                                .to_be_bytes::<32>(),
                        );
                        OpTxEnvelope::Eip1559(
                            TxEip1559 {
                                chain_id: CHAIN_ID,
                                nonce,
                                gas_limit: 65_000,
                                max_fee_per_gas: 2_000_000_000,
                                max_priority_fee_per_gas: 1_000_000,
                                to: TxKind::Call(tokens[rng.random_range(0..tokens.len())]),
                                value: U256::ZERO,
                                access_list: AccessList::default(),
                                input: data.into(),
                            }
                            .into_signed(sig),
                        )
                    } else if kind < 9 {
                        OpTxEnvelope::Eip1559(
                            TxEip1559 {
                                chain_id: CHAIN_ID,
                                nonce,
                                gas_limit: 21_000,
                                max_fee_per_gas: 2_000_000_000,
                                max_priority_fee_per_gas: 1_000_000,
                                to: TxKind::Call(recipient),
                                value: U256::from(rng.random_range(1..1_000u64) * 10u64.pow(15)),
                                access_list: AccessList::default(),
                                input: Bytes::new(),
                            }
                            .into_signed(sig),
                        )
                    } else {
                        OpTxEnvelope::Legacy(
                            TxLegacy {
                                chain_id: Some(CHAIN_ID),
                                nonce,
                                gas_price: 1_500_000_000,
                                gas_limit: 21_000,
                                to: TxKind::Call(recipient),
                                value: U256::from(10u64.pow(16)),
                                input: Bytes::new(),
                            }
                            .into_signed(sig),
                        )
                    };
                    envelope.encoded_2718().into()
                })
                .collect();
            let epoch = 1_000 + i as u64 / 6;
            let block = SingleBatch {
                parent_hash: parent,
                epoch_num: epoch,
                epoch_hash: l1_hash(epoch),
                timestamp: GENESIS_TIMESTAMP + 1_000 + i as u64 * BLOCK_TIME,
                transactions,
            };
            parent = keccak256(alloy_rlp::encode(&block));
            block
        })
        .collect()
}
