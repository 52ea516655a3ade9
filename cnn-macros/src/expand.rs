//! The pipeline: parse (inline or TOML) → validate → check embedded weights →
//! generate. Errors become `compile_error!`s at the user's tokens, or at the
//! TOML path with `file:line:col:` in front.

use crate::diag::{Diagnostic, Loc};
use crate::embed::{self, Embedded};
use crate::front::{self, files, inline, Invocation, Origins, Source, TomlText};
use crate::spec::Spec;
use crate::{codegen, model};
use proc_macro2::{Span, TokenStream};
use std::path::PathBuf;

/// Everything the front end produced.
struct Parsed {
    spec: Option<Spec>,
    errors: Vec<syn::Error>,
    diagnostics: Vec<Diagnostic>,
    origins: Origins,
    toml: Option<TomlText>,
    /// Where relative paths inside the description start.
    base: Option<PathBuf>,
    /// Files the output must depend on, so Cargo rebuilds when they change.
    tracked: Vec<String>,
}

fn parse(source: Source, ident_span: Span) -> Parsed {
    let mut parsed = Parsed {
        spec: None,
        errors: Vec::new(),
        diagnostics: Vec::new(),
        origins: Origins::default(),
        toml: None,
        base: None,
        tracked: Vec::new(),
    };
    let root = files::crate_root();
    let (text, label, span) = match source {
        Source::Inline(body) => {
            let (spec, errors) = inline::to_spec(body, ident_span, &mut parsed.origins);
            parsed.spec = Some(spec);
            parsed.errors = errors;
            parsed.base = root.ok();
            return parsed;
        }
        Source::TomlText(literal) => {
            parsed.base = root.ok();
            (literal.value(), "<inline TOML>".to_owned(), literal.span())
        }
        Source::TomlFile(literal) => {
            let written = literal.value();
            let read = root.and_then(|root| {
                let path = files::resolve(&root, &written)?;
                let text = files::read_text(&path, &written)?;
                Ok((path, text))
            });
            match read {
                Ok((path, text)) => {
                    parsed.base = path.parent().map(PathBuf::from);
                    if let Ok(literal_path) = files::as_literal(&path) {
                        parsed.tracked.push(literal_path);
                    }
                    (text, written, literal.span())
                }
                Err(message) => {
                    parsed.errors.push(syn::Error::new(literal.span(), message));
                    return parsed;
                }
            }
        }
    };
    let whole = parsed.origins.text(0..0);
    let (spec, diagnostics) = front::toml::parse(&text, &mut parsed.origins, whole);
    parsed.spec = spec;
    parsed.diagnostics = diagnostics;
    parsed.toml = Some(TomlText { label, text, span });
    parsed
}

/// Reads and checks the weights file named in the description.
fn embed(
    parsed: &Parsed,
    model: &model::Model,
    ident: &syn::Ident,
    written: &str,
    loc: Loc,
) -> Result<Embedded, Diagnostic> {
    let error = |message: String| Diagnostic { loc, message };
    let base = parsed
        .base
        .as_ref()
        .ok_or_else(|| error("CARGO_MANIFEST_DIR is not set".to_owned()))?;
    let path = files::resolve(base, written).map_err(|m| error(format!("weights: {m}")))?;
    let bytes = files::read_bytes(&path, written).map_err(|m| error(format!("weights: {m}")))?;
    let literal = files::as_literal(&path).map_err(|m| error(format!("weights: {m}")))?;
    let symbol = files::link_symbol(ident, &literal);
    embed::check(model, &bytes, written, literal)
        .map(|embedded| Embedded { symbol, ..embedded })
        .map_err(|problems| {
            error(format!(
                "weights \"{written}\" do not fit the model ({} problem{}):\n  {}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
                problems.join("\n  ")
            ))
        })
}

pub fn expand(tokens: TokenStream) -> TokenStream {
    let invocation = match syn::parse2::<Invocation>(tokens) {
        Ok(invocation) => invocation,
        Err(err) => return err.into_compile_error(),
    };
    let Invocation { header, source } = invocation;
    let mut parsed = parse(source, header.ident.span());
    let mut generated = None;
    if let Some(spec) = &parsed.spec {
        match model::validate(spec) {
            Ok(model) => {
                let embedded = match &spec.weights {
                    Some(written) => match embed(&parsed, &model, &header.ident, &written.value, written.loc) {
                        Ok(embedded) => Some(embedded),
                        Err(diagnostic) => {
                            parsed.diagnostics.push(diagnostic);
                            None
                        }
                    },
                    None => None,
                };
                generated = Some((model, embedded));
            }
            Err(diagnostics) => parsed.diagnostics.extend(diagnostics),
        }
    }
    let mut errors = std::mem::take(&mut parsed.errors);
    if !parsed.diagnostics.is_empty() {
        errors.push(front::to_errors(
            parsed.diagnostics,
            &parsed.origins,
            parsed.toml.as_ref(),
        ));
    }
    match generated {
        Some((model, embedded)) if errors.is_empty() => {
            codegen::generate(&header, &model, embedded.as_ref(), &parsed.tracked)
        }
        _ => {
            let combined = errors
                .into_iter()
                .reduce(|mut all, e| {
                    all.combine(e);
                    all
                })
                .unwrap_or_else(|| syn::Error::new(Span::call_site(), "invalid model description"));
            codegen::fallback(&header, combined.into_compile_error(), &parsed.tracked)
        }
    }
}
