//! `packer step <kind>`: the commands Ninja runs, and the gate every one of them goes through
//! (SPEC §6): up to date → exit at once, touching no output; in the action cache → restore;
//! else build, write only the outputs whose bytes differ, record the key document actually
//! built from, and store the result in the cache.

pub mod blob;
pub mod pack;

use crate::cache::{self, Cache};
use crate::canon;
use crate::diag::{fail, Code, Diagnostic};
use crate::fsutil;
use crate::keys::{self, KeyDoc, KeyFile, Keyed, Mode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Size and BLAKE3 of one output, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    pub size: u64,
    pub blake3: String,
}

/// How the outputs a record describes came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum How {
    Built,
    /// Restored from the action cache by strong key.
    Restored,
    /// Restored by weak key (non-strict): built against other dependency versions.
    RestoredWeak,
}

/// What a step records beside its outputs (and, without the local fields, in the cache).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub key: Keyed,
    /// Output label → digest.
    pub outputs: BTreeMap<String, Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub how: Option<How>,
    /// The key document of the build before this one, for `packer explain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<KeyDoc>,
}

impl Record {
    /// The record as the cache stores it: key and outputs only.
    pub fn entry(&self) -> Record {
        Record { key: self.key.clone(), outputs: self.outputs.clone(), how: None, previous: None }
    }
}

/// One output of a step: a label used in the record and its path.
pub struct Output {
    pub label: &'static str,
    pub path: PathBuf,
}

/// What one step run did; appended to `<obj-dir>/steps.log` as a JSON line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    UpToDate,
    /// Non-strict: the local artifact matches the weak key.
    UpToDateWeak,
    Restored,
    RestoredWeak,
    Built,
}

/// The log of step runs in an object directory.
pub fn log_path(obj_dir: &Path) -> PathBuf {
    obj_dir.join("steps.log")
}

/// One action's gate: where its record and outputs are, which cache and mode apply.
pub struct Gate {
    /// Stable action name (`asset/<id>` or `pack`), for the log.
    pub action: String,
    pub record: PathBuf,
    pub outputs: Vec<Output>,
    pub cache: Option<Cache>,
    pub mode: Mode,
    pub obj_dir: PathBuf,
}

impl Gate {
    /// Runs the gate for `key`. `build` gets the key and returns the key it actually built
    /// from (re-keyed if a source changed since gen) and the output bytes in `outputs` order.
    pub fn run(
        &self,
        key: Keyed,
        build: impl FnOnce(Keyed) -> anyhow::Result<(Keyed, Vec<Vec<u8>>)>,
    ) -> anyhow::Result<Outcome> {
        let local = read_record(&self.record);
        let strong = key.strong.clone();
        let outcome = self.decide(&key, local.as_ref())?;
        let outcome = match outcome {
            Some(o) => o,
            None => {
                let (key, bytes) = build(key)?;
                let rec = self.commit(key, &bytes, How::Built, local.as_ref())?;
                if let Some(c) = &self.cache {
                    if let Err(e) = c.put(&rec, &bytes) {
                        eprintln!("packer: warning: could not store {} in the cache: {e:#}", self.action);
                    }
                }
                Outcome::Built
            }
        };
        self.log(outcome, &strong);
        Ok(outcome)
    }

