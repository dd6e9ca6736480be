//! gen's fast path when nothing changed (SPEC §5: gen runs at every edit and must read only
//! what changed). After a full run gen records the paths it read and wrote with their stat
//! data (size, mtime, inode); the next run stats those paths in parallel. Every one the same,
//! the same options and no input racily clean: gen stops there, parsing and writing nothing.
//! An input whose stat changed (or that was racily clean) is re-hashed in the same pass and
//! compared with the hash the fingerprints hold for it: when every such file still holds the
//! bytes gen last used (a `touch`, a checkout of the same content) the state is recorded
//! again and gen stops too, without planning anything.
//!
//! Inputs come in two groups. *Structure* (the registry, the declarations, the directories
//! patterns walked, the key directory, the sources of types that discover inputs inside their
//! files) decides the graph: its first real difference stops the check and gen plans in full.
//! *Content* sources only feed keys: one whose bytes changed is reported with its new hash
//! ([`Touched::edited`]), so that gen can re-key just the assets that read it (`replan.rs`).

use crate::fsutil;
use crate::stat::{self, now_ns, Stat};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

const MAGIC: &str = "packer-gen-state-4";

/// What gen recorded: the options it ran with, when, and the files behind its output.
pub struct GenState {
    pub options: String,
    /// Project-relative paths gen read: the structure inputs, then the content sources.
    pub inputs: Vec<String>,
    /// How many of `inputs` are structure.
    pub structure: usize,
    pub outputs: Vec<String>,
}

/// Where the state lives.
pub fn file(dir: &Path, build_dir: &str) -> PathBuf {
    dir.join(build_dir).join(".packer-gen-state")
}

fn stat(dir: &Path, p: &str) -> Option<Stat> {
    // Relative to the working directory when that is the project (nearly always): no path
    // to build, and one component less for the kernel to walk.
    let m = if dir == Path::new(".") { std::fs::metadata(p) } else { std::fs::metadata(dir.join(p)) };
    m.ok().map(|m| stat::of(&m))
}

/// An input that was touched but holds the bytes recorded: its new stat, taken at `taken`
/// (for the caller's fingerprints).
pub struct Refreshed {
    pub path: String,
    pub stat: Stat,
    pub taken: i128,
}

/// A content source whose bytes changed: its stat and hash now.
pub struct Edited {
    pub path: String,
    pub stat: Stat,
    pub hash: String,
    pub taken: i128,
}

/// What [`check`] found.
pub enum Check {
    /// Nothing gen depends on or writes changed: nothing to do.
    Unchanged,
    /// Some inputs were touched (or racily clean) but hold the same bytes, and perhaps some
    /// content sources were edited ([`Touched::edited`]); the structure is as recorded. With
    /// nothing edited there is nothing to plan: the caller updates the fingerprints and then
    /// records the state anew ([`Touched::record`]).
    Touched(Touched),
    /// Something changed (or there is no usable state): a full run.
    Changed,
}

/// The state as it is now, when only stat data changed.
pub struct Touched {
    options: String,
    taken: i128,
    n_inputs: usize,
    structure: usize,
    /// Every recorded path with its stat now.
    entries: Vec<(String, Stat)>,
    /// The inputs that were re-hashed and hold the same bytes.
    pub refreshed: Vec<Refreshed>,
    /// The content sources whose bytes changed.
    pub edited: Vec<Edited>,
}

impl Touched {
    /// Records the state with the new stat data. Outputs, and the inputs named in `restat`
    /// (a directory the caller just wrote into), are stat'ed again: the caller may just have
    /// rewritten one (the fingerprints, a key file).
    pub fn record(self, dir: &Path, build_dir: &str, restat: &[&str]) {
        let mut stats = Vec::with_capacity(self.entries.len());
        for (i, (p, s)) in self.entries.iter().enumerate() {
            if i < self.n_inputs && !restat.contains(&p.as_str()) {
                stats.push(*s);
                continue;
            }
            match stat(dir, p) {
                Some(s) => stats.push(s),
                None => return,
            }
        }
        let paths = self.entries.iter().map(|(p, _)| p.as_str());
        let text = render(&self.options, self.taken, self.n_inputs, self.structure, paths.zip(stats));
        let _ = fsutil::write_if_changed(&file(dir, build_dir), text.as_bytes());
    }
}

/// One recorded path.
struct Entry<'a> {
    path: &'a str,
    stat: Stat,
}

