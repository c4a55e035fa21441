//! `split` of a fee by weights, and `verifyEvidence` of standard Merkle tree proofs.

use super::*;

fn split_of(chain: &mut Chain, amount: U256, weights: &[u32]) -> Vec<U256> {
    chain.ok(
        STRANGER,
        sol::splitCall {
            amount,
            weightsPpm: weights.to_vec(),
        },
    )
}

#[test]
fn split_examples_and_huge_amounts() {
    let mut chain = Chain::new();
    assert_eq!(split_of(&mut chain, u(10), &[1, 1, 1]), [u(4), u(3), u(3)]);
    assert_eq!(split_of(&mut chain, u(11), &[1, 1, 1]), [u(4), u(4), u(3)]);
    assert_eq!(split_of(&mut chain, u(7), &[2, 3, 5]), [u(1), u(2), u(4)]);
    let ether = u(1_000_000_000_000_000_000);
    assert_eq!(
        split_of(&mut chain, ether, &[500_000, 300_000, 200_000]),
        [ether / u(2), ether * u(3) / u(10), ether / u(5)]
    );
    let shares = split_of(&mut chain, U256::MAX, &[333_333, 333_333, 333_334]);
    assert_eq!(shares.iter().fold(U256::ZERO, |a, s| a + s), U256::MAX);
    let weights = even_weights(MAX_CONTRIBUTORS);
    let amount = u(1_000_000_000_000_000_007);
    assert_eq!(
        split_of(&mut chain, amount, &weights),
        crate::poa::split(amount, &weights).unwrap()
    );
}

#[test]
fn split_reverts() {
    let mut chain = Chain::new();
    let call = |weights: Vec<u32>| sol::splitCall {
        amount: u(1),
        weightsPpm: weights,
    };
    chain.expect_error(STRANGER, call(vec![]), sol::EmptyWeights {});
    chain.expect_error(STRANGER, call(vec![0, 0]), sol::ZeroTotalWeight {});
    chain.expect_error(
        STRANGER,
        call(vec![0; 257]),
        sol::TooManyContributors {
            count: u(257),
            max: u(256),
        },
    );
}

#[test]
fn evidence_leaf_is_the_standard_merkle_tree_encoding() {
    let mut chain = Chain::new();
    let leaf = EvidenceLeaf {
        datapoint: keccak256("datapoint"),
        contributor: address!("0x000000000000000000000000000000000000beef"),
        score: u(700_000_000_000_000_000),
    };
    let got = chain.ok(
        STRANGER,
        sol::evidenceLeafCall {
            datapoint: leaf.datapoint,
            contributor: leaf.contributor,
            score: leaf.score,
        },
    );
    assert_eq!(got, leaf.hash());
}

fn verify(chain: &mut Chain, id: B256, leaf: B256, proof: Vec<B256>) -> bool {
    chain.ok(
        STRANGER,
        sol::verifyEvidenceCall {
            requestId: id,
            leaf,
            proof,
        },
    )
}

/// Proofs from the Rust `StandardMerkleTree` builder of the workers verify; changed scores,
/// wrong siblings and inner nodes do not.
#[test]
fn verify_evidence_with_standard_merkle_tree_proofs() {
    let mut chain = Chain::new();
    let leaves: Vec<EvidenceLeaf> = (0..7u64)
        .map(|i| EvidenceLeaf {
            datapoint: keccak256(format!("dp-{i}")),
            contributor: contributors_of(7)[i as usize],
            score: u((i + 1) * 100_000_000_000_000_000),
        })
        .collect();
    let tree = EvidenceTree::new(leaves.clone());
    chain.logs(
        ATTESTOR,
        record_call(REQ, contributors_of(7), even_weights(7), tree.root()),
    );
    for (i, leaf) in leaves.iter().enumerate() {
        assert!(
            verify(&mut chain, REQ, leaf.hash(), tree.proof(i)),
            "leaf {i}"
        );
    }
    let forged = EvidenceLeaf {
        score: u(900_000_000_000_000_000),
        ..leaves[0]
    };
    assert!(!verify(&mut chain, REQ, forged.hash(), tree.proof(0)));
    assert!(!verify(&mut chain, REQ, leaves[0].hash(), tree.proof(1)));
    // An inner node is not a leaf: without the rest of its proof it does not verify.
    let inner = ol_attribution::merkle::hash_pair(leaves[0].hash(), tree.proof(0)[0]);
    assert!(!verify(&mut chain, REQ, inner, vec![]));
}

