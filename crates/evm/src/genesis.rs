//! Contracts deployed in place into a genesis alloc.
//!
//! [`GenesisBuilder`] loads a chain spec's alloc into an in-memory state and runs the chain's own
//! EVM on it (op-revm with the PoA precompile, at the genesis block's environment). A contract is
//! deployed *in place*: its creation code (constructor arguments appended) becomes the code of the
//! target address and is called there, so `address(this)` is the target; the returned runtime
//! code (with its immutables) replaces it, and whatever the constructor stored stays. Calls can
//! then initialise the contracts as any account, which stands for transactions the genesis skips
//! (a timelock's executed proposals, for instance). [`GenesisBuilder::alloc`] gives the result.

use crate::{OlEvmConfig, OlEvmFactory, OpSpecId};
use alloy_evm::{Evm, EvmEnv, EvmFactory};
use alloy_genesis::GenesisAccount;
use alloy_op_evm::OpTx;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address};
use ol_primitives::ChainSpec;
use op_revm::{OpTransaction, transaction::deposit::DepositTransactionParts};
use revm::{
    context::{TxEnv, result::ExecutionResult},
    database::{CacheDB, EmptyDB},
    state::{AccountInfo, Bytecode},
};
use std::collections::BTreeMap;

/// Gas given to every constructor and call.
const GAS_LIMIT: u64 = 100_000_000;

/// The sender of the calls that run constructors; never part of the alloc.
const DEPLOYER: Address = address!("0x00000000000000000000000000000000dE9105e5");

/// Why a genesis contract could not be deployed or initialised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisBuildError {
    /// The target address already has code.
    #[error("{0} already has code")]
    Occupied(Address),
    /// The constructor or call reverted or halted.
    #[error("{what} at {address} failed: {reason}")]
    Failed {
        /// Constructor or call.
        what: &'static str,
        /// The contract.
        address: Address,
        /// Revert data or halt reason.
        reason: String,
    },
    /// A constructor returned no code.
    #[error("the constructor at {0} returned empty code")]
    EmptyCode(Address),
    /// An account outside the alloc and the deployed contracts got code or storage.
    #[error("{0} got code or storage but is neither in the alloc nor deployed")]
    Stray(Address),
}

/// An in-memory genesis state that contracts are deployed into.
#[derive(Debug)]
pub struct GenesisBuilder {
    db: CacheDB<EmptyDB>,
    factory: OlEvmFactory,
    env: EvmEnv<OpSpecId>,
    alloc: BTreeMap<Address, GenesisAccount>,
}

impl GenesisBuilder {
    /// A builder over the alloc of `spec`, executing with its EVM configuration at its genesis
    /// block (number 0, its timestamp and gas limit, no fees).
    pub fn new(spec: &ChainSpec) -> Self {
        let config = OlEvmConfig::new(spec);
        let genesis = &spec.genesis;
        let mut env = config.evm_env(
            0,
            genesis.timestamp,
            genesis.coinbase,
            genesis.mix_hash,
            GAS_LIMIT,
            0,
        );
        env.cfg_env.disable_nonce_check = true;
        env.cfg_env.disable_base_fee = true;
        env.cfg_env.disable_fee_charge = true;
        env.cfg_env.disable_block_gas_limit = true;
        // Calls are made as contracts too (a timelock executing its proposals).
        env.cfg_env.disable_eip3607 = true;
        let mut db = CacheDB::new(EmptyDB::default());
        for (address, account) in &genesis.alloc {
            let code = account
                .code
                .clone()
                .filter(|code| !code.is_empty())
                .map(Bytecode::new_raw);
            db.insert_account_info(
                *address,
                AccountInfo {
                    balance: account.balance,
                    nonce: account.nonce.unwrap_or_default(),
                    code_hash: code
                        .as_ref()
                        .map_or(revm::primitives::KECCAK_EMPTY, |c| c.hash_slow()),
                    code,
                    ..Default::default()
                },
            );
            for (slot, value) in account.storage.iter().flatten() {
                db.insert_account_storage(*address, (*slot).into(), (*value).into())
                    .expect("the in-memory database cannot fail");
            }
        }
        Self {
            db,
            factory: *config.evm_factory(),
            env,
            alloc: genesis.alloc.clone(),
        }
    }

