//! A small vector abstraction, so each fast kernel is written once and
//! compiled for AVX-512 and AVX2.
//!
//! A [`Simd`] implementor is a zero-sized *token*: a value exists only if the
//! CPU supports the instruction set (its constructor is `unsafe` and called
//! after detection), which is what makes the safe vector methods sound. The
//! kernels are generic `#[inline(always)]` functions over `S: Simd`; each
//! instruction set has a thin `#[target_feature]` entry point that calls
//! them, so everything (these methods included) is inlined into code
//! compiled for that instruction set.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

#[cfg(target_arch = "x86_64")]
pub(crate) use avx2::Avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) use avx512::Avx512;

/// The element bits (two halves of `lanes` bits) that a stride-2 load of
/// lanes `lo .. hi` reads: elements `2 * lo ..= 2 * hi - 2`.
#[inline(always)]
pub(crate) fn even_element_bits(lanes: usize, lo: usize, hi: usize) -> (u32, u32) {
    if lo >= hi {
        return (0, 0);
    }
    let elements = ((1u64 << (2 * hi - 1)) - 1) & !((1u64 << (2 * lo)) - 1);
    let half = (1u64 << lanes) - 1;
    ((elements & half) as u32, ((elements >> lanes) & half) as u32)
}

/// Vector operations on `LANES` f32 lanes, with lane masks and the few
/// 32-bit integer operations the kernels need for lane coordinates.
///
/// Methods taking raw pointers are `unsafe`: the caller guarantees the
/// lanes they touch are in bounds (for the masked ones, only the enabled
/// lanes).
pub(crate) trait Simd: Copy {
    /// Lanes per vector.
    const LANES: usize;
    /// Vector registers (16 with AVX2, 32 with AVX-512), for kernels whose
    /// register tile must fit them.
    const REGISTERS: usize;
    /// f32 vector.
    type V: Copy;
    /// Lane mask.
    type M: Copy;
    /// i32 vector.
    type I: Copy;

    /// All lanes `0.0`.
    fn zero(self) -> Self::V;
    /// All lanes `x`.
    fn splat(self, x: f32) -> Self::V;
    /// `a * b + c`, fused (one rounding).
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a + b`.
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a - b`.
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    /// Lane `i` is lane `idx[i]` of the `2 * LANES` lanes of `a` then `b`
    /// (`0 <= idx[i] < 2 * LANES`), or zero where `m` is off.
    fn maskz_permute2(self, m: Self::M, a: Self::V, b: Self::V, idx: Self::I) -> Self::V;
    /// Lane-wise maximum, NaN if either lane is NaN (PyTorch's pooling).
    fn max_nan(self, a: Self::V, b: Self::V) -> Self::V;
    /// Lane-wise minimum, NaN if either lane is NaN.
    fn min_nan(self, a: Self::V, b: Self::V) -> Self::V;
    /// Lane `i < 8` is the sum of the lanes of `v[i]` (the other lanes are
    /// unspecified): eight horizontal sums at once, in a tree of shuffles
    /// that is several times shorter than eight separate horizontal sums.
    fn reduce_add8(self, v: [Self::V; 8]) -> Self::V;
    /// `if v < lo { lo } else { v }` per lane: NaN and `-0.0` (for `lo =
    /// 0`) pass through, as in the scalar ReLU.
    fn floor_at(self, v: Self::V, lo: Self::V) -> Self::V;
    /// `if v > hi { hi } else { v }` per lane: NaN passes through.
    fn ceil_at(self, v: Self::V, hi: Self::V) -> Self::V;
    /// `if v > 0 { v } else { v * slope }` per lane (leaky ReLU).
    fn leaky(self, v: Self::V, slope: Self::V) -> Self::V;

