//! How a store keeps its projected gradients: `f32`, `f16`, or `int8` with one scale per (row,
//! checkpoint, layer).
//!
//! A scan is bound by memory bandwidth, so halving or quartering the bytes of a row speeds it up
//! and lets a larger Datanet fit the page cache; what it costs in fidelity is measured by the
//! evaluation (LDS on the same data at each precision). Rows are quantised once, when written,
//! with round-to-nearest; the stored norms are those of the values as stored, so every estimator
//! reads one consistent set of gradients.

use crate::{AttributionError, scan};
use half::{f16, slice::HalfFloatSliceExt};
use serde::{Deserialize, Serialize};

/// The number type of a store's rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 4 bytes per coordinate, exact.
    #[default]
    F32,
    /// IEEE half precision, 2 bytes per coordinate (11 significant bits).
    F16,
    /// Signed bytes scaled by `max |g| / 127` of each (row, checkpoint, layer) block, 1 byte per
    /// coordinate plus one `f32` scale per block.
    Int8,
}

impl Precision {
    /// Every precision, widest first.
    pub const ALL: [Self; 3] = [Self::F32, Self::F16, Self::Int8];

    /// Bytes per stored coordinate.
    pub const fn bytes(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 => 2,
            Self::Int8 => 1,
        }
    }

    /// Whether this is the default `f32` (left out of headers, so older stores read unchanged).
    pub const fn is_f32(&self) -> bool {
        matches!(self, Self::F32)
    }

    /// Whether rows carry a scale per (checkpoint, layer) block.
    pub const fn has_scales(self) -> bool {
        matches!(self, Self::Int8)
    }

    /// The name used on the command line and in headers.
    pub const fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Int8 => "int8",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = AttributionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                AttributionError::invalid(format!(
                    "unknown store precision {s:?} (f32, f16 or int8)"
                ))
            })
    }
}

/// Appends the stored form of one layer block `values` to `out`; returns its scale (1 unless
/// [`Precision::Int8`]) and the squared norm of the values as stored.
pub(super) fn encode(precision: Precision, values: &[f32], out: &mut Vec<u8>) -> (f32, f32) {
    match precision {
        Precision::F32 => {
            for v in values {
                out.extend_from_slice(&v.to_le_bytes());
            }
            (1.0, scan::sum_sq(values))
        }
        Precision::F16 => {
            let stored: Vec<f32> = values
                .iter()
                .map(|v| {
                    let h = f16::from_f32(*v);
                    out.extend_from_slice(&h.to_bits().to_le_bytes());
                    h.to_f32()
                })
                .collect();
            (1.0, scan::sum_sq(&stored))
        }
        Precision::Int8 => {
            // A non-finite coordinate has no faithful byte: it is stored as zero, and the scale
            // comes from the finite ones, so it does not poison its block.
            let max = values
                .iter()
                .filter(|v| v.is_finite())
                .fold(0.0f32, |m, v| m.max(v.abs()));
            let scale = if max > 0.0 { max / 127.0 } else { 0.0 };
            let stored: Vec<f32> = values
                .iter()
                .map(|v| {
                    let q = if scale > 0.0 && v.is_finite() {
                        (v / scale).round().clamp(-127.0, 127.0) as i8
                    } else {
                        0
                    };
                    out.push(q as u8);
                    f32::from(q) * scale
                })
                .collect();
            (scale, scan::sum_sq(&stored))
        }
    }
}

/// Decodes one layer block from its stored bytes into `out` (`out.len()` coordinates).
pub(super) fn decode(precision: Precision, bytes: &[u8], scale: f32, out: &mut [f32]) {
    match precision {
        Precision::F32 => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f32::from_le_bytes(b.try_into().expect("4 bytes"));
            }
        }
        Precision::F16 => {
            // SAFETY: every bit pattern is a valid u16; `align_to` only yields the aligned
            // middle, and a prefix or suffix (never for the store's even offsets) falls back.
            let (prefix, halves, suffix) = unsafe { bytes.align_to::<f16>() };
            if prefix.is_empty() && suffix.is_empty() && halves.len() == out.len() {
                halves.convert_to_f32_slice(out);
            } else {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32();
                }
            }
        }
        Precision::Int8 => {
            for (o, b) in out.iter_mut().zip(bytes) {
                *o = f32::from(*b as i8) * scale;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_within_the_precision() {
        let values: Vec<f32> = (0..100).map(|i| (i as f32 - 50.0) * 0.37).collect();
        for p in Precision::ALL {
            let mut bytes = Vec::new();
            let (scale, sq) = encode(p, &values, &mut bytes);
            assert_eq!(bytes.len(), values.len() * p.bytes());
            let mut back = vec![0.0f32; values.len()];
            decode(p, &bytes, scale, &mut back);
            let tol = match p {
                Precision::F32 => 0.0,
                Precision::F16 => 18.5 / 1024.0,
                Precision::Int8 => 18.5 / 127.0 / 2.0 + 1e-6,
            };
            for (a, b) in values.iter().zip(&back) {
                assert!((a - b).abs() <= tol, "{p}: {a} vs {b}");
            }
            assert_eq!(
                sq,
                scan::sum_sq(&back),
                "{p}: the norm is of the stored values"
            );
            assert_eq!(p.name().parse::<Precision>().unwrap(), p);
        }
        assert!("f8".parse::<Precision>().is_err());
        let mut bytes = Vec::new();
        let (scale, _) = encode(Precision::Int8, &[f32::NAN, 1.0, f32::INFINITY], &mut bytes);
        assert_eq!(
            (scale, bytes),
            (1.0 / 127.0, vec![0, 127, 0]),
            "non-finite values are zero"
        );
    }
}
