//! The model's tail: what the last block's down projection read and added to, captured while a
//! sequence is served, and the logits recomputed from it.
//!
//! The gradient of a sequence's loss with respect to the LoRA factors of the last block's
//! down projection needs only the end of the forward pass: the residual stream before that
//! block's MLP output is added, the down projection's input, the final norm and the LM head.
//! Captured while the request is generated, they let attribution differentiate the served
//! model without running its forward pass again, and a few small ops replace a backward pass
//! through every block. The recomputed logits are those of the forward pass, bit for bit: the
//! same fixed-order kernels on the same rows.

use super::{LlamaModel, Target};
use crate::{
    InferenceError, Result,
    adapter::LoraAdapter,
    kernels::{LoraKernel, RowSet, matmul, rms_norm},
};
use candle_core::Tensor;

/// The tail of one sequence's forward passes, one row per position fed, in position order.
#[derive(Debug, Clone, Default)]
pub struct TailActivations {
    /// The residual stream before the last block's MLP output is added, `[hidden]` per row.
    residual: Vec<Tensor>,
    /// The last block's down-projection input (the gated MLP activation), `[intermediate]`.
    down_input: Vec<Tensor>,
    rows: usize,
}

impl TailActivations {
    /// Number of positions captured.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends the rows of one forward step.
    pub(crate) fn push(&mut self, residual: Tensor, down_input: Tensor) -> Result<()> {
        self.rows += residual.dim(0)?;
        self.residual.push(residual.detach());
        self.down_input.push(down_input.detach());
        Ok(())
    }

    /// The residual and the down-projection input of positions `start..start + len`, as
    /// matrices.
    fn rows(&self, start: usize, len: usize) -> Result<(Tensor, Tensor)> {
        if len == 0 || start + len > self.rows {
            return Err(InferenceError::InvalidRequest(format!(
                "positions {start}..{} asked of a tail holding {}",
                start + len,
                self.rows
            )));
        }
        let residual = Tensor::cat(&self.residual, 0)?.narrow(0, start, len)?;
        let down_input = Tensor::cat(&self.down_input, 0)?.narrow(0, start, len)?;
        Ok((residual, down_input))
    }
}

/// Equal when both hold the same rows with the same values (the bits of a served sequence's
/// tail do not depend on its batch).
impl PartialEq for TailActivations {
    fn eq(&self, other: &Self) -> bool {
        let values = |parts: &[Tensor]| -> Option<Vec<f32>> {
            let mut out = Vec::new();
            for p in parts {
                out.extend(p.flatten_all().ok()?.to_vec1::<f32>().ok()?);
            }
            Some(out)
        };
        self.rows == other.rows
            && values(&self.residual).is_some_and(|a| Some(a) == values(&other.residual))
            && values(&self.down_input).is_some_and(|a| Some(a) == values(&other.down_input))
    }
}

impl LlamaModel {
    /// The logits `[len, vocab]` of positions `start..start + len` of `tail`, with `adapter` (when
    /// given) on the last block's down projection. With the adapter the sequence was served
    /// with, they equal the served logits bit for bit; with an adapter whose factors are
    /// tracked variables, they are differentiable in those factors.
    pub fn tail_logits(
        &self,
        tail: &TailActivations,
        start: usize,
        len: usize,
        adapter: Option<&LoraAdapter>,
        lora: &dyn LoraKernel,
    ) -> Result<Tensor> {
        let c = &self.config;
        let (residual, down_input) = tail.rows(start, len)?;
        let layer = c.num_hidden_layers - 1;
        let block = &self.blocks()[layer];
        let groups: Vec<(&LoraAdapter, RowSet)> = adapter
            .map(|a| (a, RowSet::Range { start: 0, len }))
            .into_iter()
            .collect();
        let down = self.project(
            &down_input,
            &block.proj[Target::Down.index()],
            layer,
            Target::Down,
            &groups,
            lora,
        )?;
        let x = rms_norm(&(residual + down)?, &self.norm, c.rms_norm_eps)?;
        Ok(matmul(&x, &self.lm_head_t)?)
    }
}
