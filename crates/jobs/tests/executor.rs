//! The job's deterministic half: the same task gives the same answer, bit for bit, at any
//! decoding thread count and in a fresh executor (a verifier's), and bad inputs are refused
//! with a reason instead of failing the service.

use alloy_primitives::{Address, B256, U256, keccak256};
use ol_attribution::{
    data::{CorpusSpec, text_corpus},
    lineage::{DocMeta, TextDocument},
};
use ol_factory::{AdapterJob, BaseJob, LoraSpec, LrSchedule, TokenizerChoice, TrainSpec};
use ol_inference::{AdapterConfig, LoraAdapter, ModelConfig, StoreDtype, Target};
use ol_jobs::{
    Answer, Executor, METHOD_DATAINF, METHOD_GAUSS_NEWTON, METHOD_LINEAGE, Outcome, Task,
    journal::RequestInfo,
};
use std::{path::Path, sync::Arc};

/// A base model trained briefly from scratch (a real HF folder with its tokenizer) and the
/// corpus it was trained on.
fn base(dir: &Path) -> Vec<TextDocument> {
    let corpus = text_corpus(CorpusSpec {
        contributors: 3,
        docs_per_contributor: 3,
        sentences_per_doc: 4,
        canaries: 0,
        seed: 5,
    });
    let docs_dir = dir.join("docs");
    let mut documents = Vec::new();
    for doc in &corpus.docs {
        let folder = docs_dir.join(doc.contributor.to_string());
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join(format!("{}.txt", keccak256(&doc.text))),
            &doc.text,
        )
        .unwrap();
        documents.push(TextDocument {
            meta: DocMeta {
                datapoint: keccak256(&doc.text),
                contributor: doc.contributor,
                datanet: B256::with_last_byte(1),
            },
            text: doc.text.clone(),
        });
    }
    let config = ModelConfig::from_json(
        br#"{"model_type": "llama", "hidden_size": 32, "intermediate_size": 64,
             "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
             "vocab_size": 1, "max_position_embeddings": 64, "rms_norm_eps": 1e-5}"#,
    )
    .unwrap();
    BaseJob {
        config,
        docs_dir,
        datanet: B256::ZERO,
        tokenizer: TokenizerChoice::Train { vocab_size: 300 },
        out_dir: dir.join("base"),
        spec: TrainSpec {
            lora: None,
            learning_rate: 3e-3,
            schedule: LrSchedule::Constant,
            epochs: 2,
            batch_size: 4,
            max_seq_len: 32,
            seed: 1,
            ..TrainSpec::default()
        },
        resume: false,
    }
    .run(None, &mut |_| {})
    .unwrap();
    documents
}

