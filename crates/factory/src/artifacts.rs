//! The attribution artifacts of a trained model, in `ol-attribution`'s formats: the projected
//! DataInf gradient store of its training documents (one row per document: the gradient of the
//! document's mean next-token loss with respect to the adapter) and the suffix-array index of
//! those documents.

use crate::{Result, TokenDocument};
use alloy_primitives::B256;
use candle_core::Tensor;
use ol_attribution::{
    AttributionError,
    influence::{StoreSpec, build_store},
    lineage::{BuildStage, LineageIndex, TextDocument, TokenWidth},
    models::{DiffModel, Param},
    store::{RowMeta, StoreHeader},
    tokenizer::TextTokenizer,
};
use ol_inference::{
    LlamaModel,
    model::TailActivations,
    train::{AdapterVars, TailSequence, capture_tails, mean_nll, tail_mean_nll},
};
use std::{path::Path, sync::atomic::AtomicBool};

/// A LoRA adapter on its frozen base, seen by the attribution engine as a model whose
/// parameters are the adapter's factors.
#[derive(Debug)]
pub struct AdapterModel<'a> {
    base: &'a LlamaModel,
    adapter: &'a AdapterVars,
    params: Vec<Param>,
}

impl<'a> AdapterModel<'a> {
    /// The adapter `adapter` on `base`.
    pub fn new(base: &'a LlamaModel, adapter: &'a AdapterVars) -> Self {
        let params = adapter
            .vars()
            .into_iter()
            .map(|(name, var)| Param::new(name, var))
            .collect();
        Self {
            base,
            adapter,
            params,
        }
    }
}

impl DiffModel for AdapterModel<'_> {
    /// The sequences of one document.
    type Batch = Vec<Vec<u32>>;

    fn params(&self) -> &[Param] {
        &self.params
    }

    fn loss(&self, batch: &Self::Batch) -> ol_attribution::Result<Tensor> {
        let err = |e: ol_inference::InferenceError| AttributionError::InvalidInput(e.to_string());
        let seqs: Vec<&[u32]> = batch.iter().map(Vec::as_slice).collect();
        let adapter = self.adapter.adapter(true).map_err(err)?;
        mean_nll(self.base, &seqs, Some(&adapter)).map_err(err)
    }
}

/// How a gradient store is built.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// The Datanet of the rows.
    pub datanet: B256,
    /// The data snapshot id recorded in the header (the manifest's Merkle root).
    pub snapshot: B256,
    /// Total projected dimension.
    pub projection_dim: usize,
    /// Seed of the projection.
    pub seed: u64,
    /// Also accumulate and store the Gauss-Newton curvature factors
    /// ([`ol_attribution::influence::gauss_newton`]), so the store serves that method beside
    /// DataInf (the adapter's loss has no pseudo-labels: the empirical Fisher of its
    /// documents).
    pub curvature: bool,
}

/// The LoRA factors of an adapter's last-block down projection, differentiated through the
/// sequences' captured tails ([`tail_mean_nll`]): the gradient store of an adapter that targets
/// that projection holds these gradients, so a query needs no forward pass beyond the one that
/// served it and a backward pass of a few small ops (the full adapter gradient costs a forward
/// and a backward through every block, several times the inference itself).
#[derive(Debug)]
pub struct TailModel<'a> {
    base: &'a LlamaModel,
    adapter: &'a AdapterVars,
    params: Vec<Param>,
}

/// The sequences of one document or request, with their tails when already captured (by the
/// engine that served them); the loss captures them otherwise.
#[derive(Debug, Clone)]
pub struct TailBatch {
    /// Token sequences.
    pub seqs: Vec<Vec<u32>>,
    /// One tail per sequence, or `None`.
    pub tails: Option<Vec<TailActivations>>,
    /// The first token of every sequence whose prediction the loss scores: `1` for a training
    /// document (its training loss), the prompt's length for a request (the log-likelihood of
    /// the output given the prompt, the query of Grosse et al. 2023).
    pub scored_from: usize,
}

