//! What every asset step shares: key from the key file (or computed by hand), the gate,
//! reading and re-keying the sources, the per-input cache, and the artifact layout
//! (`<out>.bin` payload, `<out>.json` table metadata, `<out>.rec` record).

use super::gate::{append_log, Gate, Outcome, Output};
use super::memo::{self, Memo};
use super::{dependency_keys, read_key_file, with_ext, Record};
use crate::cache::{self, Cache};
use crate::canon;
use crate::decl::AssetType;
use crate::diag::{fail, Code, Diagnostic};
use crate::keys::{self, ActionKey, KeyDoc, KeyFile, SourceKey};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where an asset step reads and writes: the arguments of `packer step <kind>`.
#[derive(Clone, Debug)]
pub struct AssetStepOptions {
    /// The key file gen wrote; without it the step computes its own key from `root`.
    pub key: Option<PathBuf>,
    /// The asset root directory (holding `asset.json` and the sources).
    pub root: PathBuf,
    /// Output prefix: the step writes `<out>.bin`, `<out>.json` and its record `<out>.rec`.
    pub out: PathBuf,
    /// The artifact cache, if any.
    pub cache: Option<PathBuf>,
    /// Project directory, used only without a key file (to resolve `@asset:` names).
    pub project: PathBuf,
}

impl AssetStepOptions {
    fn obj_dir(&self) -> PathBuf {
        self.out.parent().map(Path::to_path_buf).unwrap_or_default()
    }
}

/// What a conversion produces: the payload, the table metadata, and what it publishes for
/// dependants (e.g. which tile ids each PNG of a bank received).
pub struct Converted {
    pub payload: Vec<u8>,
    pub decoded_size: u64,
    pub metadata: Value,
    pub publish: Option<Value>,
}

/// The sources of a conversion, read when the conversion first asks for one.
///
/// A conversion reads only what it needs: a per-input result found in the memo or the cache
/// needs no source at all. A source that is read is hashed; if its bytes are not the ones the
/// key names (edited since gen), the conversion stops with [`SourceChanged`] and runs again
/// from sources all read first, under a key re-made from their real hashes, so that nothing is
/// ever built from or recorded under a key that does not describe its bytes.
pub struct Sources<'a> {
    root: &'a Path,
    /// The largest source this asset may read, and the asset's type (for the diagnostic).
    cap: u64,
    ty: Option<AssetType>,
    names: HashMap<&'a str, usize>,
    /// The hash each source must have (the key's).
    expected: &'a [SourceKey],
    read: Vec<OnceLock<Result<Vec<u8>, Unread>>>,
}

/// Why a source could not be used.
#[derive(Debug)]
enum Unread {
    /// Its bytes do not hash to the key's.
    Changed,
    Io(std::io::Error),
}

/// A source's bytes are not the ones its key names.
#[derive(Debug)]
pub struct SourceChanged;

impl std::fmt::Display for SourceChanged {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a source changed since gen")
    }
}

impl std::error::Error for SourceChanged {}

impl<'a> Sources<'a> {
    fn new(root: &'a Path, doc: &'a KeyDoc) -> Sources<'a> {
        let expected = doc.sources.as_slice();
        let names = expected.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
        let (cap, ty) = input_cap(doc);
        Sources { root, cap, ty, names, expected, read: expected.iter().map(|_| OnceLock::new()).collect() }
    }

    /// Sources already read (and hashed to `doc`'s).
    fn with_bytes(root: &'a Path, doc: &'a KeyDoc, bytes: Vec<Vec<u8>>) -> Sources<'a> {
        let s = Sources::new(root, doc);
        for (cell, b) in s.read.iter().zip(bytes) {
            let _ = cell.set(Ok(b));
        }
        s
    }

    fn get(&self, name: &str) -> anyhow::Result<&[u8]> {
        let Some(&i) = self.names.get(name) else { anyhow::bail!("source {name} is not in the key document") };
        let read = self.read[i].get_or_init(|| {
            let bytes = crate::fsutil::read_beneath(self.root, name, self.cap).map_err(Unread::Io)?;
            if crate::hash::hash_bytes(&bytes) != self.expected[i].key {
                return Err(Unread::Changed);
            }
            Ok(bytes)
        });
        match read {
            Ok(b) => Ok(b),
            Err(Unread::Changed) => Err(SourceChanged.into()),
            Err(Unread::Io(e)) => fail(input_error(&self.root.join(name), e, self.ty)),
        }
    }
}

