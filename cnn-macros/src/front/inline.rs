//! The inline front end: `cnn_model! { pub struct Net { input: [...], ... } }`,
//! parsed with syn.

use super::Origins;
use crate::spec::{Arg, LayerSpec, Located, Spec, Value};
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{bracketed, parenthesized, Attribute, Ident, LitInt, Token};

/// The entries between the braces, before conversion to a spec.
pub struct Body {
    entries: Punctuated<Entry, Token![,]>,
}

struct Entry {
    attrs: Vec<Attribute>,
    name: Ident,
    what: EntryValue,
}

enum EntryValue {
    Shape(Span, Vec<LitInt>),
    /// `weights: "path.safetensors"`
    Path(syn::LitStr),
    Layer {
        kind: Ident,
        args: Option<(Span, Punctuated<RawArg, Token![,]>)>,
    },
}

struct RawArg {
    keyword: Option<Ident>,
    value: RawValue,
}

enum RawValue {
    Int(LitInt),
    Float(syn::LitFloat),
    Negative(Span, Box<RawValue>),
    Str(syn::LitStr),
    Bool(Span, bool),
    Tuple(Span, Vec<RawValue>),
}

impl Parse for Body {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        Ok(Body {
            entries: input.parse_terminated(Entry::parse, Token![,])?,
        })
    }
}

impl Parse for Entry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let name: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        let what = if name == "weights" && input.peek(syn::LitStr) {
            EntryValue::Path(input.parse()?)
        } else if name == "input" {
            let content;
            let bracket = bracketed!(content in input);
            let dims = Punctuated::<LitInt, Token![,]>::parse_terminated(&content)?;
            EntryValue::Shape(bracket.span.join(), dims.into_iter().collect())
        } else {
            let mut kind: Ident = input.parse()?;
            // `nn.Conv2d`, as copied from a PyTorch module.
            if kind == "nn" && input.peek(Token![.]) {
                input.parse::<Token![.]>()?;
                kind = input.parse()?;
            }
            let args = if input.peek(syn::token::Paren) {
                let content;
                let paren = parenthesized!(content in input);
                Some((paren.span.join(), content.parse_terminated(RawArg::parse, Token![,])?))
            } else {
                None
            };
            EntryValue::Layer { kind, args }
        };
        Ok(Entry { attrs, name, what })
    }
}

impl Parse for RawArg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let keyword = if input.peek(Ident) && input.peek2(Token![=]) {
            let keyword: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            Some(keyword)
        } else {
            None
        };
        Ok(RawArg {
            keyword,
            value: input.parse()?,
        })
    }
}

/// Argument values nest at most this deep: `(h, w)` is one level.
const MAX_NESTING: usize = 4;

impl Parse for RawValue {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        RawValue::parse_nested(input, 0)
    }
}

impl RawValue {
    /// Parses a value, refusing absurd nesting before it can exhaust the
    /// compiler's stack.
    fn parse_nested(input: ParseStream, depth: usize) -> syn::Result<Self> {
        let lookahead = input.lookahead1();
        if lookahead.peek(LitInt) {
            Ok(RawValue::Int(input.parse()?))
        } else if lookahead.peek(syn::LitFloat) {
            Ok(RawValue::Float(input.parse()?))
        } else if lookahead.peek(syn::LitStr) {
            Ok(RawValue::Str(input.parse()?))
        } else if lookahead.peek(syn::LitBool) {
            let b: syn::LitBool = input.parse()?;
            Ok(RawValue::Bool(b.span, b.value))
        } else if lookahead.peek(Token![-]) {
            let minus: Token![-] = input.parse()?;
            let inner = RawValue::parse_nested(input, depth + 1)?;
            match inner {
                RawValue::Int(_) | RawValue::Float(_) => Ok(RawValue::Negative(minus.span, Box::new(inner))),
                _ => Err(syn::Error::new(minus.span, "`-` must be followed by a number")),
            }
        } else if lookahead.peek(syn::token::Paren) {
            let content;
            let paren = parenthesized!(content in input);
            if depth >= MAX_NESTING {
                return Err(syn::Error::new(
                    paren.span.join(),
                    "argument values nest at most 4 levels; write sizes as a number or an (h, w) pair",
                ));
            }
            let mut items = Vec::new();
            while !content.is_empty() {
                items.push(RawValue::parse_nested(&content, depth + 1)?);
                if !content.is_empty() {
                    content.parse::<Token![,]>()?;
                }
            }
            Ok(RawValue::Tuple(paren.span.join(), items))
        } else if input.peek(Ident) {
            let ident: Ident = input.parse()?;
            // Python spellings, so a PyTorch signature can be pasted as is.
            match ident.to_string().as_str() {
                "True" => Ok(RawValue::Bool(ident.span(), true)),
                "False" => Ok(RawValue::Bool(ident.span(), false)),
                other => Err(syn::Error::new(
                    ident.span(),
                    format!("expected a number, a string, `true`/`false` or an (h, w) pair, found `{other}`"),
                )),
            }
        } else {
            Err(lookahead.error())
        }
    }
}

impl RawValue {
    fn span(&self) -> Span {
        match self {
            RawValue::Int(lit) => lit.span(),
            RawValue::Float(lit) => lit.span(),
            RawValue::Str(lit) => lit.span(),
            RawValue::Negative(span, _) | RawValue::Bool(span, _) | RawValue::Tuple(span, _) => *span,
        }
    }

