//! From per-datapoint scores to contributor weights and an evidence root.
//!
//! 1. **Quantise.** Only positive influence counts (OpenLedger's rule: `I > 0` earns). Each
//!    positive score becomes an integer `qᵢ = round(sᵢ / s_max · 10¹⁸)`, relative to the largest
//!    positive score of the attribution; non-positive scores become 0 and are dropped. From here
//!    on everything is integer arithmetic, so sums do not depend on order.
//! 2. **Aggregate.** `q` summed per contributor and per Datanet (u128).
//! 3. **Normalise.** Parts per million summing to exactly 1,000,000 by the largest-remainder
//!    method: each gets `⌊aᵢ · 10⁶ / S⌋`, and the units left over go to the largest remainders
//!    `aᵢ · 10⁶ mod S`, ties to the smaller key (address or Datanet id, as bytes).
//! 4. **Evidence.** A [`crate::merkle::EvidenceTree`] over `(datapoint, contributor, qᵢ)` for
//!    every datapoint with `qᵢ > 0`; its root goes on chain with the weights.

use crate::{
    AttributionError, Result,
    merkle::{EvidenceLeaf, EvidenceTree},
};
use alloy_primitives::{Address, B256, U256};
use serde::Serialize;
use std::collections::BTreeMap;

/// Parts per million: the sum of every weight vector.
pub const PPM: u64 = 1_000_000;

/// The scale of quantised scores (the largest positive score of an attribution maps to it).
pub const SCORE_SCALE: f64 = 1e18;

/// One datapoint's score in an attribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DatapointScore {
    /// The datapoint id.
    pub datapoint: B256,
    /// Its contributor.
    pub contributor: Address,
    /// Its Datanet.
    pub datanet: B256,
    /// The raw score (positive = helped the output).
    pub score: f64,
}

/// The outcome of an attribution: who gets what, and the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContributorWeights {
    /// Contributors with a positive weight, by address, weights in ppm summing to 1,000,000
    /// (empty when no datapoint had positive influence).
    pub contributors: Vec<(Address, u64)>,
    /// Datanets with a positive weight, by id, weights in ppm summing to 1,000,000.
    pub datanets: Vec<(B256, u64)>,
    /// The evidence root over the positive datapoints.
    pub evidence_root: B256,
    /// The evidence leaves, ordered by (contributor, datapoint).
    pub evidence: Vec<(B256, Address, u128)>,
}

impl ContributorWeights {
    /// The evidence tree (to produce proofs).
    pub fn evidence_tree(&self) -> EvidenceTree {
        EvidenceTree::new(
            self.evidence
                .iter()
                .map(|&(datapoint, contributor, score)| EvidenceLeaf {
                    datapoint,
                    contributor,
                    score: U256::from(score),
                })
                .collect(),
        )
    }

    /// The contributor with the largest weight, if any (ties: smaller address).
    pub fn top(&self) -> Option<Address> {
        self.ranked().first().map(|(a, _)| *a)
    }