/// The largest source the asset a key document describes may read, and the asset's type.
fn input_cap(doc: &KeyDoc) -> (u64, Option<AssetType>) {
    let ty = doc.step_key.get("format").and_then(Value::as_str).and_then(AssetType::of_format);
    (crate::decl::Limits::of_step_key(&doc.step_key).input, ty)
}

/// A source that cannot be read: PK013 when it resolves outside the root (a link swapped in
/// after gen), PK047 when it is larger than the asset's limit, else PK005.
fn input_error(path: &Path, e: &std::io::Error, ty: Option<AssetType>) -> Diagnostic {
    if e.kind() == std::io::ErrorKind::FileTooLarge {
        return too_large(path, &e.to_string(), ty);
    }
    if e.to_string().contains("outside its asset root") {
        return Diagnostic::error(
            Code::PK013,
            "input resolves outside its asset root (through a symlink): not read",
            "copy the file into the asset directory, or reference another asset with \"@asset:<name>\"",
        )
        .file(path.display());
    }
    Diagnostic::error(
        Code::PK005,
        format!("cannot read input: {e}"),
        "restore the file, or fix inputs in asset.json and run `packer gen` to re-plan",
    )
    .file(path.display())
}

/// PK047: an input or a payload over the asset's size limit (doc/reference.md, "Limits").
pub fn too_large(path: &Path, what: &str, ty: Option<AssetType>) -> Diagnostic {
    let fix = match ty {
        Some(ty) if crate::decl::Limits::raisable(ty) => format!(
            "raise output.metadata.max_bytes in asset.json (default {}, at most {}), or make it smaller",
            crate::decl::DEFAULT_MAX_BYTES,
            crate::decl::MAX_MAX_BYTES
        ),
        _ => format!("make the file smaller: an input may be at most {} bytes", crate::decl::MAX_INPUT_BYTES),
    };
    Diagnostic::error(Code::PK047, format!("too large: {what}"), fix).file(path.display())
}

/// Everything a conversion may use.
pub struct Ctx<'a> {
    pub key: &'a ActionKey,
    /// The asset root, for naming files in diagnostics.
    pub root: &'a Path,
    sources: Sources<'a>,
    /// Where dependency artifacts are (`<obj_dir>/<id>.bin`, `.json`).
    pub obj_dir: &'a Path,
    action: &'a str,
    /// Per-input entries: the artifact cache, else a cache private to the build directory.
    inputs: &'a Cache,
    memo: &'a Memo,
}

