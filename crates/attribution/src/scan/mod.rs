//! Streaming kernels over rows of `f32`, with a fixed reduction order.
//!
//! Every result is independent of the number of threads: rows are cut into chunks of a fixed
//! size, each chunk is reduced sequentially with a fixed 16-lane accumulation pattern (no fused
//! multiply-add, which Rust never introduces on its own), and per-chunk partial sums are combined
//! in chunk order. The lanes vectorise to SSE/AVX without changing a bit of the result.

use std::sync::{
    Mutex,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

/// Rows per chunk: the unit of work and of partial sums.
pub const CHUNK_ROWS: usize = 256;

const LANES: usize = 16;

mod narrow;

pub use narrow::{axpy_f16, axpy_i8, dot_f16, dot_i8};

/// `Σ aᵢ bᵢ` with 16 interleaved `f32` accumulators combined pairwise at the end.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (ca, ra) = a[..n].as_chunks::<LANES>();
    let (cb, rb) = b[..n].as_chunks::<LANES>();
    let mut acc = dot_lanes(ca, cb);
    for (l, (x, y)) in ra.iter().zip(rb).enumerate() {
        acc[l] += x * y;
    }
    reduce_lanes(acc)
}

/// Lane `l` of the result is `Σ_k x[k][l] · y[k][l]` in `k` order, one rounding for the product
/// and one for the sum, as the portable version computes it.
#[cfg(target_arch = "x86_64")]
#[inline]
fn dot_lanes(x: &[[f32; LANES]], y: &[[f32; LANES]]) -> [f32; LANES] {
    use std::arch::x86_64::{
        __m128, _mm_add_ps, _mm_loadu_ps, _mm_mul_ps, _mm_setzero_ps, _mm_storeu_ps,
    };
    // The compiler's own vectorisation of the portable loop shuffles lanes on every step and
    // runs at half the memory bandwidth; explicit SSE (part of the x86_64 baseline) streams.
    // SAFETY: SSE2 is always available on x86_64; every load reads 4 floats inside a
    // `[f32; 16]` chunk at offsets 0, 4, 8, 12, and the stores write 16 floats into `acc`.
    unsafe {
        let mut sums: [__m128; 4] = [_mm_setzero_ps(); 4];
        for (xs, ys) in x.iter().zip(y) {
            for (quarter, sum) in sums.iter_mut().enumerate() {
                let product = _mm_mul_ps(
                    _mm_loadu_ps(xs.as_ptr().add(4 * quarter)),
                    _mm_loadu_ps(ys.as_ptr().add(4 * quarter)),
                );
                *sum = _mm_add_ps(*sum, product);
            }
        }
        let mut acc = [0.0f32; LANES];
        for (quarter, sum) in sums.iter().enumerate() {
            _mm_storeu_ps(acc.as_mut_ptr().add(4 * quarter), *sum);
        }
        acc
    }
}

/// Portable version of the x86_64 kernel above, with the same lanes and rounding.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn dot_lanes(x: &[[f32; LANES]], y: &[[f32; LANES]]) -> [f32; LANES] {
    let mut acc = [0.0f32; LANES];
    for (xs, ys) in x.iter().zip(y) {
        for l in 0..LANES {
            acc[l] += xs[l] * ys[l];
        }
    }
    acc
}

/// `Σ aᵢ²` (same pattern as [`dot`]).
#[inline]
pub fn sum_sq(a: &[f32]) -> f32 {
    dot(a, a)
}

#[inline]
fn reduce_lanes(mut acc: [f32; LANES]) -> f32 {
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            acc[l] += acc[l + width];
        }
    }
    acc[0]
}

/// `y += c · x`, one rounding for each product and each sum.
#[inline]
pub fn axpy(c: f32, x: &[f32], y: &mut [f32]) {
    let n = x.len().min(y.len());
    let (cx, rx) = x[..n].as_chunks::<LANES>();
    let (cy, ry) = y[..n].as_chunks_mut::<LANES>();
    axpy_lanes(c, cx, cy);
    for (xi, yi) in rx.iter().zip(ry) {
        *yi += c * xi;
    }
}

/// `y[k][l] += c · x[k][l]`: every element on its own, so vector width cannot change a bit.
#[cfg(target_arch = "x86_64")]
#[inline]
fn axpy_lanes(c: f32, x: &[[f32; LANES]], y: &mut [[f32; LANES]]) {
    use std::arch::x86_64::{_mm_add_ps, _mm_loadu_ps, _mm_mul_ps, _mm_set1_ps, _mm_storeu_ps};
    // Inlined into DataInf's first pass the portable loop compiled to scalar code (one float per
    // instruction), which made that pass three times slower than a dot product.
    // SAFETY: SSE2 is always available on x86_64; every load and store touches 4 floats inside
    // a `[f32; 16]` chunk at offsets 0, 4, 8, 12.
    unsafe {
        let cv = _mm_set1_ps(c);
        for (xs, ys) in x.iter().zip(y) {
            for quarter in 0..LANES / 4 {
                let at = ys.as_mut_ptr().add(4 * quarter);
                let product = _mm_mul_ps(cv, _mm_loadu_ps(xs.as_ptr().add(4 * quarter)));
                _mm_storeu_ps(at, _mm_add_ps(_mm_loadu_ps(at), product));
            }
        }
    }
}

