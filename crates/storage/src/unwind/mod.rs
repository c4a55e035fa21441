//! Unwinding the chain to an earlier block (`openledger db unwind`, reorgs): the state, the
//! trie, the block records, the indexes and the heads go back in one synced write.
//!
//! The state to restore is what the history tables already hold: for every key a block above
//! the target changed (its [`ChangeSet`]), the value right after the target is the first history
//! entry past it. Those values go through the same [`Storage::prepare_state`] as a block's
//! changes, so the trie is updated incrementally, and the root that comes out must equal the
//! target's state root before anything is written.

mod change_set;

pub use change_set::ChangeSet;

use crate::{
    AccountChange, DerivedHead, StateChanges, Storage, StorageError, activity::nonce_key, tables,
};
use alloy_consensus::Transaction as _;
use alloy_eips::eip2718::Encodable2718 as _;
use alloy_primitives::{Address, B256};
use rocksdb::WriteBatch;
use std::collections::{BTreeMap, BTreeSet};
use tracing::info;

/// What an unwind did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnwindReport {
    /// The head before.
    pub from: u64,
    /// The head now.
    pub to: u64,
    /// The new head's hash.
    pub head_hash: B256,
    /// Accounts and slots restored.
    pub restored_keys: usize,
    /// Whether the safe head was lowered to the new head.
    pub lowered_safe: bool,
    /// Whether the finalized head was lowered to the new head.
    pub lowered_finalized: bool,
}

impl Storage {
    /// The change set block `number` recorded, `None` for genesis or a block not stored.
    pub fn change_set(&self, number: u64) -> Result<Option<ChangeSet>, StorageError> {
        self.get_raw(tables::CHANGE_SETS, &tables::number_key(number))?
            .map(|raw| ChangeSet::decode(&raw))
            .transpose()
    }

    /// Removes every block above `target` and restores the state right after it, in one
    /// synced write: either the database is at `target` afterwards or it is as it was. The
    /// safe and finalized heads above `target` become `target_head` (the caller knows the L1
    /// block the target was derived from; `target_head.l2_number` must be `target`).
    pub fn unwind_to(
        &self,
        target: u64,
        target_head: DerivedHead,
    ) -> Result<UnwindReport, StorageError> {
        let head = self.head_number()?;
        if target > head {
            return Err(StorageError::UnwindAboveHead { target, head });
        }
        if target_head.l2_number != target {
            return Err(StorageError::Inconsistent(format!(
                "unwinding to {target} with a safe head at {}",
                target_head.l2_number
            )));
        }
        let target_header = self
            .header_by_number(target)?
            .ok_or_else(|| StorageError::Inconsistent(format!("block {target} has no header")))?;

        let mut batch = WriteBatch::default();
        let mut accounts = BTreeSet::new();
        let mut slots = BTreeSet::new();
        // Newest first: where two unwound blocks wrote the same index key, the older block's
        // prior value is applied last and wins.
        for number in (target + 1..=head).rev() {
            let changes = self.change_set(number)?.ok_or_else(|| {
                StorageError::Inconsistent(format!("block {number} has no change set"))
            })?;
            self.delete_block(&mut batch, number, &changes)?;
            accounts.extend(changes.accounts);
            slots.extend(changes.slots);
        }

        let restored_keys = accounts.len() + slots.len();
        let state = self.state_after(target, &accounts, &slots)?;
        let prepared = self.prepare_state(&state)?;
        if prepared.state_root != target_header.state_root {
            return Err(StorageError::Inconsistent(format!(
                "unwinding to block {target} gives state root {}, but the block has {}",
                prepared.state_root, target_header.state_root
            )));
        }
        self.put_writes(&mut batch, &prepared.writes);
        batch.put_cf(
            self.cf(tables::META),
            tables::HEAD_KEY,
            tables::number_key(target),
        );
        let mut lowered = [false; 2];
        for (key, lowered) in [tables::SAFE_HEAD_KEY, tables::FINALIZED_HEAD_KEY]
            .into_iter()
            .zip(&mut lowered)
        {
            let above = self
                .derived_head(key)?
                .is_some_and(|head| head.l2_number > target);
            if above {
                self.put_derived_head(&mut batch, key, &target_head)?;
                *lowered = true;
            }
        }
        self.write(batch)?;
        info!(from = head, to = target, restored_keys, "unwound the chain");
        Ok(UnwindReport {
            from: head,
            to: target,
            head_hash: target_header.hash(),
            restored_keys,
            lowered_safe: lowered[0],
            lowered_finalized: lowered[1],
        })
    }

