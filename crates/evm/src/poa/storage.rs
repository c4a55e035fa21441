//! Where records and attestors live in the precompile account's storage: the layout of the
//! Solidity reference (`ProofOfAttributionImpl`), so both produce the same state.
//!
//! - slot 0: `mapping(bytes32 => Attribution)`; a record occupies five slots from
//!   `keccak256(requestId . 0)`: output hash, evidence root, the packed word (attestor in bits
//!   0..160, block number in 160..224, method in 224..232), then the lengths of `contributors`
//!   and `weightsPpm`, whose elements start at `keccak256(slot)` (one address per slot, eight
//!   `uint32` per slot from the low-order end).
//! - slot 1: `mapping(address => bool) isAttestor` at `keccak256(attestor . 1)`.

use alloy_primitives::{Address, B256, U256};

/// Slot of the records mapping.
const RECORDS_SLOT: U256 = U256::ZERO;
/// Slot of the attestor mapping.
const ATTESTORS_SLOT: U256 = U256::from_limbs([1, 0, 0, 0]);

/// Offsets of a record's fields from its base slot.
pub(crate) mod field {
    /// `outputHash`.
    pub(crate) const OUTPUT_HASH: u64 = 0;
    /// `evidenceRoot`.
    pub(crate) const EVIDENCE_ROOT: u64 = 1;
    /// `attestor`, `blockNumber` and `method`, packed.
    pub(crate) const PACKED: u64 = 2;
    /// Length of `contributors`.
    pub(crate) const CONTRIBUTORS: u64 = 3;
    /// Length of `weightsPpm`.
    pub(crate) const WEIGHTS: u64 = 4;
}

/// `uint32` weights per storage word.
pub(crate) const WEIGHTS_PER_SLOT: usize = 8;

/// The preimage of a mapping entry's slot: `key . slot`, 64 bytes.
pub(crate) fn mapping_preimage(key: B256, slot: U256) -> [u8; 64] {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(key.as_slice());
    preimage[32..].copy_from_slice(&slot.to_be_bytes::<32>());
    preimage
}

/// Preimage of the base slot of the record of `request_id`.
pub(crate) fn record_preimage(request_id: B256) -> [u8; 64] {
    mapping_preimage(request_id, RECORDS_SLOT)
}

/// Preimage of the slot of `isAttestor[account]`.
pub(crate) fn attestor_preimage(account: Address) -> [u8; 64] {
    mapping_preimage(account.into_word(), ATTESTORS_SLOT)
}

/// The fixed-size part of a record, as packed in its third slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Packed {
    /// The attestor; zero means "no record".
    pub(crate) attestor: Address,
    /// The block of the record.
    pub(crate) block_number: u64,
    /// The attribution method id.
    pub(crate) method: u8,
}

impl Packed {
    /// Unpacks a storage word.
    pub(crate) fn decode(word: U256) -> Self {
        let bytes = word.to_be_bytes::<32>();
        let mut block = [0u8; 8];
        block.copy_from_slice(&bytes[4..12]);
        Self {
            attestor: Address::from_slice(&bytes[12..]),
            block_number: u64::from_be_bytes(block),
            method: bytes[3],
        }
    }

    /// Packs into a storage word.
    pub(crate) fn encode(&self) -> U256 {
        let mut bytes = [0u8; 32];
        bytes[3] = self.method;
        bytes[4..12].copy_from_slice(&self.block_number.to_be_bytes());
        bytes[12..].copy_from_slice(self.attestor.as_slice());
        U256::from_be_bytes(bytes)
    }
}

/// The storage word holding weights `8·j .. 8·j + 8` of `chunk` (the `j`-th chunk of eight).
pub(crate) fn pack_weights(chunk: &[u32]) -> U256 {
    chunk.iter().enumerate().fold(U256::ZERO, |word, (k, &w)| {
        word | (U256::from(w) << (32 * k))
    })
}

/// Weight `k` (0..8) of a storage word.
pub(crate) fn unpack_weight(word: U256, k: usize) -> u32 {
    // The low 32 bits of the shifted word: a truncation, as Solidity's `uint32` read.
    (word >> (32 * k)).as_limbs()[0] as u32
}

/// An address from a storage word (its low 20 bytes).
pub(crate) fn word_to_address(word: U256) -> Address {
    Address::from_word(B256::from(word))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;

    #[test]
    fn packed_word_round_trips_in_solidity_order() {
        let packed = Packed {
            attestor: address!("0x00000000000000000000000000000000000000aa"),
            block_number: 0x0102,
            method: 3,
        };
        let word = packed.encode();
        // method at byte 3 (bits 224..232), block at bits 160..224, attestor at 0..160.
        assert_eq!(
            word,
            (U256::from(3) << 224) | (U256::from(0x0102) << 160) | U256::from(0xaa)
        );
        assert_eq!(Packed::decode(word), packed);
    }

    #[test]
    fn weights_pack_from_the_low_order_end() {
        let word = pack_weights(&[1, 2, u32::MAX]);
        assert_eq!(
            word,
            U256::from(1) | (U256::from(2) << 32) | (U256::from(u32::MAX) << 64)
        );
        assert_eq!(unpack_weight(word, 0), 1);
        assert_eq!(unpack_weight(word, 2), u32::MAX);
        assert_eq!(unpack_weight(word, 7), 0);
    }
}
