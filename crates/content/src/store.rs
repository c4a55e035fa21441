//! [`ContentStore`], the seam the node reads and writes contributions through, and
//! [`RocksContentStore`], its RocksDB implementation: objects sealed under per-object data keys,
//! byte budgets, who uploaded what, and the read nonces already spent.
//!
//! Every write is one synced `WriteBatch`: an object, its metadata, its uploader and the usage
//! counters land together or not at all, so a crash never leaves half an object or a counter
//! that disagrees with what is stored.

use crate::{ContentError, ContentKey, key::WRAPPED_KEY_LEN};
use alloy_primitives::{Address, B256, keccak256};
use parking_lot::Mutex;
use rocksdb::{
    ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, WriteBatch, WriteOptions,
};
use std::{path::Path, sync::atomic::AtomicU64};

/// Metric: bytes of plaintext the store holds.
pub const STORED_BYTES_METRIC: &str = "content_stored_bytes";
/// Metric: objects the store holds.
pub const STORED_OBJECTS_METRIC: &str = "content_stored_objects";

/// What the store knows about an object without opening it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentMeta {
    /// keccak256 of the plaintext: the `contentHash` of `DatanetRegistry.contribute`.
    pub hash: B256,
    /// Plaintext size in bytes.
    pub size: u64,
    /// The account that uploaded it first.
    pub uploader: Address,
    /// When it was stored (Unix seconds).
    pub stored_at: u64,
}

/// The byte budgets of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentLimits {
    /// Largest object.
    pub max_object_bytes: u64,
    /// Most plaintext bytes in the whole store.
    pub max_total_bytes: u64,
    /// Most bytes one uploader may have stored.
    pub max_bytes_per_uploader: u64,
}

impl Default for ContentLimits {
    fn default() -> Self {
        Self {
            // An upload travels hex-encoded in one JSON-RPC request (15 MiB by default).
            max_object_bytes: 4 * 1024 * 1024,
            max_total_bytes: 64 * 1024 * 1024 * 1024,
            max_bytes_per_uploader: 1024 * 1024 * 1024,
        }
    }
}

/// Content-addressed storage of contributions.
pub trait ContentStore: Send + Sync + std::fmt::Debug {
    /// Stores `content` as uploaded by `uploader` and returns its metadata. Storing what is
    /// already stored changes nothing but adds `uploader` to its uploaders.
    fn put(&self, uploader: Address, content: &[u8]) -> Result<ContentMeta, ContentError>;
    /// The metadata of `hash`, if stored.
    fn meta(&self, hash: B256) -> Result<Option<ContentMeta>, ContentError>;
    /// The plaintext of `hash`, if stored (checked against its hash).
    fn get(&self, hash: B256) -> Result<Option<Vec<u8>>, ContentError>;
    /// Whether `account` uploaded `hash`.
    fn uploaded_by(&self, hash: B256, account: Address) -> Result<bool, ContentError>;
    /// Records the read nonce `(reader, nonce)`, valid until `expiry`, as spent; refuses one
    /// already spent. Spent nonces are forgotten once expired (an expired signature is refused
    /// on its expiry alone).
    fn spend_nonce(
        &self,
        reader: Address,
        nonce: u64,
        expiry: u64,
        now: u64,
    ) -> Result<(), ContentError>;
}

const META: &str = "meta";
const SEALED: &str = "sealed";
const UPLOADERS: &str = "uploaders";
const USAGE: &str = "usage";
const NONCES: &str = "nonces";
const COLUMNS: [&str; 5] = [META, SEALED, UPLOADERS, USAGE, NONCES];

/// Usage key of the whole store (uploaders' keys are their 20-byte addresses).
const TOTAL: &[u8] = b"total";
const OBJECTS: &[u8] = b"objects";
/// Expired nonces are swept after this many spends.
const SWEEP_EVERY: u64 = 1024;

/// The RocksDB content store.
pub struct RocksContentStore {
    db: DB,
    key: ContentKey,
    limits: ContentLimits,
    /// Serialises the read-modify-write of usage counters and nonces.
    writes: Mutex<()>,
    spends: AtomicU64,
}

