//! Interop with the reference implementation: Hugging Face `transformers` + `peft` (PyPI, CPU,
//! F32), run by `tests/scripts/peft_interop.py` in the Python of the test setup.
//!
//! - `ours_load_in_transformers_and_peft`: base models and adapters made and saved here (random
//!   ones, and one trained through the training view as the Model Factory trains and saves one)
//!   load with `AutoModelForCausalLM.from_pretrained` + `PeftModel.from_pretrained` and give the
//!   next-token logits we compute.
//! - `transformers_and_peft_files_load_in_ours`: models and adapters created by transformers/peft
//!   from random configurations and saved with `save_pretrained` load here with the logits the
//!   reference computes, and with its tokenizer's ids.
//!
//! Every case is compared on several prompts, for the base alone and with the adapter, through
//! the ragged batch (base and adapter rows of every prompt in one forward pass), the KV-cache
//! decode path and the merged model: max abs difference at most [`TOLERANCE`]. The Python
//! packages are required: without them these tests fail (`./scripts/setup.sh` installs them),
//! they never skip.

use candle_core::{DType, Device, Tensor};
use ol_inference::{
    AdapterConfig, LlamaModel, LoraAdapter, ModelConfig, SaveOptions, StoreDtype,
    kernels::CpuLoraKernel,
    load_model_dir,
    model::{KvCache, Logits, SeqInput, byte_level_tokenizer},
    save_model_dir,
    train::{AdapterVars, mean_nll},
};
use serde_json::{Value, json};
use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// The largest difference allowed between a logit of ours and the reference's (F32 on both
/// sides; what remains is summation order).
const TOLERANCE: f32 = 1e-4;

/// The Python packages the reference needs.
const PACKAGES: [&str; 4] = ["torch", "transformers", "peft", "safetensors"];

/// One architecture and adapter configuration, used in both directions.
struct Case {
    name: &'static str,
    /// `config.json` fields (transformers 4 layout, which transformers 5 still reads), without
    /// the special tokens, which differ between the two tokenizers.
    config: Value,
    /// `adapter_config.json` fields, which are also `LoraConfig`'s arguments.
    lora: Value,
}

/// Tiny models (hidden 64, 2 layers) covering the family: GQA, MQA, tied and untied heads,
/// head_dim != hidden / heads, attention and MLP biases, Llama 3 rope scaling, Qwen2's qkv
/// biases, Mistral's sliding window; adapters with list, `all-linear` and regex targets, rsLoRA,
/// rank and alpha patterns, `layers_to_transform` and a full module name.
fn cases() -> Vec<Case> {
    let base = |model_type: &str| {
        json!({
            "model_type": model_type, "hidden_size": 64, "intermediate_size": 96,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "vocab_size": 320, "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0, "tie_word_embeddings": false,
        })
    };
    let with = |mut v: Value, extra: Value| {
        for (k, x) in extra.as_object().into_iter().flatten() {
            v[k] = x.clone();
        }
        v
    };
    vec![
        Case {
            name: "llama_gqa_untied",
            config: base("llama"),
            lora: json!({
                "r": 8, "lora_alpha": 16,
                "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
                "rank_pattern": {"k_proj": 4},
                "alpha_pattern": {"model.layers.1.self_attn.o_proj": 4},
            }),
        },
        Case {
            name: "llama3_rope_tied_mqa_biases_wide_heads",
            config: with(
                base("llama"),
                json!({
                    "num_key_value_heads": 1, "head_dim": 32, "tie_word_embeddings": true,
                    "attention_bias": true, "mlp_bias": true, "rope_theta": 500000.0,
                    "rope_scaling": {
                        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                        "high_freq_factor": 4.0, "original_max_position_embeddings": 32,
                    },
                }),
            ),
            lora: json!({
                "r": 4, "lora_alpha": 8, "target_modules": "all-linear", "use_rslora": true,
            }),
        },
        Case {
            name: "qwen2_tied",
            config: with(base("qwen2"), json!({"tie_word_embeddings": true})),
            lora: json!({
                "r": 6, "lora_alpha": 12,
                "target_modules": r".*\.(q_proj|v_proj|up_proj)",
                "rank_pattern": {"up_proj": 3},
            }),
        },
        Case {
            name: "mistral_sliding_window",
            config: with(base("mistral"), json!({"sliding_window": 4})),
            lora: json!({
                "r": 4, "lora_alpha": 8, "use_rslora": true,
                "target_modules": ["gate_proj", "up_proj", "down_proj",
                    "model.layers.0.self_attn.q_proj"],
                "layers_to_transform": [1],
                "alpha_pattern": {"down_proj": 2},
            }),
        },
    ]
}