fn task(executor_dir: &Path, documents: Vec<TextDocument>, prompt: &str) -> Task {
    let base = ol_inference::load_model_dir(executor_dir, &candle_core::Device::Cpu).unwrap();
    let adapter = LoraAdapter::random(
        AdapterConfig::new(4, 8.0, &Target::ALL),
        base.model.config(),
        3,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let (config, weights) = adapter.to_bytes(StoreDtype::F32).unwrap();
    let bundle = ol_inference::adapter::bundle::bundle(&config, &weights, None).unwrap();
    Task {
        request: RequestInfo {
            request_id: B256::repeat_byte(7),
            requester: Address::repeat_byte(8),
            adapter_id: U256::from(1),
            prompt_hash: keccak256(prompt),
            max_tokens_in: 32,
            max_tokens_out: 12,
            expiry_block: 100,
            block: 1,
        },
        prompt: prompt.as_bytes().to_vec(),
        adapter_hash: keccak256(&bundle),
        adapter_bundle: Arc::from(bundle),
        method: METHOD_LINEAGE,
        documents: documents.into(),
    }
}

/// An adapter trained by the Model Factory on the base's documents: its bundle carries the
/// gradient store of its training documents (with the Gauss-Newton curvature factors when
/// `curvature`).
fn trained_bundle(dir: &Path, curvature: bool) -> Vec<u8> {
    let out = dir.join(format!("adapter-{curvature}"));
    AdapterJob {
        base_dir: dir.join("base").join("model"),
        docs_dir: dir.join("docs"),
        datanet: B256::with_last_byte(1),
        out_dir: out.clone(),
        spec: TrainSpec {
            lora: Some(LoraSpec {
                rank: 4,
                alpha: 8.0,
                target_modules: Target::ALL.iter().map(|t| t.name().to_string()).collect(),
            }),
            learning_rate: 1e-2,
            schedule: LrSchedule::Constant,
            epochs: 30,
            batch_size: 4,
            max_seq_len: 32,
            seed: 2,
            ..TrainSpec::default()
        },
        projection_dim: 2048,
        curvature,
        resume: false,
    }
    .run(None, &mut |_| {})
    .unwrap();
    std::fs::read(out.join(ol_factory::ADAPTER_BUNDLE)).unwrap()
}

/// The answer `executor` gives `task` (a refusal fails the test).
fn answered(executor: &Executor, task: &Task) -> Answer {
    match executor.run(task).unwrap() {
        Outcome::Answer(answer) => *answer,
        Outcome::Refused(reason) => panic!("refused: {reason}"),
    }
}

/// Why `executor` refuses `task` (an answer fails the test).
fn refused(executor: &Executor, task: &Task) -> String {
    match executor.run(task).unwrap() {
        Outcome::Refused(reason) => reason,
        Outcome::Answer(_) => panic!("answered"),
    }
}

/// The opening words of a training document (most of it: its gradient stands out of the noise
/// band).
fn opening(documents: &[TextDocument]) -> String {
    documents[1]
        .text
        .split(' ')
        .take(8)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A task for the adapter in `bundle`, attributed with `method`, prompted with [`opening`].
fn bundled_task(model: &Path, documents: &[TextDocument], bundle: Vec<u8>, method: u8) -> Task {
    let mut task = task(model, documents.to_vec(), &opening(documents));
    task.adapter_hash = keccak256(&bundle);
    task.adapter_bundle = Arc::from(bundle);
    task.method = method;
    task
}

#[test]
fn the_same_task_gives_the_same_answer_at_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let documents = base(dir.path());
    let model = dir.path().join("base").join("model");
    // The prompt: a document's opening words, so the output can trace back to the corpus.
    let prompt: String = documents[0]
        .text
        .split(' ')
        .take(4)
        .collect::<Vec<_>>()
        .join(" ");
    let task = task(&model, documents, &prompt);
    let answers: Vec<_> = [1, 2, 1]
        .into_iter()
        .enumerate()
        .map(|(i, threads)| {
            let executor =
                Executor::new(&model, dir.path().join(format!("lineage-{i}")), threads).unwrap();
            answered(&executor, &task)
        })
        .collect();
    assert_eq!(answers[0], answers[1], "1 and 2 threads");
    assert_eq!(answers[0], answers[2], "a fresh executor");
    assert_eq!(answers[0].tokens_out, 12);
    assert_eq!(
        answers[0].output_hash,
        keccak256(answers[0].output.as_bytes())
    );
    let sum: u64 = answers[0].weights_ppm.iter().map(|w| u64::from(*w)).sum();
    assert!(
        sum == 0 || sum == 1_000_000,
        "weights sum to 0 or 1,000,000 ppm: {sum}"
    );
}

#[test]
fn bad_inputs_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let documents = base(dir.path());
    let model = dir.path().join("base").join("model");
    let executor = Executor::new(&model, dir.path().join("lineage"), 1).unwrap();
    let good = task(&model, documents, "some words");
    let refused = |task: &Task| refused(&executor, task);
    let mut long = good.clone();
    long.prompt = "word ".repeat(200).into_bytes();
    assert!(refused(&long).contains("maxTokensIn"));
    let mut binary = good.clone();
    binary.prompt = vec![0xff, 0xfe];
    assert!(refused(&binary).contains("UTF-8"));
    let mut broken = good.clone();
    broken.adapter_hash = B256::repeat_byte(1);
    broken.adapter_bundle = Arc::from(&b"not an archive"[..]);
    assert!(refused(&broken).contains("adapter"));
    let mut over = good;
    over.request.max_tokens_in = 64;
    over.request.max_tokens_out = 64;
    assert!(refused(&over).contains("context"));
}

