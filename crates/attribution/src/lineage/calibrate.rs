//! Calibrating the evidence threshold on a null distribution drawn from the index itself.
//!
//! Text that occurs nowhere in the corpus still shares short phrases with it, and a phrase found
//! in a few documents is no evidence that they shaped the output. The question a threshold must
//! answer is how much self-information a maximal span reaches **by chance**, in text of the same
//! kind as the corpus that was not drawn from it. The index answers it by leave-one-contributor-
//! out:
//!
//! 1. Documents are visited in a seeded order fixed by their ids. Each is cut into units
//!    (sentences and lines when the index has a tokenizer: a unit ends after a token whose text
//!    holds a newline or ends a sentence; fixed chunks otherwise), merged until at least
//!    [`CalibrationSpec::min_unit`] tokens long.
//! 2. A unit is **null text** when it does not occur in any document of another contributor:
//!    to the rest of the corpus it is text that occurs nowhere. Null units of a document are
//!    joined into null outputs of about [`CalibrationSpec::reference_len`] tokens.
//! 3. Each null output is traced against the corpus without its contributor's documents, with
//!    the default trace filters (maximal spans, length, count), and the self-information of every
//!    span is recorded, until [`CalibrationSpec::null_tokens`] tokens have been traced.
//! 4. The threshold is the smallest value that at most `α · T / reference_len` null spans exceed
//!    (`T` null tokens), rounded up to 2⁻¹⁰ nats: text of `reference_len` tokens that occurs
//!    nowhere then holds an evidence span with probability about `α` (at most `α` expected false
//!    spans).
//!
//! The null is genre-matched (the corpus's own writing) and out of sample for every contributor
//! whose text it uses. It needs at least two contributors; with one, nothing can be held out and
//! the threshold stays 0 ([`Calibration::null_tokens`] is then 0). Unigram probabilities are
//! those of the whole corpus, held-out contributor included, which makes its rare tokens a little
//! less surprising than truly unseen ones would be.

use super::{LineageIndex, trace::TraceConfig};
use crate::{rng::mix, tokenizer::TextTokenizer};
use alloy_primitives::Address;
use serde::{Deserialize, Serialize};
use std::{collections::HashSet, ops::Range};

/// How the evidence threshold is calibrated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationSpec {
    /// Expected false evidence spans per `reference_len` tokens of text that occurs nowhere.
    pub alpha: f64,
    /// The output length `alpha` refers to, in tokens.
    pub reference_len: usize,
    /// Null tokens to trace (fewer when the corpus holds less null text).
    pub null_tokens: usize,
    /// Shortest unit, in tokens.
    pub min_unit: usize,
    /// Seed of the document order.
    pub seed: u64,
}

impl Default for CalibrationSpec {
    fn default() -> Self {
        Self {
            alpha: 0.02,
            reference_len: 128,
            null_tokens: 1 << 16,
            min_unit: 8,
            seed: 0x6e756c6c,
        }
    }
}

/// The outcome of a calibration (`calibration.json` in the index).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The settings used.
    pub spec: CalibrationSpec,
    /// The trace filters the null spans went through.
    pub trace: TraceConfig,
    /// Tokens in the index when calibrated (a different count means the calibration is stale).
    pub index_tokens: u64,
    /// Null outputs traced.
    pub null_outputs: u64,
    /// Null tokens traced.
    pub null_tokens: u64,
    /// Spans found in the null outputs.
    pub null_spans: u64,
    /// The largest self-information of a null span, in nats.
    pub null_max: f64,
    /// A span is evidence when its self-information exceeds this (nats).
    pub threshold: f64,
}

impl Calibration {
    /// The calibration of an index without documents: no threshold.
    pub fn empty(spec: CalibrationSpec) -> Self {
        Self {
            spec,
            trace: TraceConfig::default(),
            index_tokens: 0,
            null_outputs: 0,
            null_tokens: 0,
            null_spans: 0,
            null_max: 0.0,
            threshold: 0.0,
        }
    }
}

/// Cuts token sequences into units: sentences and lines for a tokenizer's output, fixed chunks
/// for bare token ids.
#[derive(Debug, Clone)]
pub struct Segmenter {
    /// Tokens after which a unit may end; `None`: fixed chunks of `2 · min_unit`.
    boundaries: Option<HashSet<u32>>,
    min_unit: usize,
}

