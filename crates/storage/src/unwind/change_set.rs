//! The change set of a block: every key its commit wrote that an unwind has to take back.
//!
//! The history tables are keyed by account or slot first (for historical reads), so they cannot
//! say which keys one block changed; the change set, keyed by block, can (reth keeps
//! `AccountChangeSets` and `StorageChangeSets` for the same reason). Block records (header,
//! body, receipts, transaction and nonce lookups) need no change set: they follow from the body.
//!
//! Encoding: four sections, each a big-endian `u32` count followed by fixed-width records:
//! account addresses (20 bytes), slot keys (address ++ slot, 52 bytes), address-index keys
//! (32 bytes), and created contracts (address, a flag byte, and the 32-byte creator record the
//! contract had before the block, zero-filled when it had none: 53 bytes).

use crate::{StorageError, tables};
use alloy_primitives::Address;

/// Width of a created-contract record.
const CREATION_WIDTH: usize = 20 + 1 + 32;

/// What one block's commit wrote besides its own block records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// Accounts whose previous value the block recorded in the account history.
    pub accounts: Vec<Address>,
    /// Slots (address ++ slot) whose previous value the block recorded in the storage history.
    pub slots: Vec<[u8; 52]>,
    /// Keys the block added to the address index.
    pub appearances: Vec<[u8; 32]>,
    /// Contracts the block created, with the creator record each had before (a contract
    /// re-created at the same address after a same-transaction self-destruct had one).
    pub creations: Vec<(Address, Option<[u8; 32]>)>,
}

impl ChangeSet {
    /// The stored bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            16 + self.accounts.len() * 20
                + self.slots.len() * 52
                + self.appearances.len() * 32
                + self.creations.len() * CREATION_WIDTH,
        );
        put_count(&mut out, self.accounts.len());
        for address in &self.accounts {
            out.extend_from_slice(address.as_slice());
        }
        put_count(&mut out, self.slots.len());
        for slot in &self.slots {
            out.extend_from_slice(slot);
        }
        put_count(&mut out, self.appearances.len());
        for key in &self.appearances {
            out.extend_from_slice(key);
        }
        put_count(&mut out, self.creations.len());
        for (contract, prior) in &self.creations {
            out.extend_from_slice(contract.as_slice());
            out.push(u8::from(prior.is_some()));
            out.extend_from_slice(&prior.unwrap_or([0; 32]));
        }
        out
    }

    /// Decodes stored bytes; anything but exactly four well-formed sections is refused.
    pub fn decode(raw: &[u8]) -> Result<Self, StorageError> {
        let mut reader = Reader(raw);
        let accounts = reader.records(20, |bytes| Ok(Address::from_slice(bytes)))?;
        let slots = reader.records(52, |bytes| Ok(bytes.try_into().expect("52 bytes")))?;
        let appearances = reader.records(32, |bytes| Ok(bytes.try_into().expect("32 bytes")))?;
        let creations = reader.records(CREATION_WIDTH, |bytes| {
            let contract = Address::from_slice(&bytes[..20]);
            let record: [u8; 32] = bytes[21..].try_into().expect("32 bytes");
            match bytes[20] {
                0 if record == [0; 32] => Ok((contract, None)),
                1 => Ok((contract, Some(record))),
                _ => Err(corrupt("bad creation flag")),
            }
        })?;
        if !reader.0.is_empty() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(Self {
            accounts,
            slots,
            appearances,
            creations,
        })
    }
}

fn put_count(out: &mut Vec<u8>, count: usize) {
    let count = u32::try_from(count).expect("a block changes fewer than 2^32 keys");
    out.extend_from_slice(&count.to_be_bytes());
}

fn corrupt(reason: &str) -> StorageError {
    StorageError::corrupt(tables::CHANGE_SETS, reason)
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn records<T>(
        &mut self,
        width: usize,
        decode: impl Fn(&[u8]) -> Result<T, StorageError>,
    ) -> Result<Vec<T>, StorageError> {
        let (count, rest) = self
            .0
            .split_first_chunk::<4>()
            .ok_or_else(|| corrupt("truncated count"))?;
        let count = u32::from_be_bytes(*count) as usize;
        let len = count
            .checked_mul(width)
            .filter(|len| *len <= rest.len())
            .ok_or_else(|| corrupt("truncated records"))?;
        let (records, rest) = rest.split_at(len);
        self.0 = rest;
        records.chunks_exact(width).map(decode).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_change_set() -> impl Strategy<Value = ChangeSet> {
        (
            prop::collection::vec(any::<[u8; 20]>(), 0..4),
            prop::collection::vec(prop::collection::vec(any::<u8>(), 52), 0..4),
            prop::collection::vec(any::<[u8; 32]>(), 0..4),
            prop::collection::vec((any::<[u8; 20]>(), any::<Option<[u8; 32]>>()), 0..4),
        )
            .prop_map(|(accounts, slots, appearances, creations)| ChangeSet {
                accounts: accounts.into_iter().map(Address::from).collect(),
                slots: slots
                    .into_iter()
                    .map(|slot| slot.try_into().unwrap())
                    .collect(),
                appearances,
                creations: creations
                    .into_iter()
                    .map(|(contract, prior)| (Address::from(contract), prior))
                    .collect(),
            })
    }

    proptest! {
        #[test]
        fn change_sets_round_trip(set in arb_change_set()) {
            prop_assert_eq!(ChangeSet::decode(&set.encode()).unwrap(), set);
        }

        #[test]
        fn a_cut_or_extended_encoding_is_refused(set in arb_change_set(), cut in 1usize..64, extra in 1u8..4) {
            let encoded = set.encode();
            let cut = cut.min(encoded.len());
            prop_assert!(ChangeSet::decode(&encoded[..encoded.len() - cut]).is_err());
            let mut extended = encoded;
            extended.extend(std::iter::repeat_n(0, usize::from(extra)));
            prop_assert!(ChangeSet::decode(&extended).is_err());
        }
    }

    #[test]
    fn a_count_past_the_end_is_refused_without_allocating() {
        let raw = u32::MAX.to_be_bytes();
        assert!(ChangeSet::decode(&raw).is_err());
    }
}
