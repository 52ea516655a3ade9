//! 2-D convolution (PyTorch `Conv2d`).

mod depthwise;
mod depthwise_framed;
mod direct;
mod global_avg;
mod kernels;
mod max_pooled;
mod micro;
mod pack;
mod padded;
mod padded_pooled;
mod plan;
mod portable;
mod prepacked;
mod stack;
mod tiled;
mod winograd;
#[cfg(target_arch = "x86_64")]
mod x86;

use super::epilogue::Activation;
use super::isa::{self, Isa};
use super::window::{conv_axis_ok, mul_add, product};
pub use global_avg::conv2d_global_avg;
pub use max_pooled::conv2d_max_pool2x2;
use plan::{Mode, Plan};
pub(crate) use prepacked::Layout;
pub use prepacked::{conv2d_pack, conv2d_packed_len, conv2d_prepacked, PackLayout};

/// The shape of one [`conv2d`] call as plain numbers, so one core function
/// serves every monomorphisation and tests can draw geometries at run time.
///
/// Bottom and right padding are not stored: whatever the output size makes a
/// window read past the input is zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dGeometry {
    /// Input channels.
    pub cin: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub cout: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Vertical stride.
    pub sh: usize,
    /// Horizontal stride.
    pub sw: usize,
    /// Zero padding above the input.
    pub pt: usize,
    /// Zero padding left of the input.
    pub pl: usize,
    /// Vertical dilation.
    pub dh: usize,
    /// Horizontal dilation.
    pub dw: usize,
    /// Groups: input and output channels split into this many independent
    /// convolutions (`groups == cin` is depthwise).
    pub groups: usize,
}

impl Conv2dGeometry {
    /// Input channels per group, the weight's second dimension.
    pub const fn cin_per_group(&self) -> usize {
        self.cin / self.groups
    }

    /// Elements in the input tensor.
    pub const fn input_len(&self) -> usize {
        self.cin * self.h * self.w
    }

    /// Elements in the weight tensor, `[cout][cin / groups][kh][kw]`.
    pub const fn weight_len(&self) -> usize {
        self.cout * self.cin_per_group() * self.kh * self.kw
    }

    /// Elements in the output tensor.
    pub const fn output_len(&self) -> usize {
        self.cout * self.oh * self.ow
    }

    /// Whether the kernels can run this geometry without panicking or
    /// computing meaningless outputs; the error names the first broken rule.
    pub const fn check(&self) -> Result<(), &'static str> {
        if self.groups == 0 {
            return Err("conv2d: groups must be at least 1");
        }
        if self.cin == 0 || self.cout == 0 {
            return Err("conv2d: channel counts must be at least 1");
        }
        if !self.cin.is_multiple_of(self.groups) || !self.cout.is_multiple_of(self.groups) {
            return Err("conv2d: input and output channels must be multiples of groups");
        }
        if self.h == 0 || self.w == 0 || self.oh == 0 || self.ow == 0 {
            return Err("conv2d: input and output sizes must be at least 1");
        }
        if self.kh == 0 || self.kw == 0 {
            return Err("conv2d: kernel sizes must be at least 1");
        }
        if self.sh == 0 || self.sw == 0 {
            return Err("conv2d: strides must be at least 1");
        }
        if self.dh == 0 || self.dw == 0 {
            return Err("conv2d: dilations must be at least 1");
        }
        if product(&[self.cin, self.h, self.w]).is_none()
            || product(&[self.cout, self.oh, self.ow]).is_none()
            || product(&[self.cout, self.cin_per_group(), self.kh, self.kw]).is_none()
        {
            return Err("conv2d: tensor sizes overflow usize");
        }
        let (Some(reach_h), Some(reach_w)) = (mul_add(self.kh - 1, self.dh, 0), mul_add(self.kw - 1, self.dw, 0))
        else {
            return Err("conv2d: kernel extent overflows usize");
        };
        if !conv_axis_ok(self.h, self.pt, reach_h, self.sh, self.oh) {
            return Err("conv2d: the last output row's window must end inside the padded input");
        }
        if !conv_axis_ok(self.w, self.pl, reach_w, self.sw, self.ow) {
            return Err("conv2d: the last output column's window must end inside the padded input");
        }
        Ok(())
    }

    /// [`check`](Self::check), panicking with its message: in a `const`
    /// block this turns a bad geometry into a compile error.
    pub const fn assert_valid(&self) {
        if let Err(message) = self.check() {
            panic!("{}", message);
        }
    }
}

