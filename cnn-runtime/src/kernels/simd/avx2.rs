//! [`Simd`] on AVX2 with FMA: 8 lanes, all-ones `__m256i` lanes as masks.

use super::Simd;
use core::arch::x86_64::*;

/// Proof that the CPU supports AVX2 and FMA (a value exists only then).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2(());

impl Avx2 {
    /// The token.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[inline(always)]
    pub(crate) unsafe fn new_unchecked() -> Self {
        Avx2(())
    }
}

// SAFETY (for every `unsafe` block below that only calls intrinsics on
// register values): an `Avx2` value exists only if the CPU supports AVX2 and
// FMA (see `new_unchecked`), which is all these intrinsics require.
impl Simd for Avx2 {
    const LANES: usize = 8;
    const REGISTERS: usize = 16;
    type V = __m256;
    type M = __m256i;
    type I = __m256i;

    #[inline(always)]
    fn zero(self) -> __m256 {
        // SAFETY: AVX2 is available (token).
        unsafe { _mm256_setzero_ps() }
    }

    #[inline(always)]
    fn splat(self, x: f32) -> __m256 {
        // SAFETY: AVX2 is available (token).
        unsafe { _mm256_set1_ps(x) }
    }

    #[inline(always)]
    fn fma(self, a: __m256, b: __m256, c: __m256) -> __m256 {
        // SAFETY: FMA is available (token).
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }

    #[inline(always)]
    fn add(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is available (token).
        unsafe { _mm256_add_ps(a, b) }
    }

    #[inline(always)]
    fn sub(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX2 is available (token).
        unsafe { _mm256_sub_ps(a, b) }
    }

