//! `packer step pack`: every asset artifact → `assets.pa` and its JSON companions (SPEC §4).
//!
//! Its key document lists each asset's table fields in `step-key` and each asset action's
//! strong key in `dependencies-strong` — the keys recorded beside the artifacts it reads, so
//! it is always strict. Its inputs arrive through a Ninja response file.

use super::{Gate, Outcome, Output, RecordKeys};
use crate::cache::Cache;
use crate::canon;
use crate::diag::{fail, Blocked, Code, Diagnostic};
use crate::escape;
use crate::keys::{KeyDoc, Mode};
use crate::pa;
use crate::plan::{pack_key_doc, PackEntry, PackStepKey};
use crate::workspace::Workspace;
use anyhow::Context;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub const STEP: &str = crate::plan::PACK_STEP;
/// Changes whenever the container or companion bytes could change.
pub const VERSION: &str = crate::plan::PACK_VERSION;

/// Arguments of `packer step pack`.
#[derive(Clone, Debug)]
pub struct Options {
    pub key: Option<PathBuf>,
    pub rsp: Option<PathBuf>,
    pub obj_dir: PathBuf,
    pub out_dir: PathBuf,
    pub cache: Option<PathBuf>,
    /// Project directory, used only without a key file.
    pub project: PathBuf,
}

/// The four outputs, in a fixed order.
pub fn outputs(out_dir: &Path) -> Vec<Output> {
    crate::layout::PACK_OUTPUTS.into_iter().map(|(label, file)| Output { label, path: out_dir.join(file) }).collect()
}

pub fn run(o: &Options) -> anyhow::Result<Outcome> {
    let _locks = super::lock_action(&o.obj_dir, "pack", o.key.is_some())?;
    let mut doc = match o.key.as_deref().map(super::read_key_file) {
        Some(Ok(kf)) => kf.keyed.doc,
        Some(Err(e)) => {
            eprintln!("{e:#}\npacker: computing the key from the workspace instead");
            own_doc(o)?
        }
        None => own_doc(o)?,
    };
    let step_key: PackStepKey = serde_json::from_value(doc.step_key.clone()).context("pack key document")?;
    let prefixes = artifact_prefixes(o, &step_key.assets);
    let pairs: Vec<(&PackEntry, &PathBuf)> = step_key.assets.iter().zip(&prefixes).collect();
    let cache = o.cache.as_deref();
    let records = read_records(o, &pairs, cache)?;
    doc.dependencies_strong = records.iter().map(|r| r.key.strong.clone()).collect();
    let gate = gate(&o.obj_dir, &o.out_dir, o.cache.as_ref().map(Cache::new));
    gate.run(doc.keyed(), |key| {
        let mut key = key;
        let mut records = records;
        // Nothing unverified is packed: every payload and metadata file is checked against
        // the digest its record holds. A damaged one is reported, rebuilt, and the container
        // made again (once: a second mismatch fails the step).
        for attempt in 0..2 {
            let arts = crate::par::parallel_map(&pairs, |(e, prefix)| load_artifact(e, prefix))?;
            let bytes = render(&step_key.assets, &arts, &records)?;
            let damaged = damaged(&bytes[0], &arts, &records)?;
            if damaged.is_empty() {
                return Ok((key, bytes));
            }
            if attempt == 1 {
                let (e, prefix) = pairs[damaged[0]];
                return fail(
                    Diagnostic::error(
                        Code::PK021,
                        "the asset's artifact still does not match its record after a rebuild",
                        "is another tool writing into the build directory? Remove it and build again",
                    )
                    .file(super::with_ext(prefix, "bin").display())
                    .asset(&e.asset_name),
                );
            }
            for &i in &damaged {
                let id = pairs[i].0.asset_id.to_string();
                super::repair_artifact(&o.obj_dir, &id, cache, "the artifact does not match its record (damaged)")?;
            }
            records = read_records(o, &pairs, cache)?;
            let strong: Vec<String> = records.iter().map(|r| r.key.strong.clone()).collect();
            if strong != key.doc.dependencies_strong {
                key = KeyDoc { dependencies_strong: strong, ..key.doc }.keyed();
            }
        }
        unreachable!("the loop returns")
    })
}

