//! The project's own base model and an adapter trained on a Datanet, end to end: a base model
//! and its byte-level BPE tokenizer trained from scratch on the generated corpus, then an
//! adapter on another Datanet that must lower the held-out loss on that Datanet against the base
//! alone, and an adapter on a Datanet with planted passages (the canaries of the attribution
//! evaluation) that must make the passages' continuations, given their prompts, markedly more
//! likely than the base does and reproduce at least one verbatim by greedy decoding. Both can
//! fail: a broken gradient, optimiser or data path fails them.

use alloy_primitives::B256;
use candle_core::Device;
use ol_attribution::data::CorpusSpec;
use ol_factory::{
    AdapterJob, BaseJob, JobKind, LoraSpec, LrSchedule, Manifest, TokenizerChoice, TrainSpec,
    data::write_generated_corpus,
};
use ol_inference::{
    LlamaModel, LoraAdapter, ModelConfig, Target,
    kernels::CpuLoraKernel,
    load_model_dir,
    model::{KvCache, Logits, SeqInput},
    train::token_nll,
};
use serde_json::json;
use std::path::Path;

/// Greedy continuation of `prompt` by `n` tokens.
fn greedy(model: &LlamaModel, adapter: Option<&LoraAdapter>, prompt: &[u32], n: usize) -> Vec<u32> {
    let mut cache = KvCache::new();
    let mut out = Vec::new();
    let mut next: Vec<u32> = prompt.to_vec();
    for _ in 0..n {
        let mut seqs = [SeqInput {
            tokens: &next,
            cache: &mut cache,
            adapter,
        }];
        let logits = model
            .forward(&mut seqs, &CpuLoraKernel, Logits::Last)
            .unwrap();
        let token = logits
            .flatten_all()
            .unwrap()
            .argmax(0)
            .unwrap()
            .to_scalar::<u32>()
            .unwrap();
        out.push(token);
        next = vec![token];
    }
    out
}

/// Trains a rank-32 adapter on all projections of the base in `base_out/model`.
fn adapter_job(base_out: &Path, docs: &Path, out: &Path, epochs: usize, lr: f64) -> Manifest {
    AdapterJob {
        base_dir: base_out.join("model"),
        docs_dir: docs.to_path_buf(),
        datanet: B256::repeat_byte(1),
        out_dir: out.to_path_buf(),
        spec: TrainSpec {
            lora: Some(LoraSpec {
                rank: 32,
                alpha: 64.0,
                target_modules: Target::ALL.iter().map(|t| t.name().to_string()).collect(),
            }),
            learning_rate: lr,
            schedule: LrSchedule::Cosine,
            epochs,
            batch_size: 4,
            max_seq_len: 64,
            heldout_fraction: 0.2,
            seed: 2,
            ..TrainSpec::default()
        },
        projection_dim: 256,
        curvature: false,
        resume: false,
    }
    .run(None, &mut |_| {})
    .unwrap()
}

