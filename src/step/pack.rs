//! `packer step pack`: every asset artifact → `assets.pa` and its JSON companions (SPEC §4).
//!
//! Its key document lists each asset's table fields in `step-key` and each asset action's
//! strong key in `dependencies-strong` — the keys recorded beside the artifacts it reads, so
//! it is always strict. Its inputs arrive through a Ninja response file.

use super::{read_record_keys, Gate, Outcome, Output, RecordKeys};
use crate::cache::Cache;
use crate::canon;
use crate::diag::{fail, Blocked, Code, Diagnostic};
use crate::escape;
use crate::keys::{self, KeyDoc, Mode};
use crate::pa;
use crate::workspace::{Asset, Workspace};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub const STEP: &str = "pack";
/// Changes whenever the container or companion bytes could change.
pub const VERSION: &str = "pack-1";

/// The table fields of one asset, as they appear in the pack's `step-key`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PackEntry {
    pub asset_id: u64,
    pub asset_name: String,
    pub asset_uuid: String,
    pub bank_type: String,
    pub codec: String,
    pub preload: bool,
    pub root: String,
    pub inputs: Value,
}

#[derive(Debug, Serialize, Deserialize)]
struct StepKey {
    assets: Vec<PackEntry>,
}

/// The pack's key document. `asset_keys[i]` is the strong key of `assets[i]`'s action.
pub fn key_doc(assets: &[Asset], asset_keys: &[String]) -> KeyDoc {
    let entries: Vec<PackEntry> = assets.iter().map(entry).collect();
    KeyDoc {
        core_version: keys::CORE_VERSION,
        step: STEP.into(),
        step_version: VERSION.into(),
        step_key: serde_json::to_value(StepKey { assets: entries }).unwrap_or(Value::Null),
        sources: Vec::new(),
        dependencies_strong: asset_keys.to_vec(),
        dependencies_weak: assets.iter().map(|a| keys::action_name(a.id)).collect(),
    }
}

fn entry(a: &Asset) -> PackEntry {
    PackEntry {
        asset_id: a.id,
        asset_name: a.decl.name.clone(),
        asset_uuid: a.decl.asset_uuid.clone(),
        bank_type: a.decl.ty.bank_type().into(),
        codec: a.decl.codec.clone(),
        preload: a.decl.preload,
        root: a.root.to_string(),
        inputs: a.decl.inputs_json(),
    }
}

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
    [
        ("assets.pa", "assets.pa"),
        ("asset_table", "asset_table.json"),
        ("preload", "preload.json"),
        ("asset_table_metadata", "asset_table_metadata.json"),
    ]
    .into_iter()
    .map(|(label, file)| Output { label, path: out_dir.join(file) })
    .collect()
}

pub fn run(o: &Options) -> anyhow::Result<Outcome> {
    let mut doc = match o.key.as_deref().map(super::read_key_file) {
        Some(Ok(kf)) => kf.keyed.doc,
        Some(Err(e)) => {
            eprintln!("{e:#}\npacker: computing the key from the workspace instead");
            own_doc(o)?
        }
        None => own_doc(o)?,
    };
    let step_key: StepKey = serde_json::from_value(doc.step_key.clone()).context("pack key document")?;
    let prefixes = artifact_prefixes(o, &step_key.assets)?;
    let mut records = Vec::with_capacity(prefixes.len());
    for (e, prefix) in step_key.assets.iter().zip(&prefixes) {
        let rec_path = super::with_ext(prefix, "rec");
        records.push(
            read_record_keys(&rec_path).ok_or_else(|| Blocked::from(missing_artifact(&rec_path, &e.asset_name)))?,
        );
    }
    doc.dependencies_strong = records.iter().map(|r| r.strong.clone()).collect();
    let gate = Gate {
        action: "pack".into(),
        record: o.obj_dir.join("pack.rec"),
        outputs: outputs(&o.out_dir),
        cache: o.cache.as_ref().map(Cache::new),
        mode: Mode::Strict,
        obj_dir: o.obj_dir.clone(),
    };
    gate.run(doc.keyed(), |key| {
        let mut arts = Vec::with_capacity(prefixes.len());
        for ((e, prefix), record) in step_key.assets.iter().zip(&prefixes).zip(records) {
            arts.push(load_artifact(e, prefix, record)?);
        }
        Ok((key, render(&step_key.assets, &arts)?))
    })
}

