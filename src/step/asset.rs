//! What every asset step shares: key from the key file (or computed by hand), the gate,
//! reading and re-keying the sources, the per-input cache, and the artifact layout
//! (`<out>.bin` payload, `<out>.json` table metadata, `<out>.rec` record).

use super::gate::{append_log, Gate, Outcome, Output};
use super::{dependency_keys, read_key_file, with_ext, Record};
use crate::cache::{self, Cache};
use crate::canon;
use crate::diag::{fail, Code, Diagnostic};
use crate::keys::{self, KeyDoc, KeyFile, Keyed, SourceKey};
use serde_json::Value;
use std::path::{Path, PathBuf};

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

/// The sources a conversion reads, by name (relative to the root), with their bytes.
pub type Sources = Vec<(String, Vec<u8>)>;

/// Everything a conversion may use.
pub struct Ctx<'a> {
    pub key: &'a Keyed,
    /// The asset root, for naming files in diagnostics.
    pub root: &'a Path,
    pub sources: &'a Sources,
    /// Where dependency artifacts are (`<obj_dir>/<id>.bin`, `.json`).
    pub obj_dir: &'a Path,
    action: String,
    /// Per-input entries: the artifact cache, else a cache private to the build directory.
    inputs: Cache,
}

impl Ctx<'_> {
    /// The bytes of a source by name.
    pub fn source(&self, name: &str) -> anyhow::Result<&[u8]> {
        match self.sources.iter().find(|(n, _)| n == name) {
            Some((_, b)) => Ok(b),
            None => anyhow::bail!("source {name} is not in the key document"),
        }
    }

    /// The parsed `.json` of the dependency action `asset/<id>`.
    pub fn dependency_meta(&self, weak_name: &str) -> anyhow::Result<Value> {
        let id = weak_name.strip_prefix("asset/").unwrap_or(weak_name);
        let path = with_ext(&self.obj_dir.join(id), "json");
        let bytes = std::fs::read(&path).or_else(|e| {
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
    /// and the parameters that apply to it). On a hit the stored bytes are returned; on a miss
    /// `build` runs, its bytes are stored, and the run is logged as a conversion of `input`.
    pub fn per_input(
        &self,
        input: &str,
        doc: KeyDoc,
        build: impl FnOnce() -> anyhow::Result<Vec<u8>>,
    ) -> anyhow::Result<Vec<u8>> {
        let key = doc.keyed();
        if let Some((_, mut blobs)) = self.inputs.get(cache::Kind::Ac, &key.strong) {
            if blobs.len() == 1 {
                return Ok(blobs.remove(0));
            }
        }
        let bytes = build()?;
        let rec =
            Record { key, outputs: [("out".to_string(), super::Digest::of(&bytes))].into(), how: None, previous: None };
        if let Err(e) = self.inputs.put(&rec, std::slice::from_ref(&bytes)) {
            eprintln!("packer: warning: could not cache {input}: {e:#}");
        }
        append_log(self.obj_dir, &serde_json::json!({"action": self.action, "input": input, "outcome": "built"}));
        Ok(bytes)
    }

    /// The key document of per-input work on source `name` of this step.
    pub fn input_doc(&self, step: &str, version: &str, name: &str, params: Value) -> anyhow::Result<KeyDoc> {
        let key = keys::hash_bytes(self.source(name)?);
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
    }
}

/// Runs one asset step through its gate. `own_key` computes the key when no key file is
/// given; `convert` does the real work.
pub fn run_asset_step(
    o: &AssetStepOptions,
    own_key: impl FnOnce(&AssetStepOptions) -> anyhow::Result<KeyFile>,
    convert: impl FnOnce(&Ctx) -> anyhow::Result<Converted>,
) -> anyhow::Result<Outcome> {
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
    let obj_dir = o.obj_dir();
    let mut doc = kf.keyed.doc;
    doc.dependencies_strong = dependency_keys(&obj_dir, &doc.dependencies_weak)?;
    let id = o.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let action = keys::action_name_str(&id);
    let cache = o.cache.as_ref().map(Cache::new);
    let gate = artifact_gate(&o.out, cache.clone(), kf.mode);
    gate.run(doc.keyed(), |key| {
        let (key, sources) = read_sources(&o.root, key)?;
        let inputs = cache.unwrap_or_else(|| Cache::new(obj_dir.join("inputs")));
        let ctx = Ctx { key: &key, root: &o.root, sources: &sources, obj_dir: &obj_dir, action, inputs };
        let c = convert(&ctx)?;
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
fn read_sources(root: &Path, key: Keyed) -> anyhow::Result<(Keyed, Sources)> {
    // A bank of a thousand sprites is a thousand reads: on every core.
    let read = super::parallel_map(&key.doc.sources, |s| {
        let path = root.join(&s.name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok((keys::hash_bytes(&bytes), bytes)),
            Err(e) => fail(
                Diagnostic::error(
                    Code::PK005,
                    format!("cannot read input: {e}"),
                    "restore the file, or run `packer gen` to re-plan",
                )
                .file(path.display()),
            ),
        }
    })?;
    let mut doc = key.doc.clone();
    let mut sources = Vec::with_capacity(doc.sources.len());
    for (s, (hash, bytes)) in doc.sources.iter_mut().zip(read) {
        s.key = hash;
        sources.push((s.name.clone(), bytes));
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

/// Reads and parses `<root>/asset.json` for a step run by hand.
pub fn read_declaration(root: &Path) -> anyhow::Result<crate::decl::Declaration> {
    crate::decl::read(&root.join(crate::decl::FILE), "pass the asset root directory with --root")
}

/// Hashes the input files of a declaration, for a step run by hand.
pub fn hash_inputs(root: &Path, decl: &crate::decl::Declaration) -> anyhow::Result<Vec<keys::SourceKey>> {
    let mut out = Vec::new();
    for input in decl.inputs.values().flatten() {
        if let crate::decl::InputRef::File(p) = input {
            let path = p.under(root);
            match keys::hash_file(&path) {
                Ok(key) => out.push(keys::SourceKey { name: p.to_string(), key }),
                Err(e) => {
                    return fail(
                        Diagnostic::error(
                            Code::PK005,
                            format!("cannot read input: {e}"),
                            "create the file or fix inputs in asset.json",
                        )
                        .file(path.display())
                        .asset(&decl.name),
                    )
                }
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
            crate::decl::InputRef::File(_) => None,
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
