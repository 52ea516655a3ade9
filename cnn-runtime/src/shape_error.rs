//! The one run-time shape error: a flat buffer of the wrong length.

use core::fmt;

/// A flat buffer passed to [`crate::Model::forward_slice`] has the wrong length.
///
/// Nested-array entry points cannot fail this way: there the shape is in the type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapeError {
    /// Which buffer was wrong.
    pub buffer: Buffer,
    /// The number of `f32` values the model needs.
    pub expected: usize,
    /// The number of `f32` values passed.
    pub found: usize,
}

/// The buffer a [`ShapeError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffer {
    /// The input slice.
    Input,
    /// The output slice.
    Output,
}

impl ShapeError {
    pub(crate) fn input(expected: usize, found: usize) -> Self {
        ShapeError {
            buffer: Buffer::Input,
            expected,
            found,
        }
    }

    pub(crate) fn output(expected: usize, found: usize) -> Self {
        ShapeError {
            buffer: Buffer::Output,
            expected,
            found,
        }
    }
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let which = match self.buffer {
            Buffer::Input => "input",
            Buffer::Output => "output",
        };
        write!(
            f,
            "{which} buffer holds {} values but the model needs exactly {}",
            self.found, self.expected
        )
    }
}

impl core::error::Error for ShapeError {}
