//! The model-file loaders of `ol-inference` on arbitrary bytes: `config.json`
//! (`ModelConfig::from_json`), `generation_config.json`, the chat template of
//! `tokenizer_config.json`, `adapter_config.json` (`AdapterConfig::from_json`) and a whole PEFT
//! adapter from the bytes of its two files (`LoraAdapter::from_bytes`, validated against a small
//! fixed base), and an adapter bundle (the ustar archive of its files). None may panic; what
//! parses must also survive a save/parse round trip.
//!
//! The first byte picks the loader. Raw bytes exercise the JSON and safetensors parsers; the
//! structured modes start from valid files and let the input edit fields or patch bytes, so a
//! short run reaches the validation behind the parsers too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ol_inference::{
    AdapterConfig, GenerationConfig, LoraAdapter, ModelConfig, StoreDtype, Target,
    config::chat_template_from_json,
};
use serde_json::{Map, Value, json};
use std::sync::LazyLock;

/// The base every adapter is validated against: 2 layers, GQA 4/2 heads of 4, MLP 32.
fn base_json() -> Value {
    json!({
        "model_type": "llama",
        "hidden_act": "silu",
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 64,
        "max_position_embeddings": 64,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "bos_token_id": 1,
        "eos_token_id": [2, 3],
        "tie_word_embeddings": false
    })
}

static BASE: LazyLock<ModelConfig> = LazyLock::new(|| {
    ModelConfig::from_json(base_json().to_string().as_bytes()).expect("the fixed base parses")
});

/// A valid adapter for [`BASE`] as the bytes of `adapter_config.json` and of
/// `adapter_model.safetensors` (F16 and F32).
struct Seed {
    config: Vec<u8>,
    f16: Vec<u8>,
    f32: Vec<u8>,
}

fn seed(patterns: bool) -> Seed {
    let mut spec = AdapterConfig::new(4, 8.0, &[Target::Q, Target::V, Target::Down]);
    if patterns {
        spec.rank_pattern = vec![("v_proj".into(), 2)];
        spec.alpha_pattern = vec![("layers\\.1\\.mlp\\.down_proj".into(), 3.0)];
    }
    let adapter = LoraAdapter::random(spec, &BASE, 7, &candle_core::Device::Cpu)
        .expect("the seed adapter builds");
    let (config, f16) = adapter.to_bytes(StoreDtype::F16).expect("encodes");
    let (_, f32) = adapter.to_bytes(StoreDtype::F32).expect("encodes");
    Seed { config, f16, f32 }
}

/// q, v and down targeted, with a rank and an alpha pattern (whose regular expressions make
/// every load slow, so only the configuration-editing mode uses it).
static PATTERNED: LazyLock<Seed> = LazyLock::new(|| seed(true));
/// The same targets without patterns, for the byte-patching modes.
static PLAIN: LazyLock<Seed> = LazyLock::new(|| seed(false));

