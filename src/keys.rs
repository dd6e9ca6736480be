//! Key documents (SPEC §6): one `Serialize` struct, hashed with BLAKE3 over canonical JSON for
//! the strong and weak keys, and printed as-is to explain a rebuild.

use crate::canon;
use crate::decl::Declaration;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Version of the key document layout itself.
pub const CORE_VERSION: u32 = 1;

/// One source a step reads, by its path relative to the asset root, and its content hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceKey {
    pub name: String,
    pub key: String,
}

/// Everything that can change an action's output bytes, and nothing else.
///
/// Fields are declared in the byte order of their names, the order canonical JSON writes
/// them in, so that `canon` writes the document straight through instead of buffering it
/// (the pack's is megabytes); the same holds for [`ActionKey`] and the record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyDoc<S = Value> {
    #[serde(rename = "core-version")]
    pub core_version: u32,
    #[serde(rename = "dependencies-strong")]
    pub dependencies_strong: Vec<String>,
    #[serde(rename = "dependencies-weak")]
    pub dependencies_weak: Vec<String>,
    pub sources: Vec<SourceKey>,
    pub step: String,
    /// The step's own fields: a JSON value, or, where a step reads them (the pack), typed
    /// or borrowed fields that serialize to the same canonical bytes.
    #[serde(rename = "step-key")]
    pub step_key: S,
    #[serde(rename = "step-version")]
    pub step_version: String,
}

/// An action's key: its key document and the strong and weak keys computed from it (the
/// content of a key file and of a step's record).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionKey<S = Value> {
    pub doc: KeyDoc<S>,
    pub strong: String,
    pub weak: String,
}

/// Strict (default) or non-strict gating (SPEC §6), chosen by the user, never by a project file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    #[default]
    Strict,
    NonStrict,
}

impl Mode {
    /// Environment variable that selects non-strict mode when set to 1/true/yes.
    pub const ENV: &'static str = "PACKER_NON_STRICT";

    /// The mode from flags (which win) or the environment.
    pub fn resolve(non_strict: bool, strict: bool) -> Mode {
        if strict {
            return Mode::Strict;
        }
        let env = std::env::var(Mode::ENV).map(|v| matches!(v.as_str(), "1" | "true" | "yes")).unwrap_or(false);
        if non_strict || env {
            Mode::NonStrict
        } else {
            Mode::Strict
        }
    }
}

/// A key file, the gate gen writes for one action. In non-strict mode its document has no
/// `dependencies-strong`, so a dependency's rebuild never rewrites it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyFile<S = Value> {
    pub mode: Mode,
    #[serde(flatten)]
    pub keyed: ActionKey<S>,
}

/// A strict key file borrowing its key: what [`KeyFile::bytes`] serializes without copying
/// the document (the pack's is megabytes at 10,000 assets).
#[derive(Serialize)]
struct StrictKeyFile<'a, S> {
    doc: &'a KeyDoc<S>,
    mode: Mode,
    strong: &'a str,
    weak: &'a str,
}

impl<S: Serialize + Clone> KeyFile<S> {
    /// The canonical bytes of `keyed`'s key file in `mode`.
    pub fn bytes(mode: Mode, keyed: &ActionKey<S>) -> anyhow::Result<Vec<u8>> {
        match mode {
            Mode::Strict => {
                canon::to_vec(&StrictKeyFile { doc: &keyed.doc, mode, strong: &keyed.strong, weak: &keyed.weak })
            }
            Mode::NonStrict => canon::to_vec(&KeyFile::new(mode, keyed)),
        }
    }

    pub fn new(mode: Mode, keyed: &ActionKey<S>) -> KeyFile<S> {
        let keyed = match mode {
            Mode::Strict => keyed.clone(),
            Mode::NonStrict => KeyDoc { dependencies_strong: Vec::new(), ..keyed.doc.clone() }.keyed(),
        };
        KeyFile { mode, keyed }
    }
}

impl<S> KeyDoc<S> {
    /// The document around `step_key` instead of its own step key, and the one it had.
    pub fn swap_step_key<T>(self, step_key: T) -> (KeyDoc<T>, S) {
        let KeyDoc { core_version, dependencies_strong, dependencies_weak, sources, step, step_key: had, step_version } =
            self;
        (KeyDoc { core_version, dependencies_strong, dependencies_weak, sources, step, step_key, step_version }, had)
    }

    /// A copy of the document around `step_key` (its own is not copied).
    pub fn cloned_around<T>(&self, step_key: T) -> KeyDoc<T> {
        KeyDoc {
            core_version: self.core_version,
            dependencies_strong: self.dependencies_strong.clone(),
            dependencies_weak: self.dependencies_weak.clone(),
            sources: self.sources.clone(),
            step: self.step.clone(),
            step_key,
            step_version: self.step_version.clone(),
        }
    }
}

