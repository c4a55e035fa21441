//! `ol_jobStatus`, `ol_getInference`, `ol_getAttribution`, `ol_listAdapters`: what the
//! sequencer's job service did with a paid request, read from its journal; and
//! `ol_submitPrompt`, the prompt of a `requestWithHash` request handed over off chain.
//!
//! The output of a request made with `InferenceMarket.request` is public (its prompt is on
//! chain), so anyone may read it; every contributor's evidence comes with the Merkle proof the
//! precompile's `verifyEvidence` accepts.

use super::{codes, unix_now};
use crate::EthRpc;
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use jsonrpsee::{core::RpcResult, proc_macros::rpc, types::ErrorObjectOwned};
use ol_jobs::{
    AdapterListing, Evidence, Job, JobService, SpanDocument, Stage, private::PrivateError,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `ol_jobStatus`'s answer: a paid request's job, or a Model Factory job.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum JobStatusAnswer {
    /// A paid request.
    Inference(JobStatus),
    /// An adapter trained for its owner (`ol_trainAdapter`).
    Training(Box<super::training::TrainingStatus>),
}

/// `ol_jobStatus` of a paid request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    /// `inference`.
    pub kind: &'static str,
    /// The request.
    pub request_id: B256,
    /// `pending`, `answered`, `recorded`, `settling`, `fulfilled`, `refused` or `expired`.
    pub stage: &'static str,
    /// The adapter asked for.
    pub adapter_id: U256,
    /// The block of the request.
    pub block: U64,
    /// Last block it may be fulfilled in.
    pub expiry_block: U64,
    /// Why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The last `record` or `fulfill` transaction sent for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_transaction: Option<B256>,
}

/// `ol_getInference`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceAnswer {
    /// The request.
    pub request_id: B256,
    /// The output text.
    pub output: String,
    /// Its keccak-256 (the record's `outputHash`).
    pub output_hash: B256,
    /// Counted prompt tokens.
    pub tokens_in: U64,
    /// Counted output tokens.
    pub tokens_out: U64,
}

/// The signed part of a private `ol_getInference`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InferenceReadAuthorization {
    /// Unix time after which the signature is void.
    pub expiry: U64,
    /// The requester's 65-byte EIP-712 signature of `GetInference`.
    pub signature: Bytes,
}

/// `ol_submitPrompt`'s parameter.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromptSubmission {
    /// The request.
    pub request_id: B256,
    /// The prompt's bytes.
    pub prompt: Bytes,
    /// The requester's 65-byte EIP-712 signature of `SubmitPrompt`.
    pub signature: Bytes,
}

/// A contributor's weight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContributorWeight {
    /// The contributor.
    pub contributor: Address,
    /// Parts per million.
    pub weight_ppm: U64,
}

/// `ol_getAttribution`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributionAnswer {
    /// The request.
    pub request_id: B256,
    /// The method id (`AttributionMethod`).
    pub method: U64,
    /// The data snapshot attributed over.
    pub snapshot: B256,
    /// The evidence root.
    pub evidence_root: B256,
    /// The contributors and their weights.
    pub contributors: Vec<ContributorWeight>,
    /// Every datapoint's evidence with its proof.
    pub evidence: Vec<Evidence>,
    /// The output's spans found verbatim in the Datanet that earned the weights (lineage
    /// attribution; empty for the gradient methods), OLMoTrace-style.
    pub spans: Vec<AttributionSpan>,
}

/// A span of the output traced to the Datanet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributionSpan {
    /// Its first byte in the output.
    pub start: U64,
    /// The byte after its last.
    pub end: U64,
    /// Its occurrences in the Datanet's documents.
    pub count: U64,
    /// The documents credited for it.
    pub documents: Vec<SpanDocument>,
}

/// The job service's reads.
#[rpc(server, namespace = "ol")]
pub trait OlJobsApi {
    /// How far the job of `id` got (a paid request's id, or a job id `ol_trainAdapter`
    /// answered); `null` for one the node has not seen.
    #[method(name = "jobStatus")]
    async fn job_status(&self, id: B256) -> RpcResult<Option<JobStatusAnswer>>;

    /// The output of `request_id`, once served; `null` before. The output of a request whose
    /// prompt came through `ol_submitPrompt` is the requester's: the read must carry their
    /// signature of `GetInference(requestId, expiry)`.
    #[method(name = "getInference")]
    async fn get_inference(
        &self,
        request_id: B256,
        authorization: Option<InferenceReadAuthorization>,
    ) -> RpcResult<Option<InferenceAnswer>>;

    /// Hands the sequencer the prompt of a `requestWithHash` request, signed by the requester
    /// (`SubmitPrompt(requestId, promptHash)`); answers the prompt's hash.
    #[method(name = "submitPrompt")]
    async fn submit_prompt(&self, submission: PromptSubmission) -> RpcResult<B256>;

    /// The attribution of `request_id` with every contributor's evidence, once served.
    #[method(name = "getAttribution")]
    async fn get_attribution(&self, request_id: B256) -> RpcResult<Option<AttributionAnswer>>;

    /// Registered adapters from id `first` (default 1), at most `limit` (default and most
    /// 100), with whether this node serves each.
    #[method(name = "listAdapters")]
    async fn list_adapters(
        &self,
        first: Option<U64>,
        limit: Option<U64>,
    ) -> RpcResult<Vec<AdapterListing>>;
}

/// Most adapters one `ol_listAdapters` call lists.
const MAX_LISTED: u64 = 100;

