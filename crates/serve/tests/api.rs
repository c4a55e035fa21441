//! The HTTP API in process, over a real socket: the wire format of streams (`data: [DONE]`),
//! errors in OpenAI's shape, runtime adapter loading when allowed, and the models list.

use candle_core::Device;
use ol_inference::{
    AdapterConfig, BaseModel, Engine, GenerationConfig, LlamaModel, LoraAdapter, ModelConfig,
    StoreDtype, Target,
    model::byte_level_tokenizer,
    serve::{AdapterCache, AdapterSource, Scheduler, SchedulerConfig},
};
use ol_serve::{ApiConfig, ApiState};
use serde_json::{Value, json};
use std::sync::Arc;

fn config() -> ModelConfig {
    ModelConfig::from_json(
        json!({
            "model_type": "llama", "hidden_size": 32, "intermediate_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "vocab_size": 258, "max_position_embeddings": 64,
            "bos_token_id": 256, "eos_token_id": 257,
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap()
}

/// Starts the API on a free port; returns its base URL and a folder holding adapter `extra`.
async fn start(allow_updates: bool) -> (String, tempfile::TempDir) {
    let c = config();
    let model = LlamaModel::random(c.clone(), 3, &Device::Cpu).unwrap();
    let base = BaseModel {
        model: model.clone(),
        tokenizer: byte_level_tokenizer(&["<s>", "</s>"]).unwrap(),
        generation: GenerationConfig::default(),
        chat_template: Some(
            "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:"
                .into(),
        ),
    };
    let cache = Arc::new(AdapterCache::new(c.clone(), Device::Cpu, 1 << 30));
    let dir = tempfile::tempdir().unwrap();
    for (name, seed) in [("ad0", 1), ("extra", 2)] {
        let a = LoraAdapter::random(
            AdapterConfig::new(4, 8.0, &[Target::Q, Target::V]),
            &c,
            seed,
            &Device::Cpu,
        )
        .unwrap();
        a.save_dir(&dir.path().join(name), StoreDtype::F32).unwrap();
    }
    cache
        .register("ad0", AdapterSource::Dir(dir.path().join("ad0")))
        .unwrap();
    let scheduler = Scheduler::start(
        Engine::new(Arc::new(model), 1).unwrap(),
        Arc::new(base.tokenizer.clone()),
        cache,
        SchedulerConfig::default(),
    )
    .unwrap();
    let state = ApiState::new(
        scheduler,
        &base,
        ApiConfig {
            served_model_name: "tiny".into(),
            model_root: dir.path().to_path_buf(),
            allow_adapter_updates: allow_updates,
        },
        None,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(ol_serve::serve(
        listener,
        Arc::new(state),
        std::future::pending(),
    ));
    (url, dir)
}

async fn post(url: &str, body: Value) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_end_with_done_and_carry_usage_last() {
    let (url, _dir) = start(false).await;
    let (status, body) = post(
        &format!("{url}/v1/completions"),
        json!({"model": "ad0", "prompt": "hi", "max_tokens": 5, "temperature": 0,
               "ignore_eos": true, "stream": true, "stream_options": {"include_usage": true}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let events: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(events.last(), Some(&"[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 5);
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c["usage"].is_null())
    );
    assert_eq!(
        chunks[chunks.len() - 2]["choices"][0]["finish_reason"],
        "length"
    );
    assert!(chunks.iter().all(|c| c["model"] == "ad0"));

    // Chat streams open with the assistant's role.
    let (status, body) = post(
        &format!("{url}/v1/chat/completions"),
        json!({"model": "tiny", "messages": [{"role": "user", "content": "yo"}],
               "max_tokens": 3, "stream": true, "ignore_eos": true}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let first: Value =
        serde_json::from_str(body.lines().find_map(|l| l.strip_prefix("data: ")).unwrap()).unwrap();
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    assert!(body.trim_end().ends_with("data: [DONE]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_openais_shape_and_change_nothing() {
    let (url, dir) = start(false).await;
    let cases = [
        (json!({"model": "nope", "prompt": "x"}), 404, Some("model")),
        (
            json!({"model": "tiny", "prompt": "x", "top_p": 2}),
            400,
            Some("top_p"),
        ),
        (
            json!({"model": "tiny", "prompt": "x", "n": 3}),
            400,
            Some("n"),
        ),
        (json!({"model": "tiny", "prompt": []}), 400, Some("prompt")),
        (json!({"model": "tiny", "prompt": [999]}), 400, None),
        (
            json!({"model": "tiny", "prompt": "x".repeat(70)}),
            400,
            None,
        ),
        (json!({"model": "tiny"}), 400, None),
    ];
    for (body, want, param) in cases {
        let (status, text) = post(&format!("{url}/v1/completions"), body.clone()).await;
        assert_eq!(status, want, "{body}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["error"]["code"], want, "{text}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        if let Some(p) = param {
            assert_eq!(v["error"]["param"], p, "{text}");
        }
    }
    // Not valid JSON at all.
    let r = reqwest::Client::new()
        .post(format!("{url}/v1/completions"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Runtime loading is refused unless enabled, and registers nothing.
    let (status, _) = post(
        &format!("{url}/v1/load_lora_adapter"),
        json!({"lora_name": "extra", "lora_path": dir.path().join("extra")}),
    )
    .await;
    assert_eq!(status, 403);
    let models: Value = reqwest::get(format!("{url}/v1/models"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["tiny", "ad0"]);
    assert_eq!(models["data"][1]["parent"], "tiny");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adapters_load_and_unload_at_run_time_when_allowed() {
    let (url, dir) = start(true).await;
    let gen_body = json!({"model": "extra", "prompt": "hi", "max_tokens": 2});
    assert_eq!(
        post(&format!("{url}/v1/completions"), gen_body.clone())
            .await
            .0,
        404
    );
    // A folder that is not an adapter is refused and leaves nothing registered.
    let (status, text) = post(
        &format!("{url}/v1/load_lora_adapter"),
        json!({"lora_name": "broken", "lora_path": dir.path()}),
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(
        post(
            &format!("{url}/v1/completions"),
            json!({"model": "broken", "prompt": "x"})
        )
        .await
        .0,
        404
    );
    let (status, text) = post(
        &format!("{url}/v1/load_lora_adapter"),
        json!({"lora_name": "extra", "lora_path": dir.path().join("extra")}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("added successfully"));
    let (status, text) = post(&format!("{url}/v1/completions"), gen_body.clone()).await;
    assert_eq!(status, 200, "{text}");
    let (status, _) = post(
        &format!("{url}/v1/unload_lora_adapter"),
        json!({"lora_name": "extra"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        post(&format!("{url}/v1/completions"), gen_body).await.0,
        404
    );
    assert_eq!(
        post(
            &format!("{url}/v1/unload_lora_adapter"),
            json!({"lora_name": "extra"})
        )
        .await
        .0,
        404
    );
}
