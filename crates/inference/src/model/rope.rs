//! Rotary position embeddings as Hugging Face Llama computes them ("rotate half" layout),
//! including Llama 3's frequency-dependent scaling.
//!
//! The tables are built per forward step for the positions in it, not for the whole context:
//! `max_position_embeddings` comes from a file and must not decide an allocation.

use crate::config::ModelConfig;
use candle_core::{D, Device, Tensor};

/// Inverse frequencies of one head's rotary pairs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rope {
    inv_freq: Vec<f32>,
}

impl Rope {
    /// The frequencies of `config` (Llama 3 scaling applied when configured).
    pub(crate) fn new(c: &ModelConfig) -> Self {
        let dim = c.head_dim as f64;
        let inv_freq = (0..c.head_dim / 2)
            .map(|i| {
                let freq = 1.0 / c.rope_theta.powf(2.0 * i as f64 / dim);
                let freq = match &c.rope_scaling {
                    None => freq,
                    Some(s) => {
                        let old = s.original_max_position_embeddings as f64;
                        let low_wavelen = old / s.low_freq_factor;
                        let high_wavelen = old / s.high_freq_factor;
                        let wavelen = 2.0 * std::f64::consts::PI / freq;
                        if wavelen < high_wavelen {
                            freq
                        } else if wavelen > low_wavelen {
                            freq / s.factor
                        } else {
                            let smooth = (old / wavelen - s.low_freq_factor)
                                / (s.high_freq_factor - s.low_freq_factor);
                            (1.0 - smooth) * freq / s.factor + smooth * freq
                        }
                    }
                };
                // transformers keeps the frequencies and the angles in F32; so do we.
                freq as f32
            })
            .collect();
        Self { inv_freq }
    }

    /// `(cos, sin)` tables `[positions.len(), head_dim / 2]`.
    pub(crate) fn tables(
        &self,
        positions: &[usize],
        device: &Device,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let half = self.inv_freq.len();
        let mut cos = Vec::with_capacity(positions.len() * half);
        let mut sin = Vec::with_capacity(positions.len() * half);
        for &p in positions {
            for &f in &self.inv_freq {
                let angle = (p as f32 * f) as f64;
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        Ok((
            Tensor::from_vec(cos, (positions.len(), half), device)?,
            Tensor::from_vec(sin, (positions.len(), half), device)?,
        ))
    }
}

/// Rotates `x` of shape `[t, heads, head_dim]` by the tables of its `t` positions:
/// `(x1, x2) -> (x1·cos - x2·sin, x2·cos + x1·sin)` on the two halves of each head.
/// Element-wise ops only, so differentiable and exact per element.
pub(crate) fn apply(x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
    let (t, _heads, hd) = x.dims3()?;
    let half = hd / 2;
    let cos = cos.reshape((t, 1, half))?;
    let sin = sin.reshape((t, 1, half))?;
    let x1 = x.narrow(D::Minus1, 0, half)?;
    let x2 = x.narrow(D::Minus1, half, half)?;
    let r1 = (x1.broadcast_mul(&cos)? - x2.broadcast_mul(&sin)?)?;
    let r2 = (x2.broadcast_mul(&cos)? + x1.broadcast_mul(&sin)?)?;
    Tensor::cat(&[r1, r2], D::Minus1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Llama3RopeScaling;

    #[test]
    fn llama3_scaling_keeps_high_and_divides_low_frequencies() {
        let mut c = crate::model::tests::tiny_config();
        c.head_dim = 64;
        c.rope_theta = 500_000.0;
        let plain = Rope::new(&c);
        c.rope_scaling = Some(Llama3RopeScaling {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 8192,
        });
        let scaled = Rope::new(&c);
        assert_eq!(plain.inv_freq[0], scaled.inv_freq[0]);
        let last = plain.inv_freq.len() - 1;
        assert!((plain.inv_freq[last] / 8.0 - scaled.inv_freq[last]).abs() < 1e-12);
    }
}