impl std::fmt::Debug for RocksContentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksContentStore")
            .field("path", &self.db.path())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl RocksContentStore {
    /// Opens (or creates) the store under `path`, sealing with `key`.
    pub fn open(path: &Path, key: ContentKey, limits: ContentLimits) -> Result<Self, ContentError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_compression_type(rocksdb::DBCompressionType::Lz4);
        let descriptors = COLUMNS
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db = DB::open_cf_descriptors(&options, path, descriptors)?;
        let store = Self {
            db,
            key,
            limits,
            writes: Mutex::new(()),
            spends: AtomicU64::new(0),
        };
        store.publish_usage()?;
        store.sweep_nonces(unix_now())?;
        Ok(store)
    }

    /// The store's budgets.
    pub fn limits(&self) -> ContentLimits {
        self.limits
    }

    /// Plaintext bytes stored.
    pub fn stored_bytes(&self) -> Result<u64, ContentError> {
        self.usage(TOTAL)
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("every column family is created on open")
    }

    fn usage(&self, key: &[u8]) -> Result<u64, ContentError> {
        Ok(self
            .db
            .get_cf(self.cf(USAGE), key)?
            .and_then(|bytes| bytes.try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0))
    }

    fn publish_usage(&self) -> Result<(), ContentError> {
        metrics::gauge!(STORED_BYTES_METRIC).set(self.usage(TOTAL)? as f64);
        metrics::gauge!(STORED_OBJECTS_METRIC).set(self.usage(OBJECTS)? as f64);
        Ok(())
    }

    fn write(&self, batch: WriteBatch) -> Result<(), ContentError> {
        let mut options = WriteOptions::default();
        options.set_sync(true);
        self.db.write_opt(batch, &options)?;
        Ok(())
    }

    fn sweep_nonces(&self, now: u64) -> Result<(), ContentError> {
        let cf = self.cf(NONCES);
        let mut batch = WriteBatch::default();
        for item in self
            .db
            .iterator_cf(cf, IteratorMode::From(&[], Direction::Forward))
        {
            let (key, value) = item?;
            let expiry = value
                .as_ref()
                .try_into()
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            if expiry < now {
                batch.delete_cf(cf, key);
            }
        }
        if !batch.is_empty() {
            self.write(batch)?;
        }
        Ok(())
    }
}

fn uploader_key(hash: B256, uploader: Address) -> [u8; 52] {
    let mut key = [0u8; 52];
    key[..32].copy_from_slice(hash.as_slice());
    key[32..].copy_from_slice(uploader.as_slice());
    key
}

fn encode_meta(meta: &ContentMeta) -> [u8; 36] {
    let mut bytes = [0u8; 36];
    bytes[..8].copy_from_slice(&meta.size.to_be_bytes());
    bytes[8..16].copy_from_slice(&meta.stored_at.to_be_bytes());
    bytes[16..].copy_from_slice(meta.uploader.as_slice());
    bytes
}