/// What the pack needs of each asset's record: its keys and its outputs' digests.
#[derive(Debug, Deserialize)]
struct Recorded {
    key: RecordKeys,
    outputs: std::collections::BTreeMap<String, super::Digest>,
}

impl Recorded {
    fn digest(&self, label: &str) -> Option<&str> {
        self.outputs.get(label).map(|d| d.blake3.as_str())
    }
}

/// Every asset's record, in table order. One that is missing or unreadable (deleted, damaged,
/// foreign) would wedge every later build — Ninja sees the artifact in place and never runs
/// its step — so it is rebuilt here first.
fn read_records(o: &Options, pairs: &[(&PackEntry, &PathBuf)], cache: Option<&Path>) -> anyhow::Result<Vec<Recorded>> {
    let read = |prefix: &Path| -> Option<Recorded> {
        serde_json::from_slice(&crate::fsutil::read_regular(&super::with_ext(prefix, "rec")).ok()?).ok()
    };
    let mut out = Vec::with_capacity(pairs.len());
    for (e, prefix) in pairs {
        let rec = match read(prefix) {
            Some(r) => r,
            None => {
                let id = e.asset_id.to_string();
                super::repair_artifact(&o.obj_dir, &id, cache, "its build record is missing or unreadable")?;
                let rec_path = super::with_ext(prefix, "rec");
                read(prefix).ok_or_else(|| Blocked::from(missing_artifact(&rec_path, &e.asset_name)))?
            }
        };
        out.push(rec);
    }
    Ok(out)
}

/// The assets whose payload (in the container just made) or metadata file does not hash to
/// the digest their record holds. BLAKE3 over the whole container costs about what reading
/// it did (tens of milliseconds for 73 MB, on every core).
fn damaged(container: &[u8], arts: &[Artifact], records: &[Recorded]) -> anyhow::Result<Vec<usize>> {
    // Where each payload is: the prelude's payload_offset plus its offset in the layout.
    let base = container.get(12..16).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize).unwrap_or(0);
    let offsets = pa::layout(arts.iter().map(|a| a.size));
    let idx: Vec<usize> = (0..arts.len()).collect();
    let bad = crate::par::parallel_map(&idx, |&i| {
        let at = base + offsets[i];
        let payload = container.get(at..at + arts[i].size).unwrap_or_default();
        let ok = arts[i].present
            && records[i].digest("payload") == Some(crate::hash::hash_bytes(payload).as_str())
            && records[i].digest("meta") == Some(arts[i].meta_digest.as_str());
        Ok((!ok).then_some(i))
    })?;
    Ok(bad.into_iter().flatten().collect())
}

/// The pack's gate. The pack is always strict (design.md).
pub fn gate(obj_dir: &Path, out_dir: &Path, cache: Option<Cache>) -> Gate {
    Gate {
        action: "pack".into(),
        record: obj_dir.join("pack.rec"),
        outputs: outputs(out_dir),
        cache,
        mode: Mode::Strict,
        obj_dir: obj_dir.to_path_buf(),
        restore_keeps_mtime: false,
    }
}

/// The pack's key document for a run by hand: the workspace's table fields (the strong keys
/// are filled in from the artifacts' records).
fn own_doc(o: &Options) -> anyhow::Result<KeyDoc> {
    let ws = Workspace::load(&o.project)?;
    if ws.diags.blocking() {
        return Err(Blocked(ws.diags.0).into());
    }
    pack_key_doc(&ws.assets, &[])
}

