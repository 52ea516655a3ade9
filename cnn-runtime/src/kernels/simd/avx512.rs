//! [`Simd`] on AVX-512F: 16 lanes, `__mmask16` lane masks.

use super::Simd;
use core::arch::x86_64::*;

/// Proof that the CPU supports AVX-512F (a value exists only then).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512(());

impl Avx512 {
    /// The token.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[inline(always)]
    pub(crate) unsafe fn new_unchecked() -> Self {
        Avx512(())
    }
}

// SAFETY (for every `unsafe` block below that only calls an intrinsic on
// register values): an `Avx512` value exists only if the CPU supports
// AVX-512F (see `new_unchecked`), which is all these intrinsics require.
impl Simd for Avx512 {
    const LANES: usize = 16;
    const REGISTERS: usize = 32;
    type V = __m512;
    type M = __mmask16;
    type I = __m512i;

    #[inline(always)]
    fn zero(self) -> __m512 {
        // SAFETY: AVX-512F is available (token).
        unsafe { _mm512_setzero_ps() }
    }

    #[inline(always)]
    fn splat(self, x: f32) -> __m512 {
        // SAFETY: AVX-512F is available (token).
        unsafe { _mm512_set1_ps(x) }
    }

    #[inline(always)]
    fn fma(self, a: __m512, b: __m512, c: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (token).
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }

    #[inline(always)]
    fn add(self, a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (token).
        unsafe { _mm512_add_ps(a, b) }
    }

    #[inline(always)]
    fn sub(self, a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (token).
        unsafe { _mm512_sub_ps(a, b) }
    }

    #[inline(always)]
    fn maskz_permute2(self, m: __mmask16, a: __m512, b: __m512, idx: __m512i) -> __m512 {
        // SAFETY: AVX-512F is available (token).
        unsafe { _mm512_maskz_permutex2var_ps(m, a, idx, b) }
    }