impl<'a> TailModel<'a> {
    /// The tail of `adapter` on `base`; `None` when the adapter does not target the last
    /// block's down projection.
    pub fn new(base: &'a LlamaModel, adapter: &'a AdapterVars) -> Option<Self> {
        let params: Vec<Param> = adapter
            .tail_vars()
            .into_iter()
            .map(|(name, var)| Param::new(name, var))
            .collect();
        (!params.is_empty()).then_some(Self {
            base,
            adapter,
            params,
        })
    }
}

impl DiffModel for TailModel<'_> {
    type Batch = TailBatch;

    fn params(&self) -> &[Param] {
        &self.params
    }

    fn loss(&self, batch: &Self::Batch) -> ol_attribution::Result<Tensor> {
        let err = |e: ol_inference::InferenceError| AttributionError::InvalidInput(e.to_string());
        let seqs: Vec<&[u32]> = batch.seqs.iter().map(Vec::as_slice).collect();
        let captured;
        let tails = match &batch.tails {
            Some(tails) if tails.len() == seqs.len() => tails,
            Some(tails) => {
                return Err(AttributionError::InvalidInput(format!(
                    "{} tails for {} sequences",
                    tails.len(),
                    seqs.len()
                )));
            }
            None => {
                let served = self.adapter.adapter(false).map_err(err)?;
                captured = capture_tails(self.base, &seqs, Some(&served)).map_err(err)?;
                &captured
            }
        };
        let scored: Vec<TailSequence<'_>> = tails
            .iter()
            .zip(seqs)
            .map(|(tail, tokens)| TailSequence {
                tail,
                tokens,
                scored_from: batch.scored_from,
            })
            .collect();
        let adapter = self.adapter.adapter(true).map_err(err)?;
        tail_mean_nll(self.base, &scored, Some(&adapter)).map_err(err)
    }
}

/// Writes the DataInf gradient store of `docs` for `adapter` on `base` to `path`: the
/// gradients of [`TailModel`] when the adapter targets the last block's down projection, of
/// the whole adapter ([`AdapterModel`]) otherwise.
pub fn gradient_store(
    path: &Path,
    base: &LlamaModel,
    adapter: &AdapterVars,
    docs: &[TokenDocument],
    opts: StoreOptions,
    cancel: Option<&AtomicBool>,
    progress: impl FnMut(usize, usize),
) -> Result<StoreHeader> {
    let docs: Vec<&TokenDocument> = docs.iter().filter(|d| !d.sequences.is_empty()).collect();
    let meta = |d: &TokenDocument| RowMeta {
        datapoint: d.meta.datapoint,
        contributor: d.meta.contributor,
        datanet: 0,
        label: 0,
    };
    match TailModel::new(base, adapter) {
        Some(model) => {
            let examples: Vec<(RowMeta, TailBatch)> = docs
                .iter()
                .map(|d| {
                    let batch = TailBatch {
                        seqs: d.sequences.clone(),
                        tails: None,
                        scored_from: 1,
                    };
                    (meta(d), batch)
                })
                .collect();
            store(path, &model, &examples, opts, cancel, progress)
        }
        None => {
            let examples: Vec<(RowMeta, Vec<Vec<u32>>)> = docs
                .iter()
                .map(|d| (meta(d), d.sequences.clone()))
                .collect();
            let model = AdapterModel::new(base, adapter);
            store(path, &model, &examples, opts, cancel, progress)
        }
    }
}

fn store<M: DiffModel>(
    path: &Path,
    model: &M,
    examples: &[(RowMeta, M::Batch)],
    opts: StoreOptions,
    cancel: Option<&AtomicBool>,
    progress: impl FnMut(usize, usize),
) -> Result<StoreHeader> {
    let method = if opts.curvature {
        ol_attribution::influence::GAUSS_NEWTON
    } else {
        "datainf"
    };
    let spec = StoreSpec {
        method: method.into(),
        projection_dim: opts.projection_dim,
        projection_seed: opts.seed,
        datanets: vec![opts.datanet],
        snapshot: Some(opts.snapshot),
        precision: ol_attribution::store::Precision::F32,
    };
    Ok(build_store(
        path,
        model,
        &[],
        examples,
        &spec,
        cancel,
        progress,
    )?)
}