impl Ctx<'_> {
    /// The bytes of a source by name (read, and checked against the key, on first use).
    pub fn source(&self, name: &str) -> anyhow::Result<&[u8]> {
        self.sources.get(name)
    }

    /// A parameter of the key's effective `output.metadata`. Keys hold every parameter (decl
    /// materializes the type's defaults), so a missing one is a damaged key, never a default.
    pub fn param(&self, name: &str) -> anyhow::Result<&Value> {
        self.key.doc.step_key["metadata"].get(name).ok_or_else(|| {
            anyhow::anyhow!(
                "the key document has no output.metadata.{name}: a damaged key file (`packer gen` rewrites it)"
            )
        })
    }

    /// The names of the sources, in key order.
    pub fn source_names(&self) -> impl Iterator<Item = &str> {
        self.key.doc.sources.iter().map(|s| s.name.as_str())
    }

    /// The parsed `.json` of the dependency action `asset/<id>`.
    pub fn dependency_meta(&self, weak_name: &str) -> anyhow::Result<Value> {
        let id = weak_name.strip_prefix("asset/").unwrap_or(weak_name);
        let path = with_ext(&self.obj_dir.join(id), "json");
        let bytes = crate::fsutil::read_regular(&path).or_else(|e| {
            fail(
                Diagnostic::error(
                    Code::PK021,
                    format!("cannot read the dependency's artifact: {e}"),
                    "build the dependency first (`ninja` does)",
                )
                .file(path.display()),
            )
        })?;
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// Per-input work, cached: `doc` describes everything the result depends on (one source
    /// and the parameters that apply to it). The memo of the last build is asked first, then
    /// the cache; on a miss `build` runs (reading the source through [`Ctx::source`]), its
    /// bytes are stored, and the run is logged as a conversion of `input`.
    pub fn per_input(
        &self,
        input: &str,
        doc: KeyDoc,
        build: impl FnOnce() -> anyhow::Result<Vec<u8>>,
    ) -> anyhow::Result<Vec<u8>> {
        let memo_key = memo::key_of(&doc);
        if let Some(b) = self.memo.get(&memo_key) {
            return Ok(b);
        }
        let key = doc.keyed();
        if let Some((_, mut blobs)) = self.inputs.get(cache::Kind::Ac, &key.strong) {
            if blobs.len() == 1 {
                let b = blobs.remove(0).into_bytes()?;
                self.memo.put(memo_key, b.clone());
                return Ok(b);
            }
        }
        let bytes = build()?;
        let rec = Record { key, outputs: [("out".to_string(), super::Digest::of(&bytes))].into(), how: None };
        if let Err(e) = self.inputs.put(&rec, std::slice::from_ref(&bytes)) {
            eprintln!("packer: warning: could not cache {input}: {e:#}");
        }
        let line = serde_json::json!({"action": self.action, "input": input, "outcome": "built", "worker": crate::par::worker()});
        append_log(self.obj_dir, &line);
        self.memo.put(memo_key, bytes.clone());
        Ok(bytes)
    }

    /// Like [`Ctx::per_input`] for cheap facts about an input (what a PNG is, before deciding
    /// how to decode it): remembered in the memo only, neither cached nor logged.
    pub fn probe(&self, doc: KeyDoc, build: impl FnOnce() -> anyhow::Result<Vec<u8>>) -> anyhow::Result<Vec<u8>> {
        let memo_key = memo::key_of(&doc);
        if let Some(b) = self.memo.get(&memo_key) {
            return Ok(b);
        }
        let bytes = build()?;
        self.memo.put(memo_key, bytes.clone());
        Ok(bytes)
    }

    /// The key document of per-input work on source `name` of this step, with the hash the
    /// key names for it (the bytes are read only if the work has to be done).
    pub fn input_doc(&self, step: &str, version: &str, name: &str, params: Value) -> anyhow::Result<KeyDoc> {
        let Some(&i) = self.sources.names.get(name) else { anyhow::bail!("source {name} is not in the key document") };
        let key = self.sources.expected[i].key.clone();
        Ok(KeyDoc {
            core_version: keys::CORE_VERSION,
            step: step.into(),
            step_version: version.into(),
            step_key: params,
            sources: vec![SourceKey { name: name.into(), key }],
            dependencies_strong: Vec::new(),
            dependencies_weak: Vec::new(),
        })
    }
}

/// The gate of the asset action whose artifact is `<out>.bin` and `<out>.json` (record
/// `<out>.rec`), with `out` = `<obj_dir>/<id>`.
pub fn artifact_gate(out: &Path, cache: Option<Cache>, mode: keys::Mode) -> Gate {
    let obj_dir = out.parent().map(Path::to_path_buf).unwrap_or_default();
    let id = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Gate {
        action: keys::action_name_str(&id),
        record: with_ext(out, "rec"),
        outputs: vec![
            Output { label: "payload", path: with_ext(out, "bin") },
            Output { label: "meta", path: with_ext(out, "json") },
        ],
        cache,
        mode,
        obj_dir,
        restore_keeps_mtime: true,
    }
}

