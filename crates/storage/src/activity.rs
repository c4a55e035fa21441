//! The address index an explorer needs (Otterscan's `ots_` namespace): which transactions
//! touched an address, which transaction of a sender has a given nonce, and which transaction
//! created a contract. Written in the block's own batch, so it is exactly as durable as the
//! block and never lags behind it.

use crate::{BlockBody, ChangeSet, Storage, StorageError, tables};
use alloy_consensus::Transaction as _;
use alloy_primitives::Address;
use ol_primitives::{BlockActivity, TxActivity};
use rocksdb::{Direction, IteratorMode, WriteBatch};

/// A transaction's place in the chain: block number and index in the block.
pub type TxLocation = (u64, u32);

/// One page of an address's transactions: whole blocks only, as Otterscan expects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPage {
    /// Locations, in the order the search walked them.
    pub locations: Vec<TxLocation>,
    /// Whether the walk reached the end of the address's history in its direction.
    pub exhausted: bool,
}

/// The direction of an address search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// From newer to older blocks, starting below a block.
    Older,
    /// From older to newer blocks, starting above a block.
    Newer,
}

/// `address ++ block ++ index`: the key of one appearance.
fn appearance_key(address: &Address, (number, index): TxLocation) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..20].copy_from_slice(address.as_slice());
    key[20..28].copy_from_slice(&number.to_be_bytes());
    key[28..].copy_from_slice(&index.to_be_bytes());
    key
}

pub(crate) fn nonce_key(sender: &Address, nonce: u64) -> [u8; 28] {
    let mut key = [0u8; 28];
    key[..20].copy_from_slice(sender.as_slice());
    key[20..].copy_from_slice(&nonce.to_be_bytes());
    key
}

fn decode_location(raw: &[u8], table: &'static str) -> Result<TxLocation, StorageError> {
    let number = raw
        .get(..8)
        .and_then(|bytes| bytes.try_into().ok())
        .map(u64::from_be_bytes);
    let index = raw
        .get(8..12)
        .and_then(|bytes| bytes.try_into().ok())
        .map(u32::from_be_bytes);
    number
        .zip(index)
        .ok_or_else(|| StorageError::corrupt(table, "location is not 12 bytes"))
}

impl Storage {
    /// Adds the address index entries of block `number` to `batch`, and records them in
    /// `changes` for an unwind.
    pub(crate) fn put_activity(
        &self,
        batch: &mut WriteBatch,
        number: u64,
        body: &BlockBody,
        activity: &BlockActivity,
        changes: &mut ChangeSet,
    ) -> Result<(), StorageError> {
        let no_activity = TxActivity::default();
        for (index, (tx, sender)) in body.transactions.iter().zip(&body.senders).enumerate() {
            let location = (number, index as u32);
            let seen = activity.transactions.get(index).unwrap_or(&no_activity);
            // Execution saw the sender, the recipient and the created contracts too; they are
            // added here for a block committed without its activity.
            let implied = [Some(*sender), tx.to()]
                .into_iter()
                .flatten()
                .chain(seen.created.iter().map(|creation| creation.contract))
                .filter(|address| !seen.touched.contains(address));
            for address in seen.touched.iter().copied().chain(implied) {
                let key = appearance_key(&address, location);
                batch.put_cf(self.cf(tables::ADDRESS_TRANSACTIONS), key, []);
                changes.appearances.push(key);
            }
            if !tx.is_deposit() {
                batch.put_cf(
                    self.cf(tables::SENDER_NONCES),
                    nonce_key(sender, tx.nonce()),
                    tables::tx_location(number, index as u32),
                );
            }
            for creation in &seen.created {
                let mut value = tables::tx_location(number, index as u32).to_vec();
                value.extend_from_slice(creation.creator.as_slice());
                batch.put_cf(self.cf(tables::CONTRACT_CREATORS), creation.contract, value);
                if changes
                    .creations
                    .iter()
                    .all(|(contract, _)| *contract != creation.contract)
                {
                    let prior = self
                        .get_raw(tables::CONTRACT_CREATORS, creation.contract.as_slice())?
                        .map(|raw| {
                            <[u8; 32]>::try_from(raw.as_slice()).map_err(|_| {
                                StorageError::corrupt(
                                    tables::CONTRACT_CREATORS,
                                    "creator record is not 32 bytes",
                                )
                            })
                        })
                        .transpose()?;
                    changes.creations.push((creation.contract, prior));
                }
            }
        }
        changes.appearances.sort_unstable();
        changes.appearances.dedup();
        Ok(())
    }

    /// The transactions that touched `address` in blocks strictly before (`Walk::Older`) or
    /// strictly after (`Walk::Newer`) block `from`, walking away from it until at least `limit`
    /// are found; the block where the limit is reached is always taken whole.
    pub fn address_transactions(
        &self,
        address: &Address,
        from: u64,
        walk: Walk,
        limit: usize,
    ) -> Result<AddressPage, StorageError> {
        let (start, direction) = match walk {
            Walk::Older => (
                from.checked_sub(1)
                    .map(|last| appearance_key(address, (last, u32::MAX))),
                Direction::Reverse,
            ),
            Walk::Newer => (
                from.checked_add(1)
                    .map(|first| appearance_key(address, (first, 0))),
                Direction::Forward,
            ),
        };
        let Some(start) = start else {
            // Nothing before block 0, nothing after the last possible block.
            return Ok(AddressPage {
                locations: Vec::new(),
                exhausted: true,
            });
        };
        let mode = IteratorMode::From(&start, direction);
        let cf = self.cf(tables::ADDRESS_TRANSACTIONS);
        let mut page = AddressPage::default();
        for item in self.db.iterator_cf(cf, mode) {
            let (key, _) = item?;
            if key.len() != 32 || !key.starts_with(address.as_slice()) {
                page.exhausted = true;
                return Ok(page);
            }
            let location = decode_location(&key[20..], tables::ADDRESS_TRANSACTIONS)?;
            if page.locations.len() >= limit
                && page
                    .locations
                    .last()
                    .is_some_and(|last| last.0 != location.0)
            {
                return Ok(page);
            }
            page.locations.push(location);
        }
        page.exhausted = true;
        Ok(page)
    }

    /// The transaction of `sender` with `nonce`, if it is in the chain.
    pub fn transaction_by_sender_nonce(
        &self,
        sender: &Address,
        nonce: u64,
    ) -> Result<Option<TxLocation>, StorageError> {
        self.get_raw(tables::SENDER_NONCES, &nonce_key(sender, nonce))?
            .map(|raw| decode_location(&raw, tables::SENDER_NONCES))
            .transpose()
    }

    /// The transaction that created the contract at `address` and the account that created
    /// it (the latest creation, for an address created again after a self-destruct).
    pub fn contract_creation(
        &self,
        address: &Address,
    ) -> Result<Option<(TxLocation, Address)>, StorageError> {
        let Some(raw) = self.get_raw(tables::CONTRACT_CREATORS, address.as_slice())? else {
            return Ok(None);
        };
        if raw.len() != 32 {
            return Err(StorageError::corrupt(
                tables::CONTRACT_CREATORS,
                "creation is not 32 bytes",
            ));
        }
        let location = decode_location(&raw, tables::CONTRACT_CREATORS)?;
        Ok(Some((location, Address::from_slice(&raw[12..]))))
    }
}
