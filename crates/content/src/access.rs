//! Signed access to the store: who may write, who may read the plaintext.
//!
//! Both requests are EIP-712 typed data (what wallets show their users before signing) in the
//! domain `OpenLedger Content` version 1, bound to the chain id and the `DatanetRegistry` that
//! records the contributions:
//!
//! * `PutContent(address contributor,bytes32 contentHash,uint64 size)`: the contributor vouches
//!   for the bytes, so the node knows who uploaded what. Re-sending it is harmless: the same
//!   bytes are stored once.
//! * `GetContent(address reader,bytes32 contentHash,uint256 datanetId,uint64 nonce,uint64 expiry)`:
//!   a read, valid until `expiry` (at most [`ContentAccess::read_window`] ahead) and once per
//!   `(reader, nonce)`, so a captured signature cannot be replayed.
//!
//! The plaintext goes to the contributor that uploaded it, to the owner or a curator of the
//! Datanet `datanetId` when the content is contributed there, to attestors and to verifiers;
//! those roles come from chain state through a [`ReadAuthority`]. Everyone else, and a request
//! without a signature, learns the hash and the size only.

use crate::{ContentError, ContentMeta, ContentStore};
use alloy_primitives::{Address, B256, Signature, U256, keccak256};
use alloy_sol_types::{Eip712Domain, SolStruct};
use std::{borrow::Cow, sync::Arc};

/// The EIP-712 message types.
#[allow(missing_docs)]
mod messages {
    alloy_sol_types::sol! {
        /// An upload of a contribution's bytes.
        #[derive(Debug, PartialEq, Eq)]
        struct PutContent {
            address contributor;
            bytes32 contentHash;
            uint64 size;
        }

        /// A read of a stored contribution.
        #[derive(Debug, PartialEq, Eq)]
        struct GetContent {
            address reader;
            bytes32 contentHash;
            uint256 datanetId;
            uint64 nonce;
            uint64 expiry;
        }
    }
}
pub use messages::{GetContent, PutContent};

/// The EIP-712 domain of content requests on the chain `chain_id`, whose contributions
/// `registry` (the `DatanetRegistry`) records.
pub fn content_domain(chain_id: u64, registry: Address) -> Eip712Domain {
    Eip712Domain::new(
        Some(Cow::Borrowed("OpenLedger Content")),
        Some(Cow::Borrowed("1")),
        Some(U256::from(chain_id)),
        Some(registry),
        None,
    )
}

/// Why a reader may see the plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderRole {
    /// It uploaded the content.
    Contributor,
    /// It owns the Datanet the content is contributed to.
    DatanetOwner,
    /// It curates the Datanet the content is contributed to.
    Curator,
    /// It is a registered attestor of the Proof of Attribution precompile.
    Attestor,
    /// The node's operator lists it as a verifier.
    Verifier,
}

impl ReaderRole {
    /// The role's name in answers and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Contributor => "contributor",
            Self::DatanetOwner => "datanetOwner",
            Self::Curator => "curator",
            Self::Attestor => "attestor",
            Self::Verifier => "verifier",
        }
    }
}

/// Chain state that decides reads: Datanet owners and curators, attestors, verifiers.
pub trait ReadAuthority: Send + Sync {
    /// The role `reader` holds for `hash` in Datanet `datanet` (other than having uploaded it),
    /// or `None`; an error when the state cannot be read.
    fn role(
        &self,
        reader: Address,
        hash: B256,
        datanet: U256,
    ) -> Result<Option<ReaderRole>, String>;
}

/// An upload as the contributor signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPut {
    /// The contributor that signed.
    pub contributor: Address,
    /// The hash it signed; must be keccak256 of `content`.
    pub content_hash: B256,
    /// The bytes.
    pub content: Vec<u8>,
    /// 65-byte signature of the [`PutContent`] message.
    pub signature: Vec<u8>,
}

/// A read as the reader signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRead {
    /// The signed message.
    pub message: GetContent,
    /// 65-byte signature of it.
    pub signature: Vec<u8>,
}

/// What a read returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOutcome {
    /// The reader may see the plaintext.
    Plaintext {
        /// The object's metadata.
        meta: ContentMeta,
        /// The bytes.
        content: Vec<u8>,
        /// Why it may.
        role: ReaderRole,
    },
    /// No (valid) signature came with the request: the hash and size only.
    MetaOnly(ContentMeta),
}

