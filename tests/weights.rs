//! Weight loading: `Model::from_safetensors` and `WeightsError`.
//!
//! Files are built here, with the `safetensors` crate when it can write them and
//! as raw bytes (8-byte little-endian header length, JSON header, data) when the
//! file has to be unaligned or malformed. Weights are small integers or other
//! exactly representable values, so outputs are compared exactly: a transposed
//! or shifted layout gives a different number, not a rounding difference.

use cnn_runtime::{cnn_model, Model, ParamSpec, WeightProblem, WeightsError};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensorError;
use std::collections::HashMap;

cnn_model! {
    /// Linear(3, 2): a `[2, 3]` weight, so reading it as `[3, 2]` changes the output.
    struct Lin {
        input: [3],
        fc: Linear(3, 2),
    }
}

cnn_model! {
    /// Grouped conv with a rectangular kernel: channel, group, row and column
    /// mix-ups all change the output.
    struct GroupedConv {
        input: [4, 3, 4],
        conv: Conv2d(4, 4, (2, 3), groups = 2),
    }
}

cnn_model! {
    /// Conv, batch norm and linear, for the mismatch report.
    struct Small {
        input: [1, 2, 2],
        conv: Conv2d(1, 2, 1),
        bn: BatchNorm2d(2),
        flatten: Flatten,
        fc: Linear(8, 3),
    }
}

cnn_model! {
    /// Batch norm alone, under a `Sequential`-style key.
    struct Norm {
        input: [2, 1, 2],
        #[key = "features.1"]
        bn: BatchNorm2d(2),
    }
}

cnn_model! {
    /// `Sequential`-style keys.
    struct Keyed {
        input: [1, 2, 2],
        #[key = "features.0"]
        conv: Conv2d(1, 1, 2, bias = false),
        flatten: Flatten,
        #[key = "classifier.3"]
        fc: Linear(1, 2),
    }
}

cnn_model! {
    /// No parameters at all.
    struct Gap {
        input: [2, 2, 2],
        gap: AdaptiveAvgPool2d(1),
        flatten: Flatten,
    }
}

// ---------------------------------------------------------------------------
// Building files

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// One tensor to write: key, dtype, shape, raw little-endian bytes.
struct T {
    key: &'static str,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn f32_tensor(key: &'static str, shape: &[usize], values: &[f32]) -> T {
    assert_eq!(shape.iter().product::<usize>(), values.len(), "{key}");
    T {
        key,
        dtype: Dtype::F32,
        shape: shape.to_vec(),
        bytes: f32_bytes(values),
    }
}

fn raw_tensor(key: &'static str, dtype: Dtype, shape: &[usize], bytes: Vec<u8>) -> T {
    T {
        key,
        dtype,
        shape: shape.to_vec(),
        bytes,
    }
}

/// A file written by the `safetensors` crate, as `safetensors.torch.save_file` does.
fn safetensors_file(tensors: &[T]) -> Vec<u8> {
    let views = tensors.iter().map(|t| {
        let view = TensorView::new(t.dtype, t.shape.clone(), &t.bytes).expect("consistent test tensor");
        (t.key, view)
    });
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(metadata)).expect("serialize")
}

/// A file from a JSON header and data, byte for byte (no padding added).
fn raw_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

/// Loads `bytes`, failing the test (instead of aborting it) if the loader panics.
fn load<M: Model>(bytes: &[u8]) -> Result<M, WeightsError> {
    match std::panic::catch_unwind(|| M::from_safetensors(bytes)) {
        Ok(result) => result,
        Err(_) => panic!("from_safetensors panicked on a {}-byte input", bytes.len()),
    }
}

fn loaded<M: Model>(bytes: &[u8]) -> M {
    load::<M>(bytes).unwrap_or_else(|e| panic!("load failed: {e}"))
}

fn mismatch<M: Model>(bytes: &[u8]) -> Vec<WeightProblem> {
    match load::<M>(bytes) {
        Err(WeightsError::Mismatch(problems)) => problems,
        Err(other) => panic!("expected WeightsError::Mismatch, got {other:?}"),
        Ok(_) => panic!("expected WeightsError::Mismatch, but the file loaded"),
    }
}

/// The `safetensors` error of a malformed file (loaded into [`Lin`]).
fn format_error(bytes: &[u8]) -> SafeTensorError {
    match load::<Lin>(bytes) {
        Err(WeightsError::Format(err)) => err,
        Err(other) => panic!("expected WeightsError::Format, got {other:?}"),
        Ok(_) => panic!("a malformed file was accepted"),
    }
}

