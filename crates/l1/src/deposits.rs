//! User deposits: `TransactionDeposited` logs of the deposit contract (OptimismPortal) turned into
//! deposit transactions (type 0x7E) exactly as op-node's `UnmarshalDepositLogEvent` does, with
//! OP's user-deposit source hash. A malformed log is an error, never a panic.

use crate::{block::L1Log, client::L1Client, error::L1Error};
use alloy::primitives::{Address, B256, Bytes, Log, TxKind, U256, b256, keccak256};
use ol_primitives::TxDeposit;

/// `keccak256("TransactionDeposited(address,address,uint256,bytes)")`, topic 0 of deposit logs.
pub const DEPOSIT_EVENT_TOPIC: B256 =
    b256!("0xb3813568d9991fc951961fcb4c784893574240a28925604d09fc577c55bb7c32");

/// The only `opaqueData` format defined: version 0 (`mint ++ value ++ gasLimit ++ isCreation ++
/// data`).
pub const DEPOSIT_VERSION_0: B256 = B256::ZERO;

/// Bytes of the fixed part of version-0 `opaqueData`: mint (32), value (32), gas limit (8),
/// isCreation (1).
const OPAQUE_FIXED_LEN: usize = 32 + 32 + 8 + 1;

/// Why a log is not a valid deposit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DepositError {
    /// The log comes from another contract.
    #[error("log emitted by {got}, not the deposit contract {expected}")]
    WrongContract {
        /// The configured deposit contract.
        expected: Address,
        /// The log's emitter.
        got: Address,
    },
    /// `TransactionDeposited` has three indexed parameters, so four topics.
    #[error("expected 4 topics, got {0}")]
    TopicCount(usize),
    /// Topic 0 is another event.
    #[error("topic 0 {0} is not TransactionDeposited")]
    WrongEvent(B256),
    /// A version of `opaqueData` this node does not know.
    #[error("unknown deposit version {0}")]
    UnknownVersion(B256),
    /// ABI-encoded log data is whole 32-byte words.
    #[error("log data length {0} is not a multiple of 32")]
    UnalignedData(usize),
    /// Shorter than the offset and length words of the `bytes` head.
    #[error("log data too short for an ABI `bytes`: {0} bytes")]
    DataTooShort(usize),
    /// The `bytes` head must point right after itself.
    #[error("opaqueData offset {0} is not 32")]
    BadOffset(U256),
    /// The length overruns the data, or the data has more padding than the ABI allows.
    #[error(
        "opaqueData length {length} does not fit {available} bytes of minimally padded content"
    )]
    BadLength {
        /// The declared length.
        length: U256,
        /// Bytes after the head.
        available: usize,
    },
    /// Shorter than the fixed version-0 fields.
    #[error("opaqueData is {0} bytes, version 0 needs at least {OPAQUE_FIXED_LEN}")]
    OpaqueDataTooShort(usize),
    /// `mint` above `u128::MAX` wei (more ether than exists; op-alloy's deposit holds a `u128`).
    #[error("mint {0} does not fit in 128 bits")]
    MintTooLarge(U256),
}

/// OP's user-deposit source hash: `keccak256(bytes32(0) ++ keccak256(l1BlockHash ++
/// bytes32(logIndex)))`, unique per log.
pub fn user_deposit_source_hash(l1_block_hash: B256, log_index: u64) -> B256 {
    let mut inner = [0u8; 64];
    inner[..32].copy_from_slice(l1_block_hash.as_slice());
    inner[56..].copy_from_slice(&log_index.to_be_bytes());
    let mut outer = [0u8; 64];
    // The first word is the domain (0 = user deposit) and stays zero.
    outer[32..].copy_from_slice(keccak256(inner).as_slice());
    keccak256(outer)
}

/// Parses one `TransactionDeposited` log of `deposit_contract`.
pub fn deposit_from_log(log: &L1Log, deposit_contract: Address) -> Result<TxDeposit, DepositError> {
    if log.inner.address != deposit_contract {
        return Err(DepositError::WrongContract {
            expected: deposit_contract,
            got: log.inner.address,
        });
    }
    decode_deposit(&log.inner, log.block_hash, log.log_index)
}

