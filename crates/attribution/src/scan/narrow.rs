//! Dot products of an `f32` query with rows stored narrow ([`crate::store::Precision`]),
//! decoded in registers rather than through a buffer.
//!
//! Each kernel computes exactly what [`super::dot`] computes over the decoded values: the same
//! 16 lanes, a product and a sum rounded once each, and for `int8` the decoding product
//! `q · scale` rounded once as the decoder does. The vector paths (F16C for `f16`, SSE2 for
//! `int8`) and the portable one give the same bits, so a follower without F16C agrees.

use super::{LANES, reduce_lanes};
use half::f16;

/// `Σ aᵢ bᵢ` with `b` given as little-endian `f16` bytes (`2·n`): bit for bit
/// `dot(a, b as f32)`.
pub fn dot_f16(a: &[f32], b: &[u8]) -> f32 {
    let n = a.len().min(b.len() / 2);
    let (ca, ra) = a[..n].as_chunks::<LANES>();
    let (cb, rb) = b[..2 * n].as_chunks::<{ 2 * LANES }>();
    let mut acc = f16_lanes(ca, cb);
    for (l, (x, h)) in ra.iter().zip(rb.chunks_exact(2)).enumerate() {
        acc[l] += x * half_at(h, 0);
    }
    reduce_lanes(acc)
}

fn f16_lanes(x: &[[f32; LANES]], h: &[[u8; 2 * LANES]]) -> [f32; LANES] {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("f16c") && std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the features the kernel is compiled for were just detected.
        return unsafe { f16_lanes_f16c(x, h) };
    }
    f16_lanes_portable(x, h)
}

fn f16_lanes_portable(x: &[[f32; LANES]], h: &[[u8; 2 * LANES]]) -> [f32; LANES] {
    let mut acc = [0.0f32; LANES];
    for (xs, hs) in x.iter().zip(h) {
        for l in 0..LANES {
            acc[l] += xs[l] * half_at(hs, l);
        }
    }
    acc
}

#[inline]
fn half_at(bytes: &[u8], i: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]])).to_f32()
}

/// `y += c · b` with `b` given as little-endian `f16` bytes: bit for bit `axpy(c, b as f32, y)`
/// (every element on its own, so any vector width gives the same bits).
pub fn axpy_f16(c: f32, b: &[u8], y: &mut [f32]) {
    let n = y.len().min(b.len() / 2);
    let done = axpy_f16_head(c, &b[..2 * n], &mut y[..n]);
    for (i, yi) in y.iter_mut().enumerate().take(n).skip(done) {
        *yi += c * half_at(b, i);
    }
}

fn axpy_f16_head(c: f32, b: &[u8], y: &mut [f32]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("f16c") && std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the features the kernel is compiled for were just detected.
        return unsafe { axpy_f16_f16c(c, b, y) };
    }
    let _ = (c, b, y);
    0
}

/// The 8-aligned head of [`axpy_f16`]; returns how many elements it did.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,f16c")]
unsafe fn axpy_f16_f16c(c: f32, b: &[u8], y: &mut [f32]) -> usize {
    use std::arch::x86_64::{
        __m128i, _mm_loadu_si128, _mm256_add_ps, _mm256_cvtph_ps, _mm256_loadu_ps, _mm256_mul_ps,
        _mm256_set1_ps, _mm256_storeu_ps,
    };
    let cv = _mm256_set1_ps(c);
    let n = y.len() / 8 * 8;
    for i in (0..n).step_by(8) {
        // SAFETY: `i + 8 ≤ y.len()` and `2 (i + 8) ≤ b.len()`.
        unsafe {
            let at = y.as_mut_ptr().add(i);
            let g = _mm256_cvtph_ps(_mm_loadu_si128(b.as_ptr().add(2 * i).cast::<__m128i>()));
            _mm256_storeu_ps(at, _mm256_add_ps(_mm256_loadu_ps(at), _mm256_mul_ps(cv, g)));
        }
    }
    n
}

/// `y += c · (q · scale)` with `q` signed bytes: bit for bit `axpy(c, q · scale, y)`.
pub fn axpy_i8(c: f32, q: &[u8], scale: f32, y: &mut [f32]) {
    let n = y.len().min(q.len());
    let done = axpy_i8_head(c, &q[..n], scale, &mut y[..n]);
    for (yi, b) in y.iter_mut().zip(q).take(n).skip(done) {
        *yi += c * (f32::from(*b as i8) * scale);
    }
}

fn axpy_i8_head(c: f32, q: &[u8], scale: f32, y: &mut [f32]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the feature the kernel is compiled for was just detected.
        return unsafe { axpy_i8_avx2(c, q, scale, y) };
    }
    let _ = (c, q, scale, y);
    0
}

