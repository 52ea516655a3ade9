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

#[test]
fn classifies_held_out_digits() {
    let images = tensor("images");
    let labels = tensor("labels");
    let mut correct = 0;
    for (pixels, label) in images.chunks_exact(784).zip(labels).take(200) {
        let mut image = [[0u8; 28]; 28];
        for (row, chunk) in image.iter_mut().zip(pixels.chunks_exact(28)) {
            row.copy_from_slice(chunk);
        }
        correct += usize::from(cnn_no_std_check::classify(&image) == *label);
    }
    // PyTorch's logits in the test set get 199 of the first 200 right
    // (and 1968 of all 2,000).
    assert_eq!(correct, 199);
}
