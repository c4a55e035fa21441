//! The flows of the forge tests of `ProofOfAttributionImpl` (`contracts/test/ProofOfAttribution.t.sol`),
//! run as transactions through op-revm against the native precompile.

use super::{
    ADDRESS, MAX_CONTRIBUTORS, ProofOfAttribution, WEIGHT_DENOMINATOR,
    abi::{IProofOfAttribution::Attribution, ProofOfAttributionImpl as sol},
};
use crate::{OlEvmConfig, OlEvmFactory, OpSpecId};
use alloy_evm::{Evm, EvmEnv, EvmFactory};
use alloy_op_evm::OpTx;
use alloy_primitives::{Address, B256, Bytes, Log, TxKind, U256, address, b256, keccak256};
use alloy_sol_types::{SolCall, SolError, SolEvent};
use ol_attribution::merkle::{EvidenceLeaf, EvidenceTree};
use op_revm::{OpHaltReason, OpTransaction, transaction::deposit::DepositTransactionParts};
use revm::{
    context::{TxEnv, result::ExecutionResult},
    database::{CacheDB, EmptyDB},
    state::{AccountInfo, Bytecode},
};
use std::collections::BTreeMap;

const GOVERNANCE: Address = address!("0x00000000000000000000000000000000000060f0");
const ATTESTOR: Address = address!("0x00000000000000000000000000000000000a7e57");
const STRANGER: Address = address!("0x0000000000000000000000000000000000005757");
const FORWARDER: Address = address!("0x000000000000000000000000000000000000f0f0");
const DELEGATOR: Address = address!("0x000000000000000000000000000000000000de1e");
const REQ: B256 = b256!("0x0101010101010101010101010101010101010101010101010101010101010101");
const OUT: B256 = b256!("0x0202020202020202020202020202020202020202020202020202020202020202");
const ROOT: B256 = b256!("0x0303030303030303030303030303030303030303030303030303030303030303");
const BLOCK: u64 = 42;
const TX_GAS: u64 = 30_000_000;

/// `STATICCALL`s the precompile with its own calldata and returns the success flag as a word.
const STATIC_FORWARDER: &[u8] = &[
    0x36, 0x5f, 0x5f, 0x37, // calldatacopy(0, 0, calldatasize())
    0x5f, 0x5f, 0x36, 0x5f, 0x61, 0x0a, 0x00, 0x5a,
    0xfa, // staticcall(gas(), 0xA00, 0, cds, 0, 0)
    0x5f, 0x52, 0x60, 0x20, 0x5f, 0xf3, // mstore(0, success) return(0, 32)
];

/// The same with `DELEGATECALL`.
const DELEGATE_FORWARDER: &[u8] = &[
    0x36, 0x5f, 0x5f, 0x37, 0x5f, 0x5f, 0x36, 0x5f, 0x61, 0x0a, 0x00, 0x5a, 0xf4, 0x5f, 0x52, 0x60,
    0x20, 0x5f, 0xf3,
];

type Outcome = ExecutionResult<OpHaltReason>;

/// An in-memory chain with the precompile (code `0xFE`, as genesis gives it), an attestor set by
/// governance, and the two forwarder contracts.
struct Chain {
    db: CacheDB<EmptyDB>,
    factory: OlEvmFactory,
    env: EvmEnv<OpSpecId>,
}

