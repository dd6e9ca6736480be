//! The key files, SPEC §5's gates, and gen's ledger of them.
//!
//! gen rewrites a key file only when its content changes. Deciding that by reading every key
//! file back costs a serialization, an open and a read per action at every full gen run. The
//! ledger (`<build>/.packer-gates`) remembers, per key file, the key it holds and the file's
//! size, mtime and inode after gen last wrote or checked it. A key file whose key is the same
//! and whose stat still matches, and whose mtime was safely older than the moment the ledger
//! was taken (the fingerprints' racy-clean rule), is left alone without being read; any other
//! is serialized and compared byte for byte as before. A missing or damaged ledger only costs
//! that comparison.

use crate::fsutil;
use crate::keys::{ActionKey, KeyFile, Mode};
use crate::stat::{self, Stat};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const MAGIC: &str = "packer-gates-3";

/// Where the ledger lives, in the build directory.
pub fn ledger_file(build_dir: &Path) -> PathBuf {
    build_dir.join(".packer-gates")
}

/// What a key file is to hold: a key, serialized here, or the bytes of its key file already
/// made (the pack's, patched in place by gen's edit path: `replan.rs`) with the keys they
/// hold.
pub enum KeyContent<'a> {
    Key(&'a ActionKey),
    Bytes { bytes: &'a [u8], strong: &'a str, weak: &'a str },
}

impl KeyContent<'_> {
    /// The key that decides the file's bytes: its strong key in strict mode; in non-strict
    /// mode the file holds the document without dependency keys, which the weak key names.
    fn deciding(&self, mode: Mode) -> &str {
        let (strong, weak) = match self {
            KeyContent::Key(k) => (k.strong.as_str(), k.weak.as_str()),
            KeyContent::Bytes { strong, weak, .. } => (*strong, *weak),
        };
        match mode {
            Mode::Strict => strong,
            Mode::NonStrict => weak,
        }
    }

    fn to_bytes(&self, mode: Mode) -> anyhow::Result<std::borrow::Cow<'_, [u8]>> {
        Ok(match self {
            KeyContent::Key(k) => KeyFile::bytes(mode, k)?.into(),
            KeyContent::Bytes { bytes, .. } => (*bytes).into(),
        })
    }
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Strict => "strict",
        Mode::NonStrict => "non-strict",
    }
}

/// What the ledger knows of one key file.
#[derive(Clone)]
struct Entry {
    /// The deciding key it holds.
    key: String,
    stat: Stat,
    /// When that stat was taken.
    taken: i128,
    /// BLAKE3 of the bytes gen wrote (or compared and found) there.
    digest: String,
}

/// gen's ledger of the key files, by file name (`7.key`).
pub struct Ledger {
    files: HashMap<String, Entry>,
}

impl Ledger {
    /// The ledger of `build_dir` for `mode`; `None` when missing, damaged or of another mode.
    pub fn load(build_dir: &Path, mode: Mode) -> Option<Ledger> {
        load(&ledger_file(build_dir), mode)
    }

    /// The key a key file was last written with (the strong key in strict mode).
    pub fn key(&self, name: &str) -> Option<&str> {
        self.files.get(name).map(|e| e.key.as_str())
    }

    /// The BLAKE3 of the bytes gen last wrote to a key file.
    pub fn digest(&self, name: &str) -> Option<&str> {
        self.files.get(name).map(|e| e.digest.as_str())
    }

    /// Every key file it knows, with its key.
    pub fn keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(name, e)| (name.as_str(), e.key.as_str()))
    }

    /// Whether every key file it knows is still as gen last wrote or checked it (same size,
    /// mtime and inode): what a change of the directory's mtime would have told of a
    /// deletion or a replacement, and more, for a directory whose own stat is racily clean.
    pub fn files_match(&self, keys_dir: &Path) -> bool {
        let files: Vec<(&String, &Stat)> = self.files.iter().map(|(name, e)| (name, &e.stat)).collect();
        let same =
            crate::par::parallel_map(
                &files,
                |(name, st)| Ok(stat::of_path(&keys_dir.join(name)).as_ref() == Some(*st)),
            );
        !files.is_empty() && same.is_ok_and(|s| s.into_iter().all(|same| same))
    }
}

