//! The serving loop: continuous batching of requests for many adapters on one base model.
//!
//! One thread owns the [`Engine`] and its [`Batch`]. Each turn it takes new requests, admits as
//! many as the batch has room for (a cap on sequences and on prompt tokens per step, so a long
//! prefill does not stall the decodes running beside it), runs one step for the whole batch,
//! and streams each sequence's new text to its [`EventSink`]. Where the step computes is the
//! embedder's choice ([`StepRunner`]): on the loop's thread, or handed to a worker pool that
//! other work shares (the node's), the loop waiting for it.
//!
//! A request for an adapter that is not resident waits aside while a loader thread reads it;
//! the batch keeps stepping for everyone else and the request joins when its adapter arrives.
//! Admission is bounded: when `max_waiting` requests are queued, [`Scheduler::submit`] refuses
//! at once ([`SubmitError::QueueFull`], HTTP 429), never an unbounded wait. A sink that reports
//! its client gone cancels the sequence and frees its KV cache.

use super::{
    adapters::{AdapterCache, Lookup},
    text::{IncrementalDecoder, StopMatcher},
};
use crate::{
    Batch, Engine, FinishReason, InferenceError, LoraAdapter, Request, SamplingParams, SeqId,
    StepOutput, TokenLogprobs,
};
use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
        mpsc,
    },
    thread::JoinHandle,
    time::Instant,
};
use tokenizers::Tokenizer;

/// Limits of the serving loop.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Most sequences in one batch.
    pub max_batch_size: usize,
    /// Most prompt tokens admitted into one step (at least one request is always admitted).
    pub max_prefill_tokens: usize,
    /// Most requests waiting for a place in the batch; more are refused.
    pub max_waiting: usize,
    /// Threads that load cold adapters.
    pub loader_threads: usize,
    /// Where the engine's steps run.
    pub steps: Arc<dyn StepRunner>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            max_batch_size: 64,
            max_prefill_tokens: 2048,
            max_waiting: 256,
            loader_threads: 2,
            steps: Arc::new(InlineSteps),
        }
    }
}

/// A step of the serving loop, handed to a [`StepRunner`].
pub type Step = Box<dyn FnOnce() + Send>;

/// Runs the serving loop's engine steps. The loop hands over one step at a time and waits for
/// it, so steps never overlap and the batch stays the loop's.
pub trait StepRunner: Send + Sync + std::fmt::Debug {
    /// Runs `step` to completion before returning. An error means it did not run and never
    /// will (the step is dropped); the loop then fails the sequences of the batch.
    fn run(&self, step: Step) -> Result<(), String>;
}

/// Runs each step on the loop's own thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct InlineSteps;

impl StepRunner for InlineSteps {
    fn run(&self, step: Step) -> Result<(), String> {
        step();
        Ok(())
    }
}

/// Why a request was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// `max_waiting` requests are already queued.
    #[error("the server is at capacity ({0} requests waiting); retry later")]
    QueueFull(usize),
    /// No base model or adapter of that name.
    #[error("the model `{0}` does not exist")]
    UnknownModel(String),
    /// The request cannot run (bad parameter, prompt too long).
    #[error("{0}")]
    Invalid(String),
    /// The loop has stopped.
    #[error("the inference engine has stopped")]
    Stopped,
}

/// One generation request.
pub struct GenerateRequest {
    /// The adapter's name, or `None` for the base model.
    pub adapter: Option<String>,
    /// Prompt token ids.
    pub prompt: Vec<u32>,
    /// Sampling and stopping by token.
    pub params: SamplingParams,
    /// Stop strings (the output ends before the first one).
    pub stop: Vec<String>,
    /// Skip special tokens when turning tokens into text.
    pub skip_special_tokens: bool,
    /// Where the output goes.
    pub sink: Box<dyn EventSink>,
}

impl std::fmt::Debug for GenerateRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenerateRequest")
            .field("adapter", &self.adapter)
            .field("prompt_tokens", &self.prompt.len())
            .field("params", &self.params)
            .field("stop", &self.stop)
            .finish_non_exhaustive()
    }
}

/// Receives a request's output as it is produced.
pub trait EventSink: Send {
    /// Delivers `event`; returns `false` when nobody listens any more (the request is then
    /// cancelled).
    fn send(&mut self, event: Event) -> bool;
}

impl<F: FnMut(Event) -> bool + Send> EventSink for F {
    fn send(&mut self, event: Event) -> bool {
        self(event)
    }
}

