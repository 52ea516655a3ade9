//! Front ends: what the user wrote, turned into a [`crate::spec::Spec`].

pub mod inline;

use crate::diag::Loc;
use proc_macro2::Span;

/// Maps each [`Loc`] handed to the model back to a span in the user's code.
#[derive(Default)]
pub struct Spans {
    spans: Vec<Span>,
}

impl Spans {
    pub fn add(&mut self, span: Span) -> Loc {
        let index = u32::try_from(self.spans.len()).unwrap_or(u32::MAX);
        self.spans.push(span);
        Loc(index)
    }

    pub fn span(&self, loc: Loc) -> Span {
        usize::try_from(loc.0)
            .ok()
            .and_then(|i| self.spans.get(i).copied())
            .unwrap_or_else(Span::call_site)
    }
}
