//! The state provider revm executes against: the latest committed state, or the state after
//! any earlier block (read through the history tables).

use crate::{StorageError, provider::Storage};
use alloy_primitives::{Address, B256, U256};
use revm::{
    bytecode::Bytecode,
    database::{DBErrorMarker, DatabaseRef},
    state::AccountInfo,
};

impl DBErrorMarker for StorageError {}

/// Reads committed state for revm (wrap it in `revm::database::State` to execute).
#[derive(Debug, Clone)]
pub struct StateProviderDb {
    storage: Storage,
    /// The block whose post-state is read; `None` reads whatever is current, which only the
    /// single writer (the block producer) may rely on.
    block: Option<u64>,
}

impl StateProviderDb {
    /// A provider over the latest state of `storage`.
    pub const fn new(storage: Storage) -> Self {
        Self {
            storage,
            block: None,
        }
    }

    /// A provider over the state right after block `number`, stable while new blocks land.
    pub const fn at_block(storage: Storage, number: u64) -> Self {
        Self {
            storage,
            block: Some(number),
        }
    }
}

impl DatabaseRef for StateProviderDb {
    type Error = StorageError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        let account = match self.block {
            Some(number) => self.storage.account_at(&address, number)?,
            None => self.storage.account(&address)?,
        };
        Ok(account.map(|account| AccountInfo {
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
        let slot = B256::from(index);
        match self.block {
            Some(number) => self.storage.storage_at(&address, &slot, number),
            None => self.storage.storage(&address, &slot),
        }
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        Ok(self.storage.canonical_hash(number)?.unwrap_or_default())
    }
}