    /// Adds the deletes of block `number`'s records, history entries and index entries to
    /// `batch`, and the restores of the creator records it overwrote.
    fn delete_block(
        &self,
        batch: &mut WriteBatch,
        number: u64,
        changes: &ChangeSet,
    ) -> Result<(), StorageError> {
        let header = self
            .header_by_number(number)?
            .ok_or_else(|| StorageError::Inconsistent(format!("block {number} has no header")))?;
        let body = self
            .body(number)?
            .ok_or_else(|| StorageError::Inconsistent(format!("block {number} has no body")))?;
        self.delete_block_records(batch, number, &header.hash());
        for (tx, sender) in body.transactions.iter().zip(&body.senders) {
            batch.delete_cf(self.cf(tables::TX_LOOKUP), tx.trie_hash());
            if !tx.is_deposit() {
                batch.delete_cf(
                    self.cf(tables::SENDER_NONCES),
                    nonce_key(sender, tx.nonce()),
                );
            }
        }
        for address in &changes.accounts {
            batch.delete_cf(
                self.cf(tables::ACCOUNT_HISTORY),
                tables::history_key(address.as_slice(), number),
            );
        }
        for slot in &changes.slots {
            batch.delete_cf(
                self.cf(tables::STORAGE_HISTORY),
                tables::history_key(slot, number),
            );
        }
        for appearance in &changes.appearances {
            batch.delete_cf(self.cf(tables::ADDRESS_TRANSACTIONS), appearance);
        }
        for (contract, prior) in &changes.creations {
            match prior {
                Some(prior) => batch.put_cf(self.cf(tables::CONTRACT_CREATORS), contract, prior),
                None => batch.delete_cf(self.cf(tables::CONTRACT_CREATORS), contract),
            }
        }
        Ok(())
    }

    /// The accounts and slots given, as they were right after block `number`, as changes to
    /// apply to the current state.
    fn state_after(
        &self,
        number: u64,
        accounts: &BTreeSet<Address>,
        slots: &BTreeSet<[u8; 52]>,
    ) -> Result<StateChanges, StorageError> {
        let mut slots_by_account: BTreeMap<Address, Vec<B256>> = BTreeMap::new();
        for key in slots {
            slots_by_account
                .entry(Address::from_slice(&key[..20]))
                .or_default()
                .push(B256::from_slice(&key[20..]));
        }
        for address in accounts {
            slots_by_account.entry(*address).or_default();
        }
        let mut changes = Vec::with_capacity(slots_by_account.len());
        for (address, slots) in slots_by_account {
            let account = self.account_at(&address, number)?;
            let storage = slots
                .into_iter()
                .map(|slot| Ok((slot, self.storage_at(&address, &slot, number)?)))
                .collect::<Result<_, StorageError>>()?;
            changes.push(AccountChange {
                address,
                info: account.map(|account| (account.nonce, account.balance, account.code_hash)),
                // Every slot that differs from its value at `number` was written by an unwound
                // block and is listed; an account that did not exist loses its storage anyway.
                wipe_storage: false,
                storage,
            });
        }
        Ok(StateChanges {
            accounts: changes,
            contracts: Vec::new(),
        })
    }
}
