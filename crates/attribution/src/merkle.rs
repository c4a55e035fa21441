//! The evidence Merkle tree, in OpenZeppelin's `StandardMerkleTree` format.
//!
//! Each leaf is one datapoint's score in an attribution:
//!
//! ```text
//! leaf = keccak256(keccak256(abi.encode(bytes32 datapoint, address contributor, uint256 score)))
//! ```
//!
//! `abi.encode` of the three static types is 96 bytes: the datapoint id, the contributor
//! left-padded with 12 zero bytes, and the score as a big-endian 32-byte integer. The double hash
//! is what OpenZeppelin uses to rule out second-preimage attacks with 64-byte inputs. Inner nodes
//! are `keccak256(min(a, b) ‖ max(a, b))` (sorted pairs), so a proof is just the list of sibling
//! hashes and Solidity's `MerkleProof.verify(proof, root, leaf)` checks it. The tree layout is the
//! npm library's: leaves sorted by hash, stored from the end of a `2n − 1` array, node `i` with
//! children `2i + 1` and `2i + 2`. [`EvidenceTree::dump`] writes the library's `standard-v1` JSON,
//! which `StandardMerkleTree.load` accepts (the test `merkle_npm` checks this with
//! `@openzeppelin/merkle-tree`). A tree with no leaf has root zero.

use alloy_primitives::{Address, B256, U256, keccak256};
use serde_json::json;

/// One leaf: a datapoint, its contributor and its (quantised) score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EvidenceLeaf {
    /// The datapoint id.
    pub datapoint: B256,
    /// The contributor.
    pub contributor: Address,
    /// The score, as an integer.
    pub score: U256,
}

impl EvidenceLeaf {
    /// `abi.encode(bytes32, address, uint256)`.
    pub fn abi_encode(&self) -> [u8; 96] {
        let mut out = [0u8; 96];
        out[..32].copy_from_slice(self.datapoint.as_slice());
        out[44..64].copy_from_slice(self.contributor.as_slice());
        out[64..].copy_from_slice(&self.score.to_be_bytes::<32>());
        out
    }

    /// The leaf hash, `keccak256(keccak256(abi.encode(...)))`.
    pub fn hash(&self) -> B256 {
        keccak256(keccak256(self.abi_encode()))
    }
}

/// `keccak256` of the sorted pair.
pub fn hash_pair(a: B256, b: B256) -> B256 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(lo.as_slice());
    buf[32..].copy_from_slice(hi.as_slice());
    keccak256(buf)
}

/// Folds a proof from a leaf hash up to a root.
pub fn process_proof(leaf: B256, proof: &[B256]) -> B256 {
    proof.iter().fold(leaf, |acc, p| hash_pair(acc, *p))
}

/// Whether `proof` proves `leaf` under `root`.
pub fn verify(root: B256, leaf: &EvidenceLeaf, proof: &[B256]) -> bool {
    process_proof(leaf.hash(), proof) == root
}

/// The evidence tree of one attribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceTree {
    tree: Vec<B256>,
    leaves: Vec<EvidenceLeaf>,
    tree_index: Vec<usize>,
}

impl EvidenceTree {
    /// Builds the tree over `leaves` (their order does not change the root).
    pub fn new(leaves: Vec<EvidenceLeaf>) -> Self {
        if leaves.is_empty() {
            return Self {
                tree: Vec::new(),
                leaves,
                tree_index: Vec::new(),
            };
        }
        let hashes: Vec<B256> = leaves.iter().map(EvidenceLeaf::hash).collect();
        let mut order: Vec<usize> = (0..leaves.len()).collect();
        // Sorted by hash, ties (identical leaves) by input position: the npm library's stable sort.
        order.sort_by(|&a, &b| hashes[a].cmp(&hashes[b]).then(a.cmp(&b)));
        let len = 2 * leaves.len() - 1;
        let mut tree = vec![B256::ZERO; len];
        let mut tree_index = vec![0; leaves.len()];
        for (i, &value_index) in order.iter().enumerate() {
            tree[len - 1 - i] = hashes[value_index];
            tree_index[value_index] = len - 1 - i;
        }
        for i in (0..len - leaves.len()).rev() {
            tree[i] = hash_pair(tree[2 * i + 1], tree[2 * i + 2]);
        }
        Self {
            tree,
            leaves,
            tree_index,
        }
    }

    /// The root (zero for an empty tree).
    pub fn root(&self) -> B256 {
        self.tree.first().copied().unwrap_or(B256::ZERO)
    }

    /// The leaves, in the order given.
    pub fn leaves(&self) -> &[EvidenceLeaf] {
        &self.leaves
    }

    /// The proof of the `i`-th leaf (in the order given): sibling hashes from the leaf up.
    pub fn proof(&self, i: usize) -> Vec<B256> {
        let mut index = self.tree_index[i];
        let mut proof = Vec::new();
        while index > 0 {
            let sibling = if index % 2 == 1 { index + 1 } else { index - 1 };
            proof.push(self.tree[sibling]);
            index = (index - 1) / 2;
        }
        proof
    }

    /// The npm library's `standard-v1` dump (`StandardMerkleTree.load` reads it).
    pub fn dump(&self) -> serde_json::Value {
        json!({
            "format": "standard-v1",
            "leafEncoding": ["bytes32", "address", "uint256"],
            "tree": self.tree.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
            "values": self.leaves.iter().zip(&self.tree_index).map(|(l, &t)| json!({
                "value": [l.datapoint.to_string(), l.contributor.to_checksum(None), l.score.to_string()],
                "treeIndex": t,
            })).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(i: u8, score: u64) -> EvidenceLeaf {
        EvidenceLeaf {
            datapoint: B256::repeat_byte(i),
            contributor: Address::repeat_byte(i.wrapping_mul(7)),
            score: U256::from(score),
        }
    }

    #[test]
    fn proofs_verify_and_order_does_not_matter() {
        for n in 1..=9u8 {
            let leaves: Vec<EvidenceLeaf> =
                (0..n).map(|i| leaf(i, u64::from(i) * 1000 + 1)).collect();
            let tree = EvidenceTree::new(leaves.clone());
            for (i, l) in leaves.iter().enumerate() {
                assert!(verify(tree.root(), l, &tree.proof(i)));
                let mut forged = *l;
                forged.score += U256::from(1);
                assert!(!verify(tree.root(), &forged, &tree.proof(i)));
            }
            let mut reversed = leaves;
            reversed.reverse();
            assert_eq!(EvidenceTree::new(reversed).root(), tree.root());
        }
        assert_eq!(EvidenceTree::new(vec![]).root(), B256::ZERO);
    }

    #[test]
    fn encoding_is_abi_encode() {
        let l = leaf(1, 5);
        let enc = l.abi_encode();
        assert_eq!(&enc[..32], &[1u8; 32]);
        assert_eq!(&enc[32..44], &[0u8; 12]);
        assert_eq!(&enc[44..64], &[7u8; 20]);
        assert_eq!(enc[95], 5);
    }
}
