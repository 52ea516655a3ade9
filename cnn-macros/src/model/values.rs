//! Typed reading of bound arguments: sizes, `(h, w)` pairs, padding, flags.
//! Each reader reports a wrong type or range at the argument and returns
//! `None`, so the layer's other checks still run.

use super::shape::Rounding;
use super::signature::Bound;
use crate::diag::{Diagnostics, Loc};
use crate::spec::{Located, Value};

/// A value for the height and the width axes, each with its position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hw<T> {
    pub h: T,
    pub w: T,
}

impl<T: Copy> Hw<T> {
    pub fn both(value: T) -> Self {
        Hw { h: value, w: value }
    }
}

/// `padding` as written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Padding {
    Explicit(Hw<Located<u64>>),
    Same(Loc),
    Valid(Loc),
}

/// Reads the arguments of one layer.
pub struct Reader<'a, 'd> {
    pub bound: &'a Bound<'a>,
    pub diags: &'d mut Diagnostics,
}

impl Reader<'_, '_> {
    fn error(&mut self, loc: Loc, message: String) {
        let layer = self.bound.layer;
        self.diags.error(loc, format!("{layer}: {message}"));
    }

    fn integer(&mut self, name: &str, value: &Located<Value>, min: u64) -> Option<Located<u64>> {
        let kind = self.bound.kind;
        match value.value {
            Value::Int(n) if n >= i128::from(min) => match u64::try_from(n) {
                Ok(n) => Some(Located::new(n, value.loc)),
                Err(_) => {
                    self.error(value.loc, format!("{kind} argument `{name}` = {n} is too large"));
                    None
                }
            },
            Value::Int(n) => {
                let what = if min == 1 { "at least 1" } else { "0 or more" };
                self.error(value.loc, format!("{kind} argument `{name}` must be {what}, found {n}"));
                None
            }
            Value::Invalid => None,
            ref other => {
                self.error(
                    value.loc,
                    format!(
                        "{kind} argument `{name}` must be an integer, found {}",
                        other.describe()
                    ),
                );
                None
            }
        }
    }

    /// A required or defaulted integer `>= min`.
    pub fn size(&mut self, name: &str, min: u64, default: Option<u64>) -> Option<Located<u64>> {
        match self.bound.value(name) {
            Some(value) => self.integer(name, value, min),
            None => default.map(|d| Located::new(d, self.bound.kind_loc)),
        }
    }

    /// An integer or an `(h, w)` pair of integers `>= min`.
    pub fn pair(&mut self, name: &str, min: u64, default: Option<u64>) -> Option<Hw<Located<u64>>> {
        let Some(value) = self.bound.value(name) else {
            return default.map(|d| Hw::both(Located::new(d, self.bound.kind_loc)));
        };
        match &value.value {
            Value::Tuple(items) if items.len() == 2 => {
                let [h, w] = items.as_slice() else { return None };
                let h = self.integer(name, h, min);
                let w = self.integer(name, w, min);
                Some(Hw { h: h?, w: w? })
            }
            Value::Tuple(items) => {
                let kind = self.bound.kind;
                self.error(
                    value.loc,
                    format!(
                        "{kind} argument `{name}` takes one integer or an (h, w) pair, found {} values",
                        items.len()
                    ),
                );
                None
            }
            _ => self.integer(name, value, min).map(Hw::both),
        }
    }

    /// `padding`: an integer, an `(h, w)` pair, or (when `allow_strings`)
    /// `"same"` / `"valid"`.
    pub fn padding(&mut self, allow_strings: bool) -> Option<Padding> {
        if let Some(value) = self.bound.value("padding") {
            if let Value::Str(text) = &value.value {
                let kind = self.bound.kind;
                return match text.as_str() {
                    "same" if allow_strings => Some(Padding::Same(value.loc)),
                    "valid" if allow_strings => Some(Padding::Valid(value.loc)),
                    _ if allow_strings => {
                        self.error(
                            value.loc,
                            format!("{kind} padding must be an integer, an (h, w) pair, \"same\" or \"valid\", found \"{text}\""),
                        );
                        None
                    }
                    _ => {
                        self.error(
                            value.loc,
                            format!(
                                "{kind} padding must be an integer or an (h, w) pair; \"{text}\" is only for Conv2d"
                            ),
                        );
                        None
                    }
                };
            }
        }
        self.pair("padding", 0, Some(0)).map(Padding::Explicit)
    }

