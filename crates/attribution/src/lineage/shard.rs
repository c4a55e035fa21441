//! One shard of a lineage index: its files, its build with libsais, and exact-match search over
//! its suffix array.

use crate::{AttributionError, Result};
use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use std::{
    collections::BTreeMap,
    fs::File,
    io::{BufWriter, Write},
    path::Path,
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

    pub(super) const fn separator(self) -> u32 {
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

pub(super) fn io_err(
    context: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> AttributionError {
    let path = path.to_path_buf();
    move |e| AttributionError::io(context, path, e)
}

pub(super) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
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

/// A match of an output position in a shard: its length and the SA ranks `[lo, hi)` of the
/// suffixes that start with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Match {
    pub(super) len: usize,
    pub(super) lo: usize,
    pub(super) hi: usize,
}

impl Match {
    /// No match.
    pub(super) const NONE: Self = Self {
        len: 0,
        lo: 0,
        hi: 0,
    };

    /// The empty prefix, which every suffix of a shard of `n` tokens starts with.
    const fn whole(n: usize) -> Self {
        Self {
            len: 0,
            lo: 0,
            hi: n,
        }
    }
}

/// A memory-mapped shard.
#[derive(Debug)]
pub struct Shard {
    info: ShardInfo,
    tokens: memmap2::Mmap,
    sa: memmap2::Mmap,
    docs: memmap2::Mmap,
    pub(super) counts: Vec<(u32, u64)>,
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
    pub(super) fn sa_at(&self, i: usize) -> usize {
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
    pub(super) fn range_of(&self, pattern: &[u32], lo: usize, hi: usize) -> (usize, usize) {
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

    /// The contributor of the document holding the suffix at SA rank `rank`.
    fn contributor_at_rank(&self, rank: usize) -> Address {
        let d = self.doc_at(self.sa_at(rank));
        Address::from_slice(&self.docs[d * DOC_BYTES + 48..d * DOC_BYTES + 68])
    }

    /// Whether SA ranks `[lo, hi)` hold a suffix outside `exclude`'s documents.
    fn any_included(&self, lo: usize, hi: usize, exclude: Option<Address>) -> bool {
        match exclude {
            None => lo < hi,
            Some(c) => (lo..hi).any(|r| self.contributor_at_rank(r) != c),
        }
    }

    /// Occurrences in SA ranks `[lo, hi)` outside `exclude`'s documents, counted up to
    /// `cap + 1` (enough to tell "more than `cap`" without walking a huge range).
    pub(super) fn count_included(&self, m: Match, exclude: Option<Address>, cap: u64) -> u64 {
        match exclude {
            None => (m.hi - m.lo) as u64,
            Some(c) => {
                let mut n = 0u64;
                for r in m.lo..m.hi {
                    if self.contributor_at_rank(r) != c {
                        n += 1;
                        if n > cap {
                            break;
                        }
                    }
                }
                n
            }
        }
    }

    /// Extends the match `output[l..l+m]` (SA range `[lo, hi)`) token by token while it still
    /// occurs outside `exclude`'s documents.
    fn extend(&self, output: &[u32], l: usize, mut m: Match, exclude: Option<Address>) -> Match {
        while l + m.len < output.len() {
            let (a, b) = self.range_of(&output[l..=l + m.len], m.lo, m.hi);
            if a == b || !self.any_included(a, b, exclude) {
                break;
            }
            m = Match {
                len: m.len + 1,
                lo: a,
                hi: b,
            };
        }
        m
    }

    /// The longest prefix of `pattern` that occurs outside `exclude`'s documents.
    pub(super) fn longest_prefix(&self, pattern: &[u32], exclude: Option<Address>) -> Match {
        self.extend(pattern, 0, Match::whole(self.len()), exclude)
    }

    /// For every start `l`, the longest `m` such that `output[l..l+m]` occurs outside
    /// `exclude`'s documents (anywhere for `None`), with its SA range (which may also hold
    /// occurrences in excluded documents). Uses `m(l+1) ≥ m(l) − 1`: the rest of a span found in
    /// a document is found in the same document.
    pub(super) fn longest_matches(&self, output: &[u32], exclude: Option<Address>) -> Vec<Match> {
        let n = self.len();
        let mut out = Vec::with_capacity(output.len());
        let mut prev = 0usize;
        for l in 0..output.len() {
            let carried = prev.saturating_sub(1);
            let mut start = Match::whole(n);
            if carried > 0 {
                let (lo, hi) = self.range_of(&output[l..l + carried], 0, n);
                // Always non-empty (see above); fall back to a fresh search if not.
                if lo < hi {
                    start = Match {
                        len: carried,
                        lo,
                        hi,
                    };
                }
            }
            let m = self.extend(output, l, start, exclude);
            out.push(if m.len == 0 { Match::NONE } else { m });
            prev = m.len;
        }
        out
    }

    /// The document containing corpus position `pos`.
    pub(super) fn doc_at(&self, pos: usize) -> usize {
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
