//! The deterministic half of a job: a prompt, an adapter and the documents of its Datanets in;
//! the output and its attribution out. Nothing here reads the chain, so a follower that
//! gathers the same inputs computes the same [`Answer`] bit for bit (greedy decoding on the
//! CPU's fixed-order kernels, the suffix-array index built from the same documents).
//!
//! Attribution is the method the adapter registered (`ModelRegistry`'s `attributionMethod`):
//! - the suffix-array lineage (`AttributionMethod.INFINIGRAM`): the output's maximal spans that
//!   occur in the documents, weighted by length and rarity, summed per contributor. An index is
//!   built once per data snapshot (the sorted set of datapoints) and kept under the service's
//!   folder, written whole or not at all;
//! - DataInf (`AttributionMethod.DATAINF`) on the gradient store the adapter's bundle carries
//!   (built by the Model Factory in the training job, so the registered `adapterHash` pins it):
//!   the query gradient, projected as the store's rows are, scored against every training
//!   document. For an adapter that targets the last block's down projection (as one trained
//!   on every linear layer does) the store holds the gradients of those factors, and the
//!   query is the loss of the output given the prompt, differentiated from the activations
//!   captured while serving it: no second forward pass, a backward pass of a few small ops
//!   (see `ol_factory::artifacts::TailModel`). For other adapters it is the loss of the prompt
//!   and the output, differentiated through the whole adapter. Scores inside the estimator's
//!   noise band are dropped (an unrelated output attributes nothing), and only documents still
//!   approved at the request's block are paid;
//! - the Gauss-Newton influence function (`AttributionMethod.GAUSS_NEWTON`): the same query
//!   gradient and gradient store, preconditioned by the curvature factors the store carries
//!   when the factory built it for that method (`factory train --attribution-method
//!   gauss-newton`); a store without them is refused. Noise band and approval as for DataInf.

use crate::{
    JobsError,
    journal::{Answer, OutputSpan, RequestInfo, SpanDocument},
};
use alloy_primitives::{Address, B256, U256, keccak256};
use candle_core::Device;
use ol_attribution::{
    ContributorWeights,
    influence::{
        ScanOptions, datainf_scores_with_noise, gauss_newton_noise, gauss_newton_scores,
        gradient_row, projection_for,
    },
    lineage::{LineageIndex, Span, TextDocument, TraceConfig},
    models::{DiffModel as _, model_hash},
    projection::ProjectionSpec,
    store::GradientStore,
    weights::{DatapointScore, abstain_within_noise, contributor_weights, noise_z},
};
use ol_factory::artifacts::{AdapterModel, TailBatch, TailModel};
use ol_inference::{
    BaseModel, Engine, LoraAdapter, Request, SamplingParams, adapter::bundle,
    model::TailActivations, train::AdapterVars,
};
use parking_lot::Mutex;
use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    path::{Path, PathBuf},
    sync::Arc,
};

pub use ol_primitives::contracts::attribution_method::{
    DATAINF as METHOD_DATAINF, GAUSS_NEWTON as METHOD_GAUSS_NEWTON, INFINIGRAM as METHOD_LINEAGE,
};

/// The attribution methods this node runs.
pub const METHODS_RUN: [u8; 3] = [METHOD_DATAINF, METHOD_GAUSS_NEWTON, METHOD_LINEAGE];

/// The chance that a DataInf attribution of an output unrelated to every document pays anyone
/// (the false-positive rate of the noise band, Bonferroni over the documents).
const DATAINF_ABSTAIN_ALPHA: f64 = 0.05;

/// Histogram: seconds of a job's inference (decoding), by attribution method (`method`:
/// `datainf`, `gauss-newton`, `lineage`).
pub const INFERENCE_SECONDS: &str = "jobs_inference_seconds";
/// Histogram: seconds of a job's attribution (lineage: index build when new, trace, weights;
/// DataInf: the query gradient, two passes over the store, weights), by method.
pub const ATTRIBUTION_SECONDS: &str = "jobs_attribution_seconds";
/// Counter: microseconds the worker pool spent on jobs (its busy time).
pub const BUSY_SECONDS: &str = "jobs_busy_microseconds_total";

