//! `record`: what it stores and emits, its storage layout, its limits and its errors, and the
//! reads of a record.

use super::*;

#[test]
fn record_stores_and_emits() {
    let mut chain = Chain::new();
    let c = contributors_of(3);
    let w = vec![500_000, 300_000, 200_000];
    let mut call = record_call(REQ, c.clone(), w.clone(), ROOT);
    call.method = 2;
    let logs = chain.logs(ATTESTOR, call);
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].address, ADDRESS);
    let event = sol::AttributionRecorded::decode_log_data(&logs[0].data).unwrap();
    assert_eq!(
        event,
        sol::AttributionRecorded {
            requestId: REQ,
            attestor: ATTESTOR,
            method: 2,
            outputHash: OUT,
            evidenceRoot: ROOT,
            contributors: c.clone(),
            weightsPpm: w.clone(),
        }
    );
    // Three indexed topics, as the Solidity event declares.
    assert_eq!(logs[0].data.topics().len(), 4);

    assert!(chain.ok(STRANGER, sol::isRecordedCall { requestId: REQ }));
    let record = chain.ok(STRANGER, sol::attributionOfCall { requestId: REQ });
    assert_eq!(
        record,
        Attribution {
            outputHash: OUT,
            evidenceRoot: ROOT,
            attestor: ATTESTOR,
            blockNumber: BLOCK,
            method: 2,
            contributors: c,
            weightsPpm: w,
        }
    );
    let summary = chain.ok(STRANGER, sol::summaryOfCall { requestId: REQ });
    assert_eq!(
        (
            summary.attestor,
            summary.blockNumber,
            summary.method,
            summary.contributorCount
        ),
        (ATTESTOR, BLOCK, 2, u(3))
    );
    assert_eq!(
        chain.ok(STRANGER, sol::outputHashOfCall { requestId: REQ }),
        OUT
    );
}

/// The records sit in the slots `ProofOfAttributionImpl` documents, so the native and the
/// Solidity implementation produce the same state.
#[test]
fn storage_layout_is_the_reference_layout() {
    let mut chain = Chain::new();
    let c = contributors_of(9);
    let w = even_weights(9);
    chain.record(REQ, c.clone(), w.clone());

    let word = |bytes: &[u8]| U256::from_be_bytes::<32>(keccak256(bytes).0);
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(REQ.as_slice());
    let base = word(&preimage);
    let mut attestor_key = [0u8; 64];
    attestor_key[12..32].copy_from_slice(ATTESTOR.as_slice());
    attestor_key[63] = 1;

    let mut expected = BTreeMap::new();
    expected.insert(word(&attestor_key), u(1));
    expected.insert(base, U256::from_be_bytes(OUT.0));
    expected.insert(base + u(1), U256::from_be_bytes(ROOT.0));
    expected.insert(
        base + u(2),
        (u(BLOCK) << 160) | U256::from_be_bytes(ATTESTOR.into_word().0),
    );
    expected.insert(base + u(3), u(9));
    expected.insert(base + u(4), u(9));
    let contributors_data = word(&(base + u(3)).to_be_bytes::<32>());
    for (i, contributor) in c.iter().enumerate() {
        expected.insert(
            contributors_data + u(i as u64),
            U256::from_be_bytes(contributor.into_word().0),
        );
    }
    let weights_data = word(&(base + u(4)).to_be_bytes::<32>());
    for (i, weight) in w.iter().enumerate() {
        let slot = weights_data + u((i / 8) as u64);
        let entry = expected.entry(slot).or_insert(U256::ZERO);
        *entry |= U256::from(*weight) << (32 * (i % 8));
    }
    assert_eq!(chain.storage(), expected);
}

#[test]
fn empty_record_means_no_positive_influence() {
    let mut chain = Chain::new();
    chain.record(REQ, vec![], vec![]);
    let record = chain.ok(STRANGER, sol::attributionOfCall { requestId: REQ });
    assert!(record.contributors.is_empty() && record.weightsPpm.is_empty());
    assert_eq!(record.attestor, ATTESTOR);
}

