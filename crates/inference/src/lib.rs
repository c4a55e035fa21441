//! OpenLoRA on candle: one Llama-family base model, many LoRA adapters, deterministic batched
//! generation.
//!
//! - [`config`]: Hugging Face `config.json`, `generation_config.json`, chat templates.
//! - [`model`]: the one Llama-family implementation of the workspace (Llama 2/3, Mistral,
//!   Qwen2), loaded from and saved to the HF layout, with a differentiable forward pass.
//! - [`adapter`]: PEFT LoRA adapters (folder or bytes), validated against the base.
//! - [`kernels`]: fixed-order matmul and row reductions, and the per-row LoRA kernel seam.
//! - [`sampling`]: greedy/temperature/top-k/top-p sampling with a per-request seeded generator.
//! - [`engine`]: heterogeneous batches, KV caches per sequence, continuous stepping.
//! - [`serve`]: the adapter cache and the serving loop behind the OpenAI-compatible API.
//!
//! The property the chain relies on: on the CPU, a request's tokens and logits depend only on
//! (base, adapter, prompt, sampling parameters, seed), bit for bit, never on the rest of its
//! batch or the thread count, so a follower can re-run one paid inference alone and compare.

pub mod adapter;
pub mod config;
pub mod engine;
mod error;
pub mod kernels;
pub mod model;
pub mod sampling;
pub mod serve;
pub mod train;
mod weights;

pub use adapter::{AdapterConfig, LoraAdapter};
pub use config::{Architecture, GenerationConfig, ModelConfig};
pub use engine::{Batch, Completion, Engine, FinishReason, Request, SeqId, StepOutput};
pub use error::{InferenceError, Result};
pub use model::{BaseModel, LlamaModel, SaveOptions, Target, load_model_dir, save_model_dir};
pub use sampling::{SamplingParams, TokenLogprobs};
pub use weights::StoreDtype;
