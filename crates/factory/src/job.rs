//! Factory jobs from folders to a finished output folder: a LoRA adapter of a base model
//! ([`AdapterJob`]) or a base model from scratch ([`BaseJob`]).
//!
//! A job works in `<out>.partial/` (its checkpoints live there) and renames it to `<out>` only
//! once the trained files, the attribution artifacts and, last, the manifest are written: a
//! folder named `<out>` is always a complete job, whatever crashed when.

use crate::{
    ADAPTER_BUNDLE, Checkpoints, Dataset, FactoryError, Result, StepReport, TrainOutcome,
    TrainSpec, Trainee,
    artifacts::{StoreOptions, gradient_store, lineage_index},
    data::is_heldout,
    manifest::{
        Artifacts, BaseRef, DataSnapshot, JobKind, MANIFEST, Manifest, Results, file_hashes,
        model_dir_hash,
    },
    trainer::train,
};
use alloy_primitives::{B256, keccak256};
use candle_core::{DType, Device, Tensor};
use ol_attribution::{corpus::read_documents, lineage::BuildStage, tokenizer::TextTokenizer};
use ol_inference::{
    ModelConfig, SaveOptions, StoreDtype, load_model_dir,
    model::Target,
    sampling::Rng,
    save_model_dir,
    train::{AdapterVars, ModelVars},
};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::atomic::AtomicBool,
    time::Instant,
};
use tokenizers::Tokenizer;

