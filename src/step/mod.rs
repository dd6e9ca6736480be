//! `packer step <kind>`: the commands Ninja runs. Every one goes through the same gate
//! (SPEC §6, `gate.rs`): up to date → exit at once, touching no output; in the action cache →
//! restore; else build, write only the outputs whose bytes differ, record the key document
//! actually built from, and store the result in the cache. Asset steps share `asset.rs`.

mod asset;
pub mod blob;
mod gate;
mod memo;
pub mod pack;
pub mod sounds;
pub mod tilemap;
pub mod tiles;

pub use asset::{
    artifact_gate, hash_inputs, own_key, read_declaration, resolve_refs, run_asset_step, AssetStepOptions, Converted,
    Ctx, SourceChanged, Sources,
};
pub use gate::{log_path, previous_path, Digest, Gate, How, Outcome, Output, Record};

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

/// Reads a record; a missing or unreadable one is `None` (the step then rebuilds).
/// A record's two keys only: what dependants and the pack need, without parsing (and
/// allocating) the whole key document.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct RecordKeys {
    pub strong: String,
    pub weak: String,
}

/// Reads the keys of a record; `None` if it is missing or unreadable.
pub fn read_record_keys(path: &Path) -> Option<RecordKeys> {
    #[derive(serde::Deserialize)]
    struct Only {
        key: RecordKeys,
    }
    serde_json::from_slice::<Only>(&crate::fsutil::read_regular(path).ok()?).ok().map(|o| o.key)
}

pub fn read_record(path: &Path) -> Option<Record> {
    serde_json::from_slice(&crate::fsutil::read_regular(path).ok()?).ok()
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
    match step.as_str() {
        blob::STEP => blob::run(&o),
        tiles::STEP => tiles::run(&o),
        sounds::STEP => sounds::run(&o),
        tilemap::STEP => tilemap::run(&o),
        other => anyhow::bail!("asset {id}'s key file names the unknown step `{other}`"),
    }
    .map(drop)
}

thread_local! {
    /// Which of [`parallel_map`]'s threads this is: 0 for the caller (and any other thread),
    /// 1.. for its helpers. Recorded with per-input conversions in the step log.
    static WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The [`parallel_map`] worker running on this thread (0: the calling thread).
pub fn worker() -> usize {
    WORKER.get()
}

/// Runs `f` over `items` on every available core, keeping the order; the error of the
/// earliest failing item wins, whichever thread met it. Work is handed out in small blocks
/// (the calling thread takes its share too), so a slow item or a late thread does not leave
/// a core idle at the end.
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> anyhow::Result<R> + Sync,
) -> anyhow::Result<Vec<R>> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let block = (items.len() / (threads * 16)).max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let start = next.fetch_add(block, std::sync::atomic::Ordering::Relaxed);
            if start >= items.len() {
                return done;
            }
            let end = (start + block).min(items.len());
            done.push((start, items[start..end].iter().map(&f).collect::<anyhow::Result<Vec<R>>>()));
        }
    };
    let mut blocks = std::thread::scope(|s| {
        let helpers: Vec<_> = (1..threads)
            .map(|i| {
                s.spawn(move || {
                    WORKER.set(i);
                    work()
                })
            })
            .collect();
        let mut blocks = work();
        for h in helpers {
            blocks.extend(h.join().map_err(|_| anyhow::anyhow!("a worker thread panicked"))?);
        }
        anyhow::Ok(blocks)
    })?;
    blocks.sort_unstable_by_key(|(start, _)| *start);
    let mut out = Vec::with_capacity(items.len());
    for (_, part) in blocks {
        out.extend(part?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::parallel_map;

    #[test]
    fn parallel_map_keeps_order_and_uses_every_core() {
        let items: Vec<u32> = (0..64).collect();
        let out = parallel_map(&items, |i| {
            std::thread::sleep(std::time::Duration::from_millis(2));
            Ok((*i * 2, std::thread::current().id()))
        })
        .unwrap();
        assert_eq!(out.iter().map(|(v, _)| *v).collect::<Vec<_>>(), (0..64).map(|i| i * 2).collect::<Vec<_>>());
        let mut threads: Vec<_> = out.iter().map(|(_, t)| format!("{t:?}")).collect();
        threads.sort();
        threads.dedup();
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        assert_eq!(threads.len(), cores.min(64), "one worker per core (a large bank decodes on every core)");
        assert!(parallel_map(&items, |i| if *i == 40 { anyhow::bail!("no") } else { Ok(*i) }).is_err());
    }

    #[test]
    fn the_earliest_failing_item_decides_the_error() {
        let items: Vec<u32> = (0..1000).collect();
        for _ in 0..20 {
            let e = parallel_map(&items, |i| match i {
                10 | 900 => anyhow::bail!("item {i}"),
                _ => Ok(*i),
            })
            .unwrap_err();
            assert_eq!(e.to_string(), "item 10");
        }
        assert!(parallel_map(&[] as &[u32], |i| Ok(*i)).unwrap().is_empty());
        assert_eq!(parallel_map(&[7u32], |i| Ok(*i + 1)).unwrap(), vec![8]);
    }
}
