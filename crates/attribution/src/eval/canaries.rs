//! The canary task: a LoRA-tuned tiny Llama on a corpus with planted sentences, and the
//! top-1/top-5 recall of their contributors for DataInf and for suffix-array lineage.

use super::*;

/// The canary setup: corpus, tokenizer, LoRA-tuned tiny Llama.
#[derive(Debug)]
pub struct CanaryModel {
    /// The corpus (with canaries).
    pub corpus: TextCorpus,
    /// The tokenizer.
    pub tokenizer: TextTokenizer,
    /// Token ids of every document (truncated to the model's context).
    pub doc_tokens: Vec<Vec<u32>>,
    /// The model, base frozen, adapters trained on the corpus.
    pub model: TinyLlama,
}

/// Generates the canary corpus and trains the model: the base on every document for a few
/// epochs, then LoRA adapters (base frozen) on the same Datanet.
pub fn canary_model(spec: &EvalSpec, log: &mut dyn FnMut(&str)) -> Result<CanaryModel> {
    let corpus = data::text_corpus(CorpusSpec {
        contributors: spec.canary_contributors,
        docs_per_contributor: spec.canary_docs_per_contributor,
        sentences_per_doc: 3,
        canaries: spec.canaries,
        seed: spec.seed,
    });
    let tokenizer = TextTokenizer::default_tokenizer()?;
    let cfg = LlamaConfig::tiny(tokenizer.vocab_size());
    let max_len = cfg.max_seq_len;
    let doc_tokens: Vec<Vec<u32>> = corpus
        .docs
        .iter()
        .map(|d| {
            let mut t = tokenizer.encode(&d.text)?;
            t.truncate(max_len);
            Ok(t)
        })
        .collect::<Result<_>>()?;
    let mut model = TinyLlama::new(cfg, spec.seed, DType::F32, &Device::Cpu)?;
    let n = doc_tokens.len();
    let batch_size = 16.min(n);
    let mut rng = Rng::from_words(&[spec.seed, 0x6c6d]);
    let mut order: Vec<usize> = (0..n).collect();
    let batch_at = |step: usize, rng: &mut Rng, order: &mut Vec<usize>| -> Result<TokenBatch> {
        let per_epoch = n.div_ceil(batch_size);
        if step.is_multiple_of(per_epoch) {
            rng.shuffle(order);
        }
        let k = step % per_epoch;
        let idx = &order[k * batch_size..((k + 1) * batch_size).min(n)];
        let seqs: Vec<&[u32]> = idx.iter().map(|&i| doc_tokens[i].as_slice()).collect();
        TokenBatch::padded(&seqs, 0, DType::F32, &Device::Cpu)
    };
    let epochs = 30;
    let steps = epochs * n.div_ceil(batch_size);
    let all: Vec<usize> = (0..model.params().len()).collect();
    let mut last = 0.0;
    train::train_steps(
        &model,
        &all,
        TrainSettings {
            optimizer: OptimizerKind::AdamW,
            lr: 3e-3,
            weight_decay: 0.0,
            steps,
            checkpoint_every: 0,
        },
        |s| batch_at(s, &mut rng, &mut order),
        |_, l| last = l,
    )?;
    log(&format!(
        "canaries: base trained ({steps} steps, last loss {last:.3})"
    ));
    model.freeze_base();
    let lora = model.lora_groups().to_vec();
    let steps = 10 * n.div_ceil(batch_size);
    train::train_steps(
        &model,
        &lora,
        TrainSettings {
            optimizer: OptimizerKind::AdamW,
            lr: 3e-3,
            weight_decay: 0.0,
            steps,
            checkpoint_every: 0,
        },
        |s| batch_at(s, &mut rng, &mut order),
        |_, l| last = l,
    )?;
    log(&format!(
        "canaries: LoRA trained ({steps} steps, last loss {last:.3})"
    ));
    Ok(CanaryModel {
        corpus,
        tokenizer,
        doc_tokens,
        model,
    })
}

fn recall(ranked: &[Vec<Address>], truth: &[Address], k: usize) -> f64 {
    let hits = ranked
        .iter()
        .zip(truth)
        .filter(|(r, t)| r.iter().take(k).any(|a| a == *t))
        .count();
    hits as f64 / truth.len().max(1) as f64
}

