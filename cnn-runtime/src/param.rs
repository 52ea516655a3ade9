//! Weight storage for generated models.

use core::ops::Deref;

/// One weight tensor of a generated model, typed by its shape
/// (e.g. `Param<[[[[f32; 5]; 5]; 1]; 6]>` for a 6-filter 5x5 conv).
///
/// The data either lives in a `'static` (embedded weights, no allocator needed)
/// or, with the `alloc` feature, in a heap box filled by a loader. The
/// loaders' boxes start on a 64-byte cache line, so vector loads of a tensor's rows do
/// not straddle two lines.
pub struct Param<T: 'static>(Repr<T>);

enum Repr<T: 'static> {
    Static(&'static T),
    #[cfg(feature = "alloc")]
    Owned(alloc::boxed::Box<T>),
    #[cfg(feature = "alloc")]
    Aligned(alloc::boxed::Box<CacheAligned<T>>),
}

/// `T` starting on a 64-byte boundary: a cache line, and one AVX-512 vector.
///
/// A weight tensor in a plain box starts wherever the allocator puts it
/// (16 bytes past a page for large ones with glibc), so with 64-byte vector
/// loads every other one straddles two cache lines. LeNet-5's `fc1` (400 ×
/// 120, rows of exactly 25 lines), read from L2 with the cache disturbed
/// between calls as in a forward pass, measured 1.80 µs from an aligned
/// start against 2.09 µs from the allocator's (Zen 4, AVX-512).
#[cfg(feature = "alloc")]
#[repr(C, align(64))]
pub(crate) struct CacheAligned<T>(pub(crate) T);

// SAFETY: a `repr(C)` wrapper of one `Zeroable` field; its trailing padding
// may hold any bytes, zero included.
#[cfg(feature = "alloc")]
unsafe impl<T: bytemuck::Zeroable> bytemuck::Zeroable for CacheAligned<T> {}

impl<T: 'static> Param<T> {
    /// Wraps data with `'static` lifetime, such as weights embedded in the binary.
    ///
    /// ```
    /// static BIAS: [f32; 3] = [0.1, 0.2, 0.3];
    /// let p = cnn_runtime::Param::from_static(&BIAS);
    /// assert_eq!(p[2], 0.3);
    /// ```
    pub const fn from_static(data: &'static T) -> Self {
        Param(Repr::Static(data))
    }

    /// Wraps heap-owned data, as a loader produces.
    ///
    /// ```
    /// let p = cnn_runtime::Param::from_box(Box::new([1.0f32, 2.0]));
    /// assert_eq!(*p, [1.0, 2.0]);
    /// ```
    #[cfg(feature = "alloc")]
    pub fn from_box(data: alloc::boxed::Box<T>) -> Self {
        Param(Repr::Owned(data))
    }

    /// A zeroed tensor on the heap, 64-byte aligned, filled in place by
    /// `fill` (no copy through the stack): how the loaders build weights.
    #[cfg(feature = "alloc")]
    pub(crate) fn zeroed_aligned(fill: impl FnOnce(&mut T)) -> Self
    where
        T: bytemuck::Zeroable,
    {
        let mut data: alloc::boxed::Box<CacheAligned<T>> = bytemuck::zeroed_box();
        fill(&mut data.0);
        Param(Repr::Aligned(data))
    }
}

impl<T: 'static> Deref for Param<T> {
    type Target = T;

    fn deref(&self) -> &T {
        match &self.0 {
            Repr::Static(data) => data,
            #[cfg(feature = "alloc")]
            Repr::Owned(data) => data,
            #[cfg(feature = "alloc")]
            Repr::Aligned(data) => &data.0,
        }
    }
}

impl<T: 'static> core::fmt::Debug for Param<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Weight tensors can hold millions of values; their size is what helps.
        write!(f, "Param<{} bytes>", core::mem::size_of::<T>())
    }
}

/// A `state_dict` tensor a model expects: its key and PyTorch shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSpec {
    /// The `state_dict` key, e.g. `"conv1.weight"` or `"features.0.bias"`.
    pub key: &'static str,
    /// The shape in PyTorch's layout, e.g. `[6, 1, 5, 5]` for a conv weight.
    pub shape: &'static [usize],
}

impl ParamSpec {
    /// Number of elements, the product of the shape.
    ///
    /// ```
    /// let spec = cnn_runtime::ParamSpec { key: "conv1.weight", shape: &[6, 1, 5, 5] };
    /// assert_eq!(spec.numel(), 150);
    /// ```
    pub const fn numel(&self) -> usize {
        let mut n = 1;
        let mut i = 0;
        while i < self.shape.len() {
            n *= self.shape[i];
            i += 1;
        }
        n
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    /// Loader-built tensors start on a cache line whatever their size, and
    /// hold what `fill` wrote.
    #[test]
    fn loader_tensors_are_cache_line_aligned() {
        fn check<T: bytemuck::Pod>() {
            for _ in 0..4 {
                let p: Param<T> = Param::zeroed_aligned(|t: &mut T| {
                    for (i, x) in crate::__private::flat_mut(t).iter_mut().enumerate() {
                        *x = i as f32;
                    }
                });
                let at = &*p as *const T as usize;
                assert_eq!(at % 64, 0, "{} bytes at {at:#x}", core::mem::size_of::<T>());
                let flat: &[f32] = bytemuck::cast_slice(core::slice::from_ref(&*p));
                assert!(flat.iter().enumerate().all(|(i, &x)| x == i as f32));
            }
        }
        check::<[f32; 1]>();
        check::<[f32; 10]>();
        check::<[[f32; 400]; 120]>();
        check::<[[[[f32; 3]; 3]; 64]; 64]>();
    }
}
