//! Writing a store: rows streamed to disk, then norms, meta, curvature and the header.

use super::{
    CheckpointInfo, CurvatureInfo, MAGIC, META_BYTES, Precision, ROWS_OFFSET, RowMeta, StoreHeader,
    precision, rows_section_bytes,
};
use crate::{AttributionError, Result, projection::ProjectionSpec};
use alloy_primitives::{B256, keccak256};
use std::{
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
};

/// Writes a store row by row.
#[derive(Debug)]
pub struct StoreWriter {
    path: PathBuf,
    out: BufWriter<File>,
    projection: ProjectionSpec,
    lrs: Vec<f64>,
    method: String,
    model_hash: B256,
    datanets: Vec<B256>,
    norms: Vec<f32>,
    scales: Vec<f32>,
    meta: Vec<RowMeta>,
    sq_sums: Vec<f64>,
    curvature: Option<(CurvatureInfo, Vec<f64>)>,
    precision: Precision,
}

impl StoreWriter {
    /// Creates `path` for gradients of the model `model_hash` projected with `projection`, at
    /// checkpoints with learning rates `lrs`.
    pub fn create(
        path: &Path,
        method: &str,
        model_hash: B256,
        projection: ProjectionSpec,
        lrs: Vec<f64>,
        datanets: Vec<B256>,
    ) -> Result<Self> {
        if lrs.is_empty() {
            return Err(AttributionError::invalid(
                "a gradient store needs at least one checkpoint",
            ));
        }
        let file = File::create(path).map_err(|e| AttributionError::io("creating", path, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut head = [0u8; ROWS_OFFSET as usize];
        head[..8].copy_from_slice(MAGIC);
        out.write_all(&head)
            .map_err(|e| AttributionError::io("writing", path, e))?;
        let layers = projection.layers.len();
        Ok(Self {
            path: path.to_path_buf(),
            out,
            sq_sums: vec![0.0; layers * lrs.len()],
            projection,
            lrs,
            method: method.to_string(),
            model_hash,
            datanets,
            norms: Vec::new(),
            scales: Vec::new(),
            meta: Vec::new(),
            curvature: None,
            precision: Precision::F32,
        })
    }

    /// Stores the rows at `precision` (default `f32`); set before the first row.
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// The projection rows must use.
    pub const fn projection(&self) -> &ProjectionSpec {
        &self.projection
    }

    /// Appends a row: `row` holds one projected block per checkpoint, concatenated.
    pub fn push(&mut self, meta: RowMeta, row: &[f32]) -> Result<()> {
        let block = self.projection.output_dim();
        if row.len() != block * self.lrs.len() {
            return Err(AttributionError::invalid(format!(
                "row of {} floats, expected {}",
                row.len(),
                block * self.lrs.len()
            )));
        }
        if meta.datanet as usize >= self.datanets.len().max(1) {
            return Err(AttributionError::invalid("datanet index out of range"));
        }
        let layers = self.projection.layers.len();
        let mut bytes = Vec::with_capacity(row.len() * self.precision.bytes());
        for (c, chunk) in row.chunks(block).enumerate() {
            let mut at = 0;
            for (l, spec) in self.projection.layers.iter().enumerate() {
                let values = &chunk[at..at + spec.output_dim];
                let (scale, sq) = precision::encode(self.precision, values, &mut bytes);
                self.norms.push(sq);
                if self.precision.has_scales() {
                    self.scales.push(scale);
                }
                self.sq_sums[c * layers + l] += f64::from(sq) / spec.output_dim as f64;
                at += spec.output_dim;
            }
        }
        self.out
            .write_all(&bytes)
            .map_err(|e| AttributionError::io("writing", &self.path, e))?;
        self.meta.push(meta);
        Ok(())
    }

    /// Attaches curvature factors (see [`CurvatureInfo`]; its `offset` is set by
    /// [`StoreWriter::finish`]): `factors` holds one checkpoint after the other.
    pub fn set_curvature(&mut self, info: CurvatureInfo, factors: Vec<f64>) -> Result<()> {
        let per = info.floats_per_checkpoint();
        if !info.fits(self.projection.output_dim(), self.lrs.len())
            || per.and_then(|p| p.checked_mul(self.lrs.len())) != Some(factors.len())
        {
            return Err(AttributionError::invalid(
                "curvature factors do not match the store's blocks and checkpoints",
            ));
        }
        self.curvature = Some((info, factors));
        Ok(())
    }

    /// Writes the norms, meta, curvature and header; `snapshot` overrides the Datanet
    /// snapshot id.
    pub fn finish(mut self, snapshot: Option<B256>) -> Result<StoreHeader> {
        let n = self.meta.len();
        if n == 0 {
            return Err(AttributionError::invalid(
                "a gradient store needs at least one row",
            ));
        }
        let layers = self.projection.layers.len();
        let row_dim = self.projection.output_dim() * self.lrs.len();
        let written = n * row_dim * self.precision.bytes();
        let rows_bytes = rows_section_bytes(n, row_dim, self.precision);
        let norms_offset = ROWS_OFFSET + rows_bytes as u64;
        let meta_offset = norms_offset + ((self.norms.len() + self.scales.len()) * 4) as u64;
        let io = |e| AttributionError::io("writing", self.path.clone(), e);
        // Narrow rows are padded so the sections behind them stay 4-byte aligned.
        let mut bytes = vec![0u8; rows_bytes - written];
        for v in self.norms.iter().chain(&self.scales) {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        self.out.write_all(&bytes).map_err(io)?;
        let mut snapshot_bytes = Vec::with_capacity(n * 52);
        for m in &self.meta {
            self.out.write_all(&m.encode()).map_err(io)?;
            snapshot_bytes.extend_from_slice(m.datapoint.as_slice());
            snapshot_bytes.extend_from_slice(m.contributor.as_slice());
        }
        let curvature = match self.curvature.take() {
            None => None,
            Some((mut info, factors)) => {
                info.offset = meta_offset + (n * META_BYTES) as u64;
                let mut bytes = Vec::with_capacity(factors.len() * 8);
                for v in &factors {
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
                self.out.write_all(&bytes).map_err(io)?;
                Some(info)
            }
        };
        let checkpoints = self
            .lrs
            .iter()
            .enumerate()
            .map(|(c, &lr)| CheckpointInfo {
                lr,
                lambda: (0..layers)
                    .map(|l| 0.1 * self.sq_sums[c * layers + l] / n as f64)
                    .collect(),
            })
            .collect();
        let header = StoreHeader {
            version: 1,
            method: self.method.clone(),
            model_hash: self.model_hash,
            datanet_snapshot: snapshot.unwrap_or_else(|| keccak256(&snapshot_bytes)),
            datanets: self.datanets.clone(),
            projection: self.projection.clone(),
            checkpoints,
            rows: n as u64,
            norms_offset,
            meta_offset,
            curvature,
            precision: self.precision,
        };
        let json = serde_json::to_vec(&header)?;
        self.out.write_all(&json).map_err(io)?;
        self.out
            .write_all(&(json.len() as u64).to_le_bytes())
            .map_err(io)?;
        self.out.write_all(MAGIC).map_err(io)?;
        let file = self.out.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        Ok(header)
    }
}