    pub fn flag(&mut self, name: &str, default: bool) -> Option<Located<bool>> {
        let Some(value) = self.bound.value(name) else {
            return Some(Located::new(default, self.bound.kind_loc));
        };
        match value.value {
            Value::Bool(b) => Some(Located::new(b, value.loc)),
            Value::Invalid => None,
            ref other => {
                let kind = self.bound.kind;
                self.error(
                    value.loc,
                    format!(
                        "{kind} argument `{name}` must be `true` or `false`, found {}",
                        other.describe()
                    ),
                );
                None
            }
        }
    }

    /// A number (an integer is accepted: `eps = 0` means 0.0).
    pub fn number(&mut self, name: &str, default: f64) -> Option<Located<f64>> {
        let Some(value) = self.bound.value(name) else {
            return Some(Located::new(default, self.bound.kind_loc));
        };
        // Precision loss is irrelevant for hyper-parameters; the kernels take
        // them as f32, so they must be finite there.
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let number = match value.value {
            Value::Float(x) => Some(x),
            Value::Int(n) => Some(n as f64),
            _ => None,
        };
        match value.value {
            #[allow(clippy::cast_possible_truncation)]
            Value::Float(_) | Value::Int(_) if number.is_some_and(|x| !(x as f32).is_finite()) => {
                let kind = self.bound.kind;
                let shown = number.unwrap_or_default();
                self.error(
                    value.loc,
                    format!("{kind} argument `{name}` = {shown:e} is outside the f32 range the kernels compute in"),
                );
                None
            }
            Value::Float(x) => Some(Located::new(x, value.loc)),
            #[allow(clippy::cast_precision_loss)]
            Value::Int(n) => Some(Located::new(n as f64, value.loc)),
            Value::Invalid => None,
            ref other => {
                let kind = self.bound.kind;
                self.error(
                    value.loc,
                    format!(
                        "{kind} argument `{name}` must be a finite number, found {}",
                        other.describe()
                    ),
                );
                None
            }
        }
    }

    /// A signed integer (dimension indices such as `dim = -1`).
    pub fn signed(&mut self, name: &str, default: i128) -> Option<Located<i128>> {
        let Some(value) = self.bound.value(name) else {
            return Some(Located::new(default, self.bound.kind_loc));
        };
        match value.value {
            Value::Int(n) => Some(Located::new(n, value.loc)),
            Value::Invalid => None,
            ref other => {
                let kind = self.bound.kind;
                self.error(
                    value.loc,
                    format!(
                        "{kind} argument `{name}` must be an integer, found {}",
                        other.describe()
                    ),
                );
                None
            }
        }
    }

    /// A string argument, with its default.
    pub fn string(&mut self, name: &str, default: &str) -> Option<Located<String>> {
        let Some(value) = self.bound.value(name) else {
            return Some(Located::new(default.to_owned(), self.bound.kind_loc));
        };
        match &value.value {
            Value::Str(text) => Some(Located::new(text.clone(), value.loc)),
            Value::Invalid => None,
            other => {
                let kind = self.bound.kind;
                self.error(
                    value.loc,
                    format!("{kind} argument `{name}` must be a string, found {}", other.describe()),
                );
                None
            }
        }
    }

    /// Our `rounding` keyword together with a pool's `ceil_mode`.
    pub fn rounding(&mut self, has_ceil_mode: bool) -> Option<Rounding> {
        let rounding = self.string("rounding", "exact")?;
        let chosen = match rounding.value.as_str() {
            "exact" => Rounding::Exact,
            "floor" => Rounding::Floor,
            other => {
                let kind = self.bound.kind;
                let ceil = if has_ceil_mode {
                    "; for ceiling write `ceil_mode = true`"
                } else {
                    ""
                };
                self.error(
                    rounding.loc,
                    format!("{kind} argument `rounding` must be \"exact\" (the default) or \"floor\" (PyTorch's rounding), found \"{other}\"{ceil}"),
                );
                return None;
            }
        };
        if !has_ceil_mode {
            return Some(chosen);
        }
        let ceil_mode = self.flag("ceil_mode", false)?;
        if !ceil_mode.value {
            return Some(chosen);
        }
        if chosen == Rounding::Floor {
            self.error(
                rounding.loc,
                "`rounding = \"floor\"` contradicts `ceil_mode = true`; keep one".to_owned(),
            );
            return None;
        }
        Some(Rounding::Ceil)
    }

    /// Rejects a PyTorch option we do not support, when it is set to anything
    /// but its default.
    pub fn unsupported_flag(&mut self, name: &str, default: bool, why: &str) {
        if let Some(flag) = self.flag(name, default) {
            if flag.value != default {
                let kind = self.bound.kind;
                self.error(
                    flag.loc,
                    format!("{kind} with `{name} = {}` is not supported: {why}", flag.value),
                );
            }
        }
    }
}
