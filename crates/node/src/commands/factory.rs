//! `openledger factory`: the Model Factory (`ol-factory`): train LoRA adapters of a base model,
//! or a small base model from scratch, on a folder of Datanet documents, with the attribution
//! artifacts built in the same job; print a job's manifest; write the generated corpus.

use super::attribution::parse_datanet;
use alloy_primitives::B256;
use clap::{Args, Subcommand};
use eyre::{WrapErr, bail, eyre};
use indicatif::{ProgressBar, ProgressStyle};
use ol_attribution::data::CorpusSpec;
use ol_factory::{
    AdapterJob, BaseJob, JobEvent, LrSchedule, Manifest, TokenizerChoice, TrainSpec,
    data::write_generated_corpus,
};
use ol_inference::ModelConfig;
use ol_workers::thread_budget;
use std::path::PathBuf;

/// The Model Factory.
#[derive(Debug, Clone, Args)]
pub struct FactoryCommand {
    /// The factory command.
    #[command(subcommand)]
    pub command: FactorySubcommand,
}

/// The factory commands.
#[derive(Debug, Clone, Subcommand)]
pub enum FactorySubcommand {
    /// Train a LoRA adapter (or, with --from-scratch, a base model) on a documents folder
    ///
    /// The folder holds one sub-folder per contributor, named by the contributor's address,
    /// with one UTF-8 document per file (the layout of `attribution index build`). Writes to
    /// --out: `adapter/` (PEFT: adapter_config.json + adapter_model.safetensors) or `model/`
    /// (Hugging Face layout), `attribution/gradients.olgs` (DataInf gradient store, adapters),
    /// `attribution/lineage/` (suffix-array index) and `manifest.json`. The job works in
    /// `<out>.partial/`, renamed to <out> only when complete; --resume continues an
    /// interrupted job from its last checkpoint, bit for bit as if it had not stopped.
    #[command(verbatim_doc_comment)]
    Train(Box<TrainArgs>),
    /// Print the manifest of a finished job (and check its files' hashes).
    Info(InfoArgs),
    /// Write the project's generated text corpus in the documents layout
    ///
    /// Sentences of invented words, one sub-folder per contributor, with planted canary
    /// sentences listed in `.canaries.json`: text made by this project (under its licence),
    /// for training the project's own base model where no data set can be downloaded.
    #[command(verbatim_doc_comment)]
    Corpus(CorpusArgs),
}