/// The 8-aligned head of [`axpy_i8`]; returns how many elements it did.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn axpy_i8_avx2(c: f32, q: &[u8], scale: f32, y: &mut [f32]) -> usize {
    use std::arch::x86_64::{
        __m128i, _mm_loadl_epi64, _mm256_add_ps, _mm256_cvtepi8_epi32, _mm256_cvtepi32_ps,
        _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_storeu_ps,
    };
    let (cv, s) = (_mm256_set1_ps(c), _mm256_set1_ps(scale));
    let n = y.len() / 8 * 8;
    for i in (0..n).step_by(8) {
        // SAFETY: `i + 8 ≤ y.len() ≤ q.len()`.
        unsafe {
            let at = y.as_mut_ptr().add(i);
            let w = _mm256_cvtepi8_epi32(_mm_loadl_epi64(q.as_ptr().add(i).cast::<__m128i>()));
            let g = _mm256_mul_ps(_mm256_cvtepi32_ps(w), s);
            _mm256_storeu_ps(at, _mm256_add_ps(_mm256_loadu_ps(at), _mm256_mul_ps(cv, g)));
        }
    }
    n
}

/// Lanes 0–7 and 8–15 of each chunk in two AVX registers; `vcvtph2ps` is exact.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,f16c")]
unsafe fn f16_lanes_f16c(x: &[[f32; LANES]], h: &[[u8; 2 * LANES]]) -> [f32; LANES] {
    use std::arch::x86_64::{
        __m128i, _mm_loadu_si128, _mm256_add_ps, _mm256_cvtph_ps, _mm256_loadu_ps, _mm256_mul_ps,
        _mm256_setzero_ps, _mm256_storeu_ps,
    };
    let mut sums = [_mm256_setzero_ps(); 2];
    for (xs, hs) in x.iter().zip(h) {
        for (half, sum) in sums.iter_mut().enumerate() {
            // SAFETY: 8 floats at offset 0 or 8 of a 16-float chunk, and 16 bytes (8 halves)
            // at offset 0 or 16 of its 32-byte chunk.
            let (xv, hv) = unsafe {
                (
                    _mm256_loadu_ps(xs.as_ptr().add(8 * half)),
                    _mm_loadu_si128(hs.as_ptr().add(16 * half).cast::<__m128i>()),
                )
            };
            *sum = _mm256_add_ps(*sum, _mm256_mul_ps(xv, _mm256_cvtph_ps(hv)));
        }
    }
    let mut acc = [0.0f32; LANES];
    for (half, sum) in sums.iter().enumerate() {
        // SAFETY: 8 floats into a 16-float array at offset 0 or 8.
        unsafe { _mm256_storeu_ps(acc.as_mut_ptr().add(8 * half), *sum) };
    }
    acc
}

/// `Σ aᵢ (qᵢ · scale)` with `q` signed bytes: bit for bit `dot(a, q · scale)` with the decoded
/// values rounded as the store's decoder rounds them.
pub fn dot_i8(a: &[f32], q: &[u8], scale: f32) -> f32 {
    let n = a.len().min(q.len());
    let (ca, ra) = a[..n].as_chunks::<LANES>();
    let (cq, rq) = q[..n].as_chunks::<LANES>();
    let mut acc = i8_lanes(ca, cq, scale);
    for (l, (x, b)) in ra.iter().zip(rq).enumerate() {
        acc[l] += x * (f32::from(*b as i8) * scale);
    }
    reduce_lanes(acc)
}

#[cfg(target_arch = "x86_64")]
fn i8_lanes(x: &[[f32; LANES]], q: &[[u8; LANES]], scale: f32) -> [f32; LANES] {
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the feature the kernel is compiled for was just detected.
        return unsafe { i8_lanes_avx2(x, q, scale) };
    }
    i8_lanes_sse2(x, q, scale)
}

/// Lanes 0–7 and 8–15 in two AVX registers, each byte sign-extended by `vpmovsxbd`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn i8_lanes_avx2(x: &[[f32; LANES]], q: &[[u8; LANES]], scale: f32) -> [f32; LANES] {
    use std::arch::x86_64::{
        __m128i, _mm_loadl_epi64, _mm256_add_ps, _mm256_cvtepi8_epi32, _mm256_cvtepi32_ps,
        _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };
    let s = _mm256_set1_ps(scale);
    let mut sums = [_mm256_setzero_ps(); 2];
    for (xs, qs) in x.iter().zip(q) {
        for (half, sum) in sums.iter_mut().enumerate() {
            // SAFETY: 8 floats at offset 0 or 8 of a 16-float chunk, and 8 bytes at offset 0 or
            // 8 of its 16-byte chunk.
            let (xv, qv) = unsafe {
                (
                    _mm256_loadu_ps(xs.as_ptr().add(8 * half)),
                    _mm_loadl_epi64(qs.as_ptr().add(8 * half).cast::<__m128i>()),
                )
            };
            let decoded = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(qv)), s);
            *sum = _mm256_add_ps(*sum, _mm256_mul_ps(xv, decoded));
        }
    }
    let mut acc = [0.0f32; LANES];
    for (half, sum) in sums.iter().enumerate() {
        // SAFETY: 8 floats into a 16-float array at offset 0 or 8.
        unsafe { _mm256_storeu_ps(acc.as_mut_ptr().add(8 * half), *sum) };
    }
    acc
}

