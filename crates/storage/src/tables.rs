//! Column families and key encodings.
//!
//! Numbers are big-endian so that RocksDB's byte order is numeric order.

use alloy_primitives::{Address, B256};

/// Metadata: head pointer, genesis hash, chain spec, schema version.
pub const META: &str = "meta";
/// Block number → RLP header.
pub const HEADERS: &str = "headers";
/// Block number → block hash of the canonical chain.
pub const CANONICAL: &str = "canonical";
/// Block hash → block number.
pub const BLOCK_NUMBERS: &str = "block_numbers";
/// Block number → RLP list of EIP-2718 transactions.
pub const BODIES: &str = "bodies";
/// Block number → concatenated 20-byte senders, one per transaction.
pub const SENDERS: &str = "senders";
/// Block number → RLP list of EIP-2718 receipts.
pub const RECEIPTS: &str = "receipts";
/// Transaction hash → block number (8 bytes) ++ index (4 bytes).
pub const TX_LOOKUP: &str = "tx_lookup";
/// Address → RLP `TrieAccount` (nonce, balance, storage root, code hash).
pub const ACCOUNTS: &str = "accounts";
/// Address ++ slot → value (32 bytes, big-endian); zero values are absent.
pub const STORAGE: &str = "storage";
/// Code hash → bytecode.
pub const CODE: &str = "code";
/// Nibble path → account trie node.
pub const ACCOUNT_TRIE: &str = "account_trie";
/// Hashed address ++ nibble path → storage trie node.
pub const STORAGE_TRIE: &str = "storage_trie";
/// Address ++ block number → the RLP `TrieAccount` *before* that block changed it (empty when
/// the account did not exist). The state after block `n` is the first entry past `n`, if any,
/// else the current state: one seek per read, and nothing to rewrite when a block lands.
pub const ACCOUNT_HISTORY: &str = "account_history";
/// Address ++ slot ++ block number → the slot's value before that block changed it (empty when
/// zero), read like [`ACCOUNT_HISTORY`].
pub const STORAGE_HISTORY: &str = "storage_history";

/// Address ++ block number ++ transaction index → nothing: the transactions that touched an
/// address (sender, recipient, any internal call frame, created contracts), in chain order.
pub const ADDRESS_TRANSACTIONS: &str = "address_transactions";
/// Sender ++ nonce → the location of that transaction (as [`TX_LOOKUP`]'s values).
pub const SENDER_NONCES: &str = "sender_nonces";
/// Contract address → the location of the transaction that created it ++ the creator address.
pub const CONTRACT_CREATORS: &str = "contract_creators";

/// Block number → the keys the block changed besides its own records (see `ChangeSet`), so
/// that an unwind knows what to take back without scanning the history.
pub const CHANGE_SETS: &str = "change_sets";

/// Every column family, in the order they are opened.
pub const ALL: [&str; 19] = [
    META,
    HEADERS,
    CANONICAL,
    BLOCK_NUMBERS,
    BODIES,
    SENDERS,
    RECEIPTS,
    TX_LOOKUP,
    ACCOUNTS,
    STORAGE,
    CODE,
    ACCOUNT_TRIE,
    STORAGE_TRIE,
    ACCOUNT_HISTORY,
    STORAGE_HISTORY,
    ADDRESS_TRANSACTIONS,
    SENDER_NONCES,
    CONTRACT_CREATORS,
    CHANGE_SETS,
];

/// Key of the head block number in [`META`].
pub const HEAD_KEY: &[u8] = b"head";
/// Key of the safe L2 head and the L1 block it was derived from (JSON) in [`META`].
pub const SAFE_HEAD_KEY: &[u8] = b"safe_head";
/// Key of the finalized L2 head and its L1 block (JSON) in [`META`].
pub const FINALIZED_HEAD_KEY: &[u8] = b"finalized_head";
/// Key of the genesis hash in [`META`].
pub const GENESIS_KEY: &[u8] = b"genesis";
/// Key of the chain spec (genesis and rollup config JSON) in [`META`].
pub const CHAIN_SPEC_KEY: &[u8] = b"chain_spec";
/// Key of the schema version in [`META`].
pub const SCHEMA_KEY: &[u8] = b"schema";
/// The on-disk schema this code reads and writes.
pub const SCHEMA_VERSION: u32 = 4;

/// Key of a block number.
pub const fn number_key(number: u64) -> [u8; 8] {
    number.to_be_bytes()
}

/// Key of a storage slot.
pub fn storage_key(address: &Address, slot: &B256) -> [u8; 52] {
    let mut key = [0u8; 52];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(slot.as_slice());
    key
}

/// Key of a history entry: the account or slot key followed by the block number.
pub fn history_key(key: &[u8], number: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 8);
    out.extend_from_slice(key);
    out.extend_from_slice(&number.to_be_bytes());
    out
}

/// Key of a storage trie node.
pub fn storage_trie_key(hashed_address: &B256, path: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(32 + path.len());
    key.extend_from_slice(hashed_address.as_slice());
    key.extend_from_slice(path);
    key
}

/// Value of a transaction lookup entry.
pub fn tx_location(number: u64, index: u32) -> [u8; 12] {
    let mut value = [0u8; 12];
    value[..8].copy_from_slice(&number.to_be_bytes());
    value[8..].copy_from_slice(&index.to_be_bytes());
    value
}
