//! Builds of a separate user crate, driven through Cargo: what trybuild cannot
//! show because it needs files beside the crate or a second build.
//!
//! - Cargo rebuilds a crate when its TOML description changes.
//! - Weight files that do not fit the model, or are not valid safetensors,
//!   fail the build with a message, never with "proc macro panicked".
//!
//! Each test writes a small crate under Cargo's test scratch directory that
//! depends on `cnn-runtime` by path; all share one target directory, so the
//! dependencies compile once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Builds share a target directory; Cargo would serialise them anyway.
static BUILD_LOCK: Mutex<()> = Mutex::new(());

struct UserCrate {
    dir: PathBuf,
}

impl UserCrate {
    /// A fresh crate named `name` whose `src/main.rs` is `main_rs`.
    fn new(name: &str, main_rs: &str) -> UserCrate {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("user-crates").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).expect("create crate dir");
        let runtime = Path::new(env!("CARGO_MANIFEST_DIR")).join("cnn-runtime");
        let manifest = format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\ncnn-runtime = {{ path = {runtime:?} }}\n\n[workspace]\n"
        );
        std::fs::write(dir.join("Cargo.toml"), manifest).expect("write manifest");
        // The workspace's lock file pins the same dependency versions, so
        // the build needs no registry access.
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock"),
            dir.join("Cargo.lock"),
        )
        .expect("copy Cargo.lock");
        std::fs::write(dir.join("src/main.rs"), main_rs).expect("write main.rs");
        UserCrate { dir }
    }

    fn write(&self, relative: &str, contents: impl AsRef<[u8]>) {
        let path = self.dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(path, contents).expect("write file");
    }

    /// `cargo <verb>`; returns (success, stdout, stderr).
    fn cargo(&self, verb: &str) -> (bool, String, String) {
        let _guard = BUILD_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let output = Command::new(cargo)
            .arg(verb)
            .args(["--quiet", "--offline"])
            .env(
                "CARGO_TARGET_DIR",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("user-crates-target"),
            )
            .env_remove("RUSTFLAGS")
            .current_dir(&self.dir)
            .output()
            .expect("run cargo");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    fn build_fails(&self) -> String {
        let (ok, _, stderr) = self.cargo("build");
        assert!(!ok, "the build should fail");
        assert!(!stderr.contains("panicked"), "the macro panicked:\n{stderr}");
        stderr
    }
}

/// A safetensors file: 8-byte header length, JSON header, data.
fn safetensors(tensors: &[(&str, &str, &[usize], &[u8])]) -> Vec<u8> {
    let mut header = String::from("{");
    let mut data = Vec::new();
    for (i, (name, dtype, shape, bytes)) in tensors.iter().enumerate() {
        if i > 0 {
            header.push(',');
        }
        let begin = data.len();
        data.extend_from_slice(bytes);
        header.push_str(&format!(
            "\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape:?},\"data_offsets\":[{begin},{}]}}",
            data.len()
        ));
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    file.extend_from_slice(&data);
    file
}

fn floats(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

const TOML_MAIN: &str = r#"
use cnn_runtime::{cnn_model, Model};
cnn_model!(struct Net = "net.toml");
fn main() {
    println!("{:?}", Net::OUTPUT_SHAPE);
}
"#;

#[test]
fn cargo_rebuilds_when_the_toml_file_changes() {
    let krate = UserCrate::new("toml_rebuild", TOML_MAIN);
    let toml = |features: u32| {
        format!("input = [4]\nlayers = [\n    {{ name = \"fc\", kind = \"Linear\", args = [4, {features}] }},\n]\n")
    };
    krate.write("net.toml", toml(3));
    let (ok, stdout, stderr) = krate.cargo("run");
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "[3]");
    // Edit only the TOML file: Cargo must rebuild and the output change.
    krate.write("net.toml", toml(5));
    let (ok, stdout, stderr) = krate.cargo("run");
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "[5]");
}

