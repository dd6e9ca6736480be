//! gen's fast path when nothing changed (SPEC §5: gen runs at every edit and must read only
//! what changed). After a full run gen records the paths it read and wrote with their stat
//! data (size, mtime, inode); the next run stats those paths in parallel and, if every one
//! matches, the options are the same and no input is racily clean, stops there: no
//! declaration is parsed, no key computed, nothing written. The first difference stops the
//! check, so an edit goes straight to the full run.

use crate::fsutil;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

const MAGIC: &str = "packer-gen-state-2";

/// An input modified less than this long before the state was taken is not trusted (the
/// fingerprints' racy-clean rule).
const RACY_WINDOW_NS: i128 = crate::fingerprint::RACY_WINDOW_NS;

/// What gen recorded: the options it ran with, when, and the files behind its output.
pub struct GenState {
    pub options: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// Where the state lives.
pub fn file(dir: &Path, build_dir: &str) -> PathBuf {
    dir.join(build_dir).join(".packer-gen-state")
}

fn now_ns() -> i128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0)
}

/// Size, mtime (ns) and inode.
type Stat = (u64, i128, u64);

fn stat(dir: &Path, p: &str) -> Option<Stat> {
    let m = std::fs::metadata(dir.join(p)).ok()?;
    Some((m.len(), m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128, m.ino()))
}

/// Whether nothing gen depends on or writes changed since the recorded run. Each recorded
/// path is stat'ed (on every core) and compared with what was recorded; the first difference
/// stops every worker, so a run that is going to be a full one anyway (an edit, a touch)
/// does not pay for statting everything first.
pub fn unchanged(dir: &Path, build_dir: &str, options: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(file(dir, build_dir)) else { return false };
    let mut parts = text.split('\0');
    let (Some(MAGIC), Some(opts), Some(taken), Some(n_inputs)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(taken), Ok(n_inputs)) = (taken.parse::<i128>(), n_inputs.parse::<usize>()) else { return false };
    if opts != options {
        return false;
    }
    let mut entries: Vec<(&str, Stat)> = Vec::new();
    while let Some(path) = parts.next().filter(|p| !p.is_empty()) {
        let (Some(size), Some(mtime), Some(ino)) = (parts.next(), parts.next(), parts.next()) else { return false };
        let (Ok(size), Ok(mtime), Ok(ino)) = (size.parse(), mtime.parse(), ino.parse()) else { return false };
        entries.push((path, (size, mtime, ino)));
    }
    // An input modified shortly before the record was taken may have changed again since
    // within the same timestamp tick: not trusted.
    if entries.iter().take(n_inputs).any(|(_, (_, mtime, _))| mtime + RACY_WINDOW_NS >= taken) {
        return false;
    }
    let differs = AtomicBool::new(false);
    let checked = crate::step::parallel_map(&entries, |(path, recorded)| {
        if !differs.load(Ordering::Relaxed) && stat(dir, path).as_ref() != Some(recorded) {
            differs.store(true, Ordering::Relaxed);
        }
        Ok(())
    });
    checked.is_ok() && !differs.load(Ordering::Relaxed)
}

/// Records the state after a full run. Best effort: without it the next run is a full one.
pub fn record(dir: &Path, build_dir: &str, state: &GenState) {
    let taken = now_ns();
    let paths: Vec<&String> = state.inputs.iter().chain(&state.outputs).collect();
    let stats = crate::step::parallel_map(&paths, |p| Ok(stat(dir, p))).unwrap_or_default();
    if stats.len() != paths.len() || stats.iter().any(Option::is_none) {
        let _ = fsutil::remove_if_exists(&file(dir, build_dir));
        return;
    }
    let mut text = format!("{MAGIC}\0{}\0{taken}\0{}", state.options, state.inputs.len());
    for (p, (size, mtime, ino)) in paths.iter().zip(stats.into_iter().flatten()) {
        text.push_str(&format!("\0{p}\0{size}\0{mtime}\0{ino}"));
    }
    let _ = fsutil::write_if_changed(&file(dir, build_dir), text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(dir: &Path, name: &str, bytes: &[u8]) {
        std::fs::write(dir.join(name), bytes).unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options().write(true).open(dir.join(name)).unwrap().set_modified(old).unwrap();
    }

    fn state() -> GenState {
        GenState { options: "opts".into(), inputs: vec!["a".into(), "b".into()], outputs: vec!["out".into()] }
    }

    #[test]
    fn unchanged_until_a_file_or_the_options_change() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        std::fs::create_dir(dir.join("build")).unwrap();
        for f in ["a", "b", "out"] {
            put(dir, f, b"x");
        }
        record(dir, "build", &state());
        assert!(unchanged(dir, "build", "opts"));
        assert!(!unchanged(dir, "build", "other opts"));
        put(dir, "b", b"yy");
        assert!(!unchanged(dir, "build", "opts"), "a changed input");
        record(dir, "build", &state());
        assert!(unchanged(dir, "build", "opts"));
        std::fs::remove_file(dir.join("out")).unwrap();
        assert!(!unchanged(dir, "build", "opts"), "a missing output");
    }

    #[test]
    fn racily_clean_inputs_and_damaged_records_mean_a_full_run() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        std::fs::create_dir(dir.join("build")).unwrap();
        for f in ["a", "b", "out"] {
            put(dir, f, b"x");
        }
        std::fs::write(dir.join("a"), b"x").unwrap(); // modified just now
        record(dir, "build", &state());
        assert!(!unchanged(dir, "build", "opts"), "an input younger than the racy window");
        put(dir, "a", b"x");
        record(dir, "build", &state());
        let text = std::fs::read_to_string(file(dir, "build")).unwrap();
        std::fs::write(file(dir, "build"), &text[..text.len() - 3]).unwrap();
        assert!(!unchanged(dir, "build", "opts"), "a truncated record");
        std::fs::write(file(dir, "build"), text.replace("packer-gen-state-2", "packer-gen-state-1")).unwrap();
        assert!(!unchanged(dir, "build", "opts"), "another layout");
    }
}