fn load(path: &Path, mode: Mode) -> Option<Ledger> {
    let text = String::from_utf8(fsutil::read_regular(path).ok()?).ok()?;
    let mut lines = text.lines();
    let mut head = lines.next()?.split(' ');
    if head.next()? != MAGIC || head.next()? != mode_name(mode) {
        return None;
    }
    let mut files = HashMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(' ').collect();
        let [name, key, size, mtime, ino, taken, digest] = f[..] else { return None };
        let stat = (size.parse().ok()?, mtime.parse().ok()?, ino.parse().ok()?);
        let entry = Entry { key: key.to_string(), stat, taken: taken.parse().ok()?, digest: digest.to_string() };
        files.insert(name.to_string(), entry);
    }
    Some(Ledger { files })
}

fn name_of(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Whether [`write`] is given every key file, or some of them (gen's edit path): then the
/// ledger keeps what it knew of the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    All,
    Some,
}

/// What [`write`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Key files written.
    pub keys: usize,
    /// Of those, how many gates stayed shut because `restore` brought the artifact up to date.
    pub restored: usize,
    /// The files rewritten whose gates were left open (not restored), by index in `files`.
    pub opened: Vec<usize>,
}

/// How many key files [`write`] decides at once before writing the changed ones.
const WRITE_CHUNK: usize = 256;