/// Canary recall of DataInf (over the LoRA adapters) and of suffix-array lineage.
pub fn eval_canaries(spec: &EvalSpec, dir: &Path, log: &mut dyn FnMut(&str)) -> Result<TaskReport> {
    let start = Instant::now();
    let cm = canary_model(spec, log)?;
    let datanet = keccak256(b"canary-datanet");
    let docs = &cm.corpus.docs;
    // Training gradients of every document over the adapters, projected and stored with their
    // curvature: DataInf reads the rows, the Gauss-Newton estimator the rows and the factors.
    let examples = cm
        .doc_tokens
        .iter()
        .zip(docs)
        .map(|(t, d)| {
            let meta = RowMeta {
                datapoint: d.id,
                contributor: d.contributor,
                datanet: 0,
                label: 0,
            };
            Ok((meta, TokenBatch::single(t, DType::F32, &Device::Cpu)?))
        })
        .collect::<Result<Vec<_>>>()?;
    let path = dir.join("canary.gauss-newton");
    let store_spec = StoreSpec {
        method: influence::GAUSS_NEWTON.into(),
        projection_dim: spec.projection_dim,
        projection_seed: mix(&[spec.seed, 0x70726f6a]),
        datanets: vec![datanet],
        snapshot: None,
        precision: Precision::F32,
    };
    influence::build_store(
        &path,
        &cm.model,
        &[],
        &examples,
        &store_spec,
        None,
        |_, _| {},
    )?;
    let store = GradientStore::open(&path)?;
    log("canaries: gradient store built");
    // Suffix-array lineage over the same documents.
    let index_dir = dir.join("canary.index");
    let mut index = LineageIndex::create(&index_dir, Some(&cm.tokenizer), TokenWidth::U16)?;
    let token_docs: Vec<(DocMeta, Vec<u32>)> = docs
        .iter()
        .map(|d| {
            Ok((
                DocMeta {
                    datapoint: d.id,
                    contributor: d.contributor,
                    datanet,
                },
                cm.tokenizer.encode(&d.text)?,
            ))
        })
        .collect::<Result<_>>()?;
    index.add_token_documents(&token_docs, |_, _, _| {})?;
    let mut ranked_datainf = Vec::new();
    let mut ranked_gauss_newton = Vec::new();
    let mut ranked_suffix = Vec::new();
    let opts = ScanOptions {
        threads: spec.threads,
        cancel: None,
    };
    for canary in &cm.corpus.canaries {
        let tokens = cm.tokenizer.encode(&canary.sentence)?;
        let batch = TokenBatch::single(&tokens, DType::F32, &Device::Cpu)?;
        let row = influence::gradient_row(&cm.model, &batch, &[], &store.header().projection)?;
        let ranked = |scores: Vec<f64>| -> Result<Vec<Address>> {
            let dps: Vec<DatapointScore> = (0..store.len())
                .map(|i| {
                    let m = store.meta(i);
                    DatapointScore {
                        datapoint: m.datapoint,
                        contributor: m.contributor,
                        datanet,
                        score: scores[i],
                    }
                })
                .collect();
            Ok(contributor_weights(&dps)?
                .ranked()
                .into_iter()
                .map(|(a, _)| a)
                .collect())
        };
        ranked_datainf.push(ranked(influence::datainf_scores(&store, &row, opts)?)?);
        ranked_gauss_newton.push(ranked(influence::gauss_newton_scores(&store, &row, opts)?)?);
        let trace = index.trace_tokens(&tokens, &TraceConfig::default())?;
        ranked_suffix.push(
            contributor_weights(&trace.scores)?
                .ranked()
                .into_iter()
                .map(|(a, _)| a)
                .collect::<Vec<_>>(),
        );
    }
    let truth: Vec<Address> = cm.corpus.canaries.iter().map(|c| c.contributor).collect();
    let methods = vec![
        MethodResult {
            top1: Some(recall(&ranked_datainf, &truth, 1)),
            top5: Some(recall(&ranked_datainf, &truth, 5)),
            ..MethodResult::new("DataInf (LoRA)")
        },
        MethodResult {
            top1: Some(recall(&ranked_gauss_newton, &truth, 1)),
            top5: Some(recall(&ranked_gauss_newton, &truth, 5)),
            ..MethodResult::new("Gauss-Newton (LoRA)")
        },
        MethodResult {
            top1: Some(recall(&ranked_suffix, &truth, 1)),
            top5: Some(recall(&ranked_suffix, &truth, 5)),
            ..MethodResult::new("Suffix lineage")
        },
    ];
    let lora_params: usize = cm.model.adapter_params().iter().map(|p| p.len()).sum();
    Ok(TaskReport {
        task: "canaries".into(),
        setting: format!(
            "{} contributors × {} docs, {} canaries; tiny Llama (dim {}, {} layers), LoRA r={} on {:?} ({lora_params} params), projection {}; {} tokens indexed",
            spec.canary_contributors,
            spec.canary_docs_per_contributor,
            truth.len(),
            cm.model.config().dim,
            cm.model.config().n_layers,
            cm.model.config().lora_rank,
            cm.model.config().lora_targets,
            store.header().block_dim(),
            index.total_tokens()
        ),
        methods,
        seconds: start.elapsed().as_secs_f64(),
    })
}