#[test]
fn record_of_max_contributors_fits_in_a_block() {
    let mut chain = Chain::new();
    let outcome = chain.transact(
        ATTESTOR,
        record_call(REQ, contributors_of(256), even_weights(256), ROOT).abi_encode(),
    );
    assert!(outcome.is_success(), "{outcome:?}");
    assert!(
        outcome.tx_gas_used() < 15_000_000,
        "{}",
        outcome.tx_gas_used()
    );
    // 256 contributor slots and 32 weight slots at 22,100 gas each at least.
    assert!(outcome.tx_gas_used() > 288 * 22_100);
    let record = chain.ok(STRANGER, sol::attributionOfCall { requestId: REQ });
    assert_eq!(record.contributors, contributors_of(256));
    assert_eq!(record.weightsPpm, even_weights(256));
}

#[test]
fn record_reverts_with_the_reference_errors() {
    let mut chain = Chain::new();
    chain.expect_error(
        STRANGER,
        record_call(REQ, contributors_of(1), even_weights(1), ROOT),
        sol::NotAttestor { caller: STRANGER },
    );
    chain.expect_error(
        ATTESTOR,
        record_call(B256::ZERO, contributors_of(1), even_weights(1), ROOT),
        sol::ZeroRequestId {},
    );
    let mut call = record_call(REQ, contributors_of(1), even_weights(1), ROOT);
    call.outputHash = B256::ZERO;
    chain.expect_error(ATTESTOR, call, sol::ZeroOutputHash {});
    chain.expect_error(
        ATTESTOR,
        record_call(REQ, contributors_of(2), even_weights(1), ROOT),
        sol::LengthMismatch {
            contributors: u(2),
            weights: u(1),
        },
    );
    chain.expect_error(
        ATTESTOR,
        record_call(REQ, contributors_of(257), even_weights(257), ROOT),
        sol::TooManyContributors {
            count: u(257),
            max: u(256),
        },
    );
    let mut c = contributors_of(2);
    c[1] = Address::ZERO;
    chain.expect_error(
        ATTESTOR,
        record_call(REQ, c, even_weights(2), ROOT),
        sol::ZeroContributor { index: u(1) },
    );
    chain.expect_error(
        ATTESTOR,
        record_call(REQ, contributors_of(2), vec![1_000_000, 0], ROOT),
        sol::ZeroWeight { index: u(1) },
    );
    let mut c = contributors_of(3);
    c[2] = c[0];
    chain.expect_error(
        ATTESTOR,
        record_call(REQ, c.clone(), even_weights(3), ROOT),
        sol::DuplicateContributor { contributor: c[0] },
    );
    let mut w = even_weights(2);
    w[0] -= 1;
    chain.expect_error(
        ATTESTOR,
        record_call(REQ, contributors_of(2), w.clone(), ROOT),
        sol::WeightsDoNotSum { sum: u(999_999) },
    );
    w[0] += 2;
    chain.expect_error(
        ATTESTOR,
        record_call(REQ, contributors_of(2), w, ROOT),
        sol::WeightsDoNotSum { sum: u(1_000_001) },
    );
    assert!(!chain.ok(STRANGER, sol::isRecordedCall { requestId: REQ }));

    chain.record(REQ, contributors_of(1), even_weights(1));
    chain.expect_error(
        ATTESTOR,
        record_call(REQ, contributors_of(1), even_weights(1), ROOT),
        sol::AlreadyRecorded { requestId: REQ },
    );
}

#[test]
fn duplicate_check_is_per_request() {
    let mut chain = Chain::new();
    chain.record(REQ, contributors_of(2), even_weights(2));
    chain.record(keccak256("request-2"), contributors_of(2), even_weights(2));
}

#[test]
fn reads_revert_for_an_unknown_request() {
    let mut chain = Chain::new();
    assert!(!chain.ok(STRANGER, sol::isRecordedCall { requestId: REQ }));
    let unknown = sol::UnknownRequest { requestId: REQ };
    chain.expect_error(
        STRANGER,
        sol::attributionOfCall { requestId: REQ },
        unknown.clone(),
    );
    chain.expect_error(
        STRANGER,
        sol::summaryOfCall { requestId: REQ },
        unknown.clone(),
    );
    chain.expect_error(
        STRANGER,
        sol::outputHashOfCall { requestId: REQ },
        unknown.clone(),
    );
    chain.expect_error(
        STRANGER,
        sol::verifyEvidenceCall {
            requestId: REQ,
            leaf: B256::ZERO,
            proof: vec![],
        },
        unknown,
    );
}
