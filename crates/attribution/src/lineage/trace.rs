//! Tracing an output: maximal matching spans, the evidence test, and per-document scores.

use super::{LineageIndex, shard::Match};
use crate::{AttributionError, Result, lineage::DocMeta, weights::DatapointScore};
use alloy_primitives::Address;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which spans count as evidence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum EvidenceThreshold {
    /// The index's calibrated threshold ([`super::Calibration::threshold`]): a span is evidence
    /// when its self-information exceeds what text that occurs nowhere in the corpus reaches
    /// by chance.
    Calibrated,
    /// A span is evidence when its self-information exceeds this many nats (`0` keeps every
    /// span that passes the length and count filters, which never abstains).
    Nats(f64),
}

/// Settings of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TraceConfig {
    /// Shortest span kept, in tokens.
    pub min_span_len: usize,
    /// Spans occurring more often than this are too common to attribute (OLMoTrace: 10).
    pub max_count: u64,
    /// Documents credited per span, at most (OLMoTrace: 10).
    pub max_docs_per_span: usize,
    /// Keep at most `ceil(span_density · L)` spans, the heaviest (OLMoTrace: 0.05); `None`
    /// keeps all.
    pub span_density: Option<f64>,
    /// The evidence test a span must pass to earn anything.
    pub evidence: EvidenceThreshold,
}

impl Default for TraceConfig {
    fn default() -> Self {
        Self {
            min_span_len: 4,
            max_count: 10,
            max_docs_per_span: 10,
            span_density: None,
            evidence: EvidenceThreshold::Calibrated,
        }
    }
}

/// A span of the output found in the corpus.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span {
    /// Start in the output (tokens).
    pub start: usize,
    /// Length (tokens).
    pub len: usize,
    /// Occurrences in the corpus.
    pub count: u64,
    /// Self-information `Σ −ln p(token)` in nats (its weight).
    pub weight: f64,
    /// The documents credited (sorted; empty for a span below the evidence threshold).
    pub docs: Vec<DocMeta>,
}

/// The outcome of a trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    /// The output's tokens.
    pub tokens: Vec<u32>,
    /// The evidence spans, by start: the only ones that earn.
    pub spans: Vec<Span>,
    /// Maximal spans that passed the length and count filters but not the evidence threshold
    /// (shown to explain an abstention; they earn nothing).
    pub rejected: Vec<Span>,
    /// The evidence threshold applied, in nats.
    pub threshold: f64,
    /// Per-document scores (by datapoint); empty when the trace abstains.
    pub scores: Vec<DatapointScore>,
}

/// A maximal span before the evidence test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Candidate {
    pub(super) start: usize,
    pub(super) len: usize,
    pub(super) count: u64,
    pub(super) weight: f64,
}

impl LineageIndex {
    /// `−ln p(token)` under the corpus unigram distribution (add-one smoothing).
    pub(super) fn surprisal(&self, token: u32) -> f64 {
        let c = self.counts.get(&token).copied().unwrap_or(0);
        let vocab = self.counts.len() as f64 + 1.0;
        -(((c as f64) + 1.0) / (self.total_count as f64 + vocab)).ln()
    }

    /// Refuses token ids a tokenizer cannot produce (the separator range), which would match
    /// across document boundaries.
    pub(super) fn check_tokens(&self, output: &[u32]) -> Result<()> {
        let separator = self.manifest.token_width.separator();
        match output.iter().find(|&&t| t >= separator) {
            Some(bad) => Err(AttributionError::invalid(format!(
                "token id {bad} is out of range for this index (ids must be below {separator})"
            ))),
            None => Ok(()),
        }
    }

    /// The longest match per output position over all shards (per shard), in documents not by
    /// `exclude`.
    pub(super) fn matches(&self, output: &[u32], exclude: Option<Address>) -> Vec<Vec<Match>> {
        self.shards
            .iter()
            .map(|s| s.longest_matches(output, exclude))
            .collect()
    }