/// Compares everything gen recorded with the files as they are now, on every core. An input
/// whose stat changed is re-hashed and compared with `used(path)`, the BLAKE3 of the bytes gen
/// last used (`None`: unknown, so a change). An input without a hash whose stat is the same
/// but racily clean (a directory gen itself just wrote into) counts as unchanged when
/// `vouch(path)` says so. The first real difference in the structure stops every worker, so a
/// run that is going to be a full one anyway does not pay for statting everything first.
pub fn check(
    dir: &Path,
    build_dir: &str,
    options: &str,
    used: &(dyn Fn(&str) -> Option<String> + Sync),
    vouch: &(dyn Fn(&str) -> bool + Sync),
) -> Check {
    let started = now_ns();
    let Some(text) = fsutil::read_regular(&file(dir, build_dir)).ok().and_then(|b| String::from_utf8(b).ok()) else {
        return Check::Changed;
    };
    let Some((taken, n_inputs, structure, entries)) = parse(&text, options) else { return Check::Changed };
    let (inputs, outputs) = entries.split_at(n_inputs);
    // Outputs (a handful) must match exactly.
    if outputs.iter().any(|e| stat(dir, e.path) != Some(e.stat)) {
        return Check::Changed;
    }
    let differs = AtomicBool::new(false);
    // Set when a racily clean input, vouched for, is settled by now: recording the state
    // again lets the next run trust it by stat instead of vouching again.
    let settles = AtomicBool::new(false);
    let seen = std::sync::Mutex::new((Vec::new(), Vec::new()));
    let numbered: Vec<(usize, &Entry)> = inputs.iter().enumerate().collect();
    // The project directory as the kernel resolves it, once (for edited files only).
    let base_dir = std::sync::OnceLock::new();
    let base = || base_dir.get_or_init(|| std::fs::canonicalize(dir).ok()).as_deref().map(|b| (dir, b));
    let checked = crate::par::parallel_map(&numbered, |&(i, e)| {
        if differs.load(Ordering::Relaxed) {
            return Ok(());
        }
        // An input modified shortly before the record was taken may have changed again since
        // within the same timestamp tick: it is re-hashed, not trusted.
        let current = stat(dir, e.path);
        if current == Some(e.stat) && stat::settled(e.stat.1, taken) {
            return Ok(());
        }
        let last = used(e.path);
        if current == Some(e.stat) && last.is_none() && vouch(e.path) {
            if stat::settled(e.stat.1, started) {
                settles.store(true, Ordering::Relaxed);
            }
            return Ok(());
        }
        let now = match (current, last) {
            (Some(_), Some(last)) => rehash(&dir.join(e.path)).map(|(s, h)| (s, h == last, h)),
            _ => None,
        };
        let mut seen = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        match now {
            Some((s, true, _)) => seen.0.push((e.path, s)),
            // New bytes are taken without a full run only from a path that is what it says:
            // no symbolic link on the way (a root replaced by a link out of assets/ is the
            // full run's to refuse).
            Some((stat, false, hash)) if i >= structure && lexical(base(), e.path) => {
                seen.1.push(Edited { path: e.path.to_string(), stat, hash, taken: started })
            }
            _ => differs.store(true, Ordering::Relaxed),
        }
        Ok(())
    });
    let (rehashed, edited) = seen.into_inner().unwrap_or_default();
    if checked.is_err() || differs.load(Ordering::Relaxed) {
        return Check::Changed;
    }
    if rehashed.is_empty() && edited.is_empty() && !settles.load(Ordering::Relaxed) {
        return Check::Unchanged;
    }
    let mut now: std::collections::HashMap<&str, Stat> = rehashed.iter().copied().collect();
    now.extend(edited.iter().map(|e| (e.path.as_str(), e.stat)));
    let entries = entries.iter().map(|e| (e.path.to_string(), now.get(e.path).copied().unwrap_or(e.stat))).collect();
    let refreshed =
        rehashed.into_iter().map(|(path, stat)| Refreshed { path: path.to_string(), stat, taken: started }).collect();
    Check::Touched(Touched {
        options: options.to_string(),
        taken: started,
        n_inputs,
        structure,
        entries,
        refreshed,
        edited,
    })
}

/// Whether a project-relative path reaches its file without a symbolic link (`base`: the
/// project directory and its canonical form).
fn lexical(base: Option<(&Path, &Path)>, rel: &str) -> bool {
    let Some((dir, canonical)) = base else { return false };
    std::fs::canonicalize(dir.join(rel)).is_ok_and(|full| full == canonical.join(rel))
}