fn missing(key: &str, expected: &[usize]) -> WeightProblem {
    WeightProblem::Missing {
        key: key.to_string(),
        expected: expected.to_vec(),
    }
}

fn unexpected(key: &str) -> WeightProblem {
    WeightProblem::Unexpected { key: key.to_string() }
}

fn wrong_shape(key: &str, expected: &[usize], found: &[usize]) -> WeightProblem {
    WeightProblem::WrongShape {
        key: key.to_string(),
        expected: expected.to_vec(),
        found: found.to_vec(),
    }
}

fn wrong_dtype(key: &str, found: &str) -> WeightProblem {
    WeightProblem::WrongDtype {
        key: key.to_string(),
        found: found.to_string(),
    }
}

// Lin's weights: W = [[1, 2, 3], [4, 5, 6]], b = [0.5, -0.25].
const LIN_W: [f32; 6] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
const LIN_B: [f32; 2] = [0.5, -0.25];
const LIN_X: [f32; 3] = [1.0, 10.0, 100.0];
/// W @ x + b, worked by hand.
const LIN_Y: [f32; 2] = [321.5, 653.75];

fn lin_file() -> Vec<u8> {
    safetensors_file(&[
        f32_tensor("fc.weight", &[2, 3], &LIN_W),
        f32_tensor("fc.bias", &[2], &LIN_B),
    ])
}

// ---------------------------------------------------------------------------
// Correct files

#[test]
fn specs_are_pytorch_keys_and_shapes() {
    let spec = |key, shape| ParamSpec { key, shape };
    assert_eq!(Lin::PARAM_SPECS, &[spec("fc.weight", &[2, 3]), spec("fc.bias", &[2])]);
    assert_eq!(
        GroupedConv::PARAM_SPECS,
        &[spec("conv.weight", &[4, 2, 2, 3]), spec("conv.bias", &[4])]
    );
    assert_eq!(
        Norm::PARAM_SPECS,
        &[
            spec("features.1.weight", &[2]),
            spec("features.1.bias", &[2]),
            spec("features.1.running_mean", &[2]),
            spec("features.1.running_var", &[2]),
        ]
    );
    assert_eq!(Norm::IGNORED_KEYS, &["features.1.num_batches_tracked"]);
    assert!(Lin::IGNORED_KEYS.is_empty());
}

#[test]
fn linear_weights_land_in_pytorch_layout() {
    let model: Lin = loaded(&lin_file());
    assert_eq!(model.forward(&LIN_X), LIN_Y);
    // A row of W at a time: x = e_j picks column j of W.
    assert_eq!(model.forward(&[1.0, 0.0, 0.0]), [1.5, 3.75]);
    assert_eq!(model.forward(&[0.0, 0.0, 1.0]), [3.5, 5.75]);
}

#[test]
fn file_order_does_not_matter() {
    // Bias before weight in the data section, written by hand.
    let header = r#"{"fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"fc.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[8,32]}}"#;
    let mut data = f32_bytes(&LIN_B);
    data.extend(f32_bytes(&LIN_W));
    let model: Lin = loaded(&raw_file(header, &data));
    assert_eq!(model.forward(&LIN_X), LIN_Y);
}

/// PyTorch's grouped conv2d (cross-correlation, no padding), on the PyTorch layouts.
fn conv_reference(weight: &[f32], bias: &[f32], input: &[f32]) -> Vec<f32> {
    let (cin, h, w, cout, groups, kh, kw) = (4, 3, 4, 4, 2, 2, 3);
    let (cin_g, cout_g) = (cin / groups, cout / groups);
    let (oh, ow) = (h - kh + 1, w - kw + 1);
    let mut out = vec![0.0f32; cout * oh * ow];
    for o in 0..cout {
        let g = o / cout_g;
        for y in 0..oh {
            for x in 0..ow {
                let mut acc = bias[o];
                for c in 0..cin_g {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let wv = weight[((o * cin_g + c) * kh + ky) * kw + kx];
                            let iv = input[((g * cin_g + c) * h + y + ky) * w + x + kx];
                            acc += wv * iv;
                        }
                    }
                }
                out[(o * oh + y) * ow + x] = acc;
            }
        }
    }
    out
}

