//! `ol_putContent`, `ol_getContent`, `ol_contentDomain`: the content store of contributions
//! over JSON-RPC, with its read policy judged on the head state.
//!
//! An upload carries the bytes, their `contentHash` and the contributor's EIP-712 signature of
//! `PutContent`; a read carries, optionally, the reader's signature of `GetContent`. Who may
//! read the plaintext is decided by `ol_content` from the uploaders it recorded and, here, from
//! chain state: the `DatanetRegistry` (owner and curators of the Datanet the content is
//! contributed to), the Proof of Attribution precompile (attestors), and the node's own list of
//! verifiers.

use super::{codes, unix_now};
use crate::{EthRpc, error};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_sol_types::SolCall;
use jsonrpsee::{core::RpcResult, proc_macros::rpc, types::ErrorObjectOwned};
use ol_content::{
    ContentAccess, ContentError, ContentMeta, GetContent, ReadAuthority, ReadOutcome, ReaderRole,
    SignedPut, SignedRead,
};
use ol_primitives::{
    addresses::{PROOF_OF_ATTRIBUTION, dev_suite::DATANET_REGISTRY},
    contracts::{DatanetRegistry, IProofOfAttribution},
};
use serde::{Deserialize, Serialize};

/// The content store as the RPC serves it.
#[derive(Debug, Clone)]
pub struct ContentRpc {
    access: ContentAccess,
    verifiers: Vec<Address>,
}

impl ContentRpc {
    /// Serves `access`; the accounts in `verifiers` may read every object (the node operator's
    /// followers that re-check attributions).
    pub fn new(access: ContentAccess, verifiers: Vec<Address>) -> Self {
        Self { access, verifiers }
    }

    /// The store behind it (shared with the node's job service).
    pub fn store(&self) -> &std::sync::Arc<dyn ol_content::ContentStore> {
        self.access.store()
    }
}

/// `ol_putContent`'s request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutContentRequest {
    /// The contributor, who signed.
    pub contributor: Address,
    /// keccak256 of `content`, as `DatanetRegistry.contribute` records it.
    pub content_hash: B256,
    /// The bytes.
    pub content: Bytes,
    /// The contributor's 65-byte EIP-712 signature of `PutContent`.
    pub signature: Bytes,
}

/// The signed part of `ol_getContent`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadAuthorization {
    /// The reader, who signed.
    pub reader: Address,
    /// The Datanet under whose owner or curators the reader asks (0 for none).
    #[serde(default)]
    pub datanet_id: U256,
    /// Used once per reader.
    pub nonce: U64,
    /// Unix time after which the signature is void.
    pub expiry: U64,
    /// The reader's 65-byte EIP-712 signature of `GetContent`.
    pub signature: Bytes,
}

/// What the store holds of an object, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentInfo {
    /// keccak256 of the bytes.
    pub content_hash: B256,
    /// Size in bytes.
    pub size: U64,
    /// Who uploaded it first.
    pub uploader: Address,
    /// When it was stored (Unix seconds).
    pub stored_at: U64,
}

impl From<ContentMeta> for ContentInfo {
    fn from(meta: ContentMeta) -> Self {
        Self {
            content_hash: meta.hash,
            size: U64::from(meta.size),
            uploader: meta.uploader,
            stored_at: U64::from(meta.stored_at),
        }
    }
}

/// `ol_getContent`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentAnswer {
    /// keccak256 of the bytes.
    pub content_hash: B256,
    /// Size in bytes.
    pub size: U64,
    /// The bytes, for an authorised reader only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Bytes>,
    /// Why the reader may read them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
}

/// The EIP-712 domain content requests are signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentDomain {
    /// `OpenLedger Content`.
    pub name: String,
    /// `1`.
    pub version: String,
    /// The chain id.
    pub chain_id: U64,
    /// The `DatanetRegistry`.
    pub verifying_contract: Address,
}

/// The `ol` namespace.
#[rpc(server, namespace = "ol")]
pub trait OlApi {
    /// Stores a contribution's bytes, signed by its contributor; returns what was stored.
    #[method(name = "putContent")]
    async fn put_content(&self, request: PutContentRequest) -> RpcResult<ContentInfo>;
    /// The object `content_hash`: its hash and size, and its bytes when `authorization` is a
    /// valid signature of a reader allowed to see them; `null` when it is not stored.
    #[method(name = "getContent")]
    async fn get_content(
        &self,
        content_hash: B256,
        authorization: Option<ReadAuthorization>,
    ) -> RpcResult<Option<ContentAnswer>>;
    /// The EIP-712 domain to sign content requests in.
    #[method(name = "contentDomain")]
    fn content_domain(&self) -> RpcResult<ContentDomain>;
}