    #[inline(always)]
    fn maskz_permute2(self, m: __m256i, a: __m256, b: __m256, idx: __m256i) -> __m256 {
        // `vpermps` uses the low 3 bits of each index: permute both, then
        // take `b`'s lanes where the index is 8 or more.
        // SAFETY: AVX2 is available (token).
        unsafe {
            let from_b = _mm256_castsi256_ps(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(7)));
            let v = _mm256_blendv_ps(
                _mm256_permutevar8x32_ps(a, idx),
                _mm256_permutevar8x32_ps(b, idx),
                from_b,
            );
            _mm256_and_ps(v, _mm256_castsi256_ps(m))
        }
    }

    #[inline(always)]
    fn max_nan(self, a: __m256, b: __m256) -> __m256 {
        // `vmaxps` returns its second operand when either is NaN; where the
        // pair is unordered, `a + b` is NaN instead.
        // SAFETY: AVX2 is available (token).
        unsafe {
            let unordered = _mm256_cmp_ps::<_CMP_UNORD_Q>(a, b);
            _mm256_blendv_ps(_mm256_max_ps(a, b), _mm256_add_ps(a, b), unordered)
        }
    }

    #[inline(always)]
    fn min_nan(self, a: __m256, b: __m256) -> __m256 {
        // As `max_nan`.
        // SAFETY: AVX2 is available (token).
        unsafe {
            let unordered = _mm256_cmp_ps::<_CMP_UNORD_Q>(a, b);
            _mm256_blendv_ps(_mm256_min_ps(a, b), _mm256_add_ps(a, b), unordered)
        }
    }

    #[inline(always)]
    fn floor_at(self, v: __m256, lo: __m256) -> __m256 {
        // `vmaxps(a, b)` is `a > b ? a : b`: the second operand whenever the
        // comparison is false, which keeps NaN and equal zeros.
        // SAFETY: AVX2 is available (token).
        unsafe { _mm256_max_ps(lo, v) }
    }

    #[inline(always)]
    fn ceil_at(self, v: __m256, hi: __m256) -> __m256 {
        // `vminps(a, b)` is `a < b ? a : b` (see `floor_at`).
        // SAFETY: AVX2 is available (token).
        unsafe { _mm256_min_ps(hi, v) }
    }

    #[inline(always)]
    fn leaky(self, v: __m256, slope: __m256) -> __m256 {
        // SAFETY: AVX2 is available (token).
        unsafe {
            let positive = _mm256_cmp_ps::<_CMP_GT_OQ>(v, _mm256_setzero_ps());
            _mm256_blendv_ps(_mm256_mul_ps(v, slope), v, positive)
        }
    }

    #[inline(always)]
    fn reduce_add8(self, v: [__m256; 8]) -> __m256 {
        // SAFETY: AVX2 is available (token).
        unsafe {
            // Pairwise sums within each 128-bit half, twice: half 0 then
            // holds four partial sums of `v[0..4]` (or `v[4..8]`), half 1
            // the other four.
            let lo = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
            let hi = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
            _mm256_add_ps(
                _mm256_permute2f128_ps::<0x20>(lo, hi),
                _mm256_permute2f128_ps::<0x31>(lo, hi),
            )
        }
    }

    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> __m256 {
        // SAFETY: AVX2 is available (token); the caller guarantees the 8
        // floats at `p` are readable.
        unsafe { _mm256_loadu_ps(p) }
    }

    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: __m256) {
        // SAFETY: AVX2 is available (token); the caller guarantees the 8
        // floats at `p` are writable.
        unsafe { _mm256_storeu_ps(p, v) }
    }

    #[inline(always)]
    unsafe fn maskz_load(self, p: *const f32, m: __m256i) -> __m256 {
        // `vmaskmovps` is slow on some CPUs (AMD): a whole vector takes a
        // plain load.
        // SAFETY: AVX2 is available (token); with every lane enabled the
        // caller guarantees all 8 floats at `p` are readable, else
        // `vmaskmovps` touches only the lanes whose mask sign bit is set
        // (others cannot fault), which the caller guarantees are readable.
        unsafe {
            if _mm256_movemask_ps(_mm256_castsi256_ps(m)) == 0xff {
                _mm256_loadu_ps(p)
            } else {
                _mm256_maskload_ps(p, m)
            }
        }
    }

    #[inline(always)]
    unsafe fn mask_store(self, p: *mut f32, m: __m256i, v: __m256) {
        // As `maskz_load`; the masked store is the slow one on AMD.
        // SAFETY: as `maskz_load`, for writes.
        unsafe {
            match _mm256_movemask_ps(_mm256_castsi256_ps(m)) {
                0xff => _mm256_storeu_ps(p, v),
                0 => {}
                _ => _mm256_maskstore_ps(p, m, v),
            }
        }
    }

    #[inline(always)]
    fn first_lanes(self, n: usize) -> __m256i {
        let n = n.min(8) as i32;
        // SAFETY: AVX2 is available (token).
        unsafe { _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)) }
    }

    #[inline(always)]
    fn transpose(self, m: &mut [__m256]) {
        let m: &mut [__m256; 8] = m.try_into().expect("transpose: 8 rows");
        // SAFETY: AVX2 is available (token).
        unsafe {
            let mut t = [_mm256_setzero_ps(); 8];
            for i in 0..4 {
                t[2 * i] = _mm256_unpacklo_ps(m[2 * i], m[2 * i + 1]);
                t[2 * i + 1] = _mm256_unpackhi_ps(m[2 * i], m[2 * i + 1]);
            }
            for i in 0..2 {
                m[4 * i] = _mm256_shuffle_ps::<0x44>(t[4 * i], t[4 * i + 2]);
                m[4 * i + 1] = _mm256_shuffle_ps::<0xEE>(t[4 * i], t[4 * i + 2]);
                m[4 * i + 2] = _mm256_shuffle_ps::<0x44>(t[4 * i + 1], t[4 * i + 3]);
                m[4 * i + 3] = _mm256_shuffle_ps::<0xEE>(t[4 * i + 1], t[4 * i + 3]);
            }
            for j in 0..4 {
                t[j] = _mm256_permute2f128_ps::<0x20>(m[j], m[4 + j]);
                t[4 + j] = _mm256_permute2f128_ps::<0x31>(m[j], m[4 + j]);
            }
            *m = t;
        }
    }

    #[inline(always)]
    fn mask_from_bits(self, bits: u32) -> __m256i {
        // SAFETY: AVX2 is available (token).
        unsafe {
            let bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
            let set = _mm256_and_si256(_mm256_set1_epi32(bits as i32), bit);
            _mm256_cmpeq_epi32(set, bit)
        }
    }

    #[inline(always)]
    unsafe fn maskz_load_pairs_even(self, p: *const f32, m_lo: __m256i, m_hi: __m256i) -> __m256 {
        // SAFETY: AVX2 is available (token); the masked loads touch only the
        // enabled elements, which the caller guarantees are readable (the
        // second pointer is formed with wrapping arithmetic).
        unsafe {
            let a = self.maskz_load(p, m_lo);
            let b = self.maskz_load(p.wrapping_add(8), m_hi);
            // [a0 a2 b0 b2 | a4 a6 b4 b6], then the middle 64-bit pairs swapped.
            let pairs = _mm256_shuffle_ps::<0b10_00_10_00>(a, b);
            _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(pairs)))
        }
    }

    #[inline(always)]
    fn deinterleave(self, a: __m256, b: __m256) -> (__m256, __m256) {
        // SAFETY: AVX2 is available (token).
        unsafe {
            // [a0 a2 b0 b2 | a4 a6 b4 b6], then the middle 64-bit pairs
            // swapped; the same for the odd elements.
            let even = _mm256_shuffle_ps::<0b10_00_10_00>(a, b);
            let odd = _mm256_shuffle_ps::<0b11_01_11_01>(a, b);
            (
                _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(even))),
                _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(odd))),
            )
        }
    }

    #[inline(always)]
    fn mask_and(self, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: AVX2 is available (token).
        unsafe { _mm256_and_si256(a, b) }
    }

    #[inline(always)]
    fn load_i32(self, p: &[i32]) -> __m256i {
        let p = &p[..8];
        // SAFETY: AVX2 is available (token); `p` holds 8 i32s.
        unsafe { _mm256_loadu_si256(p.as_ptr().cast()) }
    }

    #[inline(always)]
    fn splat_i32(self, x: i32) -> __m256i {
        // SAFETY: AVX2 is available (token).
        unsafe { _mm256_set1_epi32(x) }
    }

    #[inline(always)]
    fn add_i32(self, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: AVX2 is available (token).
        unsafe { _mm256_add_epi32(a, b) }
    }

    #[inline(always)]
    fn in_range(self, x: __m256i, n: __m256i) -> __m256i {
        // SAFETY: AVX2 is available (token).
        unsafe {
            let negative = _mm256_cmpgt_epi32(_mm256_setzero_si256(), x);
            _mm256_andnot_si256(negative, _mm256_cmpgt_epi32(n, x))
        }
    }
}