#[test]
fn grouped_conv_weights_land_in_pytorch_layout() {
    // Small distinct integers: every product and sum is exact in f32.
    let weight: Vec<f32> = (0..4 * 2 * 2 * 3).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
    let bias = [0.5, -1.0, 2.0, -3.5];
    let input: Vec<f32> = (0..4 * 3 * 4).map(|i| ((i * 5) % 9) as f32 - 4.0).collect();
    let file = safetensors_file(&[
        f32_tensor("conv.weight", &[4, 2, 2, 3], &weight),
        f32_tensor("conv.bias", &[4], &bias),
    ]);
    let model: GroupedConv = loaded(&file);
    assert_eq!(GroupedConv::OUTPUT_SHAPE, &[4, 2, 2]);
    let mut output = [0.0f32; GroupedConv::OUTPUT_LEN];
    model.forward_slice(&input, &mut output).unwrap();
    assert_eq!(output.to_vec(), conv_reference(&weight, &bias, &input));
}

#[test]
fn sequential_keys_are_what_the_loader_looks_for() {
    let good = safetensors_file(&[
        f32_tensor("features.0.weight", &[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]),
        f32_tensor("classifier.3.weight", &[2, 1], &[1.0, -1.0]),
        f32_tensor("classifier.3.bias", &[2], &[0.5, 0.25]),
    ]);
    let model: Keyed = loaded(&good);
    // conv: 1 + 4 + 9 + 16 = 30; fc: [30.5, -29.75].
    assert_eq!(model.forward(&[[[1.0, 2.0], [3.0, 4.0]]]), [30.5, -29.75]);

    // The field names are not the keys.
    let by_field_name = safetensors_file(&[
        f32_tensor("conv.weight", &[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]),
        f32_tensor("fc.weight", &[2, 1], &[1.0, -1.0]),
        f32_tensor("fc.bias", &[2], &[0.5, 0.25]),
    ]);
    assert_eq!(
        mismatch::<Keyed>(&by_field_name),
        [
            missing("classifier.3.bias", &[2]),
            missing("classifier.3.weight", &[2, 1]),
            unexpected("conv.weight"),
            unexpected("fc.bias"),
            unexpected("fc.weight"),
            missing("features.0.weight", &[1, 1, 2, 2]),
        ]
    );
}

#[test]
fn parameterless_model_loads_an_empty_state_dict() {
    let model: Gap = loaded(&safetensors_file(&[]));
    assert_eq!(model.forward(&[[[1.0, 2.0], [3.0, 4.0]], [[-1.0; 2]; 2]]), [2.5, -1.0]);
    // The header written by hand, without `__metadata__`.
    let _: Gap = loaded(&raw_file("{}", &[]));
}

// ---------------------------------------------------------------------------
// Mismatches

#[test]
fn every_problem_is_reported_together_sorted_by_key() {
    let file = safetensors_file(&[
        // conv.weight: missing
        raw_tensor("conv.bias", Dtype::U8, &[2], vec![1, 2]),
        f32_tensor("bn.weight", &[2], &[1.0, 1.0]),
        f32_tensor("bn.bias", &[2], &[0.0, 0.0]),
        raw_tensor("bn.running_mean", Dtype::I64, &[2], vec![0; 16]),
        f32_tensor("bn.running_var", &[2], &[1.0, 1.0]),
        raw_tensor("bn.num_batches_tracked", Dtype::I64, &[], 7i64.to_le_bytes().to_vec()),
        // transposed: same number of elements, other shape
        f32_tensor("fc.weight", &[8, 3], &[0.0; 24]),
        f32_tensor("fc.bias", &[1, 3], &[0.0; 3]),
        f32_tensor("head.weight", &[1], &[0.0]),
        raw_tensor("fc.num_batches_tracked", Dtype::I64, &[], 0i64.to_le_bytes().to_vec()),
    ]);
    let problems = mismatch::<Small>(&file);
    assert_eq!(
        problems,
        [
            wrong_dtype("bn.running_mean", "I64"),
            wrong_dtype("conv.bias", "U8"),
            missing("conv.weight", &[2, 1, 1, 1]),
            wrong_shape("fc.bias", &[3], &[1, 3]),
            unexpected("fc.num_batches_tracked"),
            wrong_shape("fc.weight", &[3, 8], &[8, 3]),
            unexpected("head.weight"),
        ]
    );

    let err = WeightsError::Mismatch(problems);
    let text = err.to_string();
    let expected = "error(s) in loading state_dict (7 problem(s)):
  dtype of \"bn.running_mean\" is I64; expected F32 (F16 and BF16 are converted)
  dtype of \"conv.bias\" is U8; expected F32 (F16 and BF16 are converted)
  missing key \"conv.weight\" (the model needs shape [2, 1, 1, 1])
  size mismatch for \"fc.bias\": the file has shape [1, 3], the model needs [3]
  unexpected key \"fc.num_batches_tracked\"
  size mismatch for \"fc.weight\": the file has shape [8, 3], the model needs [3, 8]
  unexpected key \"head.weight\"";
    assert_eq!(text, expected);
    // The vocabulary of PyTorch's strict `load_state_dict`.
    for phrase in [
        "error(s) in loading state_dict",
        "missing key",
        "unexpected key",
        "size mismatch for",
    ] {
        assert!(text.contains(phrase), "{phrase:?} not in {text}");
    }
    let as_error: &dyn std::error::Error = &err;
    assert_eq!(as_error.to_string(), expected);
}

