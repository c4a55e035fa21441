use super::*;
use crate::{
    AdapterConfig,
    model::{
        Target,
        tests::{bits, tiny_config, variants},
    },
};
use candle_core::{DType, Device, Var};

const SEQS: [&[u32]; 3] = [
    &[0, 5, 9, 3, 17, 2],
    &[0, 40, 41],
    &[0, 7, 7, 7, 12, 30, 31, 2],
];

fn adapter_config() -> AdapterConfig {
    AdapterConfig::new(4, 8.0, &Target::ALL)
}

/// Sets every `lora_B` to small non-zero values so that gradients of `lora_A` are not zero.
fn perturb_b(adapter: &AdapterVars, seed: u64) {
    let mut rng = crate::sampling::Rng::new(seed);
    for (name, var) in adapter.vars() {
        if name.contains("lora_B") {
            let n = var.elem_count();
            let v: Vec<f32> = (0..n).map(|_| rng.uniform(-0.2, 0.2)).collect();
            let t = Tensor::from_vec(v, var.dims(), var.device())
                .unwrap()
                .to_dtype(var.dtype())
                .unwrap();
            var.set(&t).unwrap();
        }
    }
}

#[test]
fn views_compute_the_serving_model_bit_for_bit() {
    for config in variants() {
        let model = LlamaModel::random(config.clone(), 3, &Device::Cpu).unwrap();
        let vars = ModelVars::from_model(&model).unwrap();
        let adapter =
            AdapterVars::init(adapter_config(), &config, 9, DType::F32, &Device::Cpu).unwrap();
        perturb_b(&adapter, 4);
        let served = token_nll(&model, &SEQS, Some(&adapter.snapshot().unwrap())).unwrap();
        let view = token_nll(
            &vars.model(true).unwrap(),
            &SEQS,
            Some(&adapter.adapter(true).unwrap()),
        )
        .unwrap();
        assert_eq!(bits(&served), bits(&view), "{:?}", config.architecture);
        let snapshot = token_nll(&vars.snapshot().unwrap(), &SEQS, None).unwrap();
        assert_eq!(
            bits(&snapshot),
            bits(&token_nll(&model, &SEQS, None).unwrap())
        );
    }
}

#[test]
fn a_sequence_has_the_same_losses_alone_and_in_a_batch() {
    let model = LlamaModel::random(tiny_config(), 5, &Device::Cpu).unwrap();
    let batch = token_nll(&model, &SEQS, None).unwrap();
    let mut at = 0;
    for s in SEQS {
        let alone = token_nll(&model, &[s], None).unwrap();
        let n = s.len() - 1;
        assert_eq!(bits(&alone), bits(&batch.narrow(0, at, n).unwrap()));
        at += n;
    }
    // The loss is the log-likelihood of the targets: exp(-nll) is a probability.
    for v in batch.to_vec1::<f32>().unwrap() {
        assert!(v > 0.0 && v.is_finite());
    }
}

/// `∂ mean_nll / ∂ var[i]` by central differences in F64.
fn numeric(var: &Var, i: usize, loss: &dyn Fn() -> f64) -> f64 {
    let eps = 1e-5;
    let orig = var.flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let at = |delta: f64| {
        let mut v = orig.clone();
        v[i] += delta;
        var.set(&Tensor::from_vec(v, var.dims(), var.device()).unwrap())
            .unwrap();
        loss()
    };
    let g = (at(eps) - at(-eps)) / (2.0 * eps);
    var.set(&Tensor::from_vec(orig, var.dims(), var.device()).unwrap())
        .unwrap();
    g
}