/// `openledger factory train`.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// The base model folder (Hugging Face layout) whose adapter is trained.
    #[arg(
        long = "base",
        value_name = "DIR",
        required_unless_present = "from_scratch"
    )]
    pub base: Option<PathBuf>,
    /// Train a base model from scratch with the architecture of --config.
    #[arg(long = "from-scratch", requires = "config", conflicts_with = "base")]
    pub from_scratch: bool,
    /// The architecture of a from-scratch model (a Hugging Face config.json; its vocab_size is
    /// replaced by the tokenizer's).
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Train a byte-level BPE tokenizer on the training documents (from-scratch only).
    #[arg(
        long = "tokenizer-train",
        requires = "from_scratch",
        conflicts_with = "tokenizer"
    )]
    pub tokenizer_train: bool,
    /// Vocabulary size of a trained tokenizer.
    #[arg(long = "vocab-size", default_value_t = 2048, value_name = "N")]
    pub vocab_size: usize,
    /// A tokenizer.json for a from-scratch model (default with --from-scratch: train one).
    #[arg(long = "tokenizer", value_name = "FILE", requires = "from_scratch")]
    pub tokenizer: Option<PathBuf>,
    /// The documents folder (one sub-folder per contributor address).
    #[arg(long = "docs", value_name = "DIR", required_unless_present = "rpc")]
    pub docs: Option<PathBuf>,
    /// The Datanet of the documents: a 0x-prefixed 32-byte id, or a name (hashed with keccak256);
    /// with --rpc, the on-chain Datanet id whose approved contributions are trained on.
    #[arg(long = "datanet", default_value = "default", value_name = "ID")]
    pub datanet: String,
    /// Train on a Datanet's approved contributions as the node at this URL holds them (chain
    /// state at its head, the content store read with --key), instead of --docs.
    #[arg(
        long = "rpc",
        value_name = "URL",
        requires = "key",
        conflicts_with = "docs"
    )]
    pub rpc: Option<alloy::transports::http::reqwest::Url>,
    /// With --rpc: the key file (hex) that signs the content reads (the Datanet's owner or a
    /// curator, an attestor or a verifier of the node).
    #[arg(long = "key", value_name = "PATH", requires = "rpc")]
    pub key: Option<PathBuf>,
    /// The output folder (must not exist, or be empty).
    #[arg(long = "out", value_name = "DIR")]
    pub out: PathBuf,
    /// LoRA rank.
    #[arg(long = "rank", default_value_t = 8, value_name = "R")]
    pub rank: usize,
    /// LoRA alpha.
    #[arg(long = "alpha", default_value_t = 16.0, value_name = "ALPHA")]
    pub alpha: f64,
    /// Projections that get the adapter.
    #[arg(
        long = "target-modules",
        value_delimiter = ',',
        default_value = "q_proj,k_proj,v_proj,o_proj",
        value_name = "NAMES"
    )]
    pub target_modules: Vec<String>,
    /// Peak learning rate.
    #[arg(long = "lr", default_value_t = 1e-3, value_name = "LR")]
    pub lr: f64,
    /// Learning-rate schedule after warm-up: constant, linear or cosine.
    #[arg(long = "schedule", default_value = "cosine", value_name = "NAME")]
    pub schedule: String,
    /// Optimiser steps of linear warm-up.
    #[arg(long = "warmup-steps", default_value_t = 0, value_name = "N")]
    pub warmup_steps: usize,
    /// Passes over the training documents.
    #[arg(long = "epochs", default_value_t = 1, value_name = "N")]
    pub epochs: usize,
    /// Sequences per micro-batch.
    #[arg(long = "batch-size", default_value_t = 8, value_name = "N")]
    pub batch_size: usize,
    /// Micro-batches per optimiser step (gradient accumulation).
    #[arg(long = "grad-accum", default_value_t = 1, value_name = "N")]
    pub grad_accum: usize,
    /// Tokens per training sequence.
    #[arg(long = "max-seq-len", default_value_t = 128, value_name = "N")]
    pub max_seq_len: usize,
    /// AdamW weight decay.
    #[arg(long = "weight-decay", default_value_t = 0.0, value_name = "WD")]
    pub weight_decay: f64,
    /// Share of documents held out for the final loss.
    #[arg(long = "heldout-fraction", default_value_t = 0.1, value_name = "F")]
    pub heldout_fraction: f64,
    /// Checkpoint every N optimiser steps (always at the end of an epoch).
    #[arg(long = "checkpoint-every", default_value_t = 50, value_name = "N")]
    pub checkpoint_every: usize,
    /// Seed of the initialisation, the held-out split and the shuffles.
    #[arg(long = "seed", default_value_t = 0, value_name = "N")]
    pub seed: u64,
    /// Projected dimension of the gradient store (a gradient no larger is stored exactly).
    #[arg(long = "projection-dim", default_value_t = 4096, value_name = "N")]
    pub projection_dim: usize,
    /// The attribution method the gradient store is built for: `datainf` (rows only) or
    /// `gauss-newton` (rows and curvature factors; serves DataInf too).
    #[arg(long = "attribution-method", default_value = "datainf", value_parser = ["datainf", "gauss-newton"], value_name = "METHOD")]
    pub attribution_method: String,
    /// Continue an interrupted job from its checkpoint in `<out>.partial/`.
    #[arg(long = "resume")]
    pub resume: bool,
    /// Compute threads (default: the cores minus one). The result does not depend on it.
    #[arg(long = "threads", value_name = "N")]
    pub threads: Option<usize>,
}

