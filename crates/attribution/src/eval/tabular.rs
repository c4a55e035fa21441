//! The tabular tasks: logistic regression (LDS and leave-one-out against the exact influence
//! function), the MLP (LDS) and mislabel detection, each through the gradient-store path.

use super::*;

fn tab_batch(data: &TabularData, idx: &[usize], dtype: DType) -> Result<TabularBatch> {
    let rows: Vec<&[f64]> = idx.iter().map(|&i| data.x[i].as_slice()).collect();
    let labels: Vec<u32> = idx.iter().map(|&i| data.y[i]).collect();
    TabularBatch::new(&rows, &labels, dtype, &Device::Cpu)
}

fn full_batch(data: &TabularData, dtype: DType) -> Result<TabularBatch> {
    TabularBatch::new(&data.rows(), &data.y, dtype, &Device::Cpu)
}

/// Per-example losses of a classifier given its logits function.
fn per_example_loss(logits: &candle_core::Tensor, y: &candle_core::Tensor) -> Result<Vec<f64>> {
    Ok(ops::nll_rows(&logits.to_dtype(DType::F64)?, y)?.to_vec1::<f64>()?)
}

fn datapoint_id(task: u64, i: usize) -> B256 {
    keccak256([task.to_le_bytes(), (i as u64).to_le_bytes()].concat())
}

fn row_meta(task: u64, i: usize, label: u32) -> RowMeta {
    RowMeta {
        datapoint: datapoint_id(task, i),
        contributor: Address::from_slice(&datapoint_id(task ^ 1, i)[12..]),
        datanet: 0,
        label,
    }
}

