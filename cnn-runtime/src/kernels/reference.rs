//! Naive reference implementations, the oracle for tests.
//!
//! Each function is written straight from PyTorch's definition of the
//! operation: nested loops over output channel and position, then the
//! window, with explicit signed padding checks. They share no index
//! arithmetic with the fast kernels (only the geometry structs that describe
//! the call), so a mistake in one is caught by the other. They are slow and
//! meant only for testing; every slice is flat CHW (or OIHW for weights).
//!
//! They index freely and panic if a slice is shorter than its geometry says.

use super::{AdaptivePool2dGeometry, AvgPool2dGeometry, ChwShape, Conv2dGeometry, LinearGeometry, Pool2dGeometry};

/// `base + step * k - pad` as a signed input coordinate.
fn coordinate(base: usize, step: usize, k: usize, pad: usize) -> isize {
    (base * step) as isize + k as isize - pad as isize
}

/// 2-D convolution: each output is `bias[co]` plus, over the input
/// channels `ci` of output channel `co`'s group and the taps `(ky, kx)`,
/// `input[ci][oy * sh + ky * dh - pt][ox * sw + kx * dw - pl]` times
/// `weight[co][ci][ky][kx]`, where positions outside the input read zero.
pub fn conv2d(g: &Conv2dGeometry, input: &[f32], weight: &[f32], bias: Option<&[f32]>, output: &mut [f32]) {
    let cin_per_group = g.cin / g.groups;
    let cout_per_group = g.cout / g.groups;
    for co in 0..g.cout {
        let group = co / cout_per_group;
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let mut acc = 0.0f32;
                for ci in 0..cin_per_group {
                    let channel = group * cin_per_group + ci;
                    for ky in 0..g.kh {
                        for kx in 0..g.kw {
                            let iy = coordinate(oy, g.sh, ky * g.dh, g.pt);
                            let ix = coordinate(ox, g.sw, kx * g.dw, g.pl);
                            if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize {
                                continue;
                            }
                            let x = input[(channel * g.h + iy as usize) * g.w + ix as usize];
                            let w = weight[((co * cin_per_group + ci) * g.kh + ky) * g.kw + kx];
                            acc += x * w;
                        }
                    }
                }
                let b = match bias {
                    Some(bias) => bias[co],
                    None => 0.0,
                };
                output[(co * g.oh + oy) * g.ow + ox] = acc + b;
            }
        }
    }
}

/// Max pooling: the largest in-range element of each (dilated) window,
/// starting from -inf so padding never wins; a NaN anywhere in the window
/// gives NaN (PyTorch's `val > max || isnan(val)`).
pub fn max_pool2d(g: &Pool2dGeometry, input: &[f32], output: &mut [f32]) {
    pool(g, input, output, f32::NEG_INFINITY, |candidate, best| {
        candidate > best || candidate.is_nan()
    });
}

/// Min pooling: the mirror image of [`max_pool2d`] (starting from +inf).
pub fn min_pool2d(g: &Pool2dGeometry, input: &[f32], output: &mut [f32]) {
    pool(g, input, output, f32::INFINITY, |candidate, best| {
        candidate < best || candidate.is_nan()
    });
}

/// Shared loop of the two selecting pools: `replaces(candidate, best)`
/// decides whether an element takes over the window's result.
fn pool(g: &Pool2dGeometry, input: &[f32], output: &mut [f32], start: f32, replaces: impl Fn(f32, f32) -> bool) {
    for c in 0..g.c {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let mut best = start;
                for ky in 0..g.kh {
                    for kx in 0..g.kw {
                        let iy = coordinate(oy, g.sh, ky * g.dh, g.pt);
                        let ix = coordinate(ox, g.sw, kx * g.dw, g.pl);
                        if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize {
                            continue;
                        }
                        let x = input[(c * g.h + iy as usize) * g.w + ix as usize];
                        if replaces(x, best) {
                            best = x;
                        }
                    }
                }
                output[(c * g.oh + oy) * g.ow + ox] = best;
            }
        }
    }
}