/// `openledger factory info`.
#[derive(Debug, Clone, Args)]
pub struct InfoArgs {
    /// A finished job's folder.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// `openledger factory corpus`.
#[derive(Debug, Clone, Args)]
pub struct CorpusArgs {
    /// Where to write the documents.
    #[arg(long = "out", value_name = "DIR")]
    pub out: PathBuf,
    /// Contributors.
    #[arg(long = "contributors", default_value_t = 20, value_name = "N")]
    pub contributors: usize,
    /// Documents per contributor.
    #[arg(long = "docs-per-contributor", default_value_t = 4, value_name = "N")]
    pub docs_per_contributor: usize,
    /// Sentences per document.
    #[arg(long = "sentences-per-doc", default_value_t = 6, value_name = "N")]
    pub sentences_per_doc: usize,
    /// Planted canary sentences.
    #[arg(long = "canaries", default_value_t = 10, value_name = "N")]
    pub canaries: usize,
    /// Seed.
    #[arg(long = "seed", default_value_t = 1, value_name = "N")]
    pub seed: u64,
}

impl TrainArgs {
    /// The hyper-parameters, built as `ol_trainAdapter` builds them, with this command's
    /// checkpoint interval; no adapter for a from-scratch model.
    fn spec(&self) -> eyre::Result<TrainSpec> {
        let params = ol_jobs::training::TrainingParams {
            rank: self.rank,
            alpha: self.alpha,
            target_modules: self.target_modules.clone(),
            learning_rate: self.lr,
            schedule: self.schedule.parse::<LrSchedule>()?,
            warmup_steps: self.warmup_steps,
            epochs: self.epochs,
            batch_size: self.batch_size,
            grad_accum: self.grad_accum,
            max_seq_len: self.max_seq_len,
            weight_decay: self.weight_decay,
            heldout_fraction: self.heldout_fraction,
            seed: self.seed,
            projection_dim: self.projection_dim,
            curvature: self.attribution_method == "gauss-newton",
        };
        let mut spec = params.spec();
        if self.from_scratch {
            spec.lora = None;
        }
        spec.checkpoint_every = self.checkpoint_every;
        Ok(spec)
    }
}

/// A progress display for a job: a bar over the optimiser steps with tokens/s and the loss,
/// then one over each artifact stage.
fn display() -> impl FnMut(JobEvent<'_>) {
    let bar = ProgressBar::hidden();
    let mut stage = "";
    move |event| match event {
        JobEvent::Stage(s) => {
            bar.finish_and_clear();
            stage = s;
            bar.reset();
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>10} [{bar:40}] {pos}/{len} {msg} ({elapsed})",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(s);
            bar.set_length(0);
        }
        JobEvent::Step(r) => {
            bar.set_length(r.total_steps as u64);
            bar.set_position(r.step as u64);
            bar.set_message(format!(
                "loss {:.4} · {:.0} tok/s · lr {:.2e}",
                r.loss, r.tokens_per_s, r.lr
            ));
        }
        JobEvent::Count { done, total } => {
            bar.set_length(total);
            bar.set_position(done);
            bar.set_message(stage);
        }
    }
}

fn print_manifest(dir: &std::path::Path, m: &Manifest) -> eyre::Result<()> {
    let r = &m.results;
    let fmt = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"));
    println!("job:          {} ({:?})", dir.display(), m.kind);
    if let Some(b) = &m.base_model {
        println!("base model:   {} (hash {})", b.path, b.hash);
    }
    if m.kind == ol_factory::JobKind::Base {
        // What `ModelRegistry.registerBaseModel` takes, and what a node serving it checks.
        let model = dir.join("model");
        println!(
            "weights hash: {} ({})",
            ol_factory::manifest::model_dir_hash(&model)?,
            model.display()
        );
    }
    let train = m
        .data
        .datapoints
        .iter()
        .filter(|d| d.split == ol_factory::Split::Train)
        .count();
    println!(
        "data:         Datanet {}: {} documents ({} train, {} held out), snapshot root {}",
        m.data.datanet,
        m.data.datapoints.len(),
        train,
        m.data.datapoints.len() - train,
        m.data.root
    );
    println!(
        "training:     {} steps, {} tokens, seed {}, wall time {:.1} s{}",
        r.steps,
        r.train_tokens,
        m.hyperparameters.seed,
        r.wall_time_s,
        r.resumed_at_step
            .map_or_else(String::new, |s| format!(" (resumed at step {s})"))
    );
    println!(
        "loss:         train {:.4}, held-out {} (base model alone: {})",
        r.final_train_loss,
        fmt(r.heldout_loss),
        fmt(r.base_heldout_loss)
    );
    for (file, hash) in &m.files {
        println!("file:         {file} {hash}");
    }
    if let Some(store) = &m.artifacts.gradient_store {
        println!("gradients:    {store}");
    }
    println!("lineage:      {}", m.artifacts.lineage_index);
    println!(
        "hyper-parameters: {}",
        serde_json::to_string(&m.hyperparameters)?
    );
    Ok(())
}