/// Adapters kept loaded between requests.
const ADAPTER_CACHE: usize = 16;

/// Everything a job needs, gathered from chain state and the content store.
#[derive(Debug, Clone)]
pub struct Task {
    /// The request.
    pub request: RequestInfo,
    /// The prompt's bytes (hashing to `request.prompt_hash`).
    pub prompt: Vec<u8>,
    /// The adapter's content hash (`adapterHash`).
    pub adapter_hash: B256,
    /// Its bundle (see `ol_inference::adapter::bundle`).
    pub adapter_bundle: Arc<[u8]>,
    /// The attribution method it registered (`AttributionMethod`).
    pub method: u8,
    /// The approved contributions of the adapter's Datanets that this node holds, the
    /// datapoint of each being its `contentHash`.
    pub documents: Arc<[TextDocument]>,
}

/// What a job ends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Served and attributed.
    Answer(Box<Answer>),
    /// Not servable, for a reason that will not change (a bad prompt, a broken adapter).
    Refused(String),
}

/// The root of a data snapshot: keccak-256 over its `(datapoint, contributor)` pairs, sorted.
pub fn snapshot_root(documents: &[TextDocument]) -> B256 {
    let mut pairs: Vec<(B256, Address)> = documents
        .iter()
        .map(|d| (d.meta.datapoint, d.meta.contributor))
        .collect();
    pairs.sort();
    let mut bytes = Vec::with_capacity(pairs.len() * 52);
    for (datapoint, contributor) in pairs {
        bytes.extend_from_slice(datapoint.as_slice());
        bytes.extend_from_slice(contributor.as_slice());
    }
    keccak256(bytes)
}

/// An adapter ready to serve, with what DataInf needs when the bundle carries it.
struct LoadedAdapter {
    serving: Arc<LoraAdapter>,
    datainf: Option<DataInf>,
}

/// A trained adapter's factors (to differentiate) and its gradient store.
struct DataInf {
    vars: AdapterVars,
    store: GradientStore,
    /// The store holds [`TailModel`] gradients (the last block's down projection), which the
    /// query takes from the tail captured while serving; otherwise the whole adapter's.
    tail: bool,
}

/// The metrics label and log name of an attribution method.
const fn method_name(method: u8) -> &'static str {
    match method {
        METHOD_DATAINF => "datainf",
        METHOD_GAUSS_NEWTON => "gauss-newton",
        METHOD_LINEAGE => "lineage",
        _ => "other",
    }
}

/// Runs jobs on one base model.
pub struct Executor {
    base: BaseModel,
    base_hash: B256,
    engine: Engine,
    tokenizer_json: Vec<u8>,
    index_dir: PathBuf,
    adapters: Mutex<HashMap<B256, Arc<LoadedAdapter>>>,
    /// Serialises index builds (two jobs on one new snapshot build it once).
    builds: Mutex<()>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("base_hash", &self.base_hash)
            .field("index_dir", &self.index_dir)
            .finish_non_exhaustive()
    }
}

impl Executor {
    /// Loads the base model in the Hugging Face layout from `model_dir` (its identity is the
    /// Model Factory's folder hash, which `ModelRegistry` records as `weightsHash`); indexes
    /// go under `index_dir`; decoding uses `threads` threads.
    pub fn new(model_dir: &Path, index_dir: PathBuf, threads: usize) -> Result<Self, JobsError> {
        let base = ol_inference::load_model_dir(model_dir, &Device::Cpu)?;
        let base_hash = ol_factory::manifest::model_dir_hash(model_dir)?;
        let mut engine = Engine::new(Arc::new(base.model.clone()), threads.max(1))?;
        if !base.generation.eos_token_ids.is_empty() {
            engine.set_eos_token_ids(base.generation.eos_token_ids.clone());
        }
        let tokenizer_json = base
            .tokenizer
            .to_string(false)
            .map_err(|e| JobsError::Model(format!("serialising the tokenizer: {e}")))?
            .into_bytes();
        std::fs::create_dir_all(&index_dir).map_err(|e| JobsError::io(&index_dir, e))?;
        Ok(Self {
            base,
            base_hash,
            engine,
            tokenizer_json,
            index_dir,
            adapters: Mutex::new(HashMap::new()),
            builds: Mutex::new(()),
        })
    }

