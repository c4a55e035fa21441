//! The training data of a job: a Datanet's documents, tokenised with the base model's
//! tokenizer, cut into sequences, and split into training and held-out documents.
//!
//! The split is by document and by hash (`keccak256(seed ‖ datapoint)`), so it does not depend
//! on the order documents are read in, and a document is never half in each split.

use crate::{FactoryError, Result};
use alloy_primitives::{Address, B256, U256, keccak256};
use ol_attribution::{
    lineage::{DocMeta, TextDocument},
    merkle::{EvidenceLeaf, EvidenceTree},
};
use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

/// Which split a document is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Trained on.
    Train,
    /// Held out for the final loss.
    Heldout,
}

/// One document of the data snapshot, as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Datapoint {
    /// keccak256 of the document's bytes (the `contentHash` of its contribution).
    pub hash: B256,
    /// Its contributor.
    pub contributor: Address,
    /// Bytes of text.
    pub bytes: u64,
    /// Tokens after tokenisation (with the base's beginning/end-of-sequence tokens).
    pub tokens: u64,
    /// Its split.
    pub split: Split,
}

/// A tokenised document.
#[derive(Debug, Clone)]
pub struct TokenDocument {
    /// Its identity.
    pub meta: DocMeta,
    /// Its sequences of at most `max_seq_len` tokens, each at least two long.
    pub sequences: Vec<Vec<u32>>,
}

/// A Datanet's documents ready to train on.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The training documents, in datapoint order.
    pub train: Vec<TokenDocument>,
    /// The held-out documents, in datapoint order.
    pub heldout: Vec<TokenDocument>,
    /// Every document, sorted by hash (the manifest's data snapshot).
    pub datapoints: Vec<Datapoint>,
    /// The text documents of the training split (for the suffix-array index).
    pub train_texts: Vec<TextDocument>,
    /// The Merkle root of the data snapshot: an OpenZeppelin `StandardMerkleTree` over
    /// `(datapoint, contributor, bytes)` leaves, the format the PoA precompile verifies.
    pub root: B256,
}

/// Whether `datapoint` is held out at `fraction` under `seed`.
pub fn is_heldout(seed: u64, datapoint: B256, fraction: f64) -> bool {
    let mut buf = [0u8; 40];
    buf[..8].copy_from_slice(&seed.to_le_bytes());
    buf[8..].copy_from_slice(datapoint.as_slice());
    let h = keccak256(buf);
    let x = u64::from_be_bytes(h[..8].try_into().unwrap_or_default());
    (x as f64 / u64::MAX as f64) < fraction
}

impl Dataset {
    /// Tokenises `docs` with `tokenizer` (prepending `bos` and appending `eos` when given) and
    /// cuts them into windows of `max_seq_len` tokens. Duplicate documents (same hash) are
    /// counted once. At least one document must remain for training: when the split would hold
    /// every document out, the first by hash trains.
    pub fn new(
        docs: Vec<TextDocument>,
        tokenizer: &Tokenizer,
        bos: Option<u32>,
        eos: Option<u32>,
        max_seq_len: usize,
        heldout_fraction: f64,
        seed: u64,
    ) -> Result<Self> {
        if docs.is_empty() {
            return Err(FactoryError::invalid("the Datanet has no documents"));
        }
        let mut docs = docs;
        docs.sort_by_key(|d| d.meta.datapoint);
        docs.dedup_by_key(|d| d.meta.datapoint);
        let mut all = Vec::with_capacity(docs.len());
        for d in &docs {
            let mut ids = Vec::new();
            ids.extend(bos);
            ids.extend(
                tokenizer
                    .encode(d.text.as_str(), false)
                    .map_err(|e| {
                        FactoryError::invalid(format!(
                            "tokenising datapoint {}: {e}",
                            d.meta.datapoint
                        ))
                    })?
                    .get_ids(),
            );
            ids.extend(eos);
            let sequences: Vec<Vec<u32>> = ids
                .chunks(max_seq_len)
                .filter(|c| c.len() >= 2)
                .map(<[u32]>::to_vec)
                .collect();
            all.push((d, ids.len(), sequences));
        }
        if all.iter().all(|(_, _, s)| s.is_empty()) {
            return Err(FactoryError::invalid(
                "the Datanet's documents hold no text to train on",
            ));
        }
        let mut split: Vec<Split> = all
            .iter()
            .map(|(d, _, _)| {
                if is_heldout(seed, d.meta.datapoint, heldout_fraction) {
                    Split::Heldout
                } else {
                    Split::Train
                }
            })
            .collect();
        let trains = |split: &[Split], all: &[(&TextDocument, usize, Vec<Vec<u32>>)]| {
            split
                .iter()
                .zip(all)
                .any(|(s, (_, _, seqs))| *s == Split::Train && !seqs.is_empty())
        };
        if !trains(&split, &all)
            && let Some(i) = all.iter().position(|(_, _, s)| !s.is_empty())
        {
            split[i] = Split::Train;
        }
        let mut out = Self {
            train: Vec::new(),
            heldout: Vec::new(),
            datapoints: Vec::new(),
            train_texts: Vec::new(),
            root: B256::ZERO,
        };
        for ((d, tokens, sequences), s) in all.into_iter().zip(split) {
            out.datapoints.push(Datapoint {
                hash: d.meta.datapoint,
                contributor: d.meta.contributor,
                bytes: d.text.len() as u64,
                tokens: tokens as u64,
                split: s,
            });
            let doc = TokenDocument {
                meta: d.meta,
                sequences,
            };
            match s {
                Split::Train => {
                    out.train.push(doc);
                    out.train_texts.push(d.clone());
                }
                Split::Heldout => out.heldout.push(doc),
            }
        }
        out.root = snapshot_root(&out.datapoints);
        Ok(out)
    }

