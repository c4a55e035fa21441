//! LoRA jobs end to end on a random base model in the Hugging Face layout and the generated
//! corpus: determinism at any thread count, resumption bit for bit, outputs loadable as a
//! PEFT adapter, and inputs refused before any work.

use alloy_primitives::B256;
use candle_core::Device;
use ol_attribution::{data::CorpusSpec, store::GradientStore};
use ol_factory::{
    AdapterJob, FactoryError, JobEvent, LoraSpec, Manifest, TrainSpec, data::write_generated_corpus,
};
use ol_inference::{
    LlamaModel, LoraAdapter, ModelConfig, SaveOptions, model::byte_level_tokenizer, save_model_dir,
};
use serde_json::json;
use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
};

fn base_config() -> ModelConfig {
    let v = json!({
        "model_type": "llama", "hidden_size": 32, "intermediate_size": 48,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "vocab_size": 258, "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
        "bos_token_id": 256, "eos_token_id": 257,
    });
    ModelConfig::from_json(v.to_string().as_bytes()).unwrap()
}

/// A random base model and a small generated Datanet in `root`.
fn fixture(root: &Path) -> (PathBuf, PathBuf) {
    let base = root.join("base");
    let model = LlamaModel::random(base_config(), 4, &Device::Cpu).unwrap();
    let tok = byte_level_tokenizer(&["<s>", "</s>"]).unwrap();
    save_model_dir(&model, &tok, &base, SaveOptions::default()).unwrap();
    let docs = root.join("docs");
    write_generated_corpus(
        &docs,
        CorpusSpec {
            contributors: 3,
            docs_per_contributor: 3,
            sentences_per_doc: 2,
            canaries: 1,
            seed: 5,
        },
    )
    .unwrap();
    (base, docs)
}

fn spec() -> TrainSpec {
    TrainSpec {
        lora: Some(LoraSpec {
            rank: 4,
            alpha: 8.0,
            target_modules: vec!["q_proj".into(), "v_proj".into(), "down_proj".into()],
        }),
        learning_rate: 5e-3,
        epochs: 2,
        batch_size: 3,
        grad_accum: 2,
        max_seq_len: 48,
        heldout_fraction: 0.2,
        checkpoint_every: 1,
        seed: 3,
        ..TrainSpec::default()
    }
}

fn job(base: &Path, docs: &Path, out: &Path, spec: TrainSpec) -> AdapterJob {
    AdapterJob {
        base_dir: base.to_path_buf(),
        docs_dir: docs.to_path_buf(),
        datanet: B256::repeat_byte(7),
        out_dir: out.to_path_buf(),
        spec,
        projection_dim: 64,
        curvature: false,
        resume: false,
    }
}

fn adapter_bytes(out: &Path) -> Vec<u8> {
    std::fs::read(out.join("adapter").join("adapter_model.safetensors")).unwrap()
}

#[test]
fn the_same_job_gives_the_same_adapter_bits_at_one_and_two_threads() {
    let root = tempfile::tempdir().unwrap();
    let (base, docs) = fixture(root.path());
    let run = |threads: usize, name: &str| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let out = root.path().join(name);
        let mut steps = 0;
        let manifest = pool
            .install(|| {
                job(&base, &docs, &out, spec()).run(None, &mut |e| {
                    if matches!(e, JobEvent::Step(_)) {
                        steps += 1;
                    }
                })
            })
            .unwrap();
        assert!(steps > 2, "the job took {steps} steps");
        (manifest, adapter_bytes(&out), out)
    };
    let (m1, a1, out1) = run(1, "one");
    let (m2, a2, _) = run(2, "two");
    assert_eq!(a1, a2, "adapter bytes differ between 1 and 2 threads");
    assert_eq!(m1.files, m2.files);
    assert_eq!(m1.results.final_train_loss, m2.results.final_train_loss);
    assert_eq!(m1.data, m2.data);

    // The adapter trained: B is no longer zero, so it changes the base's output.
    let base_model = ol_inference::load_model_dir(&base, &Device::Cpu).unwrap();
    let adapter = LoraAdapter::load_dir(
        &out1.join("adapter"),
        base_model.model.config(),
        &Device::Cpu,
    )
    .unwrap();
    assert!(adapter.byte_size() > 0);
    assert!(m1.results.final_train_loss.is_finite());
    // The manifest reads back, with every file's hash checked, and the artifacts open.
    // (JSON keeps the losses to 17 significant digits, not always to the last bit.)
    let read = Manifest::read(&out1).unwrap();
    assert_eq!(
        (&read.files, &read.data, &read.artifacts),
        (&m1.files, &m1.data, &m1.artifacts)
    );
    assert!((read.results.final_train_loss - m1.results.final_train_loss).abs() < 1e-12);
    let store = GradientStore::open(&out1.join("attribution").join("gradients.olgs")).unwrap();
    let train_docs = m1
        .data
        .datapoints
        .iter()
        .filter(|d| d.split == ol_factory::Split::Train)
        .count();
    assert_eq!(store.header().rows as usize, train_docs);
    assert_eq!(store.header().datanet_snapshot, m1.data.root);
    let index =
        ol_attribution::lineage::LineageIndex::open(&out1.join("attribution").join("lineage"))
            .unwrap();
    assert_eq!(index.total_docs() as usize, train_docs);
    assert!(!root.path().join("one.partial").exists());
    // A finished job's folder is never overwritten.
    let again = job(&base, &docs, &out1, spec()).run(None, &mut |_| {});
    assert!(matches!(again, Err(FactoryError::Invalid(m)) if m.contains("finished job")));
}

