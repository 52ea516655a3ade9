//! The no_std crate's model, run: the first held-out MNIST digits are
//! classified as PyTorch classified them.

const TEST_SET: &[u8] = include_bytes!("../../examples/digits/test_set.safetensors");

/// Reads a u8 tensor of the test set without a safetensors dependency: the
/// header names each tensor's byte range.
fn tensor<'a>(name: &str) -> &'a [u8] {
    let header_len = u64::from_le_bytes(TEST_SET[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&TEST_SET[8..8 + header_len]).unwrap();
    let entry = &header[header.find(&format!("\"{name}\"")).unwrap()..];
    let offsets = &entry[entry.find("\"data_offsets\":[").unwrap() + 16..];
    let offsets: Vec<usize> = offsets[..offsets.find(']').unwrap()]
        .split(',')
        .map(|n| n.trim().parse().unwrap())
        .collect();
    &TEST_SET[8 + header_len + offsets[0]..8 + header_len + offsets[1]]
}

/// The first `n` test images.
fn images(n: usize) -> Vec<[[u8; 28]; 28]> {
    tensor("images")
        .chunks_exact(784)
        .take(n)
        .map(|pixels| {
            let mut image = [[0u8; 28]; 28];
            for (row, chunk) in image.iter_mut().zip(pixels.chunks_exact(28)) {
                row.copy_from_slice(chunk);
            }
            image
        })
        .collect()
}

#[test]
fn classifies_held_out_digits() {
    let labels = tensor("labels");
    let mut correct = 0;
    for (image, label) in images(200).iter().zip(labels) {
        correct += usize::from(cnn_no_std_check::classify(image) == *label);
    }
    // PyTorch's logits in the test set get 199 of the first 200 right
    // (and 1968 of all 2,000).
    assert_eq!(correct, 199);
}

/// The batch path (groups of 8, so 203 leaves a partial group) gives every
/// image the digit the single-image path gives it.
#[test]
fn classifies_a_batch_as_one_by_one() {
    let images = images(203);
    let mut digits = vec![u8::MAX; images.len()];
    cnn_no_std_check::classify_batch(&images, &mut digits);
    let one_by_one: Vec<u8> = images.iter().map(cnn_no_std_check::classify).collect();
    assert_eq!(digits, one_by_one);
    let labels = tensor("labels");
    let correct = digits[..200].iter().zip(labels).filter(|(d, l)| d == l).count();
    assert_eq!(correct, 199, "as PyTorch, see classifies_held_out_digits");
}
