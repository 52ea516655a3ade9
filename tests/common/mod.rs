//! Helpers for the golden tests (tests/golden.rs): reading a case's
//! `<case>.io.safetensors` fixture and comparing an output with PyTorch's.
#![allow(dead_code)]

use safetensors::{Dtype, SafeTensors};
use std::fmt::Display;

/// Relative tolerance of [`assert_close`].
///
/// Float32 summation in a different order than PyTorch's (its im2col/GEMM or
/// oneDNN kernels against our direct loops) gives errors of a few ulps of the
/// largest partial sums, not of each output. So every element must satisfy
/// `|got - want| <= ATOL + RTOL * |want|` with `ATOL = ATOL_FRACTION * max|want|`:
/// 1e-5 of the output's scale bounds those few ulps (1 ulp is ~6e-8 relative)
/// with a wide margin for these small models. scripts/gen_golden.py measures
/// PyTorch's own float32 error against float64 for every case: at most ~5e-7 of
/// the scale.
pub const RTOL: f32 = 1e-5;
/// `ATOL = ATOL_FRACTION * max|want|`; see [`RTOL`].
pub const ATOL_FRACTION: f32 = 1e-5;

/// One tensor of a fixture: its values (little-endian f32) and its shape.
pub struct Tensor {
    pub values: Vec<f32>,
    pub shape: Vec<usize>,
}

/// The `input` and `output` of a golden case, batch dimension dropped.
pub struct Io {
    pub input: Tensor,
    pub output: Tensor,
}

/// Unwraps `result`, panicking with the case name and the error's message.
pub fn ok<T, E: Display>(case: &str, result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{case}: {e}"),
    }
}

/// Asserts that the model's input and output shapes are the fixture's.
pub fn assert_shapes(case: &str, input: &[usize], output: &[usize], io: &Io) {
    let fixture = (io.input.shape.as_slice(), io.output.shape.as_slice());
    assert_eq!((input, output), fixture, "{case}: (input, output) shapes");
}

/// Reads `input` and `output` from a case's `.io.safetensors` bytes.
pub fn read_io(case: &str, bytes: &[u8]) -> Io {
    let file = ok(case, SafeTensors::deserialize(bytes));
    let input = read_f32(case, &file, "input");
    let output = read_f32(case, &file, "output");
    Io { input, output }
}

fn read_f32(case: &str, file: &SafeTensors, name: &str) -> Tensor {
    let what = format!("{case}: io tensor `{name}`");
    let view = ok(&what, file.tensor(name));
    assert_eq!(view.dtype(), Dtype::F32, "{what} is not float32");
    let data = view.data();
    assert_eq!(data.len() % 4, 0, "{what} has a partial f32");
    // The data may be unaligned within the file: decode each value on its own.
    let values: Vec<f32> = data.chunks_exact(4).map(le_f32).collect();
    let shape = view.shape().to_vec();
    let numel: usize = shape.iter().product();
    assert_eq!(values.len(), numel, "{what}: size vs shape {shape:?}");
    Tensor { values, shape }
}

fn le_f32(bytes: &[u8]) -> f32 {
    f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Asserts that every element of `got` is within tolerance of `want` (see
/// [`RTOL`]). On failure, reports the first element out of tolerance and the
/// largest error over the whole output.
pub fn assert_close(case: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{case}: output length");
    let scale = want.iter().fold(0.0f32, |m, w| m.max(w.abs()));
    let atol = ATOL_FRACTION * scale;
    let mut max_err = 0.0f32;
    let mut max_at = 0;
    let mut first_bad = None;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        // A NaN anywhere fails.
        let bad = err.is_nan() || err > atol + RTOL * w.abs();
        if bad && first_bad.is_none() {
            first_bad = Some((i, g, w, err));
        }
        if err > max_err || (err.is_nan() && !max_err.is_nan()) {
            max_err = err;
            max_at = i;
        }
    }
    if let Some((i, g, w, err)) = first_bad {
        let allowed = atol + RTOL * w.abs();
        let (n, max_got, max_want) = (got.len(), got[max_at], want[max_at]);
        panic!(
            "{case}: output[{i}]: got {g}, want {w} (PyTorch); |diff| {err:e} > allowed {allowed:e}. \
             Max |diff| over all {n} outputs: {max_err:e} at [{max_at}] \
             (got {max_got}, want {max_want}); output scale max|want| = {scale}"
        );
    }
}