/// What a running job reports, for a progress display.
#[derive(Debug, Clone, Copy)]
pub enum JobEvent<'a> {
    /// A stage starts (`loading`, `training`, `gradients`, `index`, `saving`).
    Stage(&'static str),
    /// An optimiser step is done.
    Step(&'a StepReport),
    /// Progress inside a stage other than training.
    Count {
        /// Done so far.
        done: u64,
        /// Out of.
        total: u64,
    },
}

/// Fine-tunes a LoRA adapter of the base model in `base_dir` on the documents in `docs_dir`.
#[derive(Debug, Clone)]
pub struct AdapterJob {
    /// The base model, Hugging Face layout.
    pub base_dir: PathBuf,
    /// The documents, one sub-folder per contributor address.
    pub docs_dir: PathBuf,
    /// The Datanet id recorded with the data.
    pub datanet: B256,
    /// The output folder (must not exist or be empty).
    pub out_dir: PathBuf,
    /// The hyper-parameters (`lora` must be set).
    pub spec: TrainSpec,
    /// Total projected dimension of the gradient store.
    pub projection_dim: usize,
    /// Build the gradient store with the Gauss-Newton curvature factors (the adapter can then
    /// be registered for `AttributionMethod.GAUSS_NEWTON` as well as DataInf).
    pub curvature: bool,
    /// Continue from the checkpoint of an interrupted run of the same job.
    pub resume: bool,
}

impl AdapterJob {
    /// Runs the job; returns its manifest.
    pub fn run(
        &self,
        cancel: Option<&AtomicBool>,
        events: &mut dyn FnMut(JobEvent<'_>),
    ) -> Result<Manifest> {
        let started = Instant::now();
        let lora =
            self.spec.lora.clone().ok_or_else(|| {
                FactoryError::invalid("an adapter job needs LoRA hyper-parameters")
            })?;
        check_output(&self.out_dir)?;
        if self.projection_dim == 0 {
            return Err(FactoryError::invalid(
                "the projection dimension must be at least 1",
            ));
        }
        events(JobEvent::Stage("loading"));
        let base = load_model_dir(&self.base_dir, &Device::Cpu)?;
        let config = base.model.config().clone();
        self.spec.validate(&config)?;
        let adapter = AdapterVars::init(
            lora.adapter_config(Some(self.base_dir.display().to_string())),
            &config,
            self.spec.seed,
            DType::F32,
            &Device::Cpu,
        )?;
        let docs = read_documents(&self.docs_dir, self.datanet)?;
        let data = Dataset::new(
            docs,
            &base.tokenizer,
            config.bos_token_id,
            config.eos_token_ids.first().copied(),
            self.spec.max_seq_len,
            self.spec.heldout_fraction,
            self.spec.seed,
        )?;
        let base_hash = model_dir_hash(&self.base_dir)?;
        let partial = partial_dir(&self.out_dir, self.resume)?;
        let trainee = Trainee::Lora {
            base: base.model.clone(),
            adapter,
        };
        let heldout = data.heldout_sequences();
        let base_heldout_loss =
            crate::trainer::mean_loss(&base.model, None, &heldout, self.spec.batch_size)?;
        let run = Run {
            spec: &self.spec,
            data: &data,
            partial: &partial,
            identity: base_hash,
            datanet: self.datanet,
            resume: self.resume,
        };
        let (outcome, heldout_loss) = run.train(&trainee, cancel, events)?;
        let Trainee::Lora { adapter, .. } = &trainee else {
            return Err(FactoryError::invalid("an adapter job trains an adapter"));
        };
        events(JobEvent::Stage("saving"));
        let trained = adapter.snapshot()?;
        trained.save_dir(&partial.join("adapter"), StoreDtype::F32)?;
        events(JobEvent::Stage("gradients"));
        let store_path = partial.join("attribution").join("gradients.olgs");
        std::fs::create_dir_all(partial.join("attribution"))
            .map_err(FactoryError::io("creating", &partial))?;
        let header = gradient_store(
            &store_path,
            &base.model,
            adapter,
            &data.train,
            StoreOptions {
                datanet: self.datanet,
                snapshot: data.root,
                projection_dim: self.projection_dim,
                seed: self.spec.seed,
                curvature: self.curvature,
            },
            cancel,
            |done, total| {
                events(JobEvent::Count {
                    done: done as u64,
                    total: total as u64,
                })
            },
        )?;
        // The one object a content store holds; its keccak-256 is the `adapterHash` the owner
        // registers, so it pins the gradient store as well as the weights.
        let (config_json, weights) = trained.to_bytes(StoreDtype::F32)?;
        let store_bytes =
            std::fs::read(&store_path).map_err(FactoryError::io("reading", &store_path))?;
        crate::write_atomic(
            &partial.join(ADAPTER_BUNDLE),
            &ol_inference::adapter::bundle::bundle(&config_json, &weights, Some(&store_bytes))?,
        )?;
        events(JobEvent::Stage("index"));
        let tokenizer_json = base
            .tokenizer
            .to_string(false)
            .map_err(|e| FactoryError::invalid(format!("serialising the tokenizer: {e}")))?;
        build_index(&partial, tokenizer_json.as_bytes(), &data, events)?;
        let manifest = Manifest {
            version: 1,
            kind: JobKind::Lora,
            base_model: Some(BaseRef {
                path: self.base_dir.display().to_string(),
                hash: base_hash,
            }),
            files: {
                let mut files = file_hashes(&partial, "adapter")?;
                let bundle = partial.join(ADAPTER_BUNDLE);
                let bytes = std::fs::read(&bundle).map_err(FactoryError::io("reading", &bundle))?;
                files.insert(ADAPTER_BUNDLE.into(), keccak256(bytes));
                files
            },
            data: snapshot(&data, self.datanet),
            hyperparameters: self.spec.clone(),
            results: results(&outcome, heldout_loss, base_heldout_loss, started),
            artifacts: Artifacts {
                gradient_store: Some("attribution/gradients.olgs".into()),
                gradient_model_hash: Some(header.model_hash),
                lineage_index: "attribution/lineage".into(),
            },
        };
        finish(&partial, &self.out_dir, &manifest)?;
        Ok(manifest)
    }
}

/// Where the tokenizer of a base job comes from.
#[derive(Debug, Clone)]
pub enum TokenizerChoice {
    /// Train a byte-level BPE of this many tokens on the training documents.
    Train {
        /// Vocabulary size, byte tokens and `<|endoftext|>` included.
        vocab_size: usize,
    },
    /// A `tokenizer.json`.
    File(PathBuf),
}

/// Trains a base model from scratch: the architecture of `config` (its `vocab_size` replaced by
/// the tokenizer's), every weight initialised from N(0, 0.02²) (output projections scaled by
/// `1/√(2·layers)`, norms one, biases zero) and trained.
#[derive(Debug, Clone)]
pub struct BaseJob {
    /// The architecture (a Hugging Face `config.json`).
    pub config: ModelConfig,
    /// The documents, one sub-folder per contributor address.
    pub docs_dir: PathBuf,
    /// The Datanet id recorded with the data.
    pub datanet: B256,
    /// The tokenizer.
    pub tokenizer: TokenizerChoice,
    /// The output folder (must not exist or be empty).
    pub out_dir: PathBuf,
    /// The hyper-parameters (`lora` must be `None`).
    pub spec: TrainSpec,
    /// Continue from the checkpoint of an interrupted run of the same job.
    pub resume: bool,
}

impl BaseJob {
    /// Runs the job; returns its manifest.
    pub fn run(
        &self,
        cancel: Option<&AtomicBool>,
        events: &mut dyn FnMut(JobEvent<'_>),
    ) -> Result<Manifest> {
        let started = Instant::now();
        if self.spec.lora.is_some() {
            return Err(FactoryError::invalid(
                "a base job trains every weight: leave out the LoRA hyper-parameters",
            ));
        }
        check_output(&self.out_dir)?;
        events(JobEvent::Stage("loading"));
        let docs = read_documents(&self.docs_dir, self.datanet)?;
        let tokenizer = match &self.tokenizer {
            TokenizerChoice::File(path) => TextTokenizer::from_file(path)?,
            TokenizerChoice::Train { vocab_size } => {
                let texts: Vec<String> = docs
                    .iter()
                    .filter(|d| {
                        !is_heldout(self.spec.seed, d.meta.datapoint, self.spec.heldout_fraction)
                    })
                    .map(|d| d.text.clone())
                    .collect();
                TextTokenizer::train(&texts, *vocab_size)?
            }
        };
        let mut config = self.config.clone();
        config.vocab_size = tokenizer.vocab_size();
        config.bos_token_id = None;
        config.eos_token_ids = tokenizer
            .token_id(ol_attribution::tokenizer::END_OF_TEXT)
            .into_iter()
            .collect();
        config.validate()?;
        self.spec.validate(&config)?;
        let hf_tokenizer = Tokenizer::from_bytes(tokenizer.json())
            .map_err(|e| FactoryError::invalid(format!("the tokenizer: {e}")))?;
        let data = Dataset::new(
            docs,
            &hf_tokenizer,
            None,
            config.eos_token_ids.first().copied(),
            self.spec.max_seq_len,
            self.spec.heldout_fraction,
            self.spec.seed,
        )?;
        let vars = ModelVars::from_tensors(
            config.clone(),
            init_base(&config, self.spec.seed)?,
            DType::F32,
            &Device::Cpu,
        )?;
        let partial = partial_dir(&self.out_dir, self.resume)?;
        let tokenizer_hash = keccak256(tokenizer.json());
        let trainee = Trainee::Full(vars);
        let run = Run {
            spec: &self.spec,
            data: &data,
            partial: &partial,
            identity: tokenizer_hash,
            datanet: self.datanet,
            resume: self.resume,
        };
        let (outcome, heldout_loss) = run.train(&trainee, cancel, events)?;
        let Trainee::Full(vars) = &trainee else {
            return Err(FactoryError::invalid("a base job trains a model"));
        };
        events(JobEvent::Stage("saving"));
        save_model_dir(
            &vars.snapshot()?,
            &hf_tokenizer,
            &partial.join("model"),
            SaveOptions::default(),
        )?;
        events(JobEvent::Stage("index"));
        std::fs::create_dir_all(partial.join("attribution"))
            .map_err(FactoryError::io("creating", &partial))?;
        build_index(&partial, tokenizer.json(), &data, events)?;
        let manifest = Manifest {
            version: 1,
            kind: JobKind::Base,
            base_model: None,
            files: file_hashes(&partial, "model")?,
            data: snapshot(&data, self.datanet),
            hyperparameters: self.spec.clone(),
            results: results(&outcome, heldout_loss, None, started),
            artifacts: Artifacts {
                gradient_store: None,
                gradient_model_hash: None,
                lineage_index: "attribution/lineage".into(),
            },
        };
        finish(&partial, &self.out_dir, &manifest)?;
        Ok(manifest)
    }
}

/// The training part shared by both kinds of job.
struct Run<'a> {
    spec: &'a TrainSpec,
    data: &'a Dataset,
    partial: &'a Path,
    /// What the model starts from (the base's hash, or the tokenizer's for a base job).
    identity: B256,
    datanet: B256,
    resume: bool,
}

impl Run<'_> {
    /// Trains on the training split with checkpoints in `<partial>/checkpoint`; returns the
    /// outcome and the held-out loss.
    fn train(
        &self,
        trainee: &Trainee,
        cancel: Option<&AtomicBool>,
        events: &mut dyn FnMut(JobEvent<'_>),
    ) -> Result<(TrainOutcome, Option<f64>)> {
        let job = fingerprint(self.spec, self.identity, self.data.root, self.datanet)?;
        let checkpoints = Checkpoints::new(&self.partial.join("checkpoint"), job);
        let seqs = self.data.train_sequences();
        events(JobEvent::Stage("training"));
        let outcome = train(
            trainee,
            &seqs,
            self.spec,
            &checkpoints,
            self.resume,
            cancel,
            |r| events(JobEvent::Step(r)),
        )?;
        let heldout = trainee.mean_loss(&self.data.heldout_sequences(), self.spec.batch_size)?;
        Ok((outcome, heldout))
    }
}

fn results(
    outcome: &TrainOutcome,
    heldout_loss: Option<f64>,
    base_heldout_loss: Option<f64>,
    started: Instant,
) -> Results {
    Results {
        steps: outcome.steps,
        train_tokens: outcome.tokens,
        final_train_loss: outcome.final_train_loss,
        heldout_loss,
        base_heldout_loss,
        wall_time_s: started.elapsed().as_secs_f64(),
        resumed_at_step: outcome.resumed_at,
    }
}

fn build_index(
    partial: &Path,
    tokenizer_json: &[u8],
    data: &Dataset,
    events: &mut dyn FnMut(JobEvent<'_>),
) -> Result<()> {
    lineage_index(
        &partial.join("attribution").join("lineage"),
        tokenizer_json,
        &data.train_texts,
        |stage, done, total| {
            if stage != BuildStage::Sorting {
                events(JobEvent::Count { done, total });
            }
        },
    )?;
    Ok(())
}

fn snapshot(data: &Dataset, datanet: B256) -> DataSnapshot {
    DataSnapshot {
        datanet,
        root: data.root,
        datapoints: data.datapoints.clone(),
    }
}

/// The identity of a job, so a checkpoint is only resumed by the job that wrote it.
fn fingerprint(spec: &TrainSpec, model: B256, data: B256, datanet: B256) -> Result<String> {
    let mut buf = serde_json::to_vec(spec)
        .map_err(|e| FactoryError::invalid(format!("serialising the spec: {e}")))?;
    buf.extend_from_slice(model.as_slice());
    buf.extend_from_slice(data.as_slice());
    buf.extend_from_slice(datanet.as_slice());
    Ok(keccak256(buf).to_string())
}

/// Refuses an output folder that holds anything (a finished job above all).
fn check_output(out: &Path) -> Result<()> {
    if out.join(MANIFEST).exists() {
        return Err(FactoryError::invalid(format!(
            "{} already holds a finished job",
            out.display()
        )));
    }
    if let Ok(mut entries) = std::fs::read_dir(out)
        && entries.next().is_some()
    {
        return Err(FactoryError::invalid(format!(
            "{} exists and is not empty",
            out.display()
        )));
    }
    Ok(())
}

/// `<out>.partial`, emptied unless resuming.
fn partial_dir(out: &Path, resume: bool) -> Result<PathBuf> {
    let name = out
        .file_name()
        .ok_or_else(|| FactoryError::invalid(format!("{} has no folder name", out.display())))?;
    let partial = out.with_file_name(format!("{}.partial", name.to_string_lossy()));
    if !resume && partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(FactoryError::io("removing", &partial))?;
    }
    for sub in ["adapter", "model", "attribution"] {
        // Outputs of an interrupted run are rebuilt; only the checkpoint carries over.
        let p = partial.join(sub);
        if p.exists() {
            std::fs::remove_dir_all(&p).map_err(FactoryError::io("removing", &p))?;
        }
    }
    std::fs::create_dir_all(&partial).map_err(FactoryError::io("creating", &partial))?;
    Ok(partial)
}

/// Writes the manifest last, drops the checkpoint and moves the folder into place.
fn finish(partial: &Path, out: &Path, manifest: &Manifest) -> Result<()> {
    let checkpoint = partial.join("checkpoint");
    if checkpoint.exists() {
        std::fs::remove_dir_all(&checkpoint).map_err(FactoryError::io("removing", &checkpoint))?;
    }
    manifest.write(partial)?;
    if out.exists() {
        std::fs::remove_dir(out).map_err(FactoryError::io("replacing the empty folder", out))?;
    }
    std::fs::rename(partial, out).map_err(FactoryError::io("renaming", partial))
}

/// N(0, std²) values from `rng` (Box–Muller).
fn normal(rng: &mut Rng, n: usize, std: f64) -> Vec<f32> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let u1 = rng.next_f64().max(f64::MIN_POSITIVE);
        let u2 = rng.next_f64();
        let r = (-2.0 * u1.ln()).sqrt() * std;
        let t = 2.0 * std::f64::consts::PI * u2;
        out.push((r * t.cos()) as f32);
        if out.len() < n {
            out.push((r * t.sin()) as f32);
        }
    }
    out
}

