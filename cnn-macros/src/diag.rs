//! Errors collected across the pipeline, each tied to the token the user wrote.

use std::fmt::Write as _;

/// A position in what the user wrote. The front end owns the table that maps it
/// back to a span (inline DSL) or a file position (TOML); the model stays free
/// of syn types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Loc(pub u32);

/// One error, with the place to underline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub loc: Loc,
    pub message: String,
}

/// Collects every error instead of stopping at the first, as serde_derive's
/// `Ctxt` does: one build shows the user everything that is wrong.
#[derive(Debug, Default)]
pub struct Diagnostics {
    errors: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn error(&mut self, loc: Loc, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            loc,
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.errors
    }
}

/// Edit distance, for "did you mean". Case differences cost nothing extra
/// beyond being counted once, so `Conv2D` finds `Conv2d`.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // One row of the edit-distance table at a time.
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for ((cb, diagonal), above) in b.iter().zip(&previous).zip(previous.iter().skip(1)) {
            let substitution = usize::from(ca != *cb);
            let left = current.last().copied().unwrap_or(0);
            current.push((diagonal + substitution).min(above + 1).min(left + 1));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|candidate| {
            let exact_ignoring_case = candidate.to_ascii_lowercase() == lower;
            let d = if exact_ignoring_case {
                0
            } else {
                distance(&lower, &candidate.to_ascii_lowercase())
            };
            (d, candidate)
        })
        .filter(|(d, candidate)| *d <= (candidate.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, candidate)| candidate)
}

/// "; did you mean `x`?" or nothing.
pub fn suggestion<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let mut text = String::new();
    if let Some(best) = did_you_mean(word, candidates) {
        let _ = write!(text, "; did you mean `{best}`?");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_case_slips() {
        let kinds = ["Conv2d", "MaxPool2d", "Linear", "ReLU"];
        assert_eq!(did_you_mean("Conv2D", kinds), Some("Conv2d"));
        assert_eq!(did_you_mean("Relu", kinds), Some("ReLU"));
        assert_eq!(did_you_mean("Maxpool2d", kinds), Some("MaxPool2d"));
        assert_eq!(did_you_mean("Lineer", kinds), Some("Linear"));
        assert_eq!(did_you_mean("Transformer", kinds), None);
        assert_eq!(did_you_mean("strid", ["stride", "padding"]), Some("stride"));
    }
}