#[test]
fn a_base_from_scratch_and_an_adapter_that_learns_its_datanet() {
    let root = tempfile::tempdir().unwrap();
    let general = root.path().join("general");
    write_generated_corpus(
        &general,
        CorpusSpec {
            contributors: 8,
            docs_per_contributor: 4,
            sentences_per_doc: 6,
            // Random-letter passages, so the base learns every letter (an adapter cannot
            // change the embedding of a token the base never saw).
            canaries: 16,
            seed: 11,
        },
    )
    .unwrap();
    let config = ModelConfig::from_json(
        json!({
            "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "vocab_size": 1, "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let base_out = root.path().join("base");
    let base_manifest = BaseJob {
        config,
        docs_dir: general,
        datanet: B256::ZERO,
        tokenizer: TokenizerChoice::Train { vocab_size: 400 },
        out_dir: base_out.clone(),
        spec: TrainSpec {
            lora: None,
            learning_rate: 3e-3,
            schedule: LrSchedule::Cosine,
            warmup_steps: 4,
            epochs: 20,
            batch_size: 8,
            max_seq_len: 64,
            heldout_fraction: 0.1,
            seed: 1,
            ..TrainSpec::default()
        },
        resume: false,
    }
    .run(None, &mut |_| {})
    .unwrap();
    assert_eq!(base_manifest.kind, JobKind::Base);
    let base_loss = base_manifest.results.heldout_loss.unwrap();
    let uniform = (400f64).ln();
    eprintln!("base held-out loss {base_loss:.3} nats/token (uniform: {uniform:.3})");
    assert!(
        base_loss < 0.7 * uniform,
        "the base model did not learn: {base_loss}"
    );

    // (1) Style: a Datanet of another corpus (another vocabulary and topics); a few epochs.
    let style = root.path().join("style");
    write_generated_corpus(
        &style,
        CorpusSpec {
            contributors: 6,
            docs_per_contributor: 8,
            sentences_per_doc: 4,
            canaries: 0,
            seed: 99,
        },
    )
    .unwrap();
    let manifest = adapter_job(
        &base_out,
        &style,
        &root.path().join("style-adapter"),
        6,
        5e-3,
    );
    let (with, without) = (
        manifest.results.heldout_loss.unwrap(),
        manifest.results.base_heldout_loss.unwrap(),
    );
    eprintln!(
        "style Datanet held-out loss: adapter {with:.3}, base alone {without:.3} (train {:.3}, {} steps)",
        manifest.results.final_train_loss, manifest.results.steps
    );
    assert!(
        with < without,
        "the adapter did not lower the held-out loss"
    );

    // (2) Planted passages: one contributor's documents with canaries, trained until learnt.
    let datanet = root.path().join("datanet");
    let corpus = write_generated_corpus(
        &datanet,
        CorpusSpec {
            contributors: 3,
            docs_per_contributor: 4,
            sentences_per_doc: 2,
            canaries: 3,
            seed: 7,
        },
    )
    .unwrap();
    let adapter_out = root.path().join("adapter");
    let manifest = adapter_job(&base_out, &datanet, &adapter_out, 150, 5e-3);
    let base = load_model_dir(&base_out.join("model"), &Device::Cpu).unwrap();
    let adapter = LoraAdapter::load_dir(
        &adapter_out.join("adapter"),
        base.model.config(),
        &Device::Cpu,
    )
    .unwrap();
    let trained: Vec<B256> = manifest
        .data
        .datapoints
        .iter()
        .filter(|d| d.split == ol_factory::Split::Train)
        .map(|d| d.hash)
        .collect();
    let mut tried = 0;
    let mut reproduced = 0;
    let mut sums = (0f64, 0f64);
    for canary in &corpus.canaries {
        if !trained.contains(&corpus.docs[canary.doc].id) {
            continue;
        }
        tried += 1;
        // Prompt: the passage up to and including its first secret word; the rest is what a
        // model that learnt the contributor's document continues with.
        let words: Vec<&str> = canary.sentence.split(' ').collect();
        let prompt = words[..5].join(" ");
        let rest = words[5..].join(" ");
        let ids = base.tokenizer.encode(prompt.as_str(), false).unwrap();
        let full = base
            .tokenizer
            .encode(format!("{prompt} {rest}").as_str(), false)
            .unwrap();
        let (p, f) = (ids.get_ids(), full.get_ids());
        let n = f.len() - p.len();
        // Mean NLL of the continuation's tokens given the prompt, with and without the adapter.
        let continuation_nll = |a: Option<&LoraAdapter>| {
            let nll = token_nll(&base.model, &[f], a)
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            nll[nll.len() - n..]
                .iter()
                .map(|&v| f64::from(v))
                .sum::<f64>()
                / n as f64
        };
        let (with, without) = (continuation_nll(Some(&adapter)), continuation_nll(None));
        let text = base
            .tokenizer
            .decode(&greedy(&base.model, Some(&adapter), p, n), false)
            .unwrap();
        eprintln!(
            "planted `{}`: continuation NLL {with:.3} nats/token with the adapter, {without:.3} without; greedy from `{prompt}`: `{text}`",
            canary.sentence
        );
        sums.0 += with;
        sums.1 += without;
        if text.trim_end_matches("<|endoftext|>").trim() == rest {
            reproduced += 1;
        }
    }
    assert!(tried > 0, "no planted passage in the training split");
    // A rank-32 adapter on this 2-block, 64-wide base does not learn every random-letter
    // passage verbatim (see the README); asserted: passages made markedly more likely than the
    // base finds them, and at least one reproduced exactly by greedy decoding.
    assert!(
        sums.0 < 0.8 * sums.1,
        "the adapter did not learn the planted passages: mean NLL {:.3} vs {:.3}",
        sums.0 / tried as f64,
        sums.1 / tried as f64
    );
    assert!(reproduced >= 1, "no planted passage reproduced of {tried}");
    eprintln!("{reproduced} of {tried} planted passages reproduced verbatim");
}