/// 2-D convolution, PyTorch semantics (cross-correlation, zero padding).
///
/// The weight layout is PyTorch's `[COUT][CIN / G][KH][KW]`, with
/// `CING = CIN / G`. `PT`/`PL` pad the top/left; bottom/right padding is
/// implied by `OH`/`OW` (anything read outside the input is zero). `SH`/`SW`
/// are the strides, `DH`/`DW` the dilations and `G` the groups.
///
/// The geometry is checked at compile time (see [`Conv2dGeometry::check`]).
#[inline(always)]
pub fn conv2d<
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
>(
    input: &[[[f32; W]; H]; CIN],
    weight: &[[[[f32; KW]; KH]; CING]; COUT],
    bias: Option<&[f32; COUT]>,
    output: &mut [[[f32; OW]; OH]; COUT],
) {
    conv2d_fused::<CIN, H, W, COUT, OH, OW, CING, KH, KW, SH, SW, PT, PL, DH, DW, G>(
        input,
        weight,
        bias,
        Activation::Identity,
        output,
    );
}

/// [`conv2d`] followed by the activation `act`, applied as each output is
/// stored rather than in a second pass over the tensor: the same results as
/// the convolution and then the standalone activation kernel.
pub fn conv2d_fused<
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
>(
    input: &[[[f32; W]; H]; CIN],
    weight: &[[[[f32; KW]; KH]; CING]; COUT],
    bias: Option<&[f32; COUT]>,
    act: Activation,
    output: &mut [[[f32; OW]; OH]; COUT],
) {
    conv2d_prepacked::<CIN, H, W, COUT, OH, OW, CING, KH, KW, SH, SW, PT, PL, DH, DW, G, 0>(
        input,
        weight,
        &crate::Packed::NONE,
        bias,
        act,
        output,
    );
}

/// The run-time-shaped core of [`conv2d`], on flat CHW slices.
///
/// On x86-64 with AVX-512F or AVX2+FMA (detected at run time with `std`),
/// a convolution is a register-blocked matrix product of the weights (read
/// in place, PyTorch layout) with panels of its implicit im2col matrix
/// packed on the stack; depthwise convolutions shift and multiply whole
/// planes. Elsewhere a portable kernel accumulates each weight tap into whole
/// output rows, in loops LLVM auto-vectorises. Having no packed weights, it
/// never runs the Winograd mode (see [`conv2d_prepacked`]).
///
/// # Panics
///
/// If the geometry fails [`Conv2dGeometry::check`] or a slice length does
/// not match it. Neither can happen through [`conv2d`], where both are
/// compile-time facts.
#[inline(always)]
pub fn conv2d_core(g: &Conv2dGeometry, input: &[f32], weight: &[f32], bias: Option<&[f32]>, output: &mut [f32]) {
    conv2d_core_fused(g, input, weight, bias, Activation::Identity, output);
}

/// [`conv2d_core`] with the activation `act` fused into the stores (see
/// [`conv2d_fused`]).
///
/// # Panics
///
/// As [`conv2d_core`].
#[inline(always)]
pub fn conv2d_core_fused(
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    output: &mut [f32],
) {
    if let Err(message) = g.check() {
        panic!("{}", message);
    }
    conv2d_kernel(g, &Plans::new(g), input, weight, None, bias, act, output);
}