#[test]
fn empty_file_reports_every_key_missing() {
    assert_eq!(
        mismatch::<Lin>(&safetensors_file(&[])),
        [missing("fc.bias", &[2]), missing("fc.weight", &[2, 3])]
    );
}

#[test]
fn single_problem_display() {
    let file = safetensors_file(&[f32_tensor("fc.weight", &[2, 3], &LIN_W)]);
    let err = load::<Lin>(&file).err().expect("fc.bias is missing");
    assert_eq!(
        err.to_string(),
        "error(s) in loading state_dict (1 problem(s)):\n  missing key \"fc.bias\" (the model needs shape [2])"
    );
}

// ---------------------------------------------------------------------------
// Batch norm's num_batches_tracked

fn norm_tensors() -> Vec<T> {
    vec![
        f32_tensor("features.1.weight", &[2], &[2.0, 0.5]),
        f32_tensor("features.1.bias", &[2], &[1.0, -1.0]),
        f32_tensor("features.1.running_mean", &[2], &[3.0, -2.0]),
        f32_tensor("features.1.running_var", &[2], &[4.0, 0.25]),
    ]
}

fn assert_norm_output(model: &Norm) {
    let out = model.forward(&[[[5.0, 3.0]], [[0.0, -2.0]]]);
    // (x - mean) / sqrt(var + 1e-5) * weight + bias
    let expected = [[[3.0f32, 1.0]], [[1.0, -1.0]]];
    let got: Vec<f32> = out.iter().flatten().flatten().copied().collect();
    let want: Vec<f32> = expected.iter().flatten().flatten().copied().collect();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-4, "got {got:?}, want {want:?}");
    }
}

#[test]
fn num_batches_tracked_present_is_accepted() {
    let mut tensors = norm_tensors();
    tensors.push(raw_tensor(
        "features.1.num_batches_tracked",
        Dtype::I64,
        &[],
        1234i64.to_le_bytes().to_vec(),
    ));
    assert_norm_output(&loaded(&safetensors_file(&tensors)));
}

#[test]
fn num_batches_tracked_absent_is_accepted() {
    assert_norm_output(&loaded(&safetensors_file(&norm_tensors())));
}

#[test]
fn num_batches_tracked_of_a_non_batch_norm_layer_is_unexpected() {
    let mut tensors = norm_tensors();
    tensors.push(raw_tensor("bn.num_batches_tracked", Dtype::I64, &[], vec![0; 8]));
    tensors.push(raw_tensor(
        "features.0.num_batches_tracked",
        Dtype::I64,
        &[],
        vec![0; 8],
    ));
    assert_eq!(
        mismatch::<Norm>(&safetensors_file(&tensors)),
        [
            unexpected("bn.num_batches_tracked"),
            unexpected("features.0.num_batches_tracked")
        ]
    );
    // A linear layer has no such counter either.
    let mut tensors = vec![
        f32_tensor("fc.weight", &[2, 3], &LIN_W),
        f32_tensor("fc.bias", &[2], &LIN_B),
    ];
    tensors.push(raw_tensor("fc.num_batches_tracked", Dtype::I64, &[], vec![0; 8]));
    assert_eq!(
        mismatch::<Lin>(&safetensors_file(&tensors)),
        [unexpected("fc.num_batches_tracked")]
    );
}

// ---------------------------------------------------------------------------
// Half precision

