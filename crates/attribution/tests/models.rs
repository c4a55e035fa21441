//! Analytic gradients of every model against finite differences, for every parameter group;
//! safetensors round trips; and a demonstration of the candle pitfall these models avoid.
//! The tiny Llama is `ol-inference`'s model, checked here in F64 through its training view.

use candle_core::{DType, Device, Tensor, Var};
use ol_attribution::{
    data::{ClassificationSpec, classification},
    gradcheck::{GroupCheck, check_gradients},
    models::{
        DiffModel, LlamaConfig, LogisticRegression, Mlp, TabularBatch, TinyLlama, TokenBatch,
        model_hash, randn, raw_grads,
    },
    rng::Rng,
};

fn assert_close(checks: &[GroupCheck], tol: f64) {
    for c in checks {
        println!(
            "{:<60} checked {:>4} max_grad {:.3e} max_abs_err {:.3e} max_rel_err {:.3e}",
            c.name, c.checked, c.max_grad, c.max_abs_err, c.max_rel_err
        );
        assert!(
            c.max_grad > 0.0,
            "{}: gradient is identically zero, the check is vacuous",
            c.name
        );
        assert!(
            c.max_rel_err < tol,
            "{}: relative error {} ≥ {tol}",
            c.name,
            c.max_rel_err
        );
    }
}

fn tabular_batch() -> TabularBatch {
    let data = classification(ClassificationSpec {
        n: 16,
        features: 5,
        classes: 3,
        separation: 1.0,
        task_seed: 3,
        sample_seed: 4,
    });
    TabularBatch::new(&data.rows(), &data.y, DType::F64, &Device::Cpu).unwrap()
}

#[test]
fn logistic_regression_gradients_match_finite_differences() {
    let model = LogisticRegression::zeros(5, 3, DType::F64, &Device::Cpu).unwrap();
    // Move away from the symmetric zero point.
    let mut rng = Rng::new(1);
    for p in model.params() {
        p.var
            .set(&randn(&mut rng, p.var.dims(), 0.5, DType::F64, &Device::Cpu).unwrap())
            .unwrap();
    }
    let checks = check_gradients(&model, &tabular_batch(), 1000, 1e-6, 0).unwrap();
    assert_eq!(checks.len(), 2);
    assert_close(&checks, 1e-6);
}

#[test]
fn mlp_gradients_match_finite_differences() {
    let model = Mlp::new(&[5, 8, 6, 3], 2, DType::F64, &Device::Cpu).unwrap();
    let mut rng = Rng::new(2);
    for p in model.params().iter().filter(|p| p.name.ends_with("bias")) {
        p.var
            .set(&randn(&mut rng, p.var.dims(), 0.3, DType::F64, &Device::Cpu).unwrap())
            .unwrap();
    }
    let checks = check_gradients(&model, &tabular_batch(), 1000, 1e-6, 0).unwrap();
    assert_eq!(checks.len(), 6);
    assert_close(&checks, 1e-6);
}

fn tiny_llama(vocab: usize) -> TinyLlama {
    let cfg = LlamaConfig {
        dim: 16,
        n_heads: 2,
        hidden_dim: 24,
        max_seq_len: 16,
        lora_rank: 2,
        lora_targets: vec!["q_proj".into(), "v_proj".into(), "down_proj".into()],
        ..LlamaConfig::tiny(vocab)
    };
    let model = TinyLlama::new(cfg, 5, DType::F64, &Device::Cpu).unwrap();
    // PEFT initialises B to zero, which makes A's gradient identically zero; randomise every
    // group (norm weights too) so that no check is vacuous.
    let mut rng = Rng::new(9);
    for p in model.params() {
        let std = if p.name.contains("norm") { 0.3 } else { 0.2 };
        let noise = randn(&mut rng, p.var.dims(), std, DType::F64, &Device::Cpu).unwrap();
        let v = if p.name.contains("norm") {
            (noise + 1.0).unwrap()
        } else {
            noise
        };
        p.var.set(&v).unwrap();
    }
    model
}

