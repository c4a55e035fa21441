//! Merkle proofs of accounts and storage slots (EIP-1186, `eth_getProof`) from the stored trie
//! nodes, read from one RocksDB snapshot so that the proof, the values and the state root all
//! belong to the same head block.

use crate::{StorageError, provider::Storage, tables};
use alloy_consensus::{Header, Sealable};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rlp::Decodable;
use alloy_trie::{TrieAccount, nodes::TrieNode};

/// The proof of one storage slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotProof {
    /// The slot (unhashed).
    pub slot: B256,
    /// Its value (zero when unset).
    pub value: U256,
    /// The storage-trie nodes from the storage root along `keccak(slot)`, root first.
    pub proof: Vec<Bytes>,
}

/// The proof of an account and some of its storage slots at the head block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProof {
    /// The head block the proof is for.
    pub block_number: u64,
    /// Its hash.
    pub block_hash: B256,
    /// Its state root, which `account_proof` leads to.
    pub state_root: B256,
    /// The account, `None` when it does not exist (the proof then proves its absence).
    pub account: Option<TrieAccount>,
    /// The account-trie nodes from the state root along `keccak(address)`, root first.
    pub account_proof: Vec<Bytes>,
    /// One proof per requested slot, in request order.
    pub storage_proofs: Vec<SlotProof>,
}

impl Storage {
    /// Proves `address` and its `slots` at the head block.
    ///
    /// Every trie node on the path of the key is returned, root first, except nodes shorter than
    /// 32 bytes, which are embedded in their parent (as go-ethereum's `eth_getProof` does). For a
    /// missing key the nodes up to where the path leaves the trie are returned, which prove the
    /// absence.
    pub fn account_proof(
        &self,
        address: &Address,
        slots: &[B256],
    ) -> Result<AccountProof, StorageError> {
        let snapshot = self.db.snapshot();
        let get = |table: &'static str, key: &[u8]| -> Result<Option<Vec<u8>>, StorageError> {
            Ok(snapshot.get_cf(self.cf(table), key)?)
        };

        let raw_head = get(tables::META, tables::HEAD_KEY)?.ok_or(StorageError::NotInitialized)?;
        let head_bytes: [u8; 8] = raw_head
            .as_slice()
            .try_into()
            .map_err(|_| StorageError::corrupt(tables::META, "head is not 8 bytes"))?;
        let block_number = u64::from_be_bytes(head_bytes);
        let raw_header =
            get(tables::HEADERS, &tables::number_key(block_number))?.ok_or_else(|| {
                StorageError::Inconsistent(format!("head {block_number} has no header"))
            })?;
        let header = Header::decode(&mut raw_header.as_slice())
            .map_err(|err| StorageError::corrupt(tables::HEADERS, err))?
            .seal_slow();

        let account = get(tables::ACCOUNTS, address.as_slice())?
            .map(|raw| {
                TrieAccount::decode(&mut raw.as_slice())
                    .map_err(|err| StorageError::corrupt(tables::ACCOUNTS, err))
            })
            .transpose()?;
        let account_proof = trie_proof(tables::ACCOUNT_TRIE, &keccak256(address), |path| {
            get(tables::ACCOUNT_TRIE, path)
        })?;

        let hashed_address = keccak256(address);
        let mut storage_proofs = Vec::with_capacity(slots.len());
        for slot in slots {
            let value = match get(tables::STORAGE, &tables::storage_key(address, slot))? {
                Some(raw) if raw.len() == 32 => U256::from_be_slice(&raw),
                Some(_) => {
                    return Err(StorageError::corrupt(
                        tables::STORAGE,
                        "value is not 32 bytes",
                    ));
                }
                None => U256::ZERO,
            };
            // A missing account has no storage trie: its storage proofs are empty.
            let proof = if account.is_some() {
                trie_proof(tables::STORAGE_TRIE, &keccak256(slot), |path| {
                    get(
                        tables::STORAGE_TRIE,
                        &tables::storage_trie_key(&hashed_address, path),
                    )
                })?
            } else {
                Vec::new()
            };
            storage_proofs.push(SlotProof {
                slot: *slot,
                value,
                proof,
            });
        }
        Ok(AccountProof {
            block_number,
            block_hash: header.hash(),
            state_root: header.state_root,
            account,
            account_proof,
            storage_proofs,
        })
    }
}

/// Walks one trie from its root along the nibbles of `key`, collecting the RLP of every node
/// referenced by hash. `node_at` reads the node stored at a nibble path (one byte per nibble).
fn trie_proof(
    table: &'static str,
    key: &B256,
    node_at: impl Fn(&[u8]) -> Result<Option<Vec<u8>>, StorageError>,
) -> Result<Vec<Bytes>, StorageError> {
    let nibbles: Vec<u8> = key
        .iter()
        .flat_map(|byte| [byte >> 4, byte & 0x0f])
        .collect();
    let mut proof = Vec::new();
    let mut path: Vec<u8> = Vec::new();
    // An empty trie has no root node: the empty proof proves every key absent.
    let Some(mut rlp) = node_at(&path)? else {
        return Ok(proof);
    };
    loop {
        let node = TrieNode::decode(&mut rlp.as_slice())
            .map_err(|err| StorageError::corrupt(table, format!("trie node: {err}")))?;
        proof.push(Bytes::from(rlp));
        let rest = nibbles.get(path.len()..).unwrap_or_default();
        let next = match node {
            TrieNode::Branch(branch) => rest.first().and_then(|&nibble| {
                if !branch.state_mask.is_bit_set(nibble) {
                    return None;
                }
                let below = branch.state_mask.get() & ((1u16 << nibble) - 1);
                let child = branch.stack.get(below.count_ones() as usize)?.clone();
                Some((vec![nibble], child))
            }),
            TrieNode::Extension(extension) => {
                let shared = extension.key.to_vec();
                rest.starts_with(&shared)
                    .then_some((shared, extension.child))
            }
            TrieNode::Leaf(_) | TrieNode::EmptyRoot => None,
        };
        // The path ends here, or continues inside this node (a child shorter than 32 bytes is
        // inlined in its parent, and so is everything below it).
        let Some((step, child)) = next else { break };
        let Some(child_hash) = child.as_hash() else {
            break;
        };
        path.extend_from_slice(&step);
        let child_rlp = node_at(&path)?.ok_or_else(|| {
            StorageError::Inconsistent(format!(
                "{table}: missing trie node at depth {}",
                path.len()
            ))
        })?;
        if keccak256(&child_rlp) != child_hash {
            return Err(StorageError::Inconsistent(format!(
                "{table}: trie node at depth {} does not match its parent's hash",
                path.len()
            )));
        }
        rlp = child_rlp;
    }
    Ok(proof)
}