    #[inline(always)]
    fn max_nan(self, a: __m512, b: __m512) -> __m512 {
        // `vmaxps` returns its second operand when either is NaN; where the
        // pair is unordered, `a + b` is NaN instead.
        // SAFETY: AVX-512F is available (token).
        unsafe {
            let unordered = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, b);
            _mm512_mask_add_ps(_mm512_max_ps(a, b), unordered, a, b)
        }
    }

    #[inline(always)]
    fn min_nan(self, a: __m512, b: __m512) -> __m512 {
        // As `max_nan`.
        // SAFETY: AVX-512F is available (token).
        unsafe {
            let unordered = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, b);
            _mm512_mask_add_ps(_mm512_min_ps(a, b), unordered, a, b)
        }
    }

    #[inline(always)]
    fn floor_at(self, v: __m512, lo: __m512) -> __m512 {
        // `vmaxps(a, b)` is `a > b ? a : b`: the second operand whenever the
        // comparison is false, which keeps NaN and equal zeros.
        // SAFETY: AVX-512F is available (token).
        unsafe { _mm512_max_ps(lo, v) }
    }

    #[inline(always)]
    fn ceil_at(self, v: __m512, hi: __m512) -> __m512 {
        // `vminps(a, b)` is `a < b ? a : b` (see `floor_at`).
        // SAFETY: AVX-512F is available (token).
        unsafe { _mm512_min_ps(hi, v) }
    }

    #[inline(always)]
    fn leaky(self, v: __m512, slope: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (token).
        unsafe {
            let positive = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, _mm512_setzero_ps());
            _mm512_mask_blend_ps(positive, _mm512_mul_ps(v, slope), v)
        }
    }

    #[inline(always)]
    fn reduce_add8(self, v: [__m512; 8]) -> __m512 {
        // SAFETY: AVX-512F is available (token).
        unsafe {
            // Halves of two vectors added: 128-bit lanes 0, 1 hold `x`'s
            // partial sums, 2, 3 `y`'s.
            let halves = |x, y| _mm512_add_ps(_mm512_shuffle_f32x4::<0x44>(x, y), _mm512_shuffle_f32x4::<0xEE>(x, y));
            // Then 128-bit lane `k` holds four partial sums of vector `k`.
            let quarters = |x, y| _mm512_add_ps(_mm512_shuffle_f32x4::<0x88>(x, y), _mm512_shuffle_f32x4::<0xDD>(x, y));
            let lo = quarters(halves(v[0], v[1]), halves(v[2], v[3]));
            let hi = quarters(halves(v[4], v[5]), halves(v[6], v[7]));
            // Within each 128-bit lane `k`: element 0 the sum of `v[k]`,
            // element 1 that of `v[k + 4]`.
            let pairs = _mm512_add_ps(_mm512_unpacklo_ps(lo, hi), _mm512_unpackhi_ps(lo, hi));
            let sums = _mm512_add_ps(pairs, _mm512_permute_ps::<0x4E>(pairs));
            let order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
            _mm512_permutexvar_ps(order, sums)
        }
    }

    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> __m512 {
        // SAFETY: AVX-512F is available (token); the caller guarantees the
        // 16 floats at `p` are readable.
        unsafe { _mm512_loadu_ps(p) }
    }

    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: __m512) {
        // SAFETY: AVX-512F is available (token); the caller guarantees the
        // 16 floats at `p` are writable.
        unsafe { _mm512_storeu_ps(p, v) }
    }

    #[inline(always)]
    unsafe fn maskz_load(self, p: *const f32, m: __mmask16) -> __m512 {
        // SAFETY: AVX-512F is available (token); a masked load touches only
        // the enabled lanes (masked-off lanes cannot fault), and the caller
        // guarantees those are readable.
        unsafe { _mm512_maskz_loadu_ps(m, p) }
    }

    #[inline(always)]
    unsafe fn mask_store(self, p: *mut f32, m: __mmask16, v: __m512) {
        // SAFETY: as `maskz_load`, for writes.
        unsafe { _mm512_mask_storeu_ps(p, m, v) }
    }

    #[inline(always)]
    fn first_lanes(self, n: usize) -> __mmask16 {
        if n >= 16 {
            0xffff
        } else {
            ((1u32 << n) - 1) as __mmask16
        }
    }

    #[inline(always)]
    fn transpose(self, m: &mut [__m512]) {
        let m: &mut [__m512; 16] = m.try_into().expect("transpose: 16 rows");
        // SAFETY: AVX-512F is available (token).
        unsafe {
            let mut t = [_mm512_setzero_ps(); 16];
            // 2×2 blocks of 1×1, then of 2×2 (within 128-bit lanes) ...
            for i in 0..8 {
                t[2 * i] = _mm512_unpacklo_ps(m[2 * i], m[2 * i + 1]);
                t[2 * i + 1] = _mm512_unpackhi_ps(m[2 * i], m[2 * i + 1]);
            }
            for i in 0..4 {
                m[4 * i] = _mm512_shuffle_ps::<0x44>(t[4 * i], t[4 * i + 2]);
                m[4 * i + 1] = _mm512_shuffle_ps::<0xEE>(t[4 * i], t[4 * i + 2]);
                m[4 * i + 2] = _mm512_shuffle_ps::<0x44>(t[4 * i + 1], t[4 * i + 3]);
                m[4 * i + 3] = _mm512_shuffle_ps::<0xEE>(t[4 * i + 1], t[4 * i + 3]);
            }
            // ... then of 4×4 and 8×8 (128-bit lanes across registers).
            for i in 0..2 {
                for j in 0..4 {
                    t[8 * i + j] = _mm512_shuffle_f32x4::<0x88>(m[8 * i + j], m[8 * i + 4 + j]);
                    t[8 * i + 4 + j] = _mm512_shuffle_f32x4::<0xDD>(m[8 * i + j], m[8 * i + 4 + j]);
                }
            }
            for j in 0..8 {
                m[j] = _mm512_shuffle_f32x4::<0x88>(t[j], t[8 + j]);
                m[8 + j] = _mm512_shuffle_f32x4::<0xDD>(t[j], t[8 + j]);
            }
        }
    }

    #[inline(always)]
    fn mask_from_bits(self, bits: u32) -> __mmask16 {
        bits as __mmask16
    }

    #[inline(always)]
    unsafe fn maskz_load_pairs_even(self, p: *const f32, m_lo: __mmask16, m_hi: __mmask16) -> __m512 {
        // SAFETY: AVX-512F is available (token); the masked loads touch only
        // the enabled elements, which the caller guarantees are readable
        // (the second pointer is formed with wrapping arithmetic).
        unsafe {
            let a = _mm512_maskz_loadu_ps(m_lo, p);
            let b = _mm512_maskz_loadu_ps(m_hi, p.wrapping_add(16));
            let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            _mm512_permutex2var_ps(a, even, b)
        }
    }

    #[inline(always)]
    fn deinterleave(self, a: __m512, b: __m512) -> (__m512, __m512) {
        // SAFETY: AVX-512F is available (token).
        unsafe {
            let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            (_mm512_permutex2var_ps(a, even, b), _mm512_permutex2var_ps(a, odd, b))
        }
    }

    #[inline(always)]
    fn mask_and(self, a: __mmask16, b: __mmask16) -> __mmask16 {
        a & b
    }

    #[inline(always)]
    fn load_i32(self, p: &[i32]) -> __m512i {
        let p = &p[..16];
        // SAFETY: AVX-512F is available (token); `p` holds 16 i32s.
        unsafe { _mm512_loadu_epi32(p.as_ptr()) }
    }

    #[inline(always)]
    fn splat_i32(self, x: i32) -> __m512i {
        // SAFETY: AVX-512F is available (token).
        unsafe { _mm512_set1_epi32(x) }
    }

    #[inline(always)]
    fn add_i32(self, a: __m512i, b: __m512i) -> __m512i {
        // SAFETY: AVX-512F is available (token).
        unsafe { _mm512_add_epi32(a, b) }
    }

    #[inline(always)]
    fn in_range(self, x: __m512i, n: __m512i) -> __mmask16 {
        // Unsigned `x < n` is `0 <= x < n` for signed x and n >= 0.
        // SAFETY: AVX-512F is available (token).
        unsafe { _mm512_cmplt_epu32_mask(x, n) }
    }
}
