//! The storage handle: opening, reads, and the atomic block commit.

use crate::{StorageError, changes::PreparedState, tables};
use alloy_consensus::{Header, Sealable, Sealed};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rlp::{Decodable, Encodable};
use alloy_trie::TrieAccount;
use ol_primitives::{ChainSpec, OpReceiptEnvelope, OpTxEnvelope, RollupConfig};
use rocksdb::{
    ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, WriteBatch, WriteOptions,
};
use std::{path::Path, sync::Arc};
use tracing::info;

/// A raw key and value from a table scan.
pub(crate) type KeyValue = (Box<[u8]>, Box<[u8]>);
/// An owned raw key and value.
pub(crate) type RawEntry = (Vec<u8>, Vec<u8>);

/// A block's transactions with their senders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockBody {
    /// Transactions in block order.
    pub transactions: Vec<OpTxEnvelope>,
    /// The sender of each transaction.
    pub senders: Vec<Address>,
}

/// The node's database. Cheap to clone; all clones share one RocksDB instance.
#[derive(Clone)]
pub struct Storage {
    pub(crate) db: Arc<DB>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("path", &self.db.path())
            .finish()
    }
}

impl Storage {
    /// Opens (or creates) the database under `path` and runs the consistency check.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_compression_type(rocksdb::DBCompressionType::Lz4);
        options.increase_parallelism(2);
        let descriptors = tables::ALL
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db = DB::open_cf_descriptors(&options, path, descriptors)?;
        let storage = Self { db: Arc::new(db) };
        if storage.is_initialized()? {
            let report = storage.check_and_repair()?;
            info!(head = report.head, hash = %report.head_hash, repaired = report.repaired.len(), "database opened");
        }
        Ok(storage)
    }

    pub(crate) fn cf(&self, name: &'static str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("every column family is opened in Storage::open")
    }

    pub(crate) fn get_raw(
        &self,
        table: &'static str,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.db.get_cf(self.cf(table), key)?)
    }

    pub(crate) fn keys_with_prefix(
        &self,
        table: &'static str,
        prefix: &[u8],
    ) -> Result<Vec<Vec<u8>>, StorageError> {
        Ok(self
            .entries_with_prefix(table, prefix)?
            .into_iter()
            .map(|(key, _)| key)
            .collect())
    }

    /// Every `(key, value)` of a table whose key starts with `prefix`, in key order.
    pub(crate) fn entries_with_prefix(
        &self,
        table: &'static str,
        prefix: &[u8],
    ) -> Result<Vec<RawEntry>, StorageError> {
        let mut entries = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(table),
            IteratorMode::From(prefix, Direction::Forward),
        ) {
            let (key, value) = item?;
            if !key.starts_with(prefix) {
                break;
            }
            entries.push((key.to_vec(), value.to_vec()));
        }
        Ok(entries)
    }

    /// The value `key` had right after block `number`, when a later block changed it: the first
    /// history entry of `key` past `number`. `None` means the current value is also the value
    /// after `number`.
    pub(crate) fn history_after(
        &self,
        table: &'static str,
        key: &[u8],
        number: u64,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let Some(next) = number.checked_add(1) else {
            return Ok(None);
        };
        let start = tables::history_key(key, next);
        let mut iter = self.db.iterator_cf(
            self.cf(table),
            IteratorMode::From(&start, Direction::Forward),
        );
        match iter.next().transpose()? {
            Some((found, prior)) if found.len() == key.len() + 8 && found.starts_with(key) => {
                Ok(Some(prior.to_vec()))
            }
            _ => Ok(None),
        }
    }

    /// Every `(key, value)` of a table, in key order (for full recomputations and checks).
    pub(crate) fn scan(
        &self,
        table: &'static str,
    ) -> impl Iterator<Item = Result<KeyValue, StorageError>> + '_ {
        self.db
            .iterator_cf(self.cf(table), IteratorMode::Start)
            .map(|item| item.map_err(Into::into))
    }

    /// Applies writes atomically and durably (fsync'd WAL).
    pub(crate) fn write(&self, batch: WriteBatch) -> Result<(), StorageError> {
        let mut options = WriteOptions::default();
        options.set_sync(true);
        self.db.write_opt(batch, &options)?;
        Ok(())
    }

    pub(crate) fn put_writes(&self, batch: &mut WriteBatch, writes: &[crate::changes::Write]) {
        for (table, key, value) in writes {
            match value {
                Some(value) => batch.put_cf(self.cf(table), key, value),
                None => batch.delete_cf(self.cf(table), key),
            }
        }
    }

    /// Whether a genesis has been written.
    pub fn is_initialized(&self) -> Result<bool, StorageError> {
        Ok(self.get_raw(tables::META, tables::HEAD_KEY)?.is_some())
    }

    /// The head block number.
    pub fn head_number(&self) -> Result<u64, StorageError> {
        let raw = self
            .get_raw(tables::META, tables::HEAD_KEY)?
            .ok_or(StorageError::NotInitialized)?;
        let bytes: [u8; 8] = raw
            .as_slice()
            .try_into()
            .map_err(|_| StorageError::corrupt(tables::META, "head is not 8 bytes"))?;
        Ok(u64::from_be_bytes(bytes))
    }

    /// The head block header.
    pub fn head_header(&self) -> Result<Sealed<Header>, StorageError> {
        let number = self.head_number()?;
        self.header_by_number(number)?
            .ok_or_else(|| StorageError::Inconsistent(format!("head {number} has no header")))
    }

    /// The genesis hash.
    pub fn genesis_hash(&self) -> Result<B256, StorageError> {
        let raw = self
            .get_raw(tables::META, tables::GENESIS_KEY)?
            .ok_or(StorageError::NotInitialized)?;
        if raw.len() != 32 {
            return Err(StorageError::corrupt(
                tables::META,
                "genesis hash is not 32 bytes",
            ));
        }
        Ok(B256::from_slice(&raw))
    }

    /// The chain spec the database was initialised with.
    pub fn chain_spec(&self) -> Result<ChainSpec, StorageError> {
        let raw = self
            .get_raw(tables::META, tables::CHAIN_SPEC_KEY)?
            .ok_or(StorageError::NotInitialized)?;
        let (genesis, rollup): (alloy_genesis::Genesis, RollupConfig) =
            serde_json::from_slice(&raw).map_err(|err| StorageError::corrupt(tables::META, err))?;
        Ok(ChainSpec { genesis, rollup })
    }

    /// The canonical header at `number`.
    pub fn header_by_number(&self, number: u64) -> Result<Option<Sealed<Header>>, StorageError> {
        let Some(raw) = self.get_raw(tables::HEADERS, &tables::number_key(number))? else {
            return Ok(None);
        };
        let header = Header::decode(&mut raw.as_slice())
            .map_err(|err| StorageError::corrupt(tables::HEADERS, err))?;
        Ok(Some(header.seal_slow()))
    }

    /// The output (root and parts) of the canonical block at `number`, `None` when there is no
    /// such block: what proposers post to L1 and `optimism_outputAtBlock` answers.
    pub fn output_at(&self, number: u64) -> Result<Option<ol_primitives::L2Output>, StorageError> {
        let Some(header) = self.header_by_number(number)? else {
            return Ok(None);
        };
        ol_primitives::output_of_header(&header)
            .map(Some)
            .ok_or_else(|| {
                StorageError::corrupt(
                    tables::HEADERS,
                    format!("block {number} has no withdrawalsRoot (message passer storage root)"),
                )
            })
    }

    /// The number of the block with `hash`, if it is canonical.
    pub fn block_number(&self, hash: &B256) -> Result<Option<u64>, StorageError> {
        let Some(raw) = self.get_raw(tables::BLOCK_NUMBERS, hash.as_slice())? else {
            return Ok(None);
        };
        let bytes: [u8; 8] = raw
            .as_slice()
            .try_into()
            .map_err(|_| StorageError::corrupt(tables::BLOCK_NUMBERS, "number is not 8 bytes"))?;
        Ok(Some(u64::from_be_bytes(bytes)))
    }

    /// The canonical hash at `number`.
    pub fn canonical_hash(&self, number: u64) -> Result<Option<B256>, StorageError> {
        let Some(raw) = self.get_raw(tables::CANONICAL, &tables::number_key(number))? else {
            return Ok(None);
        };
        if raw.len() != 32 {
            return Err(StorageError::corrupt(
                tables::CANONICAL,
                "hash is not 32 bytes",
            ));
        }
        Ok(Some(B256::from_slice(&raw)))
    }

    /// The transactions and senders of block `number`.
    pub fn body(&self, number: u64) -> Result<Option<BlockBody>, StorageError> {
        let Some(raw) = self.get_raw(tables::BODIES, &tables::number_key(number))? else {
            return Ok(None);
        };
        let transactions = Vec::<OpTxEnvelope>::decode(&mut raw.as_slice())
            .map_err(|err| StorageError::corrupt(tables::BODIES, err))?;
        let raw_senders = self
            .get_raw(tables::SENDERS, &tables::number_key(number))?
            .unwrap_or_default();
        if raw_senders.len() != transactions.len() * 20 {
            return Err(StorageError::corrupt(
                tables::SENDERS,
                format!("block {number}: sender count mismatch"),
            ));
        }
        let senders = raw_senders
            .chunks_exact(20)
            .map(Address::from_slice)
            .collect();
        Ok(Some(BlockBody {
            transactions,
            senders,
        }))
    }

    /// The receipts of block `number`.
    pub fn receipts(&self, number: u64) -> Result<Option<Vec<OpReceiptEnvelope>>, StorageError> {
        let Some(raw) = self.get_raw(tables::RECEIPTS, &tables::number_key(number))? else {
            return Ok(None);
        };
        Vec::<OpReceiptEnvelope>::decode(&mut raw.as_slice())
            .map(Some)
            .map_err(|err| StorageError::corrupt(tables::RECEIPTS, err))
    }

    /// Where a transaction was included: block number and index.
    pub fn transaction_location(&self, hash: &B256) -> Result<Option<(u64, u32)>, StorageError> {
        let Some(raw) = self.get_raw(tables::TX_LOOKUP, hash.as_slice())? else {
            return Ok(None);
        };
        if raw.len() != 12 {
            return Err(StorageError::corrupt(
                tables::TX_LOOKUP,
                "location is not 12 bytes",
            ));
        }
        let number = u64::from_be_bytes(raw[..8].try_into().expect("8 bytes"));
        let index = u32::from_be_bytes(raw[8..].try_into().expect("4 bytes"));
        Ok(Some((number, index)))
    }

    /// The current state of an account.
    pub fn account(&self, address: &Address) -> Result<Option<TrieAccount>, StorageError> {
        decode_account(
            self.get_raw(tables::ACCOUNTS, address.as_slice())?,
            tables::ACCOUNTS,
        )
    }

    /// The state of an account right after block `number` (any block up to the head).
    pub fn account_at(
        &self,
        address: &Address,
        number: u64,
    ) -> Result<Option<TrieAccount>, StorageError> {
        // Current value first, history second: a block committed in between writes both at
        // once, and then the history entry it added holds exactly the value read first.
        let current = self.get_raw(tables::ACCOUNTS, address.as_slice())?;
        match self.history_after(tables::ACCOUNT_HISTORY, address.as_slice(), number)? {
            Some(prior) if prior.is_empty() => Ok(None),
            Some(prior) => decode_account(Some(prior), tables::ACCOUNT_HISTORY),
            None => decode_account(current, tables::ACCOUNTS),
        }
    }

    /// The current value of a storage slot (zero when unset).
    pub fn storage(&self, address: &Address, slot: &B256) -> Result<U256, StorageError> {
        decode_slot(
            self.get_raw(tables::STORAGE, &tables::storage_key(address, slot))?,
            tables::STORAGE,
        )
    }

    /// The value of a storage slot right after block `number` (any block up to the head).
    pub fn storage_at(
        &self,
        address: &Address,
        slot: &B256,
        number: u64,
    ) -> Result<U256, StorageError> {
        let key = tables::storage_key(address, slot);
        let current = self.get_raw(tables::STORAGE, &key)?;
        match self.history_after(tables::STORAGE_HISTORY, &key, number)? {
            Some(prior) => decode_slot(Some(prior), tables::STORAGE_HISTORY),
            None => decode_slot(current, tables::STORAGE),
        }
    }

    /// Contract code by hash.
    pub fn code(&self, hash: &B256) -> Result<Option<Bytes>, StorageError> {
        Ok(self
            .get_raw(tables::CODE, hash.as_slice())?
            .map(Bytes::from))
    }

    /// Commits a sealed block in one synced batch: header, body, senders, receipts, transaction
    /// and address indexes, state and trie writes, and the head pointer. Either all of it lands
    /// or none of it.
    pub fn commit_block(
        &self,
        header: &Sealed<Header>,
        body: &BlockBody,
        receipts: &[OpReceiptEnvelope],
        activity: &ol_primitives::BlockActivity,
        state: &PreparedState,
    ) -> Result<(), StorageError> {
        let batch = self.block_batch(header, body, receipts, activity, state)?;
        self.write(batch)
    }

    /// [`Self::commit_block`] for a block derivation produced: the same synced batch also makes
    /// it the safe head, so a follower pays one sync per block, not two.
    pub fn commit_derived_block(
        &self,
        header: &Sealed<Header>,
        body: &BlockBody,
        receipts: &[OpReceiptEnvelope],
        activity: &ol_primitives::BlockActivity,
        state: &PreparedState,
        safe_head: &crate::DerivedHead,
    ) -> Result<(), StorageError> {
        let mut batch = self.block_batch(header, body, receipts, activity, state)?;
        self.put_derived_head(&mut batch, tables::SAFE_HEAD_KEY, safe_head)?;
        self.write(batch)
    }

    /// The writes of a block commit, after checking it extends the head.
    fn block_batch(
        &self,
        header: &Sealed<Header>,
        body: &BlockBody,
        receipts: &[OpReceiptEnvelope],
        activity: &ol_primitives::BlockActivity,
        state: &PreparedState,
    ) -> Result<WriteBatch, StorageError> {
        let head = self.head_number()?;
        if header.number != head + 1 {
            return Err(StorageError::NotNextBlock {
                number: header.number,
                head,
            });
        }
        let mut batch = WriteBatch::default();
        let mut changes = crate::ChangeSet::default();
        self.put_writes(&mut batch, &state.writes);
        for (table, key, prior) in &state.history {
            batch.put_cf(
                self.cf(table),
                tables::history_key(key, header.number),
                prior,
            );
            match (*table, key.len()) {
                (tables::ACCOUNT_HISTORY, 20) => changes.accounts.push(Address::from_slice(key)),
                (tables::STORAGE_HISTORY, 52) => {
                    changes
                        .slots
                        .push(key.as_slice().try_into().expect("52 bytes"));
                }
                _ => {
                    return Err(StorageError::Inconsistent(format!(
                        "a {}-byte history key in {table}",
                        key.len()
                    )));
                }
            }
        }
        self.put_block(&mut batch, header, body, receipts);
        self.put_activity(&mut batch, header.number, body, activity, &mut changes)?;
        batch.put_cf(
            self.cf(tables::CHANGE_SETS),
            tables::number_key(header.number),
            changes.encode(),
        );
        Ok(batch)
    }

    /// Adds the deletes of block `number`'s own records (those keyed by its number, and its
    /// hash index) to `batch`.
    pub(crate) fn delete_block_records(&self, batch: &mut WriteBatch, number: u64, hash: &B256) {
        for table in [
            tables::HEADERS,
            tables::CANONICAL,
            tables::BODIES,
            tables::SENDERS,
            tables::RECEIPTS,
            tables::CHANGE_SETS,
        ] {
            batch.delete_cf(self.cf(table), tables::number_key(number));
        }
        batch.delete_cf(self.cf(tables::BLOCK_NUMBERS), hash);
    }

    /// Adds the block's own records and the head move to `batch`.
    pub(crate) fn put_block(
        &self,
        batch: &mut WriteBatch,
        header: &Sealed<Header>,
        body: &BlockBody,
        receipts: &[OpReceiptEnvelope],
    ) {
        let number = tables::number_key(header.number);
        let mut encoded = Vec::new();
        header.inner().encode(&mut encoded);
        batch.put_cf(self.cf(tables::HEADERS), number, &encoded);
        batch.put_cf(self.cf(tables::CANONICAL), number, header.hash());
        batch.put_cf(self.cf(tables::BLOCK_NUMBERS), header.hash(), number);
        encoded.clear();
        body.transactions.encode(&mut encoded);
        batch.put_cf(self.cf(tables::BODIES), number, &encoded);
        let senders: Vec<u8> = body.senders.iter().flat_map(|sender| sender.0).collect();
        batch.put_cf(self.cf(tables::SENDERS), number, senders);
        encoded.clear();
        alloy_rlp::encode_list(receipts, &mut encoded);
        batch.put_cf(self.cf(tables::RECEIPTS), number, &encoded);
        for (index, tx) in body.transactions.iter().enumerate() {
            batch.put_cf(
                self.cf(tables::TX_LOOKUP),
                tx.trie_hash(),
                tables::tx_location(header.number, index as u32),
            );
        }
        batch.put_cf(self.cf(tables::META), tables::HEAD_KEY, number);
    }
}

fn decode_account(
    raw: Option<Vec<u8>>,
    table: &'static str,
) -> Result<Option<TrieAccount>, StorageError> {
    raw.map(|raw| TrieAccount::decode(&mut raw.as_slice()))
        .transpose()
        .map_err(|err| StorageError::corrupt(table, err))
}

/// A stored slot value: 32 big-endian bytes, or nothing for zero.
fn decode_slot(raw: Option<Vec<u8>>, table: &'static str) -> Result<U256, StorageError> {
    match raw {
        None => Ok(U256::ZERO),
        Some(raw) if raw.is_empty() => Ok(U256::ZERO),
        Some(raw) if raw.len() == 32 => Ok(U256::from_be_slice(&raw)),
        Some(_) => Err(StorageError::corrupt(table, "value is not 32 bytes")),
    }
}
