//! What the user wrote, from either front end, before any checking.
//!
//! Every value keeps its [`Loc`] so that a check can point at it.

use crate::diag::Loc;

/// A value and where it was written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub loc: Loc,
}

impl<T> Located<T> {
    pub fn new(value: T, loc: Loc) -> Self {
        Located { value, loc }
    }
}

/// A model description: the input shape and the layers, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Where to report errors about the model as a whole (its name).
    pub loc: Loc,
    /// `input: [C, H, W]` (or `[N]`), if written.
    pub input: Option<Located<Vec<Located<u64>>>>,
    /// A safetensors file to embed, as written (relative path).
    pub weights: Option<Located<String>>,
    pub layers: Vec<LayerSpec>,
}

/// One layer: `name: Kind(args)`, with an optional `state_dict` key.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpec {
    pub name: Located<String>,
    /// `#[key = "features.0"]`: the `state_dict` prefix when it differs from the name.
    pub key: Option<Located<String>>,
    pub kind: Located<String>,
    pub args: Vec<Arg>,
}

/// One argument, positional or `keyword = value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub keyword: Option<Located<String>>,
    pub value: Located<Value>,
}

/// An argument value. Integers keep their sign and full range here; checks
/// turn them into sizes and report what does not fit.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i128),
    Float(f64),
    Bool(bool),
    Str(String),
    /// `(h, w)`; each element keeps its own position.
    Tuple(Vec<Located<Value>>),
    /// A value the front end already reported (e.g. a number too large to
    /// read); checks skip it silently.
    Invalid,
}

impl Value {
    /// How the value is described in "expected ..., found ..." messages.
    pub fn describe(&self) -> String {
        match self {
            Value::Int(n) => format!("the integer {n}"),
            Value::Float(x) => format!("the number {x}"),
            Value::Bool(b) => format!("`{b}`"),
            Value::Str(s) => format!("the string \"{s}\""),
            Value::Tuple(items) => format!("a tuple of {} values", items.len()),
            Value::Invalid => "an invalid value".to_owned(),
        }
    }
}
