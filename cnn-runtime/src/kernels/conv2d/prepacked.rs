//! Convolution weights laid out once, at load, in the order the direct
//! kernel reads them, so that a call does not transpose them again (it did
//! so for every tile of output rows: 30 of the 406 µs of the MobileNet
//! block's strided 64-channel convolution).

use super::plan::{self, Mode, Plan};
use super::{conv2d_kernel, direct, winograd, Conv2dGeometry, Plans};
use crate::kernels::epilogue::Activation;
use crate::kernels::isa::Isa;
use crate::Packed;

/// Which layout a layer's packed weights are in: an opaque token returned
/// by [`conv2d_pack`] or [`crate::kernels::linear_pack`] and kept in a
/// [`Packed`]. A convolution reads packed weights only when it runs that
/// very plan (the instruction set or the Winograd switch may differ between
/// packing and use, e.g. in tests that force a weaker path); a linear layer
/// only on the instruction set they were packed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackLayout(pub(crate) Layout);

/// What a [`PackLayout`] says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// A convolution's weights, for this plan.
    Conv(Plan),
    /// A linear layer's weights in blocks of `vectors` vectors of outputs,
    /// laid out for the vectors of `isa` (see `linear::columns`).
    Linear { isa: Isa, vectors: usize },
}

impl PackLayout {
    /// The convolution plan the weights are laid out for, if any.
    pub(super) fn plan(&self) -> Option<&Plan> {
        match &self.0 {
            Layout::Conv(plan) => Some(plan),
            Layout::Linear { .. } => None,
        }
    }
}

/// Floats of packed weights a convolution of geometry `g` can use: the
/// largest over the vector plans made for it that read packed weights (the
/// direct kernel's transposed weights, the Winograd mode's filter
/// transforms), or 0 when none does and on targets other than x86-64.
/// The generated code sizes each layer's [`Packed`] with it.
///
/// ```
/// use cnn_runtime::kernels::{conv2d_packed_len, Conv2dGeometry};
///
/// // LeNet-5's second convolution: 6 -> 16 channels, 5x5, 14x14 -> 10x10.
/// let g = Conv2dGeometry {
///     cin: 6, h: 14, w: 14, cout: 16, oh: 10, ow: 10, kh: 5, kw: 5,
///     sh: 1, sw: 1, pt: 0, pl: 0, dh: 1, dw: 1, groups: 1,
/// };
/// let len = conv2d_packed_len(&g);
/// // As many floats as the weights (16 channels fill whole vectors).
/// assert!(len == 0 || len == 16 * 6 * 5 * 5);
/// ```
pub const fn conv2d_packed_len(g: &Conv2dGeometry) -> usize {
    if !cfg!(target_arch = "x86_64") || g.check().is_err() {
        return 0;
    }
    let plans = Plans::new(g);
    let lens = [
        plan_len(g, &plans.avx512, plan::AVX512.lanes),
        plan_len(g, &plans.avx512_no_winograd, plan::AVX512.lanes),
        plan_len(g, &plans.avx2, plan::AVX2.lanes),
        plan_len(g, &plans.avx2_no_winograd, plan::AVX2.lanes),
    ];
    let mut most = 0;
    let mut i = 0;
    while i < lens.len() {
        if lens[i] > most {
            most = lens[i];
        }
        i += 1;
    }
    most
}

/// Floats of packed weights `plan` (on vectors of `lanes`) reads.
const fn plan_len(g: &Conv2dGeometry, plan: &Plan, lanes: usize) -> usize {
    match plan.mode {
        Mode::Direct => direct::packed_len(g, &plan.direct),
        Mode::Winograd => winograd::plan::packed_len(g, lanes),
        _ => 0,
    }
}

/// Lays `weight` out for the plan [`conv2d_prepacked`] would run on this
/// CPU now, if that plan reads packed weights, and says which plan; `None`
/// (and `out` untouched) otherwise. Loaders call it once per convolution.
///
/// `N` must be [`conv2d_packed_len`] of the geometry (checked at compile
/// time).
///
/// ```
/// use cnn_runtime::kernels::{conv2d_pack, conv2d_packed_len, Conv2dGeometry};
///
/// const G: Conv2dGeometry = Conv2dGeometry {
///     cin: 6, h: 14, w: 14, cout: 16, oh: 10, ow: 10, kh: 5, kw: 5,
///     sh: 1, sw: 1, pt: 0, pl: 0, dh: 1, dw: 1, groups: 1,
/// };
/// const N: usize = conv2d_packed_len(&G);
/// let weight = [[[[0.5f32; 5]; 5]; 6]; 16];
/// let mut out = [0.0f32; N];
/// // `Some` where this CPU's plan for the layer is the direct kernel.
/// let layout = conv2d_pack::<6, 14, 14, 16, 10, 10, 6, 5, 5, 1, 1, 0, 0, 1, 1, 1, N>(&weight, &mut out);
/// if layout.is_some() {
///     assert!(out.iter().all(|&x| x == 0.5));
/// }
/// ```
pub fn conv2d_pack<
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
    const N: usize,
>(
    weight: &[[[[f32; KW]; KH]; CING]; COUT],
    out: &mut [f32; N],
) -> Option<PackLayout> {
    let (geometry, plans) = const {
        let geometry = geometry::<CIN, H, W, COUT, OH, OW, CING, KH, KW, SH, SW, PT, PL, DH, DW, G>();
        assert!(
            N == conv2d_packed_len(&geometry),
            "conv2d_pack: N must be conv2d_packed_len"
        );
        (geometry, Plans::new(&geometry))
    };
    pack(
        &geometry,
        &plans,
        weight.as_flattened().as_flattened().as_flattened(),
        out,
    )
}

