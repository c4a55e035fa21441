//! From scheduler events to responses: collecting a whole answer, or streaming server-sent
//! events that end with `data: [DONE]`.
//!
//! Each prompt of a request is one generation whose events arrive tagged with its choice index.
//! A client that disconnects drops the receiving end, so the scheduler's next send fails and
//! the sequence is cancelled.

use crate::{ApiState, error::ApiError, protocol::Resolved};
use axum::{
    http::StatusCode,
    response::{
        IntoResponse, Response,
        sse::{Event as SseEvent, KeepAlive, Sse},
    },
};
use ol_inference::{
    SamplingParams, TokenLogprobs,
    serve::{Event, Finish, GenerateRequest},
};
use serde_json::{Value, json};
use std::convert::Infallible;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// An event of choice `.0`.
pub(crate) type Tagged = (usize, Event);

/// One finished choice.
#[derive(Debug, Default)]
pub(crate) struct Choice {
    pub(crate) text: String,
    pub(crate) tokens: Vec<u32>,
    pub(crate) logprobs: Vec<TokenLogprobs>,
    pub(crate) finish: Option<Finish>,
    pub(crate) prompt_tokens: usize,
    pub(crate) completion_tokens: usize,
}

/// Submits one generation per prompt with `params` (their `max_tokens` set per prompt).
pub(crate) fn submit_all(
    state: &ApiState,
    adapter: Option<String>,
    prompts: Vec<(Vec<u32>, SamplingParams)>,
    r: &Resolved,
) -> Result<mpsc::UnboundedReceiver<Tagged>, ApiError> {
    let (tx, rx) = mpsc::unbounded_channel();
    for (index, (prompt, params)) in prompts.into_iter().enumerate() {
        let tx = tx.clone();
        state.scheduler.submit(GenerateRequest {
            adapter: adapter.clone(),
            prompt,
            params,
            stop: r.stop.clone(),
            skip_special_tokens: r.skip_special_tokens,
            sink: Box::new(move |e| tx.send((index, e)).is_ok()),
        })?;
    }
    Ok(rx)
}

fn failed(message: String) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
}

fn stopped() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the inference engine stopped before the request finished",
    )
}

/// Waits until all `n` choices finish.
pub(crate) async fn collect(
    mut rx: mpsc::UnboundedReceiver<Tagged>,
    n: usize,
) -> Result<Vec<Choice>, ApiError> {
    let mut choices: Vec<Choice> = (0..n).map(|_| Choice::default()).collect();
    let mut open = n;
    while open > 0 {
        let (i, event) = rx.recv().await.ok_or_else(stopped)?;
        let Some(c) = choices.get_mut(i) else {
            continue;
        };
        match event {
            Event::Delta {
                text,
                tokens,
                logprobs,
            } => {
                c.text.push_str(&text);
                c.tokens.extend(tokens);
                c.logprobs.extend(logprobs);
            }
            Event::Finished {
                reason,
                prompt_tokens,
                completion_tokens,
            } => {
                c.finish = Some(reason);
                c.prompt_tokens = prompt_tokens;
                c.completion_tokens = completion_tokens;
                open -= 1;
            }
            Event::Failed(e) => return Err(failed(e)),
        }
    }
    Ok(choices)
}

/// `finish_reason` and vLLM's `stop_reason` (the stop string or token that ended it).
pub(crate) fn finish_fields(f: Option<&Finish>) -> (Value, Value) {
    match f {
        None => (Value::Null, Value::Null),
        Some(Finish::Length) => (json!("length"), Value::Null),
        Some(Finish::StopToken(t)) => (json!("stop"), json!(t)),
        Some(Finish::StopString(s)) => (json!("stop"), json!(s)),
    }
}

/// The `usage` object.
pub(crate) fn usage(prompt_tokens: usize, completion_tokens: usize) -> Value {
    json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    })
}

/// How one API shapes its stream chunks.
pub(crate) trait ChunkFormat: Send + 'static {
    /// A chunk sent when choice `index` starts (chat's `role` delta), if any.
    fn start(&mut self, index: usize) -> Option<Value>;
    /// A chunk for new text of choice `index`.
    fn delta(
        &mut self,
        index: usize,
        text: &str,
        tokens: &[u32],
        logprobs: &[TokenLogprobs],
    ) -> Value;
    /// The chunk that ends choice `index`.
    fn finish(&mut self, index: usize, finish: &Finish) -> Value;
    /// The last chunk with the usage and no choices.
    fn usage(&mut self, usage: Value) -> Value;
}

/// Streams `n` choices as server-sent events in `format`, then the usage chunk when asked, then
/// `data: [DONE]`. A failure after the stream started is sent as an error event.
pub(crate) fn sse(
    mut rx: mpsc::UnboundedReceiver<Tagged>,
    n: usize,
    mut format: impl ChunkFormat,
    include_usage: bool,
) -> Response {
    let (out, body) = mpsc::channel::<Result<SseEvent, Infallible>>(64);
    tokio::spawn(async move {
        let send = |v: Value| {
            let out = out.clone();
            async move {
                out.send(Ok(SseEvent::default().data(v.to_string())))
                    .await
                    .is_ok()
            }
        };
        for i in 0..n {
            if let Some(v) = format.start(i)
                && !send(v).await
            {
                return;
            }
        }
        let (mut open, mut prompt, mut completion) = (n, 0, 0);
        while open > 0 {
            let Some((i, event)) = rx.recv().await else {
                let _ = send(stopped().body()).await;
                break;
            };
            let chunk = match event {
                Event::Delta {
                    text,
                    tokens,
                    logprobs,
                } => format.delta(i, &text, &tokens, &logprobs),
                Event::Finished {
                    reason,
                    prompt_tokens,
                    completion_tokens,
                } => {
                    open -= 1;
                    prompt += prompt_tokens;
                    completion += completion_tokens;
                    format.finish(i, &reason)
                }
                Event::Failed(e) => {
                    let _ = send(failed(e).body()).await;
                    break;
                }
            };
            if !send(chunk).await {
                // The client left: dropping `rx` cancels the sequences.
                return;
            }
        }
        if open == 0 && include_usage && !send(format.usage(usage(prompt, completion))).await {
            return;
        }
        let _ = out.send(Ok(SseEvent::default().data("[DONE]"))).await;
    });
    Sse::new(ReceiverStream::new(body))
        .keep_alive(KeepAlive::default())
        .into_response()
}
