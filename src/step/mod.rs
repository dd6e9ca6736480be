//! `packer step <kind>`: the commands Ninja runs. Every one goes through the same gate
//! (SPEC §6, `gate.rs`): up to date → exit at once, touching no output; in the action cache →
//! restore; else build, write only the outputs whose bytes differ, record the key document
//! actually built from, and store the result in the cache. Asset steps share `asset.rs`.

mod asset;
mod gate;
mod memo;
pub mod pack;

/// The asset steps, one module each, named like the step of their type's table entry
/// (`types.rs`): declares the modules and [`run_asset`], which runs the step by name.
macro_rules! asset_steps {
    ($($step:ident),* $(,)?) => {
        $(pub mod $step;)*

        /// The names of the asset steps that exist.
        pub const ASSET_STEPS: &[&str] = &[$(stringify!($step)),*];

        /// Runs asset step `step` (`None`: no such step).
        pub fn run_asset(step: &str, o: &AssetStepOptions) -> Option<anyhow::Result<Outcome>> {
            match step {
                $(stringify!($step) => Some($step::run(o)),)*
                _ => None,
            }
        }
    };
}

asset_steps!(blob, tiles, sounds, tilemap, palette);

pub use crate::record::{previous_path, read_record, read_record_keys, Digest, How, Record, RecordKeys};
pub use asset::{
    artifact_gate, hash_inputs, own_key, read_declaration, resolve_refs, run_asset_step, AssetStepOptions, Converted,
    Ctx, SourceChanged, Sources,
};
pub use gate::{log_path, Gate, Outcome, Output};

use crate::diag::{fail, Code, Diagnostic};
use crate::keys::KeyFile;
use std::path::{Path, PathBuf};

/// The locks a step holds while it runs (lock.rs): the build directory's, shared, then its
/// action's, exclusive. Taken when the step runs in a build directory — with a key file (as
/// build.ninja runs it), or where a build's lock file already is; a step run by hand into a
/// directory of its own takes none.
pub fn lock_action(obj_dir: &Path, action_file: &str, keyed: bool) -> anyhow::Result<Vec<crate::lock::Held>> {
    use crate::lock::{acquire, action_lock_path, build_lock_path, Mode};
    let build_dir = obj_dir.parent().map(Path::to_path_buf).unwrap_or_default();
    let build_lock = build_lock_path(&build_dir);
    if !keyed && !build_lock.exists() {
        return Ok(Vec::new());
    }
    let build = acquire(&build_lock, Mode::Shared, "the build directory")?;
    let action = acquire(&action_lock_path(obj_dir, action_file), Mode::Exclusive, &format!("action {action_file}"))?;
    Ok(vec![build, action])
}

/// Reads a key file written by gen.
pub fn read_key_file(path: &Path) -> anyhow::Result<KeyFile> {
    read_key_file_as(path)
}

/// [`read_key_file`] into another shape of the same file (the pack's typed document).
pub fn read_key_file_as<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let bytes = match crate::fsutil::read_regular(path) {
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

/// `<prefix>.<ext>`.
pub fn with_ext(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// The actual strong keys of dependency actions, read from their records in `obj_dir`
/// (`asset/<id>` → `<obj_dir>/<id>.rec`), so that what a step records names the dependency
/// outputs it really read. A dependency whose record is missing or unreadable (deleted,
/// damaged) is rebuilt first, in this process ([`repair_artifact`]): Ninja, which sees its
/// outputs in place, would never run its step again.
pub fn dependency_keys(obj_dir: &Path, weak_names: &[String], cache: Option<&Path>) -> anyhow::Result<Vec<String>> {
    weak_names
        .iter()
        .map(|n| {
            let id = n.strip_prefix("asset/").unwrap_or(n);
            let rec = with_ext(&obj_dir.join(id), "rec");
            let gate = artifact_gate(&obj_dir.join(id), None, crate::keys::Mode::Strict);
            if let Some(r) = gate.recorded_intact() {
                return Ok(r.strong);
            }
            repair_artifact(obj_dir, id, cache, "its build record is missing, or its outputs do not match it")?;
            match read_record_keys(&rec) {
                Some(r) => Ok(r.strong),
                None => fail(
                    Diagnostic::error(
                        Code::PK021,
                        format!("dependency {n} has no build record, and rebuilding it left none"),
                        "run `ninja` again; if it persists, remove the build directory",
                    )
                    .file(rec.display()),
                ),
            }
        })
        .collect()
}

/// Rebuilds asset `id`'s artifact in this process, as its build.ninja edge would, after
/// discarding its record: the repair of an artifact that a step reading it found missing,
/// damaged or unrecorded. Ninja sees the artifact's outputs in place and its gate shut, so it
/// would never run that step again; the reader does, in the same build. The step is found
/// from the asset's key file (`step`) and its root from the pack's (every asset's root).
/// Steps run from the project directory (build.ninja's commands `cd` there with `-C`).
pub fn repair_artifact(obj_dir: &Path, id: &str, cache: Option<&Path>, why: &str) -> anyhow::Result<()> {
    let keys_dir = obj_dir.parent().map(|b| b.join("keys")).unwrap_or_else(|| PathBuf::from("keys"));
    let key = keys_dir.join(format!("{id}.key"));
    let step = read_key_file(&key)?.keyed.doc.step;
    let pack = read_key_file(&keys_dir.join("pack.key"))?;
    let assets = pack.keyed.doc.step_key["assets"].as_array().cloned().unwrap_or_default();
    let entry = assets.iter().find(|a| a["asset_id"].as_u64().map(|n| n.to_string()).as_deref() == Some(id));
    let Some(root) = entry.and_then(|e| e["root"].as_str()) else {
        return fail(
            Diagnostic::error(
                Code::PK021,
                format!("asset {id} is not in the pack's key file"),
                "run `packer gen` (or plain `ninja`, which re-runs it)",
            )
            .file(keys_dir.join("pack.key").display()),
        );
    };
    let name = entry.and_then(|e| e["asset_name"].as_str()).unwrap_or(id);
    let out = obj_dir.join(id);
    eprintln!(
        "{}",
        Diagnostic::warning(Code::PK046, format!("{why}: rebuilding it now"), "nothing to do: this build repairs it")
            .file(with_ext(&out, "bin").display())
            .asset(name)
    );
    crate::fsutil::remove_if_exists(&with_ext(&out, "rec"))?;
    let o = AssetStepOptions {
        key: Some(key),
        root: crate::workspace::project_path(
            &crate::relpath::RelPath::parse(root).map_err(|e| anyhow::anyhow!("{e}"))?,
        )
        .under(Path::new(".")),
        out,
        cache: cache.map(Path::to_path_buf),
        project: PathBuf::from("."),
    };
    match run_asset(&step, &o) {
        Some(done) => done.map(drop),
        None => anyhow::bail!("asset {id}'s key file names the unknown step `{step}`"),
    }
}

#[cfg(test)]
mod tests {
    use crate::decl::AssetType;

    #[test]
    fn every_type_has_its_step_and_every_step_its_type() {
        for t in AssetType::ALL {
            assert!(super::ASSET_STEPS.contains(&t.step().0), "{t:?}: no step module `{}`", t.step().0);
        }
        for s in super::ASSET_STEPS {
            assert!(AssetType::of_step(s).is_some(), "step module `{s}` converts no type in types.rs");
        }
    }
}
