//! The portable convolution: plain Rust that LLVM auto-vectorises for the
//! compile-time target. It runs wherever no vector path applies, and is
//! inlined into each shaped wrapper so every loop bound is a constant.

use super::Conv2dGeometry;
use crate::kernels::epilogue::Activation;
use crate::kernels::window::valid_outputs;

/// Convolution by whole output planes: each plane starts at the bias, then
/// every weight tap is broadcast and accumulated into whole output rows. Per
/// tap the range of output columns that read inside the input is solved up
/// front, so the innermost loop has no branches and, at stride 1, walks both
/// rows contiguously: the shape LLVM vectorises. `act` is applied to each
/// plane once it is complete, while it is still in cache.
///
/// Slice lengths must match the geometry (checked by the caller).
#[inline(always)]
pub(super) fn conv2d(
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    output: &mut [f32],
) {
    let cing = g.cin_per_group();
    let cout_per_group = g.cout / g.groups;
    let in_plane = g.h * g.w;
    let filter_len = cing * g.kh * g.kw;
    let out_planes = output.chunks_exact_mut(g.oh * g.ow);
    for (co, (out, filter)) in out_planes.zip(weight.chunks_exact(filter_len)).enumerate() {
        out.fill(bias.map_or(0.0, |b| b[co]));
        let group = co / cout_per_group;
        let group_input = &input[group * cing * in_plane..][..cing * in_plane];
        let kernels = filter.chunks_exact(g.kh * g.kw);
        for (plane, kernel) in group_input.chunks_exact(in_plane).zip(kernels) {
            accumulate_plane(g, plane, kernel, out);
        }
        act.apply_slice(out);
    }
}

/// Adds one input plane convolved with one `kh × kw` kernel into `out`.
#[inline(always)]
fn accumulate_plane(g: &Conv2dGeometry, plane: &[f32], kernel: &[f32], out: &mut [f32]) {
    for (ky, kernel_row) in kernel.chunks_exact(g.kw).enumerate() {
        let rows = valid_outputs(ky * g.dh, g.pt, g.sh, g.h, g.oh);
        for (kx, &weight) in kernel_row.iter().enumerate() {
            let cols = valid_outputs(kx * g.dw, g.pl, g.sw, g.w, g.ow);
            if cols.is_empty() {
                continue;
            }
            // Input column read by the first valid output column; never
            // underflows because `cols` starts where the tap clears padding.
            let ix0 = cols.start * g.sw + kx * g.dw - g.pl;
            for oy in rows.clone() {
                let iy = oy * g.sh + ky * g.dh - g.pt;
                let in_row = &plane[iy * g.w..][..g.w];
                let out_row = &mut out[oy * g.ow..][..g.ow][cols.clone()];
                if g.sw == 1 {
                    let in_row = &in_row[ix0..][..out_row.len()];
                    for (o, &x) in out_row.iter_mut().zip(in_row) {
                        *o += weight * x;
                    }
                } else {
                    // Index arithmetic rather than `step_by`, which LLVM
                    // optimises worse. Every index is a valid column: `cols`
                    // holds exactly the outputs reading inside the row.
                    let in_row = &in_row[ix0..][..(out_row.len() - 1) * g.sw + 1];
                    for (j, o) in out_row.iter_mut().enumerate() {
                        *o += weight * in_row[j * g.sw];
                    }
                }
            }
        }
    }
}