/// The stat of a file (taken from the handle it is read through, before reading) and the
/// hash of its bytes; `None` for a symbolic link or a file that cannot be read.
fn rehash(path: &Path) -> Option<(Stat, String)> {
    // A file that became a symbolic link may now point outside its asset root: only the full
    // run's input checks may accept it.
    if std::fs::symlink_metadata(path).ok()?.file_type().is_symlink() {
        return None;
    }
    let f = fsutil::open_regular(path).ok()?;
    let s = stat::of(&f.metadata().ok()?);
    let mut h = blake3::Hasher::new();
    h.update_reader(f).ok()?;
    Some((s, h.finalize().to_hex().to_string()))
}

/// The recorded entries, if the state is whole and was taken with these options.
fn parse<'a>(text: &'a str, options: &str) -> Option<(i128, usize, usize, Vec<Entry<'a>>)> {
    let mut parts = text.split('\0');
    if parts.next()? != MAGIC || parts.next()? != options {
        return None;
    }
    let taken = parts.next()?.parse::<i128>().ok()?;
    let n_inputs = parts.next()?.parse::<usize>().ok()?;
    let structure = parts.next()?.parse::<usize>().ok()?;
    let mut entries = Vec::new();
    while let Some(path) = parts.next().filter(|p| !p.is_empty()) {
        let (size, mtime, ino) = (parts.next()?, parts.next()?, parts.next()?);
        entries.push(Entry { path, stat: (size.parse().ok()?, mtime.parse().ok()?, ino.parse().ok()?) });
    }
    (structure <= n_inputs && n_inputs <= entries.len()).then_some((taken, n_inputs, structure, entries))
}

fn render<'a>(
    options: &str,
    taken: i128,
    n_inputs: usize,
    structure: usize,
    entries: impl Iterator<Item = (&'a str, Stat)>,
) -> String {
    let mut text = format!("{MAGIC}\0{options}\0{taken}\0{n_inputs}\0{structure}");
    for (p, (size, mtime, ino)) in entries {
        text.push_str(&format!("\0{p}\0{size}\0{mtime}\0{ino}"));
    }
    text
}

