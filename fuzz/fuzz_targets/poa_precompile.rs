//! The PoA precompile on arbitrary call sequences: every call ends as a success, a revert or a
//! halt (never a panic or a fatal error), within its gas limit, and a call that does not succeed
//! leaves the precompile's storage as it was.
//!
//! Input: a sequence of calls, each `[caller, gas_hi, gas_lo, flags, len, calldata[len]]`.
//! `caller` picks governance, an attestor or a stranger; `flags` bit 0 sends 1 wei; calldata
//! whose first byte is below 0x40 gets a real selector of the interface, so decoding is reached.
#![no_main]

use alloy_evm::{Evm, EvmFactory};
use alloy_op_evm::OpTx;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address, keccak256};
use libfuzzer_sys::fuzz_target;
use ol_evm::{
    OlEvmConfig, OlEvmFactory,
    poa::{ADDRESS, ProofOfAttribution},
};
use op_revm::{OpTransaction, transaction::deposit::DepositTransactionParts};
use revm::{
    context::{
        TxEnv,
        result::{EVMError, ExecutionResult},
    },
    database::{CacheDB, EmptyDB},
    state::{AccountInfo, Bytecode},
};

const GOVERNANCE: Address = address!("0x00000000000000000000000000000000000060f0");
const ATTESTOR: Address = address!("0x00000000000000000000000000000000000a7e57");
const STRANGER: Address = address!("0x0000000000000000000000000000000000005757");

/// The selectors of the interface (`cast sig`), so random data reaches the decoders.
const SELECTORS: [&str; 13] = [
    "WEIGHT_DENOMINATOR()",
    "MAX_CONTRIBUTORS()",
    "governance()",
    "version()",
    "isAttestor(address)",
    "setAttestor(address,bool)",
    "record(bytes32,bytes32,uint8,address[],uint32[],bytes32)",
    "isRecorded(bytes32)",
    "attributionOf(bytes32)",
    "summaryOf(bytes32)",
    "split(uint256,uint32[])",
    "verifyEvidence(bytes32,bytes32,bytes32[])",
    "evidenceLeaf(bytes32,address,uint256)",
];

fn storage(db: &CacheDB<EmptyDB>) -> Vec<(U256, U256)> {
    let mut slots: Vec<_> = db
        .cache
        .accounts
        .get(&ADDRESS)
        .map(|a| a.storage.iter().map(|(k, v)| (*k, *v)).collect())
        .unwrap_or_default();
    slots.retain(|(_, v)| !v.is_zero());
    slots.sort();
    slots
}

fuzz_target!(|data: &[u8]| {
    let spec = ol_primitives::dev::dev_chain_spec(None, 0).expect("embedded dev genesis");
    let config = OlEvmConfig::new(&spec);
    let mut env = config.evm_env(7, 1_000, Address::ZERO, B256::ZERO, 30_000_000, 0);
    env.cfg_env.disable_nonce_check = true;
    env.cfg_env.disable_base_fee = true;
    env.cfg_env.disable_fee_charge = true;
    let factory = OlEvmFactory::new(ProofOfAttribution::new(GOVERNANCE));
    let mut db = CacheDB::new(EmptyDB::default());
    db.insert_account_info(
        ADDRESS,
        AccountInfo {
            code: Some(Bytecode::new_raw(Bytes::from_static(&[0xfe]))),
            code_hash: keccak256([0xfe]),
            ..Default::default()
        },
    );
    for account in [GOVERNANCE, ATTESTOR, STRANGER] {
        db.insert_account_info(
            account,
            AccountInfo {
                balance: U256::from(1_000_000u64),
                ..Default::default()
            },
        );
    }
    let mut calls: Vec<(Address, u64, bool, Vec<u8>)> = Vec::new();
    // The attestor is registered first, so records get past the access check.
    let mut register = keccak256("setAttestor(address,bool)")[..4].to_vec();
    register.extend_from_slice(ATTESTOR.into_word().as_slice());
    register.extend_from_slice(U256::from(1).to_be_bytes::<32>().as_slice());
    calls.push((GOVERNANCE, 1_000_000, false, register));
    let mut rest = data;
    while let [caller, gas_hi, gas_lo, flags, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let mut calldata = tail[..len].to_vec();
        if let Some(first) = calldata.first().copied()
            && first < 0x40
        {
            let selector = SELECTORS[usize::from(first) % SELECTORS.len()];
            let mut with_selector = keccak256(selector)[..4].to_vec();
            with_selector.extend_from_slice(&calldata[1..]);
            calldata = with_selector;
        }
        let caller = [GOVERNANCE, ATTESTOR, STRANGER][usize::from(*caller) % 3];
        let gas = 21_000 + u64::from(u16::from_be_bytes([*gas_hi, *gas_lo])) * 64;
        calls.push((caller, gas, flags & 1 == 1, calldata));
        rest = &tail[len..];
    }
    for (caller, gas, value, calldata) in calls {
        let before = storage(&db);
        let tx = OpTx(OpTransaction {
            base: TxEnv {
                caller,
                kind: TxKind::Call(ADDRESS),
                data: calldata.into(),
                value: U256::from(u8::from(value)),
                gas_limit: gas,
                chain_id: Some(env.cfg_env.chain_id),
                ..Default::default()
            },
            enveloped_tx: Some(Bytes::new()),
            deposit: DepositTransactionParts::default(),
        });
        let mut evm = factory.create_evm(&mut db, env.clone());
        let result = match evm.transact_commit(tx) {
            Ok(result) => result,
            // The transaction itself may be invalid (intrinsic gas above its limit).
            Err(EVMError::Transaction(_)) => continue,
            Err(err) => panic!("the precompile aborted the transaction: {err}"),
        };
        assert!(result.tx_gas_used() <= gas);
        if !matches!(result, ExecutionResult::Success { .. }) {
            assert_eq!(storage(&db), before, "a failed call changed the storage");
        }
    }
});