/// The initial weights of a base job (see [`BaseJob`]), in checkpoint names.
fn init_base(config: &ModelConfig, seed: u64) -> Result<BTreeMap<String, Tensor>> {
    let mut rng = Rng::new(seed ^ 0x6261_7365);
    let dev = Device::Cpu;
    let std = 0.02;
    let out_std = std / (2.0 * config.num_hidden_layers as f64).sqrt();
    let (h, v) = (config.hidden_size, config.vocab_size);
    let mut t = BTreeMap::new();
    let mut put = |name: String, values: Vec<f32>, shape: Vec<usize>| -> Result<()> {
        t.insert(name, Tensor::from_vec(values, shape, &dev)?);
        Ok(())
    };
    put(
        "model.embed_tokens.weight".into(),
        normal(&mut rng, v * h, std),
        vec![v, h],
    )?;
    for layer in 0..config.num_hidden_layers {
        let prefix = format!("model.layers.{layer}");
        put(
            format!("{prefix}.input_layernorm.weight"),
            vec![1.0; h],
            vec![h],
        )?;
        put(
            format!("{prefix}.post_attention_layernorm.weight"),
            vec![1.0; h],
            vec![h],
        )?;
        for target in Target::ALL {
            let (fan_in, fan_out) = target.in_out(config);
            let s = if matches!(target, Target::O | Target::Down) {
                out_std
            } else {
                std
            };
            let path = target.module_path(layer);
            put(
                format!("{path}.weight"),
                normal(&mut rng, fan_in * fan_out, s),
                vec![fan_out, fan_in],
            )?;
            if target.has_bias(config) {
                put(format!("{path}.bias"), vec![0.0; fan_out], vec![fan_out])?;
            }
        }
    }
    put("model.norm.weight".into(), vec![1.0; h], vec![h])?;
    if !config.tie_word_embeddings {
        put(
            "lm_head.weight".into(),
            normal(&mut rng, v * h, std),
            vec![v, h],
        )?;
    }
    Ok(t)
}