#[test]
fn a_broken_toml_file_is_a_build_error_at_its_line() {
    let krate = UserCrate::new("toml_errors", TOML_MAIN);
    krate.write(
        "net.toml",
        "input = [3, 7, 7]\nlayers = [\n    { name = \"conv2\", kind = \"Conv2d\", args = [3, 8, 3], stride = 3 },\n]\n",
    );
    let stderr = krate.build_fails();
    assert!(
        stderr.contains("net.toml:3:67: conv2: output height and width (7 - 3 + 2*0) / 3 + 1 = 2.33"),
        "{stderr}"
    );
    krate.write("net.toml", "input = [3, 7, 7]\nlayer = []\n");
    let stderr = krate.build_fails();
    assert!(stderr.contains("net.toml:2:1: unknown field `layer`"), "{stderr}");
    assert!(stderr.contains("did you mean `layers`?"), "{stderr}");
    std::fs::remove_file(krate.dir.join("net.toml")).expect("remove");
    let stderr = krate.build_fails();
    assert!(
        stderr.contains("cannot open \"net.toml\" (relative to the crate root): no such file"),
        "{stderr}"
    );
}

const EMBEDDED_MAIN: &str = r#"
use cnn_runtime::{cnn_model, Model};
cnn_model! {
    struct Net {
        input: [2],
        weights: "weights.safetensors",
        fc: Linear(2, 1),
        bn_free: ReLU,
    }
}
fn main() {
    println!("{:?}", Net::embedded().forward(&[2.0, 3.0]));
}
"#;

#[test]
fn embedded_weights_are_checked_while_compiling() {
    let krate = UserCrate::new("embedded", EMBEDDED_MAIN);
    let good = safetensors(&[
        ("fc.weight", "F32", &[1, 2], &floats(&[1.0, 2.0])),
        ("fc.bias", "F32", &[1], &floats(&[0.5])),
    ]);
    krate.write("weights.safetensors", &good);
    let (ok, stdout, stderr) = krate.cargo("run");
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "[8.5]");

    // Every mismatch in one message: missing, unexpected, wrong shape, wrong dtype.
    let mismatched = safetensors(&[
        ("fc.weight", "F32", &[2, 1], &floats(&[1.0, 2.0])),
        ("fc.extra", "F32", &[1], &floats(&[0.5])),
    ]);
    krate.write("weights.safetensors", &mismatched);
    let stderr = krate.build_fails();
    assert!(
        stderr.contains("weights \"weights.safetensors\" do not fit the model (3 problems)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("size mismatch for \"fc.weight\": the file has shape [2, 1], the model needs [1, 2]"),
        "{stderr}"
    );
    assert!(stderr.contains("missing tensor \"fc.bias\""), "{stderr}");
    assert!(stderr.contains("unexpected tensor \"fc.extra\""), "{stderr}");

    let half = safetensors(&[
        ("fc.weight", "F16", &[1, 2], &[0, 60, 0, 64]),
        ("fc.bias", "F32", &[1], &floats(&[0.5])),
    ]);
    krate.write("weights.safetensors", &half);
    let stderr = krate.build_fails();
    assert!(
        stderr.contains("tensor \"fc.weight\" is F16; embedded weights must be F32"),
        "{stderr}"
    );

    // Truncated data, a header that claims more than the file holds, garbage.
    krate.write("weights.safetensors", &good[..good.len() - 3]);
    let stderr = krate.build_fails();
    assert!(stderr.contains("not a valid safetensors file"), "{stderr}");
    let mut lying = good.clone();
    lying[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    krate.write("weights.safetensors", &lying);
    let stderr = krate.build_fails();
    assert!(stderr.contains("not a valid safetensors file"), "{stderr}");
    krate.write("weights.safetensors", b"not a weights file");
    let stderr = krate.build_fails();
    assert!(stderr.contains("not a valid safetensors file"), "{stderr}");

    std::fs::remove_file(krate.dir.join("weights.safetensors")).expect("remove");
    let stderr = krate.build_fails();
    assert!(
        stderr.contains("cannot open \"weights.safetensors\" (relative to the crate root): no such file"),
        "{stderr}"
    );
}
