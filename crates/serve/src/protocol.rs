//! The request bodies of the OpenAI API as vLLM accepts them, and their checks.
//!
//! Unknown fields are ignored (clients send `user`, `metadata`, ...), as OpenAI and vLLM do;
//! a known field asking for something this server does not do (`n > 1`, penalties, tools) is a
//! 400 naming the field, never silently ignored.

use crate::error::ApiError;
use ol_inference::{GenerationConfig, SamplingParams};
use serde::Deserialize;

/// Most log-probabilities per token a request may ask for (vLLM's default `max_logprobs`).
pub const MAX_LOGPROBS: u32 = 20;

/// `prompt` of a completion request.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Prompt {
    /// One text.
    Text(String),
    /// Several texts (one choice each).
    Texts(Vec<String>),
    /// One prompt as token ids.
    Tokens(Vec<u32>),
    /// Several prompts as token ids.
    TokenLists(Vec<Vec<u32>>),
}

/// `stop`: one string or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// One stop string.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Stop {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

/// `stream_options`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct StreamOptions {
    /// Send a last chunk with the usage and no choices.
    #[serde(default)]
    pub include_usage: bool,
}

/// The sampling fields completions and chat share.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SamplingFields {
    /// Randomness (`0`: greedy).
    pub temperature: Option<f64>,
    /// Nucleus mass.
    pub top_p: Option<f64>,
    /// Keep the `k` most likely tokens (vLLM extension; `0` or `-1`: off).
    pub top_k: Option<i64>,
    /// Seed of the request's generator (int64, as OpenAI types it).
    pub seed: Option<i64>,
    /// Stop strings.
    pub stop: Option<Stop>,
    /// Stop token ids (vLLM extension).
    pub stop_token_ids: Option<Vec<u32>>,
    /// Do not stop at end-of-sequence tokens (vLLM extension).
    #[serde(default)]
    pub ignore_eos: bool,
    /// Leave special tokens out of the text (vLLM extension, default true).
    pub skip_special_tokens: Option<bool>,
    /// Choices per prompt.
    pub n: Option<u32>,
    /// Penalties (not supported unless 0).
    pub presence_penalty: Option<f64>,
    /// Penalties (not supported unless 0).
    pub frequency_penalty: Option<f64>,
    /// Token biases (not supported unless empty).
    pub logit_bias: Option<serde_json::Map<String, serde_json::Value>>,
    /// Stream the output as server-sent events.
    #[serde(default)]
    pub stream: bool,
    /// Streaming options.
    pub stream_options: Option<StreamOptions>,
}

/// `POST /v1/completions`.
#[derive(Debug, Clone, Deserialize)]
pub struct CompletionRequest {
    /// The base model's name or an adapter's.
    pub model: String,
    /// The prompt(s).
    pub prompt: Prompt,
    /// Most tokens to generate (default 16, as OpenAI).
    pub max_tokens: Option<u64>,
    /// Top log-probabilities per token (an integer in completions).
    pub logprobs: Option<u32>,
    /// Put the prompt before the completion.
    #[serde(default)]
    pub echo: bool,
    /// Best-of sampling (only 1).
    pub best_of: Option<u32>,
    /// Insertion suffix (not supported).
    pub suffix: Option<String>,
    /// The shared fields.
    #[serde(flatten)]
    pub sampling: SamplingFields,
}

/// A chat message's content: text, or parts of which only `text` ones are supported.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Content parts.
    Parts(Vec<ContentPart>),
}

/// One content part.
#[derive(Debug, Clone, Deserialize)]
pub struct ContentPart {
    /// `text` (images and audio are refused).
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a `text` part.
    pub text: Option<String>,
}

/// One chat message.
#[derive(Debug, Clone, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, `developer`, `tool`.
    pub role: String,
    /// The content (absent on some assistant messages).
    pub content: Option<Content>,
}

impl ChatMessage {
    /// The text of the content.
    pub fn text(&self, index: usize) -> Result<String, ApiError> {
        match &self.content {
            None => Ok(String::new()),
            Some(Content::Text(t)) => Ok(t.clone()),
            Some(Content::Parts(parts)) => {
                let mut out = String::new();
                for p in parts {
                    match (p.kind.as_str(), &p.text) {
                        ("text", Some(t)) => out.push_str(t),
                        (kind, _) => {
                            return Err(ApiError::bad_param(
                                &format!("messages[{index}].content"),
                                format!(
                                    "content parts of type `{kind}` are not supported; only `text`"
                                ),
                            ));
                        }
                    }
                }
                Ok(out)
            }
        }
    }
}

/// `POST /v1/chat/completions`.
#[derive(Debug, Clone, Deserialize)]
pub struct ChatRequest {
    /// The base model's name or an adapter's.
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Most tokens to generate (deprecated name).
    pub max_tokens: Option<u64>,
    /// Most tokens to generate.
    pub max_completion_tokens: Option<u64>,
    /// Return log-probabilities of the output tokens.
    #[serde(default)]
    pub logprobs: bool,
    /// How many alternatives per token with `logprobs`.
    pub top_logprobs: Option<u32>,
    /// Tools (not supported).
    pub tools: Option<Vec<serde_json::Value>>,
    /// Output format (only `text`).
    pub response_format: Option<serde_json::Value>,
    /// End with the assistant's turn open (vLLM extension, default true).
    pub add_generation_prompt: Option<bool>,
    /// The shared fields.
    #[serde(flatten)]
    pub sampling: SamplingFields,
}

/// Parses a JSON body into `T`, answering serde's message as a 400.
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
}

