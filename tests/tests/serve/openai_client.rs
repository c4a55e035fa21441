//! `openai_client`: `openledger serve` on a model and adapters written in the Hugging Face and
//! PEFT layouts, driven by the official `openai` Python client (`tests/scripts/openai_client.py`):
//! models list, completions and chat (whole and streamed, usage, logprobs, stop strings, seeds),
//! batch-invariant output, errors in OpenAI's shape (404, 400, 429). The texts the client saw
//! are then recomputed here with the engine in-process, alone, and must be identical.

use eyre::{Result, WrapErr, ensure, eyre};
use ol_e2e::{file_tail, free_port, openledger_bin, repo_file, repo_root, run_command};
use ol_inference::{
    AdapterConfig, Engine, LlamaModel, LoraAdapter, ModelConfig, Request, SamplingParams,
    SaveOptions, StoreDtype, Target, model::byte_level_tokenizer, save_model_dir,
};
use serde_json::{Value, json};
use std::{path::Path, process::Stdio, sync::Arc, time::Duration};

const CONTEXT: usize = 512;
/// A chat template in the style of ChatML.
const TEMPLATE: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

fn config() -> Result<ModelConfig> {
    Ok(ModelConfig::from_json(
        json!({
            "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "vocab_size": 260, "max_position_embeddings": CONTEXT,
            "bos_token_id": 256, "eos_token_id": 257,
        })
        .to_string()
        .as_bytes(),
    )?)
}

/// Writes the model (with a chat template) and three adapters; returns the model and adapters.
pub(crate) fn write_files(
    model_dir: &Path,
    adapters_dir: &Path,
) -> Result<(LlamaModel, Vec<LoraAdapter>)> {
    let config = config()?;
    let tokenizer = byte_level_tokenizer(&["<s>", "</s>", "<|im_start|>", "<|im_end|>"])?;
    let model = LlamaModel::random(config.clone(), 7, &candle_core::Device::Cpu)?;
    save_model_dir(&model, &tokenizer, model_dir, SaveOptions::default())?;
    let tc_path = model_dir.join("tokenizer_config.json");
    let mut tc: Value = serde_json::from_slice(&std::fs::read(&tc_path)?)?;
    tc["chat_template"] = json!(TEMPLATE);
    std::fs::write(&tc_path, serde_json::to_vec_pretty(&tc)?)?;
    let mut adapters = Vec::new();
    for (i, (r, targets)) in [
        (8, &[Target::Q, Target::V][..]),
        (4, &Target::ALL[..]),
        (16, &[Target::Gate, Target::Down][..]),
    ]
    .into_iter()
    .enumerate()
    {
        let a = LoraAdapter::random(
            AdapterConfig::new(r, 2.0 * r as f64, targets),
            &config,
            20 + i as u64,
            &candle_core::Device::Cpu,
        )?;
        a.save_dir(&adapters_dir.join(format!("ad{i}")), StoreDtype::F32)?;
        adapters.push(a);
    }
    Ok((model, adapters))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_client_against_openledger_serve() -> Result<()> {
    let script = repo_file("tests/scripts/openai_client.py")?;
    let tmp = tempfile::tempdir()?;
    let model_dir = tmp.path().join("tiny-llama");
    let adapters_dir = tmp.path().join("adapters");
    let (model, adapters) = write_files(&model_dir, &adapters_dir)?;
    let port = free_port()?;
    let log_path = tmp.path().join("serve.log");
    let log = std::fs::File::create(&log_path)?;
    let mut child = tokio::process::Command::new(openledger_bin()?)
        .args(["serve", "--model"])
        .arg(&model_dir)
        .arg("--adapters")
        .arg(&adapters_dir)
        .args(["--http.port", &port.to_string()])
        .args([
            "--inference.max-batch-size",
            "2",
            "--inference.max-waiting",
            "4",
        ])
        .args([
            "--inference.pinned-adapters",
            "ad1",
            "--inference.threads",
            "1",
        ])
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .wrap_err("spawning openledger serve")?;
    let base_url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..600 {
        if let Ok(r) = client.get(format!("{base_url}/health")).send().await
            && r.status().is_success()
        {
            up = true;
            break;
        }
        if let Some(status) = child.try_wait()? {
            return Err(eyre!(
                "openledger serve exited with {status}:\n{}",
                file_tail(&log_path, 40)
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(
        up,
        "openledger serve did not answer /health:\n{}",
        file_tail(&log_path, 40)
    );

    let output = run_command(
        Path::new("python3"),
        &[
            script.as_os_str(),
            "--base-url".as_ref(),
            format!("{base_url}/v1").as_ref(),
            "--model".as_ref(),
            "tiny-llama".as_ref(),
            "--adapter".as_ref(),
            "ad0".as_ref(),
            "--other-adapter".as_ref(),
            "ad2".as_ref(),
            "--context".as_ref(),
            CONTEXT.to_string().as_ref(),
        ],
        &repo_root(),
    )
    .await?;
    ensure!(
        output.status.success(),
        "the openai client script failed (is `openai` installed? scripts/setup.sh installs it):\n{}\n{}\nserver log:\n{}",
        output.stdout,
        output.stderr,
        file_tail(&log_path, 30)
    );
    let seen: Value = output.json()?;
    eprintln!("openai client: {seen}");

    // The served texts, recomputed in-process alone: identical.
    let tokenizer = byte_level_tokenizer(&["<s>", "</s>", "<|im_start|>", "<|im_end|>"])?;
    let engine = Engine::new(Arc::new(model), 1)?;
    let greedy = |adapter: Option<&LoraAdapter>| -> Result<String> {
        let out = engine
            .generate(vec![Request {
                prompt: vec![72, 101, 108, 108, 111],
                adapter: adapter.map(|a| Arc::new(a.clone())),
                params: SamplingParams {
                    max_tokens: 12,
                    ignore_eos: true,
                    ..SamplingParams::default()
                },
            }])?
            .remove(0);
        Ok(tokenizer
            .decode(&out.tokens, true)
            .map_err(|e| eyre!("{e}"))?
            .trim_end_matches('\u{FFFD}')
            .to_string())
    };
    ensure!(
        seen["base"] == json!(greedy(None)?),
        "served base text differs from the engine's"
    );
    ensure!(
        seen["adapter"] == json!(greedy(Some(&adapters[0]))?),
        "served adapter text differs"
    );

    // Metrics name the adapter cache and the request counters.
    let metrics = client
        .get(format!("{base_url}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    for name in [
        "inference_requests_total",
        "inference_requests_rejected_total",
        "inference_adapter_cache_hits_total",
        "inference_adapter_cache_resident_bytes",
    ] {
        ensure!(metrics.contains(name), "/metrics lacks {name}");
    }
    // Runtime adapter loading is off by default.
    let r = client
        .post(format!("{base_url}/v1/load_lora_adapter"))
        .json(&json!({"lora_name": "new", "lora_path": adapters_dir.join("ad0")}))
        .send()
        .await?;
    ensure!(
        r.status() == 403,
        "load_lora_adapter without permission: {}",
        r.status()
    );

    let pid = child
        .id()
        .ok_or_else(|| eyre!("openledger serve already exited"))?;
    ol_e2e::send_signal(pid as i32, libc::SIGTERM)?;
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait()).await??;
    ensure!(status.success(), "openledger serve exited with {status}");
    Ok(())
}
