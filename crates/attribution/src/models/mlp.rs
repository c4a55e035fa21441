//! A multi-layer perceptron with tanh hidden layers and a softmax output.

use super::{DiffModel, Param, TabularBatch, ops, randn};
use crate::{Result, rng::Rng};
use candle_core::{DType, Device, Tensor, Var};

/// An MLP `d → h₁ → … → classes` with tanh activations.
#[derive(Debug, Clone)]
pub struct Mlp {
    params: Vec<Param>,
    sizes: Vec<usize>,
}

impl Mlp {
    /// A model with layer sizes `sizes` (input first, classes last), weights drawn from
    /// N(0, 1/fan_in) with `seed`, biases zero.
    pub fn new(sizes: &[usize], seed: u64, dtype: DType, device: &Device) -> Result<Self> {
        if sizes.len() < 2 {
            return Err(crate::AttributionError::invalid(
                "an MLP needs at least two layer sizes",
            ));
        }
        let mut rng = Rng::from_words(&[seed, 0x4d4c50]);
        let mut params = Vec::new();
        for (i, pair) in sizes.windows(2).enumerate() {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let w = randn(
                &mut rng,
                &[fan_out, fan_in],
                (1.0 / fan_in as f64).sqrt(),
                dtype,
                device,
            )?;
            params.push(Param::new(
                format!("layers.{i}.weight"),
                Var::from_tensor(&w)?,
            ));
            params.push(Param::new(
                format!("layers.{i}.bias"),
                Var::zeros(fan_out, dtype, device)?,
            ));
        }
        Ok(Self {
            params,
            sizes: sizes.to_vec(),
        })
    }

    /// The layer sizes, input first.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Logits `[n, classes]` for features `[n, d]`.
    pub fn logits(&self, x: &Tensor) -> Result<Tensor> {
        let layers = self.params.len() / 2;
        let mut h = x.clone();
        for l in 0..layers {
            let w = self.params[2 * l].var.as_tensor();
            let b = self.params[2 * l + 1].var.as_tensor();
            h = ops::linear(&h, w)?.broadcast_add(b)?;
            if l + 1 < layers {
                h = h.tanh()?;
            }
        }
        Ok(h)
    }

    /// A copy whose parameters are independent variables.
    pub fn deep_clone(&self) -> Result<Self> {
        let params = self
            .params
            .iter()
            .map(Param::deep_clone)
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            params,
            sizes: self.sizes.clone(),
        })
    }
}

impl DiffModel for Mlp {
    type Batch = TabularBatch;

    fn params(&self) -> &[Param] {
        &self.params
    }

    fn loss(&self, batch: &TabularBatch) -> Result<Tensor> {
        Ok(ops::cross_entropy(&self.logits(&batch.x)?, &batch.y)?)
    }

    fn fisher_batches(
        &self,
        batch: &TabularBatch,
    ) -> Result<Option<super::FisherBatches<TabularBatch>>> {
        Ok(Some(super::softmax_fisher_batches(
            &self.logits(&batch.x)?,
            batch,
        )?))
    }
}