impl EthRpc {
    fn job_service(&self) -> RpcResult<&Arc<JobService>> {
        self.jobs.as_ref().ok_or_else(|| {
            ErrorObjectOwned::owned(
                codes::NO_JOB_SERVICE,
                "this node runs no job service (--jobs.base-model)",
                None::<()>,
            )
        })
    }

    fn job(&self, request_id: B256) -> RpcResult<Option<Job>> {
        self.job_service()?
            .journal()
            .get(request_id)
            .map_err(crate::error::internal)
    }
}

fn private_error(err: PrivateError) -> ErrorObjectOwned {
    let code = match &err {
        PrivateError::UnknownRequest(_) => codes::UNKNOWN_REQUEST,
        PrivateError::BadSignature(_) => codes::BAD_SIGNATURE,
        PrivateError::HashMismatch { .. } => codes::HASH_MISMATCH,
        PrivateError::BadSize(_) => codes::TOO_LARGE,
        PrivateError::Expired(_) => codes::STALE_SIGNATURE,
        PrivateError::Public => crate::error::INVALID_PARAMS,
    };
    ErrorObjectOwned::owned(code, err.to_string(), None::<()>)
}

/// The status of the paid request `request_id`'s `job`.
fn inference_status(request_id: B256, job: Job) -> JobStatus {
    JobStatus {
        kind: "inference",
        request_id,
        stage: job.stage.name(),
        adapter_id: job.request.adapter_id,
        block: U64::from(job.request.block),
        expiry_block: U64::from(job.request.expiry_block),
        reason: match &job.stage {
            Stage::Refused { reason } => Some(reason.clone()),
            _ => None,
        },
        last_transaction: job.stage.last_transaction(),
    }
}

#[jsonrpsee::core::async_trait]
impl OlJobsApiServer for EthRpc {
    async fn job_status(&self, id: B256) -> RpcResult<Option<JobStatusAnswer>> {
        // The trainer runs beside the job service (both from `--jobs.base-model`).
        if let Some(job) = self.job(id)? {
            return Ok(Some(JobStatusAnswer::Inference(inference_status(id, job))));
        }
        let Some(training) = &self.training else {
            return Ok(None);
        };
        let status = training.status(id).map_err(crate::error::internal)?;
        Ok(status.map(|(job, progress)| {
            JobStatusAnswer::Training(Box::new(super::training::TrainingStatus::new(
                job, progress,
            )))
        }))
    }

    async fn get_inference(
        &self,
        request_id: B256,
        authorization: Option<InferenceReadAuthorization>,
    ) -> RpcResult<Option<InferenceAnswer>> {
        let Some(job) = self.job(request_id)? else {
            return Ok(None);
        };
        if job.private {
            let Some(auth) = authorization else {
                return Err(ErrorObjectOwned::owned(
                    codes::UNAUTHORIZED,
                    "the output of a request with an off-chain prompt is its requester's: sign GetInference",
                    None::<()>,
                ));
            };
            let domain = self.job_service()?.inference_domain();
            ol_jobs::private::check_read(
                &domain,
                request_id,
                job.request.requester,
                auth.expiry.to(),
                unix_now(),
                &auth.signature,
            )
            .map_err(private_error)?;
        }
        Ok(job.stage.answer().map(|answer| InferenceAnswer {
            request_id,
            output: answer.output.clone(),
            output_hash: answer.output_hash,
            tokens_in: U64::from(answer.tokens_in),
            tokens_out: U64::from(answer.tokens_out),
        }))
    }

    async fn submit_prompt(&self, submission: PromptSubmission) -> RpcResult<B256> {
        let jobs = self.job_service()?.clone();
        self.run_blocking(move |_| {
            jobs.submit_prompt(
                submission.request_id,
                &submission.prompt,
                &submission.signature,
            )
            .map_err(crate::error::internal)?
            .map_err(private_error)?;
            Ok(alloy_primitives::keccak256(&submission.prompt))
        })
        .await
    }

    async fn list_adapters(
        &self,
        first: Option<U64>,
        limit: Option<U64>,
    ) -> RpcResult<Vec<AdapterListing>> {
        let limit = limit.map_or(MAX_LISTED, |l| l.to::<u64>());
        if limit == 0 || limit > MAX_LISTED {
            return Err(crate::error::invalid_params(format!(
                "limit must be 1 to {MAX_LISTED}"
            )));
        }
        let jobs = self.job_service()?.clone();
        let first = first.map_or(1, |f| f.to::<u64>());
        self.run_blocking(move |_| jobs.adapters(first, limit).map_err(crate::error::internal))
            .await
    }

    async fn get_attribution(&self, request_id: B256) -> RpcResult<Option<AttributionAnswer>> {
        Ok(self.job(request_id)?.and_then(|job| {
            job.stage.answer().map(|answer| AttributionAnswer {
                request_id,
                method: U64::from(answer.method),
                snapshot: answer.snapshot,
                evidence_root: answer.evidence_root,
                contributors: answer
                    .contributors
                    .iter()
                    .zip(&answer.weights_ppm)
                    .map(|(&contributor, &ppm)| ContributorWeight {
                        contributor,
                        weight_ppm: U64::from(ppm),
                    })
                    .collect(),
                evidence: answer.evidence_proofs(),
                spans: answer
                    .spans
                    .iter()
                    .map(|span| AttributionSpan {
                        start: U64::from(span.start),
                        end: U64::from(span.end),
                        count: U64::from(span.count),
                        documents: span.documents.clone(),
                    })
                    .collect(),
            })
        }))
    }
}
