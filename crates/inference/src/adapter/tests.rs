use super::*;
use crate::model::tests::{bits, tiny_config};
use serde_json::json;

fn sample() -> (ModelConfig, LoraAdapter) {
    let base = tiny_config();
    let mut spec = AdapterConfig::new(4, 8.0, &[Target::Q, Target::V, Target::Down]);
    spec.rank_pattern = vec![("v_proj".into(), 2)];
    spec.alpha_pattern = vec![("layers\\.1\\.mlp\\.down_proj".into(), 3.0)];
    spec.base_model_name_or_path = Some("tiny".into());
    let adapter = LoraAdapter::random(spec, &base, 1, &Device::Cpu).unwrap();
    (base, adapter)
}

#[test]
fn ranks_scales_and_round_trip_through_bytes_and_folders() {
    let (base, adapter) = sample();
    let q = adapter.factors(0, Target::Q).unwrap();
    assert_eq!(q.a_t.dims(), &[32, 4]);
    assert_eq!(q.scale, 2.0);
    let v = adapter.factors(1, Target::V).unwrap();
    assert_eq!(v.b_t.dims(), &[2, 16]);
    assert_eq!(v.scale, 4.0);
    assert_eq!(adapter.factors(1, Target::Down).unwrap().scale, 0.75);
    assert_eq!(adapter.factors(0, Target::Down).unwrap().scale, 2.0);
    assert!(adapter.factors(0, Target::K).is_none());

    let (config, tensors) = adapter.to_bytes(StoreDtype::F32).unwrap();
    let back = LoraAdapter::from_bytes(&config, &tensors, &base, &Device::Cpu).unwrap();
    assert_eq!(back.config(), adapter.config());
    let dir = tempfile::tempdir().unwrap();
    adapter.save_dir(dir.path(), StoreDtype::F32).unwrap();
    let loaded = LoraAdapter::load_dir(dir.path(), &base, &Device::Cpu).unwrap();
    for (a, b) in [(&back, &adapter), (&loaded, &adapter)] {
        for layer in 0..2 {
            for t in Target::ALL {
                match (a.factors(layer, t), b.factors(layer, t)) {
                    (None, None) => {}
                    (Some(x), Some(y)) => {
                        assert_eq!(bits(&x.a_t), bits(&y.a_t));
                        assert_eq!(bits(&x.b_t), bits(&y.b_t));
                        assert_eq!(x.scale, y.scale);
                    }
                    _ => panic!("factors differ at {layer} {t:?}"),
                }
            }
        }
    }
    // BF16 storage loads as the rounded values.
    let (_, bf16) = adapter.to_bytes(StoreDtype::BF16).unwrap();
    let rounded = LoraAdapter::from_bytes(&config, &bf16, &base, &Device::Cpu).unwrap();
    let a = rounded
        .factors(0, Target::Q)
        .unwrap()
        .a_t
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let want = q.a_t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    for (x, y) in a.iter().zip(&want) {
        assert_eq!(*x, half::bf16::from_f32(*y).to_f32());
    }
}

#[test]
fn reads_a_peft_written_config() {
    let peft = json!({
        "alpha_pattern": {}, "auto_mapping": null, "base_model_name_or_path": "meta-llama/Llama-3.2-1B",
        "bias": "none", "fan_in_fan_out": false, "inference_mode": true, "init_lora_weights": true,
        "layer_replication": null, "layers_pattern": null, "layers_to_transform": null,
        "loftq_config": {}, "lora_alpha": 32, "lora_dropout": 0.05, "megatron_config": null,
        "megatron_core": "megatron.core", "modules_to_save": null, "peft_type": "LORA", "r": 16,
        "rank_pattern": {}, "revision": null, "target_modules": ["v_proj", "q_proj"],
        "task_type": "CAUSAL_LM", "use_dora": false, "use_rslora": false
    });
    let c = AdapterConfig::from_json(peft.to_string().as_bytes()).unwrap();
    assert_eq!((c.r, c.lora_alpha), (16, 32.0));
    assert_eq!(
        c.target_modules,
        TargetModules::List(vec!["v_proj".into(), "q_proj".into()])
    );
    assert_eq!(
        c.base_model_name_or_path.as_deref(),
        Some("meta-llama/Llama-3.2-1B")
    );
    let base = tiny_config();
    let regex = AdapterConfig {
        target_modules: TargetModules::Regex(r".*\.layers\.1\..*(q|k)_proj".into()),
        ..c.clone()
    };
    assert!(regex.module_plan(&base, 1, Target::K).unwrap().is_some());
    assert!(regex.module_plan(&base, 0, Target::K).unwrap().is_none());
    let only_layer_0 = AdapterConfig {
        layers_to_transform: Some(vec![0]),
        ..c.clone()
    };
    assert!(
        only_layer_0
            .module_plan(&base, 1, Target::Q)
            .unwrap()
            .is_none()
    );
    let all = AdapterConfig {
        target_modules: TargetModules::AllLinear,
        ..c
    };
    assert!(all.module_plan(&base, 1, Target::Down).unwrap().is_some());
}

