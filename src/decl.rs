//! Asset declarations (`asset.json`, SPEC §2.2): parsing, validation and effective defaults.

use crate::diag::{Code, Diagnostic};
use crate::relpath::{RelPath, RelPathError};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The file name that marks an asset root.
pub const FILE: &str = crate::layout::DECLARATION;

pub use crate::types::{AssetType, InputRef, Limits, DEFAULT_MAX_BYTES, MAX_INPUT_BYTES, MAX_MAX_BYTES};

/// `max_bytes`, when given, is a whole number in `1..=MAX_MAX_BYTES`.
fn max_bytes_ok(metadata: &Map<String, Value>) -> bool {
    metadata.get("max_bytes").is_none_or(|v| v.as_u64().is_some_and(|n| (1..=MAX_MAX_BYTES).contains(&n)))
}

/// A parsed, validated declaration with effective defaults materialized.
#[derive(Clone, Debug)]
pub struct Declaration {
    pub asset_uuid: String,
    pub name: String,
    pub ty: AssetType,
    /// Role → inputs in declared order; roles in byte order.
    pub inputs: BTreeMap<String, Vec<InputRef>>,
    pub codec: String,
    /// `output.metadata` with every default filled in.
    pub metadata: Map<String, Value>,
    pub preload: bool,
}

impl Declaration {
    /// Whether any input entry is a pattern (still to be expanded).
    pub fn has_patterns(&self) -> bool {
        self.inputs.values().flatten().any(|i| matches!(i, InputRef::Pattern(_)))
    }

    /// Replaces every pattern by the files it matches below `root` (the asset root on disk),
    /// in byte order, leaving out files an earlier entry of the same role already names.
    /// Returns the directories whose listing decided the result (relative to the root;
    /// `None` is the root itself) and the findings about `file` (this asset.json): a pattern
    /// that matches nothing, and the checks that need the expanded list.
    pub fn expand(&mut self, root: &std::path::Path, file: &str) -> (Vec<Option<RelPath>>, Vec<Diagnostic>) {
        let mut p = Parser { file, diags: Vec::new() };
        if !self.has_patterns() {
            return (Vec::new(), p.diags);
        }
        let mut walked = Vec::new();
        for (role, list) in self.inputs.iter_mut() {
            let mut out: Vec<InputRef> = Vec::with_capacity(list.len());
            for entry in list.drain(..) {
                let InputRef::Pattern(text) = &entry else {
                    if !out.contains(&entry) {
                        out.push(entry);
                    }
                    continue;
                };
                let Ok(pattern) = crate::pattern::Pattern::parse(text) else { continue };
                let found = pattern.expand(root);
                walked.extend(found.walked);
                if found.files.is_empty() {
                    p.error(
                        Code::PK027,
                        format!("pattern `{text}` in inputs.{role} matches no file"),
                        format!("add files matching it below {}, or change the pattern", root.display()),
                    );
                }
                for f in found.files {
                    let f = InputRef::File(f);
                    if !out.contains(&f) {
                        out.push(f);
                    }
                }
            }
            *list = out;
        }
        walked.sort();
        walked.dedup();
        if !p.diags.iter().any(|d| d.blocking) {
            p.shape(self);
        }
        (walked, p.diags)
    }

    /// The inputs as declared: role → list of strings (`@asset:` references included).
    pub fn inputs_json(&self) -> Value {
        let m: Map<String, Value> = self
            .inputs
            .iter()
            .map(|(role, list)| (role.clone(), list.iter().map(|i| Value::String(i.declared())).collect()))
            .collect();
        Value::Object(m)
    }
}

const TOP_FIELDS: &[&str] = &["schema_version", "asset_uuid", "name", "type", "inputs", "output", "preload", "build"];

/// Parses `asset.json` bytes. Returns the declaration when nothing blocks, and every finding
/// (blocking or not) about `file`.
pub fn parse(bytes: &[u8], file: &str) -> (Option<Declaration>, Vec<Diagnostic>) {
    let mut p = Parser { file, diags: Vec::new() };
    let decl = p.declaration(bytes);
    let blocked = p.diags.iter().any(|d| d.blocking);
    (decl.filter(|_| !blocked), p.diags)
}

struct Parser<'a> {
    file: &'a str,
    diags: Vec<Diagnostic>,
}

