//! A convolution followed by a 2×2, stride-2 max pool (`MaxPool2d(2)`), the
//! usual step down of a small classifier such as LeNet-5: where the
//! convolution runs on the direct kernel, the Winograd mode or the padded
//! kernel, each tile's activated outputs are pooled as the tile finishes,
//! and only the pooled values are stored. The convolution's outputs are
//! never written or read back, and the pool makes no pass of its own.

use super::direct::{store_transposed, AccLayout};
use super::prepacked::{conv2d_packed_len, geometry};
use super::{conv2d_kernel, Conv2dGeometry, Plans};
#[cfg(target_arch = "x86_64")]
use super::{direct::Sink, isa::Isa, plan::Mode, x86};
use crate::kernels::epilogue::Activation;
use crate::kernels::max_pool::{max_pick, max_pool2d_core, Pool2dGeometry};
use crate::kernels::simd::Simd;
use crate::Packed;

/// [`super::conv2d_prepacked`] followed by PyTorch's `MaxPool2d(2)` (2×2
/// windows, stride 2, no padding, floor mode: an odd last row or column is
/// dropped), returning the pooled tensor. `act` is applied to each output
/// before it is pooled; a window holding a NaN gives NaN.
///
/// `conv_out` is the convolution's output buffer, and the pooled tensor is
/// returned as a view of its first `COUT × POH × POW` floats. Where the
/// convolution runs on the direct kernel, the Winograd mode or the padded
/// kernel, the pooled values are computed as the outputs are, and nothing
/// else of `conv_out` is written. Otherwise the convolution is stored into
/// `conv_out` and pooled there, in place. The values are the same either
/// way: a max is exact.
///
/// ```
/// use cnn_runtime::kernels::{conv2d_fused, conv2d_max_pool2x2, max_pool2d, Activation};
/// use cnn_runtime::Packed;
///
/// let input = [[[0.25f32; 12]; 12]; 4];
/// let weight = core::array::from_fn::<_, 16, _>(|co| [[[co as f32 - 7.5; 3]; 3]; 4]);
/// let mut conv_out = [[[0.0f32; 12]; 12]; 16];
/// let pooled = conv2d_max_pool2x2::<4, 12, 12, 16, 12, 12, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 6, 6, 0>(
///     &input, &weight, &Packed::NONE, None, Activation::Relu, &mut conv_out,
/// );
/// // The same as the convolution, then the pool.
/// let mut full = [[[0.0f32; 12]; 12]; 16];
/// conv2d_fused::<4, 12, 12, 16, 12, 12, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1>(&input, &weight, None, Activation::Relu, &mut full);
/// let mut want = [[[0.0f32; 6]; 6]; 16];
/// max_pool2d::<16, 12, 12, 6, 6, 2, 2, 2, 2, 0, 0, 1, 1>(&full, &mut want);
/// assert_eq!(*pooled, want);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn conv2d_max_pool2x2<
    'a,
    const CIN: usize,
    const H: usize,
    const W: usize,
    const COUT: usize,
    const OH: usize,
    const OW: usize,
    const CING: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PT: usize,
    const PL: usize,
    const DH: usize,
    const DW: usize,
    const G: usize,
    const POH: usize,
    const POW: usize,
    const N: usize,
>(
    input: &[[[f32; W]; H]; CIN],
    weight: &[[[[f32; KW]; KH]; CING]; COUT],
    packed: &Packed<N>,
    bias: Option<&[f32; COUT]>,
    act: Activation,
    conv_out: &'a mut [[[f32; OW]; OH]; COUT],
) -> &'a mut [[[f32; POW]; POH]; COUT] {
    let (geometry, plans) = const {
        let geometry = geometry::<CIN, H, W, COUT, OH, OW, CING, KH, KW, SH, SW, PT, PL, DH, DW, G>();
        assert!(
            N == 0 || N == conv2d_packed_len(&geometry),
            "conv2d_max_pool2x2: N must be 0 or conv2d_packed_len"
        );
        assert!(
            POH == OH / 2 && POW == OW / 2 && POH >= 1 && POW >= 1,
            "conv2d_max_pool2x2: the pooled plane must be OH / 2 × OW / 2, at least 1 × 1"
        );
        (geometry, Plans::new(&geometry))
    };
    let input = input.as_flattened().as_flattened();
    let weight = weight.as_flattened().as_flattened().as_flattened();
    let bias = bias.map(|b| b.as_slice());
    let out = conv_out.as_flattened_mut().as_flattened_mut();
    if !pool_outputs(
        &geometry,
        &plans,
        input,
        weight,
        packed,
        bias,
        act,
        &mut out[..COUT * POH * POW],
    ) {
        conv2d_kernel(&geometry, &plans, input, weight, packed.get(), bias, act, out);
        pool_in_place(&geometry, out);
    }
    bytemuck::from_bytes_mut(bytemuck::cast_slice_mut(&mut out[..COUT * POH * POW]))
}

