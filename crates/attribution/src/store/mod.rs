//! The on-disk store of projected training gradients.
//!
//! Training gradients are computed once per (model, Datanet snapshot) and written here; every
//! query is then one or two sequential passes over the memory-mapped rows.
//!
//! Layout (all little-endian):
//!
//! ```text
//! 0      "OLGRADS1"                                   magic, 8 bytes
//! 8      zero padding to 64
//! 64     rows    n × row_dim values                   row = checkpoint-major blocks of the
//!                                                     per-layer projected gradients, f32, f16
//!                                                     or int8 ([`Precision`]); zero-padded to
//!                                                     a multiple of 4 bytes
//! ...    norms   n × checkpoints × layers f32         ‖g‖² of each layer block as stored
//! ...    scales  n × checkpoints × layers f32         int8 stores only: each block's scale
//! ...    meta    n × 64 bytes                         datapoint (32) ‖ contributor (20) ‖
//!                                                     datanet index u32 ‖ label u32 ‖ 4 zero
//! ...    curvature (optional) f64 factors             per checkpoint, per curvature block, the
//!                                                     packed lower Cholesky factor of the
//!                                                     damped Gauss-Newton matrix
//! ...    header  JSON (StoreHeader)
//! end-16 header length u64, "OLGRADS1"
//! ```
//!
//! The header (written last, so rows stream straight to disk) records the model hash, the
//! Datanet snapshot, the projection (seed and per-layer dimensions), the method the store was
//! built for, the checkpoints' learning rates and DataInf's per-layer damping `λ`, and, for a
//! store built for the Gauss-Newton estimator ([`crate::influence::gauss_newton`]), where its
//! curvature factors lie.

use crate::{AttributionError, Result, projection::ProjectionSpec};
use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use std::{
    borrow::Cow,
    fs::File,
    path::{Path, PathBuf},
};

mod precision;
mod writer;

pub use precision::Precision;
pub use writer::StoreWriter;

/// Bytes of the rows section: `n × row_dim` values, padded to a multiple of 4.
fn rows_section_bytes(n: usize, row_dim: usize, precision: Precision) -> usize {
    (n * row_dim * precision.bytes()).next_multiple_of(4)
}

const MAGIC: &[u8; 8] = b"OLGRADS1";
const ROWS_OFFSET: u64 = 64;
const META_BYTES: usize = 64;

/// What a row of the store describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowMeta {
    /// The datapoint's id (content address).
    pub datapoint: B256,
    /// Its contributor.
    pub contributor: Address,
    /// Index into [`StoreHeader::datanets`].
    pub datanet: u32,
    /// A class label, for methods that use one (KNN-Shapley); 0 otherwise.
    pub label: u32,
}

impl RowMeta {
    fn encode(&self) -> [u8; META_BYTES] {
        let mut out = [0u8; META_BYTES];
        out[..32].copy_from_slice(self.datapoint.as_slice());
        out[32..52].copy_from_slice(self.contributor.as_slice());
        out[52..56].copy_from_slice(&self.datanet.to_le_bytes());
        out[56..60].copy_from_slice(&self.label.to_le_bytes());
        out
    }

    fn decode(b: &[u8]) -> Self {
        Self {
            datapoint: B256::from_slice(&b[..32]),
            contributor: Address::from_slice(&b[32..52]),
            datanet: u32::from_le_bytes(b[52..56].try_into().expect("4 bytes")),
            label: u32::from_le_bytes(b[56..60].try_into().expect("4 bytes")),
        }
    }
}

/// One checkpoint of the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointInfo {
    /// Learning rate (TracIn's ηc).
    pub lr: f64,
    /// DataInf's damping per layer: `0.1 × mean over rows of mean(g²)` over the layer's
    /// (projected) coordinates.
    pub lambda: Vec<f64>,
}

