//! The L2 output root that proposers post to L1 and `optimism_outputAtBlock` answers.

use alloy_consensus::{Header, Sealed};
use alloy_primitives::{B256, keccak256};

/// Version of the output root format (v0, the only one OP defines).
pub const OUTPUT_VERSION_V0: B256 = B256::ZERO;

/// The output of an L2 block: its output root and the parts it commits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2Output {
    /// The output root version ([`OUTPUT_VERSION_V0`]).
    pub version: B256,
    /// `keccak256(version ++ stateRoot ++ messagePasserStorageRoot ++ blockHash)`.
    pub output_root: B256,
    /// The block's state root.
    pub state_root: B256,
    /// The storage root of the L2ToL1MessagePasser after the block.
    pub message_passer_storage_root: B256,
    /// The block hash.
    pub block_hash: B256,
    /// The block number.
    pub block_number: u64,
    /// The block timestamp.
    pub timestamp: u64,
}

/// The output of a sealed post-Isthmus header, whose `withdrawalsRoot` is the message passer's
/// storage root; `None` for a header without one (which no block of this chain has).
pub fn output_of_header(header: &Sealed<Header>) -> Option<L2Output> {
    let message_passer_storage_root = header.withdrawals_root?;
    Some(L2Output {
        version: OUTPUT_VERSION_V0,
        output_root: output_root(
            header.state_root,
            message_passer_storage_root,
            header.hash(),
        ),
        state_root: header.state_root,
        message_passer_storage_root,
        block_hash: header.hash(),
        block_number: header.number,
        timestamp: header.timestamp,
    })
}

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
        // A second vector, computed apart with `cast keccak` over 0x00.. ++ 0x01.. ++ 0x02.. ++
        // 0x03.. (32 bytes each).
        assert_eq!(
            output_root(
                B256::repeat_byte(1),
                B256::repeat_byte(2),
                B256::repeat_byte(3)
            ),
            b256!("0xfa846ba062c4f02c422636c114d4c22c219e0d7f9db2db9621eb6f655ac8a51f")
        );
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

    #[test]
    fn output_of_header_commits_to_the_withdrawals_root_and_hash() {
        use alloy_consensus::Sealable;
        let mut header = Header {
            number: 7,
            timestamp: 99,
            state_root: B256::repeat_byte(1),
            ..Header::default()
        };
        assert_eq!(output_of_header(&header.clone().seal_slow()), None);
        header.withdrawals_root = Some(B256::repeat_byte(2));
        let sealed = header.seal_slow();
        let output = output_of_header(&sealed).unwrap();
        assert_eq!(
            output.output_root,
            output_root(B256::repeat_byte(1), B256::repeat_byte(2), sealed.hash())
        );
        assert_eq!(
            (output.block_number, output.timestamp, output.block_hash),
            (7, 99, sealed.hash())
        );
    }

    const EXPECTED: B256 =
        b256!("0xd50bf2ff34ced71be0d2f0be7c2433c6b39d9c3b16c95daf1ed6f24b7578a3b2");
}
