//! Small dense linear algebra in `f64` (row-major), for Newton steps and explicit influence on
//! models with a few hundred parameters. Loops run in a fixed order, so results are
//! deterministic.

use crate::{AttributionError, Result};

/// A square row-major matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Number of rows and columns.
    pub n: usize,
    /// Entries, row-major.
    pub data: Vec<f64>,
}

impl Matrix {
    /// The `n × n` zero matrix.
    pub fn zeros(n: usize) -> Self {
        Self {
            n,
            data: vec![0.0; n * n],
        }
    }

    /// Entry `(i, j)`.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.n + j]
    }

    /// Mutable entry `(i, j)`.
    #[inline]
    pub fn at(&mut self, i: usize, j: usize) -> &mut f64 {
        &mut self.data[i * self.n + j]
    }

    /// Adds `c` to the diagonal.
    pub fn add_diagonal(&mut self, c: f64) {
        for i in 0..self.n {
            *self.at(i, i) += c;
        }
    }

    /// Adds `w · v vᵀ`.
    pub fn add_outer(&mut self, w: f64, v: &[f64]) {
        let n = self.n;
        for i in 0..n {
            let wi = w * v[i];
            if wi == 0.0 {
                continue;
            }
            let row = &mut self.data[i * n..(i + 1) * n];
            for (r, vj) in row.iter_mut().zip(v) {
                *r += wi * vj;
            }
        }
    }

    /// `M v`.
    pub fn mul_vec(&self, v: &[f64]) -> Vec<f64> {
        (0..self.n)
            .map(|i| dot(&self.data[i * self.n..(i + 1) * self.n], v))
            .collect()
    }

    /// Scales every entry.
    pub fn scale(&mut self, c: f64) {
        for x in &mut self.data {
            *x *= c;
        }
    }
}

/// `Σ aᵢ bᵢ` in index order.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The Cholesky factor `L` (lower triangular, `A = L Lᵀ`) of a symmetric positive definite
/// matrix.
pub fn cholesky(a: &Matrix) -> Result<Matrix> {
    let n = a.n;
    let mut l = Matrix::zeros(n);
    for j in 0..n {
        let mut d = a.get(j, j);
        for k in 0..j {
            d -= l.get(j, k) * l.get(j, k);
        }
        if d <= 0.0 || !d.is_finite() {
            return Err(AttributionError::invalid(format!(
                "matrix is not positive definite (pivot {j} = {d})"
            )));
        }
        let d = d.sqrt();
        *l.at(j, j) = d;
        for i in j + 1..n {
            let mut s = a.get(i, j);
            for k in 0..j {
                s -= l.get(i, k) * l.get(j, k);
            }
            *l.at(i, j) = s / d;
        }
    }
    Ok(l)
}

/// Solves `A x = b` given the Cholesky factor of `A`.
pub fn cholesky_solve(l: &Matrix, b: &[f64]) -> Vec<f64> {
    let n = l.n;
    let mut y = vec![0.0; n];
    for i in 0..n {
        let mut s = b[i];
        for (k, yk) in y.iter().enumerate().take(i) {
            s -= l.get(i, k) * yk;
        }
        y[i] = s / l.get(i, i);
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut s = y[i];
        for (k, xk) in x.iter().enumerate().skip(i + 1) {
            s -= l.get(k, i) * xk;
        }
        x[i] = s / l.get(i, i);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves() {
        let mut a = Matrix::zeros(3);
        a.add_outer(1.0, &[1.0, 2.0, 3.0]);
        a.add_outer(1.0, &[0.0, 1.0, -1.0]);
        a.add_diagonal(0.5);
        let x = [0.3, -0.2, 1.5];
        let b = a.mul_vec(&x);
        let l = cholesky(&a).unwrap();
        let got = cholesky_solve(&l, &b);
        for (g, e) in got.iter().zip(x) {
            assert!((g - e).abs() < 1e-12);
        }
        assert!(cholesky(&Matrix::zeros(2)).is_err());
    }
}
