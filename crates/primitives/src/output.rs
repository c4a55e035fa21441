//! The L2 output root that proposers post to L1 and `optimism_outputAtBlock` answers.

use alloy_primitives::{B256, keccak256};

/// Version of the output root format (v0, the only one OP defines).
pub const OUTPUT_VERSION_V0: B256 = B256::ZERO;

/// `keccak256(version ++ stateRoot ++ messagePasserStorageRoot ++ blockHash)`, 128 bytes hashed.
/// After Isthmus a header's `withdrawalsRoot` is the message passer's storage root.
pub fn output_root(state_root: B256, message_passer_storage_root: B256, block_hash: B256) -> B256 {
    let mut preimage = [0u8; 128];
    preimage[..32].copy_from_slice(OUTPUT_VERSION_V0.as_slice());
    preimage[32..64].copy_from_slice(state_root.as_slice());
    preimage[64..96].copy_from_slice(message_passer_storage_root.as_slice());
    preimage[96..].copy_from_slice(block_hash.as_slice());
    keccak256(preimage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::b256;

    #[test]
    fn output_root_hashes_the_four_words_in_order() {
        // keccak256 of 32 zero bytes ++ 32 × 0x11 ++ 32 × 0x22 ++ 32 × 0x33, computed
        // independently with cast 1.7.1: `cast keccak 0x$(printf '0%.0s' $(seq 64))$(printf
        // '1%.0s' $(seq 64))$(printf '2%.0s' $(seq 64))$(printf '3%.0s' $(seq 64))`.
        let root = output_root(
            B256::repeat_byte(0x11),
            B256::repeat_byte(0x22),
            B256::repeat_byte(0x33),
        );
        assert_eq!(root, EXPECTED);
        // Swapping two words changes it.
        assert_ne!(
            root,
            output_root(
                B256::repeat_byte(0x22),
                B256::repeat_byte(0x11),
                B256::repeat_byte(0x33)
            )
        );
    }

    const EXPECTED: B256 =
        b256!("0xd50bf2ff34ced71be0d2f0be7c2433c6b39d9c3b16c95daf1ed6f24b7578a3b2");
}