impl Segmenter {
    /// A segmenter for the output of `tokenizer` (fixed chunks without one).
    pub fn new(tokenizer: Option<&TextTokenizer>, min_unit: usize) -> Self {
        let boundaries = tokenizer.map(|t| {
            (0..t.vocab_size() as u32)
                .filter(|&id| {
                    t.decode(&[id]).is_ok_and(|s| {
                        let s = s.trim_end_matches(' ');
                        s.contains('\n') || s.ends_with(['.', '!', '?'])
                    })
                })
                .collect()
        });
        Self {
            boundaries,
            min_unit: min_unit.max(1),
        }
    }

    /// The units of `tokens`, in order; a short tail joins the last unit, and text shorter than
    /// one unit gives none.
    pub fn units(&self, tokens: &[u32]) -> Vec<Range<usize>> {
        let mut out: Vec<Range<usize>> = Vec::new();
        let mut start = 0;
        for (i, t) in tokens.iter().enumerate() {
            let len = i + 1 - start;
            let cut = match &self.boundaries {
                Some(b) => len >= self.min_unit && b.contains(t),
                None => len >= 2 * self.min_unit,
            };
            if cut {
                out.push(start..i + 1);
                start = i + 1;
            }
        }
        if start < tokens.len() {
            match out.last_mut() {
                Some(last) if tokens.len() - start < self.min_unit => last.end = tokens.len(),
                _ if tokens.len() - start >= self.min_unit => out.push(start..tokens.len()),
                _ => {}
            }
        }
        out
    }
}

/// Rounds up to a multiple of 2⁻¹⁰ nats: such a value survives a JSON round trip exactly, so a
/// node that reads `calibration.json` applies the very threshold one that computed it does.
fn on_grid(nats: f64) -> f64 {
    (nats * 1024.0).ceil() / 1024.0
}

impl LineageIndex {
    /// Whether `pattern` occurs in a document not by `exclude`.
    pub(super) fn occurs_outside(&self, pattern: &[u32], exclude: Option<Address>) -> bool {
        self.shards
            .iter()
            .any(|s| s.longest_prefix(pattern, exclude).len == pattern.len())
    }

    /// Computes the evidence threshold on null text drawn from the index (see the module
    /// documentation). Deterministic: the same index and spec give the same calibration.
    pub fn calibrate(&self, spec: CalibrationSpec) -> Calibration {
        let trace = TraceConfig::default();
        let segmenter = Segmenter::new(self.tokenizer.as_ref(), spec.min_unit);
        let mut order: Vec<(u64, usize, usize)> = Vec::new();
        for (s, shard) in self.shards.iter().enumerate() {
            for d in 0..shard.info().docs as usize {
                let id = shard.doc_meta(d).datapoint;
                let head = u64::from_le_bytes(id[..8].try_into().expect("8 bytes"));
                order.push((mix(&[spec.seed, head]), s, d));
            }
        }
        order.sort_unstable();
        let mut weights: Vec<f64> = Vec::new();
        let (mut outputs, mut tokens) = (0u64, 0u64);
        let mut trace_null = |output: &[u32], exclude: Option<Address>| {
            let per_shard = self.matches(output, exclude);
            weights.extend(
                self.candidates(output, &per_shard, &trace, exclude)
                    .iter()
                    .map(|c| c.weight),
            );
            outputs += 1;
            tokens += output.len() as u64;
            tokens >= spec.null_tokens as u64
        };
        'docs: for &(_, s, d) in &order {
            let shard = &self.shards[s];
            let exclude = Some(shard.doc_meta(d).contributor);
            let doc = shard.doc_tokens(d);
            let mut output: Vec<u32> = Vec::new();
            for unit in segmenter.units(&doc) {
                let unit = &doc[unit];
                if self.occurs_outside(unit, exclude) {
                    continue;
                }
                output.extend_from_slice(unit);
                if output.len() >= spec.reference_len {
                    if trace_null(&output, exclude) {
                        break 'docs;
                    }
                    output.clear();
                }
            }
            if !output.is_empty() && trace_null(&output, exclude) {
                break;
            }
        }
        weights.sort_by(|a, b| b.total_cmp(a));
        let allowed =
            (spec.alpha.max(0.0) * tokens as f64 / spec.reference_len.max(1) as f64) as usize;
        Calibration {
            spec,
            trace,
            index_tokens: self.total_tokens(),
            null_outputs: outputs,
            null_tokens: tokens,
            null_spans: weights.len() as u64,
            null_max: on_grid(weights.first().copied().unwrap_or(0.0)),
            threshold: on_grid(weights.get(allowed).copied().unwrap_or(0.0)),
        }
    }
}
