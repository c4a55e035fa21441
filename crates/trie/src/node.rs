//! Decoded trie nodes and their standard RLP encoding.
//!
//! Encoding and decoding are delegated to `alloy_trie`'s node types; this module adds the
//! structural checks that a node stored at a given path must satisfy in a secure trie (every key
//! is exactly [`KEY_NIBBLES`] nibbles long, branch nodes never carry values).

use crate::{KEY_NIBBLES, TrieError};
use alloy_rlp::{Decodable, Encodable};
use alloy_trie::{
    Nibbles, TrieMask,
    nodes::{BranchNode, ExtensionNode, LeafNode, RlpNode, TrieNode},
};

/// A decoded trie node. Keys are nibble sequences, one byte (`0..=15`) per nibble, relative to the
/// path of the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// A leaf: the remaining key nibbles and the value bytes.
    Leaf {
        /// Remaining key nibbles (from the node's path to the end of the 64-nibble key).
        key: Vec<u8>,
        /// The value stored under the key.
        value: Vec<u8>,
    },
    /// An extension: a shared run of nibbles and a reference to its child, which is stored at
    /// `path ++ key`.
    Extension {
        /// The shared nibbles (never empty).
        key: Vec<u8>,
        /// The child's reference: its RLP when shorter than 32 bytes, else `rlp(keccak(rlp))`.
        child: RlpNode,
    },
    /// A branch: up to sixteen child references; child `n` is stored at `path ++ [n]`.
    Branch {
        /// Child references by nibble.
        children: Box<[Option<RlpNode>; 16]>,
    },
}

impl Node {
    /// Decodes the node stored at `path` and checks that it is structurally valid there.
    pub(crate) fn decode(path: &[u8], rlp: &[u8]) -> Result<Self, TrieError> {
        let invalid = |reason: &'static str| TrieError::InvalidNode {
            path: path.to_vec(),
            reason,
        };
        let mut buf = rlp;
        let decoded = TrieNode::decode(&mut buf).map_err(|source| TrieError::Decode {
            path: path.to_vec(),
            source,
        })?;
        if !buf.is_empty() {
            return Err(invalid("trailing bytes after the node"));
        }
        let depth = path.len();
        match decoded {
            TrieNode::EmptyRoot => Err(invalid("empty node stored")),
            TrieNode::Leaf(leaf) => {
                if depth + leaf.key.len() != KEY_NIBBLES {
                    return Err(invalid("leaf key does not end at 64 nibbles"));
                }
                if leaf.value.is_empty() {
                    return Err(invalid("leaf with an empty value"));
                }
                Ok(Self::Leaf {
                    key: leaf.key.to_vec(),
                    value: leaf.value,
                })
            }
            TrieNode::Extension(ext) => {
                if ext.key.is_empty() {
                    return Err(invalid("extension with an empty key"));
                }
                if depth + ext.key.len() >= KEY_NIBBLES {
                    return Err(invalid("extension reaches past the key length"));
                }
                Ok(Self::Extension {
                    key: ext.key.to_vec(),
                    child: ext.child,
                })
            }
            TrieNode::Branch(branch) => {
                if depth >= KEY_NIBBLES {
                    return Err(invalid("branch below the key length"));
                }
                let mask = branch.state_mask;
                if mask.count_ones() as usize != branch.stack.len() {
                    return Err(invalid("branch mask does not match its children"));
                }
                if branch.stack.len() < 2 {
                    return Err(invalid("branch with fewer than two children"));
                }
                let mut children: [Option<RlpNode>; 16] = Default::default();
                let mut stack = branch.stack.into_iter();
                for (nibble, slot) in children.iter_mut().enumerate() {
                    if mask.is_bit_set(nibble as u8) {
                        *slot = stack.next();
                    }
                }
                Ok(Self::Branch {
                    children: Box::new(children),
                })
            }
        }
    }

    /// Returns the standard RLP encoding of the node.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Self::Leaf { key, value } => {
                LeafNode::new(Nibbles::from_nibbles_unchecked(key), value.clone()).encode(&mut out)
            }
            Self::Extension { key, child } => {
                ExtensionNode::new(Nibbles::from_nibbles_unchecked(key), child.clone())
                    .encode(&mut out)
            }
            Self::Branch { children } => {
                let mut mask = TrieMask::default();
                let mut stack = Vec::with_capacity(16);
                for (nibble, child) in children.iter().enumerate() {
                    if let Some(child) = child {
                        mask.set_bit(nibble as u8);
                        stack.push(child.clone());
                    }
                }
                BranchNode::new(stack, mask).encode(&mut out)
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{B256, hex};

    #[test]
    fn leaf_roundtrip() {
        let key = vec![0xa; 64];
        let node = Node::Leaf {
            key,
            value: vec![0x01],
        };
        let rlp = node.encode();
        // list(35) [string(33) 0x20 ++ 0xaa.., 0x01]
        assert_eq!(rlp[..3], hex!("e3a120"));
        assert_eq!(Node::decode(&[], &rlp).unwrap(), node);
        // The same leaf is misplaced one level down.
        assert!(matches!(
            Node::decode(&[1], &rlp),
            Err(TrieError::InvalidNode { .. })
        ));
    }

    #[test]
    fn extension_and_branch_roundtrip() {
        let ext = Node::Extension {
            key: vec![1, 2, 3],
            child: RlpNode::word_rlp(&B256::repeat_byte(7)),
        };
        let rlp = ext.encode();
        assert_eq!(Node::decode(&[4], &rlp).unwrap(), ext);

        let mut children: [Option<RlpNode>; 16] = Default::default();
        children[3] = Some(RlpNode::word_rlp(&B256::repeat_byte(1)));
        children[15] = Some(RlpNode::from_raw(&hex!("c3820001")).unwrap());
        let branch = Node::Branch {
            children: Box::new(children),
        };
        let rlp = branch.encode();
        assert_eq!(Node::decode(&[], &rlp).unwrap(), branch);
        // Trailing garbage is rejected.
        let mut bad = rlp;
        bad.push(0);
        assert!(matches!(
            Node::decode(&[], &bad),
            Err(TrieError::InvalidNode { .. })
        ));
    }

    #[test]
    fn garbage_is_an_error() {
        for bytes in [&[][..], &[0x80], &[0xc0], &[0xff, 0xff], &hex!("c2c0c0")] {
            assert!(Node::decode(&[], bytes).is_err(), "{bytes:?}");
        }
    }
}