    /// Loads `LANES` floats from `p` (any alignment).
    ///
    /// # Safety
    /// `p .. p + LANES` must be readable.
    unsafe fn load(self, p: *const f32) -> Self::V;
    /// Stores `LANES` floats to `p` (any alignment).
    ///
    /// # Safety
    /// `p .. p + LANES` must be writable.
    unsafe fn store(self, p: *mut f32, v: Self::V);
    /// Loads the lanes enabled in `m` from `p + lane`, zero elsewhere;
    /// disabled lanes are not accessed (no fault), so `p` itself may point
    /// outside the buffer (form it with `wrapping_offset`).
    ///
    /// # Safety
    /// `p + lane` must be readable for every lane enabled in `m`.
    unsafe fn maskz_load(self, p: *const f32, m: Self::M) -> Self::V;
    /// Stores the lanes enabled in `m` to `p + lane`; the others are not
    /// accessed.
    ///
    /// # Safety
    /// `p + lane` must be writable for every lane enabled in `m`.
    unsafe fn mask_store(self, p: *mut f32, m: Self::M, v: Self::V);

    /// Transposes the `LANES × LANES` matrix whose rows are `m` (which must
    /// hold exactly `LANES` vectors): afterwards `m[i]` lane `j` is what
    /// `m[j]` lane `i` was.
    fn transpose(self, m: &mut [Self::V]);

    /// The first `n` lanes (`n <= LANES`).
    fn first_lanes(self, n: usize) -> Self::M;
    /// The lanes whose bit is set in `bits` (bit `i` for lane `i`).
    fn mask_from_bits(self, bits: u32) -> Self::M;
    /// Loads lane `i` from `p + 2 * i` for the lanes in `m`, zero elsewhere;
    /// `m_lo` and `m_hi` are the elements read in the two `LANES`-wide
    /// halves of `p .. p + 2 * LANES` (see [`even_element_bits`]).
    ///
    /// # Safety
    /// The elements enabled in `m_lo` (at `p`) and `m_hi` (at `p + LANES`)
    /// must be readable.
    unsafe fn maskz_load_pairs_even(self, p: *const f32, m_lo: Self::M, m_hi: Self::M) -> Self::V;
    /// The even and the odd elements of the `2 * LANES` elements `a` then
    /// `b`: lane `i` of the first is element `2 * i`, of the second `2 * i +
    /// 1`.
    fn deinterleave(self, a: Self::V, b: Self::V) -> (Self::V, Self::V);
    /// Lanes enabled in both.
    fn mask_and(self, a: Self::M, b: Self::M) -> Self::M;

    /// Loads `LANES` i32s from the start of `p` (which must hold that many).
    fn load_i32(self, p: &[i32]) -> Self::I;
    /// All lanes `x`.
    fn splat_i32(self, x: i32) -> Self::I;
    /// `a + b` (wrapping).
    fn add_i32(self, a: Self::I, b: Self::I) -> Self::I;
    /// Lanes with `0 <= x < n` (signed `x`, `n >= 0`).
    fn in_range(self, x: Self::I, n: Self::I) -> Self::M;
}

#[cfg(test)]
mod tests {
    extern crate alloc;

    use super::*;

    /// Transposes a known matrix with `s` and checks every element.
    #[allow(dead_code)]
    fn check_transpose<S: Simd>(s: S) {
        let n = S::LANES;
        let mut rows = [s.zero(); 16];
        let mut buf = [0.0f32; 16];
        for (i, row) in rows.iter_mut().enumerate().take(n) {
            for (j, b) in buf.iter_mut().enumerate().take(n) {
                *b = (i * 100 + j) as f32;
            }
            // SAFETY: `buf` holds 16 >= LANES floats.
            *row = unsafe { s.load(buf.as_ptr()) };
        }
        s.transpose(&mut rows[..n]);
        for (i, row) in rows.iter().enumerate().take(n) {
            // SAFETY: `buf` holds 16 >= LANES floats.
            unsafe { s.store(buf.as_mut_ptr(), *row) };
            for (j, &b) in buf.iter().enumerate().take(n) {
                assert_eq!(b, (j * 100 + i) as f32, "row {i} lane {j}");
            }
        }
    }