impl Chain {
    fn new() -> Self {
        let spec = ol_primitives::dev::dev_chain_spec(None, 0).unwrap();
        let config = OlEvmConfig::new(&spec);
        let mut env = config.evm_env(BLOCK, 1_000, Address::ZERO, B256::ZERO, TX_GAS, 0);
        env.cfg_env.disable_nonce_check = true;
        env.cfg_env.disable_base_fee = true;
        env.cfg_env.disable_fee_charge = true;
        let mut db = CacheDB::new(EmptyDB::default());
        let code = |bytes: &'static [u8]| AccountInfo {
            code_hash: keccak256(bytes),
            code: Some(Bytecode::new_raw(Bytes::from_static(bytes))),
            nonce: 1,
            ..Default::default()
        };
        db.insert_account_info(ADDRESS, code(&[0xfe]));
        db.insert_account_info(FORWARDER, code(STATIC_FORWARDER));
        db.insert_account_info(DELEGATOR, code(DELEGATE_FORWARDER));
        for account in [GOVERNANCE, ATTESTOR, STRANGER] {
            db.insert_account_info(
                account,
                AccountInfo {
                    balance: U256::from(10u64).pow(U256::from(21)),
                    ..Default::default()
                },
            );
        }
        let mut chain = Self {
            db,
            factory: OlEvmFactory::new(ProofOfAttribution::new(GOVERNANCE)),
            env,
        };
        chain.ok(
            GOVERNANCE,
            sol::setAttestorCall {
                attestor: ATTESTOR,
                allowed: true,
            },
        );
        chain
    }

    fn transact_value(
        &mut self,
        from: Address,
        to: Address,
        data: Vec<u8>,
        value: U256,
    ) -> Outcome {
        let tx = OpTx(OpTransaction {
            base: TxEnv {
                caller: from,
                kind: TxKind::Call(to),
                data: data.into(),
                value,
                gas_limit: TX_GAS,
                chain_id: Some(self.env.cfg_env.chain_id),
                ..Default::default()
            },
            enveloped_tx: Some(Bytes::new()),
            deposit: DepositTransactionParts::default(),
        });
        let mut evm = self.factory.create_evm(&mut self.db, self.env.clone());
        evm.transact_commit(tx).expect("valid transaction")
    }

    fn transact(&mut self, from: Address, data: Vec<u8>) -> Outcome {
        self.transact_value(from, ADDRESS, data, U256::ZERO)
    }

    /// Calls `call` from `from`, expects success, and decodes the return value.
    fn ok<C: SolCall>(&mut self, from: Address, call: C) -> C::Return {
        match self.transact(from, call.abi_encode()) {
            ExecutionResult::Success { output, .. } => {
                C::abi_decode_returns(output.data()).expect("decodable return data")
            }
            other => panic!("{} failed: {other:?}", C::SIGNATURE),
        }
    }

    /// Calls `call` from `from` and returns the logs of the successful transaction.
    fn logs<C: SolCall>(&mut self, from: Address, call: C) -> Vec<Log> {
        match self.transact(from, call.abi_encode()) {
            ExecutionResult::Success { logs, .. } => logs,
            other => panic!("{} failed: {other:?}", C::SIGNATURE),
        }
    }

    /// Calls `call` and returns the revert data, checking that the precompile's storage did not
    /// change.
    fn revert_data<C: SolCall>(&mut self, from: Address, call: C) -> Bytes {
        self.revert_raw(from, call.abi_encode())
    }

    fn revert_raw(&mut self, from: Address, data: Vec<u8>) -> Bytes {
        let before = self.storage();
        let output = match self.transact(from, data) {
            ExecutionResult::Revert { output, .. } => output,
            other => panic!("expected a revert, got {other:?}"),
        };
        assert_eq!(
            self.storage(),
            before,
            "a reverted call changed the storage"
        );
        output
    }

    /// Expects a revert with exactly `error`.
    fn expect_error<C: SolCall, E: SolError>(&mut self, from: Address, call: C, error: E) {
        assert_eq!(
            self.revert_data(from, call),
            Bytes::from(error.abi_encode()),
            "revert data of {}",
            C::SIGNATURE
        );
    }

    /// The precompile account's non-zero storage.
    fn storage(&self) -> BTreeMap<U256, U256> {
        self.db
            .cache
            .accounts
            .get(&ADDRESS)
            .map(|account| {
                account
                    .storage
                    .iter()
                    .filter(|(_, value)| !value.is_zero())
                    .map(|(k, v)| (*k, *v))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn record(&mut self, id: B256, contributors: Vec<Address>, weights: Vec<u32>) -> Vec<Log> {
        self.logs(ATTESTOR, record_call(id, contributors, weights, ROOT))
    }
}

fn record_call(
    id: B256,
    contributors: Vec<Address>,
    weights: Vec<u32>,
    root: B256,
) -> sol::recordCall {
    sol::recordCall {
        requestId: id,
        outputHash: OUT,
        method: 0,
        contributors,
        weightsPpm: weights,
        evidenceRoot: root,
    }
}

fn contributors_of(n: usize) -> Vec<Address> {
    (0..n)
        .map(|i| Address::left_padding_from(&(0xC0000 + i as u64).to_be_bytes()))
        .collect()
}

/// `n` positive weights summing to 1e6 (the forge fixture's `evenWeights` shape: the rest to the
/// first).
fn even_weights(n: usize) -> Vec<u32> {
    let mut weights = vec![WEIGHT_DENOMINATOR / n as u32; n];
    weights[0] += WEIGHT_DENOMINATOR - weights.iter().sum::<u32>();
    weights
}

fn u(n: u64) -> U256 {
    U256::from(n)
}

#[test]
fn constants_and_governance() {
    let mut chain = Chain::new();
    assert_eq!(chain.ok(STRANGER, sol::governanceCall {}), GOVERNANCE);
    assert_eq!(
        chain.ok(STRANGER, sol::WEIGHT_DENOMINATORCall {}),
        1_000_000
    );
    assert_eq!(chain.ok(STRANGER, sol::MAX_CONTRIBUTORSCall {}), u(256));
    assert_eq!(chain.ok(STRANGER, sol::versionCall {}), "1.0.0");
}

#[test]
fn set_attestor_by_governance_adds_removes_and_emits() {
    let mut chain = Chain::new();
    let a2 = address!("0x00000000000000000000000000000000000000a2");
    let logs = chain.logs(
        GOVERNANCE,
        sol::setAttestorCall {
            attestor: a2,
            allowed: true,
        },
    );
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].address, ADDRESS);
    let event = sol::AttestorSet::decode_log_data(&logs[0].data).unwrap();
    assert_eq!((event.attestor, event.allowed), (a2, true));
    assert!(chain.ok(STRANGER, sol::isAttestorCall(a2)));
    chain.ok(
        GOVERNANCE,
        sol::setAttestorCall {
            attestor: a2,
            allowed: false,
        },
    );
    assert!(!chain.ok(STRANGER, sol::isAttestorCall(a2)));
}

#[test]
fn set_attestor_reverts_for_others_and_zero_address() {
    let mut chain = Chain::new();
    for caller in [ATTESTOR, STRANGER] {
        chain.expect_error(
            caller,
            sol::setAttestorCall {
                attestor: STRANGER,
                allowed: true,
            },
            sol::NotGovernance { caller },
        );
    }
    chain.expect_error(
        GOVERNANCE,
        sol::setAttestorCall {
            attestor: Address::ZERO,
            allowed: true,
        },
        sol::ZeroAddress {},
    );
    assert!(!chain.ok(STRANGER, sol::isAttestorCall(STRANGER)));
}

#[test]
fn without_governance_nobody_sets_attestors() {
    let mut chain = Chain::new();
    chain.factory = OlEvmFactory::new(ProofOfAttribution::new(Address::ZERO));
    chain.expect_error(
        Address::ZERO,
        sol::setAttestorCall {
            attestor: STRANGER,
            allowed: true,
        },
        sol::NotGovernance {
            caller: Address::ZERO,
        },
    );
}

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
        super::split(amount, &weights).unwrap()
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
