//! Loading a PyTorch `state_dict` from safetensors bytes.

use crate::__private::ParamSource;
use crate::{Model, Param};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use bytemuck::Pod;
use core::fmt;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

/// Why weights could not be loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum WeightsError {
    /// The bytes are not a valid safetensors file (bad header, offsets out of
    /// range, ...). The inner error says which rule was broken.
    Format(safetensors::SafeTensorError),
    /// The header names the same tensor twice. The `safetensors` crate keeps
    /// the last entry silently; we refuse the file, since which tensor the
    /// writer meant is unknowable.
    DuplicateKey(String),
    /// The file is valid but does not fit the architecture. Every problem is
    /// listed, sorted by key, as PyTorch's strict `load_state_dict` does.
    Mismatch(Vec<WeightProblem>),
}

/// One way a `state_dict` disagrees with the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightProblem {
    /// The model needs this tensor; the file does not have it.
    Missing {
        /// The `state_dict` key.
        key: String,
        /// The shape the model needs.
        expected: Vec<usize>,
    },
    /// The file has a tensor the model does not use.
    Unexpected {
        /// The `state_dict` key.
        key: String,
    },
    /// The tensor exists with another shape.
    WrongShape {
        /// The `state_dict` key.
        key: String,
        /// The shape the model needs.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// The tensor is not floating point (f32, f16 or bf16).
    WrongDtype {
        /// The `state_dict` key.
        key: String,
        /// The dtype in the file, e.g. `"I64"`.
        found: String,
    },
}

impl WeightProblem {
    fn key(&self) -> &str {
        match self {
            WeightProblem::Missing { key, .. }
            | WeightProblem::Unexpected { key }
            | WeightProblem::WrongShape { key, .. }
            | WeightProblem::WrongDtype { key, .. } => key,
        }
    }
}

impl fmt::Display for WeightProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightProblem::Missing { key, expected } => {
                write!(f, "missing key \"{key}\" (the model needs shape {expected:?})")
            }
            WeightProblem::Unexpected { key } => write!(f, "unexpected key \"{key}\""),
            WeightProblem::WrongShape { key, expected, found } => write!(
                f,
                "size mismatch for \"{key}\": the file has shape {found:?}, the model needs {expected:?}"
            ),
            WeightProblem::WrongDtype { key, found } => {
                write!(
                    f,
                    "dtype of \"{key}\" is {found}; expected F32 (F16 and BF16 are converted)"
                )
            }
        }
    }
}

impl fmt::Display for WeightsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightsError::Format(err) => write!(f, "not a valid safetensors file: {err}"),
            WeightsError::DuplicateKey(key) => {
                write!(
                    f,
                    "not a valid safetensors file: tensor \"{key}\" appears twice in the header"
                )
            }
            WeightsError::Mismatch(problems) => {
                write!(f, "error(s) in loading state_dict ({} problem(s)):", problems.len())?;
                for problem in problems {
                    write!(f, "\n  {problem}")?;
                }
                Ok(())
            }
        }
    }
}

impl core::error::Error for WeightsError {}

fn is_float(dtype: Dtype) -> bool {
    matches!(dtype, Dtype::F32 | Dtype::F16 | Dtype::BF16)
}