    /// The served base model's identity.
    pub const fn base_hash(&self) -> B256 {
        self.base_hash
    }

    /// Serves and attributes `task`.
    pub fn run(&self, task: &Task) -> Result<Outcome, JobsError> {
        let Ok(text) = std::str::from_utf8(&task.prompt) else {
            return Ok(Outcome::Refused("the prompt is not UTF-8 text".into()));
        };
        let prompt = self
            .base
            .tokenizer
            .encode(text, true)
            .map_err(|e| JobsError::Model(format!("tokenizing the prompt: {e}")))?
            .get_ids()
            .to_vec();
        let request = &task.request;
        if prompt.len() > request.max_tokens_in as usize {
            return Ok(Outcome::Refused(format!(
                "the prompt has {} tokens, over its declared maxTokensIn {}",
                prompt.len(),
                request.max_tokens_in
            )));
        }
        let context = self.base.model.config().max_position_embeddings;
        if prompt.len() + request.max_tokens_out as usize > context {
            return Ok(Outcome::Refused(format!(
                "{} prompt tokens and maxTokensOut {} exceed the model's context of {context}",
                prompt.len(),
                request.max_tokens_out
            )));
        }
        if !METHODS_RUN.contains(&task.method) {
            return Ok(Outcome::Refused(format!(
                "attribution method {} is not one this node runs (DataInf {METHOD_DATAINF}, Gauss-Newton {METHOD_GAUSS_NEWTON}, lineage {METHOD_LINEAGE})",
                task.method
            )));
        }
        let adapter = match self.adapter(task)? {
            Ok(adapter) => adapter,
            Err(reason) => return Ok(Outcome::Refused(reason)),
        };
        let datainf = match (&adapter.datainf, task.method) {
            (_, METHOD_LINEAGE) => None,
            (None, method) => {
                return Ok(Outcome::Refused(format!(
                    "adapter {} is registered for {} but its bundle carries no gradient store",
                    task.adapter_hash,
                    method_name(method)
                )));
            }
            (Some(datainf), METHOD_GAUSS_NEWTON) if datainf.store.header().curvature.is_none() => {
                return Ok(Outcome::Refused(format!(
                    "adapter {} is registered for the Gauss-Newton method but its gradient store was built for {}, without curvature factors",
                    task.adapter_hash,
                    datainf.store.header().method
                )));
            }
            (Some(datainf), _) => Some(datainf),
        };
        let tokens_in = prompt.len() as u32;
        let prompt_tokens = prompt.clone();
        let started = std::time::Instant::now();
        let mut completion = self
            .engine
            .generate(vec![Request {
                prompt,
                adapter: Some(adapter.serving.clone()),
                params: SamplingParams {
                    max_tokens: request.max_tokens_out as usize,
                    return_tail: datainf.is_some_and(|d| d.tail),
                    ..SamplingParams::default()
                },
            }])?
            .pop()
            .ok_or_else(|| JobsError::Model("the engine returned no completion".into()))?;
        let output = self
            .base
            .tokenizer
            .decode(&completion.tokens, true)
            .map_err(|e| JobsError::Model(format!("decoding the output: {e}")))?;
        let inferred = started.elapsed();
        let snapshot = snapshot_root(&task.documents);
        let (weights, spans) = match datainf {
            Some(datainf) => {
                let mut sequence = prompt_tokens;
                sequence.extend_from_slice(&completion.tokens);
                let tail = completion.tail.take();
                let prompt_len = completion.prompt_tokens;
                let curvature = task.method == METHOD_GAUSS_NEWTON;
                match self.datainf(
                    datainf,
                    curvature,
                    sequence,
                    prompt_len,
                    tail,
                    &task.documents,
                )? {
                    Ok(weights) => (weights, Vec::new()),
                    Err(reason) => return Ok(Outcome::Refused(reason)),
                }
            }
            None => {
                let (weights, spans) =
                    self.attribute(&completion.tokens, &task.documents, snapshot)?;
                let spans = self.output_spans(&completion.tokens, &output, &spans);
                (weights, spans)
            }
        };
        let attributed = started.elapsed() - inferred;
        let method = method_name(task.method);
        metrics::histogram!(INFERENCE_SECONDS, "method" => method).record(inferred.as_secs_f64());
        metrics::histogram!(ATTRIBUTION_SECONDS, "method" => method)
            .record(attributed.as_secs_f64());
        metrics::counter!(BUSY_SECONDS).increment(started.elapsed().as_micros() as u64);
        tracing::debug!(
            target: "jobs",
            request = %request.request_id,
            inference_ms = inferred.as_millis() as u64,
            attribution_ms = attributed.as_millis() as u64,
            "job timings"
        );
        let (contributors, weights_ppm) = weights
            .contributors
            .iter()
            .map(|&(account, ppm)| (account, ppm as u32))
            .unzip();
        Ok(Outcome::Answer(Box::new(Answer {
            output_hash: keccak256(output.as_bytes()),
            output,
            tokens_in,
            tokens_out: completion.tokens.len() as u32,
            method: task.method,
            contributors,
            weights_ppm,
            evidence_root: weights.evidence_root,
            evidence: weights
                .evidence
                .iter()
                .map(|&(datapoint, contributor, score)| (datapoint, contributor, U256::from(score)))
                .collect(),
            snapshot,
            spans,
        })))
    }

