//! Random models saved in the Hugging Face layout, loaded back, and malformed folders refused
//! with errors that name what is wrong.

use candle_core::{Device, Tensor};
use ol_inference::{
    InferenceError, LlamaModel, ModelConfig, SaveOptions, StoreDtype,
    kernels::CpuLoraKernel,
    load_model_dir,
    model::{KvCache, Logits, SeqInput, byte_level_tokenizer},
    save_model_dir,
};
use serde_json::json;
use std::path::Path;

fn config(model_type: &str, tied: bool) -> ModelConfig {
    let v = json!({
        "model_type": model_type, "hidden_size": 32, "intermediate_size": 48,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "vocab_size": 260, "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
        "tie_word_embeddings": tied, "bos_token_id": 256, "eos_token_id": 257,
    });
    ModelConfig::from_json(v.to_string().as_bytes()).unwrap()
}

fn logits(model: &LlamaModel) -> Vec<u32> {
    let mut cache = KvCache::new();
    let mut seqs = [SeqInput {
        tokens: &[256, 72, 105, 33],
        cache: &mut cache,
        adapter: None,
    }];
    let t = model
        .forward(&mut seqs, &CpuLoraKernel, Logits::All)
        .unwrap();
    t.flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

fn save(model: &LlamaModel, dir: &Path, opts: SaveOptions) {
    let tok = byte_level_tokenizer(&["<s>", "</s>", "<pad>", "<unk>"]).unwrap();
    save_model_dir(model, &tok, dir, opts).unwrap();
}

#[test]
fn saved_models_load_back_single_and_sharded_in_every_dtype() {
    let cases = [
        ("llama", false, StoreDtype::F32, None),
        ("llama", true, StoreDtype::F32, Some(20_000)),
        ("qwen2", false, StoreDtype::F16, None),
        ("mistral", true, StoreDtype::BF16, Some(10_000)),
    ];
    for (i, (kind, tied, dtype, shard)) in cases.into_iter().enumerate() {
        let model = LlamaModel::random(config(kind, tied), i as u64, &Device::Cpu).unwrap();
        let dir = tempfile::tempdir().unwrap();
        save(
            &model,
            dir.path(),
            SaveOptions {
                dtype,
                max_shard_bytes: shard,
            },
        );
        assert_eq!(
            dir.path().join("model.safetensors.index.json").exists(),
            shard.is_some(),
            "{kind}"
        );
        let loaded = load_model_dir(dir.path(), &Device::Cpu).unwrap();
        assert_eq!(loaded.model.config(), model.config());
        assert_eq!(loaded.tokenizer.token_to_id("</s>"), Some(257));
        assert_eq!(loaded.generation.eos_token_ids, vec![257]);
        if dtype == StoreDtype::F32 {
            assert_eq!(logits(&loaded.model), logits(&model), "{kind}");
        } else {
            // Half-precision storage loads as exactly the rounded weights.
            let round = |v: f32| match dtype {
                StoreDtype::F16 => half::f16::from_f32(v).to_f32(),
                _ => half::bf16::from_f32(v).to_f32(),
            };
            let (want, got) = (
                model.to_tensors().unwrap(),
                loaded.model.to_tensors().unwrap(),
            );
            for (name, w) in &want {
                let w: Vec<f32> = w.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                let g: Vec<f32> = got[name].flatten_all().unwrap().to_vec1::<f32>().unwrap();
                assert!(w.iter().zip(&g).all(|(a, b)| round(*a) == *b), "{name}");
            }
        }
    }
}

/// A valid saved model to break in one way.
fn saved(sharded: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let model = LlamaModel::random(config("llama", false), 9, &Device::Cpu).unwrap();
    save(
        &model,
        dir.path(),
        SaveOptions {
            dtype: StoreDtype::F32,
            max_shard_bytes: sharded.then_some(30_000),
        },
    );
    dir
}

fn rewrite_weights(dir: &Path, edit: impl FnOnce(&mut std::collections::HashMap<String, Tensor>)) {
    let path = dir.join("model.safetensors");
    let mut tensors = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    edit(&mut tensors);
    candle_core::safetensors::save(&tensors, &path).unwrap();
}

fn load_err(dir: &Path) -> InferenceError {
    load_model_dir(dir, &Device::Cpu).unwrap_err()
}

#[test]
fn malformed_folders_are_clear_errors() {
    let dir = saved(false);
    rewrite_weights(dir.path(), |t| {
        t.remove("model.layers.1.self_attn.k_proj.weight");
    });
    assert!(
        matches!(load_err(dir.path()), InferenceError::MissingTensor { name, .. } if name == "model.layers.1.self_attn.k_proj.weight")
    );

    let dir = saved(false);
    rewrite_weights(dir.path(), |t| {
        t.insert(
            "model.layers.0.mlp.gate_proj.weight".into(),
            Tensor::zeros((48, 31), candle_core::DType::F32, &Device::Cpu).unwrap(),
        );
    });
    assert!(
        matches!(load_err(dir.path()), InferenceError::TensorShape { name, .. } if name == "model.layers.0.mlp.gate_proj.weight")
    );

    let dir = saved(false);
    rewrite_weights(dir.path(), |t| {
        t.insert(
            "model.layers.0.extra.weight".into(),
            Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu).unwrap(),
        );
    });
    assert!(
        matches!(load_err(dir.path()), InferenceError::UnexpectedTensor { name, .. } if name == "model.layers.0.extra.weight")
    );

    let dir = saved(false);
    rewrite_weights(dir.path(), |t| {
        let x = t.remove("model.norm.weight").unwrap();
        t.insert(
            "model.norm.weight".into(),
            x.to_dtype(candle_core::DType::U32).unwrap(),
        );
    });
    assert!(matches!(
        load_err(dir.path()),
        InferenceError::Safetensors { .. }
    ));

    let dir = saved(false);
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 5, 100, bytes.len() - 3] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        assert!(
            matches!(load_err(dir.path()), InferenceError::Safetensors { .. }),
            "cut at {cut}"
        );
    }
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        load_err(dir.path()),
        InferenceError::MissingTensor { .. }
    ));

    let config_path = |d: &tempfile::TempDir| d.path().join("config.json");
    let dir = saved(false);
    std::fs::write(config_path(&dir), b"{\"model_type\": ").unwrap();
    assert!(matches!(load_err(dir.path()), InferenceError::Json { .. }));
    let mut c = config("llama", false).to_json();
    c["model_type"] = json!("falcon");
    std::fs::write(config_path(&dir), c.to_string()).unwrap();
    assert!(
        matches!(load_err(dir.path()), InferenceError::Config { field, .. } if field == "model_type")
    );
    // A config that disagrees with the weights names the first tensor that does not fit.
    let mut c = config("llama", false).to_json();
    c["intermediate_size"] = json!(64);
    std::fs::write(config_path(&dir), c.to_string()).unwrap();
    assert!(matches!(
        load_err(dir.path()),
        InferenceError::TensorShape { .. }
    ));

    let dir = saved(false);
    std::fs::write(dir.path().join("tokenizer.json"), b"{}").unwrap();
    assert!(matches!(load_err(dir.path()), InferenceError::Tokenizer(_)));
}