    fn into_value(self, origins: &mut Origins, errors: &mut Vec<syn::Error>) -> Located<Value> {
        let span = self.span();
        let value = match self {
            RawValue::Int(lit) => int(&lit, errors).map_or(Value::Invalid, Value::Int),
            RawValue::Float(lit) => float(&lit, errors).map_or(Value::Invalid, Value::Float),
            RawValue::Negative(_, inner) => match inner.into_value(origins, errors).value {
                Value::Int(n) => Value::Int(-n),
                Value::Float(x) => Value::Float(-x),
                other => other,
            },
            RawValue::Str(lit) => Value::Str(lit.value()),
            RawValue::Bool(_, b) => Value::Bool(b),
            RawValue::Tuple(_, items) => {
                Value::Tuple(items.into_iter().map(|v| v.into_value(origins, errors)).collect())
            }
        };
        Located::new(value, origins.span(span))
    }
}

/// The literal's value, or `None` after reporting why it has none.
fn int(lit: &LitInt, errors: &mut Vec<syn::Error>) -> Option<i128> {
    if !lit.suffix().is_empty() {
        errors.push(syn::Error::new(lit.span(), "write sizes without a type suffix"));
        return None;
    }
    match lit.base10_parse::<i128>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push(syn::Error::new(lit.span(), "this number is too large"));
            None
        }
    }
}

fn float(lit: &syn::LitFloat, errors: &mut Vec<syn::Error>) -> Option<f64> {
    match lit.base10_parse::<f64>() {
        Ok(x) => Some(x),
        Err(err) => {
            errors.push(err);
            None
        }
    }
}

/// Reads `#[key = "..."]`; doc comments on layers are allowed and ignored.
fn layer_key(attrs: &[Attribute], origins: &mut Origins, errors: &mut Vec<syn::Error>) -> Option<Located<String>> {
    let mut key = None;
    for attr in attrs {
        if attr.path().is_ident("doc") {
            continue;
        }
        if !attr.path().is_ident("key") {
            errors.push(syn::Error::new(
                attr.path().span(),
                "unknown layer attribute; a layer takes only `#[key = \"state_dict.prefix\"]` (and doc comments)",
            ));
            continue;
        }
        let value = attr.meta.require_name_value().and_then(|nv| match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s), ..
            }) => Ok(s.clone()),
            other => Err(syn::Error::new(
                other.span(),
                "write the key as a string: `#[key = \"features.0\"]`",
            )),
        });
        match value {
            Ok(lit) if key.is_none() => key = Some(Located::new(lit.value(), origins.span(lit.span()))),
            Ok(lit) => errors.push(syn::Error::new(lit.span(), "a layer takes one `#[key = ...]`")),
            Err(err) => errors.push(err),
        }
    }
    key
}

/// Converts the inline entries into a spec. Front-end errors (number
/// literals, attributes) are returned beside it, so the model still checks
/// everything else.
pub fn to_spec(body: Body, name: Span, origins: &mut Origins) -> (Spec, Vec<syn::Error>) {
    let mut errors = Vec::new();
    let mut input = None;
    let mut weights = None;
    let mut layers = Vec::new();
    for entry in body.entries {
        match entry.what {
            EntryValue::Path(path) => {
                if weights.is_some() || !entry.attrs.is_empty() {
                    errors.push(syn::Error::new(
                        path.span(),
                        "`weights: \"...\"` is written once, without attributes",
                    ));
                    continue;
                }
                weights = Some(Located::new(path.value(), origins.span(path.span())));
            }
            EntryValue::Shape(span, dims) => {
                if !entry.attrs.is_empty() || input.is_some() || !layers.is_empty() {
                    errors.push(syn::Error::new(
                        entry.name.span(),
                        "`input: [C, H, W]` is written once, before the layers, without attributes",
                    ));
                    continue;
                }
                let dims = dims
                    .iter()
                    .map(|lit| {
                        // After a front-end error the dimension reads as 1, so
                        // the model adds no second error for the same token.
                        let n = int(lit, &mut errors).map_or(1, |n| {
                            u64::try_from(n).unwrap_or_else(|_| {
                                errors.push(syn::Error::new(lit.span(), "input dimensions are positive sizes"));
                                1
                            })
                        });
                        Located::new(n, origins.span(lit.span()))
                    })
                    .collect();
                input = Some(Located::new(dims, origins.span(span)));
            }
            EntryValue::Layer { kind, args } => {
                let key = layer_key(&entry.attrs, origins, &mut errors);
                let args = args
                    .map(|(_, args)| {
                        args.into_iter()
                            .map(|arg| Arg {
                                keyword: arg.keyword.map(|k| Located::new(k.to_string(), origins.span(k.span()))),
                                value: arg.value.into_value(origins, &mut errors),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                layers.push(LayerSpec {
                    name: Located::new(entry.name.unraw().to_string(), origins.span(entry.name.span())),
                    key,
                    kind: Located::new(kind.to_string(), origins.span(kind.span())),
                    args,
                });
            }
        }
    }
    let spec = Spec {
        loc: origins.span(name),
        input,
        weights,
        layers,
    };
    (spec, errors)
}
