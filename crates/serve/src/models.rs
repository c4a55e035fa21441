//! `/v1/models`, runtime adapter loading, `/health` and `/metrics`.

use crate::{ApiState, error::ApiError, protocol};
use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use ol_inference::serve::AdapterSource;
use serde::Deserialize;
use serde_json::json;
use std::{path::PathBuf, sync::Arc};

pub(crate) async fn list(State(state): State<Arc<ApiState>>) -> Response {
    let base = &state.config.served_model_name;
    let card = |id: &str, root: String, parent: Option<&str>| {
        json!({
            "id": id,
            "object": "model",
            "created": state.started,
            "owned_by": "openledger",
            "root": root,
            "parent": parent,
            "max_model_len": state.max_model_len,
        })
    };
    let mut data = vec![card(
        base,
        state.config.model_root.display().to_string(),
        None,
    )];
    data.extend(
        state
            .scheduler
            .cache()
            .list()
            .into_iter()
            .map(|a| card(&a.name, a.source, Some(base))),
    );
    Json(json!({ "object": "list", "data": data })).into_response()
}

#[derive(Debug, Deserialize)]
struct LoadRequest {
    lora_name: String,
    lora_path: PathBuf,
}

#[derive(Debug, Deserialize)]
struct UnloadRequest {
    lora_name: String,
}

fn check_allowed(state: &ApiState) -> Result<(), ApiError> {
    if state.config.allow_adapter_updates {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "runtime adapter loading is disabled; the operator enables it with --inference.allow-adapter-updates",
        ))
    }
}

/// Registers and loads an adapter at once, so a bad folder is refused now and leaves nothing
/// registered.
pub(crate) async fn load(State(state): State<Arc<ApiState>>, body: Bytes) -> Response {
    let run = async {
        check_allowed(&state)?;
        let req: LoadRequest = protocol::parse(&body)?;
        if req.lora_name == state.config.served_model_name {
            return Err(ApiError::bad_param(
                "lora_name",
                "the base model's name is taken",
            ));
        }
        let cache = state.scheduler.cache().clone();
        let name = req.lora_name.clone();
        cache
            .register(&name, AdapterSource::Dir(req.lora_path))
            .map_err(|e| ApiError::bad_param("lora_name", e.to_string()))?;
        let loaded = tokio::task::spawn_blocking(move || {
            let r = cache.load(&name);
            if r.is_err() {
                cache.unregister(&name);
            }
            r
        })
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        loaded.map_err(|e| ApiError::bad_param("lora_path", e.to_string()))?;
        tracing::info!(target: "inference", adapter = %req.lora_name, "adapter loaded");
        Ok::<_, ApiError>(format!(
            "Success: LoRA adapter '{}' added successfully.",
            req.lora_name
        ))
    };
    match run.await {
        Ok(msg) => msg.into_response(),
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn unload(State(state): State<Arc<ApiState>>, body: Bytes) -> Response {
    let run = || -> Result<String, ApiError> {
        check_allowed(&state)?;
        let req: UnloadRequest = protocol::parse(&body)?;
        if !state.scheduler.cache().unregister(&req.lora_name) {
            return Err(ApiError::model_not_found(&req.lora_name));
        }
        tracing::info!(target: "inference", adapter = %req.lora_name, "adapter unloaded");
        Ok(format!(
            "Success: LoRA adapter '{}' removed successfully.",
            req.lora_name
        ))
    };
    match run() {
        Ok(msg) => msg.into_response(),
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn health() -> StatusCode {
    StatusCode::OK
}

pub(crate) async fn metrics(State(state): State<Arc<ApiState>>) -> Response {
    // Up to date even between scheduler passes.
    state.scheduler.cache().stats().publish();
    match &state.metrics {
        Some(h) => h.render().into_response(),
        None => ApiError::new(StatusCode::NOT_FOUND, "metrics are not enabled").into_response(),
    }
}