#[test]
fn gradients_match_finite_differences_for_base_and_adapter() {
    for config in variants() {
        let random = LlamaModel::random(config.clone(), 11, &Device::Cpu).unwrap();
        let base = ModelVars::from_tensors(
            config.clone(),
            random.to_tensors().unwrap(),
            DType::F64,
            &Device::Cpu,
        )
        .unwrap();
        let adapter =
            AdapterVars::init(adapter_config(), &config, 2, DType::F64, &Device::Cpu).unwrap();
        perturb_b(&adapter, 8);
        let loss = || {
            let l = mean_nll(
                &base.model(true).unwrap(),
                &SEQS,
                Some(&adapter.adapter(true).unwrap()),
            )
            .unwrap();
            l.to_scalar::<f64>().unwrap()
        };
        let grads = mean_nll(
            &base.model(true).unwrap(),
            &SEQS,
            Some(&adapter.adapter(true).unwrap()),
        )
        .unwrap()
        .backward()
        .unwrap();
        let mut checked = 0;
        let all: Vec<(String, Var)> = base.vars().iter().cloned().chain(adapter.vars()).collect();
        for (name, var) in all.iter().step_by(3) {
            let g = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("no gradient reaches {name}"))
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap();
            for i in [0, var.elem_count() / 2, var.elem_count() - 1] {
                let want = numeric(var, i, &loss);
                let tol = 1e-6 + 1e-4 * want.abs();
                assert!(
                    (g[i] - want).abs() <= tol,
                    "{:?} {name}[{i}]: autodiff {} vs finite difference {want}",
                    config.architecture,
                    g[i]
                );
                checked += 1;
            }
        }
        assert!(checked > 20);
    }
}

#[test]
fn lora_gradients_are_the_same_bits_at_any_thread_count() {
    let config = tiny_config();
    let model = LlamaModel::random(config.clone(), 1, &Device::Cpu).unwrap();
    let grads_at = |threads: usize| -> Vec<Vec<u32>> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let adapter =
                AdapterVars::init(adapter_config(), &config, 6, DType::F32, &Device::Cpu).unwrap();
            perturb_b(&adapter, 3);
            let grads = mean_nll(&model, &SEQS, Some(&adapter.adapter(true).unwrap()))
                .unwrap()
                .backward()
                .unwrap();
            adapter
                .vars()
                .iter()
                .map(|(_, v)| bits(grads.get(v.as_tensor()).unwrap()))
                .collect()
        })
    };
    assert_eq!(grads_at(1), grads_at(2));
}

#[test]
fn frozen_views_give_no_gradient_to_the_base() {
    let config = tiny_config();
    let model = LlamaModel::random(config.clone(), 1, &Device::Cpu).unwrap();
    let base = ModelVars::from_model(&model).unwrap();
    let adapter =
        AdapterVars::init(adapter_config(), &config, 6, DType::F32, &Device::Cpu).unwrap();
    let grads = mean_nll(
        &base.model(false).unwrap(),
        &SEQS,
        Some(&adapter.adapter(true).unwrap()),
    )
    .unwrap()
    .backward()
    .unwrap();
    assert!(
        base.vars()
            .iter()
            .all(|(_, v)| grads.get(v.as_tensor()).is_none())
    );
    // B starts at zero (PEFT's initialisation), so only B has a gradient at the first step.
    for (name, v) in adapter.vars() {
        let g = grads.get(v.as_tensor()).expect("adapter gets a gradient");
        let norm = g
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert_eq!(name.contains("lora_B"), norm > 0.0, "{name}");
    }
}

#[test]
fn bad_adapter_plans_are_refused_before_any_work() {
    let config = tiny_config();
    let wide = AdapterConfig::new(33, 8.0, &[Target::Q]);
    let err = AdapterVars::init(wide, &config, 0, DType::F32, &Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("above the layer's width"), "{err}");
    let mut none = AdapterConfig::new(4, 8.0, &[Target::Q]);
    none.target_modules = crate::adapter::TargetModules::List(vec!["c_attn".into()]);
    let err = AdapterVars::init(none, &config, 0, DType::F32, &Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("matches no projection"), "{err}");
    let err =
        AdapterVars::init(adapter_config(), &config, 0, DType::F16, &Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("F32 or F64"), "{err}");
    let model = LlamaModel::random(config, 1, &Device::Cpu).unwrap();
    assert!(token_nll(&model, &[&[3]], None).is_err());
    assert!(token_nll(&model, &[], None).is_err());
}
