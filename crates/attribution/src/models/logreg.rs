//! Multinomial logistic regression: `logits = x·Wᵀ + b`, cross-entropy loss.

use super::{DiffModel, Param, TabularBatch, ops};
use crate::Result;
use candle_core::{DType, Device, Tensor, Var};

/// Multinomial logistic regression over `features` inputs and `classes` classes.
#[derive(Debug, Clone)]
pub struct LogisticRegression {
    params: Vec<Param>,
    features: usize,
    classes: usize,
}

impl LogisticRegression {
    /// A model with all parameters zero (the convex objective has one optimum; starting at zero
    /// makes training deterministic without a seed).
    pub fn zeros(features: usize, classes: usize, dtype: DType, device: &Device) -> Result<Self> {
        let w = Var::zeros((classes, features), dtype, device)?;
        let b = Var::zeros(classes, dtype, device)?;
        Ok(Self {
            params: vec![Param::new("weight", w), Param::new("bias", b)],
            features,
            classes,
        })
    }

    /// Number of input features.
    pub const fn features(&self) -> usize {
        self.features
    }

    /// Number of classes.
    pub const fn classes(&self) -> usize {
        self.classes
    }

    /// Logits `[n, classes]` for features `[n, d]`.
    pub fn logits(&self, x: &Tensor) -> Result<Tensor> {
        let w = self.params[0].var.as_tensor();
        let b = self.params[1].var.as_tensor();
        Ok(ops::linear(x, w)?.broadcast_add(b)?)
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
            features: self.features,
            classes: self.classes,
        })
    }
}

impl DiffModel for LogisticRegression {
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