    /// Runs `initcode` (creation code with the ABI-encoded constructor arguments appended) at
    /// `address` and leaves the returned runtime code and the constructor's storage there, with
    /// nonce 1 as a created contract has.
    pub fn deploy(&mut self, address: Address, initcode: Bytes) -> Result<(), GenesisBuildError> {
        if self
            .db
            .cache
            .accounts
            .get(&address)
            .is_some_and(|account| account.info.code.as_ref().is_some_and(|c| !c.is_empty()))
        {
            return Err(GenesisBuildError::Occupied(address));
        }
        self.db.insert_account_info(address, code_info(initcode, 1));
        let runtime = self
            .execute(DEPLOYER, address, Bytes::new())
            .map_err(|reason| GenesisBuildError::Failed {
                what: "constructor",
                address,
                reason,
            })?;
        if runtime.is_empty() {
            return Err(GenesisBuildError::EmptyCode(address));
        }
        self.db.insert_account_info(address, code_info(runtime, 1));
        self.alloc.entry(address).or_default();
        Ok(())
    }

    /// Calls `to` with `data` as `from` (no signature, no fee) and commits the changes; returns
    /// the return data.
    pub fn call(
        &mut self,
        from: Address,
        to: Address,
        data: Bytes,
    ) -> Result<Bytes, GenesisBuildError> {
        self.execute(from, to, data)
            .map_err(|reason| GenesisBuildError::Failed {
                what: "call",
                address: to,
                reason,
            })
    }

    /// Calls `to` without committing anything, for checks.
    pub fn view(&mut self, to: Address, data: Bytes) -> Result<Bytes, GenesisBuildError> {
        let mut evm = self.factory.create_evm(&mut self.db, self.env.clone());
        let result = evm
            .transact(tx(self.env.cfg_env.chain_id, DEPLOYER, to, data))
            .map_err(|err| GenesisBuildError::Failed {
                what: "view",
                address: to,
                reason: err.to_string(),
            })?;
        outcome(result.result).map_err(|reason| GenesisBuildError::Failed {
            what: "view",
            address: to,
            reason,
        })
    }

    /// The alloc: the accounts of the original alloc with their balances and nonces, and the
    /// deployed contracts, each with its code and non-zero storage as the state now holds it.
    /// Fails if any other account got code or storage.
    pub fn alloc(&self) -> Result<BTreeMap<Address, GenesisAccount>, GenesisBuildError> {
        for (address, account) in &self.db.cache.accounts {
            let has_state = account.info.code.as_ref().is_some_and(|c| !c.is_empty())
                || account.storage.values().any(|v| !v.is_zero());
            if has_state && !self.alloc.contains_key(address) {
                return Err(GenesisBuildError::Stray(*address));
            }
        }
        Ok(self
            .alloc
            .iter()
            .map(|(address, original)| {
                let mut account = original.clone();
                if let Some(state) = self.db.cache.accounts.get(address) {
                    let storage: BTreeMap<B256, B256> = state
                        .storage
                        .iter()
                        .filter(|(_, value)| !value.is_zero())
                        .map(|(slot, value)| (B256::from(*slot), B256::from(*value)))
                        .collect();
                    account.storage = (!storage.is_empty()).then_some(storage);
                    account.code = state
                        .info
                        .code
                        .as_ref()
                        .map(|code| code.original_bytes())
                        .filter(|code| !code.is_empty());
                    if original.code.is_none() && account.code.is_some() {
                        account.nonce = Some(1);
                    }
                }
                (*address, account)
            })
            .collect())
    }