/// Prompts of 1 to 24 tokens (longer than the sliding window), ids spread over the vocabulary.
fn prompts() -> Vec<Vec<u32>> {
    [1usize, 2, 5, 11, 24]
        .iter()
        .map(|&len| {
            (0..len)
                .map(|i| ((i * 7919 + len * 31 + 1) % 320) as u32)
                .collect()
        })
        .collect()
}

/// A case's `config.json` with special tokens.
fn config_json(case: &Case, bos: u32, eos: u32) -> Value {
    let mut v = case.config.clone();
    v["bos_token_id"] = json!(bos);
    v["eos_token_id"] = json!(eos);
    v
}

/// Where a case's model and adapter folders go.
fn dirs(work: &Path, case: &Case) -> (PathBuf, PathBuf) {
    let dir = work.join(case.name);
    (dir.join("model"), dir.join("adapter"))
}

/// The repository root (the test runs in the crate's folder).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python with the reference packages: `python3` or `python` from PATH (scripts/test.sh puts
/// the setup's venv first), else the clone's `.venv`. Panics, naming what was tried, when none
/// has them: CI installs them, so a missing package is a failure, not a reason to skip.
fn python() -> PathBuf {
    let venv = repo_root().join(".venv/bin");
    let candidates = [
        PathBuf::from("python3"),
        PathBuf::from("python"),
        venv.join("python3"),
        venv.join("python"),
    ];
    // `find_spec` looks the packages up without importing torch (which takes seconds).
    let probe = format!(
        "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in {PACKAGES:?}))"
    );
    let mut tried = Vec::new();
    for candidate in candidates {
        match Command::new(&candidate).args(["-c", &probe]).output() {
            Ok(out) if out.status.success() => return candidate,
            Ok(_) => tried.push(format!("{} (lacks a package)", candidate.display())),
            Err(e) => tried.push(format!("{} ({e})", candidate.display())),
        }
    }
    panic!(
        "no Python with {} found; tried: {}. Run ./scripts/setup.sh (it installs \
         tests/requirements.txt into the venv that scripts/test.sh puts on PATH)",
        PACKAGES.join(", "),
        tried.join("; ")
    );
}

