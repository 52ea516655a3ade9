//! A torchinfo-style description of a generated model.

use crate::Model;
use core::fmt;

/// What one layer does, as the macro worked it out at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerInfo {
    /// The layer's name in the description, e.g. `"conv1"`.
    pub name: &'static str,
    /// The layer as written, normalised: `"Conv2d(1, 6, kernel_size=5, padding=2)"`.
    pub kind: &'static str,
    /// The shape this layer produces, `[C, H, W]` or `[N]`.
    pub output_shape: &'static [usize],
    /// Trainable parameters of this layer.
    pub params: usize,
    /// Multiply-accumulates of this layer (conv and linear; zero elsewhere).
    pub macs: u64,
    /// Receptive field `(height, width)` of one output element on the model's
    /// input, or `None` once the tensor is flat (every feature may then see the
    /// whole input).
    pub receptive_field: Option<(usize, usize)>,
    /// Whether this layer runs inside the kernel of the last unfused layer
    /// before it: an activation applied by a convolution or linear layer as
    /// it stores its outputs, or a global average pool (`AdaptiveAvgPool2d(1)`)
    /// right after a convolution (and its activation), which the convolution
    /// computes as it goes. It then has no pass (and takes no time) of its
    /// own.
    pub fused: bool,
}

/// The summary table of a model, from [`Model::summary`]. Print it with `{}`.
///
/// ```
/// use cnn_runtime::{cnn_model, Model};
///
/// cnn_model! {
///     struct Net {
///         input: [3, 8, 8],
///         conv: Conv2d(3, 10, 5),
///     }
/// }
///
/// let text = Net::summary().to_string();
/// assert!(text.contains("conv"));
/// assert!(text.contains("[10, 4, 4]"));
/// assert_eq!(Net::PARAMS, 760);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// The model's name.
    pub name: &'static str,
    /// The input shape.
    pub input_shape: &'static [usize],
    /// Every layer, in order.
    pub layers: &'static [LayerInfo],
    /// Total trainable parameters.
    pub params: usize,
    /// Total multiply-accumulates.
    pub macs: u64,
    /// Bytes of weights, running statistics included.
    pub weight_bytes: usize,
    /// Bytes of activation memory for one inference.
    pub activation_bytes: usize,
}

impl Summary {
    /// The summary of model `M`.
    pub fn of<M: Model>() -> Summary {
        Summary {
            name: M::NAME,
            input_shape: M::INPUT_SHAPE,
            layers: M::LAYERS,
            params: M::PARAMS,
            macs: M::MACS,
            weight_bytes: M::WEIGHT_BYTES,
            activation_bytes: M::SCRATCH_BYTES,
        }
    }
}

/// Formats `[a, b, c]` into a fixed buffer, so `no_std` builds can pad it.
struct ShapeText {
    buf: [u8; 64],
    len: usize,
}

impl ShapeText {
    fn new(shape: &[usize]) -> Self {
        let mut text = ShapeText { buf: [0; 64], len: 0 };
        // A shape that does not fit is cut; 64 bytes hold any 3-D shape.
        let _ = fmt::write(&mut text, format_args!("{shape:?}"));
        text
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
    }
}

impl fmt::Write for ShapeText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes `n` with thousands separators, e.g. `61,706`.
fn grouped(f: &mut fmt::Formatter<'_>, n: u64, width: usize) -> fmt::Result {
    let mut digits = [0u8; 32];
    let mut len = 0;
    let mut rest = n;
    loop {
        if len > 0 && len % 4 == 3 {
            digits[len] = b',';
            len += 1;
        }
        digits[len] = b'0' + (rest % 10) as u8;
        len += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    digits[..len].reverse();
    let text = core::str::from_utf8(&digits[..len]).unwrap_or("?");
    write!(f, "{text:>width$}")
}

fn bytes(f: &mut fmt::Formatter<'_>, n: usize) -> fmt::Result {
    const KIB: f64 = 1024.0;
    let n = n as f64;
    if n >= KIB * KIB {
        write!(f, "{:.2} MiB", n / (KIB * KIB))
    } else if n >= KIB {
        write!(f, "{:.1} KiB", n / KIB)
    } else {
        write!(f, "{n} B")
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind_width = self.layers.iter().map(|l| l.kind.len()).max().unwrap_or(0).max(4);
        let name_width = self.layers.iter().map(|l| l.name.len()).max().unwrap_or(0).max(5);
        let rule_len = name_width + kind_width + 16 + 12 + 14 + 12 + 10;
        writeln!(
            f,
            "{}  (input {})",
            self.name,
            ShapeText::new(self.input_shape).as_str()
        )?;
        writeln!(
            f,
            "{:<name_width$}  {:<kind_width$}  {:<14}  {:>10}  {:>12}  {:>9}",
            "layer", "kind", "output", "params", "MACs", "RF"
        )?;
        writeln!(f, "{:-<rule_len$}", "")?;
        for layer in self.layers {
            write!(
                f,
                "{:<name_width$}  {:<kind_width$}  {:<14}  ",
                layer.name,
                layer.kind,
                ShapeText::new(layer.output_shape).as_str()
            )?;
            grouped(f, layer.params as u64, 10)?;
            f.write_str("  ")?;
            grouped(f, layer.macs, 12)?;
            match layer.receptive_field {
                Some((h, w)) => {
                    let mut rf = ShapeText { buf: [0; 64], len: 0 };
                    let _ = fmt::write(&mut rf, format_args!("{h}x{w}"));
                    writeln!(f, "  {:>9}", rf.as_str())?;
                }
                None => writeln!(f, "  {:>9}", "all")?,
            }
        }
        writeln!(f, "{:-<rule_len$}", "")?;
        f.write_str("params: ")?;
        grouped(f, self.params as u64, 0)?;
        f.write_str("   MACs: ")?;
        grouped(f, self.macs, 0)?;
        f.write_str("\nweights: ")?;
        bytes(f, self.weight_bytes)?;
        f.write_str("   activations: ")?;
        bytes(f, self.activation_bytes)?;
        writeln!(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Digits(u64);

    impl fmt::Display for Digits {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            grouped(f, self.0, 0)
        }
    }

    #[test]
    fn groups_thousands() {
        extern crate std;
        use std::string::ToString;
        assert_eq!(Digits(0).to_string(), "0");
        assert_eq!(Digits(999).to_string(), "999");
        assert_eq!(Digits(1000).to_string(), "1,000");
        assert_eq!(Digits(61706).to_string(), "61,706");
        assert_eq!(Digits(138357544).to_string(), "138,357,544");
    }
}