    fn execute(&mut self, from: Address, to: Address, data: Bytes) -> Result<Bytes, String> {
        let chain_id = self.env.cfg_env.chain_id;
        let mut evm = self.factory.create_evm(&mut self.db, self.env.clone());
        let result = evm
            .transact_commit(tx(chain_id, from, to, data))
            .map_err(|err| err.to_string())?;
        outcome(result)
    }
}

fn code_info(code: Bytes, nonce: u64) -> AccountInfo {
    let code = Bytecode::new_raw(code);
    AccountInfo {
        code_hash: code.hash_slow(),
        code: Some(code),
        nonce,
        balance: U256::ZERO,
        ..Default::default()
    }
}

fn tx(chain_id: u64, from: Address, to: Address, data: Bytes) -> OpTx {
    OpTx(OpTransaction {
        base: TxEnv {
            caller: from,
            kind: TxKind::Call(to),
            data,
            gas_limit: GAS_LIMIT,
            chain_id: Some(chain_id),
            ..Default::default()
        },
        enveloped_tx: Some(Bytes::new()),
        deposit: DepositTransactionParts::default(),
    })
}

fn outcome<H: std::fmt::Debug>(result: ExecutionResult<H>) -> Result<Bytes, String> {
    match result {
        ExecutionResult::Success { output, .. } => Ok(output.into_data()),
        ExecutionResult::Revert { output, .. } => Err(format!("reverted with {output}")),
        ExecutionResult::Halt { reason, .. } => Err(format!("halted: {reason:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poa::{self, abi::ProofOfAttributionImpl as sol};
    use alloy_sol_types::SolCall;

    /// A constructor that stores `CALLVALUE + 7` in slot 0 and returns `0x2a` as runtime code.
    const INITCODE: &[u8] = &[
        0x60, 0x07, 0x34, 0x01, 0x5f, 0x55, // sstore(0, callvalue() + 7)
        0x60, 0x2a, 0x5f, 0x53, // mstore8(0, 0x2a)
        0x60, 0x01, 0x5f, 0xf3, // return(0, 1)
    ];

    #[test]
    fn deploys_in_place_and_keeps_constructor_storage() {
        let spec = ol_primitives::dev::dev_chain_spec(None, 0).unwrap();
        let mut builder = GenesisBuilder::new(&spec);
        let target = address!("0x0000000000000000000000000000000000c0ffee");
        builder
            .deploy(target, Bytes::from_static(INITCODE))
            .unwrap();
        let alloc = builder.alloc().unwrap();
        let account = &alloc[&target];
        assert_eq!(account.code.as_ref().map(|c| c.to_vec()), Some(vec![0x2a]));
        assert_eq!(account.nonce, Some(1));
        assert_eq!(
            account.storage.as_ref().unwrap()[&B256::ZERO],
            B256::from(U256::from(7))
        );
        assert_eq!(
            builder.deploy(target, Bytes::from_static(INITCODE)),
            Err(GenesisBuildError::Occupied(target))
        );
        // The original alloc is kept, the deployer is not added.
        assert_eq!(alloc.len(), spec.genesis.alloc.len() + 1);
        assert!(!alloc.contains_key(&DEPLOYER));
    }

    #[test]
    fn failed_constructors_and_calls_are_reported() {
        let spec = ol_primitives::dev::dev_chain_spec(None, 0).unwrap();
        let mut builder = GenesisBuilder::new(&spec);
        let target = address!("0x0000000000000000000000000000000000c0ffee");
        let err = builder
            .deploy(target, Bytes::from_static(&[0x5f, 0x5f, 0xfd]))
            .unwrap_err();
        assert!(matches!(
            err,
            GenesisBuildError::Failed {
                what: "constructor",
                ..
            }
        ));
        let call = sol::setAttestorCall {
            attestor: target,
            allowed: true,
        };
        let err = builder
            .call(target, poa::ADDRESS, call.abi_encode().into())
            .unwrap_err();
        assert!(err.to_string().contains("reverted"), "{err}");
    }
}
