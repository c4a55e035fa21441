//! Exact KNN-Shapley (Jia et al., PVLDB 2019), the closed-form recursion as in dattri's
//! `data_shapley.py`: for a test point, sort training points by distance (`α₁` nearest … `α_N`),
//!
//! ```text
//! s_{α_N} = 1[y_{α_N} = y_test] / N
//! s_{α_i} = s_{α_{i+1}} + (1[y_{α_i} = y_test] − 1[y_{α_{i+1}} = y_test]) / K · min(K, i) / i
//! ```
//!
//! and average over test points. `O(N log N)` per test point. Distances are squared Euclidean;
//! equal distances are ordered by training index, so the result is deterministic.

/// KNN-Shapley values of every training point for a set of test points.
pub fn knn_shapley(
    train: &[Vec<f32>],
    train_labels: &[u32],
    test: &[Vec<f32>],
    test_labels: &[u32],
    k: usize,
) -> Vec<f64> {
    let n = train.len();
    let mut values = vec![0.0f64; n];
    if n == 0 || test.is_empty() {
        return values;
    }
    let k = k.max(1);
    for (t, &yt) in test.iter().zip(test_labels) {
        let mut order: Vec<(f64, usize)> = train
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let d: f64 = x.iter().zip(t).map(|(a, b)| f64::from(a - b).powi(2)).sum();
                (d, i)
            })
            .collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let hit = |pos: usize| f64::from(u8::from(train_labels[order[pos].1] == yt));
        let mut s = vec![0.0f64; n];
        s[n - 1] = hit(n - 1) / n as f64;
        for pos in (0..n - 1).rev() {
            let i = pos + 1; // 1-based rank
            s[pos] =
                s[pos + 1] + (hit(pos) - hit(pos + 1)) / k as f64 * (k.min(i) as f64) / i as f64;
        }
        for (pos, &(_, idx)) in order.iter().enumerate() {
            values[idx] += s[pos];
        }
    }
    for v in &mut values {
        *v /= test.len() as f64;
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shapley values are efficient: they sum to the utility of the full set, the K-NN
    /// accuracy-like utility `(1/K) Σ_{j ≤ K} 1[y_{α_j} = y_test]`.
    #[test]
    fn efficiency_and_sign() {
        let train = vec![
            vec![0.0],
            vec![1.0],
            vec![2.0],
            vec![10.0],
            vec![11.0],
            vec![20.0],
        ];
        let labels = [0, 0, 1, 1, 1, 0];
        let test = vec![vec![0.5]];
        let v = knn_shapley(&train, &labels, &test, &[0], 3);
        let total: f64 = v.iter().sum();
        assert!((total - 2.0 / 3.0).abs() < 1e-12, "{total}");
        assert!(v[0] > 0.0 && v[1] > 0.0);
        assert!(v[2] < 0.0, "a near point with the wrong label hurts");
    }
}
