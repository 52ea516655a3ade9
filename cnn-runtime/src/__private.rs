//! Items the generated code calls. Not a public API: names and signatures may
//! change in any release, in step with `cnn-macros` (pinned with `=`).

pub use bytemuck;

use crate::kernels::PackLayout;
use crate::{Packed, Param};
use bytemuck::Pod;

/// A source of checked weight tensors, in [`crate::Model::PARAM_SPECS`] order.
pub trait ParamSource {
    /// The tensor at `index` of `PARAM_SPECS`, as the array type `T`.
    ///
    /// The loader has already checked every name, dtype and shape against the
    /// specs, and the macro derives `T` from the same shapes.
    fn take<T: Pod>(&mut self, index: usize) -> Param<T>;

    /// One convolution's packed weights (see [`Packed`]), written by `fill`:
    /// into `cell`, once per process, for weights embedded in the binary;
    /// into a new heap buffer for loaded ones.
    fn pack<const N: usize>(
        &mut self,
        cell: &'static PackCell<N>,
        fill: impl FnOnce(&mut [f32; N]) -> Option<PackLayout>,
    ) -> Packed<N>;
}

pub use crate::packed::PackCell;

/// Views the front of a scratch buffer as the tensor type `T`.
///
/// The macro sizes each buffer for the largest tensor it holds; the slice
/// bounds check here is the run-time twin of that plan, and cannot fail for
/// generated code.
#[inline(always)]
pub fn view_mut<T: Pod>(buffer: &mut [f32]) -> &mut T {
    let len = core::mem::size_of::<T>() / core::mem::size_of::<f32>();
    bytemuck::from_bytes_mut(bytemuck::cast_slice_mut(&mut buffer[..len]))
}

/// Reinterprets a tensor as another of the same size (Flatten), mutably.
#[inline(always)]
pub fn reshape_mut<A: Pod, B: Pod>(tensor: &mut A) -> &mut B {
    bytemuck::cast_mut(tensor)
}

/// Reinterprets a tensor as another of the same size (Flatten), shared.
#[inline(always)]
pub fn reshape_ref<A: Pod, B: Pod>(tensor: &A) -> &B {
    bytemuck::cast_ref(tensor)
}

/// A tensor as one flat slice, for element-wise kernels.
#[inline(always)]
pub fn flat_mut<T: Pod>(tensor: &mut T) -> &mut [f32] {
    bytemuck::cast_slice_mut(core::slice::from_mut(tensor))
}

/// A tensor as one flat slice, shared.
#[inline(always)]
pub fn flat<T: Pod>(tensor: &T) -> &[f32] {
    bytemuck::cast_slice(core::slice::from_ref(tensor))
}

/// Copies a tensor into another of the same size.
#[inline(always)]
pub fn copy<A: Pod, B: Pod>(from: &A, to: &mut B) {
    flat_mut(to).copy_from_slice(flat(from));
}

/// Weights embedded in the binary: each tensor is read in place.
pub struct Embedded {
    bytes: &'static [u8],
    offsets: &'static [usize],
}

impl Embedded {
    /// `bytes` is the safetensors file; `offsets[i]` is where tensor `i` of
    /// `PARAM_SPECS` starts, checked (shape, dtype, alignment) by the macro.
    pub const fn new(bytes: &'static [u8], offsets: &'static [usize]) -> Self {
        Embedded { bytes, offsets }
    }
}

impl ParamSource for Embedded {
    fn take<T: Pod>(&mut self, index: usize) -> Param<T> {
        let start = self.offsets[index];
        let end = start + core::mem::size_of::<T>();
        // The macro checked bounds and 4-byte alignment while compiling.
        Param::from_static(bytemuck::from_bytes(&self.bytes[start..end]))
    }

    fn pack<const N: usize>(
        &mut self,
        cell: &'static PackCell<N>,
        fill: impl FnOnce(&mut [f32; N]) -> Option<PackLayout>,
    ) -> Packed<N> {
        cell.get_or_pack(fill)
    }
}
