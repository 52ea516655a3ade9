//! Files named in a description: paths resolved against the invoking crate,
//! read with errors that say what to fix.

use std::path::{Path, PathBuf};

/// The invoking crate's root, where relative paths in `cnn_model!` start.
pub fn crate_root() -> Result<PathBuf, String> {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| "CARGO_MANIFEST_DIR is not set: cnn_model! reads files only when built by Cargo".to_owned())
}

/// `written`, relative to `base`, made absolute and canonical (the form
/// `include_bytes!` needs so that Cargo tracks the file).
pub fn resolve(base: &Path, written: &str) -> Result<PathBuf, String> {
    if written.is_empty() {
        return Err("the path is empty".to_owned());
    }
    let relative = Path::new(written);
    if relative.is_absolute() {
        return Err(format!(
            "\"{written}\" is absolute; write the path relative to the crate root, so the crate builds on other machines"
        ));
    }
    base.join(relative).canonicalize().map_err(|err| {
        format!(
            "cannot open \"{written}\" (relative to the crate root): {}",
            describe(&err)
        )
    })
}

/// The I/O error without the OS error code, so messages read the same everywhere.
fn describe(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => err.to_string(),
    }
}

/// Reads a text file, with a message naming the path as written.
pub fn read_text(path: &Path, written: &str) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|err| format!("cannot read \"{written}\": {}", describe(&err)))?;
    String::from_utf8(bytes).map_err(|_| format!("\"{written}\" is not UTF-8 text"))
}

/// Reads a binary file.
pub fn read_bytes(path: &Path, written: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|err| format!("cannot read \"{written}\": {}", describe(&err)))
}

/// The path as a string for `include_bytes!`, or an error for paths that
/// are not UTF-8.
pub fn as_literal(path: &Path) -> Result<String, String> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("the path {} is not valid UTF-8", path.display()))
}

/// A symbol name for the weights of model `ident`, unique in the final
/// binary: crate name, crate version, model name and a per-expansion count.
/// `None` when the path cannot be written safely inside an assembler string,
/// and the caller then embeds with `include_bytes!` instead.
pub fn link_symbol(ident: &syn::Ident, path: &str) -> Option<String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static EXPANSIONS: AtomicUsize = AtomicUsize::new(0);
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+ ".contains(c);
    if !path.chars().all(safe) {
        return None;
    }
    let clean = |text: String| -> String {
        text.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    };
    let krate = clean(std::env::var("CARGO_CRATE_NAME").unwrap_or_default());
    let version = clean(std::env::var("CARGO_PKG_VERSION").unwrap_or_default());
    let count = EXPANSIONS.fetch_add(1, Ordering::Relaxed);
    Some(format!(
        "__cnn_weights_{krate}_{version}_{}_{count}",
        clean(ident.to_string())
    ))
}
