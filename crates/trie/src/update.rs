//! The incremental update algorithm.
//!
//! Changes are applied recursively from the root, loading only the nodes on the paths of the
//! changed keys (plus, when a branch collapses, its one remaining child). A subtree's new top node
//! is handed back to the caller *unplaced* when it is a leaf or an extension ([`Sub::Leaf`],
//! [`Sub::Ext`]): such nodes can move up the trie (their own key absorbs the nibbles), because an
//! extension's child is stored at the absolute path `path ++ key`, which does not change when the
//! extension moves. Branches cannot move and are written where they are ([`Sub::Placed`]).
//!
//! Every node that is loaded for restructuring is first marked deleted at its path; placing a node
//! at a path later overrides that mark. At the end, writes that equal the stored bytes are dropped,
//! so untouched nodes are never rewritten.

use crate::{NodeReader, TrieError, TrieUpdate, node::Node};
use alloy_primitives::{B256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, nodes::RlpNode};
use std::collections::{BTreeMap, HashMap};

/// One change, keyed by the nibbles of its hashed key. `value` is `None` for a deletion.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Change<'a> {
    /// The 64 nibbles of the hashed key.
    pub(crate) key: [u8; 64],
    /// The new value, `None` to delete.
    pub(crate) value: Option<&'a [u8]>,
}

/// The 64 nibbles of a 32-byte key.
pub(crate) fn key_nibbles(key: &B256) -> [u8; 64] {
    let mut out = [0u8; 64];
    for (i, byte) in key.iter().enumerate() {
        out[2 * i] = byte >> 4;
        out[2 * i + 1] = byte & 0x0f;
    }
    out
}

/// The new shape of a subtree after applying changes to it.
#[derive(Debug)]
enum Sub {
    /// The subtree is gone.
    Empty,
    /// A leaf that still has to be placed; `key` is relative to the subtree's path.
    Leaf { key: Vec<u8>, value: Vec<u8> },
    /// An extension that still has to be placed; `key` is relative to the subtree's path, and the
    /// child is stored at `subtree path ++ key`.
    Ext { key: Vec<u8>, child: RlpNode },
    /// A branch, already written at the subtree's path, with its reference.
    Placed(RlpNode),
}

impl Sub {
    /// Moves the subtree's top node up by `prefix` nibbles.
    fn lift(self, prefix: &[u8]) -> Self {
        if prefix.is_empty() {
            return self;
        }
        let join = |key: Vec<u8>| [prefix, &key].concat();
        match self {
            Self::Empty => Self::Empty,
            Self::Leaf { key, value } => Self::Leaf {
                key: join(key),
                value,
            },
            Self::Ext { key, child } => Self::Ext {
                key: join(key),
                child,
            },
            Self::Placed(child) => Self::Ext {
                key: prefix.to_vec(),
                child,
            },
        }
    }
}

/// A child slot of a branch being rebuilt.
#[derive(Debug, Default)]
enum Slot {
    /// No child.
    #[default]
    None,
    /// An untouched child stored at `branch path ++ [nibble]`.
    Stored(RlpNode),
    /// An untouched extension that is not stored yet: the tail of an extension that is being
    /// split. Its child is stored at `branch path ++ [nibble] ++ key`.
    VirtualExt { key: Vec<u8>, child: RlpNode },
    /// A child that changes were applied to.
    New(Sub),
}

impl Slot {
    const fn is_empty(&self) -> bool {
        matches!(self, Self::None | Self::New(Sub::Empty))
    }
}

/// State of one `apply_changes` run.
#[derive(Debug)]
pub(crate) struct Updater<'r, R: ?Sized> {
    reader: &'r R,
    /// Pending writes by path: `Some(rlp)` to store, `None` to delete.
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// The stored bytes of every node that was loaded and marked deleted.
    old: HashMap<Vec<u8>, Vec<u8>>,
}

impl<'r, R: NodeReader + ?Sized> Updater<'r, R> {
    pub(crate) fn new(reader: &'r R) -> Self {
        Self {
            reader,
            writes: BTreeMap::new(),
            old: HashMap::new(),
        }
    }