/// Runs the reference on `jobs` and returns its `results` object, by job name.
fn reference(work: &Path, jobs: Vec<Value>) -> Value {
    let spec = json!({ "prompts": prompts(), "jobs": jobs });
    let spec_path = work.join("jobs.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let script = repo_root().join("tests/scripts/peft_interop.py");
    let python = python();
    let out = Command::new(&python)
        .arg(&script)
        .arg(&spec_path)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "{} failed ({}):\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "peft_interop.py printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    println!("reference: {}", v["versions"]);
    v["results"].clone()
}

fn rows(t: &Tensor) -> Vec<Vec<f32>> {
    t.to_vec2::<f32>().unwrap()
}

/// Our logits of the last position of every prompt: `(base, adapted)` from one ragged batch that
/// holds a base row and an adapter row per prompt, the adapted ones again from prefilling all
/// but the last token and decoding it, and from the model with the adapter merged.
struct Ours {
    base: Vec<Vec<f32>>,
    adapted: Vec<Vec<f32>>,
    decoded: Vec<Vec<f32>>,
    merged: Vec<Vec<f32>>,
}

fn ours(model: &LlamaModel, adapter: &LoraAdapter) -> Ours {
    let prompts = prompts();
    let mut caches: Vec<KvCache> = (0..2 * prompts.len()).map(|_| KvCache::new()).collect();
    let mut seqs: Vec<SeqInput<'_>> = caches
        .iter_mut()
        .enumerate()
        .map(|(i, cache)| SeqInput {
            tokens: &prompts[i / 2],
            cache,
            adapter: (i % 2 == 1).then_some(adapter),
        })
        .collect();
    let batch = rows(
        &model
            .forward(&mut seqs, &CpuLoraKernel, Logits::Last)
            .unwrap(),
    );
    let (mut base, mut adapted) = (Vec::new(), Vec::new());
    for (i, row) in batch.into_iter().enumerate() {
        if i % 2 == 0 {
            base.push(row);
        } else {
            adapted.push(row);
        }
    }
    let decoded = prompts
        .iter()
        .map(|p| {
            let mut cache = KvCache::new();
            let (head, last) = p.split_at(p.len() - 1);
            if !head.is_empty() {
                let mut prefill = [SeqInput {
                    tokens: head,
                    cache: &mut cache,
                    adapter: Some(adapter),
                }];
                model
                    .forward(&mut prefill, &CpuLoraKernel, Logits::Last)
                    .unwrap();
            }
            let mut step = [SeqInput {
                tokens: last,
                cache: &mut cache,
                adapter: Some(adapter),
            }];
            rows(
                &model
                    .forward(&mut step, &CpuLoraKernel, Logits::Last)
                    .unwrap(),
            )
            .remove(0)
        })
        .collect();
    let merged_model = model.merged(adapter).unwrap();
    let merged = prompts
        .iter()
        .map(|p| {
            let mut cache = KvCache::new();
            let mut seq = [SeqInput {
                tokens: p,
                cache: &mut cache,
                adapter: None,
            }];
            rows(
                &merged_model
                    .forward(&mut seq, &CpuLoraKernel, Logits::Last)
                    .unwrap(),
            )
            .remove(0)
        })
        .collect();
    Ours {
        base,
        adapted,
        decoded,
        merged,
    }
}

fn as_rows(v: &Value, what: &str) -> Vec<Vec<f32>> {
    serde_json::from_value::<Vec<Vec<f64>>>(v.clone())
        .unwrap_or_else(|e| panic!("{what}: not a list of logit rows: {e}"))
        .into_iter()
        .map(|r| r.into_iter().map(|x| x as f32).collect())
        .collect()
}

/// The max abs difference between two sets of rows, prompt by prompt.
fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>], what: &str) -> Vec<f32> {
    assert_eq!(a.len(), b.len(), "{what}: number of prompts");
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            assert_eq!(x.len(), y.len(), "{what}: vocabulary size");
            x.iter()
                .zip(y)
                .map(|(p, q)| (p - q).abs())
                .fold(0f32, f32::max)
        })
        .collect()
}

/// Compares ours with the reference's logits of one case and prints the differences; returns
/// the largest.
fn compare(name: &str, ours: &Ours, reference: &Value) -> f32 {
    let ref_base = as_rows(&reference["base"], name);
    let ref_adapted = as_rows(&reference["adapted"], name);
    // The adapter must move the logits well past the tolerance, or the comparison with it
    // would not test it.
    let effect = max_diff(&ref_base, &ref_adapted, name);
    assert!(
        effect.iter().all(|&d| d > 100.0 * TOLERANCE),
        "{name}: the adapter barely changes the reference's logits: {effect:?}"
    );
    let mut worst = 0f32;
    for (what, mine, theirs) in [
        ("base", &ours.base, &ref_base),
        ("adapted", &ours.adapted, &ref_adapted),
        ("adapted, decode step", &ours.decoded, &ref_adapted),
        ("merged", &ours.merged, &ref_adapted),
    ] {
        let diffs = max_diff(mine, theirs, name);
        println!("{name} {what}: max abs diff per prompt {diffs:?}");
        for (i, d) in diffs.iter().enumerate() {
            assert!(
                *d <= TOLERANCE,
                "{name} {what}: prompt {i} ({} tokens) differs from the reference by {d} \
                 (> {TOLERANCE})",
                prompts()[i].len()
            );
        }
        worst = diffs.into_iter().fold(worst, f32::max);
    }
    worst
}

