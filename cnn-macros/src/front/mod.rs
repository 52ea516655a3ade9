//! Front ends: what the user wrote, turned into a [`crate::spec::Spec`].
//!
//! `cnn_model!` takes the description inline, or from a TOML file:
//!
//! ```text
//! cnn_model! { pub struct Net { input: [1, 28, 28], ... } }
//! cnn_model! { pub struct Net = "models/net.toml"; }
//! cnn_model! { pub struct Net = toml(r#" input = [1, 8, 8] ... "#); }
//! ```

pub mod files;
pub mod inline;
pub mod toml;

use crate::diag::{Diagnostic, Loc};
use proc_macro2::Span;
use std::ops::Range;
use syn::parse::{Parse, ParseStream};
use syn::{braced, parenthesized, Attribute, Ident, LitStr, Token, Visibility};

/// The Rust-facing part of the description: attributes, visibility, name.
pub struct Header {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
}

/// Where the description comes from.
pub enum Source {
    /// `{ input: [...], layer: Kind(...), ... }`
    Inline(inline::Body),
    /// `= "models/net.toml"`: a file relative to the crate root.
    TomlFile(LitStr),
    /// `= toml(r#"..."#)`: TOML text in the invocation.
    TomlText(LitStr),
}

/// A whole `cnn_model!` invocation.
pub struct Invocation {
    pub header: Header,
    pub source: Source,
}

impl Parse for Invocation {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        input.parse::<Token![struct]>()?;
        let ident: Ident = input.parse()?;
        let source = if input.peek(syn::token::Brace) {
            let content;
            braced!(content in input);
            Source::Inline(content.parse()?)
        } else if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            if input.peek(LitStr) {
                Source::TomlFile(input.parse()?)
            } else {
                let keyword: Ident = input.parse()?;
                if keyword != "toml" {
                    return Err(syn::Error::new(
                        keyword.span(),
                        "expected a path to a TOML file (`= \"models/net.toml\"`) or inline TOML (`= toml(r#\"...\"#)`)",
                    ));
                }
                let content;
                parenthesized!(content in input);
                let text: LitStr = content.parse()?;
                Source::TomlText(text)
            }
        } else {
            return Err(input
                .error("expected `{ input: [...], layers... }`, or `= \"path/to/model.toml\"` after the struct name"));
        };
        if input.peek(Token![;]) {
            input.parse::<Token![;]>()?;
        }
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the model description"));
        }
        Ok(Invocation {
            header: Header { attrs, vis, ident },
            source,
        })
    }
}

/// Where a [`Loc`] points: a token of the invocation, or a byte range of a
/// TOML text.
#[derive(Clone)]
pub enum Origin {
    Token(Span),
    Text(Range<usize>),
}

/// Maps each [`Loc`] handed to the model back to where the user wrote it.
#[derive(Default)]
pub struct Origins {
    origins: Vec<Origin>,
}

impl Origins {
    pub fn add(&mut self, origin: Origin) -> Loc {
        let index = u32::try_from(self.origins.len()).unwrap_or(u32::MAX);
        self.origins.push(origin);
        Loc(index)
    }

    pub fn span(&mut self, span: Span) -> Loc {
        self.add(Origin::Token(span))
    }

    pub fn text(&mut self, range: Range<usize>) -> Loc {
        self.add(Origin::Text(range))
    }

    pub fn get(&self, loc: Loc) -> Origin {
        usize::try_from(loc.0)
            .ok()
            .and_then(|i| self.origins.get(i).cloned())
            .unwrap_or(Origin::Token(Span::call_site()))
    }
}

/// A TOML text and how to name it in messages.
pub struct TomlText {
    /// `models/net.toml`, as written, or `<inline TOML>`.
    pub label: String,
    pub text: String,
    /// The span of the string literal that names or holds the text: TOML
    /// positions cannot be spans, so errors go here with `file:line:col:`.
    pub span: Span,
}

/// `line:column` (both from 1) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Turns the model's diagnostics into compile errors at the user's tokens,
/// or at the TOML literal with the file position in front.
pub fn to_errors(diagnostics: Vec<Diagnostic>, origins: &Origins, toml: Option<&TomlText>) -> syn::Error {
    let mut errors = diagnostics.into_iter().map(|d| match (origins.get(d.loc), toml) {
        (Origin::Token(span), _) => syn::Error::new(span, d.message),
        (Origin::Text(range), Some(toml)) => {
            let (line, column) = line_col(&toml.text, range.start);
            syn::Error::new(toml.span, format!("{}:{line}:{column}: {}", toml.label, d.message))
        }
        (Origin::Text(_), None) => syn::Error::new(Span::call_site(), d.message),
    });
    let first = errors
        .next()
        .unwrap_or_else(|| syn::Error::new(Span::call_site(), "invalid model description"));
    errors.fold(first, |mut all, e| {
        all.combine(e);
        all
    })
}

#[cfg(test)]
mod tests {
    use super::line_col;

    #[test]
    fn positions() {
        let text = "a = 1\nbb = 2\n\nc";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 4), (1, 5));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 9), (2, 4));
        assert_eq!(line_col(text, 13), (3, 1));
        assert_eq!(line_col(text, 14), (4, 1));
        assert_eq!(line_col(text, 999), (4, 2));
    }
}
