//! Writing the genesis state and block.

use crate::{
    StorageError,
    changes::{AccountChange, StateChanges},
    provider::{BlockBody, Storage},
    tables,
};
use alloy_consensus::{Header, Sealable, Sealed};
use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_rlp::Encodable;
use alloy_trie::KECCAK_EMPTY;
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use ol_primitives::{ChainSpec, genesis::genesis_header};
use rocksdb::WriteBatch;
use std::collections::BTreeMap;

/// The state changes that create a genesis alloc.
pub fn genesis_changes(spec: &ChainSpec) -> StateChanges {
    let mut changes = StateChanges::default();
    for (address, account) in &spec.genesis.alloc {
        let code_hash = match &account.code {
            Some(code) if !code.is_empty() => {
                let hash = keccak256(code);
                changes.contracts.push((hash, code.clone()));
                hash
            }
            _ => KECCAK_EMPTY,
        };
        let storage = account
            .storage
            .iter()
            .flatten()
            .map(|(slot, value)| (*slot, U256::from_be_bytes(value.0)))
            .filter(|(_, value)| !value.is_zero())
            .collect();
        changes.accounts.push(AccountChange {
            address: *address,
            info: Some((
                account.nonce.unwrap_or_default(),
                account.balance,
                code_hash,
            )),
            wipe_storage: false,
            storage,
        });
    }
    changes
}

impl Storage {
    /// Writes the genesis of `spec` into an empty database, or checks that the database already
    /// holds the same genesis. Returns the genesis header.
    pub fn init_genesis(&self, spec: &ChainSpec) -> Result<Sealed<Header>, StorageError> {
        let changes = genesis_changes(spec);
        if self.is_initialized()? {
            let existing = self.genesis_hash()?;
            let roots = genesis_roots(spec);
            let requested =
                genesis_header(spec, roots.state_root, roots.withdrawals_root).hash_slow();
            // The chain id is not part of the genesis header: compare it as well.
            let stored_chain_id = self.chain_spec()?.chain_id();
            if existing != requested || stored_chain_id != spec.chain_id() {
                return Err(StorageError::GenesisMismatch {
                    existing,
                    requested,
                });
            }
            return self
                .header_by_number(0)?
                .ok_or(StorageError::NotInitialized);
        }
        let prepared = self.prepare_state(&changes)?;
        let header =
            genesis_header(spec, prepared.state_root, prepared.withdrawals_root).seal_slow();
        let mut spec_with_anchor = spec.clone();
        spec_with_anchor.rollup.genesis.l2 = ol_primitives::L1BlockRef {
            hash: header.hash(),
            number: 0,
        };

        let mut batch = WriteBatch::default();
        self.put_writes(&mut batch, &prepared.writes);
        self.put_block(
            &mut batch,
            &header,
            &BlockBody {
                transactions: vec![],
                senders: vec![],
            },
            &[],
        );
        batch.put_cf(self.cf(tables::META), tables::GENESIS_KEY, header.hash());
        batch.put_cf(
            self.cf(tables::META),
            tables::SCHEMA_KEY,
            tables::SCHEMA_VERSION.to_be_bytes(),
        );
        let spec_json = serde_json::to_vec(&(&spec_with_anchor.genesis, &spec_with_anchor.rollup))
            .map_err(|err| StorageError::corrupt(tables::META, err))?;
        batch.put_cf(self.cf(tables::META), tables::CHAIN_SPEC_KEY, spec_json);
        self.write(batch)?;
        Ok(header)
    }
}

/// Roots of a genesis alloc computed in memory by full recomputation (no database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenesisRoots {
    /// The state root.
    pub state_root: B256,
    /// The storage root of the L2ToL1MessagePasser.
    pub withdrawals_root: B256,
    /// Storage root and code hash of every alloc account.
    pub accounts: BTreeMap<Address, (B256, B256)>,
}

/// Computes the roots of the genesis alloc of `spec` with a full trie build per account.
pub fn genesis_roots(spec: &ChainSpec) -> GenesisRoots {
    let changes = genesis_changes(spec);
    let mut accounts = BTreeMap::new();
    let mut leaves = Vec::with_capacity(changes.accounts.len());
    for change in &changes.accounts {
        let (nonce, balance, code_hash) = change.info.expect("genesis accounts exist");
        let storage_root = ol_trie::full_root(change.storage.iter().filter_map(|(slot, value)| {
            ol_trie::storage_value_rlp(*value).map(|rlp| (keccak256(slot), rlp))
        }));
        accounts.insert(change.address, (storage_root, code_hash));
        let mut encoded = Vec::new();
        TrieAccount {
            nonce,
            balance,
            storage_root,
            code_hash,
        }
        .encode(&mut encoded);
        leaves.push((keccak256(change.address), encoded));
    }
    let withdrawals_root = accounts
        .get(&ol_primitives::addresses::L2_TO_L1_MESSAGE_PASSER)
        .map_or(EMPTY_ROOT_HASH, |(root, _)| *root);
    GenesisRoots {
        state_root: ol_trie::full_root(leaves),
        withdrawals_root,
        accounts,
    }
}
