//! Deposit log parsing never panics on any topics and data, and what it accepts is consistent
//! with the log: `from`/`to` from the topics, the fixed fields and calldata from `opaqueData`.
#![no_main]

use alloy_primitives::{Address, B256, Log, LogData, TxKind, U256};
use libfuzzer_sys::fuzz_target;
use ol_l1::{DEPOSIT_EVENT_TOPIC, decode_deposit};

fuzz_target!(|input: &[u8]| {
    // Byte 0 picks the topic count and whether topic 0 is the real event; then 32-byte topics
    // (the version topic mostly zero, so that the data decoder is reached); the rest is data.
    let Some((&selector, rest)) = input.split_first() else {
        return;
    };
    let count = usize::from(selector % 6);
    let mut topics = Vec::with_capacity(count);
    let mut rest = rest;
    for index in 0..count {
        let word = if index == 0 && selector & 0x80 != 0 {
            DEPOSIT_EVENT_TOPIC
        } else if index == 3 && selector & 0x40 != 0 {
            B256::ZERO
        } else {
            let take = rest.len().min(32);
            let (head, tail) = rest.split_at(take);
            rest = tail;
            B256::right_padding_from(head)
        };
        topics.push(word);
    }
    let log = Log {
        address: Address::ZERO,
        data: LogData::new_unchecked(topics, rest.to_vec().into()),
    };
    if let Ok(deposit) = decode_deposit(&log, B256::ZERO, 0) {
        let topics = log.topics();
        assert_eq!(deposit.from, Address::from_word(topics[1]));
        let data = &log.data.data;
        let len = usize::try_from(U256::from_be_slice(&data[32..64])).unwrap();
        let opaque = &data[64..64 + len];
        assert_eq!(U256::from(deposit.mint), U256::from_be_slice(&opaque[..32]));
        assert_eq!(deposit.value, U256::from_be_slice(&opaque[32..64]));
        assert_eq!(deposit.gas_limit.to_be_bytes(), opaque[64..72]);
        match deposit.to {
            TxKind::Create => assert_ne!(opaque[72], 0),
            TxKind::Call(to) => assert_eq!(to, Address::from_word(topics[2])),
        }
        assert_eq!(deposit.input.as_ref(), &opaque[73..]);
    }
});