/// Checks every tensor the model needs against the file, collecting all problems.
fn check<'a, M: Model>(file: &SafeTensors<'a>) -> Result<Vec<TensorView<'a>>, WeightsError> {
    let mut problems = Vec::new();
    let mut found = Vec::with_capacity(M::PARAM_SPECS.len());
    for spec in M::PARAM_SPECS {
        match file.tensor(spec.key) {
            Err(_) => problems.push(WeightProblem::Missing {
                key: spec.key.to_string(),
                expected: spec.shape.to_vec(),
            }),
            Ok(view) => {
                if !is_float(view.dtype()) {
                    problems.push(WeightProblem::WrongDtype {
                        key: spec.key.to_string(),
                        found: view.dtype().to_string(),
                    });
                } else if view.shape() != spec.shape {
                    problems.push(WeightProblem::WrongShape {
                        key: spec.key.to_string(),
                        expected: spec.shape.to_vec(),
                        found: view.shape().to_vec(),
                    });
                } else {
                    found.push(view);
                }
            }
        }
    }
    for name in file.names() {
        if M::PARAM_SPECS.iter().any(|spec| spec.key == name) {
            continue;
        }
        if !M::IGNORED_KEYS.contains(&name) {
            problems.push(WeightProblem::Unexpected { key: name.to_string() });
            continue;
        }
        // Batch norm's step counter: ignored, but PyTorch's strict load would
        // still reject one that is not a scalar.
        if let Ok(view) = file.tensor(name) {
            if !view.shape().is_empty() {
                problems.push(WeightProblem::WrongShape {
                    key: name.to_string(),
                    expected: Vec::new(),
                    found: view.shape().to_vec(),
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(found)
    } else {
        problems.sort_by(|a, b| a.key().cmp(b.key()));
        Err(WeightsError::Mismatch(problems))
    }
}

/// Hands the checked tensors to the generated constructor, converting each
/// to f32 in a freshly allocated, cache-line aligned box of its exact array
/// type.
struct Views<'a> {
    views: Vec<TensorView<'a>>,
}

impl ParamSource for Views<'_> {
    fn take<T: Pod>(&mut self, index: usize) -> Param<T> {
        Param::zeroed_aligned(|data: &mut T| {
            if let Some(view) = self.views.get(index) {
                decode_into(view.dtype(), view.data(), crate::__private::flat_mut(data));
            }
        })
    }

    fn pack<const N: usize>(
        &mut self,
        _: &'static crate::__private::PackCell<N>,
        fill: impl FnOnce(&mut [f32; N]) -> Option<crate::kernels::PackLayout>,
    ) -> crate::Packed<N> {
        crate::Packed::from_fn(fill)
    }
}

/// Decodes little-endian tensor bytes into f32s. Reads byte-wise, so the
/// data may sit at any alignment in the file.
fn decode_into(dtype: Dtype, bytes: &[u8], out: &mut [f32]) {
    match dtype {
        Dtype::F32 => {
            for (value, chunk) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *value = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            }
        }
        Dtype::F16 => {
            for (value, chunk) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                *value = half::f16::from_le_bytes([chunk[0], chunk[1]]).to_f32();
            }
        }
        Dtype::BF16 => {
            for (value, chunk) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                *value = half::bf16::from_le_bytes([chunk[0], chunk[1]]).to_f32();
            }
        }
        // `check` admits only the float dtypes above.
        _ => {}
    }
}

pub(crate) fn load<M: Model>(bytes: &[u8]) -> Result<M, WeightsError> {
    crate::header::precheck(bytes)?;
    let file = SafeTensors::deserialize(bytes).map_err(WeightsError::Format)?;
    let views = check::<M>(&file)?;
    Ok(M::__from_params(&mut Views { views }))
}

/// Fills each tensor from a function of its spec and element index.
struct Computed<F> {
    value: F,
    specs: &'static [crate::ParamSpec],
}

impl<F: FnMut(&crate::ParamSpec, usize) -> f32> ParamSource for Computed<F> {
    fn take<T: Pod>(&mut self, index: usize) -> Param<T> {
        Param::zeroed_aligned(|data: &mut T| {
            if let Some(spec) = self.specs.get(index) {
                for (i, value) in crate::__private::flat_mut(data).iter_mut().enumerate() {
                    *value = (self.value)(spec, i);
                }
            }
        })
    }

    fn pack<const N: usize>(
        &mut self,
        _: &'static crate::__private::PackCell<N>,
        fill: impl FnOnce(&mut [f32; N]) -> Option<crate::kernels::PackLayout>,
    ) -> crate::Packed<N> {
        crate::Packed::from_fn(fill)
    }
}

pub(crate) fn from_fn<M: Model>(value: impl FnMut(&crate::ParamSpec, usize) -> f32) -> M {
    M::__from_params(&mut Computed {
        value,
        specs: M::PARAM_SPECS,
    })
}