/// Decodes a `TransactionDeposited` log at position `log_index` of L1 block `l1_block_hash`
/// (the emitter is not checked here; see [`deposit_from_log`]).
///
/// Follows op-node: `from`/`to` are the low 20 bytes of their topics (the portal has already
/// aliased contract callers); any non-zero `isCreation` byte means a creation, and then `to` is
/// ignored; the data is everything after the fixed fields.
pub fn decode_deposit(
    log: &Log,
    l1_block_hash: B256,
    log_index: u64,
) -> Result<TxDeposit, DepositError> {
    let topics = log.topics();
    let [event, from, to, version] = topics else {
        return Err(DepositError::TopicCount(topics.len()));
    };
    if *event != DEPOSIT_EVENT_TOPIC {
        return Err(DepositError::WrongEvent(*event));
    }
    if *version != DEPOSIT_VERSION_0 {
        return Err(DepositError::UnknownVersion(*version));
    }
    let opaque = opaque_data(&log.data.data)?;
    if opaque.len() < OPAQUE_FIXED_LEN {
        return Err(DepositError::OpaqueDataTooShort(opaque.len()));
    }
    let (mint, rest) = opaque.split_at(32);
    let (value, rest) = rest.split_at(32);
    let (gas, rest) = rest.split_at(8);
    let (is_creation, data) = rest.split_at(1);

    let mint = U256::from_be_slice(mint);
    let mint = u128::try_from(mint).map_err(|_| DepositError::MintTooLarge(mint))?;
    let mut gas_bytes = [0u8; 8];
    gas_bytes.copy_from_slice(gas);
    let to = if is_creation[0] == 0 {
        TxKind::Call(Address::from_word(*to))
    } else {
        TxKind::Create
    };
    Ok(TxDeposit {
        source_hash: user_deposit_source_hash(l1_block_hash, log_index),
        from: Address::from_word(*from),
        to,
        mint,
        value: U256::from_be_slice(value),
        gas_limit: u64::from_be_bytes(gas_bytes),
        is_system_transaction: false,
        input: Bytes::copy_from_slice(data),
    })
}

/// The content of the ABI-encoded `bytes opaqueData`, with op-node's checks: whole words, offset
/// 32, a length within the data and no more than 31 bytes of padding after it.
fn opaque_data(data: &[u8]) -> Result<&[u8], DepositError> {
    if !data.len().is_multiple_of(32) {
        return Err(DepositError::UnalignedData(data.len()));
    }
    if data.len() < 64 {
        return Err(DepositError::DataTooShort(data.len()));
    }
    let offset = U256::from_be_slice(&data[..32]);
    if offset != U256::from(32) {
        return Err(DepositError::BadOffset(offset));
    }
    let length = U256::from_be_slice(&data[32..64]);
    let available = data.len() - 64;
    let bad_length = || DepositError::BadLength { length, available };
    let len = usize::try_from(length).map_err(|_| bad_length())?;
    // Minimal padding: adding one more word to the content would overrun the data.
    if len > available || len + 32 <= available {
        return Err(bad_length());
    }
    Ok(&data[64..64 + len])
}

/// Why the deposits of a block could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum BlockDepositsError {
    /// The L1 request failed.
    #[error(transparent)]
    L1(#[from] L1Error),
    /// The deposit contract emitted a log that is not a valid deposit. op-node treats this as a
    /// critical derivation error: skipping it would let the chain diverge from the L1 record.
    #[error("malformed deposit log {log_index} in L1 block {block_hash}: {error}")]
    Malformed {
        /// The block.
        block_hash: B256,
        /// The log's index in the block.
        log_index: u64,
        /// What is wrong with it.
        error: DepositError,
    },
}