/// The pack's key document for a run by hand: the workspace's table fields (the strong keys
/// are filled in from the artifacts' records).
fn own_doc(o: &Options) -> anyhow::Result<KeyDoc> {
    let ws = Workspace::load(&o.project)?;
    if ws.diags.blocking() {
        return Err(Blocked(ws.diags.0).into());
    }
    Ok(key_doc(&ws.assets, &[]))
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

/// Artifact prefixes (`<obj_dir>/<id>`) in table order. The response file Ninja wrote (its
/// lines are the shell-quoted `$in_newline`: the key file, then each `<id>.bin`) is checked
/// against the key: the same assets, in the same order. Only the file names are used, since
/// its paths are relative to Ninja's directory, which differs from ours under a `--prefix`.
/// Ninja deletes it after a successful run, so a run by hand goes by the key alone.
fn artifact_prefixes(o: &Options, assets: &[PackEntry]) -> anyhow::Result<Vec<PathBuf>> {
    let prefixes = assets.iter().map(|e| o.obj_dir.join(e.asset_id.to_string())).collect();
    let Some(rsp) = o.rsp.as_ref().filter(|r| r.exists()) else { return Ok(prefixes) };
    let text = std::fs::read_to_string(rsp).with_context(|| format!("reading response file {}", rsp.display()))?;
    let ids: Vec<String> = text
        .lines()
        .map(escape::unshell)
        .filter_map(|l| l.strip_suffix(".bin").map(|p| p.rsplit('/').next().unwrap_or(p).to_string()))
        .collect();
    let expected: Vec<String> = assets.iter().map(|e| e.asset_id.to_string()).collect();
    if ids != expected {
        return fail(
            Diagnostic::error(
                Code::PK021,
                format!(
                    "the response file lists {} artifacts, the key {} assets, not the same ones",
                    ids.len(),
                    expected.len()
                ),
                "run `packer gen` (or `ninja` again): build.ninja and the key files disagree",
            )
            .file(rsp.display()),
        );
    }
    Ok(prefixes)
}

struct Artifact {
    record: RecordKeys,
    payload: Vec<u8>,
    decoded_size: u64,
    metadata: Value,
}

fn load_artifact(e: &PackEntry, prefix: &Path, record: RecordKeys) -> anyhow::Result<Artifact> {
    let bin = super::with_ext(prefix, "bin");
    let payload = std::fs::read(&bin).map_err(|_| Blocked::from(missing_artifact(&bin, &e.asset_name)))?;
    let meta_path = super::with_ext(prefix, "json");
    let meta: Value = std::fs::read(&meta_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| Blocked::from(missing_artifact(&meta_path, &e.asset_name)))?;
    Ok(Artifact {
        record,
        payload,
        decoded_size: meta["decoded_size"].as_u64().unwrap_or(0),
        metadata: meta["metadata"].clone(),
    })
}

/// The bytes of the four outputs, in [`outputs`] order.
fn render(entries: &[PackEntry], arts: &[Artifact]) -> anyhow::Result<Vec<Vec<u8>>> {
    let offsets = pa::layout(arts.iter().map(|a| a.payload.len()));
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
                "size": a.payload.len(),
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
        .zip(arts)
        .map(|(e, a)| {
            json!({
                "asset_id": e.asset_id,
                "asset_name": e.asset_name,
                "asset_uuid": e.asset_uuid,
                "root": e.root,
                "inputs": e.inputs,
                "strong_key": a.record.strong,
                "weak_key": a.record.weak,
            })
        })
        .collect();
    let payloads: Vec<&[u8]> = arts.iter().map(|a| a.payload.as_slice()).collect();
    let header = json!({"asset_table": table, "preload": preload});
    Ok(vec![pa::write(&header, &payloads)?, canon::to_vec(&table)?, canon::to_vec(&preload)?, canon::to_vec(&tooling)?])
}