/// IEEE binary16 bit patterns and the values they hold.
const F16: [(u16, f32); 8] = [
    (0x3C00, 1.0),
    (0xC000, -2.0),
    (0x3800, 0.5),
    (0x3E00, 1.5),
    (0x7BFF, 65504.0),        // largest finite f16
    (0x0001, 5.960_464_5e-8), // smallest subnormal, 2^-24
    (0x8000, -0.0),
    (0x4248, 3.140_625),
];

fn f16_bytes(entries: &[(u16, f32)]) -> Vec<u8> {
    entries.iter().flat_map(|(bits, _)| bits.to_le_bytes()).collect()
}

/// The bf16 bit patterns of `values`, which must be exactly representable.
fn bf16_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|x| {
            let bits = x.to_bits();
            assert_eq!(bits & 0xFFFF, 0, "{x} is not a bf16 value");
            ((bits >> 16) as u16).to_le_bytes()
        })
        .collect()
}

/// `x` with the low 16 bits of its f32 pattern cleared: a bf16 value.
fn to_bf16(x: f32) -> f32 {
    f32::from_bits(x.to_bits() & 0xFFFF_0000)
}

/// Reads `W` back column by column (one-hot inputs) and `b` with a zero input.
fn lin_parameters(model: &Lin) -> ([f32; 6], [f32; 2]) {
    let bias = model.forward(&[0.0; 3]);
    let mut weight = [0.0; 6];
    for j in 0..3 {
        let mut x = [0.0; 3];
        x[j] = 1.0;
        let y = model.forward(&x);
        weight[j] = y[0] - bias[0];
        weight[3 + j] = y[1] - bias[1];
    }
    (weight, bias)
}

#[test]
fn f16_tensors_are_converted_exactly() {
    assert_eq!(F16[5].1, 2f32.powi(-24));
    let values = |entries: &[(u16, f32)]| entries.iter().map(|(_, v)| *v).collect::<Vec<f32>>();

    // Weights with a zero bias, so that tiny values are not absorbed.
    let file = safetensors_file(&[
        raw_tensor("fc.weight", Dtype::F16, &[2, 3], f16_bytes(&F16[..6])),
        raw_tensor("fc.bias", Dtype::F16, &[2], vec![0; 4]),
    ]);
    let (weight, bias) = lin_parameters(&loaded(&file));
    assert_eq!(bias, [0.0, 0.0]);
    assert_eq!(weight.to_vec(), values(&F16[..6]));

    // The bias, sign of zero included.
    let file = safetensors_file(&[
        raw_tensor("fc.weight", Dtype::F16, &[2, 3], vec![0; 12]),
        raw_tensor("fc.bias", Dtype::F16, &[2], f16_bytes(&F16[6..])),
    ]);
    let model: Lin = loaded(&file);
    let y = model.forward(&[0.0; 3]);
    assert_eq!(y, [0.0, 3.140_625]);
    let (_, bias) = lin_parameters(&model);
    assert_eq!(bias.to_vec(), values(&F16[6..]));
}

#[test]
fn bf16_tensors_are_converted_exactly() {
    // Values with at most 8 significant bits, from the top and bottom of the range.
    let weight = [1.0f32, -2.5, 0.007_812_5, to_bf16(3.0e38), to_bf16(-1.0e-38), 96.0];
    let file = safetensors_file(&[
        raw_tensor("fc.weight", Dtype::BF16, &[2, 3], bf16_bytes(&weight)),
        raw_tensor("fc.bias", Dtype::BF16, &[2], vec![0; 4]),
    ]);
    assert_eq!(lin_parameters(&loaded(&file)), (weight, [0.0, 0.0]));

    let bias = [0.375f32, -1024.0];
    let file = safetensors_file(&[
        raw_tensor("fc.weight", Dtype::BF16, &[2, 3], bf16_bytes(&[0.0; 6])),
        raw_tensor("fc.bias", Dtype::BF16, &[2], bf16_bytes(&bias)),
    ]);
    assert_eq!(lin_parameters(&loaded(&file)), ([0.0; 6], bias));
}

#[test]
fn mixed_dtypes_in_one_file() {
    let file = safetensors_file(&[
        raw_tensor("fc.weight", Dtype::BF16, &[2, 3], bf16_bytes(&LIN_W)),
        raw_tensor(
            "fc.bias",
            Dtype::F16,
            &[2],
            f16_bytes(&[(0x3800, 0.5), (0xB400, -0.25)]),
        ),
    ]);
    let model: Lin = loaded(&file);
    assert_eq!(model.forward(&LIN_X), LIN_Y);
}

