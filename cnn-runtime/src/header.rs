//! Checks of a safetensors header that run before the `safetensors` crate
//! parses it, for two things the crate lets through:
//!
//! - duplicate tensor names, which its JSON map keeps silently (last wins);
//! - data offsets so large that the crate's unchecked `end + 8 + header`
//!   overflows: a panic in debug builds (release wraps and rejects the file).
//!
//! Anything else malformed is left to the crate, so its error is the one the
//! user sees. The macro runs the same checks on embedded weights
//! (`cnn-macros/src/embed.rs`); a proc macro cannot share code with this crate.

use crate::WeightsError;
use alloc::collections::BTreeSet;
use alloc::string::String;
use core::fmt;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

/// The end offset of one header entry. serde (and so the `safetensors`
/// crate) reads a tensor entry from a JSON object or from an array in field
/// order (`[dtype, shape, data_offsets]`), so both forms count.
fn entry_end(entry: &serde_json::Value) -> Option<u64> {
    let offsets = match entry {
        serde_json::Value::Object(fields) => fields.get("data_offsets")?,
        serde_json::Value::Array(items) => items.get(2)?,
        _ => return None,
    };
    offsets.get(1)?.as_u64()
}

/// The largest end offset, or the first duplicate name.
enum Scan {
    Ends(u64),
    Duplicate(String),
}

struct ScanVisitor;

impl<'de> Visitor<'de> for ScanVisitor {
    type Value = Scan;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a safetensors header (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scan, A::Error> {
        let mut seen = BTreeSet::new();
        let mut duplicate = None;
        let mut largest_end = 0;
        // The whole map is read even after a duplicate: the JSON parser
        // rejects a map left half-read.
        while let Some(name) = map.next_key::<String>()? {
            if name == "__metadata__" {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let entry: serde_json::Value = map.next_value()?;
            if let Some(end) = entry_end(&entry) {
                largest_end = largest_end.max(end);
            }
            if !seen.insert(name.clone()) && duplicate.is_none() {
                duplicate = Some(name);
            }
        }
        Ok(match duplicate {
            Some(name) => Scan::Duplicate(name),
            None => Scan::Ends(largest_end),
        })
    }
}

struct Header(Scan);

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ScanVisitor).map(Header)
    }
}

/// Rejects duplicate names, and offsets that would overflow the crate's
/// arithmetic with the error it gives in release builds.
pub(crate) fn precheck(bytes: &[u8]) -> Result<(), WeightsError> {
    let Some((length, rest)) = bytes.split_first_chunk::<8>() else {
        return Ok(());
    };
    let Ok(length) = usize::try_from(u64::from_le_bytes(*length)) else {
        return Ok(());
    };
    let Some(header) = rest.get(..length) else {
        return Ok(());
    };
    let limit = u64::MAX - 8 - length as u64;
    match serde_json::from_slice::<Header>(header) {
        Ok(Header(Scan::Duplicate(name))) => Err(WeightsError::DuplicateKey(name)),
        Ok(Header(Scan::Ends(end))) if end > limit || usize::try_from(end).is_err() => Err(WeightsError::Format(
            safetensors::SafeTensorError::MetadataIncompleteBuffer,
        )),
        // A header the crate will reject (or accept) on its own terms.
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str) -> alloc::vec::Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&[0; 16]);
        bytes
    }

    #[test]
    fn finds_duplicates() {
        let header = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#;
        assert!(matches!(precheck(&file(header)), Err(WeightsError::DuplicateKey(k)) if k == "a"));
        let three = r#"{"fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"fc.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[16,40]}}"#;
        let r = precheck(&file(three));
        assert!(matches!(r, Err(WeightsError::DuplicateKey(_))), "{r:?}");
        let unique = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#;
        assert!(precheck(&file(unique)).is_ok());
    }
}
