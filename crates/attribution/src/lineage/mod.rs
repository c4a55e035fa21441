//! Suffix-array lineage: trace an output to the Datanet documents it repeats.
//!
//! The tokenised corpus is indexed in **shards**. A shard is built once with libsais (SA-IS over
//! the `u16` or `u32` token ids, documents separated by a separator token that no output
//! contains) and never rewritten; new contributions add a shard, and a query searches all of
//! them. A shard directory holds:
//!
//! ```text
//! shard.json   counts, token width, the Datanets of its documents
//! tokens.bin   the token ids (u16 or u32 LE), each document followed by the separator
//! sa.bin       the suffix array (u32 LE positions)
//! docs.bin     80 bytes per document: start u64 ‖ length u64 ‖ datapoint (32) ‖
//!              contributor (20) ‖ datanet index u32 ‖ 4 zero bytes
//! counts.bin   unigram counts, sorted (token u32 ‖ 4 zero ‖ count u64)
//! ```
//!
//! and at the top `manifest.json` lists the shards, `tokenizer.json` is the tokenizer (if any)
//! and `calibration.json` the evidence threshold ([`Calibration`]). Files are memory-mapped.
//!
//! **Tracing** follows OLMoTrace: for every output position `l`, the longest prefix of
//! `output[l..]` that occurs in the corpus (binary search on the suffix arrays, starting from the
//! previous match length minus one); keep the spans that are at least `min_span_len` long, occur
//! at most `max_count` times, and are maximal (their right end beyond the previous kept one).
//! A span's weight is its self-information `Σ −ln p(token)` under the corpus unigram
//! distribution (OLMoTrace's unigram log-probability ranking: longer and rarer weigh more).
//!
//! **Evidence.** Only a span whose self-information exceeds the index's calibrated threshold
//! earns (`calibrate`: the threshold is set on text that occurs nowhere in the corpus, drawn
//! from the index by leave-one-contributor-out, so that such text holds an evidence span with
//! probability about `α`). Short or common shared phrases fall below it; an output without an
//! evidence span attributes nothing (an empty record, whose contributors' share the market
//! sends to the treasury). Optionally only the `span_density · L` heaviest evidence spans are
//! kept. An evidence span's weight is shared equally among the distinct documents it occurs in
//! (at most `max_docs_per_span`); a document's score is the sum over spans; contributors and
//! Datanets are then weighted by [`crate::weights`].

mod calibrate;
mod shard;
mod trace;

pub use calibrate::{Calibration, CalibrationSpec, Segmenter};
pub use shard::{BuildStage, DocMeta, MAX_SHARD_TOKENS, Shard, ShardInfo, TokenWidth, build_shard};
pub use trace::{EvidenceThreshold, Span, Trace, TraceConfig};

use crate::{AttributionError, Result, tokenizer::TextTokenizer};
use serde::{Deserialize, Serialize};
use shard::{io_err, write_file};
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

/// The index's description (`manifest.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version (1).
    pub version: u32,
    /// Token width of every shard.
    pub token_width: TokenWidth,
    /// Shard directory names, oldest first.
    pub shards: Vec<String>,
}

/// The calibration's file in an index directory.
const CALIBRATION_FILE: &str = "calibration.json";

/// A lineage index: a directory of shards.
#[derive(Debug)]
pub struct LineageIndex {
    dir: PathBuf,
    manifest: Manifest,
    shards: Vec<Shard>,
    tokenizer: Option<TextTokenizer>,
    counts: HashMap<u32, u64>,
    total_count: u64,
    calibration: Calibration,
}

/// A document given as text, to index.
#[derive(Debug, Clone)]
pub struct TextDocument {
    /// Its metadata.
    pub meta: DocMeta,
    /// Its text.
    pub text: String,
}