    /// Contributors by decreasing weight, ties by address.
    pub fn ranked(&self) -> Vec<(Address, u64)> {
        let mut v = self.contributors.clone();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

/// Quantises scores: `round(s / s_max · 10¹⁸)` for positive `s`, 0 otherwise. NaN is refused.
pub fn quantize(scores: &[f64]) -> Result<Vec<u128>> {
    if scores.iter().any(|s| s.is_nan()) {
        return Err(AttributionError::invalid("a score is NaN"));
    }
    let max = scores
        .iter()
        .copied()
        .filter(|s| *s > 0.0)
        .fold(0.0f64, f64::max);
    if max == 0.0 || !max.is_finite() {
        // No positive score, or an infinite one: in the latter case the infinite scores share.
        return Ok(scores
            .iter()
            .map(|s| u128::from(max.is_infinite() && *s == f64::INFINITY))
            .collect());
    }
    Ok(scores
        .iter()
        .map(|&s| {
            if s > 0.0 {
                (s / max * SCORE_SCALE).round() as u128
            } else {
                0
            }
        })
        .collect())
}

/// Largest-remainder apportionment of `total` units among `amounts` (keys must be distinct):
/// zero amounts get nothing, the result is ordered by key and sums to `total` exactly (unless
/// every amount is zero, which gives an empty result).
pub fn largest_remainder<K: Ord + Copy>(amounts: &[(K, u128)], total: u64) -> Vec<(K, u64)> {
    let positive: Vec<(K, u128)> = amounts.iter().copied().filter(|(_, a)| *a > 0).collect();
    let sum: u128 = positive.iter().map(|(_, a)| a).sum();
    if sum == 0 {
        return Vec::new();
    }
    let total128 = u128::from(total);
    let mut out: Vec<(K, u64, u128)> = positive
        .iter()
        .map(|&(k, a)| {
            // a · total may exceed u128 only for sums beyond 3·10³² (never for quantised scores);
            // split to stay exact anyway.
            let (q, r) = mul_div_rem(a, total128, sum);
            (k, q as u64, r)
        })
        .collect();
    let assigned: u64 = out.iter().map(|(_, q, _)| q).sum();
    let mut left = total - assigned;
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by(|&i, &j| out[j].2.cmp(&out[i].2).then(out[i].0.cmp(&out[j].0)));
    for &i in &order {
        if left == 0 {
            break;
        }
        out[i].1 += 1;
        left -= 1;
    }
    let mut result: Vec<(K, u64)> = out
        .into_iter()
        .map(|(k, q, _)| (k, q))
        .filter(|(_, q)| *q > 0)
        .collect();
    result.sort_by_key(|a| a.0);
    result
}

/// `(a · b / c, a · b mod c)` without overflow for `b ≤ 2⁶⁴`.
fn mul_div_rem(a: u128, b: u128, c: u128) -> (u128, u128) {
    if let Some(p) = a.checked_mul(b) {
        return (p / c, p % c);
    }
    let wide = U256::from(a) * U256::from(b);
    let c = U256::from(c);
    ((wide / c).to::<u128>(), (wide % c).to::<u128>())
}

/// Turns per-datapoint scores into contributor and Datanet weights with an evidence root (see
/// the module documentation). A datapoint listed twice has its scores added.
pub fn contributor_weights(scores: &[DatapointScore]) -> Result<ContributorWeights> {
    let raw: Vec<f64> = scores.iter().map(|s| s.score).collect();
    let q = quantize(&raw)?;
    let mut per_datapoint: BTreeMap<(Address, B256), u128> = BTreeMap::new();
    let mut per_contributor: BTreeMap<Address, u128> = BTreeMap::new();
    let mut per_datanet: BTreeMap<B256, u128> = BTreeMap::new();
    for (s, &qi) in scores.iter().zip(&q) {
        if qi == 0 {
            continue;
        }
        *per_datapoint
            .entry((s.contributor, s.datapoint))
            .or_default() += qi;
        *per_contributor.entry(s.contributor).or_default() += qi;
        *per_datanet.entry(s.datanet).or_default() += qi;
    }
    let contributors = largest_remainder(&per_contributor.into_iter().collect::<Vec<_>>(), PPM);
    let datanets = largest_remainder(&per_datanet.into_iter().collect::<Vec<_>>(), PPM);
    let evidence: Vec<(B256, Address, u128)> = per_datapoint
        .into_iter()
        .map(|((c, d), q)| (d, c, q))
        .collect();
    let mut weights = ContributorWeights {
        contributors,
        datanets,
        evidence_root: B256::ZERO,
        evidence,
    };
    weights.evidence_root = weights.evidence_tree().root();
    Ok(weights)
}

/// The z-score a gradient score must exceed so that, for `n` datapoints, a query unrelated to
/// all of them pays anyone with probability at most `alpha`: `Φ⁻¹(1 − α/n)` (one-sided tests,
/// Gaussian noise, Bonferroni over the datapoints). `n = 1000, α = 0.05` gives 4.06.
pub fn noise_z(n: usize, alpha: f64) -> f64 {
    let tail = (alpha / n.max(1) as f64).clamp(1e-300, 0.5);
    // Bisection on the upper tail `Φ̄(z) = erfc(z / √2) / 2`, decreasing in z.
    let (mut lo, mut hi) = (0.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if 0.5 * erfc(mid / std::f64::consts::SQRT_2) > tail {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// `erfc(x)` for `x ≥ 0` (Numerical Recipes' Chebyshev fit, relative error below 1.2·10⁻⁷,
/// enough for a threshold).
fn erfc(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.5 * x);
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    t * poly.exp()
}

/// Abstention for the gradient methods: a score no larger than `z` times its noise band
/// (`noise[i]`, e.g. [`crate::influence::tracin_noise`]) is indistinct from the estimator's noise
/// and is set to 0, so [`contributor_weights`] drops it; a query whose scores are all within the
/// band attributes nothing (an empty record). Returns how many scores stay positive. Refuses a
/// noise list of another length, or a negative or NaN noise or `z`.
pub fn abstain_within_noise(scores: &mut [DatapointScore], noise: &[f64], z: f64) -> Result<usize> {
    if noise.len() != scores.len() {
        return Err(AttributionError::invalid(format!(
            "{} noise values for {} scores",
            noise.len(),
            scores.len()
        )));
    }
    if z.is_nan() || z < 0.0 || noise.iter().any(|n| n.is_nan() || *n < 0.0) {
        return Err(AttributionError::invalid(
            "noise and z must be non-negative numbers",
        ));
    }
    let mut kept = 0;
    for (s, &n) in scores.iter_mut().zip(noise) {
        if s.score <= z * n {
            s.score = 0.0;
        } else {
            kept += 1;
        }
    }
    Ok(kept)
}

/// Splits `amount` by ppm weights exactly (largest remainder over the weights), as the PoA
/// contract's `LargestRemainder.split` does on chain: its ties go to the lower index, ours to the
/// smaller address, which is the same thing for weights in the order
/// [`ContributorWeights::contributors`] lists them (by address).
pub fn split_amount(weights: &[(Address, u64)], amount: u64) -> Vec<(Address, u64)> {
    let amounts: Vec<(Address, u128)> = weights.iter().map(|&(a, w)| (a, u128::from(w))).collect();
    largest_remainder(&amounts, amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dp(i: u8, c: u8, score: f64) -> DatapointScore {
        DatapointScore {
            datapoint: B256::repeat_byte(i),
            contributor: Address::repeat_byte(c),
            datanet: B256::repeat_byte(c % 2),
            score,
        }
    }

    #[test]
    fn only_positive_influence_counts_and_ppm_sum_exactly() {
        let scores = [
            dp(1, 1, 1.0),
            dp(2, 1, 1.0),
            dp(3, 2, 1.0),
            dp(4, 3, -5.0),
            dp(5, 4, 0.0),
        ];
        let w = contributor_weights(&scores).unwrap();
        assert_eq!(
            w.contributors,
            vec![
                (Address::repeat_byte(1), 666_667),
                (Address::repeat_byte(2), 333_333)
            ]
        );
        assert_eq!(w.contributors.iter().map(|c| c.1).sum::<u64>(), PPM);
        assert_eq!(w.datanets.iter().map(|c| c.1).sum::<u64>(), PPM);
        assert_eq!(w.evidence.len(), 3);
        assert_eq!(w.top(), Some(Address::repeat_byte(1)));
    }

    #[test]
    fn ties_go_to_the_smaller_address() {
        let amounts: Vec<(Address, u128)> =
            (1..=3u8).map(|i| (Address::repeat_byte(i), 1)).collect();
        let w = largest_remainder(&amounts, PPM);
        assert_eq!(
            w,
            vec![
                (Address::repeat_byte(1), 333_334),
                (Address::repeat_byte(2), 333_333),
                (Address::repeat_byte(3), 333_333),
            ]
        );
        assert_eq!(
            split_amount(&w, 10),
            vec![
                (Address::repeat_byte(1), 4),
                (Address::repeat_byte(2), 3),
                (Address::repeat_byte(3), 3),
            ]
        );
    }

    #[test]
    fn sums_are_exact_for_many_random_inputs() {
        let mut rng = crate::rng::Rng::new(5);
        for _ in 0..200 {
            let n = 1 + rng.below(40) as usize;
            let amounts: Vec<(u32, u128)> = (0..n)
                .map(|i| {
                    (
                        i as u32,
                        u128::from(rng.below(1 << 40)) * u128::from(rng.below(3)),
                    )
                })
                .collect();
            let w = largest_remainder(&amounts, PPM);
            if amounts.iter().any(|a| a.1 > 0) {
                assert_eq!(w.iter().map(|x| x.1).sum::<u64>(), PPM);
            }
            // Huge amounts take the wide path.
            let big: Vec<(u32, u128)> = (0..3).map(|i| (i, u128::MAX / 4)).collect();
            assert_eq!(
                largest_remainder(&big, PPM)
                    .iter()
                    .map(|x| x.1)
                    .sum::<u64>(),
                PPM
            );
        }
    }

    #[test]
    fn no_positive_influence_gives_no_weights() {
        let w = contributor_weights(&[dp(1, 1, -1.0)]).unwrap();
        assert!(w.contributors.is_empty());
        assert_eq!(w.evidence_root, B256::ZERO);
        assert!(contributor_weights(&[dp(1, 1, f64::NAN)]).is_err());
    }

    #[test]
    fn the_noise_z_is_the_bonferroni_normal_quantile() {
        // Φ⁻¹(1 − 0.05) and Φ⁻¹(1 − 0.05/100).
        assert!(
            (noise_z(1, 0.05) - 1.6449).abs() < 1e-3,
            "{}",
            noise_z(1, 0.05)
        );
        assert!(
            (noise_z(100, 0.05) - 3.2905).abs() < 2e-3,
            "{}",
            noise_z(100, 0.05)
        );
        assert!(noise_z(1_000_000, 0.05) > noise_z(1_000, 0.05));
    }

    #[test]
    fn scores_within_the_noise_band_attribute_nothing() {
        let mut scores = [dp(1, 1, 5.0), dp(2, 2, 0.5), dp(3, 3, 2.0), dp(4, 4, -1.0)];
        let noise = [1.0, 1.0, 0.1, 1.0];
        assert_eq!(abstain_within_noise(&mut scores, &noise, 2.0).unwrap(), 2);
        let w = contributor_weights(&scores).unwrap();
        let paid: Vec<Address> = w.contributors.iter().map(|(c, _)| *c).collect();
        assert_eq!(paid, [Address::repeat_byte(1), Address::repeat_byte(3)]);

        // An output whose every score is within the noise is paid to no one.
        let mut null = [dp(1, 1, 0.3), dp(2, 2, 0.2)];
        assert_eq!(
            abstain_within_noise(&mut null, &[0.5, 0.5], 1.0).unwrap(),
            0
        );
        assert!(contributor_weights(&null).unwrap().contributors.is_empty());
    }

    #[test]
    fn a_bad_noise_band_is_refused_and_changes_nothing() {
        let mut scores = [dp(1, 1, 5.0)];
        assert!(abstain_within_noise(&mut scores, &[], 1.0).is_err());
        assert!(abstain_within_noise(&mut scores, &[f64::NAN], 1.0).is_err());
        assert!(abstain_within_noise(&mut scores, &[1.0], -1.0).is_err());
        assert_eq!(scores[0].score, 5.0);
    }
}