#[test]
fn malformed_shard_indexes_are_clear_errors() {
    let dir = saved(true);
    let index_path = dir.path().join("model.safetensors.index.json");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    assert!(load_model_dir(dir.path(), &Device::Cpu).is_ok());
    let files: std::collections::BTreeSet<String> = index["weight_map"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(files.len() > 1);

    let mut escaping = index.clone();
    escaping["weight_map"]["model.norm.weight"] = json!("../model.safetensors");
    std::fs::write(&index_path, escaping.to_string()).unwrap();
    assert!(matches!(
        load_err(dir.path()),
        InferenceError::Config { .. }
    ));

    let mut misplaced = index.clone();
    let other = files
        .iter()
        .find(|f| **f != index["weight_map"]["model.norm.weight"])
        .unwrap()
        .clone();
    misplaced["weight_map"]["model.norm.weight"] = json!(other);
    std::fs::write(&index_path, misplaced.to_string()).unwrap();
    assert!(
        matches!(load_err(dir.path()), InferenceError::MissingTensor { name, .. } if name == "model.norm.weight")
    );

    let mut unlisted = index.clone();
    unlisted["weight_map"]
        .as_object_mut()
        .unwrap()
        .remove("model.norm.weight");
    std::fs::write(&index_path, unlisted.to_string()).unwrap();
    assert!(
        matches!(load_err(dir.path()), InferenceError::UnexpectedTensor { name, .. } if name == "model.norm.weight")
    );

    std::fs::write(&index_path, index.to_string()).unwrap();
    std::fs::remove_file(dir.path().join(files.iter().next().unwrap())).unwrap();
    assert!(matches!(load_err(dir.path()), InferenceError::Io { .. }));
}