impl LineageIndex {
    /// Creates an empty index in `dir` (which must not hold one) with a tokenizer (or none, for
    /// indexes over pre-tokenised data) and a token width.
    pub fn create(
        dir: &Path,
        tokenizer: Option<&TextTokenizer>,
        width: TokenWidth,
    ) -> Result<Self> {
        if dir.join("manifest.json").exists() {
            return Err(AttributionError::invalid(format!(
                "{} already holds an index",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
        if let Some(t) = tokenizer {
            if TokenWidth::for_vocab(t.vocab_size()) == TokenWidth::U32 && width == TokenWidth::U16
            {
                return Err(AttributionError::invalid(
                    "the tokenizer's vocabulary needs u32 token ids",
                ));
            }
            write_file(&dir.join("tokenizer.json"), t.json())?;
        }
        let manifest = Manifest {
            version: 1,
            token_width: width,
            shards: Vec::new(),
        };
        let index = Self {
            dir: dir.to_path_buf(),
            manifest,
            shards: Vec::new(),
            tokenizer: tokenizer.cloned(),
            counts: HashMap::new(),
            total_count: 0,
            calibration: Calibration::empty(CalibrationSpec::default()),
        };
        index.write_manifest()?;
        Ok(index)
    }

    /// Opens an index.
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join("manifest.json");
        let manifest: Manifest =
            serde_json::from_slice(&std::fs::read(&path).map_err(io_err("reading", &path))?)
                .map_err(|e| {
                    AttributionError::format("lineage index manifest", &path, e.to_string())
                })?;
        let tok_path = dir.join("tokenizer.json");
        let tokenizer = if tok_path.exists() {
            Some(TextTokenizer::from_file(&tok_path)?)
        } else {
            None
        };
        let mut index = Self {
            dir: dir.to_path_buf(),
            manifest: manifest.clone(),
            shards: Vec::new(),
            tokenizer,
            counts: HashMap::new(),
            total_count: 0,
            calibration: Calibration::empty(CalibrationSpec::default()),
        };
        for name in &manifest.shards {
            let shard = Shard::open(&dir.join(name))?;
            index.add_counts(&shard);
            index.shards.push(shard);
        }
        // A calibration written for other shards (a crash between it and the manifest) or with
        // other settings is recomputed; opening never writes.
        let cal_path = dir.join(CALIBRATION_FILE);
        let stored = std::fs::read(&cal_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Calibration>(&b).ok());
        index.calibration = match stored {
            Some(c)
                if c.index_tokens == index.total_tokens() && c.trace == TraceConfig::default() =>
            {
                c
            }
            other => index.calibrate(other.map_or_else(CalibrationSpec::default, |c| c.spec)),
        };
        Ok(index)
    }

    fn add_counts(&mut self, shard: &Shard) {
        for &(t, c) in &shard.counts {
            *self.counts.entry(t).or_default() += c;
            self.total_count += c;
        }
    }

    fn write_manifest(&self) -> Result<()> {
        let tmp = self.dir.join("manifest.json.tmp");
        write_file(&tmp, &serde_json::to_vec_pretty(&self.manifest)?)?;
        let dst = self.dir.join("manifest.json");
        std::fs::rename(&tmp, &dst).map_err(io_err("renaming", &dst))
    }

    /// The shards.
    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// The tokenizer stored with the index, if any.
    pub const fn tokenizer(&self) -> Option<&TextTokenizer> {
        self.tokenizer.as_ref()
    }

    /// Total tokens over all shards (separators included).
    pub fn total_tokens(&self) -> u64 {
        self.shards.iter().map(|s| s.info().tokens).sum()
    }

    /// Total documents over all shards.
    pub fn total_docs(&self) -> u64 {
        self.shards.iter().map(|s| s.info().docs).sum()
    }

    /// Tokenises text documents with the index's tokenizer and adds them as a new shard.
    pub fn add_text_documents(
        &mut self,
        docs: &[TextDocument],
        mut progress: impl FnMut(BuildStage, u64, u64),
    ) -> Result<ShardInfo> {
        let tokenizer = self.tokenizer.clone().ok_or_else(|| {
            AttributionError::invalid("this index has no tokenizer; add token documents")
        })?;
        let mut tokenised = Vec::with_capacity(docs.len());
        for (i, d) in docs.iter().enumerate() {
            tokenised.push((d.meta, tokenizer.encode(&d.text)?));
            progress(BuildStage::Tokenizing, i as u64 + 1, docs.len() as u64);
        }
        self.add_token_documents(&tokenised, progress)
    }

    /// Adds tokenised documents as a new shard; the existing shards are not touched. The
    /// manifest is replaced atomically once the shard is complete, so a crash leaves the index
    /// as it was.
    pub fn add_token_documents(
        &mut self,
        docs: &[(DocMeta, Vec<u32>)],
        progress: impl FnMut(BuildStage, u64, u64),
    ) -> Result<ShardInfo> {
        if docs.is_empty() {
            return Err(AttributionError::invalid("no documents to index"));
        }
        let name = format!("shard-{:06}", self.manifest.shards.len());
        let dir = self.dir.join(&name);
        if dir.exists() {
            // Left over by an interrupted build that never reached the manifest.
            std::fs::remove_dir_all(&dir).map_err(io_err("removing", &dir))?;
        }
        let info = build_shard(&dir, docs, self.manifest.token_width, progress)?;
        let shard = Shard::open(&dir)?;
        // The calibration is written before the manifest that makes the shard visible; a crash
        // in between leaves a calibration that `open` sees is stale.
        self.add_counts(&shard);
        self.shards.push(shard);
        self.manifest.shards.push(name);
        self.recalibrate(self.calibration.spec)?;
        self.write_manifest()?;
        Ok(info)
    }

    /// The evidence threshold's calibration.
    pub const fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// Calibrates the evidence threshold again with `spec` and stores it with the index.
    pub fn recalibrate(&mut self, spec: CalibrationSpec) -> Result<&Calibration> {
        let calibration = self.calibrate(spec);
        let tmp = self.dir.join("calibration.json.tmp");
        write_file(&tmp, &serde_json::to_vec_pretty(&calibration)?)?;
        let dst = self.dir.join(CALIBRATION_FILE);
        std::fs::rename(&tmp, &dst).map_err(io_err("renaming", &dst))?;
        self.calibration = calibration;
        Ok(&self.calibration)
    }

    /// Occurrences of a token sequence over all shards.
    pub fn count(&self, pattern: &[u32]) -> u64 {
        self.shards.iter().map(|s| s.count(pattern)).sum()
    }

    /// The distinct documents holding `pattern`, at most `max` of them (sorted).
    pub fn documents_containing(&self, pattern: &[u32], max: usize) -> Vec<DocMeta> {
        let mut docs = Vec::new();
        'shards: for s in &self.shards {
            let (lo, hi) = s.range_of(pattern, 0, s.len());
            for rank in lo..hi {
                let meta = s.doc_meta(s.doc_at(s.sa_at(rank)));
                if !docs.contains(&meta) {
                    if docs.len() == max {
                        break 'shards;
                    }
                    docs.push(meta);
                }
            }
        }
        docs.sort();
        docs
    }

    /// Traces a text (tokenised with the index's tokenizer).
    pub fn trace_text(&self, text: &str, cfg: &TraceConfig) -> Result<Trace> {
        let tokenizer = self.tokenizer.as_ref().ok_or_else(|| {
            AttributionError::invalid("this index has no tokenizer; trace tokens")
        })?;
        self.trace_tokens(&tokenizer.encode(text)?, cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, B256};

    fn meta(i: u8) -> DocMeta {
        DocMeta {
            datapoint: B256::repeat_byte(i),
            contributor: Address::repeat_byte(i % 3),
            datanet: B256::repeat_byte(7),
        }
    }

    /// Naive longest-match for cross-checking.
    fn naive_longest(docs: &[Vec<u32>], q: &[u32]) -> usize {
        let mut best = 0;
        for d in docs {
            for s in 0..d.len() {
                let mut m = 0;
                while m < q.len() && s + m < d.len() && d[s + m] == q[m] {
                    m += 1;
                }
                best = best.max(m);
            }
        }
        best
    }

    #[test]
    fn longest_matches_agree_with_brute_force_over_shards_and_widths() {
        let mut rng = crate::rng::Rng::new(11);
        for width in [TokenWidth::U16, TokenWidth::U32] {
            let dir = tempfile::tempdir().unwrap();
            let mut index = LineageIndex::create(dir.path(), None, width).unwrap();
            let docs: Vec<Vec<u32>> = (0..12)
                .map(|_| (0..40).map(|_| rng.below(6) as u32).collect())
                .collect();
            let (a, b) = docs.split_at(7);
            let tag = |v: &[Vec<u32>], off: u8| -> Vec<(DocMeta, Vec<u32>)> {
                v.iter()
                    .enumerate()
                    .map(|(i, d)| (meta(i as u8 + off), d.clone()))
                    .collect()
            };
            index.add_token_documents(&tag(a, 0), |_, _, _| {}).unwrap();
            index.add_token_documents(&tag(b, 7), |_, _, _| {}).unwrap();
            let index = LineageIndex::open(dir.path()).unwrap();
            assert_eq!(index.shards().len(), 2);
            let q: Vec<u32> = (0..30).map(|_| rng.below(7) as u32).collect();
            let mut best_per_start = vec![0; q.len()];
            for s in index.shards() {
                for (l, m) in s.longest_matches(&q, None).iter().enumerate() {
                    best_per_start[l] = best_per_start[l].max(m.len);
                }
            }
            for l in 0..q.len() {
                assert_eq!(
                    best_per_start[l],
                    naive_longest(&docs, &q[l..]),
                    "start {l}"
                );
            }
            // Leaving a contributor out agrees with brute force over the other documents
            // (document j is contributor j % 3's).
            for c in 0..3u8 {
                let others: Vec<Vec<u32>> = docs
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j as u8 % 3 != c)
                    .map(|(_, d)| d.clone())
                    .collect();
                let mut best = vec![0; q.len()];
                for s in index.shards() {
                    let matches = s.longest_matches(&q, Some(Address::repeat_byte(c)));
                    for (l, m) in matches.iter().enumerate() {
                        best[l] = best[l].max(m.len);
                    }
                }
                for (l, &b) in best.iter().enumerate() {
                    assert_eq!(
                        b,
                        naive_longest(&others, &q[l..]),
                        "contributor {c} start {l}"
                    );
                }
            }
            // Counting agrees with brute force.
            let pat = &docs[3][5..8];
            let naive: u64 = docs
                .iter()
                .map(|d| d.windows(pat.len()).filter(|w| *w == pat).count() as u64)
                .sum();
            assert_eq!(index.count(pat), naive);
        }
    }

    #[test]
    fn a_copied_rare_span_is_attributed_to_its_document() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = LineageIndex::create(dir.path(), None, TokenWidth::U16).unwrap();
        let mut rng = crate::rng::Rng::new(2);
        let docs: Vec<(DocMeta, Vec<u32>)> = (0..20)
            .map(|i| (meta(i), (0..200).map(|_| rng.below(50) as u32).collect()))
            .collect();
        index.add_token_documents(&docs, |_, _, _| {}).unwrap();
        let mut output: Vec<u32> = (0..20).map(|_| 100 + rng.below(50) as u32).collect();
        output.extend_from_slice(&docs[13].1[40..70]);
        output.extend((0..20).map(|_| 100 + rng.below(50) as u32));
        let trace = index
            .trace_tokens(&output, &TraceConfig::default())
            .unwrap();
        assert_eq!(trace.spans.len(), 1);
        assert_eq!(trace.spans[0].start, 20);
        assert_eq!(trace.spans[0].len, 30);
        assert_eq!(trace.scores.len(), 1);
        assert_eq!(trace.scores[0].datapoint, docs[13].0.datapoint);
        assert_eq!(trace.scores[0].contributor, docs[13].0.contributor);
        // Separator-range ids cannot come from a tokenizer: refused instead of matching
        // across document boundaries.
        assert!(
            index
                .trace_tokens(&[1, 2, u32::from(u16::MAX)], &TraceConfig::default())
                .is_err()
        );
        // The same content contributed by two contributors credits both.
        let mut dup = docs[13].clone();
        dup.0.contributor = Address::repeat_byte(0xee);
        index.add_token_documents(&[dup], |_, _, _| {}).unwrap();
        let trace = index
            .trace_tokens(&output, &TraceConfig::default())
            .unwrap();
        assert_eq!(trace.scores.len(), 2);
        assert_eq!(trace.scores[0].score, trace.scores[1].score);
        // The index refuses to be created twice.
        assert!(LineageIndex::create(dir.path(), None, TokenWidth::U16).is_err());
    }

    #[test]
    fn text_that_occurs_nowhere_attributes_nothing_and_copies_concentrate() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = LineageIndex::create(dir.path(), None, TokenWidth::U16).unwrap();
        let mut rng = crate::rng::Rng::new(9);
        // 30 contributors with two documents of random tokens over 20 symbols: any output over
        // the same symbols shares many 4- to 6-token spans with some document by chance.
        let docs: Vec<(DocMeta, Vec<u32>)> = (0..60u8)
            .map(|i| {
                let meta = DocMeta {
                    datapoint: B256::repeat_byte(i),
                    contributor: Address::repeat_byte(i / 2),
                    datanet: B256::ZERO,
                };
                (meta, (0..300).map(|_| rng.below(20) as u32).collect())
            })
            .collect();
        index.add_token_documents(&docs, |_, _, _| {}).unwrap();
        let cal = index.calibration().clone();
        assert!(cal.null_tokens >= 16_000 && cal.threshold > 0.0, "{cal:?}");
        // Reopening reads the same calibration.
        assert_eq!(LineageIndex::open(dir.path()).unwrap().calibration(), &cal);
        let fresh = |rng: &mut crate::rng::Rng, n: usize| -> Vec<u32> {
            (0..n).map(|_| rng.below(20) as u32).collect()
        };
        let never = TraceConfig {
            evidence: EvidenceThreshold::Nats(0.0),
            ..TraceConfig::default()
        };
        let (mut paid, mut paid_without_abstention) = (0, 0);
        for _ in 0..50 {
            let output = fresh(&mut rng, 128);
            paid += usize::from(
                !index
                    .trace_tokens(&output, &TraceConfig::default())
                    .unwrap()
                    .scores
                    .is_empty(),
            );
            paid_without_abstention += usize::from(
                !index
                    .trace_tokens(&output, &never)
                    .unwrap()
                    .scores
                    .is_empty(),
            );
        }
        assert!(paid_without_abstention >= 40, "{paid_without_abstention}");
        assert!(
            paid <= 2,
            "{paid} of 50 outputs that occur nowhere were paid"
        );
        // A copied passage between chance text keeps (nearly) all the weight.
        for k in 0..10 {
            let (meta, src) = &docs[k * 6];
            let mut output = fresh(&mut rng, 50);
            output.extend_from_slice(&src[100..130]);
            output.extend(fresh(&mut rng, 50));
            let trace = index
                .trace_tokens(&output, &TraceConfig::default())
                .unwrap();
            let w = crate::weights::contributor_weights(&trace.scores).unwrap();
            let own = w.contributors.iter().find(|(a, _)| *a == meta.contributor);
            assert!(own.is_some_and(|(_, ppm)| *ppm >= 800_000), "{w:?}");
        }
    }
}
