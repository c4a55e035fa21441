//! `ol_trainAdapter`: the owner of a registered base model has the node's Model Factory train
//! an adapter on a Datanet's approved contributions; `ol_jobStatus` of the answered job id
//! follows it ([`TrainingStatus`]) to the adapter hash and contribution counts that
//! `ModelRegistry.registerAdapter` takes.

use super::{codes, unix_now};
use crate::EthRpc;
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use jsonrpsee::{core::RpcResult, proc_macros::rpc, types::ErrorObjectOwned};
use ol_jobs::{
    TrainingService,
    training::{
        Progress, SignedTraining, TrainAdapter, TrainError, TrainedAdapter, TrainingJob,
        TrainingStage,
    },
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `ol_trainAdapter`'s parameter: the signed `TrainAdapter` message and its signature.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrainAdapterRequest {
    /// The registered base model (owned by the signer, served by this node).
    pub base_model_id: U256,
    /// The Datanet whose approved contributions are trained on.
    pub datanet_id: U256,
    /// The hyper-parameters, as the JSON text signed (camelCase names; absent ones take the
    /// defaults of `openledger factory train`).
    #[serde(default)]
    pub hyperparameters: String,
    /// Unix time after which the signature is void (at most an hour ahead).
    pub expiry: U64,
    /// The base model owner's 65-byte EIP-712 signature of `TrainAdapter`.
    pub signature: Bytes,
}

/// `ol_trainAdapter`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainAdapterAnswer {
    /// The job id `ol_jobStatus` takes.
    pub job_id: B256,
}

/// `ol_jobStatus` of a training job.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainingStatus {
    /// `training`.
    pub kind: &'static str,
    /// The job.
    pub job_id: B256,
    /// `queued`, `running`, `trained` or `failed`.
    pub stage: &'static str,
    /// The signer, who owns the adapter.
    pub owner: Address,
    /// The base model.
    pub base_model_id: U256,
    /// The Datanet.
    pub datanet_id: U256,
    /// While running: the phase, the optimiser step and the loss.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// Once trained: what to register.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<TrainedAdapter>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl TrainingStatus {
    /// The status of `job` with its live `progress`.
    pub fn new(job: TrainingJob, progress: Option<Progress>) -> Self {
        let (stage, result, reason) = match job.stage {
            TrainingStage::Queued => ("queued", None, None),
            TrainingStage::Running { .. } => ("running", None, None),
            TrainingStage::Trained(trained) => ("trained", Some(trained), None),
            TrainingStage::Failed { reason } => ("failed", None, Some(reason)),
        };
        Self {
            kind: "training",
            job_id: job.id,
            stage,
            owner: job.owner,
            base_model_id: job.base_model_id,
            datanet_id: job.datanet_id,
            progress: progress.filter(|_| stage == "running"),
            result,
            reason,
        }
    }
}

/// The Model Factory's methods.
#[rpc(server, namespace = "ol")]
pub trait OlTrainingApi {
    /// Queues the training of an adapter of `baseModelId` on `datanetId`'s approved
    /// contributions, signed by the base model's owner; answers the job id. The same signed
    /// request answers the same id and trains once.
    #[method(name = "trainAdapter")]
    async fn train_adapter(&self, request: TrainAdapterRequest) -> RpcResult<TrainAdapterAnswer>;
}

fn train_error(err: TrainError) -> ErrorObjectOwned {
    let code = match &err {
        TrainError::BadSignature(_) => codes::BAD_SIGNATURE,
        TrainError::Stale(_) => codes::STALE_SIGNATURE,
        TrainError::Params(_) | TrainError::Unservable(_) => crate::error::INVALID_PARAMS,
        TrainError::QueueFull(_) => crate::error::LIMIT_EXCEEDED,
    };
    ErrorObjectOwned::owned(code, err.to_string(), None::<()>)
}

impl EthRpc {
    pub(super) fn training(&self) -> RpcResult<&Arc<TrainingService>> {
        self.training.as_ref().ok_or_else(|| {
            ErrorObjectOwned::owned(
                codes::NO_JOB_SERVICE,
                "this node runs no Model Factory (--jobs.base-model)",
                None::<()>,
            )
        })
    }
}

#[jsonrpsee::core::async_trait]
impl OlTrainingApiServer for EthRpc {
    async fn train_adapter(&self, request: TrainAdapterRequest) -> RpcResult<TrainAdapterAnswer> {
        let training = self.training()?.clone();
        let signed = SignedTraining {
            message: TrainAdapter {
                baseModelId: request.base_model_id,
                datanetId: request.datanet_id,
                hyperparameters: request.hyperparameters,
                expiry: request.expiry.to(),
            },
            signature: request.signature.to_vec(),
        };
        self.run_blocking(move |_| {
            let job_id = training
                .submit(&signed, unix_now())
                .map_err(crate::error::internal)?
                .map_err(train_error)?;
            Ok(TrainAdapterAnswer { job_id })
        })
        .await
    }
}