/// The store's header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreHeader {
    /// Format version (1).
    pub version: u32,
    /// The method the store was built for (`datainf`, `tracin`); both read the same rows.
    pub method: String,
    /// Hash of the model the gradients were taken of (see [`crate::models::model_hash`]).
    pub model_hash: B256,
    /// The Datanet snapshot: keccak256 over the rows' (datapoint, contributor) pairs in order,
    /// unless the builder was given one.
    pub datanet_snapshot: B256,
    /// The Datanets rows belong to.
    pub datanets: Vec<B256>,
    /// The projection.
    pub projection: ProjectionSpec,
    /// The checkpoints, oldest first (DataInf uses the last).
    pub checkpoints: Vec<CheckpointInfo>,
    /// Number of rows.
    pub rows: u64,
    /// Byte offsets of the sections.
    pub norms_offset: u64,
    /// Byte offset of the meta section.
    pub meta_offset: u64,
    /// The curvature section, for stores built for the Gauss-Newton estimator (absent from
    /// stores of the other methods, whose bytes it leaves as they were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curvature: Option<CurvatureInfo>,
    /// The number type of the rows (absent, so `f32`, in stores written before it existed).
    #[serde(default, skip_serializing_if = "Precision::is_f32")]
    pub precision: Precision,
}

/// Where a store's curvature factors lie and what they factor.
///
/// The projected coordinates of a checkpoint block are split into contiguous blocks of whole
/// layers ([`CurvatureInfo::blocks`]); each block `b` of checkpoint `c` holds the packed lower
/// Cholesky factor `L` (row-major, `i ≥ j`, `dim·(dim+1)/2` f64) of `F + λ_cb I`, with `F` the
/// mean over the store's examples of their Gauss-Newton matrices in the projected space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvatureInfo {
    /// `fisher` (labels drawn from the model's own predictive distribution, in expectation:
    /// the Gauss-Newton matrix of a softmax cross-entropy) or `empirical-fisher` (the observed
    /// labels: the rows' own gradients).
    pub kind: String,
    /// The damping, relative to the mean non-zero eigenvalue (`λ = factor · tr F / min(dim, m)`
    /// for `F` a sum of `m` outer products).
    pub damping_factor: f64,
    /// `(offset, len)` of each curvature block within a checkpoint block, in order, covering it.
    pub blocks: Vec<(usize, usize)>,
    /// The absolute damping `λ` per checkpoint and block.
    pub damping: Vec<Vec<f64>>,
    /// Byte offset of the factors (right after the meta section).
    pub offset: u64,
}

impl CurvatureInfo {
    /// Whether the blocks cover a checkpoint block of `block_dim` coordinates in order and
    /// there is one damping per block for each of `checkpoints` checkpoints.
    pub fn fits(&self, block_dim: usize, checkpoints: usize) -> bool {
        let covered = self.blocks.iter().try_fold(0usize, |at, &(offset, len)| {
            (offset == at && len > 0)
                .then(|| at.checked_add(len))
                .flatten()
        });
        covered == Some(block_dim)
            && self.damping.len() == checkpoints
            && self.damping.iter().all(|d| d.len() == self.blocks.len())
    }

    /// Number of f64 in the factors of one checkpoint.
    pub fn floats_per_checkpoint(&self) -> Option<usize> {
        self.blocks.iter().try_fold(0usize, |acc, &(_, len)| {
            acc.checked_add(len.checked_mul(len.checked_add(1)?)? / 2)
        })
    }
}

impl StoreHeader {
    /// Floats per checkpoint block.
    pub fn block_dim(&self) -> usize {
        self.projection.output_dim()
    }

    /// Floats per row.
    pub fn row_dim(&self) -> usize {
        self.block_dim() * self.checkpoints.len()
    }

    /// Number of layers.
    pub fn layers(&self) -> usize {
        self.projection.layers.len()
    }

    /// `(offset, len)` of each layer within a checkpoint block.
    pub fn layer_ranges(&self) -> Vec<(usize, usize)> {
        let mut at = 0;
        self.projection
            .layers
            .iter()
            .map(|l| {
                let r = (at, l.output_dim);
                at += l.output_dim;
                r
            })
            .collect()
    }
}

