//! `POST /v1/completions`.

use crate::{
    ApiState,
    error::ApiError,
    protocol::{self, CompletionRequest, Prompt},
    stream::{self, Choice, ChunkFormat},
};
use axum::{
    Json,
    body::Bytes,
    extract::State,
    response::{IntoResponse, Response},
};
use ol_inference::{TokenLogprobs, serve::Finish};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use tokenizers::Tokenizer;

/// OpenAI's default `max_tokens` for completions.
const DEFAULT_MAX_TOKENS: u64 = 16;

pub(crate) async fn handle(State(state): State<Arc<ApiState>>, body: Bytes) -> Response {
    match run(state, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn run(state: Arc<ApiState>, body: &[u8]) -> Result<Response, ApiError> {
    let req: CompletionRequest = protocol::parse(body)?;
    let adapter = state.resolve_model(&req.model)?;
    if req.best_of.is_some_and(|b| b != 1) {
        return Err(ApiError::bad_param(
            "best_of",
            "only best_of = 1 is supported",
        ));
    }
    if req.suffix.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::bad_param("suffix", "suffix is not supported"));
    }
    let resolved = req
        .sampling
        .resolve(&state.generation, state.random_seed())?;
    let top = req
        .logprobs
        .map(|n| protocol::check_logprobs("logprobs", n))
        .transpose()?;
    if req.echo && (top.is_some() || resolved.stream) {
        return Err(ApiError::bad_param(
            "echo",
            "echo is supported without logprobs and without streaming",
        ));
    }
    let max_tokens =
        usize::try_from(req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)).unwrap_or(usize::MAX);
    if max_tokens == 0 {
        return Err(ApiError::bad_param(
            "max_tokens",
            "max_tokens must be at least 1",
        ));
    }
    let prompts: Vec<Vec<u32>> = match req.prompt {
        Prompt::Text(t) => vec![state.encode(t, true).await?],
        Prompt::Texts(ts) => {
            let mut out = Vec::with_capacity(ts.len());
            for t in ts {
                out.push(state.encode(t, true).await?);
            }
            out
        }
        Prompt::Tokens(ids) => vec![ids],
        Prompt::TokenLists(lists) => lists,
    };
    if prompts.is_empty() || prompts.iter().any(Vec::is_empty) {
        return Err(ApiError::bad_param(
            "prompt",
            "the prompt must not be empty",
        ));
    }
    for p in &prompts {
        state.check_context(p.len(), max_tokens)?;
    }
    let echoes: Vec<String> = if req.echo {
        prompts
            .iter()
            .map(|p| {
                state
                    .tokenizer
                    .decode(p, resolved.skip_special_tokens)
                    .unwrap_or_default()
            })
            .collect()
    } else {
        Vec::new()
    };
    let n = prompts.len();
    let jobs = prompts
        .into_iter()
        .map(|p| {
            let mut params = resolved.params.clone();
            params.max_tokens = max_tokens;
            params.logprobs = top;
            (p, params)
        })
        .collect();
    let rx = stream::submit_all(&state, adapter, jobs, &resolved)?;
    let id = state.next_id("cmpl");
    let created = crate::unix_now();
    if resolved.stream {
        let format = Chunks {
            id,
            created,
            model: req.model,
            tokenizer: state.tokenizer.clone(),
            want_logprobs: top.is_some(),
            offsets: vec![0; n],
        };
        return Ok(stream::sse(rx, n, format, resolved.include_usage));
    }
    let choices = stream::collect(rx, n).await?;
    let (mut prompt_tokens, mut completion_tokens) = (0, 0);
    let body: Vec<Value> = choices
        .iter()
        .enumerate()
        .map(|(i, c)| {
            prompt_tokens += c.prompt_tokens;
            completion_tokens += c.completion_tokens;
            choice_json(&state.tokenizer, i, c, echoes.get(i), top.is_some())
        })
        .collect();
    Ok(Json(json!({
        "id": id,
        "object": "text_completion",
        "created": created,
        "model": req.model,
        "choices": body,
        "usage": stream::usage(prompt_tokens, completion_tokens),
    }))
    .into_response())
}

fn choice_json(
    tok: &Tokenizer,
    index: usize,
    c: &Choice,
    echo: Option<&String>,
    want_logprobs: bool,
) -> Value {
    let (finish_reason, stop_reason) = stream::finish_fields(c.finish.as_ref());
    let text = match echo {
        Some(e) => format!("{e}{}", c.text),
        None => c.text.clone(),
    };
    let logprobs = if want_logprobs {
        let mut offset = 0;
        logprobs_json(tok, &c.tokens, &c.logprobs, &mut offset)
    } else {
        Value::Null
    };
    json!({
        "index": index,
        "text": text,
        "logprobs": logprobs,
        "finish_reason": finish_reason,
        "stop_reason": stop_reason,
    })
}

/// The legacy completions `logprobs` object: parallel lists of token texts, their
/// log-probabilities, the top alternatives as `{token text: logprob}`, and text offsets.
fn logprobs_json(
    tok: &Tokenizer,
    tokens: &[u32],
    lps: &[TokenLogprobs],
    offset: &mut usize,
) -> Value {
    let piece = |id: u32| tok.decode(&[id], false).unwrap_or_default();
    let mut texts = Vec::with_capacity(tokens.len());
    let mut values = Vec::with_capacity(tokens.len());
    let mut tops = Vec::with_capacity(tokens.len());
    let mut offsets = Vec::with_capacity(tokens.len());
    for (&t, lp) in tokens.iter().zip(lps) {
        let text = piece(t);
        offsets.push(*offset);
        *offset += text.len();
        texts.push(text);
        values.push(finite(lp.logprob));
        let top: Map<String, Value> = lp
            .top
            .iter()
            .map(|&(id, v)| (piece(id), finite(v)))
            .collect();
        tops.push(Value::Object(top));
    }
    json!({
        "tokens": texts,
        "token_logprobs": values,
        "top_logprobs": tops,
        "text_offset": offsets,
    })
}

/// JSON has no `-inf`: a token of probability zero reports OpenAI's floor instead.
pub(crate) fn finite(v: f32) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        json!(-9999.0)
    }
}

struct Chunks {
    id: String,
    created: u64,
    model: String,
    tokenizer: Arc<Tokenizer>,
    want_logprobs: bool,
    offsets: Vec<usize>,
}

impl Chunks {
    fn chunk(&self, choices: Value, usage: Value) -> Value {
        json!({
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": usage,
        })
    }
}

impl ChunkFormat for Chunks {
    fn start(&mut self, _index: usize) -> Option<Value> {
        None
    }

    fn delta(
        &mut self,
        index: usize,
        text: &str,
        tokens: &[u32],
        logprobs: &[TokenLogprobs],
    ) -> Value {
        let lp = if self.want_logprobs {
            let mut offset = self.offsets.get(index).copied().unwrap_or(0);
            let v = logprobs_json(&self.tokenizer, tokens, logprobs, &mut offset);
            if let Some(o) = self.offsets.get_mut(index) {
                *o = offset;
            }
            v
        } else {
            Value::Null
        };
        self.chunk(
            json!([{
                "index": index,
                "text": text,
                "logprobs": lp,
                "finish_reason": null,
                "stop_reason": null,
            }]),
            Value::Null,
        )
    }

    fn finish(&mut self, index: usize, finish: &Finish) -> Value {
        let (finish_reason, stop_reason) = stream::finish_fields(Some(finish));
        self.chunk(
            json!([{
                "index": index,
                "text": "",
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
