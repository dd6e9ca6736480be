//! The one canonical-JSON writer: compact, object keys sorted by byte order, integers only.
//!
//! Used for key documents, key files, the `assets.pa` header and its JSON mirrors, so that the
//! same value always has the same bytes on every machine.

use serde::Serialize;
use serde_json::Value;

/// Serializes `value` canonically. Fails if the value contains a float (SPEC §4.1 forbids them).
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<Vec<u8>> {
    let value = serde_json::to_value(value)?;
    check_integers(&value)?;
    // serde_json's Map is a BTreeMap (the `preserve_order` feature is off), whose String
    // ordering is byte order of the UTF-8 encoding: exactly the canonical key order.
    Ok(serde_json::to_vec(&value)?)
}

/// [`to_vec`] for a value that is already a `serde_json::Value` (no conversion, no copy).
pub fn value_to_vec(value: &Value) -> anyhow::Result<Vec<u8>> {
    check_integers(value)?;
    Ok(serde_json::to_vec(value)?)
}

/// Like [`to_vec`] but as a `String`.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<String> {
    Ok(String::from_utf8(to_vec(value)?)?)
}

/// Fails if the value holds a float (canonical JSON allows integers only).
pub fn check(value: &Value) -> anyhow::Result<()> {
    check_integers(value)
}

fn check_integers(value: &Value) -> anyhow::Result<()> {
    match value {
        Value::Number(n) if !(n.is_i64() || n.is_u64()) => {
            anyhow::bail!("canonical JSON allows integers only, found {n}")
        }
        Value::Array(items) => items.iter().try_for_each(check_integers),
        Value::Object(map) => map.values().try_for_each(check_integers),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_sorted_by_bytes_recursively_and_compact() {
        let v = json!({"b": 1, "a": {"z": [3, {"y": 1, "x": 2}], "B": "é"}, "_": null});
        assert_eq!(to_string(&v).unwrap(), r#"{"_":null,"a":{"B":"é","z":[3,{"x":2,"y":1}]},"b":1}"#);
    }

    #[test]
    fn floats_are_rejected() {
        assert!(to_vec(&json!({"a": 1.5})).is_err());
        assert!(to_vec(&json!([1, -2, u64::MAX])).is_ok());
    }
}