/// Records the state after a full run. Best effort: without it the next run is a full one.
pub fn record(dir: &Path, build_dir: &str, state: &GenState) {
    let taken = now_ns();
    let paths: Vec<&str> = state.inputs.iter().chain(&state.outputs).map(String::as_str).collect();
    let stats = crate::par::parallel_map(&paths, |p| Ok(stat(dir, p))).unwrap_or_default();
    if stats.len() != paths.len() || stats.iter().any(Option::is_none) {
        let _ = fsutil::remove_if_exists(&file(dir, build_dir));
        return;
    }
    let text = render(
        &state.options,
        taken,
        state.inputs.len(),
        state.structure,
        paths.into_iter().zip(stats.into_iter().flatten()),
    );
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
        GenState {
            options: "opts".into(),
            inputs: vec!["a".into(), "b".into()],
            structure: 2,
            outputs: vec!["out".into()],
        }
    }

    /// What gen last used of each input: the bytes `put` wrote first.
    fn used(p: &str) -> Option<String> {
        ["a", "b"].contains(&p).then(|| crate::hash::hash_bytes(b"x"))
    }

    /// A project with inputs `a`, `b` and output `out`, all old.
    fn project() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("build")).unwrap();
        for f in ["a", "b", "out"] {
            put(d.path(), f, b"x");
        }
        d
    }

    /// Vouches for nothing.
    fn no(_: &str) -> bool {
        false
    }

    fn unchanged(dir: &Path, options: &str) -> bool {
        matches!(check(dir, "build", options, &used, &no), Check::Unchanged)
    }

    #[test]
    fn unchanged_until_a_file_or_the_options_change() {
        let d = project();
        let dir = d.path();
        record(dir, "build", &state());
        assert!(unchanged(dir, "opts"));
        assert!(!unchanged(dir, "other opts"));
        put(dir, "b", b"yy");
        assert!(matches!(check(dir, "build", "opts", &used, &no), Check::Changed), "a changed input");
        record(dir, "build", &state());
        assert!(unchanged(dir, "opts"));
        std::fs::remove_file(dir.join("out")).unwrap();
        assert!(matches!(check(dir, "build", "opts", &used, &no), Check::Changed), "a missing output");
    }

    #[test]
    fn a_touched_input_with_the_same_bytes_is_no_change() {
        let d = project();
        let dir = d.path();
        record(dir, "build", &state());
        let later = std::time::SystemTime::now() - std::time::Duration::from_secs(30);
        std::fs::File::options().write(true).open(dir.join("a")).unwrap().set_modified(later).unwrap();
        let Check::Touched(t) = check(dir, "build", "opts", &used, &no) else { panic!("a touch is not a change") };
        assert_eq!(t.refreshed.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), ["a"]);
        t.record(dir, "build", &[]);
        assert!(unchanged(dir, "opts"), "recorded anew: the next run stops at once");
        // The same touch, but gen never knew what the file held: a full run.
        std::fs::File::options().write(true).open(dir.join("b")).unwrap().set_modified(later).unwrap();
        assert!(matches!(check(dir, "build", "opts", &|p| (p == "a").then(|| used(p)).flatten(), &no), Check::Changed));
        // A touched output is always a change: gen must look at what it wrote.
        record(dir, "build", &state());
        std::fs::File::options().write(true).open(dir.join("out")).unwrap().set_modified(later).unwrap();
        assert!(matches!(check(dir, "build", "opts", &used, &no), Check::Changed));
    }

    #[test]
    fn a_touched_input_that_became_a_symlink_is_a_change() {
        let d = project();
        let dir = d.path();
        record(dir, "build", &state());
        put(dir, "elsewhere", b"x");
        std::fs::remove_file(dir.join("a")).unwrap();
        std::os::unix::fs::symlink(dir.join("elsewhere"), dir.join("a")).unwrap();
        assert!(matches!(check(dir, "build", "opts", &used, &no), Check::Changed), "same bytes, but a link");
    }

    #[test]
    fn racily_clean_inputs_are_rehashed_and_damaged_records_mean_a_full_run() {
        let d = project();
        let dir = d.path();
        std::fs::write(dir.join("a"), b"x").unwrap(); // modified just now
        record(dir, "build", &state());
        assert!(matches!(check(dir, "build", "opts", &used, &no), Check::Touched(_)), "re-hashed, not trusted");
        std::fs::write(dir.join("a"), b"z").unwrap(); // same size, maybe the same mtime tick
        assert!(matches!(check(dir, "build", "opts", &used, &no), Check::Changed), "racily clean and different");
        put(dir, "a", b"x");
        record(dir, "build", &state());
        let text = std::fs::read_to_string(file(dir, "build")).unwrap();
        std::fs::write(file(dir, "build"), &text[..text.len() - 3]).unwrap();
        assert!(!unchanged(dir, "opts"), "a truncated record");
        std::fs::write(file(dir, "build"), text.replace(MAGIC, "packer-gen-state-2")).unwrap();
        assert!(!unchanged(dir, "opts"), "another layout");
    }

    #[test]
    fn an_edited_content_source_is_reported_and_an_edited_structure_input_is_a_change() {
        let d = project();
        let dir = d.path();
        let content = GenState { structure: 1, ..state() };
        record(dir, "build", &content);
        put(dir, "b", b"yy");
        let Check::Touched(t) = check(dir, "build", "opts", &used, &no) else { panic!("b is content") };
        assert!(t.refreshed.is_empty());
        let edited: Vec<(&str, &str)> = t.edited.iter().map(|e| (e.path.as_str(), e.hash.as_str())).collect();
        assert_eq!(edited, [("b", crate::hash::hash_bytes(b"yy").as_str())]);
        t.record(dir, "build", &[]);
        // Recorded with b's new stat: only gen's fingerprints still say "x" for it.
        assert!(matches!(check(dir, "build", "opts", &used, &no), Check::Unchanged));
        put(dir, "a", b"zz");
        assert!(matches!(check(dir, "build", "opts", &used, &no), Check::Changed), "a is structure");
        // A deleted content source is a change of the graph too: gen reports it.
        record(dir, "build", &content);
        std::fs::remove_file(dir.join("b")).unwrap();
        assert!(matches!(check(dir, "build", "opts", &used, &no), Check::Changed));
    }

    #[test]
    fn a_racily_clean_input_without_a_hash_is_trusted_only_when_vouched_for() {
        let d = project();
        let dir = d.path();
        std::fs::create_dir(dir.join("keys")).unwrap();
        let state = GenState { inputs: vec!["a".into(), "keys".into()], ..state() };
        record(dir, "build", &state);
        assert!(matches!(check(dir, "build", "opts", &used, &no), Check::Changed), "just written: racy");
        assert!(matches!(check(dir, "build", "opts", &used, &|p| p == "keys"), Check::Unchanged));
        std::fs::write(dir.join("keys/k"), b"k").unwrap();
        assert!(
            matches!(check(dir, "build", "opts", &used, &|p| p == "keys"), Check::Changed),
            "a stat that changed is never vouched for"
        );
    }
}