    /// Up to date, or restored from the cache; `None` means it must build.
    fn decide(&self, key: &Keyed, local: Option<&Record>) -> anyhow::Result<Option<Outcome>> {
        if let Some(r) = local {
            if r.key.strong == key.strong && self.intact(r) {
                return Ok(Some(Outcome::UpToDate));
            }
            if self.mode == Mode::NonStrict && r.key.weak == key.weak && self.intact(r) {
                return Ok(Some(Outcome::UpToDateWeak));
            }
        }
        let Some(c) = &self.cache else {
            return Ok(None);
        };
        let mut lookups = vec![(cache::Kind::Ac, key.strong.as_str(), How::Restored, Outcome::Restored)];
        if self.mode == Mode::NonStrict {
            lookups.push((cache::Kind::AcWeak, key.weak.as_str(), How::RestoredWeak, Outcome::RestoredWeak));
        }
        for (kind, k, how, outcome) in lookups {
            let Some((rec, blobs)) = c.get(kind, k) else {
                continue;
            };
            let labels: Vec<&str> = rec.outputs.keys().map(String::as_str).collect();
            let mut want: Vec<&str> = self.outputs.iter().map(|o| o.label).collect();
            want.sort();
            if labels != want {
                continue;
            }
            // Blobs come in label order; put them in output order.
            let bytes: Vec<Vec<u8>> = self
                .outputs
                .iter()
                .map(|o| blobs[labels.iter().position(|l| *l == o.label).unwrap_or(0)].clone())
                .collect();
            self.commit(rec.key, &bytes, how, local)?;
            return Ok(Some(outcome));
        }
        Ok(None)
    }

    fn intact(&self, r: &Record) -> bool {
        r.outputs.len() == self.outputs.len()
            && self.outputs.iter().all(|o| r.outputs.get(o.label).is_some_and(|d| intact(&o.path, d)))
    }

    /// Writes each output whose bytes changed, then the record.
    fn commit(&self, key: Keyed, bytes: &[Vec<u8>], how: How, local: Option<&Record>) -> anyhow::Result<Record> {
        let mut digests = BTreeMap::new();
        for (o, b) in self.outputs.iter().zip(bytes) {
            fsutil::write_if_changed(&o.path, b)?;
            digests.insert(o.label.to_string(), Digest { size: b.len() as u64, blake3: keys::hash_bytes(b) });
        }
        let previous = match local {
            Some(l) if l.key.strong != key.strong => Some(l.key.doc.clone()),
            Some(l) => l.previous.clone(),
            None => None,
        };
        let rec = Record { key, outputs: digests, how: Some(how), previous };
        fsutil::write_if_changed(&self.record, &canon::to_vec(&rec)?)?;
        Ok(rec)
    }

    /// Appends one line to the step log (a single write on an O_APPEND file, so parallel
    /// steps never interleave within a line). Best effort: logging never fails a step.
    fn log(&self, outcome: Outcome, strong: &str) {
        let line = serde_json::json!({"action": self.action, "outcome": outcome, "strong": strong});
        let mut text = line.to_string();
        text.push('\n');
        let _ = std::fs::create_dir_all(&self.obj_dir);
        if let Ok(mut f) = std::fs::File::options().create(true).append(true).open(log_path(&self.obj_dir)) {
            let _ = f.write_all(text.as_bytes());
        }
    }
}

/// Reads a key file written by gen.
pub fn read_key_file(path: &Path) -> anyhow::Result<KeyFile> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return fail(
                Diagnostic::error(
                    Code::PK021,
                    format!("cannot read key file: {e}"),
                    "run `packer gen` (or plain `ninja`, which re-runs it)",
                )
                .file(path.display()),
            )
        }
    };
    match serde_json::from_slice(&bytes) {
        Ok(k) => Ok(k),
        Err(e) => fail(
            Diagnostic::error(
                Code::PK021,
                format!("key file is corrupt: {e}"),
                "delete it and run `ninja` again; gen rewrites it",
            )
            .file(path.display()),
        ),
    }
}

/// Reads a record; a missing or unreadable one is `None` (the step then rebuilds).
pub fn read_record(path: &Path) -> Option<Record> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn intact(path: &Path, d: &Digest) -> bool {
    match std::fs::read(path) {
        Ok(bytes) => bytes.len() as u64 == d.size && keys::hash_bytes(&bytes) == d.blake3,
        Err(_) => false,
    }
}

