//! The flows of the forge tests of `ProofOfAttributionImpl` (`contracts/test/ProofOfAttribution.t.sol`),
//! run as transactions through op-revm against the native precompile: the chain harness and the
//! attestor set here, records in `records`, fee splits and evidence proofs in `payouts`.

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

mod payouts;
mod records;

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
