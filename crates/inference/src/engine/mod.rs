//! Batched generation: requests for different adapters share one batch, the base projections
//! run once per step over all rows, and each row adds its own adapter's low-rank delta.
//!
//! A [`Batch`] holds sequences; each [`Engine::step`] feeds every unfinished sequence its new
//! tokens (the whole prompt on its first step, then the last sampled token) in one ragged
//! forward pass, samples one token per sequence and retires those that stop. Sequences can be
//! added between steps, so prefills and decodes mix (continuous batching).
//!
//! Determinism: a sequence's logits depend only on its own tokens, adapter and cache (see
//! [`crate::model`]), and its tokens only on those logits and its seed (see
//! [`crate::sampling`]); the kernels never split a reduction by thread. So tokens and logits
//! are the same bits whatever else is in the batch, in which order, and with how many threads.
//! The engine's threads flush subnormal floats to zero ([`flush_subnormals`]), which keeps a
//! model whose activations reach that range from decoding at a fraction of its speed.
//!
//! [`flush_subnormals`]: crate::kernels::flush_subnormals

#[cfg(test)]
mod tests;

use crate::{
    InferenceError, Result,
    adapter::LoraAdapter,
    kernels::{CpuLoraKernel, LoraKernel},
    model::{KvCache, LlamaModel, Logits, SeqInput, TailActivations},
    sampling::{Sampler, SamplingParams, TokenLogprobs, logprobs},
};
use std::sync::Arc;

/// One generation request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Prompt token ids.
    pub prompt: Vec<u32>,
    /// The adapter to apply (`None`: the base model).
    pub adapter: Option<Arc<LoraAdapter>>,
    /// Sampling and stopping.
    pub params: SamplingParams,
}

/// Why a sequence stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// It generated `max_tokens` tokens.
    Length,
    /// It sampled this stop token (not included in the output).
    Stop(u32),
}

/// The result of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// Generated tokens (without the stop token).
    pub tokens: Vec<u32>,
    /// The logits of every sampling step when requested (one more than `tokens` when a stop
    /// token ended the sequence), else empty.
    pub logits: Vec<Vec<f32>>,
    /// Why it stopped.
    pub finish_reason: FinishReason,
    /// Number of prompt tokens.
    pub prompt_tokens: usize,
    /// The last block's activations of every position fed (the prompt and every generated
    /// token but a final one that was not fed back), when requested.
    pub tail: Option<TailActivations>,
}

/// What one step produced for one sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutput {
    /// The sequence.
    pub id: SeqId,
    /// The sampled token; when it is a stop token it ends the sequence and is not part of the
    /// output.
    pub token: u32,
    /// The sampled token's log-probability and the most likely alternatives, when the request
    /// asked for them.
    pub logprobs: Option<TokenLogprobs>,
    /// Set when this step ended the sequence.
    pub finished: Option<FinishReason>,
}

/// Identifies a sequence of a [`Batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeqId(pub u64);

#[derive(Debug)]
struct Sequence {
    id: SeqId,
    adapter: Option<Arc<LoraAdapter>>,
    sampler: Sampler,
    cache: KvCache,
    /// Tokens the next step feeds.
    pending: Vec<u32>,
    stop: Vec<u32>,
    max_tokens: usize,
    return_logits: bool,
    top_logprobs: Option<usize>,
    prompt_tokens: usize,
    tokens: Vec<u32>,
    logits: Vec<Vec<f32>>,
    finished: Option<FinishReason>,
}

/// The sequences being generated together.
#[derive(Debug, Default)]
pub struct Batch {
    seqs: Vec<Sequence>,
    next_id: u64,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of unfinished sequences.
    pub fn active(&self) -> usize {
        self.seqs.iter().filter(|s| s.finished.is_none()).count()
    }

    /// Number of sequences, finished or not, still held.
    pub fn len(&self) -> usize {
        self.seqs.len()
    }

    /// Whether the batch holds no sequence.
    pub fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }

    /// Drops sequence `id` whether or not it finished (a cancelled request, or one its caller
    /// ended on a stop string), freeing its KV cache. Returns whether it was there.
    pub fn remove(&mut self, id: SeqId) -> bool {
        let before = self.seqs.len();
        self.seqs.retain(|s| s.id != id);
        self.seqs.len() != before
    }

    /// Removes and returns the finished sequences, in the order they were added.
    pub fn take_finished(&mut self) -> Vec<(SeqId, Completion)> {
        let (done, running): (Vec<_>, Vec<_>) = std::mem::take(&mut self.seqs)
            .into_iter()
            .partition(|s| s.finished.is_some());
        self.seqs = running;
        done.into_iter()
            .filter_map(|mut s| {
                let finish_reason = s.finished?;
                Some((
                    s.id,
                    Completion {
                        tokens: s.tokens,
                        logits: s.logits,
                        finish_reason,
                        prompt_tokens: s.prompt_tokens,
                        tail: s.cache.take_tail(),
                    },
                ))
            })
            .collect()
    }
}

/// Runs batches on one base model with a thread pool of its own.
#[derive(Debug)]
pub struct Engine {
    model: Arc<LlamaModel>,
    pool: rayon::ThreadPool,
    lora: Box<dyn LoraKernel>,
    eos: Vec<u32>,
}

