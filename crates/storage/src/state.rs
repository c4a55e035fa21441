//! The state provider revm executes against: the latest committed state.

use crate::{StorageError, provider::Storage};
use alloy_primitives::{Address, B256, U256};
use revm::{
    bytecode::Bytecode,
    database::{DBErrorMarker, DatabaseRef},
    state::AccountInfo,
};

impl DBErrorMarker for StorageError {}

/// Reads the latest committed state for revm (wrap it in `revm::database::State` to execute).
#[derive(Debug, Clone)]
pub struct StateProviderDb {
    storage: Storage,
}

impl StateProviderDb {
    /// A provider over the latest state of `storage`.
    pub const fn new(storage: Storage) -> Self {
        Self { storage }
    }
}

impl DatabaseRef for StateProviderDb {
    type Error = StorageError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self.storage.account(&address)?.map(|account| AccountInfo {
            balance: account.balance,
            nonce: account.nonce,
            code_hash: account.code_hash,
            // `None` makes revm load the code by hash; the default is *empty* code, which
            // would turn every contract into a no-op.
            code: None,
            account_id: None,
        }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == alloy_trie::KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        let code = self.storage.code(&code_hash)?.ok_or_else(|| {
            StorageError::Inconsistent(format!(
                "code {code_hash} referenced by an account is missing"
            ))
        })?;
        Ok(Bytecode::new_raw(code))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        self.storage.storage(&address, &B256::from(index))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        Ok(self.storage.canonical_hash(number)?.unwrap_or_default())
    }
}