    /// The trace's evidence spans as byte ranges of the decoded `output`. The spans are for
    /// display and the weights do not depend on them, so a span whose ends cannot be placed in
    /// the output (a token splitting a character, a decoding error) is left out rather than
    /// failing the job.
    fn output_spans(&self, tokens: &[u32], output: &str, spans: &[Span]) -> Vec<OutputSpan> {
        // Each boundary decoded once: the byte length of the output up to that token.
        let boundaries: BTreeSet<usize> = spans
            .iter()
            .flat_map(|span| [span.start, span.start + span.len])
            .filter(|&n| n <= tokens.len())
            .collect();
        let offsets: BTreeMap<usize, usize> = boundaries
            .into_iter()
            .filter_map(|n| {
                let prefix = self.base.tokenizer.decode(&tokens[..n], true).ok()?;
                output.starts_with(&prefix).then_some((n, prefix.len()))
            })
            .collect();
        spans
            .iter()
            .filter_map(|span| {
                let start = *offsets.get(&span.start)?;
                let end = *offsets.get(&(span.start + span.len))?;
                (start < end).then(|| OutputSpan {
                    start: start as u32,
                    end: end as u32,
                    count: span.count,
                    documents: span
                        .docs
                        .iter()
                        .map(|doc| SpanDocument {
                            datapoint: doc.datapoint,
                            contributor: doc.contributor,
                        })
                        .collect(),
                })
            })
            .collect()
    }