fn decode_meta(hash: B256, bytes: &[u8]) -> Result<ContentMeta, ContentError> {
    let corrupt = ContentError::Corrupt {
        hash,
        what: "its metadata record is malformed",
    };
    if bytes.len() != 36 {
        return Err(corrupt);
    }
    let word = |range: std::ops::Range<usize>| {
        u64::from_be_bytes(bytes[range].try_into().expect("eight bytes"))
    };
    Ok(ContentMeta {
        hash,
        size: word(0..8),
        stored_at: word(8..16),
        uploader: Address::from_slice(&bytes[16..]),
    })
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

impl ContentStore for RocksContentStore {
    fn put(&self, uploader: Address, content: &[u8]) -> Result<ContentMeta, ContentError> {
        let size = content.len() as u64;
        if size > self.limits.max_object_bytes {
            return Err(ContentError::TooLarge {
                size,
                max: self.limits.max_object_bytes,
            });
        }
        let hash = keccak256(content);
        let _writes = self.writes.lock();
        let existing = self.meta(hash)?;
        if let Some(meta) = existing
            && self.uploaded_by(hash, uploader)?
        {
            return Ok(meta);
        }
        let used = self.usage(uploader.as_slice())?;
        if used.saturating_add(size) > self.limits.max_bytes_per_uploader {
            return Err(ContentError::QuotaExceeded {
                uploader,
                used,
                size,
                quota: self.limits.max_bytes_per_uploader,
            });
        }
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(UPLOADERS), uploader_key(hash, uploader), []);
        batch.put_cf(
            self.cf(USAGE),
            uploader.as_slice(),
            (used + size).to_be_bytes(),
        );
        let meta = match existing {
            Some(meta) => meta,
            None => {
                let total = self.usage(TOTAL)?;
                if total.saturating_add(size) > self.limits.max_total_bytes {
                    return Err(ContentError::StoreFull {
                        used: total,
                        max: self.limits.max_total_bytes,
                        size,
                    });
                }
                let meta = ContentMeta {
                    hash,
                    size,
                    uploader,
                    stored_at: unix_now(),
                };
                let (wrapped, sealed) = self.key.seal(hash, content)?;
                let mut record = Vec::with_capacity(WRAPPED_KEY_LEN + sealed.len());
                record.extend_from_slice(&wrapped);
                record.extend_from_slice(&sealed);
                batch.put_cf(self.cf(SEALED), hash, record);
                batch.put_cf(self.cf(META), hash, encode_meta(&meta));
                batch.put_cf(self.cf(USAGE), TOTAL, (total + size).to_be_bytes());
                let objects = self.usage(OBJECTS)? + 1;
                batch.put_cf(self.cf(USAGE), OBJECTS, objects.to_be_bytes());
                meta
            }
        };
        self.write(batch)?;
        if existing.is_none() {
            tracing::debug!(%hash, size, %uploader, "stored content");
            self.publish_usage()?;
        }
        Ok(meta)
    }

    fn meta(&self, hash: B256) -> Result<Option<ContentMeta>, ContentError> {
        self.db
            .get_cf(self.cf(META), hash)?
            .map(|bytes| decode_meta(hash, &bytes))
            .transpose()
    }

    fn get(&self, hash: B256) -> Result<Option<Vec<u8>>, ContentError> {
        let Some(record) = self.db.get_cf(self.cf(SEALED), hash)? else {
            return Ok(None);
        };
        let Some(wrapped) = record.get(..WRAPPED_KEY_LEN) else {
            return Err(ContentError::Corrupt {
                hash,
                what: "the sealed object is truncated",
            });
        };
        let wrapped: &[u8; WRAPPED_KEY_LEN] = wrapped.try_into().expect("sliced to length");
        let content = self.key.open(hash, wrapped, &record[WRAPPED_KEY_LEN..])?;
        if keccak256(&content) != hash {
            return Err(ContentError::Corrupt {
                hash,
                what: "its plaintext does not hash to its key",
            });
        }
        Ok(Some(content))
    }

    fn uploaded_by(&self, hash: B256, account: Address) -> Result<bool, ContentError> {
        Ok(self
            .db
            .get_pinned_cf(self.cf(UPLOADERS), uploader_key(hash, account))?
            .is_some())
    }

    fn spend_nonce(
        &self,
        reader: Address,
        nonce: u64,
        expiry: u64,
        now: u64,
    ) -> Result<(), ContentError> {
        if expiry < now {
            return Err(ContentError::Expired { expiry, now });
        }
        let mut key = [0u8; 28];
        key[..20].copy_from_slice(reader.as_slice());
        key[20..].copy_from_slice(&nonce.to_be_bytes());
        let _writes = self.writes.lock();
        if self.db.get_pinned_cf(self.cf(NONCES), key)?.is_some() {
            return Err(ContentError::Replayed { reader, nonce });
        }
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(NONCES), key, expiry.to_be_bytes());
        self.write(batch)?;
        let spends = self
            .spends
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if spends % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep_nonces(now)?;
        }
        Ok(())
    }
}
