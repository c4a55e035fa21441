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
//! and `manifest.json` at the top lists the shards and the tokenizer. Files are memory-mapped.
//!
//! **Tracing** follows OLMoTrace: for every output position `l`, the longest prefix of
//! `output[l..]` that occurs in the corpus (binary search on the suffix arrays, starting from the
//! previous match length minus one); keep the spans that are at least `min_span_len` long, occur
//! at most `max_count` times, and are maximal (their right end beyond the previous kept one);
//! optionally keep only the `span_density · L` best. A span's weight is its total self-information
//! `Σ −log p(token)` under the corpus unigram distribution (longer and rarer weigh more), shared
//! equally among the distinct documents it occurs in (at most `max_docs_per_span`). A
//! document's score is the sum over spans; contributors and Datanets are then weighted by
//! [`crate::weights`].

use crate::{AttributionError, Result, tokenizer::TextTokenizer, weights::DatapointScore};
use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use std::{
    collections::{BTreeMap, HashMap},
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
};

/// Most tokens a shard can hold (libsais with 32-bit output).
pub const MAX_SHARD_TOKENS: usize = i32::MAX as usize - 1;

const DOC_BYTES: usize = 80;

/// A document to index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct DocMeta {
    /// The datapoint id.
    pub datapoint: B256,
    /// Its contributor.
    pub contributor: Address,
    /// Its Datanet.
    pub datanet: B256,
}

/// The width of token ids in a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenWidth {
    /// `u16` ids (vocabulary below 65,535; the separator is 65,535).
    U16,
    /// `u32` ids (the separator is `u32::MAX`).
    U32,
}

impl TokenWidth {
    /// The narrowest width for a vocabulary size.
    pub const fn for_vocab(vocab_size: usize) -> Self {
        if vocab_size < u16::MAX as usize {
            Self::U16
        } else {
            Self::U32
        }
    }

    const fn separator(self) -> u32 {
        match self {
            Self::U16 => u16::MAX as u32,
            Self::U32 => u32::MAX,
        }
    }

    const fn bytes(self) -> usize {
        match self {
            Self::U16 => 2,
            Self::U32 => 4,
        }
    }
}

/// A shard's description (`shard.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// Format version (1).
    pub version: u32,
    /// Tokens, separators included.
    pub tokens: u64,
    /// Documents.
    pub docs: u64,
    /// Token width.
    pub token_width: TokenWidth,
    /// The Datanets of its documents.
    pub datanets: Vec<B256>,
}

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

/// What a build reports, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildStage {
    /// Tokenising documents (`done`/`total` documents).
    Tokenizing,
    /// Sorting suffixes (`done`/`total` tokens; reported at start and end).
    Sorting,
    /// Writing files (`done`/`total` bytes).
    Writing,
}

