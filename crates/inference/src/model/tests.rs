use super::*;
use crate::{
    adapter::AdapterConfig,
    config::{Architecture, Llama3RopeScaling},
    kernels::CpuLoraKernel,
};
use candle_core::Var;

/// A tiny Llama with grouped-query attention.
pub(crate) fn tiny_config() -> ModelConfig {
    ModelConfig {
        architecture: Architecture::Llama,
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: 8,
        vocab_size: 64,
        max_position_embeddings: 128,
        rms_norm_eps: 1e-5,
        rope_theta: 10_000.0,
        rope_scaling: None,
        tie_word_embeddings: false,
        qkv_bias: false,
        o_bias: false,
        mlp_bias: false,
        sliding_window: None,
        bos_token_id: Some(0),
        eos_token_ids: vec![1],
    }
}

/// The family members the forward pass distinguishes.
pub(crate) fn variants() -> Vec<ModelConfig> {
    let llama = tiny_config();
    let mut llama3 = tiny_config();
    llama3.tie_word_embeddings = true;
    llama3.rope_theta = 500_000.0;
    llama3.rope_scaling = Some(Llama3RopeScaling {
        factor: 8.0,
        low_freq_factor: 1.0,
        high_freq_factor: 4.0,
        original_max_position_embeddings: 16,
    });
    let mut qwen2 = tiny_config();
    qwen2.architecture = Architecture::Qwen2;
    qwen2.qkv_bias = true;
    qwen2.num_key_value_heads = 1;
    let mut mistral = tiny_config();
    mistral.architecture = Architecture::Mistral;
    mistral.sliding_window = Some(3);
    mistral.num_key_value_heads = 4;
    let mut biased = tiny_config();
    biased.qkv_bias = true;
    biased.o_bias = true;
    biased.mlp_bias = true;
    vec![llama, llama3, qwen2, mistral, biased]
}