/// Portable version of the x86_64 kernel above.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn axpy_lanes(c: f32, x: &[[f32; LANES]], y: &mut [[f32; LANES]]) {
    for (xs, ys) in x.iter().zip(y) {
        for l in 0..LANES {
            ys[l] += c * xs[l];
        }
    }
}

/// Sum of all values, read as fast as memory allows (used to measure bandwidth); the result
/// depends only on the data.
pub fn sum_all(data: &[f32]) -> f32 {
    let (chunks, rest) = data.as_chunks::<LANES>();
    let mut acc = [0.0f32; LANES];
    for x in chunks {
        for l in 0..LANES {
            acc[l] += x[l];
        }
    }
    for (l, x) in rest.iter().enumerate() {
        acc[l] += x;
    }
    reduce_lanes(acc)
}

/// Runs `work(chunk_index, rows)` for every chunk of `CHUNK_ROWS` rows out of `n_rows`, on up to
/// `threads` threads, and returns the results in chunk order. `cancel`, when set, stops the
/// remaining chunks and makes the call return `None`.
pub fn par_chunks<T: Send>(
    n_rows: usize,
    threads: usize,
    cancel: Option<&AtomicBool>,
    work: impl Fn(usize, std::ops::Range<usize>) -> T + Sync,
) -> Option<Vec<T>> {
    let n_chunks = n_rows.div_ceil(CHUNK_ROWS);
    let threads = threads.clamp(1, n_chunks.max(1));
    let range = |c: usize| c * CHUNK_ROWS..((c + 1) * CHUNK_ROWS).min(n_rows);
    let cancelled = || cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    if threads == 1 {
        let mut out = Vec::with_capacity(n_chunks);
        for c in 0..n_chunks {
            if cancelled() {
                return None;
            }
            out.push(work(c, range(c)));
        }
        return Some(out);
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<T>>> = (0..n_chunks).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let c = next.fetch_add(1, Ordering::Relaxed);
                    if c >= n_chunks || cancelled() {
                        break;
                    }
                    let result = work(c, range(c));
                    *slots[c].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                }
            });
        }
    });
    if cancelled() {
        return None;
    }
    slots
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_is_exact_on_integers_and_thread_independent() {
        let a: Vec<f32> = (0..1000).map(|i| (i % 7) as f32).collect();
        let b: Vec<f32> = (0..1000).map(|i| (i % 5) as f32).collect();
        let expected: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert_eq!(dot(&a, &b), expected);
        let rows = 1000;
        let data: Vec<f32> = (0..rows * 33)
            .map(|i| ((i * 31) % 97) as f32 * 0.013)
            .collect();
        let run = |threads| {
            par_chunks(rows, threads, None, |_, r| {
                r.map(|i| dot(&data[i * 33..(i + 1) * 33], &data[..33]))
                    .sum::<f32>()
            })
            .unwrap()
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(7));
    }

    /// Lengths covering empty, tail-only, exact-chunk and chunk-plus-tail inputs.
    const KERNEL_LENGTHS: [usize; 8] = [0, 1, 15, 16, 17, 100, 1024, 4099];

    /// Deterministic uniform values in `[-1, 1)` (xorshift).
    fn uniform_source() -> impl FnMut() -> f32 {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        }
    }

    #[test]
    fn the_simd_axpy_rounds_exactly_like_the_elementwise_update() {
        let mut next = uniform_source();
        for len in KERNEL_LENGTHS {
            let x: Vec<f32> = (0..len).map(|_| next() * 1e3).collect();
            let start: Vec<f32> = (0..len).map(|_| next()).collect();
            let c = next() * 1e-3;
            let mut expected = start.clone();
            for (e, xi) in expected.iter_mut().zip(&x) {
                *e += c * xi;
            }
            let mut got = start;
            axpy(c, &x, &mut got);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<u32>>();
            assert_eq!(bits(&got), bits(&expected), "length {len}");
        }
    }

    #[test]
    fn the_simd_kernel_rounds_exactly_like_the_lane_pattern_it_implements() {
        // The determinism contract: lane l accumulates elements l, l+16, l+32, … in order with
        // a separate rounding for each product and sum; lanes combine pairwise at the end.
        let reference = |a: &[f32], b: &[f32]| {
            let mut acc = [0.0f32; LANES];
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                acc[i % LANES] += x * y;
            }
            reduce_lanes(acc)
        };
        let mut next = uniform_source();
        for len in KERNEL_LENGTHS {
            let a: Vec<f32> = (0..len).map(|_| next() * 1e3).collect();
            let b: Vec<f32> = (0..len).map(|_| next() * 1e-3).collect();
            assert_eq!(
                dot(&a, &b).to_bits(),
                reference(&a, &b).to_bits(),
                "length {len}"
            );
        }
    }

    #[test]
    fn cancellation_stops() {
        let flag = AtomicBool::new(true);
        assert!(par_chunks(10_000, 2, Some(&flag), |_, _| 0).is_none());
    }
}