// ---------------------------------------------------------------------------
// Alignment

/// Copies `file` into a fresh buffer at a position where byte `data_start` of
/// the file lands on an odd address (1 mod 8). Returns the buffer and the
/// position; the file is `&buffer[at..at + file.len()]`.
fn place_at_odd_address(file: &[u8], data_start: usize) -> (Vec<u8>, usize) {
    let mut buffer = vec![0xAAu8; file.len() + 8];
    let base = buffer.as_ptr() as usize;
    let at = (0..8).find(|at| (base + at + data_start) % 8 == 1).unwrap();
    buffer[at..at + file.len()].copy_from_slice(file);
    (buffer, at)
}

#[test]
fn unaligned_data_loads() {
    // Header of even length: with the file at `&buf[1..]` of an 8-aligned
    // buffer, the data starts at an odd address.
    let header = r#"{"fc.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[24,32]}}"#;
    assert_eq!(header.len() % 2, 0);
    let mut data = f32_bytes(&LIN_W);
    data.extend(f32_bytes(&LIN_B));
    let file = raw_file(header, &data);
    let data_start = 8 + header.len();

    // As described: a leading byte, then the file.
    let mut buffer = vec![0u8];
    buffer.extend_from_slice(&file);
    let bytes = &buffer[1..];
    // The allocator hands out (at least) 8-aligned blocks.
    assert_eq!(
        (bytes.as_ptr() as usize + data_start) % 2,
        1,
        "data is at an odd address"
    );
    let model: Lin = loaded(bytes);
    assert_eq!(model.forward(&LIN_X), LIN_Y);

    // Independent of where the allocator put the buffer.
    let (buffer, at) = place_at_odd_address(&file, data_start);
    let bytes = &buffer[at..at + file.len()];
    assert_eq!(
        (bytes.as_ptr() as usize + data_start) % 2,
        1,
        "data is at an odd address"
    );
    let model: Lin = loaded(bytes);
    assert_eq!(model.forward(&LIN_X), LIN_Y);
}

#[test]
fn unaligned_half_precision_data_loads() {
    let header = r#"{"fc.weight":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]},"fc.bias":{"dtype":"BF16","shape":[2],"data_offsets":[12,16]}}"#;
    // No subnormal here: the bias would absorb it when the weights are read back.
    let entries = [F16[0], F16[1], F16[2], F16[3], F16[4], F16[7]];
    let mut data = f16_bytes(&entries);
    data.extend(bf16_bytes(&[1.0, -3.0]));
    let file = raw_file(header, &data);
    let (buffer, at) = place_at_odd_address(&file, 8 + header.len());
    let model: Lin = loaded(&buffer[at..at + file.len()]);
    let weight: Vec<f32> = entries.iter().map(|(_, v)| *v).collect();
    let (w, b) = lin_parameters(&model);
    assert_eq!((w.to_vec(), b), (weight, [1.0, -3.0]));
}

// ---------------------------------------------------------------------------
// Malformed files: `WeightsError::Format`, never a panic

const LIN_HEADER: &str = r#"{"fc.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[24,32]}}"#;

fn lin_data() -> Vec<u8> {
    let mut data = f32_bytes(&LIN_W);
    data.extend(f32_bytes(&LIN_B));
    data
}

#[test]
fn raw_reference_file_is_valid() {
    // The base the malformed files below are derived from.
    let model: Lin = loaded(&raw_file(LIN_HEADER, &lin_data()));
    assert_eq!(model.forward(&LIN_X), LIN_Y);
}

#[test]
fn empty_input() {
    assert!(matches!(format_error(&[]), SafeTensorError::HeaderTooSmall));
}

#[test]
fn seven_bytes() {
    assert!(matches!(
        format_error(&[2, 0, 0, 0, 0, 0, 0]),
        SafeTensorError::HeaderTooSmall
    ));
}

#[test]
fn header_length_larger_than_the_file() {
    let mut file = raw_file(LIN_HEADER, &lin_data());
    let too_long = (file.len() as u64 - 8) + 1;
    file[..8].copy_from_slice(&too_long.to_le_bytes());
    assert!(matches!(format_error(&file), SafeTensorError::InvalidHeaderLength));
    // Only the length prefix.
    let just_length = 2u64.to_le_bytes();
    assert!(matches!(
        format_error(&just_length),
        SafeTensorError::InvalidHeaderLength
    ));
}

