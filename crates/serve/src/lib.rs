//! The OpenAI-compatible HTTP API of OpenLoRA serving, as vLLM exposes it.
//!
//! - `POST /v1/completions`, `POST /v1/chat/completions`: the adapter named in `model` (the
//!   base model by its own name), streaming as server-sent events ending in `data: [DONE]`.
//! - `GET /v1/models`: the base model and every adapter (`parent` = the base).
//! - `POST /v1/load_lora_adapter`, `POST /v1/unload_lora_adapter`: runtime adapter changes,
//!   refused unless the operator enabled them (vLLM's `VLLM_ALLOW_RUNTIME_LORA_UPDATING`).
//! - `GET /health`, `GET /metrics` (Prometheus).
//!
//! Handlers only parse, tokenize and format: generation runs on
//! [`ol_inference::serve::Scheduler`]'s thread, and a full queue answers 429 at once.

mod chat;
mod chat_template;
mod completions;
mod error;
mod models;
pub mod protocol;
mod stream;

pub use chat_template::{ChatTemplate, TemplateMessage};
pub use error::ApiError;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{get, post},
};
use metrics_exporter_prometheus::PrometheusHandle;
use ol_inference::{BaseModel, GenerationConfig, serve::Scheduler};
use std::{
    future::Future,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};
use tokenizers::Tokenizer;
use tokio::net::TcpListener;

/// Largest request body accepted (a prompt of a few hundred thousand tokens).
const MAX_BODY_BYTES: usize = 8 << 20;

/// How the API presents the model.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The base model's name in `model` and `/v1/models` (vLLM: `--served-model-name`).
    pub served_model_name: String,
    /// Where the base model was loaded from (`root` in `/v1/models`).
    pub model_root: PathBuf,
    /// Whether `/v1/load_lora_adapter` and `/v1/unload_lora_adapter` are allowed.
    pub allow_adapter_updates: bool,
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct ApiState {
    scheduler: Scheduler,
    tokenizer: Arc<Tokenizer>,
    chat_template: Option<ChatTemplate>,
    generation: GenerationConfig,
    config: ApiConfig,
    max_model_len: usize,
    metrics: Option<PrometheusHandle>,
    started: u64,
    ids: AtomicU64,
    seeds: std::collections::hash_map::RandomState,
}

impl ApiState {
    /// The state for `scheduler` running `base`'s model (its tokenizer, chat template and
    /// generation defaults), rendering `metrics` at `/metrics` when given.
    pub fn new(
        scheduler: Scheduler,
        base: &BaseModel,
        config: ApiConfig,
        metrics: Option<PrometheusHandle>,
    ) -> Result<Self, String> {
        let tokenizer = Arc::new(base.tokenizer.clone());
        let token_text = |id: Option<u32>| {
            id.and_then(|id| tokenizer.id_to_token(id))
                .unwrap_or_default()
        };
        let c = base.model.config();
        let bos = token_text(base.generation.bos_token_id.or(c.bos_token_id));
        let eos = token_text(
            base.generation
                .eos_token_ids
                .first()
                .or_else(|| c.eos_token_ids.first())
                .copied(),
        );
        let chat_template = base
            .chat_template
            .as_deref()
            .map(|t| ChatTemplate::new(t, bos, eos))
            .transpose()?;
        Ok(Self {
            max_model_len: c.max_position_embeddings,
            scheduler,
            tokenizer,
            chat_template,
            generation: base.generation.clone(),
            config,
            metrics,
            started: unix_now(),
            ids: AtomicU64::new(0),
            seeds: Default::default(),
        })
    }

    /// The scheduler behind the API.
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// A fresh response id with `prefix` (`cmpl`, `chatcmpl`).
    fn next_id(&self, prefix: &str) -> String {
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}-{:08x}{n:08x}", self.started as u32)
    }

    /// A seed for a request that brought none (OpenAI: sampling is then not reproducible).
    fn random_seed(&self) -> u64 {
        use std::hash::BuildHasher;
        self.seeds
            .hash_one((self.ids.fetch_add(1, Ordering::Relaxed), unix_now()))
    }

    /// The adapter a `model` field names: `None` for the base, or a registered adapter.
    fn resolve_model(&self, model: &str) -> Result<Option<String>, ApiError> {
        if model == self.config.served_model_name {
            return Ok(None);
        }
        if self.scheduler.cache().contains(model) {
            Ok(Some(model.to_string()))
        } else {
            Err(ApiError::model_not_found(model))
        }
    }

    /// Tokenizes `text` off the async threads (a long prompt takes a while).
    async fn encode(
        self: &Arc<Self>,
        text: String,
        add_special: bool,
    ) -> Result<Vec<u32>, ApiError> {
        let tokenizer = self.tokenizer.clone();
        tokio::task::spawn_blocking(move || {
            tokenizer
                .encode(text, add_special)
                .map(|e| e.get_ids().to_vec())
                .map_err(|e| ApiError::bad_request(format!("cannot tokenize the prompt: {e}")))
        })
        .await
        .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    }

    /// Refuses a prompt that leaves no room in the context, in vLLM's words.
    fn check_context(&self, prompt_tokens: usize, max_tokens: usize) -> Result<(), ApiError> {
        if prompt_tokens + max_tokens > self.max_model_len {
            return Err(ApiError::bad_request(format!(
                "This model's maximum context length is {} tokens. However, you requested {} tokens ({} in the messages, {} in the completion). Please reduce the length of the messages or completion.",
                self.max_model_len,
                prompt_tokens + max_tokens,
                prompt_tokens,
                max_tokens
            )));
        }
        Ok(())
    }
}

/// The API's routes over `state`.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/v1/completions", post(completions::handle))
        .route("/v1/chat/completions", post(chat::handle))
        .route("/v1/models", get(models::list))
        .route("/v1/load_lora_adapter", post(models::load))
        .route("/v1/unload_lora_adapter", post(models::unload))
        .route("/health", get(models::health))
        .route("/metrics", get(models::metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: Arc<ApiState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