#[test]
fn tiny_llama_gradients_match_finite_differences_for_every_group() {
    let model = tiny_llama(20);
    let seqs: [&[u32]; 2] = [&[1, 5, 7, 3, 19, 2, 2, 8, 11], &[4, 4, 0, 13, 6]];
    let batch = TokenBatch::padded(&seqs, 0, DType::F64, &Device::Cpu).unwrap();
    let checks = check_gradients(&model, &batch, 12, 1e-5, 1).unwrap();
    // embed, 2 × (2 norms + 7 projections + 3 × 2 LoRA), final norm, lm_head
    assert_eq!(checks.len(), 1 + 2 * (2 + 7 + 6) + 2);
    assert_close(&checks, 1e-5);
}

#[test]
fn frozen_base_gives_gradients_to_the_adapters_only() {
    let mut model = tiny_llama(20);
    model.freeze_base();
    let batch = TokenBatch::single(&[1, 2, 3, 4, 5, 6], DType::F64, &Device::Cpu).unwrap();
    let grads = raw_grads(&model, &batch).unwrap();
    let lora = model.lora_groups().to_vec();
    assert_eq!(lora.len(), 2 * 3 * 2);
    for (i, g) in grads.iter().enumerate() {
        assert_eq!(g.is_some(), lora.contains(&i), "{}", model.params()[i].name);
    }
    assert_eq!(model.attribution_groups(), lora);
    let checks = check_gradients(&model, &batch, 8, 1e-5, 2);
    // The check refuses groups without gradient (the frozen base) rather than passing them.
    assert!(checks.is_err());
}

#[test]
fn weights_round_trip_through_safetensors() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_llama(20);
    model
        .save_base(&dir.path().join("base.safetensors"))
        .unwrap();
    model
        .save_adapter(&dir.path().join("adapter.safetensors"))
        .unwrap();
    let other = TinyLlama::new(model.config().clone(), 77, DType::F64, &Device::Cpu).unwrap();
    assert_ne!(
        model_hash(model.params()).unwrap(),
        model_hash(other.params()).unwrap()
    );
    other
        .load_base(&dir.path().join("base.safetensors"))
        .unwrap();
    other
        .load_adapter(&dir.path().join("adapter.safetensors"))
        .unwrap();
    assert_eq!(
        model_hash(model.params()).unwrap(),
        model_hash(other.params()).unwrap()
    );
    let ids = Tensor::new(&[[1u32, 2, 3, 4]], &Device::Cpu).unwrap();
    let a = model
        .forward(&ids)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let b = other
        .forward(&ids)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    assert_eq!(a, b);
    // An adapter file is not a base file: loading refuses instead of half-loading.
    assert!(
        other
            .load_base(&dir.path().join("adapter.safetensors"))
            .is_err()
    );
    // The tabular models too.
    let mlp = Mlp::new(&[5, 4, 3], 1, DType::F32, &Device::Cpu).unwrap();
    let path = dir.path().join("mlp.safetensors");
    ol_attribution::models::save_params(mlp.params(), &path).unwrap();
    let mlp2 = Mlp::new(&[5, 4, 3], 2, DType::F32, &Device::Cpu).unwrap();
    ol_attribution::models::load_params(mlp2.params(), &path).unwrap();
    assert_eq!(
        model_hash(mlp.params()).unwrap(),
        model_hash(mlp2.params()).unwrap()
    );
}

/// An F32 tiny Llama whose adapters change the output (`lora_B` randomised).
fn tiny_llama_f32(vocab: usize) -> TinyLlama {
    let cfg = LlamaConfig {
        max_seq_len: 12,
        ..LlamaConfig::tiny(vocab)
    };
    let model = TinyLlama::new(cfg, 3, DType::F32, &Device::Cpu).unwrap();
    let mut rng = Rng::new(4);
    for p in model.adapter_params() {
        if p.name.contains("lora_B") {
            p.var
                .set(&randn(&mut rng, p.var.dims(), 0.2, DType::F32, &Device::Cpu).unwrap())
                .unwrap();
        }
    }
    model
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .into_iter()
        .map(f32::to_bits)
        .collect()
}