impl Parser<'_> {
    fn error(&mut self, code: Code, msg: impl Into<String>, fix: impl Into<String>) {
        self.diags.push(Diagnostic::error(code, msg, fix).file(self.file));
    }

    fn unknown_fields(&mut self, obj: &Map<String, Value>, known: &[&str], what: &str) {
        for key in obj.keys().filter(|k| !known.contains(&k.as_str())) {
            self.diags.push(
                Diagnostic::warning(
                    Code::PK004,
                    format!("unknown field `{key}` in {what}"),
                    format!("remove `{key}` or check its spelling; known fields: {}", known.join(", ")),
                )
                .file(self.file),
            );
        }
    }

    fn schema(&mut self, msg: impl Into<String>) {
        self.error(Code::PK003, msg, "fix asset.json against the declaration schema (doc/design.md)");
    }

    fn string(&mut self, obj: &Map<String, Value>, key: &str, what: &str) -> Option<String> {
        match obj.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => {
                self.schema(format!("`{what}` must be a non-empty string"));
                None
            }
            None => {
                self.schema(format!("missing required field `{what}`"));
                None
            }
        }
    }

    fn declaration(&mut self, bytes: &[u8]) -> Option<Declaration> {
        let top = match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                self.schema("asset.json must hold a JSON object");
                return None;
            }
            Err(e) => {
                self.schema(format!("asset.json is not valid JSON: {e}"));
                return None;
            }
        };
        self.unknown_fields(&top, TOP_FIELDS, "asset.json");
        match top.get("schema_version") {
            Some(v) if v.as_u64() == Some(1) => {}
            Some(v) => self.schema(format!("schema_version {v} is not supported (expected 1)")),
            None => self.schema("missing required field `schema_version`"),
        }
        let uuid = self.string(&top, "asset_uuid", "asset_uuid");
        let name = self.string(&top, "name", "name");
        let ty = self.string(&top, "type", "type").and_then(|t| {
            let ty = AssetType::parse(&t);
            if ty.is_none() {
                let known: Vec<_> = AssetType::ALL.iter().map(|t| t.name()).collect();
                self.error(
                    Code::PK010,
                    format!("unknown asset type `{t}`{}", crate::suggest::did_you_mean(&t, known.iter().copied())),
                    format!("use one of: {}", known.join(", ")),
                );
            }
            ty
        });
        let inputs = self.inputs(top.get("inputs"), ty);
        let (codec, metadata) = self.output(top.get("output"), ty)?;
        let preload = self.preload(top.get("preload"));
        if let Some(b) = top.get("build") {
            if !b.is_object() {
                self.schema("`build` must be an object of hints");
            }
        }
        let decl = Declaration {
            asset_uuid: uuid?,
            name: name?,
            ty: ty?,
            inputs: inputs?,
            codec,
            metadata,
            preload: preload?,
        };
        // Shape errors would only repeat an earlier one (an input dropped as invalid).
        if !self.diags.iter().any(|d| d.blocking) {
            self.shape(&decl);
        }
        Some(decl)
    }

    fn inputs(&mut self, v: Option<&Value>, ty: Option<AssetType>) -> Option<BTreeMap<String, Vec<InputRef>>> {
        let Some(Value::Object(roles)) = v else {
            self.schema("`inputs` must be an object mapping role → list of paths");
            return None;
        };
        let mut out = BTreeMap::new();
        for (role, list) in roles {
            if let Some(ty) = ty {
                if ty.role(role).is_none() {
                    self.error(
                        Code::PK015,
                        format!("input role `{role}` is not used by type `{}`", ty.name()),
                        format!("use the roles {}", ty.roles().collect::<Vec<_>>().join(", ")),
                    );
                }
            }
            let Some(list) = list.as_array() else {
                self.schema(format!("inputs.{role} must be a list of paths"));
                continue;
            };
            let mut refs = Vec::new();
            for item in list {
                let Some(s) = item.as_str() else {
                    self.schema(format!("inputs.{role} must contain strings only"));
                    continue;
                };
                if let Some(r) = self.input_ref(s) {
                    refs.push(r);
                }
            }
            out.insert(role.clone(), refs);
        }
        Some(out)
    }

    fn input_ref(&mut self, s: &str) -> Option<InputRef> {
        if let Some(name) = s.strip_prefix("@asset:") {
            return Some(InputRef::Asset(name.to_string()));
        }
        if crate::pattern::is_pattern(s) {
            return match crate::pattern::Pattern::parse(s) {
                Ok(_) => Some(InputRef::Pattern(s.to_string())),
                Err(why) => {
                    self.error(
                        Code::PK027,
                        format!("input pattern `{s}` is malformed: {why}"),
                        "write a pattern relative to the asset root, e.g. \"*.png\" or \"**/*.wav\" (a literal `[` is `[[]`)",
                    );
                    None
                }
            };
        }
        match RelPath::parse(s) {
            Ok(p) => Some(InputRef::File(p)),
            Err(RelPathError::Empty) => {
                self.schema("an input path is empty");
                None
            }
            Err(e) => {
                self.error(
                    Code::PK013,
                    format!("input `{s}` escapes the asset root: {e}"),
                    "keep inputs inside the asset directory, or reference another asset with \"@asset:<name>\"",
                );
                None
            }
        }
    }

    fn output(&mut self, v: Option<&Value>, ty: Option<AssetType>) -> Option<(String, Map<String, Value>)> {
        let Some(Value::Object(out)) = v else {
            self.schema("`output` must be an object with `format` and `codec`");
            return None;
        };
        self.unknown_fields(out, &["format", "codec", "metadata"], "output");
        let format = self.string(out, "format", "output.format");
        let codec = self.string(out, "codec", "output.codec");
        if let (Some(f), Some(ty)) = (&format, ty) {
            if f != ty.format() {
                self.error(
                    Code::PK011,
                    format!("output.format `{f}` is not supported for type `{}`", ty.name()),
                    format!("set output.format to \"{}\"", ty.format()),
                );
            }
        }
        if let Some(c) = &codec {
            if c != "NONE" {
                self.error(
                    Code::PK012,
                    format!("output.codec `{c}` is not supported in v1"),
                    "set output.codec to \"NONE\"",
                );
            }
        }
        let metadata = match out.get("metadata") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                self.schema("output.metadata must be an object");
                Map::new()
            }
        };
        let metadata = self.effective_metadata(ty?, metadata);
        Some((codec?, metadata))
    }

    /// Fills in defaults so that an omitted parameter and its explicit default give one key.
    fn effective_metadata(&mut self, ty: AssetType, mut m: Map<String, Value>) -> Map<String, Value> {
        let defaults = ty.defaults();
        // max_bytes is kept only when it differs from the default, so that keys made before
        // it existed (and a declaration that spells the default out) stay the same.
        let raisable = Limits::raisable(ty);
        let mut known: Vec<&str> = defaults.keys().map(String::as_str).collect();
        if raisable {
            known.push("max_bytes");
        }
        self.unknown_fields(&m, &known, "output.metadata");
        if m.get("max_bytes").and_then(Value::as_u64) == Some(DEFAULT_MAX_BYTES) {
            m.remove("max_bytes");
        }
        m.retain(|k, _| defaults.contains_key(k) || (raisable && k == "max_bytes"));
        for (k, v) in defaults {
            m.entry(k).or_insert(v);
        }
        m
    }

    /// The inputs and parameters each type needs (SPEC §3, the type's `check`): counts, file
    /// kinds, ranges. Before expansion a pattern stands for its files; [`Declaration::expand`]
    /// checks again.
    fn shape(&mut self, d: &Declaration) {
        if Limits::raisable(d.ty) && !max_bytes_ok(&d.metadata) {
            self.error(
                Code::PK024,
                format!("max_bytes must be a whole number of bytes from 1 to {MAX_MAX_BYTES}"),
                format!(
                    "set output.metadata.max_bytes, e.g. 33554432 for 32 MiB (default {DEFAULT_MAX_BYTES}, 16 MiB)"
                ),
            );
        }
        let mut found = crate::types::Findings::default();
        (d.ty.info().check)(&crate::types::Shape { inputs: &d.inputs, metadata: &d.metadata }, &mut found);
        self.diags.extend(found.diags.into_iter().map(|f| f.file(self.file)));
    }

    fn preload(&mut self, v: Option<&Value>) -> Option<bool> {
        match v {
            Some(Value::Object(p)) => {
                self.unknown_fields(p, &["enabled"], "preload");
                match p.get("enabled") {
                    Some(Value::Bool(b)) => Some(*b),
                    _ => {
                        self.schema("preload.enabled must be true or false");
                        None
                    }
                }
            }
            _ => {
                self.schema("`preload` must be an object like {\"enabled\": false}");
                None
            }
        }
    }
}