/// The vector of the forge test `test_verifyEvidence_matchesOpenZeppelinMerkleTreeJs`, made
/// with the JS library `@openzeppelin/merkle-tree` 1.0.8.
#[test]
fn verify_evidence_matches_the_openzeppelin_js_vector() {
    let mut chain = Chain::new();
    let root = b256!("0xa6bfea0f69ecff0870df2d062ee524b3102b24405b861338ca56bfc55696c1e3");
    chain.logs(
        ATTESTOR,
        record_call(REQ, contributors_of(5), even_weights(5), root),
    );
    let leaves = [
        b256!("0x1c0021f1917c956dbe362bf40fabe23243e69665d6a3bfe3e7edc3dd58ab5367"),
        b256!("0x7967a460c35bf8468e9671de93c320f82c7c7f19ceae933a77fb9b3023548f5b"),
        b256!("0x0c413bbd0ba314ef9edddc1bca76586a15a04652c4c2825fc5e179392ab7897f"),
        b256!("0x357391769029565ff8ff8e863fdcdb0178da327d133e8c2caeafadef5c5e95d1"),
        b256!("0x72860d2a80074e461a9bfbdf6f7550a43f3a86a3fe649f007438cb3466211948"),
    ];
    for (i, expected) in leaves.iter().enumerate() {
        let leaf = chain.ok(
            STRANGER,
            sol::evidenceLeafCall {
                datapoint: keccak256(format!("datapoint-{i}")),
                contributor: contributors_of(5)[i],
                score: u((i as u64 + 1) * 100_000_000_000_000_000),
            },
        );
        assert_eq!(leaf, *expected, "leaf {i}");
    }
    let p3 = vec![
        leaves[2],
        leaves[1],
        b256!("0x136f5969875a713a83f8be05b05c48a66e52c8412e4fc4396b699d753f0fa6d1"),
    ];
    assert!(verify(&mut chain, REQ, leaves[0], p3));
    let p2 = vec![
        leaves[3],
        b256!("0xe6c24b9a0fbef6f6d3d14108f3687cf18064daaf6701e01349ecd981accda22f"),
    ];
    assert!(verify(&mut chain, REQ, leaves[4], p2.clone()));
    assert!(!verify(&mut chain, REQ, leaves[3], p2));
}

#[test]
fn zero_root_verifies_nothing() {
    let mut chain = Chain::new();
    chain.logs(
        ATTESTOR,
        record_call(REQ, contributors_of(1), even_weights(1), B256::ZERO),
    );
    assert!(!verify(&mut chain, REQ, B256::ZERO, vec![]));
}

/// Like the reference, which has no payable function and no fallback: value, unknown selectors,
/// short or undecodable calldata and dirty address bits revert with empty data.
#[test]
fn bad_calls_revert_with_empty_data_and_change_nothing() {
    let mut chain = Chain::new();
    let before = chain.storage();
    let call = record_call(REQ, contributors_of(1), even_weights(1), ROOT).abi_encode();
    match chain.transact_value(ATTESTOR, ADDRESS, call.clone(), u(1)) {
        ExecutionResult::Revert { output, .. } => assert!(output.is_empty()),
        other => panic!("{other:?}"),
    }
    assert_eq!(chain.revert_raw(STRANGER, vec![]), Bytes::new());
    assert_eq!(chain.revert_raw(STRANGER, vec![0xde, 0xad]), Bytes::new());
    assert_eq!(
        chain.revert_raw(STRANGER, vec![0xde, 0xad, 0xbe, 0xef]),
        Bytes::new()
    );
    assert_eq!(
        chain.revert_raw(ATTESTOR, call[..40].to_vec()),
        Bytes::new()
    );
    let mut dirty = sol::isAttestorCall(ATTESTOR).abi_encode();
    dirty[4] = 1;
    assert_eq!(chain.revert_raw(STRANGER, dirty), Bytes::new());
    assert_eq!(chain.storage(), before);
    assert!(!chain.ok(STRANGER, sol::isRecordedCall { requestId: REQ }));
}

