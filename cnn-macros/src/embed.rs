//! Weights embedded at compile time: the safetensors header is read while
//! compiling and checked against the validated model, tensor by tensor.
//! The data is then included as bytes (`include_bytes!`), never as float
//! literals (`codegen/embedded.rs` says how, and BENCHMARKS.md what it costs).

use crate::model::Model;
use safetensors::tensor::Dtype;
use safetensors::SafeTensors;

/// Where each weight tensor of the model sits in the embedded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embedded {
    /// The path as the user wrote it, for documentation.
    pub written: String,
    /// Canonical path, for `include_bytes!`.
    pub path: String,
    /// File length in bytes.
    pub len: usize,
    /// Zero bytes placed before the file in a 64-byte-aligned static, so that
    /// every f32 tensor lands on a 4-byte boundary.
    pub pad: usize,
    /// Byte offset of each tensor in the file, in `PARAM_SPECS` order.
    pub offsets: Vec<usize>,
    /// A link-time symbol unique to this model, when the file can be
    /// assembled into the object directly (see `codegen/embedded.rs`).
    pub symbol: Option<String>,
}

/// The header's tensor names, with the first one that appears twice, and its
/// largest data offset. The `safetensors` crate keeps the last of duplicate
/// names silently and adds offsets unchecked (a panic in a debug build of
/// this macro); `cnn-runtime/src/header.rs` applies the same rules at run time.
fn precheck(bytes: &[u8]) -> Result<(), String> {
    let Some((length, rest)) = bytes.split_first_chunk::<8>() else {
        return Ok(());
    };
    let Some(header) = usize::try_from(u64::from_le_bytes(*length))
        .ok()
        .and_then(|n| rest.get(..n))
    else {
        return Ok(());
    };
    // Read as a list of entries: a JSON map would drop duplicates.
    let entries: Vec<(String, serde_json::Value)> = match serde_json::from_slice::<Entries>(header) {
        Ok(Entries(entries)) => entries,
        Err(_) => return Ok(()),
    };
    let mut seen = std::collections::BTreeSet::new();
    let limit = u64::MAX - 8 - header.len() as u64;
    for (name, entry) in &entries {
        if name != "__metadata__" && !seen.insert(name.as_str()) {
            return Err(format!(
                "not a valid safetensors file: tensor \"{name}\" appears twice in the header"
            ));
        }
        // serde reads an entry from an object or from an array in field
        // order (`[dtype, shape, data_offsets]`); the crate accepts both.
        let offsets = match entry {
            serde_json::Value::Array(items) => items.get(2),
            other => other.get("data_offsets"),
        };
        let end = offsets.and_then(|o| o.get(1)).and_then(serde_json::Value::as_u64);
        if end.is_some_and(|end| end > limit) {
            return Err("not a valid safetensors file: data offsets beyond any file size".to_owned());
        }
    }
    Ok(())
}

