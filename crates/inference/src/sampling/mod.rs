//! Choosing the next token from logits: greedy, or temperature with top-k and top-p, driven by
//! a per-request seeded [`Rng`].
//!
//! Every step is a fixed computation on the logits' bits: candidates are ordered by
//! (logit descending, token id ascending), probabilities are computed in F64 in that order, and
//! exactly one random number is drawn per sampled step. So a request's tokens depend only on
//! its logits and its seed, never on other requests.

mod rng;

pub use rng::Rng;

use crate::{InferenceError, Result};

/// How one request samples and when it stops.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// `0` for greedy decoding; otherwise logits are divided by it before the softmax.
    pub temperature: f32,
    /// Keep only the `k` most likely tokens (`0`: no limit).
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose probability reaches `top_p` (`1`: all).
    pub top_p: f32,
    /// Seed of the request's generator.
    pub seed: u64,
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// Tokens that end the generation (the model's end-of-sequence tokens are added by the
    /// engine unless `ignore_eos`).
    pub stop_token_ids: Vec<u32>,
    /// Do not stop on the model's end-of-sequence tokens.
    pub ignore_eos: bool,
    /// Return the logits of every step (for verification and tests).
    pub return_logits: bool,
    /// Return the [`TailActivations`](crate::model::TailActivations) of every position fed,
    /// which attribution differentiates instead of running the forward pass again.
    pub return_tail: bool,
    /// Return the sampled token's log-probability and this many most likely alternatives per
    /// step (`None`: no log-probabilities).
    pub logprobs: Option<usize>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
            max_tokens: 16,
            stop_token_ids: Vec::new(),
            ignore_eos: false,
            return_logits: false,
            return_tail: false,
            logprobs: None,
        }
    }
}