/// A write under `STATICCALL` halts (like the reference's `TSTORE`/`SSTORE`), a read works, and
/// a `DELEGATECALL` fails.
#[test]
fn static_and_delegate_calls() {
    let mut chain = Chain::new();
    chain.ok(
        GOVERNANCE,
        sol::setAttestorCall {
            attestor: FORWARDER,
            allowed: true,
        },
    );
    let before = chain.storage();
    let success = |outcome: Outcome| match outcome {
        ExecutionResult::Success { output, .. } => U256::from_be_slice(output.data()),
        other => panic!("{other:?}"),
    };
    let record = record_call(REQ, contributors_of(2), even_weights(2), ROOT).abi_encode();
    let outcome = chain.transact_value(STRANGER, FORWARDER, record, U256::ZERO);
    assert_eq!(success(outcome), U256::ZERO, "record under STATICCALL");
    let empty = record_call(REQ, vec![], vec![], ROOT).abi_encode();
    let outcome = chain.transact_value(STRANGER, FORWARDER, empty, U256::ZERO);
    assert_eq!(
        success(outcome),
        U256::ZERO,
        "empty record under STATICCALL"
    );
    assert_eq!(chain.storage(), before);

    let view = sol::isAttestorCall(FORWARDER).abi_encode();
    let outcome = chain.transact_value(STRANGER, FORWARDER, view.clone(), U256::ZERO);
    assert_eq!(success(outcome), U256::from(1), "view under STATICCALL");

    let outcome = chain.transact_value(STRANGER, DELEGATOR, view, U256::ZERO);
    assert_eq!(success(outcome), U256::ZERO, "DELEGATECALL");
}

/// Out of gas halts with all gas spent and writes nothing; the gas used grows with the work.
#[test]
fn out_of_gas_halts_and_writes_nothing() {
    let mut chain = Chain::new();
    let call = record_call(REQ, contributors_of(64), even_weights(64), ROOT).abi_encode();
    let before = chain.storage();
    let mut precompile_gas = 0;
    {
        let mut evm = chain.factory.create_evm(&mut chain.db, chain.env.clone());
        let tx = OpTx(OpTransaction {
            base: TxEnv {
                caller: ATTESTOR,
                kind: TxKind::Call(ADDRESS),
                data: call.into(),
                gas_limit: 200_000,
                chain_id: Some(chain.env.cfg_env.chain_id),
                ..Default::default()
            },
            enveloped_tx: Some(Bytes::new()),
            deposit: DepositTransactionParts::default(),
        });
        let result = evm.transact_commit(tx).unwrap();
        assert!(matches!(result, ExecutionResult::Halt { .. }), "{result:?}");
        assert_eq!(result.tx_gas_used(), 200_000);
    }
    assert_eq!(chain.storage(), before);
    for n in [1usize, 8, 64] {
        let id = keccak256(n.to_be_bytes());
        let outcome = chain.transact(
            ATTESTOR,
            record_call(id, contributors_of(n), even_weights(n), ROOT).abi_encode(),
        );
        assert!(outcome.is_success());
        assert!(outcome.tx_gas_used() > precompile_gas);
        precompile_gas = outcome.tx_gas_used();
    }
}