/// Per-example training-gradient store of a tabular model, in `dir`.
fn tabular_store<M: DiffModel<Batch = TabularBatch>>(
    dir: &Path,
    name: &str,
    model: &M,
    checkpoints: &[Checkpoint],
    data: &TabularData,
    spec: &EvalSpec,
    (method, precision): (&str, Precision),
) -> Result<GradientStore> {
    let examples = (0..data.len())
        .map(|i| {
            Ok((
                row_meta(spec.seed, i, data.y[i]),
                tab_batch(data, &[i], dtype_of(model))?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let path = dir.join(name);
    let store_spec = StoreSpec {
        method: method.into(),
        projection_dim: spec.projection_dim,
        projection_seed: mix(&[spec.seed, 0x70726f6a]),
        datanets: vec![B256::ZERO],
        snapshot: None,
        precision,
    };
    influence::build_store(
        &path,
        model,
        checkpoints,
        &examples,
        &store_spec,
        None,
        |_, _| {},
    )?;
    GradientStore::open(&path)
}

fn dtype_of<M: DiffModel>(model: &M) -> DType {
    model.params()[0].var.dtype()
}

/// Scores `τ[t][i]` of every test point, through the store, by the method it was built for.
fn store_scores<M: DiffModel<Batch = TabularBatch>>(
    store: &GradientStore,
    model: &M,
    checkpoints: &[Checkpoint],
    test: &TabularData,
    threads: usize,
) -> Result<Vec<Vec<f64>>> {
    let projection = store.header().projection.clone();
    let opts = ScanOptions {
        threads,
        cancel: None,
    };
    (0..test.len())
        .map(|t| {
            let batch = tab_batch(test, &[t], dtype_of(model))?;
            let row = influence::gradient_row(model, &batch, checkpoints, &projection)?;
            match store.header().method.as_str() {
                "datainf" => {
                    influence::datainf_scores(store, &influence::last_block(store, &row), opts)
                }
                influence::GAUSS_NEWTON => influence::gauss_newton_scores(store, &row, opts),
                _ => influence::tracin_scores(store, &row, opts),
            }
        })
        .collect()
}

/// The scores `τ[t][i]` of the test points through a store of `method` at `precision` built in
/// `dir` (named `name`, with the precision appended when narrower than f32).
fn store_tau<M: DiffModel<Batch = TabularBatch>>(
    dir: &Path,
    name: &str,
    model: &M,
    checkpoints: &[Checkpoint],
    (train, test): (&TabularData, &TabularData),
    spec: &EvalSpec,
    (method, precision): (&str, Precision),
) -> Result<Vec<Vec<f64>>> {
    let name = if precision.is_f32() {
        name.to_string()
    } else {
        format!("{name}.{precision}")
    };
    let store = tabular_store(
        dir,
        &name,
        model,
        checkpoints,
        train,
        spec,
        (method, precision),
    )?;
    store_scores(&store, model, checkpoints, test, spec.threads)
}

/// The scores of the store method `method` through stores of each precision narrower than
/// `f32`, labelled `"<label> (<precision> store)"`: what storing the rows in fewer bytes costs.
fn narrow_store_scores<M: DiffModel<Batch = TabularBatch>>(
    dir: &Path,
    name: &str,
    model: &M,
    checkpoints: &[Checkpoint],
    (train, test): (&TabularData, &TabularData),
    spec: &EvalSpec,
    (method, label): (&str, &str),
) -> Result<Vec<(String, Vec<Vec<f64>>)>> {
    [Precision::F16, Precision::Int8]
        .into_iter()
        .map(|p| {
            let tau = store_tau(
                dir,
                name,
                model,
                checkpoints,
                (train, test),
                spec,
                (method, p),
            )?;
            Ok((format!("{label} ({p} store)"), tau))
        })
        .collect()
}

/// Flat per-example gradients of the attribution groups.
fn flat_example_grads<M: DiffModel<Batch = TabularBatch>>(
    model: &M,
    data: &TabularData,
) -> Result<Vec<Vec<f64>>> {
    let groups = model.attribution_groups();
    (0..data.len())
        .map(|i| Ok(flat_grads(model, &tab_batch(data, &[i], dtype_of(model))?, &groups)?.concat()))
        .collect()
}

/// The LDS (mean Spearman over test points) and its standardised (predicted, actual) pairs.
fn lds(tau: &[Vec<f64>], subsets: &[Vec<usize>], outputs: &[Vec<f64>]) -> (f64, Vec<(f64, f64)>) {
    // outputs[j][t] = −loss of test point t under the model trained on subset j.
    let mut points = Vec::with_capacity(tau.len() * subsets.len());
    let per_test: Vec<f64> = (0..tau.len())
        .map(|t| {
            let f: Vec<f64> = outputs.iter().map(|o| o[t]).collect();
            let g: Vec<f64> = subsets
                .iter()
                .map(|s| s.iter().map(|&i| tau[t][i]).sum())
                .collect();
            points.extend(standardised(&g).into_iter().zip(standardised(&f)));
            spearman(&f, &g)
        })
        .collect();
    (mean_finite(&per_test), points)
}

/// `values` as z-scores (all zero when they do not vary).
fn standardised(values: &[f64]) -> Vec<f64> {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    values
        .iter()
        .map(|v| if sd > 0.0 { (v - mean) / sd } else { 0.0 })
        .collect()
}

fn loo_corr(tau: &[Vec<f64>], points: &[usize], deltas: &[Vec<f64>]) -> f64 {
    // deltas[k][t] = loss_t(without points[k]) − loss_t(full).
    let per_test: Vec<f64> = (0..tau.len())
        .map(|t| {
            let a: Vec<f64> = points.iter().map(|&i| tau[t][i]).collect();
            let b: Vec<f64> = deltas.iter().map(|d| d[t]).collect();
            pearson(&a, &b)
        })
        .collect();
    mean_finite(&per_test)
}

fn lr_objective(_spec: &EvalSpec, n: usize) -> LogRegObjective {
    LogRegObjective {
        reg: 1e-2,
        norm: n as f64,
    }
}

fn train_lr(data: &TabularData, spec: &EvalSpec, norm: usize) -> Result<LogisticRegression> {
    let model = LogisticRegression::zeros(data.features(), data.classes, DType::F64, &Device::Cpu)?;
    let gnorm = train::train_logreg_newton(&model, data, lr_objective(spec, norm), 100, 1e-10)?;
    if gnorm > 1e-6 {
        return Err(AttributionError::invalid(format!(
            "Newton did not converge (gradient norm {gnorm})"
        )));
    }
    Ok(model)
}

/// LDS and leave-one-out correlation on logistic regression.
pub fn eval_logreg(
    spec: &EvalSpec,
    tasks: &TabularTasks,
    dir: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<TaskReport> {
    let start = Instant::now();
    let (train_data, test) = tasks.logreg.clone();
    let (features, classes) = (train_data.features(), train_data.classes);
    let n = train_data.len();
    let model = train_lr(&train_data, spec, n)?;
    log("logreg: trained (Newton); computing gradients and stores");
    // Exact influence: τ_i = g_tᵀ H_J⁻¹ g_i / N with H_J the Hessian of the objective.
    let obj = lr_objective(spec, n);
    let mut h = train::logreg_hessian(&model, &train_data, obj.norm)?;
    h.add_diagonal(obj.reg);
    let chol = cholesky(&h)?;
    let g_train = flat_example_grads(&model, &train_data)?;
    let g_test = flat_example_grads(&model, &test)?;
    let tau_exact: Vec<Vec<f64>> = g_test
        .iter()
        .map(|gt| {
            let v = cholesky_solve(&chol, gt);
            g_train.iter().map(|gi| dot(&v, gi) / obj.norm).collect()
        })
        .collect();
    let tau_dot: Vec<Vec<f64>> = g_test
        .iter()
        .map(|gt| g_train.iter().map(|gi| dot(gt, gi)).collect())
        .collect();
    let tau_datainf = store_tau(
        dir,
        "logreg.datainf",
        &model,
        &[],
        (&train_data, &test),
        spec,
        ("datainf", Precision::F32),
    )?;
    let tau_gn = store_tau(
        dir,
        "logreg.gauss-newton",
        &model,
        &[],
        (&train_data, &test),
        spec,
        (influence::GAUSS_NEWTON, Precision::F32),
    )?;
    let mut narrow = Vec::new();
    for (name, method, label) in [
        ("logreg.datainf", "datainf", "DataInf"),
        (
            "logreg.gauss-newton",
            influence::GAUSS_NEWTON,
            "Gauss-Newton",
        ),
    ] {
        narrow.extend(narrow_store_scores(
            dir,
            name,
            &model,
            &[],
            (&train_data, &test),
            spec,
            (method, label),
        )?);
    }
    // TracIn over the checkpoints of a gradient-descent run of the same model.
    let gd_model = LogisticRegression::zeros(features, classes, DType::F64, &Device::Cpu)?;
    let full = full_batch(&train_data, DType::F64)?;
    let ckpts = train::train_steps(
        &gd_model,
        &[0, 1],
        TrainSettings {
            optimizer: OptimizerKind::Sgd,
            lr: 0.5,
            weight_decay: 0.0,
            steps: 200,
            checkpoint_every: 40,
        },
        |_| Ok(full.clone()),
        |_, _| {},
    )?;
    let tau_tracin = store_tau(
        dir,
        "logreg.tracin",
        &gd_model,
        &ckpts,
        (&train_data, &test),
        spec,
        ("tracin", Precision::F32),
    )?;
    log("logreg: retraining on 50% subsets");
    let mut rng = Rng::from_words(&[spec.seed, 0x6c6473]);
    let subsets: Vec<Vec<usize>> = (0..spec.lr_subsets).map(|_| rng.subset(n, n / 2)).collect();
    let test_batch = full_batch(&test, DType::F64)?;
    let outputs = subsets
        .iter()
        .map(|s| {
            let m = train_lr(&train_data.select(s), spec, n)?;
            Ok(per_example_loss(&m.logits(&test_batch.x)?, &test_batch.y)?
                .iter()
                .map(|l| -l)
                .collect())
        })
        .collect::<Result<Vec<Vec<f64>>>>()?;
    log("logreg: leave-one-out retraining");
    let base_loss = per_example_loss(&model.logits(&test_batch.x)?, &test_batch.y)?;
    let loo_points = rng.subset(n, spec.loo_points.min(n));
    let deltas = loo_points
        .iter()
        .map(|&i| {
            let keep: Vec<usize> = (0..n).filter(|&j| j != i).collect();
            let m = train_lr(&train_data.select(&keep), spec, n)?;
            let l = per_example_loss(&m.logits(&test_batch.x)?, &test_batch.y)?;
            Ok(l.iter().zip(&base_loss).map(|(a, b)| a - b).collect())
        })
        .collect::<Result<Vec<Vec<f64>>>>()?;
    let methods = [
        ("DataInf", &tau_datainf),
        ("Gauss-Newton", &tau_gn),
        ("TracIn", &tau_tracin),
        ("Grad-Dot", &tau_dot),
        ("IF (explicit)", &tau_exact),
    ]
    .into_iter()
    .chain(narrow.iter().map(|(name, tau)| (name.as_str(), tau)))
    .map(|(name, tau)| {
        let (lds, lds_points) = lds(tau, &subsets, &outputs);
        MethodResult {
            lds: Some(lds),
            loo: Some(loo_corr(tau, &loo_points, &deltas)),
            lds_points,
            ..MethodResult::new(name)
        }
    })
    .collect();
    Ok(TaskReport {
        task: "logreg".into(),
        setting: format!(
            "{}, {} train / {} test; {} params; {} LDS subsets of 50%, {} LOO points; Newton to ‖∇‖<1e-10",
            tasks.description,
            n,
            test.len(),
            classes * (features + 1),
            spec.lr_subsets,
            loo_points.len()
        ),
        methods,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn train_mlp(
    data: &TabularData,
    spec: &EvalSpec,
    checkpoint_every: usize,
) -> Result<(Mlp, Vec<Checkpoint>)> {
    let model = Mlp::new(
        &[data.features(), spec.mlp_hidden, data.classes],
        spec.seed,
        DType::F32,
        &Device::Cpu,
    )?;
    let batch = full_batch(data, DType::F32)?;
    let groups: Vec<usize> = (0..model.params().len()).collect();
    let ckpts = train::train_steps(
        &model,
        &groups,
        TrainSettings {
            optimizer: OptimizerKind::AdamW,
            lr: 0.02,
            weight_decay: 1e-3,
            steps: spec.mlp_steps,
            checkpoint_every,
        },
        |_| Ok(batch.clone()),
        |_, _| {},
    )?;
    Ok((model, ckpts))
}

/// LDS on the MLP.
pub fn eval_mlp(
    spec: &EvalSpec,
    tasks: &TabularTasks,
    dir: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<TaskReport> {
    let start = Instant::now();
    let (train_data, test) = tasks.mlp.clone();
    let n = train_data.len();
    let (model, ckpts) = train_mlp(&train_data, spec, spec.mlp_steps / 5)?;
    log("mlp: trained; computing gradients and stores");
    let last = std::slice::from_ref(ckpts.last().expect("final checkpoint"));
    let tau_datainf = store_tau(
        dir,
        "mlp.datainf",
        &model,
        last,
        (&train_data, &test),
        spec,
        ("datainf", Precision::F32),
    )?;
    let tau_gn = store_tau(
        dir,
        "mlp.gauss-newton",
        &model,
        last,
        (&train_data, &test),
        spec,
        (influence::GAUSS_NEWTON, Precision::F32),
    )?;
    let tau_gn_ens = store_tau(
        dir,
        "mlp.gauss-newton-ens",
        &model,
        &ckpts,
        (&train_data, &test),
        spec,
        (influence::GAUSS_NEWTON, Precision::F32),
    )?;
    let mut narrow = narrow_store_scores(
        dir,
        "mlp.datainf",
        &model,
        last,
        (&train_data, &test),
        spec,
        ("datainf", "DataInf"),
    )?;
    narrow.extend(narrow_store_scores(
        dir,
        "mlp.gauss-newton-ens",
        &model,
        &ckpts,
        (&train_data, &test),
        spec,
        (influence::GAUSS_NEWTON, "Gauss-Newton (5 ckpts)"),
    )?);
    let tau_tracin = store_tau(
        dir,
        "mlp.tracin",
        &model,
        &ckpts,
        (&train_data, &test),
        spec,
        ("tracin", Precision::F32),
    )?;
    let g_train = flat_example_grads(&model, &train_data)?;
    let g_test = flat_example_grads(&model, &test)?;
    let tau_dot: Vec<Vec<f64>> = g_test
        .iter()
        .map(|gt| g_train.iter().map(|gi| dot(gt, gi)).collect())
        .collect();
    log("mlp: retraining on 50% subsets");
    let mut rng = Rng::from_words(&[spec.seed, 0x6d6c70]);
    let subsets: Vec<Vec<usize>> = (0..spec.mlp_subsets)
        .map(|_| rng.subset(n, n / 2))
        .collect();
    let test_batch = full_batch(&test, DType::F32)?;
    let outputs = subsets
        .iter()
        .map(|s| {
            let (m, _) = train_mlp(&train_data.select(s), spec, 0)?;
            Ok(per_example_loss(&m.logits(&test_batch.x)?, &test_batch.y)?
                .iter()
                .map(|l| -l)
                .collect())
        })
        .collect::<Result<Vec<Vec<f64>>>>()?;
    let methods = [
        ("DataInf", &tau_datainf),
        ("Gauss-Newton", &tau_gn),
        ("Gauss-Newton (5 ckpts)", &tau_gn_ens),
        ("TracIn", &tau_tracin),
        ("Grad-Dot", &tau_dot),
    ]
    .into_iter()
    .chain(narrow.iter().map(|(name, tau)| (name.as_str(), tau)))
    .map(|(name, tau)| {
        let (lds, lds_points) = lds(tau, &subsets, &outputs);
        MethodResult {
            lds: Some(lds),
            lds_points,
            ..MethodResult::new(name)
        }
    })
    .collect();
    let params: usize = model.params().iter().map(|p| p.len()).sum();
    Ok(TaskReport {
        task: "mlp".into(),
        setting: format!(
            "{}, MLP {}-{}-{} tanh ({params} params), {n} train / {} test, {} full-batch AdamW steps from a fixed init; {} LDS subsets of 50%",
            tasks.description,
            train_data.features(),
            spec.mlp_hidden,
            train_data.classes,
            test.len(),
            spec.mlp_steps,
            spec.mlp_subsets
        ),
        methods,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Mislabel detection with 10% flipped labels on logistic regression.
pub fn eval_mislabel(
    spec: &EvalSpec,
    tasks: &TabularTasks,
    dir: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<TaskReport> {
    let start = Instant::now();
    let (mut train_data, clean) = tasks.mislabel.clone();
    let flipped = data::flip_labels(&mut train_data, 0.1, spec.seed);
    let n = train_data.len();
    let labels: Vec<bool> = (0..n).map(|i| flipped.binary_search(&i).is_ok()).collect();
    let model = train_lr(&train_data, spec, n)?;
    log("mislabel: trained; self-influence");
    let opts = ScanOptions {
        threads: spec.threads,
        cancel: None,
    };
    let store = tabular_store(
        dir,
        "mislabel.datainf",
        &model,
        &[],
        &train_data,
        spec,
        ("datainf", Precision::F32),
    )?;
    let datainf = influence::datainf_self_influence(&store, opts)?;
    let gstore = tabular_store(
        dir,
        "mislabel.gauss-newton",
        &model,
        &[],
        &train_data,
        spec,
        (influence::GAUSS_NEWTON, Precision::F32),
    )?;
    let gauss_newton = influence::gauss_newton_self_influence(&gstore, opts)?;
    let tracin = influence::tracin_self_influence(&store);
    let features: Vec<Vec<f32>> = train_data
        .x
        .iter()
        .map(|r| r.iter().map(|&v| v as f32).collect())
        .collect();
    let clean_features: Vec<Vec<f32>> = clean
        .x
        .iter()
        .map(|r| r.iter().map(|&v| v as f32).collect())
        .collect();
    let knn = knn_shapley(&features, &train_data.y, &clean_features, &clean.y, 10);
    let knn_suspicion: Vec<f64> = knn.iter().map(|v| -v).collect();
    // KNN-Shapley over the store's projected gradients (the option the weights pipeline offers).
    let clean_rows = (0..clean.len())
        .map(|t| {
            let b = tab_batch(&clean, &[t], DType::F64)?;
            influence::gradient_row(&model, &b, &[], &store.header().projection)
        })
        .collect::<Result<Vec<_>>>()?;
    let knn_grad: Vec<f64> = influence::knn_shapley_scores(&store, &clean_rows, &clean.y, 10)
        .iter()
        .map(|v| -v)
        .collect();
    let methods = [
        ("DataInf (self-influence)", &datainf),
        ("Gauss-Newton (self-influence)", &gauss_newton),
        ("Grad-Dot (self-influence)", &tracin),
        ("KNN-Shapley features (−v)", &knn_suspicion),
        ("KNN-Shapley gradients (−v)", &knn_grad),
    ]
    .into_iter()
    .map(|(name, s)| MethodResult {
        auc: Some(roc_auc(s, &labels)),
        ..MethodResult::new(name)
    })
    .collect();
    Ok(TaskReport {
        task: "mislabel".into(),
        setting: format!(
            "logistic regression, {}, {n} train with {} labels flipped (10%)",
            tasks.description,
            flipped.len()
        ),
        methods,
        seconds: start.elapsed().as_secs_f64(),
    })
}