/// One stored layer block of a row, read in place by the scans.
#[derive(Debug, Clone, Copy)]
pub enum LayerRef<'a> {
    /// `f32` values.
    F32(&'a [f32]),
    /// Little-endian `f16` bytes.
    F16(&'a [u8]),
    /// Signed bytes and their scale.
    Int8(&'a [u8], f32),
}

impl LayerRef<'_> {
    /// `v · g` ([`crate::scan::dot`] over the decoded values, decoded in registers).
    pub fn dot(&self, v: &[f32]) -> f32 {
        match *self {
            Self::F32(g) => crate::scan::dot(v, g),
            Self::F16(g) => crate::scan::dot_f16(v, g),
            Self::Int8(q, scale) => crate::scan::dot_i8(v, q, scale),
        }
    }

    /// `y += c · g` ([`crate::scan::axpy`] over the decoded values).
    pub fn axpy(&self, c: f32, y: &mut [f32]) {
        match *self {
            Self::F32(g) => crate::scan::axpy(c, g, y),
            Self::F16(g) => crate::scan::axpy_f16(c, g, y),
            Self::Int8(q, scale) => crate::scan::axpy_i8(c, q, scale, y),
        }
    }
}

/// A memory-mapped gradient store.
#[derive(Debug)]
pub struct GradientStore {
    path: PathBuf,
    map: memmap2::Mmap,
    header: StoreHeader,
    factors: Vec<f64>,
    /// `(offset, len)` of each layer within a checkpoint block.
    ranges: Vec<(usize, usize)>,
    /// The Gauss-Newton estimator's per-row norms for its noise band, computed on first use.
    reach: std::sync::OnceLock<Vec<f64>>,
}

impl GradientStore {
    /// Opens and validates a store. The file must not be modified while it is open (it is
    /// memory-mapped); stores are written once and then only read.
    pub fn open(path: &Path) -> Result<Self> {
        if cfg!(target_endian = "big") {
            return Err(AttributionError::invalid(
                "gradient stores are little-endian only",
            ));
        }
        let file = File::open(path).map_err(|e| AttributionError::io("opening", path, e))?;
        // SAFETY: the store is immutable once written (see above); a concurrent writer would be
        // a misuse of the API, as for every memory-mapped database.
        let map = unsafe { memmap2::Mmap::map(&file) }
            .map_err(|e| AttributionError::io("mapping", path, e))?;
        let bad = |reason: &str| AttributionError::format("gradient store", path, reason);
        let len = map.len();
        if len < ROWS_OFFSET as usize + 16 || &map[..8] != MAGIC || &map[len - 8..] != MAGIC {
            return Err(bad("bad magic"));
        }
        let hlen = u64::from_le_bytes(map[len - 16..len - 8].try_into().expect("8 bytes")) as usize;
        if hlen > len - 16 {
            return Err(bad("bad header length"));
        }
        let header: StoreHeader = serde_json::from_slice(&map[len - 16 - hlen..len - 16])
            .map_err(|e| bad(&format!("bad header: {e}")))?;
        // The header is as untrusted as the rest of the file (stores arrive inside adapter
        // bundles): every size is computed checked, so one that overflows is refused rather
        // than wrapping into offsets that happen to match.
        let sections = || -> Option<(usize, usize, usize)> {
            let n = usize::try_from(header.rows).ok()?;
            let block = header
                .projection
                .layers
                .iter()
                .try_fold(0usize, |acc, l| acc.checked_add(l.output_dim))?;
            let row_dim = block.checked_mul(header.checkpoints.len())?;
            let rows_end = n
                .checked_mul(row_dim)?
                .checked_mul(header.precision.bytes())?
                .checked_next_multiple_of(4)?
                .checked_add(ROWS_OFFSET as usize)?;
            let norms_len = n
                .checked_mul(header.checkpoints.len())?
                .checked_mul(header.layers())?
                .checked_mul(4)?;
            let scales_len = if header.precision.has_scales() {
                norms_len
            } else {
                0
            };
            let meta_start = rows_end.checked_add(norms_len)?.checked_add(scales_len)?;
            let meta_end = meta_start.checked_add(n.checked_mul(META_BYTES)?)?;
            Some((rows_end, meta_start, meta_end))
        };
        let Some((rows_end, meta_start, meta_end)) = sections() else {
            return Err(bad("section sizes overflow"));
        };
        let curvature_len = match &header.curvature {
            None => Some(0),
            Some(c) => c
                .floats_per_checkpoint()
                .and_then(|f| f.checked_mul(header.checkpoints.len()))
                .and_then(|f| f.checked_mul(8)),
        };
        let Some(curvature_len) = curvature_len else {
            return Err(bad("curvature section size overflows"));
        };
        if header.version != 1
            || header.checkpoints.is_empty()
            || header.norms_offset as usize != rows_end
            || header.meta_offset as usize != meta_start
            || meta_end.checked_add(curvature_len) != Some(len - 16 - hlen)
            || header
                .checkpoints
                .iter()
                .any(|c| c.lambda.len() != header.layers())
            || header
                .projection
                .layers
                .iter()
                .any(|l| l.output_dim == 0 || l.output_dim > l.input_dim)
        {
            return Err(bad("sections do not match the header"));
        }
        let factors = match &header.curvature {
            None => Vec::new(),
            Some(c) => {
                if c.offset as usize != meta_end
                    || !c.fits(header.block_dim(), header.checkpoints.len())
                {
                    return Err(bad("curvature blocks do not match the header"));
                }
                let factors: Vec<f64> = map[meta_end..meta_end + curvature_len]
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                    .collect();
                // A factor with a zero, negative or non-finite pivot would turn every score
                // into NaN or infinity: refuse it here rather than answer with it.
                let mut at = 0;
                for _ in &header.checkpoints {
                    for &(_, dim) in &c.blocks {
                        let packed = &factors[at..at + dim * (dim + 1) / 2];
                        let pivots_ok = (0..dim).all(|i| {
                            let d = packed[i * (i + 1) / 2 + i];
                            d.is_finite() && d > 0.0
                        });
                        if !pivots_ok || packed.iter().any(|v| !v.is_finite()) {
                            return Err(bad("curvature factor is not a valid Cholesky factor"));
                        }
                        at += packed.len();
                    }
                }
                factors
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            map,
            ranges: header.layer_ranges(),
            header,
            factors,
            reach: std::sync::OnceLock::new(),
        })
    }

    /// The Gauss-Newton estimator's query-independent per-row values
    /// ([`crate::influence::gauss_newton_noise`]), computed by `compute` the first time.
    pub(crate) fn gauss_newton_reach(&self, compute: impl FnOnce() -> Vec<f64>) -> &[f64] {
        self.reach.get_or_init(compute)
    }

    /// The curvature factors (see [`CurvatureInfo`]), one checkpoint after the other; empty
    /// for a store without a curvature section.
    pub fn curvature_factors(&self) -> &[f64] {
        &self.factors
    }

    /// The header.
    pub const fn header(&self) -> &StoreHeader {
        &self.header
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of rows.
    pub const fn len(&self) -> usize {
        self.header.rows as usize
    }

    /// Whether the store has no row (never true for a store that opened).
    pub const fn is_empty(&self) -> bool {
        self.header.rows == 0
    }

    fn floats(&self, offset: usize, count: usize) -> &[f32] {
        let bytes = &self.map[offset..offset + count * 4];
        // SAFETY: any bit pattern is a valid f32; the map is page-aligned and every section
        // offset is a multiple of 4, so `align_to` yields no prefix (checked below).
        let (prefix, floats, suffix) = unsafe { bytes.align_to::<f32>() };
        assert!(
            prefix.is_empty() && suffix.is_empty(),
            "misaligned gradient store section"
        );
        floats
    }

    /// All rows, row-major (`len() × row_dim()` floats), for an `f32` store; `None` for a
    /// narrower one, whose rows are read with [`GradientStore::row_into`].
    pub fn rows_f32(&self) -> Option<&[f32]> {
        self.header
            .precision
            .is_f32()
            .then(|| self.floats(ROWS_OFFSET as usize, self.len() * self.header.row_dim()))
    }

    /// The rows section as raw 4-byte lanes, whatever the precision: what a plain pass over
    /// the stored bytes reads (the benchmarks' baseline).
    pub fn rows_raw(&self) -> &[f32] {
        let bytes = rows_section_bytes(self.len(), self.header.row_dim(), self.header.precision);
        self.floats(ROWS_OFFSET as usize, bytes / 4)
    }

    /// Row `k` as `f32`: borrowed from the map for an `f32` store, decoded into `buf`
    /// otherwise.
    pub fn row_into<'a>(&'a self, k: usize, buf: &'a mut Vec<f32>) -> &'a [f32] {
        let d = self.header.row_dim();
        if let Some(rows) = self.rows_f32() {
            return &rows[k * d..(k + 1) * d];
        }
        buf.resize(d, 0.0);
        let block = self.header.block_dim();
        for (c, out) in buf.chunks_mut(block).enumerate() {
            self.decode_block(k, c, out);
        }
        buf
    }

    /// The block of checkpoint `c` of row `k` as `f32` (see [`GradientStore::row_into`]).
    pub fn block_into<'a>(&'a self, k: usize, c: usize, buf: &'a mut Vec<f32>) -> &'a [f32] {
        let block = self.header.block_dim();
        if let Some(rows) = self.rows_f32() {
            let at = k * self.header.row_dim() + c * block;
            return &rows[at..at + block];
        }
        buf.resize(block, 0.0);
        self.decode_block(k, c, buf);
        buf
    }

    /// Row `k`, decoded (a copy only for a narrow store).
    pub fn row(&self, k: usize) -> Cow<'_, [f32]> {
        match self.rows_f32() {
            Some(rows) => {
                let d = self.header.row_dim();
                Cow::Borrowed(&rows[k * d..(k + 1) * d])
            }
            None => {
                let mut buf = Vec::new();
                self.row_into(k, &mut buf);
                Cow::Owned(buf)
            }
        }
    }

    /// `v · row_k` for `v` of `row_dim()` floats, a narrow row decoded in registers
    /// ([`crate::scan::dot_f16`], [`crate::scan::dot_i8`]): for `f32` and `f16` the same bits as
    /// `dot(v, row_into(k))`; for `int8` the sum of one such dot per layer block, in order.
    pub fn dot_row(&self, k: usize, v: &[f32]) -> f32 {
        let d = self.header.row_dim();
        match self.header.precision {
            Precision::F32 => {
                crate::scan::dot(v, &self.rows_f32().unwrap_or_default()[k * d..(k + 1) * d])
            }
            Precision::F16 => {
                let at = ROWS_OFFSET as usize + k * d * 2;
                crate::scan::dot_f16(v, &self.map[at..at + d * 2])
            }
            Precision::Int8 => (0..self.header.checkpoints.len())
                .map(|c| {
                    let block = self.header.block_dim();
                    self.dot_block(k, c, &v[c * block..(c + 1) * block])
                })
                .sum(),
        }
    }

    /// `v · block_kc` for `v` of `block_dim()` floats (see [`GradientStore::dot_row`]).
    pub fn dot_block(&self, k: usize, c: usize, v: &[f32]) -> f32 {
        let h = &self.header;
        let block = h.block_dim();
        let first = k * h.row_dim() + c * block;
        match h.precision {
            Precision::F32 => crate::scan::dot(
                v,
                &self.rows_f32().unwrap_or_default()[first..first + block],
            ),
            Precision::F16 => {
                let at = ROWS_OFFSET as usize + first * 2;
                crate::scan::dot_f16(v, &self.map[at..at + block * 2])
            }
            Precision::Int8 => self
                .ranges
                .iter()
                .enumerate()
                .map(|(l, &(offset, len))| self.layer(k, c, l).dot(&v[offset..offset + len]))
                .sum(),
        }
    }

    /// Layer `l` of checkpoint `c` of row `k`, in place.
    pub fn layer(&self, k: usize, c: usize, l: usize) -> LayerRef<'_> {
        let h = &self.header;
        let (offset, len) = self.ranges[l];
        let first = k * h.row_dim() + c * h.block_dim() + offset;
        match h.precision {
            Precision::F32 => {
                LayerRef::F32(&self.rows_f32().unwrap_or_default()[first..first + len])
            }
            Precision::F16 => {
                let at = ROWS_OFFSET as usize + first * 2;
                LayerRef::F16(&self.map[at..at + len * 2])
            }
            Precision::Int8 => {
                let at = ROWS_OFFSET as usize + first;
                let scale = self.scales()[(k * h.checkpoints.len() + c) * self.ranges.len() + l];
                LayerRef::Int8(&self.map[at..at + len], scale)
            }
        }
    }

    fn decode_block(&self, k: usize, c: usize, out: &mut [f32]) {
        let h = &self.header;
        let p = h.precision;
        let start = ROWS_OFFSET as usize + (k * h.row_dim() + c * h.block_dim()) * p.bytes();
        let scales = self.scales();
        for (l, &(at, len)) in self.ranges.iter().enumerate() {
            let bytes = &self.map[start + at * p.bytes()..start + (at + len) * p.bytes()];
            let scale = scales
                .get((k * h.checkpoints.len() + c) * self.ranges.len() + l)
                .copied()
                .unwrap_or(1.0);
            precision::decode(p, bytes, scale, &mut out[at..at + len]);
        }
    }

    /// The scale of each (row, checkpoint, layer) block, row-major, for an `int8` store; empty
    /// otherwise.
    pub fn scales(&self) -> &[f32] {
        if !self.header.precision.has_scales() {
            return &[];
        }
        let count = self.len() * self.header.checkpoints.len() * self.header.layers();
        self.floats(self.header.norms_offset as usize + count * 4, count)
    }

    /// `‖g‖²` per (row, checkpoint, layer), row-major.
    pub fn norms(&self) -> &[f32] {
        self.floats(
            self.header.norms_offset as usize,
            self.len() * self.header.checkpoints.len() * self.header.layers(),
        )
    }

    /// The metadata of row `i`.
    pub fn meta(&self, i: usize) -> RowMeta {
        let at = self.header.meta_offset as usize + i * META_BYTES;
        RowMeta::decode(&self.map[at..at + META_BYTES])
    }

    /// Size of the rows section in bytes (what a full pass reads).
    pub fn rows_bytes(&self) -> usize {
        rows_section_bytes(self.len(), self.header.row_dim(), self.header.precision)
    }

    /// Refuses the store unless it was built for `model_hash` (and `snapshot`, when given).
    pub fn check(&self, model_hash: B256, snapshot: Option<B256>) -> Result<()> {
        if self.header.model_hash != model_hash {
            return Err(AttributionError::StoreMismatch(format!(
                "{} holds gradients of model {}, not {model_hash}",
                self.path.display(),
                self.header.model_hash
            )));
        }
        if let Some(s) = snapshot
            && s != self.header.datanet_snapshot
        {
            return Err(AttributionError::StoreMismatch(format!(
                "{} was built for Datanet snapshot {}, not {s}",
                self.path.display(),
                self.header.datanet_snapshot
            )));
        }
        Ok(())
    }
}