/// Stores the pooled outputs into `pooled`, if the plan the convolution
/// runs now can pool as it goes; returns whether it did.
#[allow(clippy::too_many_arguments)]
fn pool_outputs<const N: usize>(
    g: &Conv2dGeometry,
    plans: &Plans,
    input: &[f32],
    weight: &[f32],
    packed: &Packed<N>,
    bias: Option<&[f32]>,
    act: Activation,
    pooled: &mut [f32],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if let (Some((isa, plan)), packed) = plans.with_packed(packed.get()) {
        if fits(g, plan, isa) {
            // SAFETY (both): `chosen` returns an instruction set only if the
            // CPU has its features.
            if plan.mode == Mode::Padded {
                unsafe { x86::conv2d_padded_pooled(isa, g, plan, input, weight, bias, act, pooled) };
            } else {
                let sink = Sink::MaxPool2x2(pooled);
                unsafe { x86::conv2d_sink(isa, g, plan, input, weight, packed, bias, act, sink) };
            }
            return true;
        }
    }
    let _ = (g, plans, input, weight, packed, bias, act, pooled);
    false
}

/// Whether `plan` can pool as it goes on `isa`: the Winograd mode (its
/// tiles start on even rows and columns), the direct kernel when its tiles
/// of rows do too (an even number of rows, or all of them), and the padded
/// kernel when its row maxima fit its buffer.
#[cfg(target_arch = "x86_64")]
fn fits(g: &Conv2dGeometry, plan: &super::plan::Plan, isa: Isa) -> bool {
    let lanes = if isa == Isa::Avx512 {
        super::plan::AVX512.lanes
    } else {
        super::plan::AVX2.lanes
    };
    match plan.mode {
        Mode::Winograd => true,
        Mode::Direct => plan.direct.rows.is_multiple_of(2) || plan.direct.rows >= g.oh,
        Mode::Padded => super::padded_pooled::fits(g, plan, lanes),
        _ => false,
    }
}

/// The fallback: `buf` holds the convolution's output planes, and its first
/// `cout × (oh / 2) × (ow / 2)` floats become their 2×2 max pool.
///
/// Channel 0 is pooled in place, through a short buffer on the stack: each
/// chunk of pooled values is written after the inputs it reads, and before
/// any input a later chunk reads (pooled index `q` reads from input index
/// `i(q) >= q`, and `i` grows with `q`). Then each channel `c >= 1` goes
/// through the vector pool kernel from its plane (from `c × oh × ow`) to its
/// pooled plane, which ends before it (at `(c + 1) × oh × ow / 4`) and
/// overwrites only planes already pooled.
fn pool_in_place(g: &Conv2dGeometry, buf: &mut [f32]) {
    const CHUNK: usize = 64;
    let (poh, pow) = (g.oh / 2, g.ow / 2);
    let (plane, pooled) = (g.oh * g.ow, poh * pow);
    assert!(buf.len() == g.cout * plane && poh >= 1 && pow >= 1);
    let mut chunk = [0.0f32; CHUNK];
    for py in 0..poh {
        for px0 in (0..pow).step_by(CHUNK) {
            let n = CHUNK.min(pow - px0);
            let top = &buf[2 * py * g.ow + 2 * px0..][..2 * n];
            let bottom = &buf[(2 * py + 1) * g.ow + 2 * px0..][..2 * n];
            for ((v, t), b) in chunk.iter_mut().zip(top.chunks_exact(2)).zip(bottom.chunks_exact(2)) {
                *v = [t[0], t[1], b[0], b[1]].into_iter().fold(f32::NEG_INFINITY, max_pick);
            }
            buf[py * pow + px0..][..n].copy_from_slice(&chunk[..n]);
        }
    }
    let one = Pool2dGeometry {
        c: 1,
        h: g.oh,
        w: g.ow,
        oh: poh,
        ow: pow,
        kh: 2,
        kw: 2,
        sh: 2,
        sw: 2,
        pt: 0,
        pl: 0,
        dh: 1,
        dw: 1,
    };
    for c in 1..g.cout {
        let (front, planes) = buf.split_at_mut(c * plane);
        max_pool2d_core(&one, &planes[..plane], &mut front[c * pooled..][..pooled]);
    }
}