/// Runs one asset step through its gate. `own_key` computes the key when no key file is
/// given; `convert` does the real work.
pub fn run_asset_step(
    o: &AssetStepOptions,
    own_key: impl FnOnce(&AssetStepOptions) -> anyhow::Result<KeyFile>,
    convert: impl Fn(&Ctx) -> anyhow::Result<Converted>,
) -> anyhow::Result<Outcome> {
    let obj_dir = o.obj_dir();
    let id = o.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Locked before the key file is read: a step that waited (behind gen, or an orphan of a
    // killed Ninja) builds the key that is current when it runs, never the one it started with.
    let _locks = super::lock_action(&obj_dir, &id, o.key.is_some())?;
    let kf = match o.key.as_deref().map(read_key_file) {
        Some(Ok(kf)) => kf,
        Some(Err(e)) => {
            // A damaged gate must not stop the build: compute the key as a step run by hand
            // does. The next gen rewrites the key file.
            eprintln!("{e:#}\npacker: computing the key from the declaration instead");
            own_key(o)?
        }
        None => own_key(o)?,
    };
    // The dependency keys recorded beside the artifacts this step will read. When they are
    // the ones the key file names (strict mode, dependencies built as planned, or none at
    // all) the key file's keys stand; else the document is keyed again.
    let deps = dependency_keys(&obj_dir, &kf.keyed.doc.dependencies_weak, o.cache.as_deref())?;
    let key = if deps == kf.keyed.doc.dependencies_strong {
        kf.keyed
    } else {
        KeyDoc { dependencies_strong: deps, ..kf.keyed.doc }.keyed()
    };
    let action = keys::action_name_str(&id);
    let cache = o.cache.as_ref().map(Cache::new);
    let gate = artifact_gate(&o.out, cache.clone(), kf.mode);
    gate.run(key, |key| {
        let inputs = cache.unwrap_or_else(|| Cache::new(obj_dir.join("inputs")));
        let memo_path = with_ext(&o.out, "memo");
        let memo = Memo::load(&memo_path);
        let run = |key: &ActionKey, sources: Sources| {
            let ctx =
                Ctx { key, root: &o.root, sources, obj_dir: &obj_dir, action: &action, inputs: &inputs, memo: &memo };
            convert(&ctx)
        };
        // Sources read on demand; if one changed since gen, again from sources all read first.
        let (key, c) = match run(&key, Sources::new(&o.root, &key.doc)) {
            Err(e) if e.is::<SourceChanged>() => {
                let (key, bytes) = read_sources(&o.root, key)?;
                let c = run(&key, Sources::with_bytes(&o.root, &key.doc, bytes))?;
                (key, c)
            }
            r => (key, r?),
        };
        memo.save(&memo_path);
        let mut meta = serde_json::json!({"decoded_size": c.decoded_size, "metadata": c.metadata});
        if let Some(p) = c.publish {
            meta["publish"] = p;
        }
        let meta = canon::to_vec(&meta)?;
        Ok((key, vec![c.payload, meta]))
    })
}

/// Reads every source the key names and re-keys the document with the hashes of the bytes
/// actually read, so that a source edited after gen is never recorded under the old key.
fn read_sources(root: &Path, key: ActionKey) -> anyhow::Result<(ActionKey, Vec<Vec<u8>>)> {
    // A bank of a thousand sprites is a thousand reads: on every core.
    let (cap, ty) = input_cap(&key.doc);
    let read = crate::par::parallel_map(&key.doc.sources, |s| {
        let path = root.join(&s.name);
        match crate::fsutil::read_beneath(root, &s.name, cap) {
            Ok(bytes) => Ok((crate::hash::hash_bytes(&bytes), bytes)),
            Err(e) => fail(input_error(&path, &e, ty)),
        }
    })?;
    let mut doc = key.doc.clone();
    let mut sources = Vec::with_capacity(doc.sources.len());
    for (s, (hash, bytes)) in doc.sources.iter_mut().zip(read) {
        s.key = hash;
        sources.push(bytes);
    }
    let key = if doc == key.doc { key } else { doc.keyed() };
    Ok((key, sources))
}

/// The key of an asset computed from its declaration, for a step run by hand (or whose key
/// file is damaged): hashes the declared inputs and resolves `@asset:` references.
pub fn own_key(o: &AssetStepOptions, ty: crate::decl::AssetType, step: &str, version: &str) -> anyhow::Result<KeyFile> {
    let decl = read_declaration(&o.root)?;
    if decl.ty != ty {
        return fail(
            Diagnostic::error(
                Code::PK020,
                format!("asset is a `{}`, not a `{}`", decl.ty.name(), ty.name()),
                "run the `packer step` kind of its type (see `packer step --help`)",
            )
            .file(o.root.display())
            .asset(&decl.name),
        );
    }
    let sources = hash_inputs(&o.root, &decl)?;
    let deps = resolve_refs(&o.project, &decl)?;
    let keyed = keys::asset_doc(step, version, &decl, sources, &deps).keyed();
    Ok(KeyFile::new(keys::Mode::resolve(false, false), &keyed))
}

/// Reads and parses `<root>/asset.json` for a step run by hand, its patterns expanded.
pub fn read_declaration(root: &Path) -> anyhow::Result<crate::decl::Declaration> {
    let file = root.join(crate::decl::FILE);
    let mut decl = crate::decl::read(&file, "pass the asset root directory with --root")?;
    let (_, found) = decl.expand(root, &file.display().to_string());
    if found.iter().any(|d| d.blocking) {
        return Err(crate::diag::Blocked(found).into());
    }
    found.iter().for_each(|d| eprintln!("{d}"));
    Ok(decl)
}

/// Hashes the input files of a declaration, for a step run by hand.
pub fn hash_inputs(root: &Path, decl: &crate::decl::Declaration) -> anyhow::Result<Vec<keys::SourceKey>> {
    let mut out = Vec::new();
    let limits = crate::decl::Limits::of(decl.ty, &decl.metadata);
    for input in decl.inputs.values().flatten() {
        if let crate::decl::InputRef::File(p) = input {
            let path = p.under(root);
            match crate::fsutil::read_beneath(root, p.as_str(), limits.input).map(|b| crate::hash::hash_bytes(&b)) {
                Ok(key) => out.push(keys::SourceKey { name: p.to_string(), key }),
                Err(e) => return fail(input_error(&path, &e, Some(decl.ty)).asset(&decl.name)),
            }
        }
    }
    Ok(out)
}

/// The registered ids of the assets a declaration references, for a step run by hand.
pub fn resolve_refs(project: &Path, decl: &crate::decl::Declaration) -> anyhow::Result<Vec<(u64, String)>> {
    let refs: Vec<&str> = decl
        .inputs
        .values()
        .flatten()
        .filter_map(|i| match i {
            crate::decl::InputRef::Asset(n) => Some(n.as_str()),
            crate::decl::InputRef::File(_) | crate::decl::InputRef::Pattern(_) => None,
        })
        .collect();
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    let ws = crate::workspace::Workspace::load(project)?;
    refs.iter()
        .map(|n| match ws.assets.iter().find(|a| a.decl.name == *n) {
            Some(a) => Ok((a.id, String::new())),
            None => fail(
                Diagnostic::error(
                    Code::PK017,
                    format!("`@asset:{n}` names no registered asset"),
                    "register that asset, or run the step from the project directory (-C)",
                )
                .asset(&decl.name),
            ),
        })
        .collect()
}