    /// Every training sequence, in document order.
    pub fn train_sequences(&self) -> Vec<&[u32]> {
        sequences(&self.train)
    }

    /// The held-out sequences.
    pub fn heldout_sequences(&self) -> Vec<&[u32]> {
        sequences(&self.heldout)
    }
}

fn sequences(docs: &[TokenDocument]) -> Vec<&[u32]> {
    docs.iter()
        .flat_map(|d| d.sequences.iter().map(Vec::as_slice))
        .collect()
}

/// See [`Dataset::root`].
fn snapshot_root(datapoints: &[Datapoint]) -> B256 {
    let leaves = datapoints
        .iter()
        .map(|d| EvidenceLeaf {
            datapoint: d.hash,
            contributor: d.contributor,
            score: U256::from(d.bytes),
        })
        .collect();
    EvidenceTree::new(leaves).root()
}

/// Writes the project's generated text corpus ([`ol_attribution::data::text_corpus`]: sentences
/// of invented words with planted canary sentences, made here and under the project's licence)
/// to `dir` in the documents layout (`<dir>/<contributor>/doc-NNN.txt`) with the canaries in
/// `<dir>/.canaries.json` (hidden, so it is not read as a document).
pub fn write_generated_corpus(
    dir: &std::path::Path,
    spec: ol_attribution::data::CorpusSpec,
) -> Result<ol_attribution::data::TextCorpus> {
    let corpus = ol_attribution::data::text_corpus(spec);
    let io = FactoryError::io;
    for (i, doc) in corpus.docs.iter().enumerate() {
        let folder = dir.join(doc.contributor.to_string());
        std::fs::create_dir_all(&folder).map_err(io("creating", &folder))?;
        let file = folder.join(format!("doc-{i:05}.txt"));
        std::fs::write(&file, &doc.text).map_err(io("writing", &file))?;
    }
    let canaries: Vec<serde_json::Value> = corpus
        .canaries
        .iter()
        .map(|c| {
            serde_json::json!({
                "sentence": c.sentence,
                "contributor": c.contributor,
                "datapoint": corpus.docs.get(c.doc).map(|d| d.id),
            })
        })
        .collect();
    let path = dir.join(".canaries.json");
    let bytes = serde_json::to_vec_pretty(&canaries)
        .map_err(|e| FactoryError::format(&path, e.to_string()))?;
    std::fs::write(&path, bytes).map_err(io("writing", &path))?;
    Ok(corpus)
}

/// Writes `documents` to `dir` in the documents layout a job reads: one folder per contributor,
/// each document in `<contributor>/<datapoint>.txt` (so a contribution's file is named by its
/// `contentHash`). `dir` is cleared first, so that it holds exactly `documents`.
pub fn write_documents(dir: &std::path::Path, documents: &[TextDocument]) -> Result<()> {
    let io = FactoryError::io;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io("clearing", dir))?;
    }
    for doc in documents {
        let folder = dir.join(doc.meta.contributor.to_string());
        std::fs::create_dir_all(&folder).map_err(io("creating", &folder))?;
        let file = folder.join(format!("{}.txt", doc.meta.datapoint));
        std::fs::write(&file, &doc.text).map_err(io("writing", &file))?;
    }
    Ok(())
}
