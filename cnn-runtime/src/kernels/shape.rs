//! The plain C×H×W shape used by the element-wise channel kernels.

use super::window::product;

/// A C×H×W tensor shape as plain numbers, for the kernels that need nothing
/// more ([`super::batch_norm2d`], [`super::softmax_channels`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChwShape {
    /// Channels.
    pub c: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
}

impl ChwShape {
    /// Elements per channel.
    pub const fn plane_len(&self) -> usize {
        self.h * self.w
    }

    /// Elements in the tensor.
    pub const fn len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// Whether the tensor holds no element.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the kernels can run this shape: every dimension at least 1
    /// (a zero would make the per-channel chunking meaningless) and the
    /// element count representable.
    pub const fn check(&self) -> Result<(), &'static str> {
        if self.c == 0 || self.h == 0 || self.w == 0 {
            return Err("tensor dimensions must be at least 1");
        }
        if product(&[self.c, self.h, self.w]).is_none() {
            return Err("tensor size overflows usize");
        }
        Ok(())
    }

    /// [`check`](Self::check), panicking with its message: in a `const`
    /// block this turns a bad shape into a compile error.
    pub const fn assert_valid(&self) {
        if let Err(message) = self.check() {
            panic!("{}", message);
        }
    }
}