/// Writes each key file whose content changes (atomically), then the ledger. The decisions
/// run on every core, a chunk at a time; the writes are sequential, because creating files in one directory
/// from several threads contends on the directory (measured: 4.2 s against 1.0 s for 10,000
/// files).
///
/// For each rewritten key file, `restore(i)` may bring the action's artifact up to date for
/// its new key (from the cache, in this process). When it does, the key file gets back the
/// mtime it had before: to Ninja the gate then looks as it did before this run, so an edge
/// that was clean stays clean and none of the thousands of restores of a branch switch costs
/// a process. The order (key file, artifact, mtime) keeps every interruption safe: until the
/// mtime is restored, the key file is newer than the edge's last run and the step runs.
/// The last `late` files are restored after all the others (the pack, whose key depends on
/// every other action's artifact).
/// `ledger` is the ledger as gen loaded it (`Ledger::load`), if it did.
#[allow(clippy::too_many_arguments)]
pub fn write(
    build_dir: &Path,
    mode: Mode,
    scope: Scope,
    ledger: Option<&Ledger>,
    files: &[(PathBuf, KeyContent)],
    late: usize,
    restore: impl Fn(usize) -> bool + Sync,
) -> anyhow::Result<Written> {
    let ledger_path = ledger_file(build_dir);
    // Per file: the digest of what it holds (`None`: trusted by the ledger, whose digest
    // stands). The decisions run a chunk at a time, so that the bytes of a chunk's changed
    // files are all that is held at once (a cold gen at 10,000 assets held 18 MB of them).
    let mut digests: Vec<Option<String>> = Vec::with_capacity(files.len());
    let mut written = Written::default();
    let mut before = Vec::new();
    for (c, chunk) in files.chunks(WRITE_CHUNK).enumerate() {
        let decided = crate::par::parallel_map(chunk, |(path, k)| {
            let trusted = ledger.is_some_and(|l| {
                l.files.get(&name_of(path)).is_some_and(|e| {
                    e.key == k.deciding(mode)
                        && stat::settled(e.stat.1, e.taken)
                        && stat::of_path(path).as_ref() == Some(&e.stat)
                })
            });
            if trusted {
                return Ok((None, None));
            }
            let bytes = k.to_bytes(mode)?;
            let digest = crate::hash::hash_bytes(&bytes);
            Ok(((!fsutil::holds(path, &bytes)).then(|| bytes.into_owned()), Some(digest)))
        })?;
        for (j, (bytes, digest)) in decided.into_iter().enumerate() {
            digests.push(digest);
            let Some(bytes) = bytes else { continue };
            let i = c * WRITE_CHUNK + j;
            let path = &files[i].0;
            written.opened.push(i);
            let old = std::fs::metadata(path).and_then(|m| m.modified()).ok();
            // Through `<id>.prev`, which keeps the key file before: rewriting a gate then
            // creates and frees no file (see `fsutil::replace_keeping_previous`).
            fsutil::replace_keeping_previous(path, &path.with_extension("prev"), &bytes)?;
            written.keys += 1;
            before.extend(old.map(|t| (i, t)));
        }
    }
    // `before` is in file order: the late ones are at its end.
    let split = before.iter().position(|(i, _)| *i >= files.len().saturating_sub(late)).unwrap_or(before.len());
    let (early, last) = before.split_at(split);
    let mut restored = crate::par::parallel_map(early, |&(i, _)| Ok(restore(i)))?;
    restored.extend(last.iter().map(|&(i, _)| restore(i)));
    let mut shut = std::collections::HashSet::new();
    for ((i, mtime), _) in before.iter().zip(restored).filter(|(_, r)| *r) {
        let f = std::fs::File::options().write(true).open(&files[*i].0)?;
        f.set_modified(*mtime)?;
        written.restored += 1;
        shut.insert(*i);
    }
    written.opened.retain(|o| !shut.contains(o));
    let taken = stat::now_ns();
    let stats = crate::par::parallel_map(files, |(path, _)| Ok(stat::of_path(path)))?;
    // Each entry keeps the moment its stat was taken, so that the edit path's ledger (which
    // carries over the entries of files it did not write) never trusts an old racy stat.
    let old = |name: &str| ledger.and_then(|l| l.files.get(name)).map(|e| e.digest.clone());
    let mut entries: std::collections::BTreeMap<String, Entry> = match (scope, ledger) {
        (Scope::Some, Some(l)) => l.files.iter().map(|(n, e)| (n.clone(), e.clone())).collect(),
        _ => Default::default(),
    };
    for (((path, k), st), digest) in files.iter().zip(stats).zip(digests) {
        let name = name_of(path);
        match (st, digest.or_else(|| old(&name))) {
            (Some(stat), Some(digest)) => {
                entries.insert(name, Entry { key: k.deciding(mode).to_string(), stat, taken, digest })
            }
            _ => entries.remove(&name),
        };
    }
    let mut text = format!("{MAGIC} {}\n", mode_name(mode));
    for (name, e) in &entries {
        let (size, mtime, ino) = e.stat;
        text.push_str(&format!("{name} {} {size} {mtime} {ino} {} {}\n", e.key, e.taken, e.digest));
    }
    // Best effort: without a ledger the next run compares bytes.
    if fsutil::write_if_changed(&ledger_path, text.as_bytes()).is_err() {
        let _ = fsutil::remove_if_exists(&ledger_path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyDoc;

    fn keyed(step: &str) -> ActionKey {
        KeyDoc {
            core_version: 1,
            step: step.into(),
            step_version: "1".into(),
            step_key: serde_json::Value::Null,
            sources: Vec::new(),
            dependencies_strong: vec!["d".into()],
            dependencies_weak: vec!["asset/1".into()],
        }
        .keyed()
    }

    /// Makes every recorded stat look old enough to trust (as if the ledger were taken later).
    fn age_ledger(build: &Path) {
        let p = ledger_file(build);
        let text = std::fs::read_to_string(&p).unwrap();
        let (head, rest) = text.split_once('\n').unwrap();
        let mut lines = vec![head.to_string()];
        for line in rest.lines() {
            let mut parts: Vec<String> = line.split(' ').map(String::from).collect();
            parts[5] = (parts[5].parse::<i128>().unwrap() + 10_000_000_000).to_string();
            lines.push(parts.join(" "));
        }
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    }

    #[test]
    fn unchanged_keys_are_not_rewritten_and_changed_ones_are() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        let (a, c) = (keyed("a"), keyed("c"));
        let files = vec![(b.join("1.key"), KeyContent::Key(&a)), (b.join("2.key"), KeyContent::Key(&c))];
        assert_eq!(
            write(b, Mode::Strict, Scope::All, Ledger::load(b, Mode::Strict).as_ref(), &files, 0, |_| false)
                .unwrap()
                .keys,
            2
        );
        age_ledger(b);
        assert_eq!(
            write(b, Mode::Strict, Scope::All, Ledger::load(b, Mode::Strict).as_ref(), &files, 0, |_| false)
                .unwrap()
                .keys,
            0
        );
        let c2 = keyed("c2");
        let files = vec![(b.join("1.key"), KeyContent::Key(&a)), (b.join("2.key"), KeyContent::Key(&c2))];
        assert_eq!(
            write(b, Mode::Strict, Scope::All, Ledger::load(b, Mode::Strict).as_ref(), &files, 0, |_| false)
                .unwrap()
                .keys,
            1
        );
        let back: KeyFile = serde_json::from_slice(&std::fs::read(b.join("2.key")).unwrap()).unwrap();
        assert_eq!(back.keyed, c2);
    }

    #[test]
    fn a_key_file_changed_behind_the_ledger_is_restored() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        let a = keyed("a");
        let files = vec![(b.join("1.key"), KeyContent::Key(&a))];
        write(b, Mode::Strict, Scope::All, Ledger::load(b, Mode::Strict).as_ref(), &files, 0, |_| false).unwrap();
        age_ledger(b);
        // Damaged in place (same inode, new size and mtime), then deleted: both are rewritten.
        std::fs::write(b.join("1.key"), b"garbage").unwrap();
        assert_eq!(
            write(b, Mode::Strict, Scope::All, Ledger::load(b, Mode::Strict).as_ref(), &files, 0, |_| false)
                .unwrap()
                .keys,
            1
        );
        age_ledger(b);
        std::fs::remove_file(b.join("1.key")).unwrap();
        assert_eq!(
            write(b, Mode::Strict, Scope::All, Ledger::load(b, Mode::Strict).as_ref(), &files, 0, |_| false)
                .unwrap()
                .keys,
            1
        );
        // Damaged within the racy window without a trace in its stat (same size, mtime and
        // inode): the ledger was taken too soon after the write to vouch for it.
        let path = b.join("1.key");
        let before = std::fs::metadata(&path).unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&f, b"X", 0).unwrap();
        f.set_modified(before.modified().unwrap()).unwrap();
        assert_eq!(
            write(b, Mode::Strict, Scope::All, Ledger::load(b, Mode::Strict).as_ref(), &files, 0, |_| false)
                .unwrap()
                .keys,
            1
        );
    }

    #[test]
    fn a_restored_action_keeps_its_key_file_mtime_and_others_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        let (a, c) = (keyed("a"), keyed("c"));
        write(
            b,
            Mode::Strict,
            Scope::All,
            Ledger::load(b, Mode::Strict).as_ref(),
            &[(b.join("1.key"), KeyContent::Key(&a)), (b.join("2.key"), KeyContent::Key(&a))],
            0,
            |_| false,
        )
        .unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        for k in ["1.key", "2.key"] {
            std::fs::File::options().write(true).open(b.join(k)).unwrap().set_modified(old).unwrap();
        }
        let order = std::sync::Mutex::new(Vec::new());
        let restore = |i| {
            order.lock().unwrap().push(i);
            i == 0
        };
        let done = write(
            b,
            Mode::Strict,
            Scope::All,
            Ledger::load(b, Mode::Strict).as_ref(),
            &[(b.join("1.key"), KeyContent::Key(&c)), (b.join("2.key"), KeyContent::Key(&c))],
            1,
            restore,
        )
        .unwrap();
        assert_eq!(done, Written { keys: 2, restored: 1, opened: vec![1] });
        assert_eq!(*order.lock().unwrap(), [0, 1], "the late one after the others");
        let mtime = |k: &str| std::fs::metadata(b.join(k)).unwrap().modified().unwrap();
        assert_eq!(mtime("1.key"), old, "restored: the gate looks as before");
        assert!(mtime("2.key") > old, "not restored: the gate opens");
        for k in ["1.key", "2.key"] {
            let back: KeyFile = serde_json::from_slice(&std::fs::read(b.join(k)).unwrap()).unwrap();
            assert_eq!(back.keyed, c, "{k} holds the new key either way");
        }
    }

    #[test]
    fn a_ledger_of_the_other_mode_or_damaged_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        let a = keyed("a");
        let files = vec![(b.join("1.key"), KeyContent::Key(&a))];
        write(b, Mode::Strict, Scope::All, Ledger::load(b, Mode::Strict).as_ref(), &files, 0, |_| false).unwrap();
        age_ledger(b);
        assert_eq!(
            write(b, Mode::NonStrict, Scope::All, Ledger::load(b, Mode::NonStrict).as_ref(), &files, 0, |_| false)
                .unwrap()
                .keys,
            1
        );
        std::fs::write(ledger_file(b), "packer-gates-3 non-strict\n1.key x\n").unwrap();
        assert_eq!(
            write(b, Mode::NonStrict, Scope::All, Ledger::load(b, Mode::NonStrict).as_ref(), &files, 0, |_| false)
                .unwrap()
                .keys,
            0
        );
    }
}
