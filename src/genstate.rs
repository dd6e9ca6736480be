//! gen's fast path when nothing changed (SPEC §5: gen runs at every edit and must read only
//! what changed). After a full run gen records the paths it read and wrote and one digest of
//! their stat data (size, mtime, inode); the next run stats those paths in parallel and, if
//! the digest matches, the options are the same and no input is racily clean, stops there:
//! no declaration is parsed, no key computed, nothing written.

use crate::fsutil;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const MAGIC: &str = "packer-gen-state-1";

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

/// Stats every path (in parallel) into one digest; `None` if any is missing. Also returns the
/// newest mtime among the first `inputs` paths.
fn digest(dir: &Path, paths: &[&String], inputs: usize) -> Option<(String, i128)> {
    let stats = crate::step::parallel_map(paths, |p| {
        let m = std::fs::metadata(dir.join(p)).map_err(|_| anyhow::anyhow!("gone"))?;
        Ok((m.len(), m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128, m.ino()))
    })
    .ok()?;
    let mut h = blake3::Hasher::new();
    for (p, (size, mtime, ino)) in paths.iter().zip(&stats) {
        h.update(p.as_bytes());
        h.update(&[0]);
        h.update(&size.to_le_bytes());
        h.update(&mtime.to_le_bytes());
        h.update(&ino.to_le_bytes());
    }
    let newest_input = stats.iter().take(inputs).map(|s| s.1).max().unwrap_or(0);
    Some((h.finalize().to_hex().to_string(), newest_input))
}

/// Whether nothing gen depends on or writes changed since the recorded run.
pub fn unchanged(dir: &Path, build_dir: &str, options: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(file(dir, build_dir)) else { return false };
    let mut parts = text.split('\0');
    let (Some(MAGIC), Some(opts), Some(taken), Some(recorded), Some(n_inputs)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(taken), Ok(n_inputs)) = (taken.parse::<i128>(), n_inputs.parse::<usize>()) else { return false };
    if opts != options {
        return false;
    }
    let paths: Vec<String> = parts.filter(|p| !p.is_empty()).map(String::from).collect();
    let refs: Vec<&String> = paths.iter().collect();
    match digest(dir, &refs, n_inputs) {
        Some((d, newest)) => d == recorded && newest + RACY_WINDOW_NS < taken,
        None => false,
    }
}

/// Records the state after a full run. Best effort: without it the next run is a full one.
pub fn record(dir: &Path, build_dir: &str, state: &GenState) {
    let taken = now_ns();
    let paths: Vec<&String> = state.inputs.iter().chain(&state.outputs).collect();
    let Some((d, _)) = digest(dir, &paths, state.inputs.len()) else {
        let _ = fsutil::remove_if_exists(&file(dir, build_dir));
        return;
    };
    let mut text = format!("{MAGIC}\0{}\0{taken}\0{d}\0{}", state.options, state.inputs.len());
    for p in paths {
        text.push('\0');
        text.push_str(p);
    }
    let _ = fsutil::write_if_changed(&file(dir, build_dir), text.as_bytes());
}