/// Reads and parses one `asset.json`: warnings are printed, blocking findings are the error;
/// `fix` says what to do when the file cannot be read.
pub fn read(file: &std::path::Path, fix: &str) -> anyhow::Result<Declaration> {
    let shown = file.display().to_string();
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            return crate::diag::fail(
                Diagnostic::error(Code::PK002, format!("cannot read asset.json: {e}"), fix).file(&shown),
            )
        }
    };
    let (decl, diags) = parse(&bytes, &shown);
    match decl {
        Some(d) => {
            diags.iter().for_each(|d| eprintln!("{d}"));
            Ok(d)
        }
        None => Err(crate::diag::Blocked(diags).into()),
    }
}

/// The `asset.json` text `packer add` writes for a new asset.
/// `metadata` (from `--set`) goes into `output.metadata` when not empty.
pub fn render_new(
    uuid: &str,
    name: &str,
    ty: AssetType,
    inputs: &BTreeMap<String, Vec<String>>,
    metadata: &Map<String, Value>,
) -> Vec<u8> {
    let mut output = json!({"format": ty.format(), "codec": "NONE"});
    if !metadata.is_empty() {
        output["metadata"] = Value::Object(metadata.clone());
    }
    let doc = json!({
        "schema_version": 1,
        "asset_uuid": uuid,
        "name": name,
        "type": ty.name(),
        "inputs": inputs,
        "output": output,
        "preload": {"enabled": false},
    });
    let mut bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(src: &str) -> Vec<&'static str> {
        parse(src.as_bytes(), "x/asset.json").1.iter().map(|d| d.code.as_str()).collect()
    }

    const GOOD: &str = r#"{"schema_version":1,"asset_uuid":"u","name":"n","type":"blob",
        "inputs":{"source":["a.bin"]},"output":{"format":"BLOB/raw_v1","codec":"NONE"},
        "preload":{"enabled":true}}"#;

    #[test]
    fn good_declaration_parses() {
        let (d, diags) = parse(GOOD.as_bytes(), "f");
        assert!(diags.is_empty(), "{diags:?}");
        let d = d.unwrap();
        assert_eq!(d.ty, AssetType::BLOB);
        assert!(d.preload);
        assert_eq!(d.inputs["source"], vec![InputRef::File(RelPath::parse("a.bin").unwrap())]);
    }

    #[test]
    fn each_problem_has_its_code() {
        assert_eq!(codes("{not json"), ["PK003"]);
        assert_eq!(codes(&GOOD.replace("\"blob\"", "\"video\"")), ["PK010"]);
        assert_eq!(codes(&GOOD.replace("\"NONE\"", "\"LZ4\"")), ["PK012"]);
        assert_eq!(codes(&GOOD.replace("BLOB/raw_v1", "BLOB/raw_v2")), ["PK011"]);
        assert_eq!(codes(&GOOD.replace("a.bin", "../a.bin")), ["PK013"]);
        assert_eq!(codes(&GOOD.replace("a.bin", "/etc/passwd")), ["PK013"]);
        assert_eq!(codes(&GOOD.replace("\"name\":\"n\",", "\"name\":\"n\",\"colour\":1,")), ["PK004"]);
    }

    #[test]
    fn defaults_are_materialized() {
        let explicit = GOOD
            .replace("blob", "tile_bank")
            .replace("BLOB/raw_v1", "TILES/indexed_v1")
            .replace("\"source\"", "\"tiles\"")
            .replace("\"codec\":\"NONE\"", "\"codec\":\"NONE\",\"metadata\":{\"tile_size\":16}");
        let implicit = GOOD
            .replace("blob", "tile_bank")
            .replace("BLOB/raw_v1", "TILES/indexed_v1")
            .replace("\"source\"", "\"tiles\"");
        let a = parse(explicit.as_bytes(), "f").0.unwrap();
        let b = parse(implicit.as_bytes(), "f").0.unwrap();
        assert_eq!(a.metadata, b.metadata);
    }
}