/// Reads the fuzzer's bytes as a stream of small decisions (zeros once exhausted).
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(std::array::from_fn(|_| self.byte()))
    }

    fn pick<'s>(&mut self, options: &[&'s str]) -> &'s str {
        options[self.byte() as usize % options.len()]
    }

    /// A JSON value of a shape configuration files use, or get wrong.
    fn value(&mut self, depth: u8) -> Value {
        const STRINGS: &[&str] = &[
            "",
            "llama",
            "mistral",
            "qwen2",
            "gemma",
            "silu",
            "gelu",
            "default",
            "llama3",
            "linear",
            "dynamic",
            "LORA",
            "IA3",
            "none",
            "all",
            "lora_only",
            "all-linear",
            "q_proj",
            "v_proj",
            "down_proj",
            "self_attn.q_proj",
            "mlp",
            ".*",
            ".*_proj",
            "model\\.layers\\.1\\..*",
            "(",
            "[",
            "a{1000}{1000}",
            "q_proj|v_proj",
            "layers.0",
            "\u{0}",
            "é",
            "default",
        ];
        match self.byte() % 12 {
            0 => Value::Null,
            1 => json!(self.byte() & 1 == 1),
            2 => json!(self.byte()),
            3 => json!(self.u16()),
            4 => json!(self.u64()),
            5 => json!(-i64::from(self.u16()) - 1),
            6 => serde_json::Number::from_f64(f64::from_bits(self.u64()))
                .map_or(Value::Null, Value::Number),
            7 => json!(f64::from(self.u16()) / 8.0),
            8 => json!(self.pick(STRINGS)),
            9 if depth < 3 => {
                let n = self.byte() % 4;
                Value::Array((0..n).map(|_| self.value(depth + 1)).collect())
            }
            10 if depth < 3 => {
                let n = self.byte() % 4;
                let mut m = Map::new();
                for _ in 0..n {
                    let k = self.pick(STRINGS).to_string();
                    m.insert(k, self.value(depth + 1));
                }
                Value::Object(m)
            }
            _ => json!(self.byte() % 4),
        }
    }

    /// Applies up to 8 edits (set, remove, or replace with a generated value) to `fields` of an
    /// object; a field of a nested object is named `outer.inner`.
    fn edit(&mut self, mut v: Value, fields: &[&str]) -> Value {
        for _ in 0..self.byte() % 9 {
            let path = self.pick(fields);
            let remove = self.byte() % 5 == 0;
            let value = self.value(0);
            let (outer, inner) = match path.split_once('.') {
                Some((o, i)) => (o, Some(i)),
                None => (path, None),
            };
            let Some(obj) = v.as_object_mut() else { break };
            let target = match inner {
                None => obj,
                Some(_) => match obj.entry(outer).or_insert_with(|| json!({})) {
                    Value::Object(m) => m,
                    _ => continue,
                },
            };
            let key = inner.unwrap_or(outer);
            if remove {
                target.remove(key);
            } else {
                target.insert(key.to_string(), value);
            }
        }
        v
    }
}

const MODEL_FIELDS: &[&str] = &[
    "model_type",
    "hidden_act",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "vocab_size",
    "max_position_embeddings",
    "rms_norm_eps",
    "rope_theta",
    "rope_scaling",
    "rope_scaling.rope_type",
    "rope_scaling.type",
    "rope_scaling.factor",
    "rope_scaling.low_freq_factor",
    "rope_scaling.high_freq_factor",
    "rope_scaling.original_max_position_embeddings",
    "rope_parameters",
    "rope_parameters.rope_type",
    "rope_parameters.rope_theta",
    "rope_parameters.factor",
    "partial_rotary_factor",
    "tie_word_embeddings",
    "attention_bias",
    "mlp_bias",
    "sliding_window",
    "use_sliding_window",
    "layer_types",
    "bos_token_id",
    "eos_token_id",
];

const ADAPTER_FIELDS: &[&str] = &[
    "peft_type",
    "use_dora",
    "fan_in_fan_out",
    "bias",
    "modules_to_save",
    "r",
    "lora_alpha",
    "target_modules",
    "layers_to_transform",
    "use_rslora",
    "rank_pattern",
    "alpha_pattern",
    "rank_pattern.v_proj",
    "rank_pattern.q_proj",
    "rank_pattern.layers\\.0\\.self_attn\\.q_proj",
    "alpha_pattern.v_proj",
    "alpha_pattern.down_proj",
    "base_model_name_or_path",
    "layers_pattern",
    "lora_bias",
    "exclude_modules",
    "target_parameters",
];

const GENERATION_FIELDS: &[&str] = &[
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "do_sample",
    "temperature",
    "top_p",
    "top_k",
];

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

