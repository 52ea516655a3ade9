//! The TOML front end. One file describes one model, in the words of the
//! inline language:
//!
//! ```toml
//! input = [1, 28, 28]
//! weights = "lenet5.safetensors"   # optional, relative to this file
//!
//! [[layers]]
//! name = "conv1"
//! kind = "Conv2d"
//! args = [1, 6, 5]        # positional arguments, as in Conv2d(1, 6, 5, ...)
//! padding = 2             # keyword arguments, PyTorch's names
//! key = "features.0"      # optional state_dict prefix
//! ```
//!
//! Unknown top-level keys are rejected by serde (`deny_unknown_fields`);
//! unknown layer keys go through the same signature check as inline
//! keywords, "did you mean" included.

use super::Origins;
use crate::diag::{suggestion, Diagnostic, Diagnostics, Loc};
use crate::spec::{Arg, LayerSpec, Located, Spec, Value};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// The keys a model file may have.
const TOP_KEYS: &[&str] = &["input", "weights", "layers"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    input: Spanned<Vec<Spanned<i64>>>,
    #[serde(default)]
    weights: Option<Spanned<String>>,
    #[serde(default)]
    layers: Vec<Spanned<BTreeMap<Spanned<String>, Spanned<TomlValue>>>>,
}

/// A TOML value, with the position of every array element.
enum TomlValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    Array(Vec<Spanned<TomlValue>>),
    /// Tables and dates are never argument values; kept to report them.
    Other(&'static str),
}