#[test]
fn header_length_u64_max() {
    let mut file = u64::MAX.to_le_bytes().to_vec();
    file.extend_from_slice(b"{}");
    assert!(matches!(format_error(&file), SafeTensorError::HeaderTooLarge));
    // Just past the reference crate's 100 MB header limit.
    let mut file = 100_000_001u64.to_le_bytes().to_vec();
    file.extend_from_slice(b"{}");
    assert!(matches!(format_error(&file), SafeTensorError::HeaderTooLarge));
}

#[test]
fn non_utf8_header() {
    let mut file = raw_file("{\"fc.bias_\":{}}", &[]);
    file[8 + 9] = 0xFF; // the `_` in the key: a lone 0xFF is never UTF-8
    assert!(matches!(format_error(&file), SafeTensorError::InvalidHeader(_)));
}

#[test]
fn invalid_json_header() {
    for header in [
        "{",
        "not json",
        "[]",
        "{\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2]}}", // no offsets
        "{\"fc.bias\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", // unknown dtype
        "{\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", // negative dim
        "",
    ] {
        let err = format_error(&raw_file(header, &[0; 8]));
        assert!(
            matches!(err, SafeTensorError::InvalidHeaderDeserialization(_)),
            "{header:?}: {err:?}"
        );
    }
}

#[test]
fn offsets_past_the_end() {
    // The header promises 32 bytes of data; the file has 28.
    let mut data = lin_data();
    data.truncate(28);
    assert!(matches!(
        format_error(&raw_file(LIN_HEADER, &data)),
        SafeTensorError::MetadataIncompleteBuffer
    ));
    // A single tensor whose end offset is past the end of the data.
    let header = r#"{"fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    assert!(matches!(
        format_error(&raw_file(header, &[0; 4])),
        SafeTensorError::MetadataIncompleteBuffer
    ));
    // Offsets far beyond the file: the reference crate sees the gap after
    // `fc.bias` first.
    let header = r#"{"fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"fc.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[1000000,1000024]}}"#;
    assert!(matches!(
        format_error(&raw_file(header, &lin_data())),
        SafeTensorError::InvalidOffset(_)
    ));
}

/// Eight `U8` tensors of 2^61 - 1 elements each: each one passes the reference
/// crate's overflow checks, and their offsets add up to 2^64 - 8 bytes.
///
/// `safetensors` 0.8.0 then computes `buffer_end + 8 + header_len` unchecked
/// (`SafeTensors::read_metadata`, src/tensor.rs:420): with overflow checks on
/// (the `dev` and `test` profiles) that panics, in release it wraps and
/// rejects the file as `MetadataIncompleteBuffer`. Our header pre-check gives
/// that release answer in every profile.
#[test]
fn offsets_summing_past_usize_max() {
    let size: u64 = (1 << 61) - 1;
    let entries: Vec<String> = (0..8u64)
        .map(|i| {
            let (start, end) = (i * size, (i + 1) * size);
            format!("\"t{i}\":{{\"dtype\":\"U8\",\"shape\":[{size}],\"data_offsets\":[{start},{end}]}}")
        })
        .collect();
    let header = format!("{{{}}}", entries.join(","));
    assert!(matches!(
        format_error(&raw_file(&header, &[])),
        SafeTensorError::MetadataIncompleteBuffer
    ));
}

#[test]
fn overlapping_offsets() {
    let header = r#"{"fc.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[20,28]}}"#;
    assert!(matches!(
        format_error(&raw_file(header, &lin_data()[..28])),
        SafeTensorError::InvalidOffset(_)
    ));
    // Two tensors on the same bytes.
    let header = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    assert!(matches!(
        format_error(&raw_file(header, &[0; 8])),
        SafeTensorError::InvalidOffset(_)
    ));
    // A gap between tensors.
    let header = r#"{"fc.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[28,36]}}"#;
    assert!(matches!(
        format_error(&raw_file(header, &[0; 36])),
        SafeTensorError::InvalidOffset(_)
    ));
    // End before start.
    let header = r#"{"fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#;
    assert!(matches!(
        format_error(&raw_file(header, &[0; 8])),
        SafeTensorError::InvalidOffset(_)
    ));
}