/// Fetches the approved contributions of the on-chain Datanet `--datanet` from the node at
/// `url` into `<out>.docs/<contributor>/<contentHash>.txt` (so each document's keccak is its
/// `contentHash`); the Datanet id as the manifest records it and the folder.
fn fetch_datanet(
    args: &TrainArgs,
    url: &alloy::transports::http::reqwest::Url,
) -> eyre::Result<(B256, PathBuf)> {
    let id: alloy_primitives::U256 = args
        .datanet
        .parse()
        .map_err(|_| eyre!("--datanet {} is not an on-chain Datanet id", args.datanet))?;
    let key = args
        .key
        .as_ref()
        .ok_or_else(|| eyre!("--rpc needs --key"))?;
    let runtime = tokio::runtime::Runtime::new().wrap_err("starting the tokio runtime")?;
    let inputs = super::remote::RpcInputs::connect(
        &runtime,
        url,
        crate::args::read_key_file(key, "--key")?,
    )?
    .for_datanet(id);
    let head = inputs.head()?;
    let documents = ol_jobs::approved_documents(&inputs, head, id)?;
    if documents.is_empty() {
        bail!("Datanet {id} has no approved contribution this key can read at block {head}");
    }
    let mut folder = args.out.clone().into_os_string();
    folder.push(".docs");
    let folder = PathBuf::from(folder);
    ol_factory::data::write_documents(&folder, &documents)?;
    eprintln!(
        "Datanet {id}: {} approved contributions at block {head} -> {}",
        documents.len(),
        folder.display()
    );
    Ok((B256::from(id), folder))
}

impl FactoryCommand {
    /// Runs the command.
    pub fn execute(self) -> eyre::Result<()> {
        match self.command {
            FactorySubcommand::Train(args) => {
                let threads = args.threads.unwrap_or_else(|| thread_budget(1));
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build_global()
                    .wrap_err("starting the compute threads")?;
                let (datanet, docs) = match &args.rpc {
                    Some(url) => fetch_datanet(&args, url)?,
                    None => (
                        parse_datanet(&args.datanet)?,
                        args.docs
                            .clone()
                            .ok_or_else(|| eyre!("--docs DIR is required"))?,
                    ),
                };
                let spec = args.spec()?;
                let mut show = display();
                let manifest = if args.from_scratch {
                    let path = args
                        .config
                        .as_ref()
                        .ok_or_else(|| eyre!("--from-scratch needs --config"))?;
                    let bytes = std::fs::read(path)
                        .wrap_err_with(|| format!("reading {}", path.display()))?;
                    let config = ModelConfig::from_json(&bytes)
                        .wrap_err_with(|| format!("{}", path.display()))?;
                    let tokenizer = match &args.tokenizer {
                        Some(file) => TokenizerChoice::File(file.clone()),
                        None => TokenizerChoice::Train {
                            vocab_size: args.vocab_size,
                        },
                    };
                    BaseJob {
                        config,
                        docs_dir: docs,
                        datanet,
                        tokenizer,
                        out_dir: args.out.clone(),
                        spec,
                        resume: args.resume,
                    }
                    .run(None, &mut show)?
                } else {
                    let Some(base) = &args.base else {
                        bail!("--base DIR (or --from-scratch) is required");
                    };
                    AdapterJob {
                        base_dir: base.clone(),
                        docs_dir: docs,
                        datanet,
                        out_dir: args.out.clone(),
                        spec,
                        projection_dim: args.projection_dim,
                        curvature: args.attribution_method == "gauss-newton",
                        resume: args.resume,
                    }
                    .run(None, &mut show)?
                };
                show(JobEvent::Stage(""));
                print_manifest(&args.out, &manifest)
            }
            FactorySubcommand::Info(args) => {
                let manifest = Manifest::read(&args.dir)?;
                print_manifest(&args.dir, &manifest)
            }
            FactorySubcommand::Corpus(args) => {
                let corpus = write_generated_corpus(
                    &args.out,
                    CorpusSpec {
                        contributors: args.contributors,
                        docs_per_contributor: args.docs_per_contributor,
                        sentences_per_doc: args.sentences_per_doc,
                        canaries: args.canaries,
                        seed: args.seed,
                    },
                )?;
                println!(
                    "wrote {} documents of {} contributors with {} canaries to {}",
                    corpus.docs.len(),
                    corpus.contributors.len(),
                    corpus.canaries.len(),
                    args.out.display()
                );
                Ok(())
            }
        }
    }
}
