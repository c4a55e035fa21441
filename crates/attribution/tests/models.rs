//! Analytic gradients of every model against finite differences, for every parameter group;
//! safetensors round trips; and a demonstration of the candle pitfall these models avoid.

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

/// The reason this crate has its own ops: candle's fused kernels return no gradient at all.
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
    let ours = ol_attribution::models::ops::softmax_last(x.as_tensor())
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap();
    assert!(ours.backward().unwrap().get(x.as_tensor()).is_some());
    let ours = ol_attribution::models::ops::rms_norm(x.as_tensor(), &w, 1e-5)
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap();
    assert!(ours.backward().unwrap().get(x.as_tensor()).is_some());
}