#[test]
fn offsets_disagreeing_with_shape() {
    let header = r#"{"fc.bias":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#;
    assert!(matches!(
        format_error(&raw_file(header, &[0; 8])),
        SafeTensorError::TensorInvalidInfo
    ));
}

#[test]
fn shape_product_overflowing_usize() {
    let header = format!(
        "{{\"fc.bias\":{{\"dtype\":\"F32\",\"shape\":[{},{},4],\"data_offsets\":[0,8]}}}}",
        1u64 << 32,
        1u64 << 32
    );
    assert!(matches!(
        format_error(&raw_file(&header, &[0; 8])),
        SafeTensorError::ValidationOverflow
    ));
    // The element count fits, the byte count does not.
    let header = format!(
        "{{\"fc.bias\":{{\"dtype\":\"F64\",\"shape\":[{}],\"data_offsets\":[0,8]}}}}",
        1u64 << 61
    );
    assert!(matches!(
        format_error(&raw_file(&header, &[0; 8])),
        SafeTensorError::ValidationOverflow
    ));
}

#[test]
fn trailing_garbage() {
    // The reference crate requires the last offset to be the end of the file.
    let mut file = raw_file(LIN_HEADER, &lin_data());
    file.push(0);
    assert!(matches!(format_error(&file), SafeTensorError::MetadataIncompleteBuffer));
    let mut file = lin_file();
    file.extend_from_slice(b"garbage");
    assert!(matches!(format_error(&file), SafeTensorError::MetadataIncompleteBuffer));
}

#[test]
fn truncated_data() {
    let file = lin_file();
    let err = format_error(&file[..file.len() - 1]);
    assert!(matches!(err, SafeTensorError::MetadataIncompleteBuffer), "{err:?}");
}

#[test]
fn every_truncation_is_a_format_error() {
    let file = lin_file();
    for len in 0..file.len() {
        let result = load::<Lin>(&file[..len]);
        assert!(matches!(result, Err(WeightsError::Format(_))), "prefix of {len} bytes");
    }
}

#[test]
fn corrupted_bytes_never_panic() {
    // Every single-byte change in the length prefix and header, with a few
    // values each: the loader returns (Ok or Err), it does not panic.
    let file = lin_file();
    let header_end = 8 + u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let mut outcomes = [0usize; 3];
    for at in 0..header_end {
        for value in [0x00u8, 0x01, b'"', b'9', b'}', 0x7F, 0xFF] {
            let mut bytes = file.clone();
            bytes[at] = value;
            match load::<Lin>(&bytes) {
                Ok(_) => outcomes[0] += 1,
                Err(WeightsError::Format(_)) => outcomes[1] += 1,
                Err(_) => outcomes[2] += 1,
            }
        }
    }
    assert!(outcomes[1] > 0, "{outcomes:?}");
}

#[test]
fn format_error_display_names_the_rule() {
    let err = load::<Lin>(&[]).err().expect("empty input is an error");
    let text = err.to_string();
    assert!(text.starts_with("not a valid safetensors file: "), "{text}");
    assert!(text.len() > "not a valid safetensors file: ".len(), "{text}");
    let source: &dyn std::error::Error = &err;
    assert!(!source.to_string().is_empty());
}

// Our rules stricter than the reference crate (documented on WeightsError).

#[test]
fn num_batches_tracked_that_is_not_a_scalar_is_a_shape_mismatch() {
    let mut tensors = norm_tensors();
    tensors.push(f32_tensor("features.1.num_batches_tracked", &[3], &[1.0, 2.0, 3.0]));
    assert_eq!(
        mismatch::<Norm>(&safetensors_file(&tensors)),
        [WeightProblem::WrongShape {
            key: "features.1.num_batches_tracked".to_string(),
            expected: vec![],
            found: vec![3],
        }]
    );
}

#[test]
fn duplicate_names_are_refused() {
    // The reference crate keeps the last "fc.bias" silently.
    let header = r#"{"fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"fc.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[16,40]}}"#;
    let bytes = raw_file(header, &[0; 40]);
    match load::<Lin>(&bytes) {
        Err(WeightsError::DuplicateKey(key)) => assert_eq!(key, "fc.bias"),
        other => panic!("expected DuplicateKey, got {:?}", other.map(|_| ())),
    }
    let message = load::<Lin>(&bytes).err().map(|e| e.to_string());
    assert_eq!(
        message.as_deref(),
        Some("not a valid safetensors file: tensor \"fc.bias\" appears twice in the header")
    );
}