    /// The adapter of `task`, loaded once (with its DataInf artifacts when the bundle has
    /// them); a bundle that does not load is the reason.
    fn adapter(&self, task: &Task) -> Result<Result<Arc<LoadedAdapter>, String>, JobsError> {
        if let Some(adapter) = self.adapters.lock().get(&task.adapter_hash) {
            return Ok(Ok(adapter.clone()));
        }
        let name = task.adapter_hash;
        let files = match bundle::unbundle(&task.adapter_bundle) {
            Ok(files) => files,
            Err(e) => return Ok(Err(format!("adapter {name}: {e}"))),
        };
        let config = self.base.model.config();
        let serving =
            match LoraAdapter::from_bytes(&files.config, &files.weights, config, &Device::Cpu) {
                Ok(adapter) => Arc::new(adapter),
                Err(e) => return Ok(Err(format!("adapter {name}: {e}"))),
            };
        let datainf = match &files.gradient_store {
            None => None,
            Some(bytes) => match self.datainf_artifacts(name, &files, bytes)? {
                Ok(datainf) => Some(datainf),
                Err(reason) => return Ok(Err(reason)),
            },
        };
        let adapter = Arc::new(LoadedAdapter { serving, datainf });
        let mut cache = self.adapters.lock();
        if cache.len() >= ADAPTER_CACHE {
            cache.clear();
        }
        cache.insert(name, adapter.clone());
        Ok(Ok(adapter))
    }

    /// The adapter's factors as variables and its gradient store (written under the index
    /// folder, whole or not at all, to be memory-mapped), checked to be of this adapter.
    fn datainf_artifacts(
        &self,
        name: B256,
        files: &bundle::Bundle,
        store_bytes: &[u8],
    ) -> Result<Result<DataInf, String>, JobsError> {
        let config = self.base.model.config();
        let vars =
            match AdapterVars::from_bytes(&files.config, &files.weights, config, &Device::Cpu) {
                Ok(vars) => vars,
                Err(e) => return Ok(Err(format!("adapter {name}: {e}"))),
            };
        let path = self.index_dir.join(format!("{name:x}.olgs"));
        if !path.exists() {
            let partial = self.index_dir.join(format!("{name:x}.olgs.partial"));
            std::fs::write(&partial, store_bytes).map_err(|e| JobsError::io(&partial, e))?;
            std::fs::rename(&partial, &path).map_err(|e| JobsError::io(&path, e))?;
        }
        let store = match GradientStore::open(&path) {
            Ok(store) => store,
            Err(e) => return Ok(Err(format!("adapter {name}'s gradient store: {e}"))),
        };
        // The query gradient is projected with the store's spec: its groups must be this
        // adapter's parameter groups (its tail's or all of them), by name and size (a crafted
        // store could name others), and its model hash theirs.
        let shapes = |spec: &ProjectionSpec| -> Vec<(String, usize)> {
            spec.layers
                .iter()
                .map(|l| (l.name.clone(), l.input_dim))
                .collect()
        };
        let projection = &store.header().projection;
        let seed = projection.seed;
        let adapter = AdapterModel::new(&self.base.model, &vars);
        let tail_model = TailModel::new(&self.base.model, &vars)
            .filter(|t| shapes(projection) == shapes(&projection_for(t, 1, seed)));
        let (tail, hash) = match &tail_model {
            Some(t) => (true, model_hash(t.params())?),
            None if shapes(projection) == shapes(&projection_for(&adapter, 1, seed)) => {
                (false, model_hash(adapter.params())?)
            }
            None => {
                return Ok(Err(format!(
                    "adapter {name}'s gradient store is projected for other parameter shapes"
                )));
            }
        };
        if let Err(e) = store.check(hash, None) {
            return Ok(Err(format!("adapter {name}'s gradient store: {e}")));
        }
        Ok(Ok(DataInf { vars, store, tail }))
    }