/// Builds the suffix-array index of `docs` in `dir` with the model's tokenizer.
pub fn lineage_index(
    dir: &Path,
    tokenizer_json: &[u8],
    docs: &[TextDocument],
    progress: impl FnMut(BuildStage, u64, u64),
) -> Result<LineageIndex> {
    let tokenizer = TextTokenizer::from_bytes(tokenizer_json)?;
    let mut index = LineageIndex::create(
        dir,
        Some(&tokenizer),
        TokenWidth::for_vocab(tokenizer.vocab_size()),
    )?;
    index.add_text_documents(docs, progress)?;
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use ol_attribution::models::flat_grads;
    use ol_inference::{AdapterConfig, ModelConfig, Target};

    /// The tail's gradient is the whole adapter's gradient restricted to the last block's down
    /// projection: the tail only skips ops that gradient does not flow through.
    #[test]
    fn the_tail_gradient_is_the_adapter_gradient_of_its_factors() {
        let config = ModelConfig::from_json(
            br#"{"model_type": "llama", "hidden_size": 32, "intermediate_size": 48,
                "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                "vocab_size": 61, "max_position_embeddings": 64, "rms_norm_eps": 1e-5}"#,
        )
        .unwrap();
        let base = LlamaModel::random(config.clone(), 5, &Device::Cpu).unwrap();
        let lora = AdapterConfig::new(4, 8.0, &Target::ALL);
        let adapter = AdapterVars::init(lora, &config, 6, DType::F32, &Device::Cpu).unwrap();
        // Non-zero `lora_B` everywhere, so every factor has a gradient.
        for (name, var) in adapter.vars() {
            if name.contains("lora_B") {
                let t = Tensor::randn(0f32, 0.1, var.shape(), &Device::Cpu).unwrap();
                var.set(&t).unwrap();
            }
        }
        let seqs = vec![vec![1u32, 9, 4, 33, 7, 60, 2], vec![5, 5, 18, 40]];
        let whole = AdapterModel::new(&base, &adapter);
        let full = flat_grads(&whole, &seqs, &whole.attribution_groups()).unwrap();
        let tail = TailModel::new(&base, &adapter).unwrap();
        let batch = TailBatch {
            seqs: seqs.clone(),
            tails: None,
            scored_from: 1,
        };
        let got = flat_grads(&tail, &batch, &tail.attribution_groups()).unwrap();
        assert_eq!(got.len(), 2);
        for (param, grad) in tail.params().iter().zip(&got) {
            let at = whole
                .params()
                .iter()
                .position(|p| p.name == param.name)
                .unwrap();
            let norm: f64 = full[at].iter().map(|v| v * v).sum::<f64>().sqrt();
            let diff: f64 = full[at]
                .iter()
                .zip(grad)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt();
            assert!(
                norm > 0.0 && diff <= 1e-4 * norm,
                "{}: {diff} of {norm}",
                param.name
            );
        }
        // The losses agree too (the tail recomputes the served logits exactly).
        let a = whole.loss(&seqs).unwrap().to_scalar::<f32>().unwrap();
        let b = tail.loss(&batch).unwrap().to_scalar::<f32>().unwrap();
        assert!((a - b).abs() <= 1e-6 * a.abs(), "{a} vs {b}");
        // An adapter without the last down projection has no tail.
        let attn = AdapterConfig::new(4, 8.0, &[Target::Q, Target::V]);
        let attn = AdapterVars::init(attn, &config, 6, DType::F32, &Device::Cpu).unwrap();
        assert!(TailModel::new(&base, &attn).is_none());
    }
}