/// Average pooling, transcribed from PyTorch's CPU `avg_pool2d` kernel:
/// the padded window size is taken before clipping to the input (with the
/// end capped at `len + pad`), then the clipped window is summed and divided
/// by the override, the padded size, or the clipped count.
pub fn avg_pool2d(g: &AvgPool2dGeometry, input: &[f32], output: &mut [f32]) {
    let (h, w) = (g.h as isize, g.w as isize);
    for c in 0..g.c {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let mut hstart = (oy * g.sh) as isize - g.pt as isize;
                let mut wstart = (ox * g.sw) as isize - g.pl as isize;
                let mut hend = (hstart + g.kh as isize).min(h + g.pt as isize);
                let mut wend = (wstart + g.kw as isize).min(w + g.pl as isize);
                let pool_size = (hend - hstart) * (wend - wstart);
                hstart = hstart.max(0);
                wstart = wstart.max(0);
                hend = hend.min(h);
                wend = wend.min(w);
                let index = (c * g.oh + oy) * g.ow + ox;
                if hstart >= hend || wstart >= wend {
                    output[index] = 0.0;
                    continue;
                }
                let mut sum = 0.0f32;
                for iy in hstart..hend {
                    for ix in wstart..wend {
                        sum += input[(c * g.h + iy as usize) * g.w + ix as usize];
                    }
                }
                let divisor = if g.divisor_override != 0 {
                    g.divisor_override as isize
                } else if g.count_include_pad {
                    pool_size
                } else {
                    (hend - hstart) * (wend - wstart)
                };
                output[index] = sum / divisor as f32;
            }
        }
    }
}

/// Adaptive average pooling: output `i` of `out` averages inputs
/// `floor(i * len / out)` up to `ceil((i + 1) * len / out)` (exclusive),
/// on each axis.
pub fn adaptive_avg_pool2d(g: &AdaptivePool2dGeometry, input: &[f32], output: &mut [f32]) {
    let floor = |i: usize, len: usize, out: usize| i * len / out;
    let ceil = |i: usize, len: usize, out: usize| (i * len).div_ceil(out);
    for c in 0..g.c {
        for oy in 0..g.oh {
            let (y0, y1) = (floor(oy, g.h, g.oh), ceil(oy + 1, g.h, g.oh));
            for ox in 0..g.ow {
                let (x0, x1) = (floor(ox, g.w, g.ow), ceil(ox + 1, g.w, g.ow));
                let mut sum = 0.0f32;
                for iy in y0..y1 {
                    for ix in x0..x1 {
                        sum += input[(c * g.h + iy) * g.w + ix];
                    }
                }
                output[(c * g.oh + oy) * g.ow + ox] = sum / ((y1 - y0) * (x1 - x0)) as f32;
            }
        }
    }
}

/// Fully connected: `out[o] = bias[o] + sum_i weight[o][i] * in[i]`.
pub fn linear(g: &LinearGeometry, input: &[f32], weight: &[f32], bias: Option<&[f32]>, output: &mut [f32]) {
    for o in 0..g.out_features {
        let mut acc = 0.0f32;
        for i in 0..g.in_features {
            acc += weight[o * g.in_features + i] * input[i];
        }
        let b = match bias {
            Some(bias) => bias[o],
            None => 0.0,
        };
        output[o] = acc + b;
    }
}

/// Batch normalisation at inference, by its definition:
/// `y = (x - mean) / sqrt(var + eps) * weight + bias`, weight 1 and bias 0
/// when absent.
pub fn batch_norm2d(
    shape: &ChwShape,
    x: &mut [f32],
    weight: Option<&[f32]>,
    bias: Option<&[f32]>,
    running_mean: &[f32],
    running_var: &[f32],
    eps: f32,
) {
    for c in 0..shape.c {
        let std = libm::sqrtf(running_var[c] + eps);
        let w = weight.map_or(1.0, |w| w[c]);
        let b = bias.map_or(0.0, |b| b[c]);
        for i in 0..shape.h * shape.w {
            let v = &mut x[c * shape.h * shape.w + i];
            *v = (*v - running_mean[c]) / std * w + b;
        }
    }
}

/// Softmax by its definition with PyTorch's max subtraction:
/// `exp(x_i - max) / sum_j exp(x_j - max)`, where the max is NaN if any
/// input is.
pub fn softmax(x: &mut [f32]) {
    let mut max = f32::NEG_INFINITY;
    for &v in x.iter() {
        if v.is_nan() || v > max {
            max = v;
        }
    }
    let mut sum = 0.0f32;
    for v in x.iter_mut() {
        *v = libm::expf(*v - max);
        sum += *v;
    }
    for v in x.iter_mut() {
        *v /= sum;
    }
}

/// Softmax over channels at each pixel: [`softmax`]'s definition applied
/// to the pixel's channel vector, read with a stride of one plane.
pub fn softmax_channels(shape: &ChwShape, x: &mut [f32]) {
    let plane = shape.h * shape.w;
    for p in 0..plane {
        let mut max = f32::NEG_INFINITY;
        for c in 0..shape.c {
            let v = x[c * plane + p];
            if v.is_nan() || v > max {
                max = v;
            }
        }
        let mut sum = 0.0f32;
        for c in 0..shape.c {
            let e = libm::expf(x[c * plane + p] - max);
            x[c * plane + p] = e;
            sum += e;
        }
        for c in 0..shape.c {
            x[c * plane + p] /= sum;
        }
    }
}
