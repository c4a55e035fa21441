//! Exact proportional split by the largest remainder method, the arithmetic of `split`.

use alloy_primitives::U256;

/// Splits `amount` by `weights`: `floor(amount * w_i / W)` each (`W = sum(weights)`), then one
/// unit more for each of the `amount - sum(floors)` largest remainders `amount * w_i mod W`, ties
/// to the lower index. The shares sum to `amount` exactly.
///
/// Returns `None` when `weights` is empty or sums to zero. With fewer than 2^32 weights below
/// 2^32, `W < 2^64`, and `amount = q·W + r` gives `floor(amount·w/W) = q·w + floor(r·w/W)` with
/// `r·w < 2^96`: no intermediate overflows for any `amount`.
pub fn split(amount: U256, weights: &[u32]) -> Option<Vec<U256>> {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    if total == 0 {
        return None;
    }
    let total_u256 = U256::from(total);
    let (quotient, rest) = amount.div_rem(total_u256);
    let rest = rest.saturating_to::<u128>();
    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut distributed = U256::ZERO;
    for (index, &weight) in weights.iter().enumerate() {
        let scaled = rest * u128::from(weight);
        let share = quotient * U256::from(weight) + U256::from(scaled / u128::from(total));
        distributed += share;
        shares.push(share);
        remainders.push((scaled % u128::from(total), index));
    }
    // Each floor loses less than one unit, so fewer than `weights.len()` units are left over.
    let left = (amount - distributed).saturating_to::<usize>();
    remainders.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, index) in &remainders[..left] {
        shares[index] += U256::from(1);
    }
    Some(shares)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_u64(amount: u64, weights: &[u32]) -> Vec<u64> {
        split(U256::from(amount), weights)
            .unwrap()
            .into_iter()
            .map(|s| s.to::<u64>())
            .collect()
    }

    /// The examples of the forge test `test_split_examples`.
    #[test]
    fn examples() {
        assert_eq!(split_u64(10, &[1, 1, 1]), [4, 3, 3]);
        assert_eq!(split_u64(11, &[1, 1, 1]), [4, 4, 3]);
        assert_eq!(split_u64(7, &[2, 3, 5]), [1, 2, 4]);
        let ether = 1_000_000_000_000_000_000u64;
        assert_eq!(
            split_u64(ether, &[500_000, 300_000, 200_000]),
            [ether / 2, ether / 10 * 3, ether / 10 * 2]
        );
        assert_eq!(split_u64(0, &[1, 2, 3]), [0, 0, 0]);
    }

    #[test]
    fn huge_amount_does_not_overflow() {
        let shares = split(U256::MAX, &[333_333, 333_333, 333_334]).unwrap();
        let sum = shares.iter().fold(U256::ZERO, |acc, s| acc + s);
        assert_eq!(sum, U256::MAX);
        let shares = split(U256::MAX, &[u32::MAX; 256]).unwrap();
        assert_eq!(shares.iter().fold(U256::ZERO, |acc, s| acc + s), U256::MAX);
    }

    #[test]
    fn empty_or_zero_weights_are_refused() {
        assert_eq!(split(U256::from(1), &[]), None);
        assert_eq!(split(U256::from(1), &[0, 0]), None);
    }

    /// Against the quadratic reference of the forge tests (rank by remainder desc, index asc), on
    /// pseudo-random amounts and weights with many ties and zeros.
    #[test]
    fn matches_the_reference_on_random_inputs() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..500 {
            let n = (next() % 64 + 1) as usize;
            let mut weights: Vec<u32> = (0..n).map(|_| (next() % 7) as u32).collect();
            weights[0] += 1;
            let amount = u128::from(next()) * u128::from(next());
            let shares = split(U256::from(amount), &weights).unwrap();
            let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
            let floors: Vec<u128> = weights
                .iter()
                .map(|&w| {
                    (amount / total) * u128::from(w) + (amount % total) * u128::from(w) / total
                })
                .collect();
            let rems: Vec<u128> = weights
                .iter()
                .map(|&w| (amount % total) * u128::from(w) % total)
                .collect();
            let left = amount - floors.iter().sum::<u128>();
            for i in 0..n {
                let rank = (0..n)
                    .filter(|&j| rems[j] > rems[i] || (rems[j] == rems[i] && j < i))
                    .count() as u128;
                let expected = floors[i] + u128::from(rank < left);
                assert_eq!(shares[i], U256::from(expected), "{amount} {weights:?}");
            }
        }
    }
}