#[test]
fn an_interrupted_job_resumes_to_the_same_bits() {
    let root = tempfile::tempdir().unwrap();
    let (base, docs) = fixture(root.path());
    let whole = root.path().join("whole");
    job(&base, &docs, &whole, spec())
        .run(None, &mut |_| {})
        .unwrap();

    let out = root.path().join("resumed");
    let cancel = AtomicBool::new(false);
    let mut seen = 0;
    let err = job(&base, &docs, &out, spec())
        .run(Some(&cancel), &mut |e| {
            if matches!(e, JobEvent::Step(_)) {
                seen += 1;
                if seen == 3 {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        })
        .unwrap_err();
    assert!(matches!(err, FactoryError::Cancelled), "{err}");
    // Nothing that looks finished.
    assert!(!out.exists());
    assert!(
        root.path()
            .join("resumed.partial/checkpoint/checkpoint.json")
            .exists()
    );

    let mut resumed = job(&base, &docs, &out, spec());
    resumed.resume = true;
    let mut steps_after = 0;
    let manifest = resumed
        .run(None, &mut |e| {
            if matches!(e, JobEvent::Step(_)) {
                steps_after += 1;
            }
        })
        .unwrap();
    assert_eq!(manifest.results.resumed_at_step, Some(3));
    assert_eq!(steps_after, manifest.results.steps - 3);
    assert_eq!(adapter_bytes(&out), adapter_bytes(&whole));
    let whole_manifest = Manifest::read(&whole).unwrap();
    assert_eq!(manifest.files, whole_manifest.files);
    assert_eq!(
        manifest.results.final_train_loss,
        whole_manifest.results.final_train_loss
    );
}

#[test]
fn bad_inputs_are_refused_before_any_work() {
    let root = tempfile::tempdir().unwrap();
    let (base, docs) = fixture(root.path());
    let out = root.path().join("out");
    let expect = |spec: TrainSpec, docs: &Path, needle: &str| {
        let err = job(&base, docs, &out, spec)
            .run(None, &mut |e| {
                assert!(!matches!(e, JobEvent::Step(_)), "training started");
            })
            .unwrap_err();
        assert!(err.to_string().contains(needle), "`{err}` lacks `{needle}`");
        assert!(!out.exists());
        assert!(!root.path().join("out.partial").exists());
    };
    let mut s = spec();
    s.max_seq_len = 65;
    expect(s, &docs, "above the base model's context");
    let mut s = spec();
    s.lora.as_mut().unwrap().rank = 33;
    expect(s, &docs, "above the layer's width");
    let mut s = spec();
    s.lora.as_mut().unwrap().target_modules = vec!["c_attn".into()];
    expect(s, &docs, "has no module `c_attn`");

    let empty = root.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    expect(spec(), &empty, "no documents");

    let binary = root.path().join("binary");
    let folder = binary.join(format!("{}", alloy_primitives::Address::repeat_byte(1)));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("a.txt"), b"fine text").unwrap();
    std::fs::write(folder.join("b.bin"), [0xff, 0xfe, 0x00, 0x80]).unwrap();
    expect(spec(), &binary, "not UTF-8");
}