    /// Applies sorted, de-duplicated, non-empty changes to the whole trie.
    pub(crate) fn run(mut self, changes: &[Change<'_>]) -> Result<TrieUpdate, TrieError> {
        debug_assert!(!changes.is_empty());
        let root = match self.reader.node(&[])? {
            Some(rlp) => {
                let node = Node::decode(&[], &rlp)?;
                self.consume(&[], rlp);
                Some(node)
            }
            None => None,
        };
        let sub = self.apply(&[], root, changes)?;
        let root = match self.place(&[], sub) {
            None => EMPTY_ROOT_HASH,
            Some(reference) => reference
                .as_hash()
                .unwrap_or_else(|| keccak256(&reference[..])),
        };
        let old = self.old;
        let writes = self
            .writes
            .into_iter()
            .filter(|(path, write)| match (write, old.get(path)) {
                (Some(new), Some(old)) => new != old,
                _ => true,
            })
            .collect();
        Ok(TrieUpdate { root, writes })
    }

    /// Loads the node stored at `path` and checks it against the reference its parent holds.
    fn load(&self, path: &[u8], reference: &RlpNode) -> Result<(Node, Vec<u8>), TrieError> {
        let rlp = self
            .reader
            .node(path)?
            .ok_or_else(|| TrieError::MissingNode {
                path: path.to_vec(),
            })?;
        if RlpNode::from_rlp(&rlp) != *reference {
            return Err(TrieError::ReferenceMismatch {
                path: path.to_vec(),
            });
        }
        Ok((Node::decode(path, &rlp)?, rlp))
    }

    /// Marks the node stored at `path` (whose bytes are `rlp`) as deleted, unless something is
    /// placed there later.
    fn consume(&mut self, path: &[u8], rlp: Vec<u8>) {
        self.writes.insert(path.to_vec(), None);
        self.old.insert(path.to_vec(), rlp);
    }

    fn write(&mut self, path: &[u8], rlp: Vec<u8>) {
        self.writes.insert(path.to_vec(), Some(rlp));
    }

    /// Writes `node` at `path` and returns its reference.
    fn write_node(&mut self, path: &[u8], node: &Node) -> RlpNode {
        let rlp = node.encode();
        let reference = RlpNode::from_rlp(&rlp);
        self.write(path, rlp);
        reference
    }

    /// Places a subtree's top node at `path`, returning its reference (`None` when empty).
    fn place(&mut self, path: &[u8], sub: Sub) -> Option<RlpNode> {
        match sub {
            Sub::Empty => None,
            Sub::Placed(reference) => Some(reference),
            Sub::Leaf { key, value } => Some(self.write_node(path, &Node::Leaf { key, value })),
            Sub::Ext { key, child } => Some(self.write_node(path, &Node::Extension { key, child })),
        }
    }

    /// Applies `changes` (non-empty, sorted, all under `path`) to the subtree at `path`, whose
    /// current top node is `node` (already marked deleted if it was stored).
    fn apply(
        &mut self,
        path: &[u8],
        node: Option<Node>,
        changes: &[Change<'_>],
    ) -> Result<Sub, TrieError> {
        match node {
            None => {
                let entries: Vec<(&[u8], &[u8])> = changes
                    .iter()
                    .filter_map(|change| change.value.map(|value| (&change.key[..], value)))
                    .collect();
                Ok(self.build(path, &entries))
            }
            Some(Node::Leaf { key, value }) => {
                let full_key = [path, &key].concat();
                let mut entries: Vec<(&[u8], &[u8])> = Vec::with_capacity(changes.len() + 1);
                let mut leaf_pending = true;
                for change in changes {
                    if leaf_pending && change.key[..] >= full_key[..] {
                        leaf_pending = false;
                        if change.key[..] > full_key[..] {
                            entries.push((&full_key, &value));
                        }
                    }
                    if let Some(new) = change.value {
                        entries.push((&change.key, new));
                    }
                }
                if leaf_pending {
                    entries.push((&full_key, &value));
                }
                Ok(self.build(path, &entries))
            }
            Some(Node::Extension { key, child }) => {
                let child_path = [path, &key].concat();
                let (first, last) = (&changes[0].key, &changes[changes.len() - 1].key);
                if first.starts_with(&child_path) && last.starts_with(&child_path) {
                    // Sorted keys: every change lies under the child.
                    let (node, rlp) = self.load(&child_path, &child)?;
                    self.consume(&child_path, rlp);
                    let sub = self.apply(&child_path, Some(node), changes)?;
                    return Ok(sub.lift(&key));
                }
                // Split: treat the extension as a branch with a single child at `key[0]`.
                let mut slots: [Slot; 16] = Default::default();
                slots[key[0] as usize] = if key.len() == 1 {
                    Slot::Stored(child)
                } else {
                    Slot::VirtualExt {
                        key: key[1..].to_vec(),
                        child,
                    }
                };
                self.branch(path, slots, changes)
            }
            Some(Node::Branch { children }) => {
                let slots = (*children).map(|child| child.map_or(Slot::None, Slot::Stored));
                self.branch(path, slots, changes)
            }
        }
    }

    /// Applies `changes` to a branch at `path` with the given child slots, then re-normalises it.
    fn branch(
        &mut self,
        path: &[u8],
        mut slots: [Slot; 16],
        changes: &[Change<'_>],
    ) -> Result<Sub, TrieError> {
        let depth = path.len();
        let mut rest = changes;
        while let Some(first) = rest.first() {
            let nibble = first.key[depth];
            let end = rest
                .iter()
                .position(|c| c.key[depth] != nibble)
                .unwrap_or(rest.len());
            let (group, tail) = rest.split_at(end);
            rest = tail;
            let child_path = &first.key[..=depth];
            let node = match std::mem::take(&mut slots[nibble as usize]) {
                Slot::None | Slot::New(_) => None,
                Slot::Stored(reference) => {
                    let (node, rlp) = self.load(child_path, &reference)?;
                    self.consume(child_path, rlp);
                    Some(node)
                }
                Slot::VirtualExt { key, child } => Some(Node::Extension { key, child }),
            };
            slots[nibble as usize] = Slot::New(self.apply(child_path, node, group)?);
        }

        let mut live = slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| !slot.is_empty());
        let only = match (live.next(), live.next()) {
            (None, _) => return Ok(Sub::Empty),
            (Some((nibble, _)), None) => Some(nibble),
            _ => None,
        };
        if let Some(nibble) = only {
            // Collapse: the single remaining child moves up into this position.
            let child_path = [path, &[nibble as u8]].concat();
            let prefix = [nibble as u8];
            return Ok(match std::mem::take(&mut slots[nibble]) {
                Slot::None => Sub::Empty,
                Slot::New(sub) => sub.lift(&prefix),
                Slot::VirtualExt { key, child } => Sub::Ext { key, child }.lift(&prefix),
                Slot::Stored(reference) => match self.load(&child_path, &reference)? {
                    (Node::Branch { .. }, _) => Sub::Placed(reference).lift(&prefix),
                    (Node::Leaf { key, value }, rlp) => {
                        self.consume(&child_path, rlp);
                        Sub::Leaf { key, value }.lift(&prefix)
                    }
                    (Node::Extension { key, child }, rlp) => {
                        self.consume(&child_path, rlp);
                        Sub::Ext { key, child }.lift(&prefix)
                    }
                },
            });
        }

        let mut children: [Option<RlpNode>; 16] = Default::default();
        for (nibble, slot) in slots.into_iter().enumerate() {
            let child_path = [path, &[nibble as u8]].concat();
            children[nibble] = match slot {
                Slot::None => None,
                Slot::Stored(reference) => Some(reference),
                Slot::VirtualExt { key, child } => {
                    Some(self.write_node(&child_path, &Node::Extension { key, child }))
                }
                Slot::New(sub) => self.place(&child_path, sub),
            };
        }
        Ok(Sub::Placed(self.write_node(
            path,
            &Node::Branch {
                children: Box::new(children),
            },
        )))
    }

    /// Builds a fresh subtree at `path` from sorted, distinct `(key, value)` entries.
    fn build(&mut self, path: &[u8], entries: &[(&[u8], &[u8])]) -> Sub {
        let depth = path.len();
        match entries {
            [] => Sub::Empty,
            [(key, value)] => Sub::Leaf {
                key: key[depth..].to_vec(),
                value: value.to_vec(),
            },
            [(first, _), .., (last, _)] => {
                let shared = first[depth..]
                    .iter()
                    .zip(&last[depth..])
                    .take_while(|(a, b)| a == b)
                    .count();
                let branch_path = &first[..depth + shared];
                let reference = self.build_branch(branch_path, entries);
                Sub::Placed(reference).lift(&first[depth..depth + shared])
            }
        }
    }

    /// Builds a branch at `path` over entries that diverge at the nibble after `path`.
    fn build_branch(&mut self, path: &[u8], entries: &[(&[u8], &[u8])]) -> RlpNode {
        let depth = path.len();
        let mut children: [Option<RlpNode>; 16] = Default::default();
        let mut rest = entries;
        while let Some((first, _)) = rest.first() {
            let nibble = first[depth];
            let end = rest
                .iter()
                .position(|(k, _)| k[depth] != nibble)
                .unwrap_or(rest.len());
            let (group, tail) = rest.split_at(end);
            rest = tail;
            let child_path = &first[..=depth];
            let sub = self.build(child_path, group);
            children[nibble as usize] = self.place(child_path, sub);
        }
        self.write_node(
            path,
            &Node::Branch {
                children: Box::new(children),
            },
        )
    }
}
