//! State changes of a block and their preparation into trie updates and a write set.

use crate::{StorageError, provider::Storage, tables};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rlp::{Decodable, Encodable};
use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY, TrieAccount};
use ol_trie::{NodeReader, TrieError};
use revm::{
    bytecode::Bytecode,
    database::{AccountState, BundleState, Cache},
};
use std::collections::BTreeMap;

/// The new state of one account after a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountChange {
    /// The account.
    pub address: Address,
    /// Nonce, balance and code hash; `None` when the account no longer exists.
    pub info: Option<(u64, U256, B256)>,
    /// Whether the account's previous storage is gone (self-destructed or re-created).
    pub wipe_storage: bool,
    /// Changed storage slots with their new values (zero deletes the slot).
    pub storage: Vec<(B256, U256)>,
}

/// Everything a block changed in the state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateChanges {
    /// Changed accounts.
    pub accounts: Vec<AccountChange>,
    /// New contract code by hash.
    pub contracts: Vec<(B256, Bytes)>,
}

impl StateChanges {
    /// Extracts the changes from revm's bundle state after a block.
    pub fn from_bundle(bundle: &BundleState) -> Self {
        let accounts: Vec<AccountChange> = bundle
            .state
            .iter()
            .map(|(address, account)| AccountChange {
                address: *address,
                info: account
                    .info
                    .as_ref()
                    .map(|info| (info.nonce, info.balance, info.code_hash)),
                wipe_storage: account.was_destroyed(),
                storage: account
                    .storage
                    .iter()
                    .filter(|(_, slot)| slot.is_changed() || account.was_destroyed())
                    .map(|(slot, value)| (B256::from(*slot), value.present_value))
                    .collect(),
            })
            .collect();
        Self::sorted(accounts, &bundle.contracts)
    }

    /// The changes a simulation's cache holds over its base state (`eth_simulateV1`): every
    /// account it read or wrote, as it is now. Accounts only read give back their stored
    /// values, which leaves the roots as they are; an account that does not exist, and one
    /// touched and left empty (EIP-161), is deleted.
    pub fn from_cache(cache: &Cache) -> Self {
        let accounts: Vec<AccountChange> = cache
            .accounts
            .iter()
            .map(|(address, account)| {
                let gone = account.account_state == AccountState::NotExisting
                    || (account.account_state != AccountState::None && account.info.is_empty());
                AccountChange {
                    address: *address,
                    info: (!gone).then_some((
                        account.info.nonce,
                        account.info.balance,
                        account.info.code_hash,
                    )),
                    wipe_storage: gone || account.account_state.is_storage_cleared(),
                    storage: account
                        .storage
                        .iter()
                        .map(|(slot, value)| (B256::from(*slot), *value))
                        .collect(),
                }
            })
            .collect();
        Self::sorted(accounts, &cache.contracts)
    }

    /// The changes in a canonical order: accounts by address, new code by hash (the empty code
    /// left out).
    fn sorted<'a>(
        mut accounts: Vec<AccountChange>,
        contracts: impl IntoIterator<Item = (&'a B256, &'a Bytecode)>,
    ) -> Self {
        accounts.sort_by_key(|change| change.address);
        let mut contracts: Vec<(B256, Bytes)> = contracts
            .into_iter()
            .filter(|(hash, _)| **hash != KECCAK_EMPTY)
            .map(|(hash, code)| (*hash, code.original_bytes()))
            .collect();
        contracts.sort_by_key(|(hash, _)| *hash);
        Self {
            accounts,
            contracts,
        }
    }
}

/// One write into a column family (`None` deletes).
pub(crate) type Write = (&'static str, Vec<u8>, Option<Vec<u8>>);

/// State changes turned into a state root and the writes that persist them.
#[derive(Debug, Default)]
pub struct PreparedState {
    /// State root after the changes.
    pub state_root: B256,
    /// Storage root of the L2ToL1MessagePasser after the changes (the header's withdrawals root).
    pub withdrawals_root: B256,
    /// Writes to apply in the block's batch, in order.
    pub(crate) writes: Vec<Write>,
    /// What the changed accounts and slots held before the changes, as `(table, key, prior)`;
    /// the commit appends the block number to each key.
    pub(crate) history: Vec<(&'static str, Vec<u8>, Vec<u8>)>,
}

/// Reads one account's storage trie; after a wipe it reads as empty.
struct StorageTrieReader<'a> {
    storage: &'a Storage,
    hashed_address: B256,
    wiped: bool,
}

impl NodeReader for StorageTrieReader<'_> {
    fn node(&self, path: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        if self.wiped {
            return Ok(None);
        }
        self.storage
            .get_raw(
                tables::STORAGE_TRIE,
                &tables::storage_trie_key(&self.hashed_address, path),
            )
            .map_err(|err| TrieError::Store(Box::new(err)))
    }
}

/// Reads the account trie.
pub(crate) struct AccountTrieReader<'a>(pub(crate) &'a Storage);

impl NodeReader for AccountTrieReader<'_> {
    fn node(&self, path: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        self.0
            .get_raw(tables::ACCOUNT_TRIE, path)
            .map_err(|err| TrieError::Store(Box::new(err)))
    }
}