#[cfg(target_arch = "x86_64")]
fn i8_lanes_sse2(x: &[[f32; LANES]], q: &[[u8; LANES]], scale: f32) -> [f32; LANES] {
    use std::arch::x86_64::{
        __m128, __m128i, _mm_add_ps, _mm_cvtepi32_ps, _mm_loadu_ps, _mm_loadu_si128, _mm_mul_ps,
        _mm_set1_ps, _mm_setzero_ps, _mm_srai_epi16, _mm_srai_epi32, _mm_storeu_ps,
        _mm_unpackhi_epi8, _mm_unpackhi_epi16, _mm_unpacklo_epi8, _mm_unpacklo_epi16,
    };
    // SAFETY: SSE2 is always available on x86_64; each chunk loads 16 bytes and 16 floats
    // inside its own arrays, and the stores write 16 floats into `acc`.
    unsafe {
        let s = _mm_set1_ps(scale);
        let mut sums: [__m128; 4] = [_mm_setzero_ps(); 4];
        for (xs, qs) in x.iter().zip(q) {
            let v = _mm_loadu_si128(qs.as_ptr().cast::<__m128i>());
            // Each byte doubled into a 16-bit lane, then shifted down: sign extension.
            let lo = _mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8);
            let hi = _mm_srai_epi16(_mm_unpackhi_epi8(v, v), 8);
            let words = [
                _mm_srai_epi32(_mm_unpacklo_epi16(lo, lo), 16),
                _mm_srai_epi32(_mm_unpackhi_epi16(lo, lo), 16),
                _mm_srai_epi32(_mm_unpacklo_epi16(hi, hi), 16),
                _mm_srai_epi32(_mm_unpackhi_epi16(hi, hi), 16),
            ];
            for (quarter, (sum, w)) in sums.iter_mut().zip(words).enumerate() {
                let decoded = _mm_mul_ps(_mm_cvtepi32_ps(w), s);
                let product = _mm_mul_ps(_mm_loadu_ps(xs.as_ptr().add(4 * quarter)), decoded);
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

#[cfg(not(target_arch = "x86_64"))]
fn i8_lanes(x: &[[f32; LANES]], q: &[[u8; LANES]], scale: f32) -> [f32; LANES] {
    let mut acc = [0.0f32; LANES];
    for (xs, qs) in x.iter().zip(q) {
        for l in 0..LANES {
            acc[l] += xs[l] * (f32::from(qs[l] as i8) * scale);
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Both kernels equal `dot` over the decoded values, to the bit, at lengths with and
    /// without a tail, including extreme values.
    #[test]
    fn narrow_dots_equal_the_dot_of_the_decoded_values() {
        let mut rng = Rng::new(21);
        for n in [0usize, 5, 16, 37, 1024, 1031] {
            let a: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
            let halves: Vec<f16> = (0..n)
                .map(|i| match i % 97 {
                    0 => f16::MAX,
                    1 => f16::MIN_POSITIVE_SUBNORMAL,
                    _ => f16::from_f32((rng.normal() * 3.0) as f32),
                })
                .collect();
            let bytes: Vec<u8> = halves.iter().flat_map(|h| h.to_le_bytes()).collect();
            let decoded: Vec<f32> = halves.iter().map(|h| h.to_f32()).collect();
            assert_eq!(
                dot_f16(&a, &bytes).to_bits(),
                super::super::dot(&a, &decoded).to_bits(),
                "f16, n = {n}"
            );
            let q: Vec<u8> = (0..n)
                .map(|i| ((i * 37 % 255) as i32 - 127) as i8 as u8)
                .collect();
            let scale = 0.013_f32;
            let decoded: Vec<f32> = q.iter().map(|b| f32::from(*b as i8) * scale).collect();
            assert_eq!(
                dot_i8(&a, &q, scale).to_bits(),
                super::super::dot(&a, &decoded).to_bits(),
                "int8, n = {n}"
            );
            // The vector paths equal the portable and baseline ones lane for lane.
            let (ca, _) = a.as_chunks::<LANES>();
            let (cq, _) = q.as_chunks::<LANES>();
            let (cb, _) = bytes.as_chunks::<{ 2 * LANES }>();
            #[cfg(target_arch = "x86_64")]
            assert_eq!(i8_lanes(ca, cq, scale), i8_lanes_sse2(ca, cq, scale));
            assert_eq!(f16_lanes(ca, cb), f16_lanes_portable(ca, cb));
            // The fused updates equal axpy over the decoded values.
            let c = 0.37f32;
            let mut fused: Vec<f32> = a.clone();
            let mut plain = a.clone();
            axpy_i8(c, &q, scale, &mut fused);
            super::super::axpy(c, &decoded, &mut plain);
            assert_eq!(fused, plain, "axpy int8, n = {n}");
            let halves_f32: Vec<f32> = halves.iter().map(|h| h.to_f32()).collect();
            let (mut fused, mut plain) = (a.clone(), a.clone());
            axpy_f16(c, &bytes, &mut fused);
            super::super::axpy(c, &halves_f32, &mut plain);
            assert_eq!(fused, plain, "axpy f16, n = {n}");
        }
    }
}
