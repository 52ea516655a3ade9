//! Stack buffers of which each call uses (and so zeroes) only a prefix.

use core::mem::MaybeUninit;

/// `N` floats on the stack, aligned for vector loads, left uninitialised
/// until [`StackBuffer::zeroed_prefix`] hands out a zeroed prefix: a
/// convolution on a small plane then pays for zeroing what it uses, not the
/// whole buffer.
#[repr(C, align(64))]
pub(crate) struct StackBuffer<const N: usize>(MaybeUninit<[f32; N]>);

impl<const N: usize> StackBuffer<N> {
    /// An uninitialised buffer.
    #[inline(always)]
    pub(crate) fn new() -> Self {
        StackBuffer(MaybeUninit::uninit())
    }

    /// The first `len` floats, zeroed.
    ///
    /// # Panics
    /// If `len > N`.
    #[inline(always)]
    pub(crate) fn zeroed_prefix(&mut self, len: usize) -> &mut [f32] {
        assert!(len <= N, "stack buffer: {len} > {N} floats");
        let p = self.0.as_mut_ptr().cast::<f32>();
        // SAFETY: `p .. p + len` lies inside the buffer (`len <= N`), which
        // is exclusively borrowed for the returned lifetime; zero bytes are
        // a valid f32, so after `write_bytes` the prefix is initialised.
        unsafe {
            p.write_bytes(0, len);
            core::slice::from_raw_parts_mut(p, len)
        }
    }
}