/// The store behind signature checks and the read policy.
#[derive(Debug, Clone)]
pub struct ContentAccess {
    store: Arc<dyn ContentStore>,
    domain: Eip712Domain,
    read_window: u64,
}

impl ContentAccess {
    /// Default longest validity of a read signature: ten minutes.
    pub const DEFAULT_READ_WINDOW_SECS: u64 = 600;

    /// Access to `store` for requests signed in `domain`, accepting read signatures valid for
    /// at most `read_window` seconds.
    pub fn new(store: Arc<dyn ContentStore>, domain: Eip712Domain, read_window: u64) -> Self {
        Self {
            store,
            domain,
            read_window,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ContentStore> {
        &self.store
    }

    /// The domain requests are signed in.
    pub fn domain(&self) -> &Eip712Domain {
        &self.domain
    }

    /// The longest validity of a read signature, in seconds.
    pub fn read_window(&self) -> u64 {
        self.read_window
    }

    /// Checks the upload's hash and signature, then stores it. Nothing is stored on a refusal.
    pub fn put(&self, put: &SignedPut) -> Result<ContentMeta, ContentError> {
        let actual = keccak256(&put.content);
        if actual != put.content_hash {
            return Err(ContentError::HashMismatch {
                claimed: put.content_hash,
                actual,
            });
        }
        let message = PutContent {
            contributor: put.contributor,
            contentHash: put.content_hash,
            size: put.content.len() as u64,
        };
        let signer = recover(&message.eip712_signing_hash(&self.domain), &put.signature)?;
        if signer != put.contributor {
            return Err(ContentError::WrongSigner {
                expected: put.contributor,
                recovered: signer,
            });
        }
        self.store.put(put.contributor, &put.content)
    }

    /// The object `hash` as `read` entitles its signer to see it at `now` (Unix seconds):
    /// `None` when it is not stored, its metadata without a signature, its plaintext with a
    /// valid signature of an authorised reader. A signature that is invalid, expired, replayed
    /// or by someone without a role is refused.
    pub fn read(
        &self,
        hash: B256,
        read: Option<&SignedRead>,
        authority: &dyn ReadAuthority,
        now: u64,
    ) -> Result<Option<ReadOutcome>, ContentError> {
        let Some(meta) = self.store.meta(hash)? else {
            return Ok(None);
        };
        let Some(read) = read else {
            return Ok(Some(ReadOutcome::MetaOnly(meta)));
        };
        let message = &read.message;
        if message.contentHash != hash {
            return Err(ContentError::HashMismatch {
                claimed: message.contentHash,
                actual: hash,
            });
        }
        if message.expiry < now {
            return Err(ContentError::Expired {
                expiry: message.expiry,
                now,
            });
        }
        if message.expiry > now.saturating_add(self.read_window) {
            return Err(ContentError::ExpiryTooFar {
                expiry: message.expiry,
                now,
                window: self.read_window,
            });
        }
        let signer = recover(&message.eip712_signing_hash(&self.domain), &read.signature)?;
        if signer != message.reader {
            return Err(ContentError::WrongSigner {
                expected: message.reader,
                recovered: signer,
            });
        }
        let role = if self.store.uploaded_by(hash, signer)? {
            ReaderRole::Contributor
        } else {
            authority
                .role(signer, hash, message.datanetId)
                .map_err(ContentError::Authority)?
                .ok_or(ContentError::Unauthorized {
                    reader: signer,
                    hash,
                    datanet: message.datanetId,
                })?
        };
        self.store
            .spend_nonce(signer, message.nonce, message.expiry, now)?;
        let content = self.store.get(hash)?.ok_or(ContentError::Corrupt {
            hash,
            what: "its metadata is stored without its sealed bytes",
        })?;
        Ok(Some(ReadOutcome::Plaintext {
            meta,
            content,
            role,
        }))
    }
}

/// The signer of `hash`; the signature is 65 bytes `r ‖ s ‖ v` (v 27/28 or 0/1).
pub fn recover(hash: &B256, signature: &[u8]) -> Result<Address, ContentError> {
    if signature.len() != 65 {
        return Err(ContentError::BadSignature(format!(
            "expected 65 bytes, got {}",
            signature.len()
        )));
    }
    let signature = Signature::from_raw(signature)
        .map_err(|err| ContentError::BadSignature(err.to_string()))?;
    signature
        .recover_address_from_prehash(hash)
        .map_err(|err| ContentError::BadSignature(err.to_string()))
}
