//! What the inference benchmark runs on: a Llama model with random weights written in the
//! Hugging Face layout and loaded back the way `openledger serve` loads one, random PEFT
//! adapters, and a LoRA kernel wrapper that times the per-row deltas (the built-in profile).

use candle_core::{Device, Tensor};
use eyre::WrapErr;
use ol_inference::{
    AdapterConfig, BaseModel, LlamaModel, LoraAdapter, ModelConfig, SaveOptions, Target,
    kernels::{CpuLoraKernel, LoraGroup, LoraKernel, PerAdapterLoraKernel},
    load_model_dir,
    model::byte_level_tokenizer,
    save_model_dir,
};
use serde::Serialize;
use serde_json::json;
use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

/// The special tokens of the benchmark tokenizer (ids 256..260 after the 256 bytes).
const SPECIALS: [&str; 4] = ["<s>", "</s>", "<pad>", "<unk>"];

/// The benchmark model's shape, as reported.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ModelInfo {
    /// Always "random": the weights are drawn from a seed, not trained.
    pub(crate) weights: &'static str,
    pub(crate) architecture: &'static str,
    pub(crate) parameters: usize,
    pub(crate) hidden_size: usize,
    pub(crate) intermediate_size: usize,
    pub(crate) layers: usize,
    pub(crate) attention_heads: usize,
    pub(crate) kv_heads: usize,
    pub(crate) vocab_size: usize,
    /// Seconds `load_model_dir` took to read the folder back.
    pub(crate) load_seconds: f64,
}

/// The configuration of the benchmark model: `quick` is a CI-sized one.
///
/// The full one is a 10-block Llama with grouped-query attention, 512 wide, about 30M
/// parameters. Its vocabulary is the byte-level tokenizer's 260 tokens: a real model's large
/// vocabulary would add an LM head that costs the same with or without adapters and so make
/// the adapters look cheaper; this one leaves the blocks, where the deltas are, as nearly all
/// of the work.
pub(crate) fn model_config(quick: bool) -> eyre::Result<ModelConfig> {
    let (hidden, intermediate, layers, heads, kv_heads) = if quick {
        (64, 128, 2, 4, 2)
    } else {
        (512, 1408, 10, 8, 4)
    };
    let value = json!({
        "model_type": "llama", "architectures": ["LlamaForCausalLM"],
        "hidden_size": hidden, "intermediate_size": intermediate,
        "num_hidden_layers": layers, "num_attention_heads": heads,
        "num_key_value_heads": kv_heads, "vocab_size": 256 + SPECIALS.len(),
        "max_position_embeddings": 1024, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "tie_word_embeddings": true, "bos_token_id": 256, "eos_token_id": 257,
        "hidden_act": "silu",
    });
    ModelConfig::from_json(value.to_string().as_bytes()).wrap_err("the benchmark model config")
}

/// Writes a random model in the Hugging Face layout to `dir` and loads it back with
/// [`load_model_dir`], as `openledger serve --model` would.
pub(crate) fn write_and_load(
    config: ModelConfig,
    seed: u64,
    dir: &Path,
) -> eyre::Result<(BaseModel, ModelInfo)> {
    let random = LlamaModel::random(config.clone(), seed, &Device::Cpu)?;
    let tokenizer = byte_level_tokenizer(&SPECIALS)?;
    save_model_dir(&random, &tokenizer, dir, SaveOptions::default())
        .wrap_err_with(|| format!("writing the benchmark model to {}", dir.display()))?;
    drop(random);
    let started = Instant::now();
    let base = load_model_dir(dir, &Device::Cpu)
        .wrap_err_with(|| format!("loading the benchmark model from {}", dir.display()))?;
    let load_seconds = started.elapsed().as_secs_f64();
    let parameters = base
        .model
        .to_tensors()?
        .values()
        .map(Tensor::elem_count)
        .sum();
    let info = ModelInfo {
        weights: "random",
        architecture: "llama",
        parameters,
        hidden_size: config.hidden_size,
        intermediate_size: config.intermediate_size,
        layers: config.num_hidden_layers,
        attention_heads: config.num_attention_heads,
        kv_heads: config.num_key_value_heads,
        vocab_size: config.vocab_size,
        load_seconds,
    };
    Ok((base, info))
}

/// A random adapter of rank `r` (alpha `2r`, so scale 2) on all seven projections of every
/// block, as QLoRA's "all-linear" trains them: the most work a LoRA adds per token.
pub(crate) fn adapter(config: &ModelConfig, r: usize, seed: u64) -> eyre::Result<Arc<LoraAdapter>> {
    let adapter_config = AdapterConfig::new(r, 2.0 * r as f64, &Target::ALL);
    Ok(Arc::new(LoraAdapter::random(
        adapter_config,
        config,
        seed,
        &Device::Cpu,
    )?))
}

/// Prompt `index` of the benchmark: `len` byte tokens, different for every request.
pub(crate) fn prompt(index: usize, len: usize) -> Vec<u32> {
    (0..len)
        .map(|j| ((index * 131 + j * 29 + 7) % 256) as u32)
        .collect()
}

/// Time spent in the LoRA kernel, shared by the engines of one measurement.
#[derive(Debug, Default)]
pub(crate) struct LoraTime {
    nanos: AtomicU64,
}

impl LoraTime {
    /// Seconds recorded so far.
    pub(crate) fn seconds(&self) -> f64 {
        self.nanos.load(Ordering::Relaxed) as f64 / 1e9
    }

    /// Starts again from zero.
    pub(crate) fn reset(&self) {
        self.nanos.store(0, Ordering::Relaxed);
    }
}

/// Which CPU LoRA kernel the engines use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KernelChoice {
    /// One gathered pass over the rows (the default `CpuLoraKernel`)
    #[default]
    Gathered,
    /// Gather, two products and scatter-add per adapter (the kernel before the gathered pass)
    PerAdapter,
}

/// A CPU LoRA kernel with a stopwatch: the share of a step spent adding adapter deltas is the
/// profile the report prints (two clock reads per projection, noise next to a step).
#[derive(Debug, Clone)]
pub(crate) struct TimedLoraKernel {
    pub(crate) time: Arc<LoraTime>,
    pub(crate) kernel: KernelChoice,
}

impl LoraKernel for TimedLoraKernel {
    fn apply(
        &self,
        x: &Tensor,
        y: Tensor,
        groups: &[LoraGroup<'_>],
    ) -> candle_core::Result<Tensor> {
        let started = Instant::now();
        let out = match self.kernel {
            KernelChoice::Gathered => CpuLoraKernel.apply(x, y, groups),
            KernelChoice::PerAdapter => PerAdapterLoraKernel.apply(x, y, groups),
        };
        self.time
            .nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        out
    }
}