/// The bit patterns of a tensor's values, for exact comparisons.
pub(crate) fn bits(t: &Tensor) -> Vec<u32> {
    t.flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

fn run(
    model: &LlamaModel,
    tokens: &[u32],
    cache: &mut KvCache,
    adapter: Option<&LoraAdapter>,
    logits: Logits,
) -> Tensor {
    let mut seqs = [SeqInput {
        tokens,
        cache,
        adapter,
    }];
    model.forward(&mut seqs, &CpuLoraKernel, logits).unwrap()
}

#[test]
fn prefill_logits_equal_token_by_token_decoding_bit_for_bit() {
    let prompt: Vec<u32> = (0..9).map(|i| (i * 7 + 3) % 64).collect();
    for (i, config) in variants().into_iter().enumerate() {
        let model = LlamaModel::random(config.clone(), 11 + i as u64, &Device::Cpu).unwrap();
        let all = run(&model, &prompt, &mut KvCache::new(), None, Logits::All);
        assert_eq!(all.dims(), &[prompt.len(), 64]);
        let mut cache = KvCache::new();
        for (pos, tok) in prompt.iter().enumerate() {
            let step = run(
                &model,
                std::slice::from_ref(tok),
                &mut cache,
                None,
                Logits::Last,
            );
            assert_eq!(
                bits(&step),
                bits(&all.narrow(0, pos, 1).unwrap()),
                "{:?} position {pos}",
                config.architecture
            );
        }
        assert_eq!(cache.len(), prompt.len());
        // A prefill of 5 followed by decoding matches too, and Last is the last row of All.
        let mut cache = KvCache::new();
        let last = run(&model, &prompt[..5], &mut cache, None, Logits::Last);
        assert_eq!(bits(&last), bits(&all.narrow(0, 4, 1).unwrap()));
        let next = run(&model, &prompt[5..6], &mut cache, None, Logits::Last);
        assert_eq!(bits(&next), bits(&all.narrow(0, 5, 1).unwrap()));
    }
}

#[test]
fn sliding_window_limits_what_a_position_sees() {
    let mut config = tiny_config();
    config.architecture = crate::config::Architecture::Mistral;
    config.sliding_window = Some(2);
    let model = LlamaModel::random(config, 5, &Device::Cpu).unwrap();
    // The same weights with a window that covers the whole prompt.
    let mut wide = model.config().clone();
    wide.sliding_window = Some(100);
    let wide = LlamaModel::from_tensors(wide, model.to_tensors().unwrap(), &Device::Cpu).unwrap();
    let prompt = [3u32, 9, 27, 17, 51];
    let narrow = run(&model, &prompt, &mut KvCache::new(), None, Logits::All);
    let full = run(&wide, &prompt, &mut KvCache::new(), None, Logits::All);
    // The first two positions see at most two keys under both windows.
    assert_eq!(
        bits(&narrow.narrow(0, 0, 2).unwrap()),
        bits(&full.narrow(0, 0, 2).unwrap())
    );
    assert_ne!(
        bits(&narrow.narrow(0, 4, 1).unwrap()),
        bits(&full.narrow(0, 4, 1).unwrap())
    );
}

#[test]
fn to_tensors_round_trips_and_bad_tensors_are_named() {
    let config = tiny_config();
    let model = LlamaModel::random(config.clone(), 3, &Device::Cpu).unwrap();
    let tensors = model.to_tensors().unwrap();
    let back = LlamaModel::from_tensors(config.clone(), tensors.clone(), &Device::Cpu).unwrap();
    let prompt = [5u32, 6, 7];
    assert_eq!(
        bits(&run(
            &model,
            &prompt,
            &mut KvCache::new(),
            None,
            Logits::All
        )),
        bits(&run(&back, &prompt, &mut KvCache::new(), None, Logits::All))
    );

    let mut missing = tensors.clone();
    missing.remove("model.layers.1.mlp.up_proj.weight");
    match LlamaModel::from_tensors(config.clone(), missing, &Device::Cpu) {
        Err(InferenceError::MissingTensor { name, .. }) => {
            assert_eq!(name, "model.layers.1.mlp.up_proj.weight")
        }
        other => panic!("expected a missing tensor, got {other:?}"),
    }
    let mut extra = tensors.clone();
    extra.insert(
        "model.layers.0.self_attn.q_proj.bias".into(),
        Tensor::zeros(16, DType::F32, &Device::Cpu).unwrap(),
    );
    assert!(matches!(
        LlamaModel::from_tensors(config.clone(), extra, &Device::Cpu),
        Err(InferenceError::UnexpectedTensor { .. })
    ));
    let mut ignored = tensors.clone();
    ignored.insert(
        "model.layers.0.self_attn.rotary_emb.inv_freq".into(),
        Tensor::zeros(4, DType::F32, &Device::Cpu).unwrap(),
    );
    assert!(LlamaModel::from_tensors(config.clone(), ignored, &Device::Cpu).is_ok());
    let mut shaped = tensors;
    shaped.insert(
        "model.norm.weight".into(),
        Tensor::zeros(31, DType::F32, &Device::Cpu).unwrap(),
    );
    match LlamaModel::from_tensors(config, shaped, &Device::Cpu) {
        Err(InferenceError::TensorShape {
            name,
            expected,
            actual,
        }) => {
            assert_eq!(
                (name.as_str(), expected, actual),
                ("model.norm.weight", vec![32], vec![31])
            );
        }
        other => panic!("expected a shape error, got {other:?}"),
    }
}

#[test]
fn bad_requests_are_errors() {
    let model = LlamaModel::random(tiny_config(), 1, &Device::Cpu).unwrap();
    let mut cache = KvCache::new();
    let mut seqs = [SeqInput {
        tokens: &[64],
        cache: &mut cache,
        adapter: None,
    }];
    assert!(matches!(
        model.forward(&mut seqs, &CpuLoraKernel, Logits::Last),
        Err(InferenceError::InvalidRequest(_))
    ));
    let long = vec![1u32; 129];
    let mut cache = KvCache::new();
    let mut seqs = [SeqInput {
        tokens: &long,
        cache: &mut cache,
        adapter: None,
    }];
    assert!(matches!(
        model.forward(&mut seqs, &CpuLoraKernel, Logits::Last),
        Err(InferenceError::InvalidRequest(_))
    ));
}

#[test]
fn gradients_reach_every_lora_factor() {
    let config = tiny_config();
    let model = LlamaModel::random(config.clone(), 2, &Device::Cpu).unwrap();
    let spec = AdapterConfig::new(2, 4.0, &Target::ALL);
    let random = LoraAdapter::random(spec.clone(), &config, 9, &Device::Cpu).unwrap();
    let vars: BTreeMap<String, Var> = random
        .to_tensors()
        .unwrap()
        .into_iter()
        .map(|(k, t)| (k, Var::from_tensor(&t).unwrap()))
        .collect();
    let tensors = vars
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    let adapter = LoraAdapter::from_tensors(spec, tensors, &config).unwrap();
    let logits = run(
        &model,
        &[3, 4, 5, 6],
        &mut KvCache::new(),
        Some(&adapter),
        Logits::All,
    );
    let loss = logits.sqr().unwrap().mean_all().unwrap();
    let grads = loss.backward().unwrap();
    for (name, v) in &vars {
        let g = grads
            .get(v.as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {name}"));
        let norm = g
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(norm > 0.0, "zero gradient for {name}");
    }
}

#[test]
fn merged_matches_unmerged_within_tolerance() {
    let config = tiny_config();
    let model = LlamaModel::random(config.clone(), 4, &Device::Cpu).unwrap();
    let adapter = LoraAdapter::random(
        AdapterConfig::new(4, 8.0, &Target::ALL),
        &config,
        5,
        &Device::Cpu,
    )
    .unwrap();
    let merged = model.merged(&adapter).unwrap();
    let prompt = [9u32, 8, 7, 6, 5];
    let unmerged = run(
        &model,
        &prompt,
        &mut KvCache::new(),
        Some(&adapter),
        Logits::All,
    );
    let merged_out = run(&merged, &prompt, &mut KvCache::new(), None, Logits::All);
    let base = run(&model, &prompt, &mut KvCache::new(), None, Logits::All);
    let diff = |a: &Tensor, b: &Tensor| {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    assert!(
        diff(&base, &unmerged) > 1e-2,
        "the adapter changes the output"
    );
    assert!(
        diff(&merged_out, &unmerged) < 1e-4,
        "merged differs by {}",
        diff(&merged_out, &unmerged)
    );
}
