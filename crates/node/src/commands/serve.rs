//! `openledger serve`: the OpenAI-compatible inference server (OpenLoRA) on its own.

use crate::args::InferenceArgs;
use clap::Args;
use eyre::{WrapErr, bail};
use ol_inference::{
    Engine, adapter,
    serve::{AdapterCache, AdapterSource, Scheduler, SchedulerConfig, Step, StepRunner},
};
use ol_serve::{ApiConfig, ApiState};
use ol_workers::{Priority, SubmitError, WorkerPool};
use parking_lot::Mutex;
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

/// Serve a base model and its LoRA adapters over the OpenAI API (vLLM's routes)
#[derive(Debug, Args)]
pub struct ServeCommand {
    /// The base model: a folder in the Hugging Face layout (config.json, safetensors weights,
    /// tokenizer.json).
    #[arg(long = "model", value_name = "DIR")]
    pub model: PathBuf,

    /// A folder of PEFT adapters, one sub-folder per adapter, served under the sub-folder's
    /// name (loaded on first use).
    #[arg(long = "adapters", value_name = "DIR")]
    pub adapters: Option<PathBuf>,

    /// Address to listen on.
    #[arg(long = "http.addr", value_name = "HTTP_ADDR", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub http_addr: IpAddr,

    /// Port to listen on (0 picks a free port; the bound address is logged).
    #[arg(long = "http.port", value_name = "HTTP_PORT", default_value_t = 8000)]
    pub http_port: u16,

    /// The engine and its adapter cache.
    #[command(flatten)]
    pub inference: InferenceArgs,
}

impl ServeCommand {
    /// Loads the model and serves until SIGINT or SIGTERM.
    pub fn execute(self) -> eyre::Result<()> {
        let runtime = super::service_runtime()?;
        runtime.block_on(async move {
            let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .wrap_err("cannot install the metrics recorder")?;
            crate::metrics::describe_inference();
            let workers = super::jobs::node_pool()?;
            let state = start_api(
                &self.model,
                self.adapters.as_deref(),
                &self.inference,
                Some(metrics),
                PoolSteps::on(workers),
            )?;
            let addr = SocketAddr::new(self.http_addr, self.http_port);
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .wrap_err_with(|| format!("cannot listen on {addr}"))?;
            let bound = listener.local_addr().wrap_err("reading the bound address")?;
            tracing::info!(target: "inference", url = %format!("http://{bound}/v1"), "OpenAI-compatible API listening");
            let mut signals = super::signals::Signals::new().wrap_err("cannot watch stop signals")?;
            ol_serve::serve(listener, state, async move {
                let sig = signals.next().await;
                tracing::info!(target: "inference", signal = sig, "stopping the inference server");
            })
            .await
            .wrap_err("the inference server failed")
        })
    }
}

/// The serving loop's steps as high-priority jobs of a worker pool (the node's), so serving
/// and the pool's other jobs take turns on its worker instead of competing for the cores.
#[derive(Debug)]
pub(crate) struct PoolSteps(Arc<WorkerPool>);

impl PoolSteps {
    /// Steps on `workers`.
    pub(crate) fn on(workers: Arc<WorkerPool>) -> Arc<dyn StepRunner> {
        Arc::new(Self(workers))
    }
}

