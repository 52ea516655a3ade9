//! Weights embedded at compile time: the safetensors header is read while
//! compiling and checked against the validated model, tensor by tensor.
//! The data is then included as bytes (`include_bytes!`), never as float
//! literals, so build time stays flat in the weight count.

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
}

/// Checks the file against every weight of the model. Returns one message per
/// problem: missing, unexpected, wrong shape, wrong dtype, misaligned.
pub fn check(model: &Model, bytes: &[u8], written: &str, path: String) -> Result<Embedded, Vec<String>> {
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
        })
    } else {
        Err(problems)
    }
}
