//! Records how the benchmark was built (rustc, RUSTFLAGS, tract's version), so
//! that the table it prints says so.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    println!("cargo:rerun-if-changed=Cargo.lock");
    // Others edit the runtime and the macro: record what was built.
    println!("cargo:rerun-if-changed=../cnn-runtime/src");
    println!("cargo:rerun-if-changed=../cnn-macros/src");
    println!("cargo:rerun-if-changed=../.git/HEAD");

    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let flags = flags
        .split('\x1f')
        .filter(|f| !f.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    println!("cargo:rustc-env=BENCH_RUSTFLAGS={flags}");

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    println!("cargo:rustc-env=BENCH_RUSTC={}", version.trim());

    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]).map(|s| s.trim().to_owned());
    let dirty = git(&["status", "--porcelain", "--", "../cnn-runtime", "../cnn-macros"])
        .map(|s| s.lines().count())
        .unwrap_or(0);
    let source = match commit {
        Some(c) if dirty > 0 => format!("commit {c} + {dirty} uncommitted change(s) in cnn-runtime/cnn-macros"),
        Some(c) => format!("commit {c}, cnn-runtime and cnn-macros unmodified"),
        None => "unknown (no git)".to_owned(),
    };
    println!("cargo:rustc-env=BENCH_SOURCE={source}");

    // The resolved tract-onnx version, from this workspace's lock file.
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let tract = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"tract-onnx\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_owned())
        .unwrap_or_else(|| "?".to_owned());
    println!("cargo:rustc-env=BENCH_TRACT_VERSION={tract}");
}