fn content_error(err: ContentError) -> ErrorObjectOwned {
    let code = match &err {
        ContentError::BadSignature(_) | ContentError::WrongSigner { .. } => codes::BAD_SIGNATURE,
        ContentError::HashMismatch { .. } => codes::HASH_MISMATCH,
        ContentError::TooLarge { .. } => codes::TOO_LARGE,
        ContentError::StoreFull { .. } | ContentError::QuotaExceeded { .. } => {
            error::LIMIT_EXCEEDED
        }
        ContentError::Unauthorized { .. } => codes::UNAUTHORIZED,
        ContentError::Expired { .. }
        | ContentError::ExpiryTooFar { .. }
        | ContentError::Replayed { .. } => codes::STALE_SIGNATURE,
        _ => error::INTERNAL_ERROR,
    };
    ErrorObjectOwned::owned(code, err.to_string(), None::<()>)
}

impl EthRpc {
    fn content(&self) -> RpcResult<std::sync::Arc<ContentRpc>> {
        self.content.clone().ok_or_else(|| {
            ErrorObjectOwned::owned(
                codes::NO_CONTENT_STORE,
                "this node serves no content store",
                None::<()>,
            )
        })
    }
}

/// The read policy's chain-state half, on the head.
struct HeadAuthority<'a> {
    rpc: &'a EthRpc,
    verifiers: &'a [Address],
}

impl HeadAuthority<'_> {
    fn view<C: SolCall>(&self, to: Address, call: &C) -> Result<C::Return, String> {
        self.rpc
            .chain
            .view(Address::ZERO, to, call)
            .map_err(|err| err.to_string())
    }
}

impl ReadAuthority for HeadAuthority<'_> {
    fn role(
        &self,
        reader: Address,
        hash: B256,
        datanet: U256,
    ) -> Result<Option<ReaderRole>, String> {
        if self.verifiers.contains(&reader) {
            return Ok(Some(ReaderRole::Verifier));
        }
        let attestor = IProofOfAttribution::isAttestorCall { account: reader };
        if self.view(PROOF_OF_ATTRIBUTION, &attestor)? {
            return Ok(Some(ReaderRole::Attestor));
        }
        if datanet.is_zero() {
            return Ok(None);
        }
        let contribution = DatanetRegistry::contributionByContentCall {
            datanetId: datanet,
            contentHash: hash,
        };
        if self.view(DATANET_REGISTRY, &contribution)?.is_zero() {
            return Ok(None);
        }
        let owner = DatanetRegistry::getDatanetCall { datanetId: datanet };
        if self.view(DATANET_REGISTRY, &owner)?.owner == reader {
            return Ok(Some(ReaderRole::DatanetOwner));
        }
        let curator = DatanetRegistry::isCuratorCall {
            datanetId: datanet,
            account: reader,
        };
        Ok(self
            .view(DATANET_REGISTRY, &curator)?
            .then_some(ReaderRole::Curator))
    }
}

#[jsonrpsee::core::async_trait]
impl OlApiServer for EthRpc {
    async fn put_content(&self, request: PutContentRequest) -> RpcResult<ContentInfo> {
        let content = self.content()?;
        let put = SignedPut {
            contributor: request.contributor,
            content_hash: request.content_hash,
            content: request.content.into(),
            signature: request.signature.into(),
        };
        // Hashing, sealing and the synced write are blocking work.
        self.run_blocking(move |_| {
            content
                .access
                .put(&put)
                .map(ContentInfo::from)
                .map_err(content_error)
        })
        .await
    }

    async fn get_content(
        &self,
        content_hash: B256,
        authorization: Option<ReadAuthorization>,
    ) -> RpcResult<Option<ContentAnswer>> {
        let content = self.content()?;
        let read = authorization.map(|auth| SignedRead {
            message: GetContent {
                reader: auth.reader,
                contentHash: content_hash,
                datanetId: auth.datanet_id,
                nonce: auth.nonce.to(),
                expiry: auth.expiry.to(),
            },
            signature: auth.signature.into(),
        });
        self.run_blocking(move |this| {
            let authority = HeadAuthority {
                rpc: &this,
                verifiers: &content.verifiers,
            };
            let outcome = content
                .access
                .read(content_hash, read.as_ref(), &authority, unix_now())
                .map_err(content_error)?;
            Ok(outcome.map(|outcome| match outcome {
                ReadOutcome::MetaOnly(meta) => ContentAnswer {
                    content_hash: meta.hash,
                    size: U64::from(meta.size),
                    content: None,
                    role: None,
                },
                ReadOutcome::Plaintext {
                    meta,
                    content,
                    role,
                } => ContentAnswer {
                    content_hash: meta.hash,
                    size: U64::from(meta.size),
                    content: Some(content.into()),
                    role: Some(role.as_str()),
                },
            }))
        })
        .await
    }

    fn content_domain(&self) -> RpcResult<ContentDomain> {
        let content = self.content()?;
        let domain = content.access.domain();
        Ok(ContentDomain {
            name: domain.name.as_deref().unwrap_or_default().to_owned(),
            version: domain.version.as_deref().unwrap_or_default().to_owned(),
            chain_id: U64::from(domain.chain_id.map_or(0, |id| id.to::<u64>())),
            verifying_contract: domain.verifying_contract.unwrap_or_default(),
        })
    }
}
