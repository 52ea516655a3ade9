//! The layer kinds and their PyTorch signatures, and binding the arguments a
//! user wrote to those signatures (positional, then keyword).

use crate::diag::{suggestion, Diagnostics, Loc};
use crate::spec::{Arg, LayerSpec, Located, Value};

/// One parameter of a layer kind's signature.
pub struct Param {
    pub name: &'static str,
    /// Must the user write it?
    pub required: bool,
    /// May it be passed by position (PyTorch's leading arguments)?
    pub positional: bool,
}

const fn req(name: &'static str) -> Param {
    Param {
        name,
        required: true,
        positional: true,
    }
}

const fn opt(name: &'static str) -> Param {
    Param {
        name,
        required: false,
        positional: true,
    }
}

/// Keyword-only: our own additions (`rounding`), never positional, so that a
/// PyTorch argument list means the same thing here.
const fn kw(name: &'static str) -> Param {
    Param {
        name,
        required: false,
        positional: false,
    }
}

/// Every layer kind the language knows, with its signature.
pub const KINDS: &[(&str, &[Param])] = &[
    (
        "Conv2d",
        &[
            req("in_channels"),
            req("out_channels"),
            req("kernel_size"),
            opt("stride"),
            opt("padding"),
            opt("dilation"),
            opt("groups"),
            opt("bias"),
            opt("padding_mode"),
            kw("rounding"),
        ],
    ),
    ("MaxPool2d", POOL_WITH_DILATION),
    ("MinPool2d", POOL_WITH_DILATION),
    (
        "AvgPool2d",
        &[
            req("kernel_size"),
            opt("stride"),
            opt("padding"),
            opt("ceil_mode"),
            opt("count_include_pad"),
            opt("divisor_override"),
            kw("rounding"),
        ],
    ),
    ("AdaptiveAvgPool2d", &[req("output_size")]),
    ("Flatten", &[opt("start_dim"), opt("end_dim")]),
    ("Linear", &[req("in_features"), req("out_features"), opt("bias")]),
    (
        "BatchNorm2d",
        &[
            req("num_features"),
            opt("eps"),
            opt("momentum"),
            opt("affine"),
            opt("track_running_stats"),
        ],
    ),
    ("Dropout", &[opt("p"), opt("inplace")]),
    ("ReLU", &[opt("inplace")]),
    ("ReLU6", &[opt("inplace")]),
    ("LeakyReLU", &[opt("negative_slope"), opt("inplace")]),
    ("Sigmoid", &[]),
    ("Tanh", &[]),
    ("Softmax", &[opt("dim")]),
];

const POOL_WITH_DILATION: &[Param] = &[
    req("kernel_size"),
    opt("stride"),
    opt("padding"),
    opt("dilation"),
    opt("return_indices"),
    opt("ceil_mode"),
    kw("rounding"),
];

/// The arguments of one layer, bound to its signature. Lookups by name give
/// the user's argument, if any.
pub struct Bound<'a> {
    pub kind: &'static str,
    pub kind_loc: Loc,
    pub layer: &'a str,
    params: &'static [Param],
    args: Vec<Option<&'a Arg>>,
}

impl<'a> Bound<'a> {
    pub fn get(&self, name: &str) -> Option<&'a Arg> {
        let index = self.params.iter().position(|p| p.name == name)?;
        self.args.get(index).copied().flatten()
    }

    pub fn value(&self, name: &str) -> Option<&'a Located<Value>> {
        self.get(name).map(|arg| &arg.value)
    }
}

/// Looks up the layer kind and binds its arguments, reporting unknown kinds,
/// unknown or repeated keywords, surplus positionals and missing requireds.
/// Returns `None` only when the kind itself is unknown.
pub fn bind<'a>(layer: &'a LayerSpec, diags: &mut Diagnostics) -> Option<Bound<'a>> {
    let name = &layer.name.value;
    let Some((kind, params)) = KINDS.iter().find(|(kind, _)| *kind == layer.kind.value) else {
        let hint = suggestion(&layer.kind.value, KINDS.iter().map(|(k, _)| *k));
        let hint = if hint.is_empty() {
            let kinds: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
            format!("; known kinds: {}", kinds.join(", "))
        } else {
            hint
        };
        diags.error(
            layer.kind.loc,
            format!("{name}: unknown layer kind `{}`{hint}", layer.kind.value),
        );
        return None;
    };
    let mut bound = Bound {
        kind,
        kind_loc: layer.kind.loc,
        layer: name,
        params,
        args: vec![None; params.len()],
    };
    let positional_limit = params.iter().filter(|p| p.positional).count();
    let mut position = 0;
    for arg in &layer.args {
        let index = match &arg.keyword {
            None => {
                let index = position;
                position += 1;
                if index >= positional_limit {
                    diags.error(
                        arg.value.loc,
                        format!(
                            "{name}: {kind} takes at most {positional_limit} positional argument{}; name this one (e.g. `{} = ...`)",
                            if positional_limit == 1 { "" } else { "s" },
                            params.get(index).map_or("keyword", |p| p.name),
                        ),
                    );
                    continue;
                }
                index
            }
            Some(keyword) => match params.iter().position(|p| p.name == keyword.value) {
                Some(index) => index,
                None => {
                    let hint = if params.is_empty() {
                        format!("; {kind} takes no arguments")
                    } else {
                        let known = suggestion(&keyword.value, params.iter().map(|p| p.name));
                        if known.is_empty() {
                            let names: Vec<&str> = params.iter().map(|p| p.name).collect();
                            format!("; it takes: {}", names.join(", "))
                        } else {
                            known
                        }
                    };
                    diags.error(
                        keyword.loc,
                        format!("{name}: {kind} has no argument `{}`{hint}", keyword.value),
                    );
                    continue;
                }
            },
        };
        let Some(slot) = bound.args.get_mut(index) else {
            continue;
        };
        if slot.is_some() {
            let param = params.get(index).map_or("?", |p| p.name);
            diags.error(
                arg.keyword.as_ref().map_or(arg.value.loc, |k| k.loc),
                format!("{name}: argument `{param}` is given twice"),
            );
            continue;
        }
        *slot = Some(arg);
    }
    for (param, arg) in params.iter().zip(&bound.args) {
        if param.required && arg.is_none() {
            diags.error(
                layer.kind.loc,
                format!(
                    "{name}: {kind} is missing its required argument `{}` (signature: {kind}({}))",
                    param.name,
                    params
                        .iter()
                        .filter(|p| p.required)
                        .map(|p| p.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }
    Some(bound)
}
