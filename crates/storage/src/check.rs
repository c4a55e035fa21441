//! The consistency check run on open, and a full recomputation of the state root from plain
//! state (used by `openledger db check` and by tests as an oracle for the incremental root).

use crate::{StorageError, changes::AccountTrieReader, provider::Storage, tables};
use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_rlp::{Decodable, Encodable};
use alloy_trie::TrieAccount;
use rocksdb::WriteBatch;
use tracing::warn;

/// What the consistency check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyReport {
    /// Head block number.
    pub head: u64,
    /// Head block hash.
    pub head_hash: B256,
    /// What was repaired, one line each.
    pub repaired: Vec<String>,
}

impl Storage {
    /// Checks that the head, its block records and the state trie agree. Records past the head
    /// (which a commit can never leave, but a foreign tool might) are removed; anything else that
    /// disagrees makes the node refuse to start with a message naming the problem.
    pub fn check_and_repair(&self) -> Result<ConsistencyReport, StorageError> {
        let schema = self.get_raw(tables::META, tables::SCHEMA_KEY)?;
        if schema.as_deref() != Some(&tables::SCHEMA_VERSION.to_be_bytes()[..]) {
            return Err(StorageError::Inconsistent(format!(
                "schema version {schema:?} is not {} (a database of another version of openledger?)",
                tables::SCHEMA_VERSION
            )));
        }
        let head = self.head_number()?;
        let header = self.header_by_number(head)?.ok_or_else(|| {
            StorageError::Inconsistent(format!("head is {head} but there is no header for it"))
        })?;
        if self.canonical_hash(head)? != Some(header.hash()) {
            return Err(StorageError::Inconsistent(format!(
                "canonical hash of head {head} disagrees with its header"
            )));
        }
        if self.block_number(&header.hash())? != Some(head) {
            return Err(StorageError::Inconsistent(format!(
                "hash index of head {head} is missing"
            )));
        }
        if self.body(head)?.is_none() || self.receipts(head)?.is_none() {
            return Err(StorageError::Inconsistent(format!(
                "head {head} has no body or receipts"
            )));
        }
        if self.canonical_hash(0)? != Some(self.genesis_hash()?) {
            return Err(StorageError::Inconsistent(
                "genesis hash disagrees with block 0".into(),
            ));
        }
        let trie_root = ol_trie::root_of(&AccountTrieReader(self))?;
        if trie_root != header.state_root {
            return Err(StorageError::Inconsistent(format!(
                "state trie root {trie_root} differs from head {head}'s state root {}",
                header.state_root
            )));
        }

        let mut repaired = Vec::new();
        let mut batch = WriteBatch::default();
        let mut next = head + 1;
        while let Some(orphan) = self.header_by_number(next)? {
            warn!(number = next, "removing block records past the head");
            self.delete_block_records(&mut batch, next, &orphan.hash());
            repaired.push(format!("removed block {next} past the head"));
            next += 1;
        }
        if !repaired.is_empty() {
            self.write(batch)?;
        }
        Ok(ConsistencyReport {
            head,
            head_hash: header.hash(),
            repaired,
        })
    }

    /// Recomputes the state root from the plain state alone (every account and slot), checking
    /// each account's stored storage root on the way. Cost is linear in the state size.
    pub fn recompute_state_root(&self) -> Result<B256, StorageError> {
        let mut storage_entries = self.scan(tables::STORAGE).peekable();
        let mut leaves = Vec::new();
        for item in self.scan(tables::ACCOUNTS) {
            let (key, value) = item?;
            let address = Address::try_from(&key[..])
                .map_err(|_| StorageError::corrupt(tables::ACCOUNTS, "key is not an address"))?;
            let mut account = TrieAccount::decode(&mut &value[..])
                .map_err(|err| StorageError::corrupt(tables::ACCOUNTS, err))?;
            let mut slots = Vec::new();
            while let Some(Ok((slot_key, _))) = storage_entries.peek() {
                if slot_key[..20] < address[..] {
                    return Err(StorageError::Inconsistent(format!(
                        "storage of {} has no account",
                        Address::from_slice(&slot_key[..20])
                    )));
                }
                if slot_key[..20] != address[..] {
                    break;
                }
                let (slot_key, slot_value) = storage_entries.next().expect("peeked")?;
                let value = U256::from_be_slice(&slot_value);
                if let Some(rlp) = ol_trie::storage_value_rlp(value) {
                    slots.push((keccak256(&slot_key[20..]), rlp));
                }
            }
            if let Some(Err(_)) = storage_entries.peek() {
                storage_entries.next().expect("peeked")?;
            }
            let storage_root = ol_trie::full_root(slots);
            if storage_root != account.storage_root {
                return Err(StorageError::Inconsistent(format!(
                    "stored storage root of {address} is {}, recomputed {storage_root}",
                    account.storage_root
                )));
            }
            account.storage_root = storage_root;
            let mut encoded = Vec::new();
            account.encode(&mut encoded);
            leaves.push((keccak256(address), encoded));
        }
        if let Some(entry) = storage_entries.next() {
            let (slot_key, _) = entry?;
            return Err(StorageError::Inconsistent(format!(
                "storage of {} has no account",
                Address::from_slice(&slot_key[..20])
            )));
        }
        Ok(ol_trie::full_root(leaves))
    }
}