/// What `ModelConfig::from_json` accepted, written back with `to_json`, parses to the same
/// configuration.
fn model_config(bytes: &[u8]) {
    let Ok(config) = ModelConfig::from_json(bytes) else {
        return;
    };
    let _ = config.group_size();
    for t in Target::ALL {
        let _ = t.in_out(&config);
    }
    let written = config.to_json().to_string();
    let back = ModelConfig::from_json(written.as_bytes())
        .unwrap_or_else(|e| panic!("to_json of an accepted config does not parse: {e}\n{written}"));
    let floats = |c: &ModelConfig| {
        let s = c.rope_scaling.map(|s| {
            (
                s.factor,
                s.low_freq_factor,
                s.high_freq_factor,
                s.original_max_position_embeddings,
            )
        });
        (c.rms_norm_eps, c.rope_theta, s)
    };
    let (ea, ta, sa) = floats(&config);
    let (eb, tb, sb) = floats(&back);
    assert!(
        close(ea, eb) && close(ta, tb),
        "norm/rope floats changed: {written}"
    );
    match (sa, sb) {
        (None, None) => {}
        (Some(a), Some(b)) => assert!(
            close(a.0, b.0) && close(a.1, b.1) && close(a.2, b.2) && a.3 == b.3,
            "rope scaling changed: {written}"
        ),
        _ => panic!("rope scaling lost or invented: {written}"),
    }
    let mut b = back;
    b.rms_norm_eps = config.rms_norm_eps;
    b.rope_theta = config.rope_theta;
    b.rope_scaling = config.rope_scaling;
    assert_eq!(
        config, b,
        "config.json round trip changed the model: {written}"
    );
}

/// An accepted `adapter_config.json` plans every block projection of the base without
/// panicking, and survives `to_json`.
fn adapter_config(bytes: &[u8]) {
    let Ok(config) = AdapterConfig::from_json(bytes) else {
        return;
    };
    for layer in 0..=BASE.num_hidden_layers {
        for t in Target::ALL {
            let _ = config.module_plan(&BASE, layer, t);
        }
    }
    let written = config.to_json().to_string();
    let back = AdapterConfig::from_json(written.as_bytes()).unwrap_or_else(|e| {
        panic!("to_json of an accepted adapter config does not parse: {e}\n{written}")
    });
    assert!(
        close(config.lora_alpha, back.lora_alpha),
        "lora_alpha changed: {written}"
    );
    assert_eq!(config.alpha_pattern.len(), back.alpha_pattern.len());
    for ((ka, va), (kb, vb)) in config.alpha_pattern.iter().zip(&back.alpha_pattern) {
        assert!(
            ka == kb && close(*va, *vb),
            "alpha_pattern changed: {written}"
        );
    }
    let mut b = back;
    b.lora_alpha = config.lora_alpha;
    b.alpha_pattern.clone_from(&config.alpha_pattern);
    assert_eq!(
        config, b,
        "adapter_config.json round trip changed the adapter: {written}"
    );
}

/// An adapter accepted from bytes fits its base and round-trips through `to_bytes`.
fn adapter(config: &[u8], tensors: &[u8]) {
    let device = candle_core::Device::Cpu;
    let Ok(adapter) = LoraAdapter::from_bytes(config, tensors, &BASE, &device) else {
        return;
    };
    adapter
        .check_fits(&BASE)
        .expect("an adapter fits the base it was validated against");
    let (c, t) = adapter
        .to_bytes(StoreDtype::F32)
        .expect("an accepted adapter encodes");
    let back = LoraAdapter::from_bytes(&c, &t, &BASE, &device)
        .unwrap_or_else(|e| panic!("an accepted adapter does not reload from its bytes: {e}"));
    assert_eq!(back.config().r, adapter.config().r);
}