impl Storage {
    /// Computes the state root after `changes` and the writes that persist them, without writing.
    pub fn prepare_state(&self, changes: &StateChanges) -> Result<PreparedState, StorageError> {
        let mut writes: Vec<Write> = Vec::new();
        let mut history = Vec::new();
        let mut account_trie_changes: BTreeMap<B256, Option<Vec<u8>>> = BTreeMap::new();
        let mut withdrawals_root = None;

        for (hash, code) in &changes.contracts {
            writes.push((tables::CODE, hash.to_vec(), Some(code.to_vec())));
        }

        for change in &changes.accounts {
            let hashed_address = keccak256(change.address);
            let existing_raw = self.get_raw(tables::ACCOUNTS, change.address.as_slice())?;
            let existing = existing_raw
                .as_deref()
                .map(|mut raw| TrieAccount::decode(&mut raw))
                .transpose()
                .map_err(|err| StorageError::corrupt(tables::ACCOUNTS, err))?;
            history.push((
                tables::ACCOUNT_HISTORY,
                change.address.to_vec(),
                existing_raw.unwrap_or_default(),
            ));
            let wipe = change.wipe_storage || change.info.is_none();
            // Prior values of every slot this block touches, wiped slots included.
            let mut prior_slots = BTreeMap::new();
            if wipe && existing.is_some_and(|account| account.storage_root != EMPTY_ROOT_HASH) {
                self.delete_all_storage(
                    &change.address,
                    &hashed_address,
                    &mut writes,
                    &mut prior_slots,
                )?;
            }
            for (slot, _) in &change.storage {
                let key = tables::storage_key(&change.address, slot).to_vec();
                if let std::collections::btree_map::Entry::Vacant(entry) = prior_slots.entry(key) {
                    // After a wipe every slot not listed above was zero.
                    let prior = if wipe {
                        Vec::new()
                    } else {
                        self.get_raw(tables::STORAGE, entry.key())?
                            .unwrap_or_default()
                    };
                    entry.insert(prior);
                }
            }
            history.extend(
                prior_slots
                    .into_iter()
                    .map(|(key, prior)| (tables::STORAGE_HISTORY, key, prior)),
            );
            let Some((nonce, balance, code_hash)) = change.info else {
                writes.push((tables::ACCOUNTS, change.address.to_vec(), None));
                account_trie_changes.insert(hashed_address, None);
                if change.address == ol_primitives::addresses::L2_TO_L1_MESSAGE_PASSER {
                    withdrawals_root = Some(EMPTY_ROOT_HASH);
                }
                continue;
            };

            let previous_root = if wipe {
                EMPTY_ROOT_HASH
            } else {
                existing.map_or(EMPTY_ROOT_HASH, |account| account.storage_root)
            };
            let storage_root = if change.storage.is_empty() {
                previous_root
            } else {
                let mut trie_changes = BTreeMap::new();
                for (slot, value) in &change.storage {
                    let key = tables::storage_key(&change.address, slot).to_vec();
                    if value.is_zero() {
                        writes.push((tables::STORAGE, key, None));
                    } else {
                        writes.push((
                            tables::STORAGE,
                            key,
                            Some(value.to_be_bytes::<32>().to_vec()),
                        ));
                    }
                    trie_changes.insert(keccak256(slot), ol_trie::storage_value_rlp(*value));
                }
                let reader = StorageTrieReader {
                    storage: self,
                    hashed_address,
                    wiped: wipe,
                };
                let update = ol_trie::apply_changes(&reader, &trie_changes)?;
                for (path, node) in update.writes {
                    writes.push((
                        tables::STORAGE_TRIE,
                        tables::storage_trie_key(&hashed_address, &path),
                        node,
                    ));
                }
                update.root
            };

            let account = TrieAccount {
                nonce,
                balance,
                storage_root,
                code_hash,
            };
            let mut encoded = Vec::with_capacity(account.length());
            account.encode(&mut encoded);
            writes.push((
                tables::ACCOUNTS,
                change.address.to_vec(),
                Some(encoded.clone()),
            ));
            account_trie_changes.insert(hashed_address, Some(encoded));
            if change.address == ol_primitives::addresses::L2_TO_L1_MESSAGE_PASSER {
                withdrawals_root = Some(storage_root);
            }
        }

        let update = ol_trie::apply_changes(&AccountTrieReader(self), &account_trie_changes)?;
        for (path, node) in update.writes {
            writes.push((tables::ACCOUNT_TRIE, path, node));
        }
        let withdrawals_root = match withdrawals_root {
            Some(root) => root,
            None => self
                .account(&ol_primitives::addresses::L2_TO_L1_MESSAGE_PASSER)?
                .map_or(EMPTY_ROOT_HASH, |account| account.storage_root),
        };
        Ok(PreparedState {
            state_root: update.root,
            withdrawals_root,
            writes,
            history,
        })
    }

    /// Adds deletes for every storage slot and storage trie node of an account, and records
    /// the deleted slots' values in `prior_slots`.
    fn delete_all_storage(
        &self,
        address: &Address,
        hashed_address: &B256,
        writes: &mut Vec<Write>,
        prior_slots: &mut BTreeMap<Vec<u8>, Vec<u8>>,
    ) -> Result<(), StorageError> {
        for (key, value) in self.entries_with_prefix(tables::STORAGE, address.as_slice())? {
            writes.push((tables::STORAGE, key.clone(), None));
            prior_slots.insert(key, value);
        }
        for key in self.keys_with_prefix(tables::STORAGE_TRIE, hashed_address.as_slice())? {
            writes.push((tables::STORAGE_TRIE, key, None));
        }
        Ok(())
    }
}
