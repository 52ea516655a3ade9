//! Weight storage for generated models.

use core::ops::Deref;

/// One weight tensor of a generated model, typed by its shape
/// (e.g. `Param<[[[[f32; 5]; 5]; 1]; 6]>` for a 6-filter 5x5 conv).
///
/// The data either lives in a `'static` (embedded weights, no allocator needed)
/// or, with the `alloc` feature, in a heap box filled by a loader.
pub struct Param<T: 'static>(Repr<T>);

enum Repr<T: 'static> {
    Static(&'static T),
    #[cfg(feature = "alloc")]
    Owned(alloc::boxed::Box<T>),
}

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
}

impl<T: 'static> Deref for Param<T> {
    type Target = T;

    fn deref(&self) -> &T {
        match &self.0 {
            Repr::Static(data) => data,
            #[cfg(feature = "alloc")]
            Repr::Owned(data) => data,
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