/// The user deposits of L1 block `block_hash`, in log order.
pub async fn block_deposits<C: L1Client>(
    client: &C,
    deposit_contract: Address,
    block_hash: B256,
) -> Result<Vec<TxDeposit>, BlockDepositsError> {
    let logs = client
        .logs(block_hash, deposit_contract, DEPOSIT_EVENT_TOPIC)
        .await?;
    logs.iter()
        .map(|log| {
            deposit_from_log(log, deposit_contract).map_err(|error| BlockDepositsError::Malformed {
                block_hash,
                log_index: log.log_index,
                error,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{LogData, address, hex};
    use proptest::prelude::*;

    const PORTAL: Address = address!("0x5FbDB2315678afecb367f032d93F642f64180aa3");
    const SENDER: Address = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
    const TARGET: Address = address!("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC");

    fn topics(from: Address, to: Address, version: B256) -> Vec<B256> {
        vec![
            DEPOSIT_EVENT_TOPIC,
            from.into_word(),
            to.into_word(),
            version,
        ]
    }

    fn log(topics: Vec<B256>, data: Vec<u8>) -> L1Log {
        L1Log {
            block_hash: B256::repeat_byte(0xab),
            log_index: 3,
            inner: Log {
                address: PORTAL,
                data: LogData::new_unchecked(topics, data.into()),
            },
        }
    }

    /// `cast abi-encode 'f(bytes)' $(cast abi-encode-packed
    /// 'f(uint256,uint256,uint64,bool,bytes)' 1000000000000000000 250 100000 false 0xdeadbeef)`
    /// (cast 1.7.1).
    const VECTOR_DATA: &str = "0x0000000000000000000000000000000000000000000000000000000000000020000000000000000000000000000000000000000000000000000000000000004d0000000000000000000000000000000000000000000000000de0b6b3a764000000000000000000000000000000000000000000000000000000000000000000fa00000000000186a000deadbeef00000000000000000000000000000000000000";

    fn abi_bytes(content: &[u8]) -> Vec<u8> {
        let mut out = U256::from(32).to_be_bytes_vec();
        out.extend(U256::from(content.len()).to_be_bytes::<32>());
        out.extend(content);
        out.resize(64 + content.len().div_ceil(32) * 32, 0);
        out
    }

    fn opaque(mint: U256, value: U256, gas: u64, creation: u8, data: &[u8]) -> Vec<u8> {
        let mut out = mint.to_be_bytes_vec();
        out.extend(value.to_be_bytes::<32>());
        out.extend(gas.to_be_bytes());
        out.push(creation);
        out.extend(data);
        out
    }

    #[test]
    fn topic_is_the_event_signature_hash() {
        assert_eq!(
            DEPOSIT_EVENT_TOPIC,
            keccak256("TransactionDeposited(address,address,uint256,bytes)")
        );
    }

    #[test]
    fn source_hash_matches_an_independent_computation() {
        // BH=0xabab…ab (32 bytes); INNER=$(cast keccak $(cast concat-hex $BH $(cast to-uint256 3)))
        // cast keccak $(cast concat-hex $(cast to-uint256 0) $INNER)   (cast 1.7.1)
        assert_eq!(
            user_deposit_source_hash(B256::repeat_byte(0xab), 3),
            b256!("0xd2e7389577a740588853974347a68a03982c00dbba88cb73a2fba79eff216c8f")
        );
    }

    #[test]
    fn decodes_the_cast_vector() {
        let data = hex::decode(VECTOR_DATA).unwrap();
        assert_eq!(
            data,
            abi_bytes(&opaque(
                U256::from(10).pow(U256::from(18)),
                U256::from(250),
                100_000,
                0,
                &hex!("deadbeef")
            ))
        );
        let deposit =
            deposit_from_log(&log(topics(SENDER, TARGET, B256::ZERO), data), PORTAL).unwrap();
        assert_eq!(
            deposit,
            TxDeposit {
                source_hash: b256!(
                    "0xd2e7389577a740588853974347a68a03982c00dbba88cb73a2fba79eff216c8f"
                ),
                from: SENDER,
                to: TxKind::Call(TARGET),
                mint: 1_000_000_000_000_000_000,
                value: U256::from(250),
                gas_limit: 100_000,
                is_system_transaction: false,
                input: Bytes::from_static(&hex!("deadbeef")),
            }
        );
    }

    #[test]
    fn a_creation_ignores_to_and_any_nonzero_flag_creates() {
        let code = [0x60, 0x00, 0x60, 0x00, 0xf3];
        for flag in [1u8, 2, 0xff] {
            let data = abi_bytes(&opaque(U256::ZERO, U256::ZERO, 500_000, flag, &code));
            let deposit =
                deposit_from_log(&log(topics(SENDER, TARGET, B256::ZERO), data), PORTAL).unwrap();
            assert_eq!(deposit.to, TxKind::Create);
            assert_eq!(deposit.input.as_ref(), code);
            assert_eq!(deposit.mint, 0);
        }
    }

    #[test]
    fn empty_data_and_exact_word_content_decode() {
        // 73 bytes of fixed fields pad to 96; 73 + 23 bytes of data fill exactly three words.
        for data_len in [0usize, 23, 24] {
            let payload = vec![7u8; data_len];
            let data = abi_bytes(&opaque(U256::from(1), U256::ZERO, 21_000, 0, &payload));
            let deposit =
                deposit_from_log(&log(topics(SENDER, TARGET, B256::ZERO), data), PORTAL).unwrap();
            assert_eq!(deposit.input.as_ref(), payload.as_slice());
        }
    }

    #[test]
    fn malformed_logs_are_rejected_with_the_reason() {
        let good = abi_bytes(&opaque(U256::from(1), U256::from(2), 100_000, 0, b"hi"));
        let base = topics(SENDER, TARGET, B256::ZERO);
        let check = |topics: Vec<B256>, data: Vec<u8>, expected: DepositError| {
            assert_eq!(deposit_from_log(&log(topics, data), PORTAL), Err(expected));
        };

        let mut other = log(base.clone(), good.clone());
        other.inner.address = TARGET;
        assert_eq!(
            deposit_from_log(&other, PORTAL),
            Err(DepositError::WrongContract {
                expected: PORTAL,
                got: TARGET
            })
        );
        check(
            base[..3].to_vec(),
            good.clone(),
            DepositError::TopicCount(3),
        );
        let mut five = base.clone();
        five.push(B256::ZERO);
        check(five, good.clone(), DepositError::TopicCount(5));
        let mut wrong_event = base.clone();
        wrong_event[0] = B256::repeat_byte(1);
        check(
            wrong_event,
            good.clone(),
            DepositError::WrongEvent(B256::repeat_byte(1)),
        );
        let v1 = B256::with_last_byte(1);
        check(
            topics(SENDER, TARGET, v1),
            good.clone(),
            DepositError::UnknownVersion(v1),
        );

        check(
            base.clone(),
            good[..good.len() - 1].to_vec(),
            DepositError::UnalignedData(159),
        );
        check(
            base.clone(),
            good[..32].to_vec(),
            DepositError::DataTooShort(32),
        );
        let mut bad_offset = good.clone();
        bad_offset[31] = 64;
        check(
            base.clone(),
            bad_offset,
            DepositError::BadOffset(U256::from(64)),
        );

        // Trailing bytes: an extra zero word after the padded content.
        let mut trailing = good.clone();
        trailing.extend([0u8; 32]);
        check(
            base.clone(),
            trailing,
            DepositError::BadLength {
                length: U256::from(75),
                available: 128,
            },
        );
        // A length past the end of the data.
        let mut overrun = good.clone();
        overrun[63] = 200;
        check(
            base.clone(),
            overrun,
            DepositError::BadLength {
                length: U256::from(200),
                available: 96,
            },
        );
        let mut huge = good;
        huge[32] = 1;
        assert!(matches!(
            deposit_from_log(&log(base.clone(), huge), PORTAL),
            Err(DepositError::BadLength { .. })
        ));

        let short = abi_bytes(&opaque(U256::ZERO, U256::ZERO, 1, 0, &[])[..72]);
        check(base.clone(), short, DepositError::OpaqueDataTooShort(72));

        let too_much = U256::from(u128::MAX) + U256::from(1);
        check(
            base,
            abi_bytes(&opaque(too_much, U256::ZERO, 1, 0, &[])),
            DepositError::MintTooLarge(too_much),
        );
    }

    #[test]
    fn from_is_taken_verbatim_from_the_topic() {
        // The portal aliases contract callers before emitting; the parser must not alias again.
        let aliased = address!("0x81aa7970c51812dc3a010c7d01b50e0d17dc8ad9");
        let data = abi_bytes(&opaque(U256::ZERO, U256::ZERO, 30_000, 0, &[]));
        let deposit =
            deposit_from_log(&log(topics(aliased, TARGET, B256::ZERO), data), PORTAL).unwrap();
        assert_eq!(deposit.from, aliased);
    }

    proptest! {
        #[test]
        fn the_parser_never_panics(
            topic_count in 0usize..6,
            version in 0u8..3,
            raw in proptest::collection::vec(any::<u8>(), 0..400),
            content in proptest::collection::vec(any::<u8>(), 0..200),
            use_abi in any::<bool>(),
        ) {
            let mut topics = topics(SENDER, TARGET, B256::with_last_byte(version));
            topics.resize(topic_count, B256::ZERO);
            let data = if use_abi { abi_bytes(&content) } else { raw };
            let result = deposit_from_log(&log(topics, data.clone()), PORTAL);
            if let Ok(deposit) = result {
                // Whatever decodes re-encodes to the same log data.
                let mut packed = U256::from(deposit.mint).to_be_bytes_vec();
                packed.extend(deposit.value.to_be_bytes::<32>());
                packed.extend(deposit.gas_limit.to_be_bytes());
                let len = usize::try_from(U256::from_be_slice(&data[32..64])).unwrap();
                let opaque = &data[64..64 + len];
                prop_assert_eq!(&opaque[..72], packed.as_slice());
                prop_assert_eq!(&opaque[73..], deposit.input.as_ref());
            }
        }
    }
}