impl Engine {
    /// An engine over `model` using `threads` worker threads (the cap that keeps inference from
    /// starving the node's other work); the model's `eos_token_id`s stop generation.
    pub fn new(model: Arc<LlamaModel>, threads: usize) -> Result<Self> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("ol-inference-{i}"))
            .start_handler(|_| crate::kernels::flush_subnormals())
            .build()
            .map_err(|e| InferenceError::Runtime(format!("thread pool: {e}")))?;
        let eos = model.config().eos_token_ids.clone();
        Ok(Self {
            model,
            pool,
            lora: Box::new(CpuLoraKernel),
            eos,
        })
    }

    /// Replaces the end-of-sequence tokens (e.g. with those of `generation_config.json`).
    pub fn set_eos_token_ids(&mut self, eos: Vec<u32>) {
        self.eos = eos;
    }

    /// Replaces the LoRA kernel (the seam for accelerator kernels).
    pub fn set_lora_kernel(&mut self, kernel: Box<dyn LoraKernel>) {
        self.lora = kernel;
    }

    /// The base model.
    pub fn model(&self) -> &Arc<LlamaModel> {
        &self.model
    }

    /// Checks that `request` can run on this model (prompt, parameters, context length,
    /// adapter shape) without adding it anywhere.
    pub fn check(&self, request: &Request) -> Result<()> {
        let c = self.model.config();
        request.params.validate()?;
        if request.prompt.is_empty() {
            return Err(InferenceError::InvalidRequest("the prompt is empty".into()));
        }
        if let Some(&bad) = request.prompt.iter().find(|&&t| t as usize >= c.vocab_size) {
            return Err(InferenceError::InvalidRequest(format!(
                "prompt token {bad} is outside the vocabulary of {} tokens",
                c.vocab_size
            )));
        }
        let needed = request
            .prompt
            .len()
            .saturating_add(request.params.max_tokens);
        if needed > c.max_position_embeddings {
            return Err(InferenceError::InvalidRequest(format!(
                "prompt ({} tokens) plus max_tokens ({}) exceeds the context of {} positions",
                request.prompt.len(),
                request.params.max_tokens,
                c.max_position_embeddings
            )));
        }
        if let Some(a) = &request.adapter {
            a.check_fits(c)?;
        }
        Ok(())
    }

    /// Validates `request` and adds it to `batch`.
    pub fn add(&self, batch: &mut Batch, request: Request) -> Result<SeqId> {
        self.check(&request)?;
        let mut stop = request.params.stop_token_ids.clone();
        if !request.params.ignore_eos {
            stop.extend(&self.eos);
        }
        let id = SeqId(batch.next_id);
        batch.next_id += 1;
        let cache = if request.params.return_tail {
            KvCache::capturing_tail()
        } else {
            KvCache::new()
        };
        batch.seqs.push(Sequence {
            id,
            adapter: request.adapter,
            max_tokens: request.params.max_tokens,
            return_logits: request.params.return_logits,
            top_logprobs: request.params.logprobs,
            sampler: Sampler::new(request.params),
            cache,
            prompt_tokens: request.prompt.len(),
            pending: request.prompt,
            stop,
            tokens: Vec::new(),
            logits: Vec::new(),
            finished: None,
        });
        Ok(id)
    }

    /// Runs one forward step over every unfinished sequence and samples one token each; returns
    /// what each sequence produced, in batch order. On error the batch's KV caches are
    /// inconsistent and the batch must be dropped.
    pub fn step(&self, batch: &mut Batch) -> Result<Vec<StepOutput>> {
        let mut active: Vec<&mut Sequence> = batch
            .seqs
            .iter_mut()
            .filter(|s| s.finished.is_none())
            .collect();
        if active.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self.pool.install(|| -> Result<Vec<Vec<f32>>> {
            let mut inputs: Vec<SeqInput<'_>> = active
                .iter_mut()
                .map(|s| SeqInput {
                    tokens: &s.pending,
                    cache: &mut s.cache,
                    adapter: s.adapter.as_deref(),
                })
                .collect();
            let logits = self
                .model
                .forward(&mut inputs, self.lora.as_ref(), Logits::Last)?;
            Ok(logits.to_vec2::<f32>()?)
        })?;
        let mut outputs = Vec::with_capacity(active.len());
        for (s, row) in active.iter_mut().zip(rows) {
            let token = s.sampler.sample(&row)?;
            let lp = s.top_logprobs.map(|n| logprobs(&row, token, n));
            if s.return_logits {
                s.logits.push(row);
            }
            if s.stop.contains(&token) {
                s.finished = Some(FinishReason::Stop(token));
            } else {
                s.tokens.push(token);
                s.pending = vec![token];
                if s.tokens.len() >= s.max_tokens {
                    s.finished = Some(FinishReason::Length);
                }
            }
            outputs.push(StepOutput {
                id: s.id,
                token,
                logprobs: lp,
                finished: s.finished,
            });
        }
        Ok(outputs)
    }

    /// Generates every request to completion in one batch; results are in request order.
    pub fn generate(&self, requests: Vec<Request>) -> Result<Vec<Completion>> {
        let mut batch = Batch::new();
        let mut ids = Vec::with_capacity(requests.len());
        for r in requests {
            ids.push(self.add(&mut batch, r)?);
        }
        while batch.active() > 0 {
            self.step(&mut batch)?;
        }
        let mut done: std::collections::BTreeMap<SeqId, Completion> =
            batch.take_finished().into_iter().collect();
        ids.iter()
            .map(|id| {
                done.remove(id)
                    .ok_or_else(|| InferenceError::Runtime(format!("sequence {} vanished", id.0)))
            })
            .collect()
    }
}