impl SamplingParams {
    /// Checks the ranges (a finite non-negative temperature, `top_p` in `(0, 1]`, at least one
    /// token).
    pub fn validate(&self) -> Result<()> {
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return Err(InferenceError::InvalidRequest(format!(
                "temperature {} must be a finite number >= 0",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(InferenceError::InvalidRequest(format!(
                "top_p {} must be in (0, 1]",
                self.top_p
            )));
        }
        if self.max_tokens == 0 {
            return Err(InferenceError::InvalidRequest(
                "max_tokens must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// The sampling state of one request.
#[derive(Debug, Clone)]
pub struct Sampler {
    params: SamplingParams,
    rng: Rng,
}

impl Sampler {
    /// A sampler for `params` (assumed validated).
    pub fn new(params: SamplingParams) -> Self {
        let rng = Rng::new(params.seed);
        Self { params, rng }
    }

    /// The next token for `logits` (one row of the vocabulary).
    pub fn sample(&mut self, logits: &[f32]) -> Result<u32> {
        if logits.is_empty() {
            return Err(InferenceError::InvalidRequest("empty logits".into()));
        }
        if self.params.temperature == 0.0 {
            return Ok(argmax(logits));
        }
        let mut order: Vec<u32> = (0..logits.len() as u32).collect();
        let key = |i: &u32| {
            logits
                .get(*i as usize)
                .copied()
                .unwrap_or(f32::NEG_INFINITY)
        };
        // NaN sorts last; equal logits keep ascending ids (the sort is stable).
        order.sort_by(|a, b| {
            let (x, y) = (key(a), key(b));
            y.partial_cmp(&x)
                .unwrap_or_else(|| x.is_nan().cmp(&y.is_nan()))
        });
        if self.params.top_k > 0 {
            order.truncate(self.params.top_k);
        }
        let max = key(&order[0]) as f64;
        let t = self.params.temperature as f64;
        let weights: Vec<f64> = order
            .iter()
            .map(|i| {
                let w = ((key(i) as f64 - max) / t).exp();
                if w.is_nan() { 0.0 } else { w }
            })
            .collect();
        let total: f64 = weights.iter().sum();
        if total.is_nan() || total <= 0.0 {
            return Ok(order[0]);
        }
        let mut kept = weights.len();
        if self.params.top_p < 1.0 {
            let target = self.params.top_p as f64 * total;
            let mut acc = 0.0;
            for (n, w) in weights.iter().enumerate() {
                acc += w;
                if acc >= target {
                    kept = n + 1;
                    break;
                }
            }
        }
        let kept_total: f64 = weights[..kept].iter().sum();
        let u = self.rng.next_f64() * kept_total;
        let mut acc = 0.0;
        for (i, w) in order.iter().zip(&weights[..kept]) {
            acc += w;
            if u < acc {
                return Ok(*i);
            }
        }
        Ok(order[kept - 1])
    }
}

/// A sampled token's log-probability under the model (before temperature, as vLLM reports
/// it) and the most likely tokens with theirs.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLogprobs {
    /// `ln p(token)`.
    pub logprob: f32,
    /// The most likely tokens, most likely first (ties by ascending id), with `ln p`.
    pub top: Vec<(u32, f32)>,
}

/// Log-probabilities of `token` and of the `top_n` most likely tokens under `softmax(logits)`,
/// computed in F64 in index order so they are a fixed function of the logits' bits.
pub fn logprobs(logits: &[f32], token: u32, top_n: usize) -> TokenLogprobs {
    let max = logits
        .iter()
        .copied()
        .filter(|v| !v.is_nan())
        .fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits
        .iter()
        .filter(|v| !v.is_nan())
        .fold(0.0, |acc, &v| acc + (v as f64 - max).exp());
    let lse = max + sum.ln();
    let lp = |i: u32| -> f32 {
        match logits.get(i as usize) {
            Some(v) if !v.is_nan() => (*v as f64 - lse) as f32,
            _ => f32::NEG_INFINITY,
        }
    };
    let top = if top_n > 0 {
        let mut order: Vec<u32> = (0..logits.len() as u32).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (lp(a), lp(b));
            y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal)
        });
        order.into_iter().take(top_n).map(|i| (i, lp(i))).collect()
    } else {
        Vec::new()
    };
    TokenLogprobs {
        logprob: lp(token),
        top,
    }
}

/// The index of the largest logit (the lowest index among equals; NaN never wins).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    let mut best_v = f32::NEG_INFINITY;
    for (i, &v) in logits.iter().enumerate() {
        if v > best_v {
            best = i;
            best_v = v;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(temperature: f32, top_k: usize, top_p: f32, seed: u64) -> SamplingParams {
        SamplingParams {
            temperature,
            top_k,
            top_p,
            seed,
            ..SamplingParams::default()
        }
    }

    #[test]
    fn greedy_takes_the_first_maximum() {
        let mut s = Sampler::new(params(0.0, 0, 1.0, 0));
        assert_eq!(s.sample(&[0.5, 2.0, f32::NAN, 2.0]).unwrap(), 1);
    }

    #[test]
    fn top_k_one_and_tiny_top_p_are_greedy() {
        let logits = [0.1, 3.0, 2.9, -1.0];
        for p in [params(1.0, 1, 1.0, 9), params(1.0, 0, 1e-6, 9)] {
            let mut s = Sampler::new(p);
            for _ in 0..20 {
                assert_eq!(s.sample(&logits).unwrap(), 1);
            }
        }
    }

    #[test]
    fn seeded_sampling_repeats_and_follows_the_distribution() {
        let logits = [0.0f32, 1.0, 2.0];
        let draw = |seed| {
            let mut s = Sampler::new(params(1.0, 0, 1.0, seed));
            (0..3000)
                .map(|_| s.sample(&logits).unwrap())
                .collect::<Vec<_>>()
        };
        let a = draw(42);
        assert_eq!(a, draw(42));
        assert_ne!(a, draw(43));
        let share = a.iter().filter(|&&t| t == 2).count() as f64 / a.len() as f64;
        let want = 2f64.exp() / (1.0 + 1f64.exp() + 2f64.exp());
        assert!((share - want).abs() < 0.04, "share {share}, want {want}");
        // top_k = 2 never picks the least likely token.
        let mut s = Sampler::new(params(1.0, 2, 1.0, 1));
        assert!((0..500).all(|_| s.sample(&logits).unwrap() != 0));
    }

    #[test]
    fn logprobs_are_a_normalised_log_softmax() {
        let logits = [1.0f32, 3.0, 2.0, 3.0];
        let lp = logprobs(&logits, 2, 3);
        let total: f64 = logits.iter().map(|&v| (v as f64).exp()).sum();
        assert!((lp.logprob as f64 - (2f64.exp() / total).ln()).abs() < 1e-6);
        // Ties keep ascending ids.
        assert_eq!(
            lp.top.iter().map(|t| t.0).collect::<Vec<_>>(),
            vec![1, 3, 2]
        );
        assert_eq!(logprobs(&logits, 9, 0).logprob, f32::NEG_INFINITY);
        assert!(logprobs(&logits, 0, 0).top.is_empty());
    }

    #[test]
    fn bad_params_are_refused() {
        for p in [
            params(-1.0, 0, 1.0, 0),
            params(f32::NAN, 0, 1.0, 0),
            params(1.0, 0, 0.0, 0),
            params(1.0, 0, 1.5, 0),
        ] {
            assert!(p.validate().is_err());
        }
        assert!(
            SamplingParams {
                max_tokens: 0,
                ..SamplingParams::default()
            }
            .validate()
            .is_err()
        );
    }
}