/// A writer at `path` (checkpoints of learning rates `lrs`) that holds `rows` already, each
/// with a distinct datapoint; for tests.
#[cfg(test)]
pub(crate) fn test_writer(
    path: &Path,
    (method, projection, lrs): (&str, ProjectionSpec, Vec<f64>),
    rows: &[Vec<f32>],
    precision: Precision,
) -> StoreWriter {
    let mut w = StoreWriter::create(path, method, B256::ZERO, projection, lrs, vec![B256::ZERO])
        .unwrap()
        .with_precision(precision);
    for (i, r) in rows.iter().enumerate() {
        let meta = RowMeta {
            datapoint: B256::with_last_byte(i as u8),
            contributor: Address::ZERO,
            datanet: 0,
            label: 0,
        };
        w.push(meta, r).unwrap();
    }
    w
}

/// Writes `rows` (one checkpoint, learning rate 1) to a store at `path` and opens it.
#[cfg(test)]
pub(crate) fn test_store(
    path: &Path,
    method: &str,
    projection: ProjectionSpec,
    rows: &[Vec<f32>],
    precision: Precision,
) -> GradientStore {
    test_writer(path, (method, projection, vec![1.0]), rows, precision)
        .finish(None)
        .unwrap();
    GradientStore::open(path).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.olgs");
        let proj = ProjectionSpec::new(5, &[("a".into(), 3), ("b".into(), 2)], 100);
        let mut w = StoreWriter::create(
            &path,
            "tracin",
            B256::repeat_byte(1),
            proj,
            vec![0.1, 0.2],
            vec![B256::repeat_byte(9)],
        )
        .unwrap();
        for i in 0..3u8 {
            let row: Vec<f32> = (0..10).map(|j| f32::from(i) + j as f32).collect();
            let meta = RowMeta {
                datapoint: B256::repeat_byte(i),
                contributor: Address::repeat_byte(i + 10),
                datanet: 0,
                label: u32::from(i),
            };
            w.push(meta, &row).unwrap();
        }
        assert!(
            w.push(
                RowMeta {
                    datapoint: B256::ZERO,
                    contributor: Address::ZERO,
                    datanet: 0,
                    label: 0
                },
                &[0.0]
            )
            .is_err()
        );
        let header = w.finish(None).unwrap();
        let store = GradientStore::open(&path).unwrap();
        assert_eq!(store.header(), &header);
        assert_eq!(store.len(), 3);
        assert_eq!(store.row(2)[0], 2.0);
        assert_eq!(store.meta(1).contributor, Address::repeat_byte(11));
        assert_eq!(store.meta(2).label, 2);
        // ‖(0,1,2)‖² = 5 for row 0, layer 0, checkpoint 0.
        assert_eq!(store.norms()[0], 5.0);
        store
            .check(B256::repeat_byte(1), Some(header.datanet_snapshot))
            .unwrap();
        assert!(matches!(
            store.check(B256::ZERO, None),
            Err(AttributionError::StoreMismatch(_))
        ));
        // A truncated file is refused, not misread.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        assert!(GradientStore::open(&path).is_err());
    }

    /// Every precision stores the same rows within its resolution, in proportion to its width;
    /// norms are those of the values as stored; an `f32` header does not name its precision
    /// (stores written before precisions existed read, and hash, as they did).
    #[test]
    fn precisions_round_trip_within_their_resolution() {
        let dir = tempfile::tempdir().unwrap();
        let proj = ProjectionSpec::new(5, &[("a".into(), 7), ("b".into(), 3)], 100);
        let rows: Vec<Vec<f32>> = (0..5u8)
            .map(|i| {
                (0..20)
                    .map(|j| (f32::from(i) - 2.0) * (j as f32 - 9.5) * 0.1)
                    .collect()
            })
            .collect();
        let mut sizes = Vec::new();
        for p in Precision::ALL {
            let path = dir.path().join(format!("g.{p}"));
            let w = test_writer(&path, ("datainf", proj.clone(), vec![0.1, 0.2]), &rows, p);
            w.finish(None).unwrap();
            let store = GradientStore::open(&path).unwrap();
            assert_eq!(store.header().precision, p);
            assert_eq!(store.rows_f32().is_some(), p == Precision::F32);
            let mut buf = Vec::new();
            for (k, r) in rows.iter().enumerate() {
                let max = r.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let tol = match p {
                    Precision::F32 => 0.0,
                    Precision::F16 => max / 1024.0,
                    Precision::Int8 => max / 127.0 / 2.0 + 1e-6,
                };
                let got = store.row_into(k, &mut buf).to_vec();
                for (a, b) in r.iter().zip(&got) {
                    assert!((a - b).abs() <= tol, "{p} row {k}: {a} vs {b}");
                }
                assert_eq!(store.block_into(k, 1, &mut buf), &got[10..]);
                // The fused dot reads the stored bytes: the dot of the decoded row, to the bit
                // where the row is one run of lanes (f32, f16), per layer for int8.
                let v: Vec<f32> = (0..20).map(|j| (j as f32).sin()).collect();
                let decoded = crate::scan::dot(&v, &got);
                let fused = store.dot_row(k, &v);
                if p == Precision::Int8 {
                    assert!((fused - decoded).abs() <= 1e-5 * decoded.abs().max(1.0));
                } else {
                    assert_eq!(fused.to_bits(), decoded.to_bits(), "{p}");
                }
                assert_eq!(
                    store.dot_block(k, 1, &v[10..]).to_bits(),
                    if p == Precision::Int8 {
                        let dot = crate::scan::dot;
                        (dot(&v[10..17], &got[10..17]) + dot(&v[17..], &got[17..])).to_bits()
                    } else {
                        crate::scan::dot(&v[10..], &got[10..]).to_bits()
                    }
                );
                let stored: f32 = got[..7].iter().map(|v| v * v).sum();
                assert!((store.norms()[k * 4] - stored).abs() <= 1e-5 * stored.max(1.0));
            }
            let json = serde_json::to_string(store.header()).unwrap();
            assert_eq!(json.contains("precision"), p != Precision::F32, "{json}");
            sizes.push(store.rows_bytes());
        }
        assert_eq!(sizes, vec![400, 200, 100], "rows section bytes");
    }
}
