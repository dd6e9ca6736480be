//! Key documents (SPEC §6): one `Serialize` struct, hashed with BLAKE3 over canonical JSON for
//! the strong and weak keys, and printed as-is to explain a rebuild.

use crate::canon;
use crate::decl::Declaration;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::Path;

/// Version of the key document layout itself.
pub const CORE_VERSION: u32 = 1;

/// One source a step reads, by its path relative to the asset root, and its content hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceKey {
    pub name: String,
    pub key: String,
}

/// Everything that can change an action's output bytes, and nothing else.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyDoc {
    #[serde(rename = "core-version")]
    pub core_version: u32,
    pub step: String,
    #[serde(rename = "step-version")]
    pub step_version: String,
    #[serde(rename = "step-key")]
    pub step_key: Value,
    pub sources: Vec<SourceKey>,
    #[serde(rename = "dependencies-strong")]
    pub dependencies_strong: Vec<String>,
    #[serde(rename = "dependencies-weak")]
    pub dependencies_weak: Vec<String>,
}

/// The content of a key file and of a step's record: the document and both keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Keyed {
    pub strong: String,
    pub weak: String,
    pub doc: KeyDoc,
}

impl KeyDoc {
    /// BLAKE3 of the canonical document.
    pub fn strong(&self) -> String {
        hash_json(self)
    }

    /// BLAKE3 of the canonical document without `dependencies-strong`.
    pub fn weak(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.remove("dependencies-strong");
        }
        hash_json(&v)
    }

    /// The document with both keys computed.
    pub fn keyed(self) -> Keyed {
        Keyed {
            strong: self.strong(),
            weak: self.weak(),
            doc: self,
        }
    }
}

fn hash_json<T: Serialize>(v: &T) -> String {
    let bytes = canon::to_vec(v).unwrap_or_default();
    blake3::hash(&bytes).to_hex().to_string()
}

/// BLAKE3 of a file's contents, hex.
pub fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut h = blake3::Hasher::new();
    h.update_reader(std::fs::File::open(path)?)?;
    Ok(h.finalize().to_hex().to_string())
}

/// BLAKE3 of bytes, hex.
pub fn hash_bytes(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// The stable name of an asset's action, used in `dependencies-weak`.
pub fn action_name(asset_id: u64) -> String {
    format!("asset/{asset_id}")
}

/// The key document of an asset's conversion step. `deps` are (asset_id, strong key) of the
/// assets it references, in declared order.
pub fn asset_doc(
    step: &str,
    step_version: &str,
    decl: &Declaration,
    sources: Vec<SourceKey>,
    deps: &[(u64, String)],
) -> KeyDoc {
    KeyDoc {
        core_version: CORE_VERSION,
        step: step.to_string(),
        step_version: step_version.to_string(),
        step_key: json!({
            "format": decl.ty.format(),
            "codec": decl.codec,
            "metadata": decl.metadata,
            "inputs": decl.inputs_json(),
        }),
        sources,
        dependencies_strong: deps.iter().map(|(_, k)| k.clone()).collect(),
        dependencies_weak: deps.iter().map(|(id, _)| action_name(*id)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> KeyDoc {
        KeyDoc {
            core_version: 1,
            step: "blob".into(),
            step_version: "1".into(),
            step_key: json!({"b": 1, "a": 2}),
            sources: vec![SourceKey {
                name: "x".into(),
                key: "k".into(),
            }],
            dependencies_strong: vec!["s1".into()],
            dependencies_weak: vec!["asset/1".into()],
        }
    }

    #[test]
    fn strong_key_is_blake3_of_canonical_json() {
        let expected = blake3::hash(
            br#"{"core-version":1,"dependencies-strong":["s1"],"dependencies-weak":["asset/1"],"sources":[{"key":"k","name":"x"}],"step":"blob","step-key":{"a":2,"b":1},"step-version":"1"}"#,
        );
        assert_eq!(doc().strong(), expected.to_hex().to_string());
    }

    #[test]
    fn weak_key_ignores_dependency_strong_keys_only() {
        let mut d = doc();
        let (s, w) = (d.strong(), d.weak());
        d.dependencies_strong = vec!["s2".into()];
        assert_ne!(d.strong(), s);
        assert_eq!(d.weak(), w);
        d.dependencies_weak = vec!["asset/2".into()];
        assert_ne!(d.weak(), w);
    }
}
