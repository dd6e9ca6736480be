//! `packer step <kind>`: the commands Ninja runs. Each one is gated (SPEC §6): if its outputs
//! exist, are intact and were built from the key in its key file, it exits without touching
//! anything; otherwise it builds, writes only the outputs whose bytes differ, and records the
//! key document it actually built from beside the outputs.

pub mod blob;
pub mod pack;

use crate::canon;
use crate::diag::{fail, Code, Diagnostic};
use crate::fsutil;
use crate::keys::{self, Keyed};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Size and BLAKE3 of one output, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    pub size: u64,
    pub blake3: String,
}

/// What a step records beside its outputs: the key it built from and what it wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub key: Keyed,
    /// Output label → digest.
    pub outputs: BTreeMap<String, Digest>,
}

/// One output of a step: a label used in the record and its path.
pub struct Output {
    pub label: &'static str,
    pub path: PathBuf,
}

/// Reads a key file written by gen.
pub fn read_key_file(path: &Path) -> anyhow::Result<Keyed> {
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

/// Whether every output exists with the recorded digest and the record was built from `key`.
pub fn up_to_date(record: &Path, key: &Keyed, outputs: &[Output]) -> bool {
    let Some(rec) = read_record(record) else {
        return false;
    };
    rec.key.strong == key.strong
        && rec.outputs.len() == outputs.len()
        && outputs
            .iter()
            .all(|o| rec.outputs.get(o.label).is_some_and(|d| intact(&o.path, d)))
}

fn intact(path: &Path, d: &Digest) -> bool {
    match std::fs::read(path) {
        Ok(bytes) => bytes.len() as u64 == d.size && keys::hash_bytes(&bytes) == d.blake3,
        Err(_) => false,
    }
}

/// Writes each output whose bytes changed, then the record. Returns how many outputs were
/// rewritten.
pub fn commit(
    record: &Path,
    key: Keyed,
    outputs: &[Output],
    bytes: &[Vec<u8>],
) -> anyhow::Result<usize> {
    let mut written = 0;
    let mut digests = BTreeMap::new();
    for (o, b) in outputs.iter().zip(bytes) {
        if fsutil::write_if_changed(&o.path, b)? {
            written += 1;
        }
        digests.insert(
            o.label.to_string(),
            Digest {
                size: b.len() as u64,
                blake3: keys::hash_bytes(b),
            },
        );
    }
    let rec = Record {
        key,
        outputs: digests,
    };
    fsutil::write_if_changed(record, &canon::to_vec(&rec)?)?;
    Ok(written)
}

/// The record path for an output prefix: `<prefix>.rec`.
pub fn with_ext(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
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
}

/// What a conversion produces: the payload and the table metadata.
pub struct Converted {
    pub payload: Vec<u8>,
    pub decoded_size: u64,
    pub metadata: serde_json::Value,
}

/// The sources a conversion reads, by name, with their bytes.
pub type Sources = Vec<(String, Vec<u8>)>;

/// Runs one asset step: gate on the key, else read and hash the sources, convert, commit.
/// `own_key` computes the key when no key file is given; `convert` does the real work.
pub fn run_asset_step(
    o: &AssetStepOptions,
    own_key: impl FnOnce(&Path) -> anyhow::Result<Keyed>,
    convert: impl FnOnce(&Keyed, &Sources) -> anyhow::Result<Converted>,
) -> anyhow::Result<()> {
    let outputs = [
        Output {
            label: "payload",
            path: with_ext(&o.out, "bin"),
        },
        Output {
            label: "meta",
            path: with_ext(&o.out, "json"),
        },
    ];
    let record = with_ext(&o.out, "rec");
    let key = match &o.key {
        Some(k) => read_key_file(k)?,
        None => own_key(&o.root)?,
    };
    if up_to_date(&record, &key, &outputs) {
        return Ok(());
    }
    let (key, sources) = read_sources(&o.root, key)?;
    let c = convert(&key, &sources)?;
    let meta = canon::to_vec(
        &serde_json::json!({"decoded_size": c.decoded_size, "metadata": c.metadata}),
    )?;
    commit(&record, key, &outputs, &[c.payload, meta])?;
    Ok(())
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
pub fn hash_inputs(
    root: &Path,
    decl: &crate::decl::Declaration,
) -> anyhow::Result<Vec<keys::SourceKey>> {
    let mut out = Vec::new();
    for input in decl.inputs.values().flatten() {
        if let crate::decl::InputRef::File(p) = input {
            let path = p.under(root);
            match keys::hash_file(&path) {
                Ok(key) => out.push(keys::SourceKey {
                    name: p.to_string(),
                    key,
                }),
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