    /// DataInf over the adapter's gradient store for `sequence` (the prompt then the output),
    /// paying only the rows still among `documents` (approved at the request's block); a
    /// store that does not fit the adapter's gradient is the reason.
    /// Gradient attribution over the adapter's store: DataInf, or the Gauss-Newton estimator
    /// when `curvature` (the store then carries its factors).
    fn datainf(
        &self,
        datainf: &DataInf,
        curvature: bool,
        sequence: Vec<u32>,
        prompt_len: usize,
        tail: Option<TailActivations>,
        documents: &[TextDocument],
    ) -> Result<Result<ContributorWeights, String>, JobsError> {
        let store = &datainf.store;
        if sequence.len() <= prompt_len.max(1) || store.is_empty() {
            return Ok(Ok(contributor_weights(&[])?));
        }
        let header = store.header();
        let row = match (datainf.tail, tail) {
            (true, Some(tail)) => {
                let model = TailModel::new(&self.base.model, &datainf.vars).ok_or_else(|| {
                    JobsError::Model("the adapter lost its last down projection".into())
                })?;
                let batch = TailBatch {
                    seqs: vec![sequence],
                    tails: Some(vec![tail]),
                    scored_from: prompt_len.max(1),
                };
                gradient_row(&model, &batch, &[], &header.projection)?
            }
            (true, None) => {
                return Err(JobsError::Model(
                    "the engine returned no tail for a DataInf request".into(),
                ));
            }
            (false, _) => {
                let model = AdapterModel::new(&self.base.model, &datainf.vars);
                gradient_row(&model, &vec![sequence], &[], &header.projection)?
            }
        };
        if row.len() != header.block_dim() {
            return Ok(Err(format!(
                "the gradient store's rows have {} floats per checkpoint, the adapter's projected gradient {}",
                header.block_dim(),
                row.len()
            )));
        }
        let opts = ScanOptions::default();
        let (scores, noise) = if curvature {
            (
                gauss_newton_scores(store, &row, opts)?,
                gauss_newton_noise(store, &row)?,
            )
        } else {
            datainf_scores_with_noise(store, &row, opts)?
        };
        let approved: HashSet<(B256, Address)> = documents
            .iter()
            .map(|d| (d.meta.datapoint, d.meta.contributor))
            .collect();
        let mut points: Vec<DatapointScore> = (0..store.len())
            .map(|i| {
                let meta = store.meta(i);
                let paid = approved.contains(&(meta.datapoint, meta.contributor));
                DatapointScore {
                    datapoint: meta.datapoint,
                    contributor: meta.contributor,
                    datanet: header
                        .datanets
                        .get(meta.datanet as usize)
                        .copied()
                        .unwrap_or_default(),
                    score: if paid { scores[i] } else { 0.0 },
                }
            })
            .collect();
        abstain_within_noise(
            &mut points,
            &noise,
            noise_z(store.len(), DATAINF_ABSTAIN_ALPHA),
        )?;
        Ok(Ok(contributor_weights(&points)?))
    }

    /// Lineage attribution of `output`: the weights and the evidence spans that earned them.
    fn attribute(
        &self,
        output: &[u32],
        documents: &[TextDocument],
        snapshot: B256,
    ) -> Result<(ContributorWeights, Vec<Span>), JobsError> {
        if documents.is_empty() || output.is_empty() {
            return Ok((contributor_weights(&[])?, Vec::new()));
        }
        let index = self.index(documents, snapshot)?;
        let trace = index.trace_tokens(output, &TraceConfig::default())?;
        Ok((contributor_weights(&trace.scores)?, trace.spans))
    }

    /// The index of `snapshot`, built on first use.
    fn index(&self, documents: &[TextDocument], snapshot: B256) -> Result<LineageIndex, JobsError> {
        let dir = self.index_dir.join(format!("{snapshot:x}"));
        let _build = self.builds.lock();
        if !dir.exists() {
            let partial = self.index_dir.join(format!("{snapshot:x}.partial"));
            if partial.exists() {
                std::fs::remove_dir_all(&partial).map_err(|e| JobsError::io(&partial, e))?;
            }
            let mut sorted = documents.to_vec();
            sorted.sort_by_key(|d| d.meta);
            ol_factory::artifacts::lineage_index(
                &partial,
                &self.tokenizer_json,
                &sorted,
                |_, _, _| {},
            )?;
            std::fs::rename(&partial, &dir).map_err(|e| JobsError::io(&dir, e))?;
        }
        Ok(LineageIndex::open(&dir)?)
    }
}
