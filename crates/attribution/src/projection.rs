//! Seeded random projections of per-layer gradients (Johnson–Lindenstrauss, as TRAK and LoGra
//! use to bound storage).
//!
//! Each parameter group ("layer") is projected on its own, so DataInf's per-layer closed form
//! still applies to the projected gradients. Entries are Rademacher signs `±1/√k` generated from
//! `(seed, layer, row)` on the fly: nothing is materialised, and the same seed gives the same
//! projection on every machine. A layer no larger than its share of the target dimension is kept
//! as is (identity).

use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// How one parameter group is projected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerProjection {
    /// The parameter group's name.
    pub name: String,
    /// Number of parameters in the group.
    pub input_dim: usize,
    /// Projected dimension (`== input_dim` means identity).
    pub output_dim: usize,
}

impl LayerProjection {
    /// Whether the layer is stored unprojected.
    pub const fn is_identity(&self) -> bool {
        self.input_dim == self.output_dim
    }
}

/// The projection of every attributed parameter group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectionSpec {
    /// The seed of the signs.
    pub seed: u64,
    /// One entry per parameter group, in gradient order.
    pub layers: Vec<LayerProjection>,
}

impl ProjectionSpec {
    /// Splits a total dimension `total_dim` among the groups in proportion to their sizes
    /// (at least one coordinate each); a group whose share is at least its size stays
    /// unprojected.
    pub fn new(seed: u64, groups: &[(String, usize)], total_dim: usize) -> Self {
        let total: usize = groups.iter().map(|(_, n)| n).sum();
        let layers = groups
            .iter()
            .map(|(name, n)| {
                let share = if total == 0 {
                    0
                } else {
                    ((total_dim as u128 * *n as u128).div_ceil(total as u128)) as usize
                };
                LayerProjection {
                    name: name.clone(),
                    input_dim: *n,
                    output_dim: share.clamp(1, *n),
                }
            })
            .collect();
        Self { seed, layers }
    }

    /// Total projected dimension (one checkpoint).
    pub fn output_dim(&self) -> usize {
        self.layers.iter().map(|l| l.output_dim).sum()
    }

    /// Projects the gradient of layer `layer` (length `input_dim`) into `out`
    /// (length `output_dim`).
    pub fn project_into(&self, layer: usize, g: &[f64], out: &mut [f32]) {
        let spec = &self.layers[layer];
        assert_eq!(g.len(), spec.input_dim, "gradient length of {}", spec.name);
        assert_eq!(
            out.len(),
            spec.output_dim,
            "projection length of {}",
            spec.name
        );
        if spec.is_identity() {
            for (o, v) in out.iter_mut().zip(g) {
                *o = *v as f32;
            }
            return;
        }
        let scale = 1.0 / (spec.output_dim as f64).sqrt();
        for (r, o) in out.iter_mut().enumerate() {
            let mut rng = Rng::from_words(&[self.seed, layer as u64, r as u64]);
            let mut acc = 0.0f64;
            for block in g.chunks(64) {
                let bits = rng.next_u64();
                for (j, v) in block.iter().enumerate() {
                    // Bit set: `+v`; clear: `−v`, by flipping the sign bit rather than
                    // branching on random bits (half of such branches mispredict). `a + (−v)`
                    // is `a − v` to the bit, so the sums are those of the branching form.
                    let flip = (!(bits >> j) & 1) << 63;
                    acc += f64::from_bits(v.to_bits() ^ flip);
                }
            }
            *o = (acc * scale) as f32;
        }
    }

    /// Projects a full gradient (one vector per layer) into one row.
    pub fn project(&self, grads: &[Vec<f64>]) -> Vec<f32> {
        let mut out = vec![0.0f32; self.output_dim()];
        let mut at = 0;
        for (l, g) in grads.iter().enumerate() {
            let k = self.layers[l].output_dim;
            self.project_into(l, g, &mut out[at..at + k]);
            at += k;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_identity() {
        let spec = ProjectionSpec::new(1, &[("w".into(), 60), ("b".into(), 3)], 1000);
        assert!(spec.layers.iter().all(LayerProjection::is_identity));
        let spec = ProjectionSpec::new(1, &[("a".into(), 3000), ("b".into(), 1000)], 400);
        assert_eq!(spec.layers[0].output_dim, 300);
        assert_eq!(spec.layers[1].output_dim, 100);
    }

    #[test]
    fn preserves_inner_products_roughly() {
        let spec = ProjectionSpec::new(9, &[("a".into(), 2000)], 1024);
        let mut rng = Rng::new(3);
        let a: Vec<f64> = (0..2000).map(|_| rng.normal()).collect();
        let b: Vec<f64> = a.iter().map(|x| x + rng.normal()).collect();
        let pa = spec.project(std::slice::from_ref(&a));
        let pb = spec.project(std::slice::from_ref(&b));
        let exact: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let approx: f64 = pa
            .iter()
            .zip(&pb)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum();
        assert!((approx / exact - 1.0).abs() < 0.1, "{approx} vs {exact}");
        // Seeded: the same input projects to the same bits.
        assert_eq!(pa, spec.project(&[a]));
    }
}