/// A JSON object read as its list of entries, duplicates kept.
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> serde::de::Visitor<'de> for EntriesVisitor {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// Checks the file against every weight of the model. Returns one message per
/// problem: missing, unexpected, wrong shape, wrong dtype, misaligned.
pub fn check(model: &Model, bytes: &[u8], written: &str, path: String) -> Result<Embedded, Vec<String>> {
    precheck(bytes).map_err(|problem| vec![problem])?;
    let (header_len, metadata) = match SafeTensors::read_metadata(bytes) {
        Ok(parsed) => parsed,
        Err(err) => return Err(vec![format!("not a valid safetensors file: {err}")]),
    };
    // Re-validate the whole buffer as the runtime loader would.
    if let Err(err) = SafeTensors::deserialize(bytes) {
        return Err(vec![format!("not a valid safetensors file: {err}")]);
    }
    let data_start = 8 + header_len;
    let pad = (4 - data_start % 4) % 4;
    let mut problems = Vec::new();
    let mut offsets = Vec::new();
    let mut expected = Vec::new();
    for layer in &model.layers {
        for weight in &layer.weights {
            let key = format!("{}.{}", layer.key, weight.role);
            let shape: Vec<usize> = weight
                .shape
                .iter()
                .map(|d| usize::try_from(*d).unwrap_or(usize::MAX))
                .collect();
            match metadata.info(&key) {
                None => problems.push(format!("missing tensor \"{key}\" (the model needs shape {shape:?})")),
                Some(info) if info.dtype != Dtype::F32 => problems.push(format!(
                    "tensor \"{key}\" is {:?}; embedded weights must be F32 (save the state_dict in float32)",
                    info.dtype
                )),
                Some(info) if info.shape != shape => problems.push(format!(
                    "size mismatch for \"{key}\": the file has shape {:?}, the model needs {shape:?}",
                    info.shape
                )),
                Some(info) => {
                    let offset = data_start + info.data_offsets.0;
                    if (offset + pad) % 4 != 0 {
                        problems.push(format!(
                            "tensor \"{key}\" is not 4-byte aligned in the file; re-save it with safetensors.torch.save_file"
                        ));
                    }
                    offsets.push(offset);
                }
            }
            expected.push(key);
        }
    }
    let ignored: Vec<String> = model
        .layers
        .iter()
        .filter(|l| matches!(l.op, crate::model::Op::BatchNorm2d { .. }))
        .map(|l| format!("{}.num_batches_tracked", l.key))
        .collect();
    // Ignored, but as in PyTorch's strict load (and `from_safetensors`), a
    // step counter that is not a scalar is a size mismatch.
    for name in &ignored {
        if let Some(info) = metadata.info(name).filter(|info| !info.shape.is_empty()) {
            problems.push(format!(
                "size mismatch for \"{name}\": the file has shape {:?}, the model needs [] (a scalar)",
                info.shape
            ));
        }
    }
    let mut unexpected: Vec<String> = metadata
        .tensors()
        .into_keys()
        .filter(|name| !expected.contains(name) && !ignored.contains(name))
        .collect();
    unexpected.sort();
    problems.extend(
        unexpected
            .into_iter()
            .map(|name| format!("unexpected tensor \"{name}\"")),
    );
    if problems.is_empty() {
        Ok(Embedded {
            written: written.to_owned(),
            path,
            len: bytes.len(),
            pad,
            offsets,
            symbol: None,
        })
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn model() -> Model {
        let invocation: crate::front::Invocation =
            syn::parse2(quote!(struct N { input: [2], fc: Linear(2, 1) })).unwrap_or_else(|e| panic!("{e}"));
        let crate::front::Source::Inline(body) = invocation.source else {
            panic!("inline")
        };
        let (spec, _) = crate::front::inline::to_spec(body, invocation.header.ident.span(), &mut Default::default());
        crate::model::validate(&spec).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn file(header: &str, data: usize) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.resize(bytes.len() + data, 0);
        bytes
    }

    const GOOD: &str = r#"{"fc.bias":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"fc.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[4,12]}}"#;

    #[test]
    fn a_fitting_file_gives_aligned_offsets() {
        let embedded = check(&model(), &file(GOOD, 12), "w.safetensors", "/abs/w.safetensors".into())
            .unwrap_or_else(|e| panic!("{e:?}"));
        // PARAM_SPECS order: weight, then bias.
        let start = 8 + GOOD.len();
        assert_eq!(embedded.offsets, vec![start + 4, start]);
        assert_eq!((embedded.pad + start) % 4, 0);
    }

    #[test]
    fn every_problem_is_listed() {
        let header = r#"{"fc.extra":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"fc.weight":{"dtype":"F16","shape":[1,2],"data_offsets":[4,8]}}"#;
        let problems = check(&model(), &file(header, 8), "w", String::new())
            .err()
            .unwrap_or_default();
        assert_eq!(
            problems,
            [
                "tensor \"fc.weight\" is F16; embedded weights must be F32 (save the state_dict in float32)",
                "missing tensor \"fc.bias\" (the model needs shape [1])",
                "unexpected tensor \"fc.extra\"",
            ]
        );
    }

    #[test]
    fn a_step_counter_must_be_a_scalar() {
        let invocation: crate::front::Invocation =
            syn::parse2(quote!(struct N { input: [1, 2, 2], bn: BatchNorm2d(1, affine = false) }))
                .unwrap_or_else(|e| panic!("{e}"));
        let crate::front::Source::Inline(body) = invocation.source else {
            panic!("inline")
        };
        let (spec, _) = crate::front::inline::to_spec(body, invocation.header.ident.span(), &mut Default::default());
        let model = crate::model::validate(&spec).unwrap_or_else(|e| panic!("{e:?}"));
        let header = |shape: &str| {
            format!(
                r#"{{"bn.num_batches_tracked":{{"dtype":"I64","shape":{shape},"data_offsets":[0,24]}},"bn.running_mean":{{"dtype":"F32","shape":[1],"data_offsets":[24,28]}},"bn.running_var":{{"dtype":"F32","shape":[1],"data_offsets":[28,32]}}}}"#
            )
        };
        let problems = check(&model, &file(&header("[3]"), 32), "w", String::new())
            .err()
            .unwrap_or_default();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("\"bn.num_batches_tracked\": the file has shape [3]"),
            "{problems:?}"
        );
    }

    #[test]
    fn malformed_files_are_errors_not_panics() {
        let duplicate = r#"{"fc.bias":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"fc.bias":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"fc.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[8,16]}}"#;
        let size = (1u64 << 61) - 1;
        let huge: Vec<String> = (0..8u64)
            .map(|i| {
                format!(
                    "\"t{i}\":{{\"dtype\":\"U8\",\"shape\":[{size}],\"data_offsets\":[{},{}]}}",
                    i * size,
                    (i + 1) * size
                )
            })
            .collect();
        let huge = format!("{{{}}}", huge.join(","));
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (file(duplicate, 16), "appears twice"),
            (file(&huge, 0), "not a valid safetensors file"),
            (file(GOOD, 11), "not a valid safetensors file"),
            (b"short".to_vec(), "not a valid safetensors file"),
            (file("{not json", 0), "not a valid safetensors file"),
        ];
        for (bytes, expected) in cases {
            let problems = check(&model(), &bytes, "w", String::new()).err().unwrap_or_default();
            assert!(problems.len() == 1 && problems[0].contains(expected), "{problems:?}");
        }
    }
}