impl StepRunner for PoolSteps {
    fn run(&self, step: Step) -> Result<(), String> {
        // Kept outside the job so that a refused submission can be made again.
        let slot = Arc::new(Mutex::new(Some(step)));
        loop {
            let job = slot.clone();
            let submitted = self.0.submit("inference step", Priority::High, move |_| {
                if let Some(step) = job.lock().take() {
                    step();
                }
                Ok(())
            });
            match submitted {
                Ok(handle) => return handle.wait().map_err(|e| e.to_string()),
                // Only other high-priority work fills this queue; it drains in a step's time.
                Err(SubmitError::QueueFull { .. }) => std::thread::sleep(Duration::from_millis(1)),
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}

/// Loads the base model and the adapters folder and starts the serving loop, whose steps run
/// on `steps`.
pub(crate) fn start_api(
    model_dir: &Path,
    adapters_dir: Option<&Path>,
    args: &InferenceArgs,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    steps: Arc<dyn StepRunner>,
) -> eyre::Result<Arc<ApiState>> {
    let device = ol_workers::resolve_device(args.device).device;
    let started = std::time::Instant::now();
    let base = ol_inference::load_model_dir(model_dir, &device)
        .wrap_err_with(|| format!("cannot load the model in {}", model_dir.display()))?;
    let c = base.model.config();
    tracing::info!(
        target: "inference",
        model = %model_dir.display(),
        architecture = c.architecture.model_type(),
        layers = c.num_hidden_layers,
        hidden = c.hidden_size,
        vocab = c.vocab_size,
        context = c.max_position_embeddings,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "base model loaded"
    );
    let budget = usize::try_from(args.adapter_cache_bytes).unwrap_or(usize::MAX);
    let cache = Arc::new(AdapterCache::new(c.clone(), device, budget));
    if let Some(dir) = adapters_dir {
        let n = register_folder(&cache, dir)?;
        tracing::info!(target: "inference", folder = %dir.display(), adapters = n, "adapters registered");
    }
    for name in &args.pinned_adapters {
        cache
            .pin(name)
            .wrap_err_with(|| format!("cannot pin adapter `{name}`"))?;
    }
    let threads = args.threads.unwrap_or_else(|| ol_workers::thread_budget(1));
    let mut engine = Engine::new(Arc::new(base.model.clone()), threads)
        .wrap_err("cannot start the inference engine")?;
    if !base.generation.eos_token_ids.is_empty() {
        engine.set_eos_token_ids(base.generation.eos_token_ids.clone());
    }
    let scheduler = Scheduler::start(
        engine,
        Arc::new(base.tokenizer.clone()),
        cache,
        SchedulerConfig {
            max_batch_size: args.max_batch_size,
            max_prefill_tokens: args.max_prefill_tokens,
            max_waiting: args.max_waiting,
            loader_threads: 2,
            steps,
        },
    )
    .wrap_err("cannot start the scheduler")?;
    let served_model_name = match &args.served_model_name {
        Some(n) => n.clone(),
        None => folder_name(model_dir)?,
    };
    let config = ApiConfig {
        served_model_name,
        model_root: model_dir.to_path_buf(),
        allow_adapter_updates: args.allow_adapter_updates,
    };
    let state = ApiState::new(scheduler, &base, config, metrics)
        .map_err(|e| eyre::eyre!("{}: {e}", model_dir.display()))?;
    Ok(Arc::new(state))
}

/// Registers every sub-folder of `dir` that holds an adapter config, named by the folder.
fn register_folder(cache: &AdapterCache, dir: &Path) -> eyre::Result<usize> {
    let entries = std::fs::read_dir(dir)
        .wrap_err_with(|| format!("cannot read the adapters folder {}", dir.display()))?;
    let mut folders: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(adapter::ADAPTER_CONFIG).is_file())
        .collect();
    folders.sort();
    for path in &folders {
        let name = folder_name(path)?;
        cache
            .register(&name, AdapterSource::Dir(path.clone()))
            .wrap_err_with(|| format!("cannot register the adapter in {}", path.display()))?;
    }
    if folders.is_empty() {
        bail!(
            "{} holds no adapter: expected sub-folders with {}",
            dir.display(),
            adapter::ADAPTER_CONFIG
        );
    }
    Ok(folders.len())
}

fn folder_name(path: &Path) -> eyre::Result<String> {
    let canonical = path
        .canonicalize()
        .wrap_err_with(|| format!("cannot resolve {}", path.display()))?;
    canonical
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| eyre::eyre!("{} has no usable folder name", path.display()))
}