/// The tiny Llama is `ol-inference`'s model: its losses are, bit for bit, those of the served
/// model and adapter that its variables snapshot to.
#[test]
fn tiny_llama_losses_are_those_of_the_served_model() {
    let model = tiny_llama_f32(30);
    let seqs: [&[u32]; 3] = [&[1, 5, 7, 3, 19, 2, 2, 8, 11], &[4, 4], &[0, 13, 6, 29]];
    let batch = TokenBatch::padded(&seqs, 0, DType::F32, &Device::Cpu).unwrap();
    let served = model.model_vars().snapshot().unwrap();
    let adapter = model.adapter_vars().unwrap().snapshot().unwrap();
    let want = ol_inference::train::token_nll(&served, &seqs, Some(&adapter)).unwrap();
    assert_eq!(bits(&model.token_nll(&batch).unwrap()), bits(&want));
    // Without the adapter's contribution the losses differ: the adapter is on the path.
    let base_only = ol_inference::train::token_nll(&served, &seqs, None).unwrap();
    assert_ne!(bits(&base_only), bits(&want));
}

/// The batch is ragged: each sequence's losses are those it has alone, and the loss is the
/// mean over every prediction (what the padded batch's weighted mean was).
#[test]
fn token_batches_are_ragged_and_the_loss_averages_every_prediction() {
    let model = tiny_llama_f32(30);
    let seqs: [&[u32]; 3] = [&[1, 5, 7, 3, 19, 2], &[9], &[4, 4, 0]];
    let batch = TokenBatch::padded(&seqs, 0, DType::F32, &Device::Cpu).unwrap();
    // The one-token sequence predicts nothing and is left out.
    assert_eq!(batch.seqs.len(), 2);
    assert_eq!(batch.predictions(), 5 + 2);
    let nll = model.token_nll(&batch).unwrap();
    let alone: Vec<u32> = [seqs[0], seqs[2]]
        .iter()
        .flat_map(|s| {
            let b = TokenBatch::single(s, DType::F32, &Device::Cpu).unwrap();
            bits(&model.token_nll(&b).unwrap())
        })
        .collect();
    assert_eq!(bits(&nll), alone);
    let values = nll.to_vec1::<f32>().unwrap();
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len() as f64;
    let loss = ol_attribution::models::scalar(&model.loss(&batch).unwrap()).unwrap();
    assert!((loss - mean).abs() < 1e-6, "{loss} vs {mean}");
    assert!(TokenBatch::padded(&[&[3]], 0, DType::F32, &Device::Cpu).is_err());
    assert!(TokenBatch::single(&[], DType::F32, &Device::Cpu).is_err());
}

/// Greedy generation on the KV cache picks the argmax of a full recomputation at every step,
/// and stops at the context length.
#[test]
fn greedy_generation_follows_the_full_forward_pass() {
    let model = tiny_llama_f32(30);
    let prompt = [1u32, 5, 7];
    let out = model.generate_greedy(&prompt, 20).unwrap();
    assert_eq!(out.len(), model.config().max_seq_len);
    assert_eq!(out[..3], prompt);
    for n in prompt.len()..out.len() {
        let ids = Tensor::from_slice(&out[..n], (1, n), &Device::Cpu).unwrap();
        let logits = model
            .forward(&ids)
            .unwrap()
            .narrow(1, n - 1, 1)
            .unwrap()
            .flatten_all()
            .unwrap();
        let next = logits.argmax(0).unwrap().to_scalar::<u32>().unwrap();
        assert_eq!(out[n], next, "token {n}");
    }
    assert_eq!(model.generate_greedy(&prompt, 0).unwrap(), prompt);
}

/// Why the gradient path avoids candle's fused kernels: they return no gradient at all, where
/// `ol-inference`'s kernels, which the Llama runs on, return one.
#[test]
fn candle_fused_ops_drop_gradients_silently() {
    let x = Var::from_tensor(&Tensor::new(&[[0.1f32, 0.7, -0.3]], &Device::Cpu).unwrap()).unwrap();
    let w = Tensor::ones(3, DType::F32, &Device::Cpu).unwrap();
    let fused = candle_nn::ops::softmax_last_dim(x.as_tensor())
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap();
    assert!(fused.backward().unwrap().get(x.as_tensor()).is_none());
    let fused = candle_nn::ops::rms_norm(x.as_tensor(), &w, 1e-5)
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap();
    assert!(fused.backward().unwrap().get(x.as_tensor()).is_none());
    let ours = ol_inference::kernels::softmax_last(x.as_tensor())
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap();
    assert!(ours.backward().unwrap().get(x.as_tensor()).is_some());
    let ours = ol_inference::kernels::rms_norm(x.as_tensor(), &w, 1e-5)
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap();
    assert!(ours.backward().unwrap().get(x.as_tensor()).is_some());
}