fn pack(g: &Conv2dGeometry, plans: &Plans, weight: &[f32], out: &mut [f32]) -> Option<PackLayout> {
    #[cfg(target_arch = "x86_64")]
    if let Some((isa, plan)) = plans.chosen() {
        let avx512 = isa == crate::kernels::isa::Isa::Avx512;
        if plan.mode == Mode::Direct && out.len() >= direct::packed_len(g, &plan.direct) {
            if avx512 {
                // SAFETY: `chosen` returns Avx512 only if the CPU has AVX-512F.
                unsafe { super::x86::pack_direct_avx512(g, plan, weight, out) };
            } else {
                // SAFETY: `chosen` returns the AVX2 plan only on CPUs with
                // AVX2 and FMA.
                unsafe { super::x86::pack_direct_avx2(g, plan, weight, out) };
            }
            return Some(PackLayout(Layout::Conv(*plan)));
        }
        let lanes = if avx512 { plan::AVX512.lanes } else { plan::AVX2.lanes };
        if plan.mode == Mode::Winograd && out.len() >= winograd::plan::packed_len(g, lanes) {
            winograd::filter::pack(g, &plan.winograd, lanes, weight, out);
            return Some(PackLayout(Layout::Conv(*plan)));
        }
    }
    let _ = (g, plans, weight, out);
    None
}

/// The geometry of the shaped wrappers' const parameters, checked.
pub(super) const fn geometry<
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
>() -> Conv2dGeometry {
    assert!(CIN == CING * G, "conv2d: CIN must equal CING * G");
    let geometry = Conv2dGeometry {
        cin: CIN,
        h: H,
        w: W,
        cout: COUT,
        oh: OH,
        ow: OW,
        kh: KH,
        kw: KW,
        sh: SH,
        sw: SW,
        pt: PT,
        pl: PL,
        dh: DH,
        dw: DW,
        groups: G,
    };
    geometry.assert_valid();
    geometry
}

/// [`super::conv2d_fused`] reading `packed` (from [`conv2d_pack`]) where the
/// plan it runs is the one the weights were packed for; otherwise, or with
/// [`Packed::NONE`], exactly [`super::conv2d_fused`]. For the direct kernel
/// the results are the same bit for bit (packing only moves the weights);
/// a Winograd plan runs only with its packed filter transforms, so where
/// it is chosen this gives Winograd's results (within the usual rounding of
/// the unpacked plan's, see the `kernels` docs) and `conv2d_fused` the plan
/// without it. Generated models call this for every convolution, with the
/// packed weights their constructor made.
///
/// ```
/// use cnn_runtime::kernels::{conv2d_fused, conv2d_pack, conv2d_packed_len, conv2d_prepacked, Activation, Conv2dGeometry};
/// use cnn_runtime::Packed;
///
/// const G: Conv2dGeometry = Conv2dGeometry {
///     cin: 6, h: 14, w: 14, cout: 16, oh: 10, ow: 10, kh: 5, kw: 5,
///     sh: 1, sw: 1, pt: 0, pl: 0, dh: 1, dw: 1, groups: 1,
/// };
/// const N: usize = conv2d_packed_len(&G);
/// let input = [[[0.25f32; 14]; 14]; 6];
/// let weight = [[[[0.5f32; 5]; 5]; 6]; 16];
/// let bias = [0.1f32; 16];
/// let packed = Packed::<N>::from_fn(|out| {
///     conv2d_pack::<6, 14, 14, 16, 10, 10, 6, 5, 5, 1, 1, 0, 0, 1, 1, 1, N>(&weight, out)
/// });
/// let mut a = [[[0.0f32; 10]; 10]; 16];
/// let mut b = a;
/// conv2d_prepacked::<6, 14, 14, 16, 10, 10, 6, 5, 5, 1, 1, 0, 0, 1, 1, 1, N>(
///     &input, &weight, &packed, Some(&bias), Activation::Relu, &mut a,
/// );
/// conv2d_fused::<6, 14, 14, 16, 10, 10, 6, 5, 5, 1, 1, 0, 0, 1, 1, 1>(&input, &weight, Some(&bias), Activation::Relu, &mut b);
/// assert_eq!(a, b);
/// ```
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn conv2d_prepacked<
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
    const N: usize,
>(
    input: &[[[f32; W]; H]; CIN],
    weight: &[[[[f32; KW]; KH]; CING]; COUT],
    packed: &Packed<N>,
    bias: Option<&[f32; COUT]>,
    act: Activation,
    output: &mut [[[f32; OW]; OH]; COUT],
) {
    let (geometry, plans) = const {
        let geometry = geometry::<CIN, H, W, COUT, OH, OW, CING, KH, KW, SH, SW, PT, PL, DH, DW, G>();
        assert!(
            N == 0 || N == conv2d_packed_len(&geometry),
            "conv2d_prepacked: N must be 0 or conv2d_packed_len"
        );
        (geometry, Plans::new(&geometry))
    };
    conv2d_kernel(
        &geometry,
        &plans,
        input.as_flattened().as_flattened(),
        weight.as_flattened().as_flattened().as_flattened(),
        packed.get(),
        bias.map(|b| b.as_slice()),
        act,
        output.as_flattened_mut().as_flattened_mut(),
    );
}