impl<S: Serialize> KeyDoc<S> {
    /// Both keys, (strong, weak): BLAKE3 of the canonical document, and of the document without
    /// `dependencies-strong`, from one canonical serialization (`canon::to_vec_and_without`).
    pub fn keys(&self) -> (String, String) {
        match canon::to_vec_and_without(self, "dependencies-strong") {
            Ok((strong, weak)) => (hash_bytes(&strong), hash_bytes(&weak)),
            // Not canonical JSON (a float in a parameter): never the hash of nothing, which
            // every such document would share; the lossless non-canonical bytes keep keys apart.
            Err(_) => {
                let mut weak = serde_json::to_value(self).unwrap_or(Value::Null);
                if let Value::Object(m) = &mut weak {
                    m.remove("dependencies-strong");
                }
                (non_canonical(self), non_canonical(&weak))
            }
        }
    }

    /// The document with both keys computed.
    pub fn keyed(self) -> ActionKey<S> {
        let (strong, weak) = self.keys();
        ActionKey { strong, weak, doc: self }
    }
}

impl<S: Serialize> ActionKey<S> {
    /// The same key with its step key as JSON (for what compares documents field by field:
    /// `packer status` and `explain`).
    pub fn to_json(&self) -> anyhow::Result<ActionKey> {
        let doc = self.doc.cloned_around(serde_json::to_value(&self.doc.step_key)?);
        Ok(ActionKey { doc, strong: self.strong.clone(), weak: self.weak.clone() })
    }
}

/// The key of a document that is not canonical JSON: a hash of serde_json's lossless bytes,
/// marked so that it can never equal a canonical document's key.
fn non_canonical<T: Serialize>(v: &T) -> String {
    let text = serde_json::to_vec(v).unwrap_or_default();
    let mut h = blake3::Hasher::new();
    h.update(b"non-canonical\0");
    h.update(&text);
    h.finalize().to_hex().to_string()
}

use crate::hash::hash_bytes;

/// The stable name of an asset's action, used in `dependencies-weak`.
pub fn action_name(asset_id: u64) -> String {
    action_name_str(&asset_id.to_string())
}

/// [`action_name`] from the id's text (an artifact's file name).
pub fn action_name_str(asset_id: &str) -> String {
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
            sources: vec![SourceKey { name: "x".into(), key: "k".into() }],
            dependencies_strong: vec!["s1".into()],
            dependencies_weak: vec!["asset/1".into()],
        }
    }

    #[test]
    fn a_key_file_written_from_a_borrowed_key_is_the_key_file_serialized() {
        let keyed = doc().keyed();
        for mode in [Mode::Strict, Mode::NonStrict] {
            assert_eq!(KeyFile::bytes(mode, &keyed).unwrap(), canon::to_vec(&KeyFile::new(mode, &keyed)).unwrap());
        }
    }

    #[test]
    fn strong_key_is_blake3_of_canonical_json() {
        let expected = blake3::hash(
            br#"{"core-version":1,"dependencies-strong":["s1"],"dependencies-weak":["asset/1"],"sources":[{"key":"k","name":"x"}],"step":"blob","step-key":{"a":2,"b":1},"step-version":"1"}"#,
        );
        assert_eq!(doc().keys().0, expected.to_hex().to_string());
    }

    #[test]
    fn diff_names_each_changed_field() {
        let a = doc();
        let mut b = doc();
        b.step_key = json!({"b": 1, "a": 3});
        b.sources[0].key = "k2".into();
        b.sources.push(SourceKey { name: "y".into(), key: "k3".into() });
        b.dependencies_strong = vec!["s9".into()];
        b.step_version = "2".into();
        let fields: Vec<String> = diff(&a, &b).into_iter().map(|c| c.field).collect();
        assert_eq!(fields, ["step-version", "step-key.a", "sources[x]", "sources[y]", "dependencies-strong[asset/1]"]);
        assert!(diff(&a, &a).is_empty());
        let c = &diff(&a, &b)[2];
        assert_eq!(c.to_string(), r#"sources[x]: "k" → "k2""#);
    }

    #[test]
    fn documents_that_are_not_canonical_json_never_share_a_key() {
        // Regression: a float made canonicalization fail and every such key blake3("").
        let (mut a, mut b) = (doc(), doc());
        a.step_key = json!({"f": 1.5});
        b.step_key = json!({"f": 2.5});
        assert_ne!(a.keys().0, b.keys().0);
        assert_ne!(a.keys().0, blake3::hash(b"").to_hex().to_string());
    }

    #[test]
    fn weak_key_ignores_dependency_strong_keys_only() {
        let mut d = doc();
        let (s, w) = (d.keys().0, d.keys().1);
        d.dependencies_strong = vec!["s2".into()];
        assert_ne!(d.keys().0, s);
        assert_eq!(d.keys().1, w);
        d.dependencies_weak = vec!["asset/2".into()];
        assert_ne!(d.keys().1, w);
    }

    #[test]
    fn both_keys_are_the_hashes_of_the_sorted_document_with_and_without_dependencies_strong() {
        // Checked against the plain route: serde_json's Value (a sorted map), written compact.
        let mut docs = vec![doc()];
        let mut d = doc();
        d.step_key = json!({"é \"q\"": [1, {"z": null, "a": "\u{1F600}"}], "n": -3});
        d.sources.push(SourceKey { name: "sp ace/$x:y#.png".into(), key: "k2".into() });
        d.dependencies_strong.clear();
        docs.push(d);
        for d in docs {
            let mut v = serde_json::to_value(&d).unwrap();
            let strong = blake3::hash(&serde_json::to_vec(&v).unwrap()).to_hex().to_string();
            v.as_object_mut().unwrap().remove("dependencies-strong");
            let weak = blake3::hash(&serde_json::to_vec(&v).unwrap()).to_hex().to_string();
            assert_eq!(d.keys(), (strong, weak), "{d:?}");
        }
        // A float is not canonical: still two distinct keys, neither the hash of nothing.
        let mut float = doc();
        float.step_key = json!({"f": 1.5});
        let (s, w) = float.keys();
        assert_ne!(s, w);
        assert_ne!(s, blake3::hash(b"").to_hex().to_string());
    }
}