fn missing_artifact(path: &Path, name: &str) -> Diagnostic {
    Diagnostic::error(
        Code::PK021,
        "the asset's artifact is missing or unreadable",
        "build the asset first (`ninja`, or its `packer step` command)",
    )
    .file(path.display())
    .asset(name)
}

/// Artifact prefixes (`<obj_dir>/<id>`) in table order: the key file's assets. The response
/// file Ninja wrote (its lines are the shell-quoted `$in_newline`: the key file, then each
/// `<id>.bin`) is only compared with it, and a difference is a warning: the key file is what
/// gen planned, and two Ninjas building one workspace at once write and delete the same
/// response file under each other (one read it empty). Only the file names are compared,
/// since its paths are relative to Ninja's directory, which differs from ours under a
/// `--prefix`. Ninja deletes it after a successful run, so a run by hand goes by the key alone.
fn artifact_prefixes(o: &Options, assets: &[PackEntry]) -> Vec<PathBuf> {
    let prefixes = assets.iter().map(|e| o.obj_dir.join(e.asset_id.to_string())).collect();
    let Some(text) = o.rsp.as_ref().and_then(|r| std::fs::read_to_string(r).ok()) else { return prefixes };
    let ids: Vec<String> = text
        .lines()
        .map(escape::unshell)
        .filter_map(|l| l.strip_suffix(".bin").map(|p| p.rsplit('/').next().unwrap_or(p).to_string()))
        .collect();
    let expected: Vec<String> = assets.iter().map(|e| e.asset_id.to_string()).collect();
    if ids != expected {
        eprintln!(
            "packer: warning: the response file lists {} artifacts, the key {} assets; going by the key (is another build running?)",
            ids.len(),
            expected.len()
        );
    }
    prefixes
}

/// An artifact as the pack needs it: its payload's path and size (the bytes are read straight
/// into the container), and its metadata.
struct Artifact {
    name: String,
    bin: PathBuf,
    size: usize,
    decoded_size: u64,
    metadata: Value,
    /// BLAKE3 of the metadata file's bytes, to check against the record.
    meta_digest: String,
    /// Whether the payload is a regular file (else it packs as empty, found damaged).
    present: bool,
}

fn load_artifact(e: &PackEntry, prefix: &Path) -> anyhow::Result<Artifact> {
    let bin = super::with_ext(prefix, "bin");
    // A payload that is not a regular file (deleted, replaced) packs as empty and is then
    // found damaged by its digest ([`damaged`]), and rebuilt.
    let size = std::fs::symlink_metadata(&bin).ok().filter(|m| m.is_file()).map(|m| m.len());
    let present = size.is_some();
    let size = size.unwrap_or(0);
    let meta_path = super::with_ext(prefix, "json");
    let meta_bytes = crate::fsutil::read_regular(&meta_path).unwrap_or_default();
    // A damaged metadata file is found by its digest ([`damaged`]); until then, no metadata.
    let meta: Value = serde_json::from_slice(&meta_bytes).unwrap_or(Value::Null);
    Ok(Artifact {
        name: e.asset_name.clone(),
        bin,
        size: usize::try_from(size)?,
        decoded_size: meta["decoded_size"].as_u64().unwrap_or(0),
        metadata: meta["metadata"].clone(),
        meta_digest: crate::hash::hash_bytes(&meta_bytes),
        present,
    })
}

/// Reads every payload into its slot of the container, on every core.
fn read_payloads(arts: &[Artifact], slots: Vec<&mut [u8]>) -> anyhow::Result<()> {
    let mut jobs: Vec<(&Artifact, &mut [u8])> = arts.iter().zip(slots).collect();
    crate::par::parallel_for_each_mut(&mut jobs, |(a, slot)| read_payload(a, slot))
}