/// A piece of a request's output.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// New final text and the tokens that produced it (with log-probabilities when asked).
    Delta {
        /// Text to append.
        text: String,
        /// The tokens since the previous delta.
        tokens: Vec<u32>,
        /// Their log-probabilities, when requested (one per token).
        logprobs: Vec<TokenLogprobs>,
    },
    /// The request ended.
    Finished {
        /// Why.
        reason: Finish,
        /// Prompt tokens.
        prompt_tokens: usize,
        /// Tokens generated (including one that completed a stop string, excluding a stop
        /// token).
        completion_tokens: usize,
    },
    /// The request failed after it was accepted.
    Failed(String),
}

/// Why a request's output ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// `max_tokens` reached.
    Length,
    /// An end-of-sequence or stop token (not in the output).
    StopToken(u32),
    /// A stop string (not in the output).
    StopString(String),
}

/// Counters and gauges of the loop.
#[derive(Debug, Clone, Copy, Default)]
pub struct SchedulerStats {
    /// Requests waiting for a place (or an adapter).
    pub waiting: usize,
    /// Sequences in the batch.
    pub running: usize,
}

enum Msg {
    Submit(Box<GenerateRequest>),
    Loaded(String, Result<Arc<LoraAdapter>, String>),
    Shutdown,
}

/// A request whose adapter is resolved, waiting for a place in the batch.
struct Ready {
    request: Box<GenerateRequest>,
    adapter: Option<Arc<LoraAdapter>>,
}

/// A sequence in the batch and the state of its output stream.
struct Live {
    sink: Box<dyn EventSink>,
    decoder: IncrementalDecoder,
    stops: StopMatcher,
    prompt_tokens: usize,
    completion_tokens: usize,
    /// Tokens and log-probabilities not yet sent (their text is still held back).
    tokens: Vec<u32>,
    logprobs: Vec<TokenLogprobs>,
}

/// Handle to the serving loop; dropping it stops the loop after the current step.
#[derive(Debug)]
pub struct Scheduler {
    tx: mpsc::Sender<Msg>,
    waiting: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
    max_waiting: usize,
    cache: Arc<AdapterCache>,
    engine_checks: Arc<Engine>,
    thread: Option<JoinHandle<()>>,
    loaders: Vec<JoinHandle<()>>,
}

impl Scheduler {
    /// Starts the loop on its own thread, with `config.loader_threads` adapter loaders.
    pub fn start(
        engine: Engine,
        tokenizer: Arc<Tokenizer>,
        cache: Arc<AdapterCache>,
        config: SchedulerConfig,
    ) -> crate::Result<Self> {
        let engine = Arc::new(engine);
        let (tx, rx) = mpsc::channel();
        let (load_tx, load_rx) = mpsc::channel::<String>();
        let load_rx = Arc::new(parking_lot::Mutex::new(load_rx));
        let mut loaders = Vec::new();
        for i in 0..config.loader_threads.max(1) {
            let (rx, tx, cache) = (load_rx.clone(), tx.clone(), cache.clone());
            let handle = std::thread::Builder::new()
                .name(format!("ol-adapter-loader-{i}"))
                .spawn(move || {
                    loop {
                        let next = rx.lock().recv();
                        let Ok(name) = next else { break };
                        let started = Instant::now();
                        let result = cache.load(&name).map_err(|e| e.to_string());
                        metrics::histogram!("inference_adapter_load_seconds")
                            .record(started.elapsed().as_secs_f64());
                        if tx.send(Msg::Loaded(name, result)).is_err() {
                            break;
                        }
                    }
                })
                .map_err(|e| InferenceError::Runtime(format!("adapter loader thread: {e}")))?;
            loaders.push(handle);
        }
        let waiting = Arc::new(AtomicUsize::new(0));
        let running = Arc::new(AtomicUsize::new(0));
        let mut serving = Loop {
            engine: engine.clone(),
            tokenizer,
            cache: cache.clone(),
            config,
            rx,
            load_tx,
            waiting: waiting.clone(),
            running: running.clone(),
            batch: Batch::new(),
            live: HashMap::new(),
            ready: VecDeque::new(),
            loading: BTreeMap::new(),
        };
        let max_waiting = serving.config.max_waiting;
        let thread = std::thread::Builder::new()
            .name("ol-inference-scheduler".into())
            .spawn(move || serving.run())
            .map_err(|e| InferenceError::Runtime(format!("scheduler thread: {e}")))?;
        Ok(Self {
            tx,
            waiting,
            running,
            max_waiting,
            cache,
            engine_checks: engine,
            thread: Some(thread),
            loaders,
        })
    }