/// `<prefix>.<ext>`.
pub fn with_ext(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// The actual strong keys of dependency actions, read from their records in `obj_dir`
/// (`asset/<id>` → `<obj_dir>/<id>.rec`), so that what a step records names the dependency
/// outputs it really read.
pub fn dependency_keys(obj_dir: &Path, weak_names: &[String]) -> anyhow::Result<Vec<String>> {
    weak_names
        .iter()
        .map(|n| {
            let id = n.strip_prefix("asset/").unwrap_or(n);
            let rec = with_ext(&obj_dir.join(id), "rec");
            match read_record(&rec) {
                Some(r) => Ok(r.key.strong),
                None => fail(
                    Diagnostic::error(
                        Code::PK021,
                        format!("dependency {n} has no build record"),
                        "build the dependency first (`ninja` does)",
                    )
                    .file(rec.display()),
                ),
            }
        })
        .collect()
}

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

/// What a conversion produces: the payload and the table metadata.
pub struct Converted {
    pub payload: Vec<u8>,
    pub decoded_size: u64,
    pub metadata: serde_json::Value,
}

/// The sources a conversion reads, by name, with their bytes.
pub type Sources = Vec<(String, Vec<u8>)>;

/// Runs one asset step through its gate. `own_key` computes the key when no key file is
/// given; `convert` does the real work from the sources and the object directory (where
/// dependency artifacts are).
pub fn run_asset_step(
    o: &AssetStepOptions,
    own_key: impl FnOnce(&AssetStepOptions) -> anyhow::Result<KeyFile>,
    convert: impl FnOnce(&Keyed, &Sources, &Path) -> anyhow::Result<Converted>,
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
    let gate = Gate {
        action: keys::action_name_str(&id),
        record: with_ext(&o.out, "rec"),
        outputs: vec![
            Output { label: "payload", path: with_ext(&o.out, "bin") },
            Output { label: "meta", path: with_ext(&o.out, "json") },
        ],
        cache: o.cache.as_ref().map(Cache::new),
        mode: kf.mode,
        obj_dir: obj_dir.clone(),
    };
    gate.run(doc.keyed(), |key| {
        let (key, sources) = read_sources(&o.root, key)?;
        let c = convert(&key, &sources, &obj_dir)?;
        let meta = canon::to_vec(&serde_json::json!({"decoded_size": c.decoded_size, "metadata": c.metadata}))?;
        Ok((key, vec![c.payload, meta]))
    })
}

/// Reads every source the key names and re-keys the document with the hashes of the bytes
/// actually read, so that a source edited after gen is never recorded under the old key.
fn read_sources(root: &Path, key: Keyed) -> anyhow::Result<(Keyed, Sources)> {
    let mut doc = key.doc.clone();
    let mut sources = Vec::with_capacity(doc.sources.len());
    for s in &mut doc.sources {
        let path = root.join(&s.name);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                return fail(
                    Diagnostic::error(
                        Code::PK005,
                        format!("cannot read input: {e}"),
                        "restore the file, or run `packer gen` to re-plan",
                    )
                    .file(path.display()),
                )
            }
        };
        s.key = keys::hash_bytes(&bytes);
        sources.push((s.name.clone(), bytes));
    }
    let key = if doc == key.doc { key } else { doc.keyed() };
    Ok((key, sources))
}

/// Reads and parses `<root>/asset.json` for a step run by hand.
pub fn read_declaration(root: &Path) -> anyhow::Result<crate::decl::Declaration> {
    let file = root.join(crate::decl::FILE);
    let shown = file.display().to_string();
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) => {
            return fail(
                Diagnostic::error(
                    Code::PK002,
                    format!("cannot read asset.json: {e}"),
                    "pass the asset root directory with --root",
                )
                .file(&shown),
            )
        }
    };
    let (decl, diags) = crate::decl::parse(&bytes, &shown);
    match decl {
        Some(d) => {
            diags.iter().for_each(|d| eprintln!("{d}"));
            Ok(d)
        }
        None => Err(crate::diag::Blocked(diags).into()),
    }
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