fn io_err(context: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> AttributionError {
    let path = path.to_path_buf();
    move |e| AttributionError::io(context, path, e)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let file = File::create(path).map_err(io_err("creating", path))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    w.write_all(bytes).map_err(io_err("writing", path))?;
    let file = w
        .into_inner()
        .map_err(|e| AttributionError::io("writing", path, e.into_error()))?;
    file.sync_all().map_err(io_err("syncing", path))
}

/// Builds the suffix array of `tokens` (all below the separator except separators themselves).
fn suffix_array(tokens: &[u32], width: TokenWidth) -> Result<Vec<u32>> {
    if tokens.len() > MAX_SHARD_TOKENS {
        return Err(AttributionError::SuffixArray(format!(
            "{} tokens exceed the {MAX_SHARD_TOKENS} a shard holds: split the documents into several shards",
            tokens.len()
        )));
    }
    let sa: Vec<i32> = match width {
        TokenWidth::U16 => {
            let text: Vec<u16> = tokens.iter().map(|&t| t as u16).collect();
            libsais::SuffixArrayConstruction::for_text(&text)
                .in_owned_buffer32()
                .single_threaded()
                .run()
                .map_err(|e| AttributionError::SuffixArray(format!("{e:?}")))?
                .into_vec()
        }
        TokenWidth::U32 => {
            // Dense i32 alphabet preserving order; the separator becomes the largest symbol.
            let max = tokens
                .iter()
                .copied()
                .filter(|&t| t != u32::MAX)
                .max()
                .unwrap_or(0);
            if max >= i32::MAX as u32 - 1 {
                return Err(AttributionError::SuffixArray("token id too large".into()));
            }
            let sep = max as i32 + 1;
            let mut text: Vec<i32> = tokens
                .iter()
                .map(|&t| if t == u32::MAX { sep } else { t as i32 })
                .collect();
            let construction = libsais::SuffixArrayConstruction::for_text_mut(&mut text)
                .in_owned_buffer32()
                .single_threaded();
            // SAFETY: every symbol is in 0..=sep, so sep + 1 is a valid alphabet size.
            let construction = unsafe {
                construction.with_alphabet_size(libsais::suffix_array::AlphabetSize::new(sep + 1))
            };
            construction
                .run()
                .map_err(|e| AttributionError::SuffixArray(format!("{e:?}")))?
                .into_vec()
        }
    };
    Ok(sa.into_iter().map(|p| p as u32).collect())
}

/// Builds one shard in `dir` (created) from tokenised documents; every token must be below the
/// separator of `width`.
pub fn build_shard(
    dir: &Path,
    docs: &[(DocMeta, Vec<u32>)],
    width: TokenWidth,
    mut progress: impl FnMut(BuildStage, u64, u64),
) -> Result<ShardInfo> {
    let sep = width.separator();
    let total: usize = docs.iter().map(|(_, t)| t.len() + 1).sum();
    let mut tokens = Vec::with_capacity(total);
    let mut datanets: Vec<B256> = Vec::new();
    let mut doc_bytes = Vec::with_capacity(docs.len() * DOC_BYTES);
    let mut counts: BTreeMap<u32, u64> = BTreeMap::new();
    for (meta, toks) in docs {
        if let Some(bad) = toks.iter().find(|&&t| t >= sep) {
            return Err(AttributionError::invalid(format!(
                "token id {bad} does not fit the shard's width"
            )));
        }
        let dn = match datanets.iter().position(|d| *d == meta.datanet) {
            Some(i) => i,
            None => {
                datanets.push(meta.datanet);
                datanets.len() - 1
            }
        };
        let mut entry = [0u8; DOC_BYTES];
        entry[..8].copy_from_slice(&(tokens.len() as u64).to_le_bytes());
        entry[8..16].copy_from_slice(&(toks.len() as u64).to_le_bytes());
        entry[16..48].copy_from_slice(meta.datapoint.as_slice());
        entry[48..68].copy_from_slice(meta.contributor.as_slice());
        entry[68..72].copy_from_slice(&(dn as u32).to_le_bytes());
        doc_bytes.extend_from_slice(&entry);
        for &t in toks {
            *counts.entry(t).or_default() += 1;
        }
        tokens.extend_from_slice(toks);
        tokens.push(sep);
    }
    progress(BuildStage::Sorting, 0, tokens.len() as u64);
    let sa = suffix_array(&tokens, width)?;
    progress(
        BuildStage::Sorting,
        tokens.len() as u64,
        tokens.len() as u64,
    );
    std::fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
    let token_bytes: Vec<u8> = match width {
        TokenWidth::U16 => tokens
            .iter()
            .flat_map(|&t| (t as u16).to_le_bytes())
            .collect(),
        TokenWidth::U32 => tokens.iter().flat_map(|&t| t.to_le_bytes()).collect(),
    };
    let sa_bytes: Vec<u8> = sa.iter().flat_map(|p| p.to_le_bytes()).collect();
    let count_bytes: Vec<u8> = counts
        .iter()
        .flat_map(|(&t, &c)| {
            let mut e = [0u8; 16];
            e[..4].copy_from_slice(&t.to_le_bytes());
            e[8..].copy_from_slice(&c.to_le_bytes());
            e
        })
        .collect();
    let total_bytes =
        (token_bytes.len() + sa_bytes.len() + doc_bytes.len() + count_bytes.len()) as u64;
    let mut written = 0u64;
    for (name, bytes) in [
        ("tokens.bin", &token_bytes),
        ("sa.bin", &sa_bytes),
        ("docs.bin", &doc_bytes),
        ("counts.bin", &count_bytes),
    ] {
        write_file(&dir.join(name), bytes)?;
        written += bytes.len() as u64;
        progress(BuildStage::Writing, written, total_bytes);
    }
    let info = ShardInfo {
        version: 1,
        tokens: tokens.len() as u64,
        docs: docs.len() as u64,
        token_width: width,
        datanets,
    };
    write_file(&dir.join("shard.json"), &serde_json::to_vec_pretty(&info)?)?;
    Ok(info)
}

/// A memory-mapped shard.
#[derive(Debug)]
pub struct Shard {
    info: ShardInfo,
    tokens: memmap2::Mmap,
    sa: memmap2::Mmap,
    docs: memmap2::Mmap,
    counts: Vec<(u32, u64)>,
}

fn map(path: &Path) -> Result<memmap2::Mmap> {
    let file = File::open(path).map_err(io_err("opening", path))?;
    // SAFETY: shards are written once and never modified afterwards (new data goes to new
    // shards); mapping a file that another process truncates would be a misuse.
    unsafe { memmap2::Mmap::map(&file) }.map_err(io_err("mapping", path))
}

impl Shard {
    /// Opens and validates a shard directory.
    pub fn open(dir: &Path) -> Result<Self> {
        let info_path = dir.join("shard.json");
        let info: ShardInfo = serde_json::from_slice(
            &std::fs::read(&info_path).map_err(io_err("reading", &info_path))?,
        )
        .map_err(|e| AttributionError::format("shard", dir, e.to_string()))?;
        let tokens = map(&dir.join("tokens.bin"))?;
        let sa = map(&dir.join("sa.bin"))?;
        let docs = map(&dir.join("docs.bin"))?;
        let count_bytes = std::fs::read(dir.join("counts.bin")).map_err(io_err("reading", dir))?;
        let n = info.tokens as usize;
        if info.version != 1
            || tokens.len() != n * info.token_width.bytes()
            || sa.len() != n * 4
            || docs.len() != info.docs as usize * DOC_BYTES
            || count_bytes.len() % 16 != 0
            || cfg!(target_endian = "big")
        {
            return Err(AttributionError::format(
                "shard",
                dir,
                "file sizes do not match shard.json",
            ));
        }
        let counts = count_bytes
            .chunks_exact(16)
            .map(|e| {
                (
                    u32::from_le_bytes(e[..4].try_into().expect("4 bytes")),
                    u64::from_le_bytes(e[8..].try_into().expect("8 bytes")),
                )
            })
            .collect();
        Ok(Self {
            info,
            tokens,
            sa,
            docs,
            counts,
        })
    }

    /// The shard's description.
    pub const fn info(&self) -> &ShardInfo {
        &self.info
    }

    /// Number of tokens (separators included).
    pub const fn len(&self) -> usize {
        self.info.tokens as usize
    }

    /// Whether the shard holds no token.
    pub const fn is_empty(&self) -> bool {
        self.info.tokens == 0
    }

    #[inline]
    fn token(&self, pos: usize) -> u32 {
        match self.info.token_width {
            TokenWidth::U16 => u32::from(u16::from_le_bytes([
                self.tokens[2 * pos],
                self.tokens[2 * pos + 1],
            ])),
            TokenWidth::U32 => u32::from_le_bytes(
                self.tokens[4 * pos..4 * pos + 4]
                    .try_into()
                    .expect("4 bytes"),
            ),
        }
    }

    #[inline]
    fn sa_at(&self, i: usize) -> usize {
        u32::from_le_bytes(self.sa[4 * i..4 * i + 4].try_into().expect("4 bytes")) as usize
    }

    /// Compares the suffix at SA rank `i` with `pattern` on the first `pattern.len()` tokens.
    #[inline]
    fn cmp_suffix(&self, i: usize, pattern: &[u32]) -> std::cmp::Ordering {
        let start = self.sa_at(i);
        let n = self.len();
        for (k, &p) in pattern.iter().enumerate() {
            let pos = start + k;
            if pos >= n {
                return std::cmp::Ordering::Less;
            }
            let t = self.token(pos);
            if t != p {
                return t.cmp(&p);
            }
        }
        std::cmp::Ordering::Equal
    }

    /// The SA range `[lo, hi)` of suffixes starting with `pattern`, searched within
    /// `[lo, hi)`.
    fn range_of(&self, pattern: &[u32], lo: usize, hi: usize) -> (usize, usize) {
        let (mut a, mut b) = (lo, hi);
        while a < b {
            let m = a + (b - a) / 2;
            if self.cmp_suffix(m, pattern) == std::cmp::Ordering::Less {
                a = m + 1
            } else {
                b = m
            }
        }
        let start = a;
        let mut b = hi;
        while a < b {
            let m = a + (b - a) / 2;
            if self.cmp_suffix(m, pattern) == std::cmp::Ordering::Greater {
                b = m
            } else {
                a = m + 1
            }
        }
        (start, a)
    }

    /// Number of occurrences of `pattern`.
    pub fn count(&self, pattern: &[u32]) -> u64 {
        let (lo, hi) = self.range_of(pattern, 0, self.len());
        (hi - lo) as u64
    }

    /// For every start `l`, the longest `m` such that `output[l..l+m]` occurs, with its SA
    /// range. Uses `m(l+1) ≥ m(l) − 1`.
    fn longest_matches(&self, output: &[u32]) -> Vec<(usize, usize, usize)> {
        let n = self.len();
        let mut out = Vec::with_capacity(output.len());
        let mut prev = 0usize;
        for l in 0..output.len() {
            let mut m = prev.saturating_sub(1);
            let (mut lo, mut hi) = if m == 0 {
                (0, n)
            } else {
                self.range_of(&output[l..l + m], 0, n)
            };
            if lo == hi {
                // Cannot happen (a suffix of an occurring span occurs), but stay safe.
                m = 0;
                lo = 0;
                hi = n;
            }
            while l + m < output.len() {
                let (a, b) = self.range_of(&output[l..=l + m], lo, hi);
                if a == b {
                    break;
                }
                lo = a;
                hi = b;
                m += 1;
            }
            if m == 0 {
                out.push((0, 0, 0));
            } else {
                out.push((m, lo, hi));
            }
            prev = m;
        }
        out
    }

    /// The document containing corpus position `pos`.
    fn doc_at(&self, pos: usize) -> usize {
        let docs = self.info.docs as usize;
        let start = |d: usize| {
            u64::from_le_bytes(
                self.docs[d * DOC_BYTES..d * DOC_BYTES + 8]
                    .try_into()
                    .expect("8 bytes"),
            ) as usize
        };
        let (mut a, mut b) = (0, docs);
        while b - a > 1 {
            let m = a + (b - a) / 2;
            if start(m) <= pos { a = m } else { b = m }
        }
        a
    }

    /// Metadata of document `d`.
    pub fn doc_meta(&self, d: usize) -> DocMeta {
        let e = &self.docs[d * DOC_BYTES..(d + 1) * DOC_BYTES];
        let dn = u32::from_le_bytes(e[68..72].try_into().expect("4 bytes")) as usize;
        DocMeta {
            datapoint: B256::from_slice(&e[16..48]),
            contributor: Address::from_slice(&e[48..68]),
            datanet: self.info.datanets.get(dn).copied().unwrap_or_default(),
        }
    }

    /// Tokens of document `d`.
    pub fn doc_tokens(&self, d: usize) -> Vec<u32> {
        let e = &self.docs[d * DOC_BYTES..(d + 1) * DOC_BYTES];
        let start = u64::from_le_bytes(e[..8].try_into().expect("8 bytes")) as usize;
        let len = u64::from_le_bytes(e[8..16].try_into().expect("8 bytes")) as usize;
        (start..start + len).map(|p| self.token(p)).collect()
    }
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
}

impl Default for TraceConfig {
    fn default() -> Self {
        Self {
            min_span_len: 4,
            max_count: 10,
            max_docs_per_span: 10,
            span_density: None,
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
    /// Self-information `Σ −ln p(token)` (its weight).
    pub weight: f64,
    /// The documents credited (sorted).
    pub docs: Vec<DocMeta>,
}

/// The outcome of a trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    /// The output's tokens.
    pub tokens: Vec<u32>,
    /// The kept spans, by start.
    pub spans: Vec<Span>,
    /// Per-document scores (by datapoint).
    pub scores: Vec<DatapointScore>,
}

/// A lineage index: a directory of shards.
#[derive(Debug)]
pub struct LineageIndex {
    dir: PathBuf,
    manifest: Manifest,
    shards: Vec<Shard>,
    tokenizer: Option<TextTokenizer>,
    counts: HashMap<u32, u64>,
    total_count: u64,
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
        };
        for name in &manifest.shards {
            let shard = Shard::open(&dir.join(name))?;
            index.add_counts(&shard);
            index.shards.push(shard);
        }
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
        self.shards.iter().map(|s| s.info.tokens).sum()
    }

    /// Total documents over all shards.
    pub fn total_docs(&self) -> u64 {
        self.shards.iter().map(|s| s.info.docs).sum()
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
        self.manifest.shards.push(name);
        self.write_manifest()?;
        self.add_counts(&shard);
        self.shards.push(shard);
        Ok(info)
    }

    /// Occurrences of a token sequence over all shards.
    pub fn count(&self, pattern: &[u32]) -> u64 {
        self.shards.iter().map(|s| s.count(pattern)).sum()
    }

    /// Traces a text (tokenised with the index's tokenizer).
    pub fn trace_text(&self, text: &str, cfg: &TraceConfig) -> Result<Trace> {
        let tokenizer = self.tokenizer.as_ref().ok_or_else(|| {
            AttributionError::invalid("this index has no tokenizer; trace tokens")
        })?;
        self.trace_tokens(&tokenizer.encode(text)?, cfg)
    }

    /// `−ln p(token)` under the corpus unigram distribution (add-one smoothing).
    fn surprisal(&self, token: u32) -> f64 {
        let c = self.counts.get(&token).copied().unwrap_or(0);
        let vocab = self.counts.len() as f64 + 1.0;
        -(((c as f64) + 1.0) / (self.total_count as f64 + vocab)).ln()
    }

    /// Traces an output given as token ids (see the module documentation).
    pub fn trace_tokens(&self, output: &[u32], cfg: &TraceConfig) -> Result<Trace> {
        let separator = self.manifest.token_width.separator();
        if let Some(bad) = output.iter().find(|&&t| t >= separator) {
            return Err(AttributionError::invalid(format!(
                "token id {bad} is out of range for this index (ids must be below {separator})"
            )));
        }
        let l_out = output.len();
        // Longest match per start over all shards, with the shards achieving it.
        let per_shard: Vec<Vec<(usize, usize, usize)>> = self
            .shards
            .iter()
            .map(|s| s.longest_matches(output))
            .collect();
        let mut spans: Vec<Span> = Vec::new();
        let mut last_end = 0usize;
        for l in 0..l_out {
            let len = per_shard.iter().map(|m| m[l].0).max().unwrap_or(0);
            if len == 0 || l + len <= last_end {
                continue;
            }
            last_end = l + len;
            if len < cfg.min_span_len.max(1) {
                continue;
            }
            let count: u64 = per_shard
                .iter()
                .filter(|m| m[l].0 == len)
                .map(|m| (m[l].2 - m[l].1) as u64)
                .sum();
            if count > cfg.max_count {
                continue;
            }
            let weight: f64 = output[l..l + len].iter().map(|&t| self.surprisal(t)).sum();
            let mut docs: Vec<DocMeta> = Vec::new();
            'shards: for (s, m) in self.shards.iter().zip(&per_shard) {
                if m[l].0 != len {
                    continue;
                }
                for rank in m[l].1..m[l].2 {
                    let meta = s.doc_meta(s.doc_at(s.sa_at(rank)));
                    if !docs.contains(&meta) {
                        docs.push(meta);
                    }
                    if docs.len() >= cfg.max_docs_per_span {
                        break 'shards;
                    }
                }
            }
            docs.sort();
            spans.push(Span {
                start: l,
                len,
                count,
                weight,
                docs,
            });
        }
        if let Some(density) = cfg.span_density {
            let keep = ((density * l_out as f64).ceil() as usize).max(1);
            if spans.len() > keep {
                let mut order: Vec<usize> = (0..spans.len()).collect();
                order.sort_by(|&a, &b| spans[b].weight.total_cmp(&spans[a].weight).then(a.cmp(&b)));
                let kept: Vec<usize> = {
                    let mut k = order[..keep].to_vec();
                    k.sort_unstable();
                    k
                };
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

#[cfg(test)]
mod tests {
    use super::*;

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
                for (l, m) in s.longest_matches(&q).iter().enumerate() {
                    best_per_start[l] = best_per_start[l].max(m.0);
                }
            }
            for l in 0..q.len() {
                assert_eq!(
                    best_per_start[l],
                    naive_longest(&docs, &q[l..]),
                    "start {l}"
                );
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
}
