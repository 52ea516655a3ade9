//! What the generated code says about one convolution: its kernel's const
//! parameters, its geometry, and the packed weights its constructor makes
//! for it and for each linear layer (see `cnn_runtime::Packed`).

use super::lit;
use crate::model::{Conv2d, Layer, Model, Op, Shape};
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

/// The tokens of one convolution layer.
pub struct ConvTokens {
    /// The kernels' 16 const parameters, `CIN, H, W, COUT, OH, OW, CING, KH,
    /// KW, SH, SW, PT, PL, DH, DW, G`.
    pub consts: TokenStream,
    /// The length of its packed weights, a constant expression.
    pub packed_len: TokenStream,
}

/// The convolution of `layer`, if it is one.
pub fn conv_tokens(model: &Model, layer: &Layer) -> Option<ConvTokens> {
    let crate::model::Op::Conv2d(conv) = &layer.op else {
        return None;
    };
    let Conv2d {
        in_channels,
        out_channels,
        kernel,
        stride,
        pad_before,
        dilation,
        groups,
        ..
    } = conv;
    let (c, h, w) = match model.tensor(layer.input) {
        Shape::Chw { c, h, w } => (c, h, w),
        Shape::Flat(n) => (n, 1, 1),
    };
    let (oh, ow) = match model.tensor(layer.output) {
        Shape::Chw { h, w, .. } => (h, w),
        Shape::Flat(_) => (1, 1),
    };
    let [c, h, w, cout, oh, ow, cing, kh, kw, sh, sw, pt, pl, dh, dw, g] = [
        c,
        h,
        w,
        *out_channels,
        oh,
        ow,
        in_channels / groups,
        kernel.h,
        kernel.w,
        stride.h,
        stride.w,
        pad_before.h,
        pad_before.w,
        dilation.h,
        dilation.w,
        *groups,
    ]
    .map(lit);
    let consts = quote!(#c, #h, #w, #cout, #oh, #ow, #cing, #kh, #kw, #sh, #sw, #pt, #pl, #dh, #dw, #g);
    let packed_len = quote! {
        ::cnn_runtime::kernels::conv2d_packed_len(&::cnn_runtime::kernels::Conv2dGeometry {
            cin: #c, h: #h, w: #w, cout: #cout, oh: #oh, ow: #ow, kh: #kh, kw: #kw,
            sh: #sh, sw: #sw, pt: #pt, pl: #pl, dh: #dh, dw: #dw, groups: #g,
        })
    };
    Some(ConvTokens { consts, packed_len })
}

/// The struct field holding a convolution's or linear layer's packed
/// weights.
pub fn packed_field(layer: &str) -> Ident {
    Ident::new(&format!("p_{}", super::clean_name(layer)), Span::call_site())
}

/// Every layer with packed weights: each convolution and linear layer with
/// a weight tensor (validation gives each one), with the length of its
/// packed weights (a constant expression) and the call that packs them
/// from the weight local `weight` into `out`.
fn packed_layers(model: &Model) -> impl Iterator<Item = (&Layer, TokenStream, TokenStream)> {
    model.layers.iter().filter_map(|layer| {
        let weight = layer.weights.iter().find(|w| w.role == "weight")?;
        let weight = super::field(&layer.name, weight);
        if let Op::Linear {
            in_features,
            out_features,
            ..
        } = layer.op
        {
            let (n_in, n_out) = (lit(in_features), lit(out_features));
            let len = quote!(::cnn_runtime::kernels::linear_packed_len(#n_in, #n_out));
            let pack = quote!(::cnn_runtime::kernels::linear_pack::<#n_in, #n_out, _>(&*#weight, out));
            return Some((layer, len, pack));
        }
        let ConvTokens { consts, packed_len } = conv_tokens(model, layer)?;
        let pack = quote!(::cnn_runtime::kernels::conv2d_pack::<#consts, _>(&*#weight, out));
        Some((layer, packed_len, pack))
    })
}

/// The struct fields of every layer's packed weights.
pub fn packed_fields(model: &Model) -> Vec<TokenStream> {
    packed_layers(model)
        .map(|(layer, len, _)| {
            let name = packed_field(&layer.name);
            quote!(#name: ::cnn_runtime::Packed<{ #len }>)
        })
        .collect()
}

/// The field names of every layer's packed weights.
pub fn packed_names(model: &Model) -> Vec<Ident> {
    packed_layers(model)
        .map(|(layer, _, _)| packed_field(&layer.name))
        .collect()
}

/// The constructor statements packing every layer's weights (after the
/// weight fields are bound as locals of their field names), each with the
/// static buffer embedded models pack into.
pub fn pack_statements(model: &Model) -> Vec<TokenStream> {
    packed_layers(model)
        .map(|(layer, len, pack)| {
            // The packed length is inferred from `CELL` (and in the forward
            // pass from the field), so that it is written out only twice.
            let name = packed_field(&layer.name);
            quote! {
                let #name = {
                    static CELL: ::cnn_runtime::__private::PackCell<{ #len }> =
                        ::cnn_runtime::__private::PackCell::new();
                    ::cnn_runtime::__private::ParamSource::pack(source, &CELL, |out| #pack)
                };
            }
        })
        .collect()
}
