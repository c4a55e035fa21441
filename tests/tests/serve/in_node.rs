//! `in_node`: `openledger node --dev --inference.model DIR --inference.adapters DIR` serves the
//! OpenAI API next to the chain: the chain produces blocks and the API generates, at once.

use crate::openai_client::write_files;
use alloy::providers::Provider;
use eyre::{Result, ensure};
use ol_e2e::{TestNode, free_port};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_serves_inference_next_to_the_chain() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let model_dir = tmp.path().join("tiny-llama");
    let adapters_dir = tmp.path().join("adapters");
    write_files(&model_dir, &adapters_dir)?;
    let port = free_port()?;
    let node = TestNode::start_with_args(vec![
        "--inference.model".into(),
        model_dir.display().to_string(),
        "--inference.adapters".into(),
        adapters_dir.display().to_string(),
        "--inference.port".into(),
        port.to_string(),
    ])
    .await?;
    let url = format!("http://127.0.0.1:{port}/v1");
    let client = reqwest::Client::new();
    // The API comes up after the JSON-RPC server the harness waits for (the model loads first).
    let models: Value = ol_e2e::wait_until(
        "the inference API to answer",
        std::time::Duration::from_secs(60),
        std::time::Duration::from_millis(100),
        async || {
            Ok(match client.get(format!("{url}/models")).send().await {
                Ok(answer) => Some(answer.json::<Value>().await?),
                Err(_) => None,
            })
        },
    )
    .await?;
    let ids: Vec<&str> = models["data"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["id"].as_str()).collect())
        .unwrap_or_default();
    ensure!(
        ids == ["tiny-llama", "ad0", "ad1", "ad2"],
        "models: {models}"
    );
    let r: Value = client
        .post(format!("{url}/completions"))
        .json(&json!({"model": "ad1", "prompt": "hello", "max_tokens": 8, "ignore_eos": true}))
        .send()
        .await?
        .json()
        .await?;
    ensure!(r["usage"]["completion_tokens"] == 8, "completion: {r}");
    // The chain keeps producing blocks meanwhile.
    let provider = node.provider();
    let before = provider.get_block_number().await?;
    ol_e2e::wait_for_block(&provider, before + 1).await?;
    node.finish().await
}