    /// Queues `request`, or refuses it at once: unknown adapter, invalid request, full queue.
    pub fn submit(&self, request: GenerateRequest) -> Result<(), SubmitError> {
        if let Some(name) = &request.adapter
            && !self.cache.contains(name)
        {
            return Err(SubmitError::UnknownModel(name.clone()));
        }
        // The checks that do not need the adapter's weights, so a bad request is refused before
        // anything streams.
        self.engine_checks
            .check(&Request {
                prompt: request.prompt.clone(),
                adapter: None,
                params: request.params.clone(),
            })
            .map_err(|e| SubmitError::Invalid(e.to_string()))?;
        let queued = self.waiting.fetch_add(1, Ordering::SeqCst);
        if queued >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            metrics::counter!("inference_requests_rejected_total", "reason" => "queue_full")
                .increment(1);
            return Err(SubmitError::QueueFull(queued));
        }
        metrics::counter!("inference_requests_total").increment(1);
        self.tx
            .send(Msg::Submit(Box::new(request)))
            .map_err(|_| SubmitError::Stopped)
    }

    /// The adapter cache.
    pub fn cache(&self) -> &Arc<AdapterCache> {
        &self.cache
    }

    /// The engine (its model and configuration).
    pub fn engine(&self) -> &Engine {
        &self.engine_checks
    }

    /// Requests waiting and sequences running now.
    pub fn stats(&self) -> SchedulerStats {
        SchedulerStats {
            waiting: self.waiting.load(Ordering::SeqCst),
            running: self.running.load(Ordering::SeqCst),
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // The loop dropped the loaders' queue: they end after their current load.
        for t in self.loaders.drain(..) {
            let _ = t.join();
        }
    }
}

/// The state the loop thread owns.
struct Loop {
    engine: Arc<Engine>,
    tokenizer: Arc<Tokenizer>,
    cache: Arc<AdapterCache>,
    config: SchedulerConfig,
    rx: mpsc::Receiver<Msg>,
    load_tx: mpsc::Sender<String>,
    waiting: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
    batch: Batch,
    live: HashMap<SeqId, Live>,
    ready: VecDeque<Ready>,
    /// Requests waiting for an adapter being loaded, by adapter name.
    loading: BTreeMap<String, Vec<GenerateRequest>>,
}

impl Loop {
    fn run(&mut self) {
        loop {
            // Block only when there is nothing to step.
            let first = if self.batch.active() == 0 && self.ready.is_empty() {
                match self.rx.recv() {
                    Ok(m) => Some(m),
                    Err(_) => return,
                }
            } else {
                None
            };
            let mut msgs: Vec<Msg> = first.into_iter().collect();
            msgs.extend(self.rx.try_iter());
            for m in msgs {
                match m {
                    Msg::Submit(r) => self.resolve(r),
                    Msg::Loaded(name, result) => self.loaded(&name, result),
                    Msg::Shutdown => {
                        self.fail_all("the server is shutting down", true);
                        return;
                    }
                }
            }
            self.admit();
            if self.batch.active() > 0 {
                self.step();
            }
            self.running.store(self.batch.active(), Ordering::SeqCst);
            metrics::gauge!("inference_running_sequences").set(self.batch.active() as f64);
            metrics::gauge!("inference_waiting_requests")
                .set(self.waiting.load(Ordering::SeqCst) as f64);
            self.cache.stats().publish();
        }
    }

    /// Finds the request's adapter: resident, being loaded, or to load now.
    fn resolve(&mut self, mut r: Box<GenerateRequest>) {
        let Some(name) = r.adapter.clone() else {
            self.ready.push_back(Ready {
                request: r,
                adapter: None,
            });
            return;
        };
        if let Some(waiters) = self.loading.get_mut(&name) {
            waiters.push(*r);
            return;
        }
        match self.cache.lookup(&name) {
            Lookup::Ready(a) => self.ready.push_back(Ready {
                request: r,
                adapter: Some(a),
            }),
            Lookup::Cold => {
                self.loading.insert(name.clone(), vec![*r]);
                if self.load_tx.send(name.clone()).is_err() {
                    self.loaded(&name, Err("the adapter loaders have stopped".into()));
                }
            }
            Lookup::Unknown => {
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                r.sink
                    .send(Event::Failed(format!("the model `{name}` does not exist")));
            }
        }
    }

    fn loaded(&mut self, name: &str, result: Result<Arc<LoraAdapter>, String>) {
        let waiters = self.loading.remove(name).unwrap_or_default();
        for mut r in waiters {
            match &result {
                Ok(a) => self.ready.push_back(Ready {
                    request: Box::new(r),
                    adapter: Some(a.clone()),
                }),
                Err(e) => {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    r.sink
                        .send(Event::Failed(format!("loading adapter `{name}`: {e}")));
                }
            }
        }
    }

