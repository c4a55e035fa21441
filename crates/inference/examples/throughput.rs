//! Decode throughput of a small random model: requests one at a time versus one heterogeneous
//! batch (four adapters and the base), and a check that both give the same tokens.
//!
//! `cargo run -p ol-inference --example throughput -- [threads] [requests] [max_tokens]`

use candle_core::Device;
use ol_inference::{
    AdapterConfig, Engine, LlamaModel, LoraAdapter, ModelConfig, Request, SamplingParams, Target,
};
use serde_json::json;
use std::{sync::Arc, time::Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let threads = args.first().copied().unwrap_or(2);
    let n = args.get(1).copied().unwrap_or(16);
    let max_tokens = args.get(2).copied().unwrap_or(32);
    let config = ModelConfig::from_json(
        json!({
            "model_type": "llama", "hidden_size": 256, "intermediate_size": 688,
            "num_hidden_layers": 4, "num_attention_heads": 8, "num_key_value_heads": 4,
            "vocab_size": 1024, "max_position_embeddings": 512,
        })
        .to_string()
        .as_bytes(),
    )?;
    let model = Arc::new(LlamaModel::random(config.clone(), 1, &Device::Cpu)?);
    let adapters = (0..4)
        .map(|i| {
            LoraAdapter::random(
                AdapterConfig::new(8, 16.0, &Target::ALL),
                &config,
                10 + i,
                &Device::Cpu,
            )
            .map(Arc::new)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let requests: Vec<Request> = (0..n)
        .map(|i| Request {
            prompt: (0..16).map(|j| ((i * 31 + j * 7) % 1024) as u32).collect(),
            adapter: (i % 5 != 0).then(|| adapters[i % 4].clone()),
            params: SamplingParams {
                max_tokens,
                ignore_eos: true,
                ..SamplingParams::default()
            },
        })
        .collect();
    let engine = Engine::new(model, threads)?;

    let start = Instant::now();
    let alone: Vec<_> = requests
        .iter()
        .map(|r| engine.generate(vec![r.clone()]).map(|mut c| c.remove(0)))
        .collect::<Result<_, _>>()?;
    let t_alone = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let batched = engine.generate(requests)?;
    let t_batch = start.elapsed().as_secs_f64();

    let tokens: usize = batched.iter().map(|c| c.tokens.len()).sum();
    println!(
        "{n} requests x {max_tokens} tokens, {threads} threads, hidden 256, 4 layers, rank-8 adapters on all projections"
    );
    println!(
        "one at a time: {:.1} tokens/s ({t_alone:.2} s)",
        tokens as f64 / t_alone
    );
    println!(
        "one batch:     {:.1} tokens/s ({t_batch:.2} s)",
        tokens as f64 / t_batch
    );
    println!(
        "same tokens: {}",
        alone
            .iter()
            .zip(&batched)
            .all(|(a, b)| a.tokens == b.tokens)
    );
    Ok(())
}