    /// The maximal spans of `output` (OLMoTrace: a span is kept only if its right end lies
    /// beyond the previous span's) that are at least `min_span_len` long and occur at most
    /// `max_count` times outside `exclude`'s documents, with their self-information.
    pub(super) fn candidates(
        &self,
        output: &[u32],
        per_shard: &[Vec<Match>],
        cfg: &TraceConfig,
        exclude: Option<Address>,
    ) -> Vec<Candidate> {
        let mut out = Vec::new();
        let mut last_end = 0usize;
        for l in 0..output.len() {
            let len = per_shard.iter().map(|m| m[l].len).max().unwrap_or(0);
            if len == 0 || l + len <= last_end {
                continue;
            }
            last_end = l + len;
            if len < cfg.min_span_len.max(1) {
                continue;
            }
            let mut count = 0u64;
            for (s, m) in self.shards.iter().zip(per_shard) {
                if m[l].len == len {
                    count += s.count_included(m[l], exclude, cfg.max_count);
                }
            }
            if count > cfg.max_count {
                continue;
            }
            out.push(Candidate {
                start: l,
                len,
                count,
                weight: output[l..l + len].iter().map(|&t| self.surprisal(t)).sum(),
            });
        }
        out
    }

    /// The documents holding the span of `c` (at most `max_docs`, sorted).
    fn span_docs(&self, c: &Candidate, per_shard: &[Vec<Match>], max_docs: usize) -> Vec<DocMeta> {
        let mut docs: Vec<DocMeta> = Vec::new();
        'shards: for (s, m) in self.shards.iter().zip(per_shard) {
            let m = m[c.start];
            if m.len != c.len {
                continue;
            }
            for rank in m.lo..m.hi {
                let meta = s.doc_meta(s.doc_at(s.sa_at(rank)));
                if !docs.contains(&meta) {
                    docs.push(meta);
                }
                if docs.len() >= max_docs {
                    break 'shards;
                }
            }
        }
        docs.sort();
        docs
    }

    /// The evidence threshold `cfg` asks for, in nats.
    pub fn threshold(&self, cfg: &TraceConfig) -> f64 {
        match cfg.evidence {
            EvidenceThreshold::Calibrated => self.calibration.threshold,
            EvidenceThreshold::Nats(t) => t,
        }
    }

    /// Traces an output given as token ids (see the module documentation). An output with no
    /// evidence span has no scores: its attribution is empty, and the market sends the
    /// contributors' share to the treasury.
    pub fn trace_tokens(&self, output: &[u32], cfg: &TraceConfig) -> Result<Trace> {
        self.check_tokens(output)?;
        let per_shard = self.matches(output, None);
        let threshold = self.threshold(cfg);
        let mut spans: Vec<Span> = Vec::new();
        let mut rejected: Vec<Span> = Vec::new();
        for c in self.candidates(output, &per_shard, cfg, None) {
            let evidence = c.weight > threshold;
            let span = Span {
                start: c.start,
                len: c.len,
                count: c.count,
                weight: c.weight,
                docs: if evidence {
                    self.span_docs(&c, &per_shard, cfg.max_docs_per_span)
                } else {
                    Vec::new()
                },
            };
            if evidence {
                spans.push(span);
            } else {
                rejected.push(span);
            }
        }
        if let Some(density) = cfg.span_density {
            let keep = ((density * output.len() as f64).ceil() as usize).max(1);
            if spans.len() > keep {
                let mut order: Vec<usize> = (0..spans.len()).collect();
                order.sort_by(|&a, &b| spans[b].weight.total_cmp(&spans[a].weight).then(a.cmp(&b)));
                let mut kept = order[..keep].to_vec();
                kept.sort_unstable();
                spans = kept.into_iter().map(|i| spans[i].clone()).collect();
            }
        }
        // Per-document scores. A document is (datapoint, contributor, Datanet): the same content
        // contributed twice is credited to both contributors.
        let mut scores: BTreeMap<DocMeta, f64> = BTreeMap::new();
        for span in &spans {
            let share = span.weight / span.docs.len().max(1) as f64;
            for doc in &span.docs {
                *scores.entry(*doc).or_default() += share;
            }
        }
        Ok(Trace {
            tokens: output.to_vec(),
            spans,
            rejected,
            threshold,
            scores: scores
                .into_iter()
                .map(|(m, score)| DatapointScore {
                    datapoint: m.datapoint,
                    contributor: m.contributor,
                    datanet: m.datanet,
                    score,
                })
                .collect(),
        })
    }
}
