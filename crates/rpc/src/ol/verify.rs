//! `ol_verification`: what a node running the attribution verifier (`--verify-attributions`)
//! concluded about a request's record.

use super::codes;
use crate::EthRpc;
use alloy_primitives::{Address, B256, U64};
use jsonrpsee::{core::RpcResult, proc_macros::rpc, types::ErrorObjectOwned};
use ol_jobs::{Mismatch, Verdict};
use serde::Serialize;

/// `ol_verification`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationAnswer {
    /// The request.
    pub request_id: B256,
    /// `unchecked` (the record, its request or its inputs are not all there yet), `agrees`,
    /// `mismatch` or `unverifiable`.
    pub status: &'static str,
    /// The block of the request, once seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_block: Option<U64>,
    /// The attestor that wrote the record, once seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestor: Option<Address>,
    /// The block of the record, once seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_block: Option<U64>,
    /// Every field the record has that the re-run does not reproduce.
    pub mismatches: Vec<Mismatch>,
    /// Why the record cannot be checked (`unverifiable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The verifier's reads.
#[rpc(server, namespace = "ol")]
pub trait OlVerifyApi {
    /// The verdict on the record of `request_id`; `null` for a request id the chain never
    /// carried a request or a record of.
    #[method(name = "verification")]
    async fn verification(&self, request_id: B256) -> RpcResult<Option<VerificationAnswer>>;
}

#[jsonrpsee::core::async_trait]
impl OlVerifyApiServer for EthRpc {
    async fn verification(&self, request_id: B256) -> RpcResult<Option<VerificationAnswer>> {
        let verifier = self.verifier.as_ref().ok_or_else(|| {
            ErrorObjectOwned::owned(
                codes::NO_VERIFIER,
                "this node does not verify attributions (--verify-attributions)",
                None::<()>,
            )
        })?;
        let entry = verifier.entry(request_id).map_err(crate::error::internal)?;
        Ok(entry.map(|entry| VerificationAnswer {
            request_id,
            status: entry.verdict.name(),
            request_block: entry.request.as_ref().map(|r| U64::from(r.block)),
            attestor: entry.recorded.as_ref().map(|r| r.attestor),
            record_block: entry.recorded.as_ref().map(|r| U64::from(r.block)),
            mismatches: match &entry.verdict {
                Verdict::Mismatch { mismatches, .. } => mismatches.clone(),
                _ => Vec::new(),
            },
            reason: match entry.verdict {
                Verdict::Unverifiable { reason } => Some(reason),
                _ => None,
            },
        }))
    }
}
