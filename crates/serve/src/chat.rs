//! `POST /v1/chat/completions`.

use crate::{
    ApiState, TemplateMessage,
    completions::finite,
    error::ApiError,
    protocol::{self, ChatRequest},
    stream::{self, ChunkFormat},
};
use axum::{
    Json,
    body::Bytes,
    extract::State,
    response::{IntoResponse, Response},
};
use ol_inference::{TokenLogprobs, serve::Finish};
use serde_json::{Value, json};
use std::sync::Arc;
use tokenizers::Tokenizer;

pub(crate) async fn handle(State(state): State<Arc<ApiState>>, body: Bytes) -> Response {
    match run(state, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn run(state: Arc<ApiState>, body: &[u8]) -> Result<Response, ApiError> {
    let req: ChatRequest = protocol::parse(body)?;
    let adapter = state.resolve_model(&req.model)?;
    if req.tools.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(ApiError::bad_param("tools", "tool calls are not supported"));
    }
    if let Some(f) = &req.response_format
        && f.get("type").and_then(Value::as_str) != Some("text")
    {
        return Err(ApiError::bad_param(
            "response_format",
            "only the `text` response format is supported",
        ));
    }
    if req.messages.is_empty() {
        return Err(ApiError::bad_param(
            "messages",
            "messages must not be empty",
        ));
    }
    let template = state.chat_template.as_ref().ok_or_else(|| {
        ApiError::bad_request(
            "this model has no chat template (tokenizer_config.json has no `chat_template`); use /v1/completions",
        )
    })?;
    let top = match (req.logprobs, req.top_logprobs) {
        (false, Some(n)) if n > 0 => {
            return Err(ApiError::bad_param(
                "top_logprobs",
                "top_logprobs needs logprobs = true",
            ));
        }
        (false, _) => None,
        (true, n) => Some(protocol::check_logprobs("top_logprobs", n.unwrap_or(0))?),
    };
    let resolved = req
        .sampling
        .resolve(&state.generation, state.random_seed())?;
    let messages = req
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            Ok(TemplateMessage {
                role: m.role.clone(),
                content: m.text(i)?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let text = template.render(&messages, req.add_generation_prompt.unwrap_or(true))?;
    // The template writes the special tokens itself.
    let prompt = state.encode(text, false).await?;
    if prompt.is_empty() {
        return Err(ApiError::bad_param(
            "messages",
            "the conversation renders to no tokens",
        ));
    }
    // vLLM's default: whatever the context leaves.
    let max_tokens = match req.max_completion_tokens.or(req.max_tokens) {
        Some(0) => {
            return Err(ApiError::bad_param(
                "max_completion_tokens",
                "max_completion_tokens must be at least 1",
            ));
        }
        Some(m) => usize::try_from(m).unwrap_or(usize::MAX),
        None => state.max_model_len.saturating_sub(prompt.len()).max(1),
    };
    state.check_context(prompt.len(), max_tokens)?;
    let mut params = resolved.params.clone();
    params.max_tokens = max_tokens;
    params.logprobs = top;
    let rx = stream::submit_all(&state, adapter, vec![(prompt, params)], &resolved)?;
    let id = state.next_id("chatcmpl");
    let created = crate::unix_now();
    if resolved.stream {
        let format = Chunks {
            id,
            created,
            model: req.model,
            tokenizer: state.tokenizer.clone(),
            want_logprobs: top.is_some(),
        };
        return Ok(stream::sse(rx, 1, format, resolved.include_usage));
    }
    let choice = stream::collect(rx, 1).await?.pop().unwrap_or_default();
    let (finish_reason, stop_reason) = stream::finish_fields(choice.finish.as_ref());
    let logprobs = if top.is_some() {
        json!({ "content": logprob_entries(&state.tokenizer, &choice.tokens, &choice.logprobs) })
    } else {
        Value::Null
    };
    Ok(Json(json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": req.model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": choice.text },
            "logprobs": logprobs,
            "finish_reason": finish_reason,
            "stop_reason": stop_reason,
        }],
        "usage": stream::usage(choice.prompt_tokens, choice.completion_tokens),
    }))
    .into_response())
}

/// Chat's `logprobs.content`: one entry per token with its text, bytes and alternatives.
fn logprob_entries(tok: &Tokenizer, tokens: &[u32], lps: &[TokenLogprobs]) -> Vec<Value> {
    let entry = |id: u32, lp: f32| {
        let text = tok.decode(&[id], false).unwrap_or_default();
        json!({ "token": text, "logprob": finite(lp), "bytes": text.as_bytes() })
    };
    tokens
        .iter()
        .zip(lps)
        .map(|(&t, lp)| {
            let mut e = entry(t, lp.logprob);
            e["top_logprobs"] = lp.top.iter().map(|&(id, v)| entry(id, v)).collect();
            e
        })
        .collect()
}

struct Chunks {
    id: String,
    created: u64,
    model: String,
    tokenizer: Arc<Tokenizer>,
    want_logprobs: bool,
}

impl Chunks {
    fn chunk(&self, choices: Value, usage: Value) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": usage,
        })
    }
}

impl ChunkFormat for Chunks {
    fn start(&mut self, index: usize) -> Option<Value> {
        Some(self.chunk(
            json!([{
                "index": index,
                "delta": { "role": "assistant", "content": "" },
                "logprobs": null,
                "finish_reason": null,
            }]),
            Value::Null,
        ))
    }

    fn delta(
        &mut self,
        index: usize,
        text: &str,
        tokens: &[u32],
        logprobs: &[TokenLogprobs],
    ) -> Value {
        let lp = if self.want_logprobs {
            json!({ "content": logprob_entries(&self.tokenizer, tokens, logprobs) })
        } else {
            Value::Null
        };
        self.chunk(
            json!([{
                "index": index,
                "delta": { "content": text },
                "logprobs": lp,
                "finish_reason": null,
            }]),
            Value::Null,
        )
    }

    fn finish(&mut self, index: usize, finish: &Finish) -> Value {
        let (finish_reason, stop_reason) = stream::finish_fields(Some(finish));
        self.chunk(
            json!([{
                "index": index,
                "delta": {},
                "logprobs": null,
                "finish_reason": finish_reason,
                "stop_reason": stop_reason,
            }]),
            Value::Null,
        )
    }

    fn usage(&mut self, usage: Value) -> Value {
        self.chunk(json!([]), usage)
    }
}