impl<'de> Deserialize<'de> for TomlValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = TomlValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, a string, a boolean or an array")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<TomlValue, E> {
        Ok(TomlValue::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<TomlValue, E> {
        i64::try_from(v)
            .map(TomlValue::Int)
            .map_err(|_| E::custom("integer too large"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<TomlValue, E> {
        Ok(TomlValue::Float(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<TomlValue, E> {
        Ok(TomlValue::Bool(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<TomlValue, E> {
        Ok(TomlValue::Str(v.to_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TomlValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<TomlValue>>()? {
            items.push(item);
        }
        Ok(TomlValue::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TomlValue, A::Error> {
        while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
        Ok(TomlValue::Other("a table"))
    }
}

impl TomlValue {
    fn into_value(self, span: std::ops::Range<usize>, origins: &mut Origins) -> Located<Value> {
        let value = match self {
            TomlValue::Int(n) => Value::Int(i128::from(n)),
            TomlValue::Float(x) => Value::Float(x),
            TomlValue::Bool(b) => Value::Bool(b),
            TomlValue::Str(s) => Value::Str(s),
            TomlValue::Array(items) => Value::Tuple(
                items
                    .into_iter()
                    .map(|item| {
                        let span = item.span();
                        item.into_inner().into_value(span, origins)
                    })
                    .collect(),
            ),
            // An empty tuple reports "takes one integer or an (h, w) pair".
            TomlValue::Other(what) => Value::Str(format!("<{what}>")),
        };
        Located::new(value, origins.text(span))
    }
}

/// A layer name must be a Rust identifier: it names fields and messages.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name != "_"
}

/// Adds "did you mean" to serde's unknown-field message.
fn explain(message: &str) -> String {
    let message = message.trim_end();
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    match unknown {
        Some(field) => format!("{message}{}", suggestion(field, TOP_KEYS.iter().copied())),
        None => message.to_owned(),
    }
}

/// Parses a model file. Returns the spec (when the file has the right
/// structure) and every error found, each at a byte range of `text`.
pub fn parse(text: &str, origins: &mut Origins, whole: Loc) -> (Option<Spec>, Vec<Diagnostic>) {
    let mut diags = Diagnostics::default();
    let file: File = match toml::from_str(text) {
        Ok(file) => file,
        Err(err) => {
            let loc = origins.text(err.span().unwrap_or(0..0));
            diags.error(loc, explain(err.message()));
            return (None, diags.into_vec());
        }
    };
    let input_loc = origins.text(file.input.span());
    let dims = file
        .input
        .into_inner()
        .into_iter()
        .map(|dim| {
            let loc = origins.text(dim.span());
            let value = *dim.get_ref();
            let value = u64::try_from(value).unwrap_or_else(|_| {
                diags.error(loc, format!("input: dimensions are sizes, found {value}"));
                1
            });
            Located::new(value, loc)
        })
        .collect();
    let weights = file.weights.map(|w| {
        let loc = origins.text(w.span());
        Located::new(w.into_inner(), loc)
    });
    let mut layers = Vec::new();
    for (index, table) in file.layers.into_iter().enumerate() {
        let table_loc = origins.text(table.span());
        if let Some(layer) = layer(index, table.into_inner(), table_loc, origins, &mut diags) {
            layers.push(layer);
        }
    }
    let spec = Spec {
        loc: whole,
        input: Some(Located::new(dims, input_loc)),
        weights,
        layers,
    };
    (Some(spec), diags.into_vec())
}

/// One `[[layers]]` table: `name`, `kind`, optional `key` and `args`, and
/// keyword arguments.
fn layer(
    index: usize,
    table: BTreeMap<Spanned<String>, Spanned<TomlValue>>,
    table_loc: Loc,
    origins: &mut Origins,
    diags: &mut Diagnostics,
) -> Option<LayerSpec> {
    let mut name = None;
    let mut kind = None;
    let mut key = None;
    let mut args = Vec::new();
    let mut keywords = Vec::new();
    for (field, value) in table {
        let field_loc = origins.text(field.span());
        let value_span = value.span();
        let value_loc = origins.text(value_span.clone());
        let label = format!("layer {}", index + 1);
        let text = |value: TomlValue, diags: &mut Diagnostics, what: &str| match value {
            TomlValue::Str(s) => Some(s),
            _ => {
                diags.error(value_loc, format!("{label}: `{what}` must be a string"));
                None
            }
        };
        match field.get_ref().as_str() {
            "name" => name = text(value.into_inner(), diags, "name").map(|s| Located::new(s, value_loc)),
            "kind" => kind = text(value.into_inner(), diags, "kind").map(|s| Located::new(s, value_loc)),
            "key" => key = text(value.into_inner(), diags, "key").map(|s| Located::new(s, value_loc)),
            "args" => match value.into_inner() {
                TomlValue::Array(items) => {
                    for item in items {
                        let span = item.span();
                        args.push(Arg {
                            keyword: None,
                            value: item.into_inner().into_value(span, origins),
                        });
                    }
                }
                _ => diags.error(
                    value_loc,
                    format!("{label}: `args` lists the positional arguments, e.g. `args = [1, 6, 5]`"),
                ),
            },
            other => keywords.push(Arg {
                keyword: Some(Located::new(other.to_owned(), field_loc)),
                value: value.into_inner().into_value(value_span, origins),
            }),
        }
    }
    let (Some(name), Some(kind)) = (name, kind) else {
        diags.error(
            table_loc,
            format!(
                "layer {}: every layer needs `name` and `kind`, e.g. {{ name = \"conv1\", kind = \"Conv2d\", args = [1, 6, 5] }}",
                index + 1
            ),
        );
        return None;
    };
    if !is_identifier(&name.value) {
        diags.error(
            name.loc,
            format!(
                "layer name \"{}\" must be an identifier (letters, digits, `_`); for a state_dict prefix such as \"features.0\" write `key = \"features.0\"`",
                name.value
            ),
        );
        return None;
    }
    args.extend(keywords);
    Some(LayerSpec { name, key, kind, args })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(text: &str) -> Vec<String> {
        let mut origins = Origins::default();
        let whole = origins.text(0..0);
        let (spec, mut diags) = parse(text, &mut origins, whole);
        if let (Some(spec), true) = (spec, diags.is_empty()) {
            if let Err(more) = crate::model::validate(&spec) {
                diags = more;
            }
        }
        diags
            .into_iter()
            .map(|d| match origins.get(d.loc) {
                super::super::Origin::Text(range) => {
                    let (line, col) = super::super::line_col(text, range.start);
                    format!("{line}:{col}: {}", d.message)
                }
                super::super::Origin::Token(_) => d.message,
            })
            .collect()
    }

    #[test]
    fn a_valid_file_validates() {
        let text = r#"
input = [1, 28, 28]

[[layers]]
name = "conv1"
kind = "Conv2d"
args = [1, 6, 5]
padding = 2

[[layers]]
name = "pool1"
kind = "MaxPool2d"
args = [[2, 2]]
"#;
        assert_eq!(messages(text), Vec::<String>::new());
    }

    #[test]
    fn errors_name_line_and_column() {
        let text =
            "input = [3, 7, 7]\n\n[[layers]]\nname = \"conv2\"\nkind = \"Conv2d\"\nargs = [3, 8, 3]\nstride = 3\n";
        let errors = messages(text);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("7:10: conv2: output height and width (7 - 3 + 2*0) / 3 + 1 = 2.33"),
            "{errors:?}"
        );
    }

    #[test]
    fn unknown_keys_get_a_suggestion() {
        let errors = messages("inputs = [1, 2, 2]\n");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("unknown field `inputs`"), "{errors:?}");
        assert!(errors[0].contains("did you mean `input`?"), "{errors:?}");
        let errors =
            messages("input = [1, 4, 4]\n[[layers]]\nname = \"c\"\nkind = \"Conv2d\"\nargs = [1, 2, 3]\nstrid = 1\n");
        assert!(
            errors[0].starts_with("6:1: c: Conv2d has no argument `strid`; did you mean `stride`?"),
            "{errors:?}"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!(
            "input = [1, 4, 4]\nlayers = [{{ name = \"c\", kind = \"ReLU\", args = {}1{} }}]\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let errors = messages(&deep);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("max recursion depth"), "{errors:?}");
    }

    #[test]
    fn too_many_layers() {
        let layer = "[[layers]]\nname = \"r{i}\"\nkind = \"ReLU\"\n";
        let layers: String = (0..1100).map(|i| layer.replace("{i}", &i.to_string())).collect();
        let errors = messages(&format!("input = [4]\n{layers}"));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("1100 layers; the limit is 1024"), "{errors:?}");
    }

    #[test]
    fn wrong_types_and_syntax_are_errors() {
        let errors = messages("input = [1, 4, 4]\n[[layers]]\nname = \"c\"\nkind = \"Conv2d\"\nargs = [1, 2, \"3\"]\n");
        assert!(
            errors[0].starts_with("5:15: c: Conv2d argument `kernel_size` must be an integer"),
            "{errors:?}"
        );
        let errors = messages("input = [1, 4, 4\n");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("1:"), "{errors:?}");
        let errors = messages("input = \"big\"\n");
        assert!(errors[0].contains("invalid type"), "{errors:?}");
        let errors = messages("input = [1, 4, 4]\n[[layers]]\nname = \"features.0\"\nkind = \"ReLU\"\n");
        assert!(errors[0].contains("must be an identifier"), "{errors:?}");
        let errors = messages("input = [1, 4, 4]\n[[layers]]\nkind = \"ReLU\"\n");
        assert!(errors[0].contains("needs `name` and `kind`"), "{errors:?}");
    }
}
