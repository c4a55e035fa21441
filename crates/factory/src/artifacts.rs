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
    train::{AdapterVars, mean_nll},
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
}

/// Writes the DataInf gradient store of `docs` for the adapter to `path`.
pub fn gradient_store(
    path: &Path,
    model: &AdapterModel<'_>,
    docs: &[TokenDocument],
    opts: StoreOptions,
    cancel: Option<&AtomicBool>,
    progress: impl FnMut(usize, usize),
) -> Result<StoreHeader> {
    let examples: Vec<(RowMeta, Vec<Vec<u32>>)> = docs
        .iter()
        .filter(|d| !d.sequences.is_empty())
        .map(|d| {
            (
                RowMeta {
                    datapoint: d.meta.datapoint,
                    contributor: d.meta.contributor,
                    datanet: 0,
                    label: 0,
                },
                d.sequences.clone(),
            )
        })
        .collect();
    let spec = StoreSpec {
        method: "datainf".into(),
        projection_dim: opts.projection_dim,
        projection_seed: opts.seed,
        datanets: vec![opts.datanet],
        snapshot: Some(opts.snapshot),
    };
    Ok(build_store(
        path,
        model,
        &[],
        &examples,
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