/// Reads exactly one payload of the size measured before; a payload that changed size in
/// between (a step writing while the pack reads) fails the pack rather than tearing it.
fn read_payload(a: &Artifact, slot: &mut [u8]) -> anyhow::Result<()> {
    use std::io::Read;
    if !a.present {
        return Ok(());
    }
    let mut f = crate::fsutil::open_regular(&a.bin).map_err(|_| Blocked::from(missing_artifact(&a.bin, &a.name)))?;
    let mut more = [0u8; 1];
    if f.read_exact(slot).is_err() || f.read(&mut more)? != 0 {
        return fail(
            Diagnostic::error(
                Code::PK021,
                "the asset's artifact changed size while the pack read it",
                "run `ninja` again once no step writes to the object directory",
            )
            .file(a.bin.display())
            .asset(&a.name),
        );
    }
    Ok(())
}

/// The bytes of the four outputs, in [`outputs`] order.
fn render(entries: &[PackEntry], arts: &[Artifact], records: &[Recorded]) -> anyhow::Result<Vec<Vec<u8>>> {
    let sizes: Vec<usize> = arts.iter().map(|a| a.size).collect();
    let offsets = pa::layout(sizes.iter().copied());
    let table: Vec<Value> = entries
        .iter()
        .zip(arts)
        .zip(&offsets)
        .map(|((e, a), off)| {
            json!({
                "asset_id": e.asset_id,
                "asset_name": e.asset_name,
                "bank_type": e.bank_type,
                "offset": off,
                "size": a.size,
                "decoded_size": a.decoded_size,
                "codec": e.codec,
                "metadata": a.metadata,
            })
        })
        .collect();
    let preload: Vec<Value> = entries
        .iter()
        .filter(|e| e.preload)
        .enumerate()
        .map(|(slot, e)| json!({"asset_id": e.asset_id, "slot": slot}))
        .collect();
    let tooling: Vec<Value> = entries
        .iter()
        .zip(records)
        .map(|(e, r)| {
            json!({
                "asset_id": e.asset_id,
                "asset_name": e.asset_name,
                "asset_uuid": e.asset_uuid,
                "root": e.root,
                "inputs": e.inputs,
                "strong_key": r.key.strong,
                "weak_key": r.key.weak,
            })
        })
        .collect();
    let header = json!({"asset_table": table, "preload": preload});
    let container = pa::write_with(&header, &sizes, |slots| read_payloads(arts, slots))?;
    Ok(vec![container, canon::to_vec(&table)?, canon::to_vec(&preload)?, canon::to_vec(&tooling)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(dir: &Path, name: &str, bytes: &[u8], size: usize) -> Artifact {
        let bin = dir.join(format!("{name}.bin"));
        std::fs::write(&bin, bytes).unwrap();
        Artifact {
            name: name.into(),
            bin,
            size,
            decoded_size: 0,
            metadata: Value::Null,
            meta_digest: String::new(),
            present: true,
        }
    }

    #[test]
    fn payloads_are_read_into_their_slots() {
        let dir = tempfile::tempdir().unwrap();
        let arts = [artifact(dir.path(), "a", b"abc", 3), artifact(dir.path(), "b", b"0123456789abcdefX", 17)];
        let header = json!({"asset_table": [], "preload": []});
        let built = pa::write_with(&header, &[3, 17], |slots| read_payloads(&arts, slots)).unwrap();
        assert_eq!(built, pa::write(&header, &[b"abc", b"0123456789abcdefX"]).unwrap());
    }

    #[test]
    fn a_payload_that_changed_size_fails_the_pack() {
        let dir = tempfile::tempdir().unwrap();
        for (bytes, size) in [(&b"abcde"[..], 3), (&b"ab"[..], 3)] {
            let arts = [artifact(dir.path(), "hero", bytes, size)];
            let err = pa::write_with(&json!({}), &[size], |slots| read_payloads(&arts, slots)).unwrap_err();
            let text = format!("{err:#}");
            assert!(text.contains("PK021") && text.contains("hero.bin") && text.contains("changed size"), "{text}");
        }
    }
}