    /// Moves ready requests into the batch while it has room.
    fn admit(&mut self) {
        let mut prefill = 0usize;
        while self.batch.active() < self.config.max_batch_size.max(1) {
            let Some(next) = self.ready.front() else {
                break;
            };
            let len = next.request.prompt.len();
            if prefill > 0 && prefill + len > self.config.max_prefill_tokens {
                break;
            }
            let Some(Ready { request, adapter }) = self.ready.pop_front() else {
                break;
            };
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            let GenerateRequest {
                prompt,
                params,
                stop,
                skip_special_tokens,
                mut sink,
                ..
            } = *request;
            let decoder = IncrementalDecoder::new(&prompt, skip_special_tokens);
            let prompt_tokens = prompt.len();
            let req = Request {
                prompt,
                adapter,
                params,
            };
            match self.engine.add(&mut self.batch, req) {
                Ok(id) => {
                    prefill += len;
                    self.live.insert(
                        id,
                        Live {
                            sink,
                            decoder,
                            stops: StopMatcher::new(stop),
                            prompt_tokens,
                            completion_tokens: 0,
                            tokens: Vec::new(),
                            logprobs: Vec::new(),
                        },
                    );
                }
                Err(e) => {
                    sink.send(Event::Failed(e.to_string()));
                }
            }
        }
    }

    fn step(&mut self) {
        let started = Instant::now();
        let engine = self.engine.clone();
        let mut batch = std::mem::take(&mut self.batch);
        let (done_tx, done_rx) = mpsc::sync_channel(1);
        let handed = self.config.steps.run(Box::new(move || {
            let outputs = engine.step(&mut batch);
            let _ = done_tx.send((batch, outputs));
        }));
        // The step sends its batch back unless it never ran or panicked.
        let Ok((batch, outputs)) = done_rx.recv() else {
            let why = handed.err().unwrap_or_else(|| "the step panicked".into());
            tracing::error!(target: "inference", error = %why, "batch step did not run");
            self.fail_all(&format!("inference failed: {why}"), false);
            return;
        };
        self.batch = batch;
        let outputs = match outputs {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(target: "inference", error = %e, "batch step failed");
                self.fail_all(&format!("inference failed: {e}"), false);
                return;
            }
        };
        metrics::histogram!("inference_step_seconds").record(started.elapsed().as_secs_f64());
        metrics::counter!("inference_generated_tokens_total").increment(outputs.len() as u64);
        for out in outputs {
            self.deliver(out);
        }
    }

    /// Turns one sequence's step into stream events; ends the sequence on a stop string, a
    /// finished generation or a departed client.
    fn deliver(&mut self, out: StepOutput) {
        let Some(live) = self.live.get_mut(&out.id) else {
            return;
        };
        let mut stopped: Option<Finish> = match out.finished {
            Some(FinishReason::Stop(t)) => Some(Finish::StopToken(t)),
            Some(FinishReason::Length) => Some(Finish::Length),
            None => None,
        };
        let mut text = String::new();
        if !matches!(out.finished, Some(FinishReason::Stop(_))) {
            live.completion_tokens += 1;
            live.tokens.push(out.token);
            if let Some(lp) = out.logprobs {
                live.logprobs.push(lp);
            }
            let piece = match live.decoder.push(&self.tokenizer, out.token) {
                Ok(p) => p,
                Err(e) => {
                    live.sink.send(Event::Failed(e.to_string()));
                    self.end(out.id);
                    return;
                }
            };
            let released = live.stops.push(&piece);
            text = released.text;
            if let Some(s) = released.stop {
                stopped = Some(Finish::StopString(s));
            }
        }
        if matches!(stopped, Some(Finish::Length | Finish::StopToken(_))) {
            text.push_str(&live.stops.finish());
        }
        let alive = if !text.is_empty() || (stopped.is_some() && !live.tokens.is_empty()) {
            live.sink.send(Event::Delta {
                text,
                tokens: std::mem::take(&mut live.tokens),
                logprobs: std::mem::take(&mut live.logprobs),
            })
        } else {
            true
        };
        if let Some(reason) = stopped {
            live.sink.send(Event::Finished {
                reason,
                prompt_tokens: live.prompt_tokens,
                completion_tokens: live.completion_tokens,
            });
            self.end(out.id);
        } else if !alive {
            metrics::counter!("inference_requests_cancelled_total").increment(1);
            self.end(out.id);
        }
    }

    fn end(&mut self, id: SeqId) {
        self.live.remove(&id);
        self.batch.remove(id);
    }

    /// Fails the running sequences (a failed step leaves their caches inconsistent), and with
    /// `queued` also the requests that wait.
    fn fail_all(&mut self, why: &str, queued: bool) {
        for (_, mut live) in self.live.drain() {
            live.sink.send(Event::Failed(why.to_string()));
        }
        self.batch = Batch::new();
        if !queued {
            return;
        }
        let waiting: Vec<Box<GenerateRequest>> = self
            .ready
            .drain(..)
            .map(|r| r.request)
            .chain(
                std::mem::take(&mut self.loading)
                    .into_values()
                    .flatten()
                    .map(Box::new),
            )
            .collect();
        for mut r in waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            r.sink.send(Event::Failed(why.to_string()));
        }
    }
}