    /// Splits `0 .. 2 * LANES` into its even and odd elements.
    #[allow(dead_code)]
    fn check_deinterleave<S: Simd>(s: S) {
        let n = S::LANES;
        let mut buf = [0.0f32; 32];
        for (i, b) in buf.iter_mut().enumerate() {
            *b = i as f32;
        }
        // SAFETY: `buf` holds 32 >= 2 * LANES floats.
        let (even, odd) = unsafe { s.deinterleave(s.load(buf.as_ptr()), s.load(buf.as_ptr().add(n))) };
        let mut out = [0.0f32; 16];
        // SAFETY: `out` holds 16 >= LANES floats.
        unsafe { s.store(out.as_mut_ptr(), even) };
        assert!((0..n).all(|i| out[i] == (2 * i) as f32), "{out:?}");
        // SAFETY: as above.
        unsafe { s.store(out.as_mut_ptr(), odd) };
        assert!((0..n).all(|i| out[i] == (2 * i + 1) as f32), "{out:?}");
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn deinterleaves() {
        use crate::kernels::isa::{detected, Isa};
        if detected() >= Isa::Avx2 {
            // SAFETY: the CPU has AVX2 and FMA.
            check_deinterleave(unsafe { Avx2::new_unchecked() });
        }
        if detected() >= Isa::Avx512 {
            // SAFETY: the CPU has AVX-512F.
            check_deinterleave(unsafe { Avx512::new_unchecked() });
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn transposes() {
        use crate::kernels::isa::{detected, Isa};
        if detected() >= Isa::Avx2 {
            // SAFETY: the CPU has AVX2 and FMA.
            check_transpose(unsafe { Avx2::new_unchecked() });
        }
        if detected() >= Isa::Avx512 {
            // SAFETY: the CPU has AVX-512F.
            check_transpose(unsafe { Avx512::new_unchecked() });
        }
    }

    /// Checks `mask_store` writes exactly the enabled lanes, for every mask
    /// on 8 lanes and every prefix and a scatter of others on 16: the
    /// whole-vector and empty-mask shortcuts and the general masked store.
    #[allow(dead_code)]
    fn check_mask_store<S: Simd>(s: S) {
        let n = S::LANES;
        let masks: alloc::vec::Vec<u32> = if n == 8 {
            (0..256).collect()
        } else {
            (0..=16)
                .map(|k| ((1u64 << k) - 1) as u32)
                .chain([0x8001, 0x00f0, 0xaaaa, 0xfffe])
                .collect()
        };
        let mut src = [0.0f32; 16];
        for (i, x) in src.iter_mut().enumerate() {
            *x = i as f32 + 1.0;
        }
        // SAFETY: `src` holds 16 >= LANES floats.
        let v = unsafe { s.load(src.as_ptr()) };
        for bits in masks {
            // Guards either side catch a write outside the vector.
            let mut out = [-1.0f32; 18];
            // SAFETY: `out[1..]` holds 17 >= LANES floats.
            unsafe { s.mask_store(out.as_mut_ptr().add(1), s.mask_from_bits(bits), v) };
            for (i, &x) in out.iter().enumerate() {
                let lane = i.wrapping_sub(1);
                let want = if lane < n && bits >> lane & 1 == 1 {
                    src[lane]
                } else {
                    -1.0
                };
                assert_eq!(x, want, "mask {bits:#x}, slot {i}");
            }
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn mask_stores_write_only_their_lanes() {
        use crate::kernels::isa::{detected, Isa};
        if detected() >= Isa::Avx2 {
            // SAFETY: the CPU has AVX2 and FMA.
            check_mask_store(unsafe { Avx2::new_unchecked() });
        }
        if detected() >= Isa::Avx512 {
            // SAFETY: the CPU has AVX-512F.
            check_mask_store(unsafe { Avx512::new_unchecked() });
        }
    }

    /// Checks `maskz_permute2` against the definition on every index.
    #[allow(dead_code)]
    fn check_permute2<S: Simd>(s: S) {
        let n = S::LANES;
        let mut buf = [0.0f32; 32];
        for (i, b) in buf.iter_mut().enumerate() {
            *b = i as f32 + 1.0;
        }
        // SAFETY: `buf` holds 32 >= 2 * LANES floats.
        let (a, b) = unsafe { (s.load(buf.as_ptr()), s.load(buf.as_ptr().add(n))) };
        for shift in 0..2 * n {
            let mut idx = [0i32; 16];
            for (i, x) in idx.iter_mut().enumerate() {
                *x = ((i * 7 + shift) % (2 * n)) as i32;
            }
            let m = s.first_lanes(n - 1);
            let v = s.maskz_permute2(m, a, b, s.load_i32(&idx));
            let mut out = [0.0f32; 16];
            // SAFETY: `out` holds 16 >= LANES floats.
            unsafe { s.store(out.as_mut_ptr(), v) };
            for i in 0..n {
                let want = if i < n - 1 { buf[idx[i] as usize] } else { 0.0 };
                assert_eq!(out[i], want, "lane {i}, shift {shift}");
            }
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn permutes() {
        use crate::kernels::isa::{detected, Isa};
        if detected() >= Isa::Avx2 {
            // SAFETY: the CPU has AVX2 and FMA.
            check_permute2(unsafe { Avx2::new_unchecked() });
        }
        if detected() >= Isa::Avx512 {
            // SAFETY: the CPU has AVX-512F.
            check_permute2(unsafe { Avx512::new_unchecked() });
        }
    }

    /// Checks `reduce_add8` with distinct powers of two in every lane: a
    /// lane lost, counted twice or summed into the wrong output changes the
    /// (exact) sums.
    #[allow(dead_code)]
    fn check_reduce_add8<S: Simd>(s: S) {
        let n = S::LANES;
        let mut v = [s.zero(); 8];
        let mut want = [0.0f32; 8];
        for (r, v) in v.iter_mut().enumerate() {
            let mut row = [0.0f32; 16];
            for (i, x) in row.iter_mut().enumerate().take(n) {
                *x = ((r * n + i) as f32).exp2();
            }
            want[r] = row.iter().sum();
            // SAFETY: `row` holds 16 >= LANES floats.
            *v = unsafe { s.load(row.as_ptr()) };
        }
        let mut got = [0.0f32; 16];
        // SAFETY: `got` holds 16 >= LANES floats.
        unsafe { s.store(got.as_mut_ptr(), s.reduce_add8(v)) };
        assert_eq!(got[..8], want);
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn reduces_eight_vectors() {
        use crate::kernels::isa::{detected, Isa};
        if detected() >= Isa::Avx2 {
            // SAFETY: the CPU has AVX2 and FMA.
            check_reduce_add8(unsafe { Avx2::new_unchecked() });
        }
        if detected() >= Isa::Avx512 {
            // SAFETY: the CPU has AVX-512F.
            check_reduce_add8(unsafe { Avx512::new_unchecked() });
        }
    }

    #[test]
    fn even_element_bits_cover_the_pairs() {
        assert_eq!(even_element_bits(16, 0, 0), (0, 0));
        assert_eq!(even_element_bits(16, 0, 1), (1, 0));
        assert_eq!(even_element_bits(16, 1, 3), (0b11100, 0));
        assert_eq!(even_element_bits(16, 0, 16), (0xffff, 0x7fff));
        // Lanes 6 and 7 read elements 12 ..= 14, all in the second half.
        assert_eq!(even_element_bits(8, 6, 8), (0, 0b111_0000));
        assert_eq!(even_element_bits(8, 2, 5), (0b1111_0000, 0b1));
    }
}
