//! The L2 output root the proposer posts to L1.
//!
//! `keccak256(version ++ state_root ++ message_passer_storage_root ++ block_hash)` with version
//! 0 as 32 zero bytes (specs `protocol/proposals.md`, "L2 Output Commitment Construction").

use alloy_primitives::{B256, keccak256};

/// The only output root version defined: 32 zero bytes.
pub const OUTPUT_ROOT_VERSION_V0: B256 = B256::ZERO;

/// Output root (version 0) of an L2 block.
///
/// `message_passer_storage_root` is the storage root of `L2ToL1MessagePasser`
/// (`0x4200…0016`), which after Isthmus is also the block header's `withdrawalsRoot`.
pub fn output_root(state_root: B256, message_passer_storage_root: B256, block_hash: B256) -> B256 {
    let mut preimage = [0u8; 128];
    preimage[..32].copy_from_slice(OUTPUT_ROOT_VERSION_V0.as_slice());
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
    fn vector_from_cast() {
        // `cast keccak 0x00..00 ++ 0x01..01 ++ 0x02..02 ++ 0x03..03` (foundry), computed apart
        // from this code.
        assert_eq!(
            output_root(
                B256::repeat_byte(1),
                B256::repeat_byte(2),
                B256::repeat_byte(3)
            ),
            b256!("0xfa846ba062c4f02c422636c114d4c22c219e0d7f9db2db9621eb6f655ac8a51f")
        );
    }
}
