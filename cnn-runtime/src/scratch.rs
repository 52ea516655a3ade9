//! Activation memory for one inference.

/// Two ping-pong activation buffers of `A` and `B` floats.
///
/// Each layer reads the tensor in one buffer and writes its result to the other
/// (activations and batch norm work in place), so one inference needs only the
/// two largest alternating tensors. The generated model names the exact sizes
/// in its `Model::Scratch` type, and [`crate::Model::SCRATCH_BYTES`] reports
/// them. Aligned to 64 bytes for vector loads.
#[repr(C, align(64))]
pub struct Scratch<const A: usize, const B: usize> {
    a: [f32; A],
    b: [f32; B],
}

// SAFETY: the struct is only f32 arrays, so all-zero bytes are a valid value.
unsafe impl<const A: usize, const B: usize> bytemuck::Zeroable for Scratch<A, B> {}

/// Construction of a model's activation memory: on the stack or on the heap.
pub trait ScratchSpace: Sized {
    /// A zeroed scratch, by value. For large models prefer
    /// [`ScratchSpace::new_boxed`], which never touches the stack.
    fn new() -> Self;

    /// A zeroed scratch on the heap, allocated directly (no stack copy).
    #[cfg(feature = "alloc")]
    fn new_boxed() -> alloc::boxed::Box<Self>;

    /// `n` zeroed scratches in one heap allocation (no stack copy): one per
    /// thread for [`crate::Model::forward_batch_with`].
    ///
    /// ```
    /// use cnn_runtime::{Scratch, ScratchSpace};
    ///
    /// let scratches = Scratch::<1024, 512>::new_boxed_slice(4);
    /// assert_eq!(scratches.len(), 4);
    /// ```
    #[cfg(feature = "alloc")]
    fn new_boxed_slice(n: usize) -> alloc::boxed::Box<[Self]>;

    /// The two buffers, for the generated forward pass.
    #[doc(hidden)]
    fn split(&mut self) -> (&mut [f32], &mut [f32]);
}

impl<const A: usize, const B: usize> Scratch<A, B> {
    /// A zeroed scratch, usable in a `static` (e.g. behind a mutex on firmware).
    ///
    /// ```
    /// let s = cnn_runtime::Scratch::<16, 8>::new();
    /// assert_eq!(core::mem::size_of_val(&s), 128);
    /// ```
    pub const fn new() -> Self {
        Scratch {
            a: [0.0; A],
            b: [0.0; B],
        }
    }
}

impl<const A: usize, const B: usize> Default for Scratch<A, B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const A: usize, const B: usize> ScratchSpace for Scratch<A, B> {
    fn new() -> Self {
        Scratch::new()
    }

    #[cfg(feature = "alloc")]
    fn new_boxed() -> alloc::boxed::Box<Self> {
        bytemuck::zeroed_box()
    }

    #[cfg(feature = "alloc")]
    fn new_boxed_slice(n: usize) -> alloc::boxed::Box<[Self]> {
        bytemuck::zeroed_slice_box(n)
    }

    fn split(&mut self) -> (&mut [f32], &mut [f32]) {
        (&mut self.a, &mut self.b)
    }
}