/// [`conv2d_core`] minus the geometry check: what the shaped wrapper calls,
/// having checked its geometry (and computed its plans) at compile time. A
/// run-time `check()` call would survive in the wrapper (LLVM does not
/// always inline it) although its result is known, so it is skipped rather
/// than left to the optimiser.
///
/// Dispatch: the best vector path the CPU has (see [`crate::kernels::isa`]),
/// unless its plan says no vector algorithm fits; then the portable kernel.
///
/// `packed` is the weights as [`conv2d_pack`] laid them out, and for which
/// plan; they are read only if that is the plan about to run.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn conv2d_kernel(
    g: &Conv2dGeometry,
    plans: &Plans,
    input: &[f32],
    weight: &[f32],
    packed: Option<(&[f32], PackLayout)>,
    bias: Option<&[f32]>,
    act: Activation,
    output: &mut [f32],
) {
    assert_eq!(input.len(), g.input_len(), "conv2d: input length");
    assert_eq!(weight.len(), g.weight_len(), "conv2d: weight length");
    assert_eq!(output.len(), g.output_len(), "conv2d: output length");
    if let Some(bias) = bias {
        assert_eq!(bias.len(), g.cout, "conv2d: bias length");
    }
    let (chosen, packed) = plans.with_packed(packed);
    match chosen {
        #[cfg(target_arch = "x86_64")]
        Some((Isa::Avx512, plan)) => {
            // SAFETY: `chosen` returns Avx512 only if `isa::active` did, which
            // it does only if the CPU has AVX-512F.
            unsafe { x86::conv2d_avx512(g, plan, input, weight, packed, bias, act, output) }
        }
        #[cfg(target_arch = "x86_64")]
        Some((_, plan)) => {
            // SAFETY: otherwise `chosen` returns the AVX2 plan, only if
            // `isa::active` returned Avx2 or Avx512, which it does only if the
            // CPU has AVX2 and FMA (AVX-512F CPUs have both; `probe` checks
            // them).
            unsafe { x86::conv2d_avx2(g, plan, input, weight, packed, bias, act, output) }
        }
        _ => portable::conv2d(g, input, weight, bias, act, output),
    }
}

/// The vector plans of one geometry, one per instruction set, with and
/// without the Winograd mode.
#[derive(Clone, Copy, Debug)]
struct Plans {
    avx512: Plan,
    /// With the Winograd mode switched off (see `isa::winograd`), and for
    /// calls without its filter transforms.
    avx512_no_winograd: Plan,
    avx2: Plan,
    /// See `avx512_no_winograd`.
    avx2_no_winograd: Plan,
}

impl Plans {
    const fn new(g: &Conv2dGeometry) -> Plans {
        Plans {
            avx512: Plan::new(g, &plan::AVX512),
            avx512_no_winograd: Plan::new(g, &plan::AVX512_NO_WINOGRAD),
            avx2: Plan::new(g, &plan::AVX2),
            avx2_no_winograd: Plan::new(g, &plan::AVX2_NO_WINOGRAD),
        }
    }

    /// The vector plan to run now and its instruction set: the best the CPU
    /// has (see [`crate::kernels::isa`]), with or without Winograd as
    /// `isa::winograd` says, unless that plan is portable (no vector
    /// algorithm fits); then AVX2's, if it has one; else none (the portable
    /// kernel).
    #[inline(always)]
    fn chosen(&self) -> Option<(Isa, &Plan)> {
        let active = isa::active();
        let winograd = isa::winograd();
        if cfg!(target_arch = "x86_64") && active == Isa::Avx512 {
            let avx512 = if winograd {
                &self.avx512
            } else {
                &self.avx512_no_winograd
            };
            if avx512.mode != Mode::Portable {
                return Some((Isa::Avx512, avx512));
            }
        }
        if cfg!(target_arch = "x86_64") && active >= Isa::Avx2 {
            let avx2 = if winograd { &self.avx2 } else { &self.avx2_no_winograd };
            if avx2.mode != Mode::Portable {
                return Some((Isa::Avx2, avx2));
            }
        }
        None
    }

    /// [`chosen`](Self::chosen), and the packed weights if they were laid
    /// out for that very plan (not for another instruction set or the
    /// Winograd switch's other side). A Winograd plan cannot run without
    /// its filter transforms: then the same instruction set's plan without
    /// Winograd runs instead, on unpacked weights.
    #[inline(always)]
    fn with_packed<'a>(&self, packed: Option<(&'a [f32], PackLayout)>) -> (Option<(Isa, &Plan)>, Option<&'a [f32]>) {
        let chosen = self.chosen();
        let packed = match (chosen, packed) {
            (Some((_, plan)), Some((data, layout))) if layout.plan() == Some(plan) => Some(data),
            _ => None,
        };
        match chosen {
            Some((isa, plan)) if plan.mode == Mode::Winograd && packed.is_none() => {
                let other = if isa == Isa::Avx512 {
                    &self.avx512_no_winograd
                } else {
                    &self.avx2_no_winograd
                };
                (Some((isa, other)), None)
            }
            _ => (chosen, packed),
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fused;
#[cfg(test)]
mod tests_packed;
#[cfg(test)]
mod tests_pooled;
