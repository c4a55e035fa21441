//! What the content store refuses, and why.

use alloy_primitives::{Address, B256};
use std::path::PathBuf;

/// An error of the content store or of a signed request to it. Every refusal changes nothing.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// The content key file cannot be read or written.
    #[error("content key file {}: {source}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The content key file may be read by its group or by others.
    #[error(
        "content key file {} has mode {mode:o}: it must be readable by its owner only (chmod 600)",
        path.display()
    )]
    KeyFilePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The content key file does not hold 32 bytes in hex.
    #[error("content key file {} does not hold a 32-byte key in hex", path.display())]
    KeyFileMalformed {
        /// The file.
        path: PathBuf,
    },
    /// The cipher refused to encrypt (not expected with valid keys).
    #[error("encryption failed while {0}")]
    Crypto(&'static str),
    /// A stored object does not decrypt or does not hash to its key.
    #[error("stored content {hash} is corrupt: {what}")]
    Corrupt {
        /// The object.
        hash: B256,
        /// What is wrong with it.
        what: &'static str,
    },
    /// RocksDB failed.
    #[error("content database: {0}")]
    Db(#[from] rocksdb::Error),
    /// The upload is larger than one object may be.
    #[error("content of {size} bytes exceeds the limit of {max} bytes per object")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The store has no room left under its byte budget.
    #[error("the content store is full: {used} of {max} bytes used, {size} more asked for")]
    StoreFull {
        /// Bytes stored.
        used: u64,
        /// The budget.
        max: u64,
        /// The upload's size.
        size: u64,
    },
    /// The uploader's quota would be exceeded.
    #[error("{uploader} has uploaded {used} bytes; {size} more would exceed its quota of {quota}")]
    QuotaExceeded {
        /// The uploader.
        uploader: Address,
        /// What it has stored.
        used: u64,
        /// The upload's size.
        size: u64,
        /// Its quota.
        quota: u64,
    },
    /// The bytes do not hash to the `contentHash` the request claims and signs.
    #[error("content hash mismatch: the request claims {claimed}, the bytes hash to {actual}")]
    HashMismatch {
        /// What the request says.
        claimed: B256,
        /// keccak256 of the bytes.
        actual: B256,
    },
    /// The signature is malformed or does not recover.
    #[error("invalid signature: {0}")]
    BadSignature(String),
    /// The signature is valid but not by the account the request names.
    #[error("signature is by {recovered}, not by {expected}")]
    WrongSigner {
        /// The account the request names.
        expected: Address,
        /// The account that signed.
        recovered: Address,
    },
    /// A read signature whose expiry has passed.
    #[error("read signature expired at {expiry} (now {now})")]
    Expired {
        /// Its expiry (Unix seconds).
        expiry: u64,
        /// The node's clock.
        now: u64,
    },
    /// A read signature valid for longer than the node accepts.
    #[error("read signature expiry {expiry} is more than {window} s ahead (now {now})")]
    ExpiryTooFar {
        /// Its expiry (Unix seconds).
        expiry: u64,
        /// The node's clock.
        now: u64,
        /// The longest validity accepted.
        window: u64,
    },
    /// A read signature (reader, nonce) that was already used.
    #[error("read signature replayed: nonce {nonce} of {reader} was already used")]
    Replayed {
        /// The reader.
        reader: Address,
        /// The nonce.
        nonce: u64,
    },
    /// The reader may not see the plaintext.
    #[error(
        "{reader} may not read {hash}: it is not its contributor, the owner or a curator of \
         Datanet {datanet} holding it, an attestor or a verifier"
    )]
    Unauthorized {
        /// The reader.
        reader: Address,
        /// The object.
        hash: B256,
        /// The Datanet the request named.
        datanet: alloy_primitives::U256,
    },
    /// The chain state that decides a read could not be read.
    #[error("cannot read the access rights from chain state: {0}")]
    Authority(String),
}
