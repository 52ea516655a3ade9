//! The malformed-weights corpus: `from_safetensors` on every file of
//! tests/fixtures/malformed/, written by `python3 scripts/gen_malformed.py`.
//!
//! `manifest.toml` there gives, for each file, what it is and the outcome the
//! loader must give, as one line: `ok`, `format <SafeTensorError variant>`,
//! `duplicate_key <key>` or `mismatch <problem>; ...` (see the script). Each
//! load runs under `catch_unwind`, so a panic is a failure naming the file, not
//! an aborted test. Files that load are run on the manifest's input and
//! compared with the script's float64 reference output.
//!
//! The reference `safetensors` crate reads every file too: our loader must find
//! a file's *format* valid exactly when the crate does, except for our
//! documented stricter rule (a name given twice is `DuplicateKey`; the crate
//! keeps the last entry). A non-scalar `num_batches_tracked` is a model
//! mismatch, not a format error, so it does not count as one.
//!
//! A file can be marked `known_bug` in the manifest (the script's
//! `known_bug=` argument) while a bug it reproduces is open: the main tests
//! skip it and `cargo test --test malformed_weights -- --ignored` checks it
//! against its correct outcome. None is marked now: the two that were
//! (array-form header entries, RELIABILITY.md) are fixed.

mod common;

use cnn_runtime::{cnn_model, Model, WeightProblem, WeightsError};
use safetensors::{SafeTensorError, SafeTensors};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

cnn_model! {
    /// The model every file of the corpus is written for.
    struct Small {
        input: [1, 2, 2],
        conv: Conv2d(1, 2, 1),
        bn: BatchNorm2d(2),
        flatten: Flatten,
        fc: Linear(8, 3),
    }
}

/// The corpus must hold at least this many files.
const MIN_FILES: usize = 100;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/malformed")
}

// ---------------------------------------------------------------------------
// The manifest: a TOML subset (top-level `key = value` and `[[file]]` tables
// of strings and float arrays), read line by line. Anything else is an error.

#[derive(Debug, Default)]
struct Entry {
    name: String,
    what: String,
    expect: String,
    reference: String,
    known_bug: Option<String>,
    output: Option<Vec<f32>>,
}

struct Manifest {
    input: Vec<f32>,
    count: usize,
    files: Vec<Entry>,
}

/// A TOML basic string as the script writes it (JSON escapes).
fn string(value: &str, line: &str) -> String {
    let inner = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or_else(|| panic!("manifest: expected a string in {line:?}"));
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                other => panic!("manifest: unsupported escape {other:?} in {line:?}"),
            },
            c => out.push(c),
        }
    }
    out
}

fn floats(value: &str, line: &str) -> Vec<f32> {
    let inner = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or_else(|| panic!("manifest: expected an array in {line:?}"));
    inner
        .split(',')
        .map(|x| {
            x.trim()
                .parse::<f64>()
                .unwrap_or_else(|e| panic!("manifest: {e} in {line:?}")) as f32
        })
        .collect()
}

fn read_manifest() -> Manifest {
    let path = corpus_dir().join("manifest.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut manifest = Manifest {
        input: Vec::new(),
        count: 0,
        files: Vec::new(),
    };
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "[[file]]" {
            manifest.files.push(Entry::default());
            continue;
        }
        let (key, value) = line
            .split_once(" = ")
            .unwrap_or_else(|| panic!("manifest: cannot read {line:?}"));
        match (manifest.files.last_mut(), key) {
            (None, "input") => manifest.input = floats(value, line),
            (None, "count") => manifest.count = value.parse().unwrap_or_else(|e| panic!("manifest: {e}")),
            (Some(entry), "name") => entry.name = string(value, line),
            (Some(entry), "what") => entry.what = string(value, line),
            (Some(entry), "expect") => entry.expect = string(value, line),
            (Some(entry), "reference") => entry.reference = string(value, line),
            (Some(entry), "known_bug") => entry.known_bug = Some(string(value, line)),
            (Some(entry), "output") => entry.output = Some(floats(value, line)),
            _ => panic!("manifest: unexpected key in {line:?}"),
        }
    }
    for entry in &manifest.files {
        assert!(
            !entry.name.is_empty() && !entry.expect.is_empty() && !entry.reference.is_empty(),
            "manifest: incomplete entry {entry:?}"
        );
        assert_eq!(entry.expect == "ok", entry.output.is_some(), "manifest: {}", entry.name);
    }
    manifest
}

fn read(entry: &Entry) -> Vec<u8> {
    let path = corpus_dir().join(&entry.name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// Outcomes, rendered as the manifest writes them

/// The `SafeTensorError` variant's name: `InvalidOffset`, `HeaderTooSmall`, ...
fn variant(err: &SafeTensorError) -> String {
    let debug = format!("{err:?}");
    debug.split(['(', ' ', '{']).next().unwrap_or_default().to_owned()
}

fn problem(p: &WeightProblem) -> String {
    match p {
        WeightProblem::Missing { key, expected } => format!("missing {key} {expected:?}"),
        WeightProblem::Unexpected { key } => format!("unexpected {key}"),
        WeightProblem::WrongShape { key, expected, found } => format!("wrong_shape {key} {expected:?} {found:?}"),
        WeightProblem::WrongDtype { key, found } => format!("wrong_dtype {key} {found}"),
    }
}

/// Loads `bytes`; a panic becomes `Err` with the panic message.
fn load(bytes: &[u8]) -> Result<Result<Small, WeightsError>, String> {
    catch_unwind(AssertUnwindSafe(|| Small::from_safetensors(bytes))).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    })
}