/// A bundle that unpacks loads as its files do, and what loads bundles again to the same
/// bytes.
fn bundle(archive: &[u8]) {
    let Ok(files) = ol_inference::adapter::bundle::unbundle(archive) else {
        return;
    };
    adapter(&files.config, &files.weights);
    let again = ol_inference::adapter::bundle::bundle(
        &files.config,
        &files.weights,
        files.gradient_store.as_deref(),
    )
    .expect("files bundle");
    let back = ol_inference::adapter::bundle::unbundle(&again).expect("a bundle unpacks");
    assert!(back == files, "a bundle changed its files");
    let _ = LoraAdapter::from_bundle(archive, &BASE, &candle_core::Device::Cpu);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    let mut input = Input(payload);
    match mode % 12 {
        // Raw bytes into each parser.
        0 => model_config(payload),
        1 => adapter_config(payload),
        2 => {
            let _ = GenerationConfig::from_json(payload);
        }
        3 => {
            let _ = chat_template_from_json(payload);
        }
        4 => {
            let split = (input.u16() as usize).min(payload.len().saturating_sub(2));
            let rest = payload.get(2..).unwrap_or_default();
            adapter(&rest[..split], &rest[split..]);
        }
        // Valid files with fields edited.
        5 => {
            // Each architecture reads some fields differently, so it is chosen first.
            let mut v = base_json();
            v["model_type"] = json!(input.pick(&["llama", "mistral", "qwen2"]));
            model_config(input.edit(v, MODEL_FIELDS).to_string().as_bytes());
        }
        6 => {
            let seed = &*PATTERNED;
            let v: Value = serde_json::from_slice(&seed.config).expect("seed config is JSON");
            let edited = input.edit(v, ADAPTER_FIELDS).to_string();
            adapter_config(edited.as_bytes());
            // The edited configuration against the seed's valid tensors: rank, target and
            // layer mismatches must be errors.
            adapter(edited.as_bytes(), &seed.f16);
        }
        7 => {
            let v = input.edit(
                json!({"eos_token_id": 2, "do_sample": true}),
                GENERATION_FIELDS,
            );
            let _ = GenerationConfig::from_json(v.to_string().as_bytes());
            let mut t = Map::new();
            t.insert("chat_template".into(), input.value(0));
            let _ = chat_template_from_json(Value::Object(t).to_string().as_bytes());
        }
        // Adapter bundles (the content store's one-object form): raw bytes, and the seed's
        // bundle with bytes patched (mostly in the tar headers) and cut.
        10 => bundle(payload),
        11 => {
            let seed = &*PLAIN;
            let mut archive = ol_inference::adapter::bundle::bundle(&seed.config, &seed.f16, None)
                .expect("the seed bundles");
            for _ in 0..input.byte() % 8 {
                let at = input.u16() as usize;
                let at = if at % 4 == 0 { at } else { at % 1536 };
                let byte = input.byte();
                if let Some(b) = archive.get_mut(at) {
                    *b = byte;
                }
            }
            if input.byte() % 8 == 7 {
                let keep = input.u16() as usize % (archive.len() + 1);
                archive.truncate(keep);
            }
            bundle(&archive);
        }
        // The seed's safetensors (F16 or F32) with bytes patched and the buffer cut.
        _ => {
            let seed = &*PLAIN;
            let mut tensors = if mode % 12 == 8 {
                seed.f16.clone()
            } else {
                seed.f32.clone()
            };
            let header = u64::from_le_bytes(tensors[..8].try_into().unwrap_or_default()) as usize;
            for _ in 0..input.byte() % 16 {
                // Mostly in the 8-byte length and the JSON header, where the structure is.
                let at = input.u16() as usize;
                let at = if at % 4 == 0 { at } else { at % (header + 8) };
                let byte = input.byte();
                if let Some(b) = tensors.get_mut(at) {
                    *b = byte;
                }
            }
            // (An exhausted input reads as zeros: no cut then, so short inputs load the file.)
            if input.byte() % 8 == 7 {
                let keep = input.u16() as usize % (tensors.len() + 1);
                tensors.truncate(keep);
            }
            adapter(&seed.config, &tensors);
        }
    }
});
