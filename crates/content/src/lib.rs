//! The content store of Datanet contributions.
//!
//! A contribution's bytes live with the node, its `contentHash` (keccak256 of the bytes) on
//! chain in `DatanetRegistry.contribute`. This crate owns the bytes side:
//!
//! * [`ContentStore`], the seam (content-addressed put/get, who uploaded what, spent read
//!   nonces), and [`RocksContentStore`], its RocksDB implementation: every object encrypted at
//!   rest (XChaCha20-Poly1305) under its own random data key, the data key wrapped by the node's
//!   [`ContentKey`], both bound to the object's hash; byte budgets ([`ContentLimits`]); one synced
//!   write per object, so a crash leaves it whole or absent.
//! * [`ContentAccess`]: EIP-712 signed uploads and reads, and the read policy (contributor,
//!   Datanet owner or curator, attestor, verifier), with the chain-state half behind
//!   [`ReadAuthority`].

mod access;
mod error;
mod key;
mod store;

pub use access::{
    ContentAccess, GetContent, PutContent, ReadAuthority, ReadOutcome, ReaderRole, SignedPut,
    SignedRead, content_domain, recover,
};
pub use error::ContentError;
pub use key::ContentKey;
pub use store::{
    ContentLimits, ContentMeta, ContentStore, RocksContentStore, STORED_BYTES_METRIC,
    STORED_OBJECTS_METRIC,
};