fn render(result: &Result<Small, WeightsError>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(WeightsError::Format(err)) => format!("format {}", variant(err)),
        Err(WeightsError::DuplicateKey(key)) => format!("duplicate_key {key}"),
        Err(WeightsError::Mismatch(problems)) => {
            let list: Vec<String> = problems.iter().map(problem).collect();
            format!("mismatch {}", list.join("; "))
        }
        Err(other) => format!("unknown error {other:?}"),
    }
}

/// What the reference crate says: `ok`, a variant name, or `panic`.
fn reference(bytes: &[u8]) -> String {
    match catch_unwind(|| SafeTensors::deserialize(bytes).map(|_| ())) {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(err)) => variant(&err),
        Err(_) => "panic".to_owned(),
    }
}

/// Checks one file against its entry; returns what went wrong, if anything.
fn check(entry: &Entry, input: &[f32]) -> Option<String> {
    let bytes = read(entry);
    let result = match load(&bytes) {
        Ok(result) => result,
        Err(message) => return Some(format!("{}: from_safetensors panicked: {message}", entry.name)),
    };
    let got = render(&result);
    if got != entry.expect {
        return Some(format!(
            "{} ({}):\n      got  {got}\n      want {}",
            entry.name, entry.what, entry.expect
        ));
    }
    if let (Ok(model), Some(want)) = (&result, &entry.output) {
        let mut output = [0.0f32; Small::OUTPUT_LEN];
        if let Err(e) = model.forward_slice(input, &mut output) {
            return Some(format!("{}: forward_slice: {e}", entry.name));
        }
        let compared = catch_unwind(|| common::assert_close(&entry.name, &output, want));
        if compared.is_err() {
            return Some(format!("{}: output {output:?}, want {want:?}", entry.name));
        }
    }
    None
}

// ---------------------------------------------------------------------------

#[test]
fn the_corpus_has_at_least_100_files_all_in_the_manifest() {
    let manifest = read_manifest();
    let mut on_disk: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("tests/fixtures/malformed exists")
        .map(|e| e.expect("directory entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".safetensors"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = manifest.files.iter().map(|e| e.name.clone()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "files on disk vs manifest entries");
    assert_eq!(manifest.count, listed.len(), "the manifest's count");
    assert!(
        listed.len() >= MIN_FILES,
        "{} files; the corpus needs at least {MIN_FILES}",
        listed.len()
    );
    // Every kind of outcome is represented.
    for kind in ["ok", "format ", "duplicate_key ", "mismatch "] {
        let n = manifest.files.iter().filter(|e| e.expect.starts_with(kind)).count();
        assert!(n >= 5, "only {n} files expect {kind:?}");
    }
    let total: u64 = manifest
        .files
        .iter()
        .map(|e| std::fs::metadata(corpus_dir().join(&e.name)).map_or(0, |m| m.len()))
        .sum();
    assert!(total < 512 * 1024, "the corpus should stay small: {total} bytes");
}

#[test]
fn every_file_gives_its_expected_outcome() {
    let manifest = read_manifest();
    let failures: Vec<String> = manifest
        .files
        .iter()
        .filter(|e| e.known_bug.is_none())
        .filter_map(|e| check(e, &manifest.input))
        .collect();
    let checked = manifest.files.iter().filter(|e| e.known_bug.is_none()).count();
    println!("{checked} files checked, {} failed", failures.len());
    assert!(
        failures.is_empty(),
        "{} of {checked} files:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

#[test]
fn format_verdicts_agree_with_the_reference_crate() {
    let manifest = read_manifest();
    let mut failures = Vec::new();
    let mut reference_panics = Vec::new();
    for entry in manifest.files.iter().filter(|e| e.known_bug.is_none()) {
        let bytes = read(entry);
        let Ok(ours) = load(&bytes) else {
            failures.push(format!("{}: from_safetensors panicked", entry.name));
            continue;
        };
        let theirs = reference(&bytes);
        let stricter = matches!(ours, Err(WeightsError::DuplicateKey(_)));
        let ours_valid = matches!(ours, Ok(_) | Err(WeightsError::Mismatch(_)));
        match theirs.as_str() {
            // Overflow checks are on in tests: the crate's unchecked offset
            // arithmetic panics where a release build rejects the file.
            "panic" => {
                reference_panics.push(entry.name.clone());
                if ours_valid {
                    failures.push(format!("{}: the reference crate panics, we accept", entry.name));
                }
            }
            "ok" if !ours_valid && !stricter => {
                failures.push(format!(
                    "{}: the reference crate accepts, we say {}",
                    entry.name,
                    render(&ours)
                ));
            }
            "ok" if entry.reference != "ok" => {
                failures.push(format!(
                    "{}: the reference crate accepts, the manifest says {}",
                    entry.name, entry.reference
                ));
            }
            "ok" => {}
            variant => {
                if ours_valid {
                    failures.push(format!("{}: the reference crate says {variant}, we accept", entry.name));
                }
                if variant != entry.reference {
                    failures.push(format!(
                        "{}: the reference crate says {variant}, the manifest {}",
                        entry.name, entry.reference
                    ));
                }
            }
        }
    }
    println!("the reference crate panicked on {reference_panics:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Each file marked `known_bug` in the manifest (bugs the corpus found,
/// since fixed; RELIABILITY.md), against its correct outcome.
#[test]
fn known_bugs_are_fixed() {
    let manifest = read_manifest();
    let failures: Vec<String> = manifest
        .files
        .iter()
        .filter(|e| e.known_bug.is_some())
        .filter_map(|e| {
            check(e, &manifest.input)
                .map(|f| format!("{f}\n      (known bug: {})", e.known_bug.as_deref().unwrap_or("")))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n  "));
}
