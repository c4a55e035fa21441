use super::*;
use crate::InferenceError;

fn llama3_json() -> serde_json::Value {
    json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 300,
        "max_position_embeddings": 256,
        "rms_norm_eps": 1e-5,
        "rope_theta": 500000.0,
        "rope_scaling": {
            "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64, "rope_type": "llama3"
        },
        "bos_token_id": 1,
        "eos_token_id": [2, 3],
        "tie_word_embeddings": true,
        "hidden_act": "silu",
        "pretraining_tp": 1
    })
}

fn parse(v: &serde_json::Value) -> Result<ModelConfig> {
    ModelConfig::from_json(v.to_string().as_bytes())
}

fn field_of(e: InferenceError) -> String {
    match e {
        InferenceError::Config { field, .. } => field,
        other => panic!("expected a config error, got {other}"),
    }
}

#[test]
fn parses_llama3_with_gqa_rope_scaling_and_tied_embeddings() {
    let c = parse(&llama3_json()).unwrap();
    assert_eq!(c.architecture, Architecture::Llama);
    assert_eq!(c.head_dim, 16);
    assert_eq!(c.group_size(), 2);
    assert_eq!(c.eos_token_ids, vec![2, 3]);
    assert!(c.tie_word_embeddings);
    let s = c.rope_scaling.unwrap();
    assert_eq!(s.original_max_position_embeddings, 64);
    // The JSON we write parses back to the same configuration.
    assert_eq!(parse(&c.to_json()).unwrap(), c);
}

#[test]
fn qwen2_has_qkv_biases_and_mistral_a_window() {
    let mut v = llama3_json();
    v["model_type"] = json!("qwen2");
    let c = parse(&v).unwrap();
    assert!(c.qkv_bias && !c.o_bias);
    v["model_type"] = json!("mistral");
    v["sliding_window"] = json!(16);
    let c = parse(&v).unwrap();
    assert_eq!(c.sliding_window, Some(16));
    assert!(!c.qkv_bias);
    assert_eq!(parse(&c.to_json()).unwrap(), c);
}

/// Found by the `model_files` fuzz target: a Mistral or Qwen2 `config.json` with
/// `attention_bias`/`mlp_bias` gave biases that transformers does not build for these models,
/// and that `to_json` (which writes the fields for Llama only) then dropped, so a saved model
/// read back as another one. Only Llama reads the two fields.
#[test]
fn bias_flags_are_read_for_llama_only() {
    let mut v = llama3_json();
    v["attention_bias"] = json!(true);
    v["mlp_bias"] = json!(true);
    let llama = parse(&v).unwrap();
    assert!(llama.qkv_bias && llama.o_bias && llama.mlp_bias);
    for (model_type, qkv) in [("mistral", false), ("qwen2", true)] {
        v["model_type"] = json!(model_type);
        let c = parse(&v).unwrap();
        assert_eq!(
            (c.qkv_bias, c.o_bias, c.mlp_bias),
            (qkv, false, false),
            "{model_type}"
        );
        assert_eq!(parse(&c.to_json()).unwrap(), c, "{model_type}");
    }
    // The fields are still type-checked.
    v["attention_bias"] = json!("yes");
    assert_eq!(field_of(parse(&v).unwrap_err()), "attention_bias");
}

/// transformers 5 writes `rope_theta` and the scaling inside `rope_parameters` (and no
/// top-level `rope_theta`): the same configuration as the transformers 4 layout.
#[test]
fn transformers5_rope_parameters_read_like_rope_scaling() {
    let old = parse(&llama3_json()).unwrap();
    let mut v = llama3_json();
    let o = v.as_object_mut().unwrap();
    o.remove("rope_theta");
    o.remove("rope_scaling");
    o.insert(
        "rope_parameters".into(),
        json!({
            "rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
            "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64
        }),
    );
    assert_eq!(parse(&v).unwrap(), old);
    // The default rope with its theta; transformers 5 fills a missing original length from the
    // context length.
    v["rope_parameters"] = json!({"rope_type": "default", "rope_theta": 123.0});
    let c = parse(&v).unwrap();
    assert_eq!((c.rope_theta, c.rope_scaling), (123.0, None));
    v["rope_parameters"] = json!({"rope_type": "llama3", "factor": 8.0,
        "low_freq_factor": 1.0, "high_freq_factor": 4.0});
    let c = parse(&v).unwrap();
    assert_eq!(c.rope_theta, 10_000.0);
    assert_eq!(
        c.rope_scaling.unwrap().original_max_position_embeddings,
        256
    );
    for (bad, field) in [
        (
            json!({"rope_type": "yarn", "factor": 2.0}),
            "rope_parameters.rope_type",
        ),
        (
            json!({"full_attention": {"rope_type": "default"}}),
            "rope_parameters.full_attention",
        ),
        (
            json!({"rope_type": "default", "partial_rotary_factor": 0.5}),
            "partial_rotary_factor",
        ),
    ] {
        v["rope_parameters"] = bad;
        assert_eq!(field_of(parse(&v).unwrap_err()), field);
    }
    let mut v = llama3_json();
    v["model_type"] = json!("qwen2");
    v["layer_types"] = json!(["full_attention", "full_attention"]);
    assert!(parse(&v).is_ok());
    v["layer_types"] = json!(["full_attention", "sliding_attention"]);
    assert_eq!(field_of(parse(&v).unwrap_err()), "layer_types");
}

#[test]
fn bad_configs_name_the_field() {
    let cases: Vec<(&str, serde_json::Value)> = vec![
        ("model_type", json!("gpt2")),
        ("hidden_act", json!("gelu")),
        ("hidden_size", json!(-3)),
        ("num_key_value_heads", json!(3)),
        ("vocab_size", json!(0)),
        ("rms_norm_eps", json!("small")),
        ("num_hidden_layers", json!(1_000_000)),
    ];
    for (field, value) in cases {
        let mut v = llama3_json();
        v[field] = value;
        assert_eq!(field_of(parse(&v).unwrap_err()), field);
    }
    let mut v = llama3_json();
    v.as_object_mut().unwrap().remove("intermediate_size");
    assert_eq!(field_of(parse(&v).unwrap_err()), "intermediate_size");
    let mut v = llama3_json();
    v["rope_scaling"] = json!({"rope_type": "yarn", "factor": 2.0});
    assert_eq!(field_of(parse(&v).unwrap_err()), "rope_scaling.rope_type");
    let mut v = llama3_json();
    v["eos_token_id"] = json!(300);
    assert_eq!(field_of(parse(&v).unwrap_err()), "eos_token_id");
    assert!(matches!(
        ModelConfig::from_json(b"{not json"),
        Err(InferenceError::Json { .. })
    ));
    assert!(matches!(
        ModelConfig::from_json(b"[1]"),
        Err(InferenceError::Json { .. })
    ));
}

#[test]
fn generation_config_and_chat_template() {
    let g = GenerationConfig::from_json(br#"{"eos_token_id": 7, "do_sample": true, "top_p": 0.9}"#)
        .unwrap();
    assert_eq!(g.eos_token_ids, vec![7]);
    assert_eq!(g.top_p, Some(0.9));
    assert_eq!(
        chat_template_from_json(br#"{"chat_template": "{{ x }}"}"#).unwrap(),
        Some("{{ x }}".into())
    );
    let list = br#"{"chat_template": [{"name": "tool_use", "template": "a"}, {"name": "default", "template": "b"}]}"#;
    assert_eq!(chat_template_from_json(list).unwrap(), Some("b".into()));
    assert_eq!(chat_template_from_json(b"{}").unwrap(), None);
}