/// Pools the tile's partial sums `acc[(r * owp + ox) * coutp + co]` (output
/// rows `oy0 ..` and columns `ox0 ..` of the convolution, through `act`)
/// into `out[co][oy0 / 2 + pr][ox0 / 2 + pc]`: per vector of channels and
/// pooled pixel the four outputs' maximum, then transposed a `LANES ×
/// LANES` block at a time, as the direct kernel stores its outputs.
///
/// # Panics
/// If the tile does not start on an even row and column, or spans an odd
/// number of either without reaching the plane's end.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn store_pooled<S: Simd>(
    s: S,
    g: &Conv2dGeometry,
    d: AccLayout,
    acc: &[f32],
    (oy0, rows): (usize, usize),
    (ox0, cols): (usize, usize),
    coutg: usize,
    act: Activation,
    out: &mut [f32],
) {
    let lanes = S::LANES;
    let (poh, pow) = (g.oh / 2, g.ow / 2);
    let pooled_plane = poh * pow;
    assert!(rows * d.owp * d.coutp <= acc.len() && out.len() == coutg * pooled_plane && oy0 + rows <= g.oh);
    assert!(cols >= 1 && cols <= d.owp && ox0 + cols <= g.ow && d.coutp >= coutg);
    assert!(
        oy0.is_multiple_of(2) && ox0.is_multiple_of(2),
        "pooled: a tile starts on an odd row or column"
    );
    assert!(
        (rows.is_multiple_of(2) || oy0 + rows == g.oh) && (cols.is_multiple_of(2) || ox0 + cols == g.ow),
        "pooled: a tile spans an odd number of rows or columns inside the plane"
    );
    let (py0, px0) = (oy0 / 2, ox0 / 2);
    // The pooled rows and columns whose windows lie in this tile (none for
    // a tile of only an odd last row).
    let (prs, pcs) = (
        (rows / 2).min(poh.saturating_sub(py0)),
        (cols / 2).min(pow.saturating_sub(px0)),
    );
    if prs == 0 || pcs == 0 {
        return;
    }
    // Whole pooled rows are one run of pixels in the pooled planes.
    let (runs, run_len) = if pcs == pow { (1, prs * pow) } else { (prs, pcs) };
    let row = d.owp * d.coutp;
    let mut block = [s.zero(); 16];
    for run in 0..runs {
        for q0 in (0..run_len).step_by(lanes) {
            let np = lanes.min(run_len - q0);
            // The block's first pooled pixel, as (row, column) within the
            // tile (a run of whole rows wraps at `pcs == pow`).
            let first = (run + q0 / pcs, q0 % pcs);
            for co0 in (0..coutg).step_by(lanes) {
                let (mut pr, mut pc) = first;
                for (i, v) in block[..lanes].iter_mut().enumerate() {
                    *v = if i < np {
                        let at = 2 * pr * row + 2 * pc * d.coutp + co0;
                        let win = &acc[at..][..row + d.coutp + lanes];
                        let p = win.as_ptr();
                        // SAFETY: the four vectors (pixels `2 pc`, `2 pc + 1`
                        // of rows `2 pr`, `2 pr + 1`) are inside `win`.
                        let (a, b, c, e) = unsafe {
                            (
                                s.load(p),
                                s.load(p.add(d.coutp)),
                                s.load(p.add(row)),
                                s.load(p.add(row + d.coutp)),
                            )
                        };
                        let (a, b) = (act.apply_vec(s, a), act.apply_vec(s, b));
                        let (c, e) = (act.apply_vec(s, c), act.apply_vec(s, e));
                        pc += 1;
                        if pc == pcs {
                            (pr, pc) = (pr + 1, 0);
                        }
                        s.max_nan(s.max_nan(a, b), s.max_nan(c, e))
                    } else {
                        s.zero()
                    };
                }
                let at = (py0 + first.0) * pow + px0 + first.1;
                let planes = &mut out[co0 * pooled_plane..];
                store_transposed(s, &mut block[..lanes], coutg - co0, (pooled_plane, at), np, planes);
            }
        }
    }
}