/// One field that differs between two key documents.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// `step-version`, `step-key.metadata.tile_size`, `sources[hero_0.png]`,
    /// `dependencies-strong[asset/2]`, …
    pub field: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

/// What part of a key document a [`Change`] is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// A source's bytes, or one added or removed.
    Source,
    /// The step key: format, codec, inputs, metadata.
    Parameter,
    /// A dependency's key.
    Dependency,
    /// The step, its version or the core version.
    Step,
    Other,
}

impl Change {
    /// What kind of change this is, for `status`.
    pub fn kind(&self) -> ChangeKind {
        let f = self.field.as_str();
        if f.starts_with("sources") {
            ChangeKind::Source
        } else if f.starts_with("step-key") {
            ChangeKind::Parameter
        } else if f.starts_with("dependencies") {
            ChangeKind::Dependency
        } else if f == "step-version" || f == "core-version" || f == "step" {
            ChangeKind::Step
        } else {
            ChangeKind::Other
        }
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<Value>| match v {
            None => "(none)".to_string(),
            Some(Value::String(s)) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
                format!("{}…", &s[..8])
            }
            Some(v) => v.to_string(),
        };
        write!(f, "{}: {} → {}", self.field, show(&self.old), show(&self.new))
    }
}

/// Field-by-field differences from `old` to `new`: the same struct that is hashed is compared,
/// so every change of a key shows up here.
pub fn diff(old: &KeyDoc, new: &KeyDoc) -> Vec<Change> {
    let mut out = Vec::new();
    let mut scalar = |field: &str, a: Value, b: Value| {
        if a != b {
            out.push(Change { field: field.into(), old: Some(a), new: Some(b) });
        }
    };
    scalar("core-version", json!(old.core_version), json!(new.core_version));
    scalar("step", json!(old.step), json!(new.step));
    scalar("step-version", json!(old.step_version), json!(new.step_version));
    diff_value("step-key", &old.step_key, &new.step_key, &mut out);
    let named = |list: &[SourceKey]| list.iter().map(|s| (s.name.clone(), json!(s.key))).collect::<Vec<_>>();
    diff_named("sources", &named(&old.sources), &named(&new.sources), &mut out);
    let deps = |d: &KeyDoc| {
        d.dependencies_weak
            .iter()
            .zip(d.dependencies_strong.iter().map(|s| json!(s)).chain(std::iter::repeat(Value::Null)))
            .map(|(w, s)| (w.clone(), s))
            .collect::<Vec<_>>()
    };
    diff_named("dependencies-strong", &deps(old), &deps(new), &mut out);
    out
}

fn diff_named(field: &str, old: &[(String, Value)], new: &[(String, Value)], out: &mut Vec<Change>) {
    for (name, v) in new {
        let before = old.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        if before.as_ref() != Some(v) {
            out.push(Change { field: format!("{field}[{name}]"), old: before, new: Some(v.clone()) });
        }
    }
    for (name, v) in old {
        if !new.iter().any(|(n, _)| n == name) {
            out.push(Change { field: format!("{field}[{name}]"), old: Some(v.clone()), new: None });
        }
    }
    let order = |l: &[(String, Value)]| l.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    let (a, b) = (order(old), order(new));
    let same_set = a.len() == b.len() && a.iter().all(|n| b.contains(n));
    if same_set && a != b {
        out.push(Change { field: format!("{field}(order)"), old: Some(json!(a)), new: Some(json!(b)) });
    }
}

fn diff_value(path: &str, a: &Value, b: &Value, out: &mut Vec<Change>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(va), Some(vb)) => diff_value(&p, va, vb, out),
                    (va, vb) => out.push(Change { field: p, old: va.cloned(), new: vb.cloned() }),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                diff_value(&format!("{path}[{i}]"), va, vb, out);
            }
        }
        _ if a != b => out.push(Change { field: path.into(), old: Some(a.clone()), new: Some(b.clone()) }),
        _ => {}
    }
}