#[test]
fn ours_load_in_transformers_and_peft() {
    let work = tempfile::tempdir().unwrap();
    let tokenizer = byte_level_tokenizer(&["<s>", "</s>"]).unwrap();
    let mut jobs = Vec::new();
    let mut mine = Vec::new();
    for (i, case) in cases().iter().enumerate() {
        let config = ModelConfig::from_json(config_json(case, 256, 257).to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let model = LlamaModel::random(config, 10 + i as u64, &Device::Cpu).unwrap();
        let lora = AdapterConfig::from_json(case.lora.to_string().as_bytes()).unwrap();
        let adapter =
            LoraAdapter::random(lora, model.config(), 20 + i as u64, &Device::Cpu).unwrap();
        let (model_dir, adapter_dir) = dirs(work.path(), case);
        save_model_dir(&model, &tokenizer, &model_dir, SaveOptions::default()).unwrap();
        adapter.save_dir(&adapter_dir, StoreDtype::F32).unwrap();
        jobs.push(json!({
            "name": case.name, "mode": "load",
            "model_dir": model_dir, "adapter_dir": adapter_dir,
        }));
        mine.push(ours(&model, &adapter));
    }
    let mut names: Vec<String> = cases().iter().map(|c| c.name.to_string()).collect();
    // An adapter trained here (the training view's PEFT initialisation and a few gradient
    // steps, saved as the Model Factory saves one), not only a random one.
    let case = &cases()[0];
    let (model_dir, _) = dirs(work.path(), case);
    let base = load_model_dir(&model_dir, &Device::Cpu).unwrap().model;
    let adapter_dir = work.path().join("trained-adapter");
    let mut lora = AdapterConfig::from_json(case.lora.to_string().as_bytes()).unwrap();
    lora.base_model_name_or_path = Some(model_dir.display().to_string());
    let vars = AdapterVars::init(lora, base.config(), 5, DType::F32, &Device::Cpu).unwrap();
    let texts = prompts();
    let seqs: Vec<&[u32]> = texts
        .iter()
        .filter(|p| p.len() > 1)
        .map(Vec::as_slice)
        .collect();
    for _ in 0..5 {
        let loss = mean_nll(&base, &seqs, Some(&vars.adapter(true).unwrap())).unwrap();
        let grads = loss.backward().unwrap();
        for (_, v) in vars.vars() {
            let g = grads.get(v.as_tensor()).unwrap();
            v.set(&(v.as_tensor() - (g * 0.5).unwrap()).unwrap())
                .unwrap();
        }
    }
    let trained = vars.snapshot().unwrap();
    trained.save_dir(&adapter_dir, StoreDtype::F32).unwrap();
    jobs.push(json!({
        "name": "trained", "mode": "load",
        "model_dir": model_dir, "adapter_dir": adapter_dir,
    }));
    mine.push(ours(&base, &trained));
    names.push("trained".into());

    let results = reference(work.path(), jobs);
    let worst = names
        .iter()
        .zip(&mine)
        .map(|(name, mine)| compare(name, mine, &results[name.as_str()]))
        .fold(0f32, f32::max);
    println!("ours -> transformers/peft: max abs diff {worst:e}");
}

#[test]
fn transformers_and_peft_files_load_in_ours() {
    let work = tempfile::tempdir().unwrap();
    // The reference's tokenizer puts <unk>, <s>, </s> at 0, 1, 2.
    let jobs = cases()
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let (model_dir, adapter_dir) = dirs(work.path(), case);
            json!({
                "name": case.name, "mode": "create", "seed": 30 + i,
                "model_dir": model_dir, "adapter_dir": adapter_dir,
                "config": config_json(case, 1, 2), "lora": case.lora,
            })
        })
        .collect();
    let results = reference(work.path(), jobs);
    let mut worst = 0f32;
    for case in cases() {
        let (model_dir, adapter_dir) = dirs(work.path(), &case);
        let loaded = load_model_dir(&model_dir, &Device::Cpu)
            .unwrap_or_else(|e| panic!("{}: loading transformers' model: {e}", case.name));
        let want = ModelConfig::from_json(config_json(&case, 1, 2).to_string().as_bytes()).unwrap();
        assert_eq!(
            loaded.model.config(),
            &want,
            "{}: transformers' config.json",
            case.name
        );
        assert_eq!(loaded.generation.eos_token_ids, vec![2], "{}", case.name);
        assert!(
            loaded.chat_template.is_some(),
            "{}: the chat template transformers saved",
            case.name
        );
        let result = &results[case.name];
        for pair in result["tokenizer_check"].as_array().unwrap() {
            let text = pair[0].as_str().unwrap();
            let want: Vec<u32> = serde_json::from_value(pair[1].clone()).unwrap();
            let got = loaded.tokenizer.encode(text, false).unwrap();
            assert_eq!(got.get_ids(), want, "{}: token ids of {text:?}", case.name);
        }
        let adapter = LoraAdapter::load_dir(&adapter_dir, loaded.model.config(), &Device::Cpu)
            .unwrap_or_else(|e| panic!("{}: loading peft's adapter: {e}", case.name));
        worst = worst.max(compare(case.name, &ours(&loaded.model, &adapter), result));
    }
    println!("transformers/peft -> ours: max abs diff {worst:e}");
}