/// `layers_to_transform` filters what PEFT matches by suffix, not a full module name in the
/// list; an empty list means every layer; with a string `target_modules` it is refused, as PEFT
/// refuses it.
#[test]
fn layers_to_transform_filters_suffix_matches_only() {
    let base = tiny_config();
    let plan = |v: serde_json::Value, layer: usize| {
        AdapterConfig::from_json(v.to_string().as_bytes())
            .and_then(|c| c.module_plan(&base, layer, Target::Q))
            .map(|p| p.is_some())
    };
    let v = json!({"r": 4, "target_modules": ["q_proj"], "layers_to_transform": [0]});
    assert_eq!(
        (plan(v.clone(), 0).unwrap(), plan(v, 1).unwrap()),
        (true, false)
    );
    let v = json!({"r": 4, "target_modules": ["model.layers.1.self_attn.q_proj"],
        "layers_to_transform": [0]});
    assert_eq!(
        (plan(v.clone(), 0).unwrap(), plan(v, 1).unwrap()),
        (false, true)
    );
    let v = json!({"r": 4, "target_modules": ["q_proj"], "layers_to_transform": []});
    assert_eq!(
        (plan(v.clone(), 0).unwrap(), plan(v, 1).unwrap()),
        (true, true)
    );
    for (v, field) in [
        (
            json!({"r": 4, "target_modules": "all-linear", "layers_to_transform": [0]}),
            "layers_to_transform",
        ),
        (
            json!({"r": 4, "target_modules": ".*q_proj", "layers_to_transform": [0]}),
            "layers_to_transform",
        ),
        (
            json!({"r": 4, "target_modules": ["q_proj"], "layers_to_transform": [0],
            "layers_pattern": "h"}),
            "layers_pattern",
        ),
    ] {
        match plan(v, 0) {
            Err(InferenceError::Config { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected a {field} error, got {other:?}"),
        }
    }
}

#[test]
fn unsupported_configs_name_the_field() {
    let base = json!({"r": 4, "lora_alpha": 8, "target_modules": ["q_proj"]});
    for (field, value) in [
        ("peft_type", json!("IA3")),
        ("use_dora", json!(true)),
        ("bias", json!("all")),
        ("modules_to_save", json!(["lm_head"])),
        ("fan_in_fan_out", json!(true)),
        ("r", json!(0)),
        ("target_modules", json!(42)),
        ("rank_pattern", json!({"q_proj": 1.5})),
        ("lora_bias", json!(true)),
        (
            "exclude_modules",
            json!(["model.layers.0.self_attn.q_proj"]),
        ),
        ("alora_invocation_tokens", json!([5, 6])),
        ("trainable_token_indices", json!({"embed_tokens": [1]})),
    ] {
        let mut v = base.clone();
        v[field] = value;
        match AdapterConfig::from_json(v.to_string().as_bytes()) {
            Err(InferenceError::Config { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: expected a config error, got {other:?}"),
        }
    }
    let mut ambiguous = AdapterConfig::new(4, 8.0, &[Target::Q]);
    ambiguous.rank_pattern = vec![("q_proj".into(), 2), ("self_attn\\.q_proj".into(), 3)];
    assert!(ambiguous.module_plan(&tiny_config(), 0, Target::Q).is_err());
}

#[test]
fn tensors_that_do_not_fit_are_named() {
    let (base, adapter) = sample();
    let config = adapter.config().clone();
    let good = adapter.to_tensors().unwrap();
    let a_name = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight";
    let b_name = "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight";
    let zeros = |shape: &[usize]| Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap();

    let mut wrong_shape = good.clone();
    wrong_shape.insert(a_name.into(), zeros(&[3, 32]));
    assert!(matches!(
        LoraAdapter::from_tensors(config.clone(), wrong_shape, &base),
        Err(InferenceError::TensorShape { name, .. }) if name == a_name
    ));
    let mut missing_b = good.clone();
    missing_b.remove(b_name);
    assert!(matches!(
        LoraAdapter::from_tensors(config.clone(), missing_b, &base),
        Err(InferenceError::MissingTensor { name, .. }) if name == b_name
    ));
    let mut untargeted = good.clone();
    untargeted.insert(
        "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight".into(),
        zeros(&[4, 32]),
    );
    untargeted.insert(
        "base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight".into(),
        zeros(&[16, 4]),
    );
    assert!(matches!(
        LoraAdapter::from_tensors(config.clone(), untargeted, &base),
        Err(InferenceError::AdapterMismatch(_))
    ));
    for stray in [
        "base_model.model.lm_head.lora_A.weight",
        "base_model.model.model.embed_tokens.lora_embedding_A",
        "base_model.model.model.layers.0.mlp.q_proj.lora_A.weight",
        "base_model.model.model.layers.00.self_attn.q_proj.lora_A.weight",
    ] {
        let mut t = good.clone();
        t.insert(stray.into(), zeros(&[4, 32]));
        assert!(matches!(
            LoraAdapter::from_tensors(config.clone(), t, &base),
            Err(InferenceError::UnexpectedTensor { name, .. }) if name == stray
        ));
    }
    let mut deep = good;
    deep.insert(
        "base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight".into(),
        zeros(&[4, 32]),
    );
    assert!(matches!(
        LoraAdapter::from_tensors(config, deep, &base),
        Err(InferenceError::AdapterMismatch(_))
    ));
    let (cfg, bytes) = adapter.to_bytes(StoreDtype::F16).unwrap();
    for cut in [0, 7, bytes.len() / 2, bytes.len() - 1] {
        assert!(matches!(
            LoraAdapter::from_bytes(&cfg, &bytes[..cut], &base, &Device::Cpu),
            Err(InferenceError::Safetensors { .. })
        ));
    }
    let mut narrower = base;
    narrower.hidden_size = 16;
    narrower.head_dim = 4;
    assert!(matches!(
        LoraAdapter::from_bytes(&cfg, &bytes, &narrower, &Device::Cpu),
        Err(InferenceError::TensorShape { .. })
    ));
}