/// What the shared fields resolve to.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Sampling parameters (without `max_tokens`, `logprobs`, set by the caller).
    pub params: SamplingParams,
    /// Stop strings.
    pub stop: Vec<String>,
    /// Skip special tokens in the text.
    pub skip_special_tokens: bool,
    /// Whether to stream.
    pub stream: bool,
    /// Whether a streamed response ends with a usage chunk.
    pub include_usage: bool,
}

impl SamplingFields {
    /// Checks the fields and resolves defaults: the request's value, else the model's
    /// `generation_config.json`, else OpenAI's (temperature 1, top_p 1); a request without a
    /// seed gets `random_seed`.
    pub fn resolve(
        self,
        defaults: &GenerationConfig,
        random_seed: u64,
    ) -> Result<Resolved, ApiError> {
        if self.n.is_some_and(|n| n != 1) {
            return Err(ApiError::bad_param("n", "only n = 1 is supported"));
        }
        for (name, v) in [
            ("presence_penalty", self.presence_penalty),
            ("frequency_penalty", self.frequency_penalty),
        ] {
            if v.is_some_and(|v| v != 0.0) {
                return Err(ApiError::bad_param(
                    name,
                    format!("{name} is not supported"),
                ));
            }
        }
        if self.logit_bias.as_ref().is_some_and(|m| !m.is_empty()) {
            return Err(ApiError::bad_param(
                "logit_bias",
                "logit_bias is not supported",
            ));
        }
        if self.stream_options.is_some() && !self.stream {
            return Err(ApiError::bad_param(
                "stream_options",
                "stream_options can only be set when stream is true",
            ));
        }
        let temperature = self.temperature.or(defaults.temperature).unwrap_or(1.0);
        if !temperature.is_finite() || !(0.0..=100.0).contains(&temperature) {
            return Err(ApiError::bad_param(
                "temperature",
                format!("temperature must be between 0 and 100, got {temperature}"),
            ));
        }
        let top_p = self.top_p.or(defaults.top_p).unwrap_or(1.0);
        if !(top_p > 0.0 && top_p <= 1.0) {
            return Err(ApiError::bad_param(
                "top_p",
                format!("top_p must be in (0, 1], got {top_p}"),
            ));
        }
        let top_k = match self.top_k {
            None => defaults.top_k.unwrap_or(0),
            Some(-1 | 0) => 0,
            Some(k) if k > 0 => usize::try_from(k).unwrap_or(usize::MAX),
            Some(k) => {
                return Err(ApiError::bad_param(
                    "top_k",
                    format!("top_k must be -1 (off) or at least 1, got {k}"),
                ));
            }
        };
        let stop = self.stop.map(Stop::into_vec).unwrap_or_default();
        if stop.iter().any(String::is_empty) {
            return Err(ApiError::bad_param(
                "stop",
                "stop strings must not be empty",
            ));
        }
        Ok(Resolved {
            params: SamplingParams {
                temperature: temperature as f32,
                top_k,
                top_p: top_p as f32,
                // OpenAI types the seed as int64; its bits are the generator's seed.
                seed: self.seed.map_or(random_seed, |s| s as u64),
                stop_token_ids: self.stop_token_ids.unwrap_or_default(),
                ignore_eos: self.ignore_eos,
                ..SamplingParams::default()
            },
            stop,
            skip_special_tokens: self.skip_special_tokens.unwrap_or(true),
            stream: self.stream,
            include_usage: self.stream_options.is_some_and(|o| o.include_usage),
        })
    }
}

/// Checks a requested number of top log-probabilities.
pub fn check_logprobs(param: &str, n: u32) -> Result<usize, ApiError> {
    if n > MAX_LOGPROBS {
        return Err(ApiError::bad_param(
            param,
            format!("{param} must be at most {MAX_LOGPROBS}, got {n}"),
        ));
    }
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_parse_in_all_four_forms_and_bad_fields_are_named() {
        for (body, want) in [
            (r#"{"model":"m","prompt":"hi"}"#, "Text"),
            (r#"{"model":"m","prompt":["a","b"]}"#, "Texts"),
            (r#"{"model":"m","prompt":[1,2,3]}"#, "Tokens"),
            (r#"{"model":"m","prompt":[[1],[2,3]]}"#, "TokenLists"),
        ] {
            let r: CompletionRequest = parse(body.as_bytes()).unwrap();
            assert!(format!("{:?}", r.prompt).starts_with(want), "{body}");
        }
        assert!(parse::<CompletionRequest>(br#"{"prompt":"x"}"#).is_err());
        let g = GenerationConfig::default();
        let bad = |json: &str| {
            let r: CompletionRequest = parse(json.as_bytes()).unwrap();
            r.sampling.resolve(&g, 0).unwrap_err().param
        };
        assert_eq!(
            bad(r#"{"model":"m","prompt":"x","n":2}"#).as_deref(),
            Some("n")
        );
        assert_eq!(
            bad(r#"{"model":"m","prompt":"x","temperature":-1}"#).as_deref(),
            Some("temperature")
        );
        assert_eq!(
            bad(r#"{"model":"m","prompt":"x","top_p":0}"#).as_deref(),
            Some("top_p")
        );
        assert_eq!(
            bad(r#"{"model":"m","prompt":"x","top_k":-2}"#).as_deref(),
            Some("top_k")
        );
        assert_eq!(
            bad(r#"{"model":"m","prompt":"x","stream_options":{"include_usage":true}}"#).as_deref(),
            Some("stream_options")
        );
        let ok: CompletionRequest =
            parse(br#"{"model":"m","prompt":"x","seed":-1,"stop":"\n","top_k":-1,"user":"u"}"#)
                .unwrap();
        let r = ok.sampling.resolve(&g, 7).unwrap();
        assert_eq!(r.params.seed, u64::MAX);
        assert_eq!(r.stop, vec!["\n".to_string()]);
        assert_eq!((r.params.top_k, r.params.temperature), (0, 1.0));
    }
}