#[test]
fn datainf_on_the_bundled_gradient_store_is_deterministic_and_pays_only_approved_documents() {
    let dir = tempfile::tempdir().unwrap();
    let documents = base(dir.path());
    let model = dir.path().join("base").join("model");
    let bundle = trained_bundle(dir.path(), false);
    let datainf = bundled_task(&model, &documents, bundle, METHOD_DATAINF);
    let answer = |task: &Task, executor: &Executor| answered(executor, task);
    let answers: Vec<_> = [1, 2]
        .into_iter()
        .enumerate()
        .map(|(i, threads)| {
            let executor =
                Executor::new(&model, dir.path().join(format!("datainf-{i}")), threads).unwrap();
            answer(&datainf, &executor)
        })
        .collect();
    assert_eq!(answers[0], answers[1], "1 and 2 threads, fresh executors");
    let first = &answers[0];
    assert_eq!(first.method, METHOD_DATAINF);
    let sum: u64 = first.weights_ppm.iter().map(|w| u64::from(*w)).sum();
    assert!(
        !first.contributors.is_empty() && sum == 1_000_000,
        "weights sum to 1,000,000 ppm: {sum}"
    );
    let known: Vec<_> = documents.iter().map(|d| d.meta.datapoint).collect();
    assert!(
        first.evidence.iter().all(|(d, _, _)| known.contains(d)),
        "evidence names training documents only"
    );

    // A contributor whose documents are no longer approved is not paid, whatever the store
    // says; the same run otherwise.
    let executor = Executor::new(&model, dir.path().join("datainf-2"), 1).unwrap();
    for gone in documents.iter().map(|d| d.meta.contributor) {
        let mut fewer = datainf.clone();
        fewer.documents = fewer
            .documents
            .iter()
            .filter(|d| d.meta.contributor != gone)
            .cloned()
            .collect();
        let reduced = answer(&fewer, &executor);
        assert_eq!(reduced.output, first.output);
        assert!(
            !reduced.contributors.contains(&gone),
            "{gone} was removed and is still paid"
        );
    }

    // An adapter without a gradient store cannot be registered for DataInf, nor can a method
    // the node does not run be served.
    let mut bare = task(&model, documents.clone(), &opening(&documents));
    bare.method = METHOD_DATAINF;
    let refused = |task: &Task| refused(&executor, task);
    assert!(refused(&bare).contains("no gradient store"));
    bare.method = 3;
    assert!(refused(&bare).contains("method 3"));
}

#[test]
fn gauss_newton_runs_deterministically_on_a_store_with_curvature_and_is_refused_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let documents = base(dir.path());
    let model = dir.path().join("base").join("model");
    let with_curvature = trained_bundle(dir.path(), true);
    let gn = bundled_task(&model, &documents, with_curvature, METHOD_GAUSS_NEWTON);
    let answers: Vec<_> = [1, 2]
        .into_iter()
        .map(|threads| {
            let executor =
                Executor::new(&model, dir.path().join(format!("gn-{threads}")), threads).unwrap();
            answered(&executor, &gn)
        })
        .collect();
    assert_eq!(answers[0], answers[1], "1 and 2 threads, fresh executors");
    let first = &answers[0];
    assert_eq!(first.method, METHOD_GAUSS_NEWTON);
    // Nine documents are too few for the estimator's scores to clear its noise band with
    // confidence (the evaluation measures its quality); whatever it pays is a whole split of
    // training documents.
    let sum: u64 = first.weights_ppm.iter().map(|w| u64::from(*w)).sum();
    assert!(
        first.contributors.is_empty() || sum == 1_000_000,
        "weights sum to 1,000,000 ppm: {sum}"
    );
    let known: Vec<_> = documents.iter().map(|d| d.meta.datapoint).collect();
    assert!(first.evidence.iter().all(|(d, _, _)| known.contains(d)));

    // The same store serves DataInf (its rows are DataInf's), with its own scores.
    let executor = Executor::new(&model, dir.path().join("gn-datainf"), 1).unwrap();
    let mut datainf = gn;
    datainf.method = METHOD_DATAINF;
    let answer = answered(&executor, &datainf);
    assert_eq!(answer.method, METHOD_DATAINF);
    assert_eq!(answer.output, first.output, "the same inference");

    // A store built for DataInf alone has no curvature: registered for Gauss-Newton, refused.
    let plain = trained_bundle(dir.path(), false);
    let no_curvature = bundled_task(&model, &documents, plain, METHOD_GAUSS_NEWTON);
    let reason = refused(&executor, &no_curvature);
    assert!(reason.contains("without curvature"), "{reason}");
}
