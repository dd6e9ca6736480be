//! Fingerprints (SPEC §7): `assets/.prometeu/cache/fingerprints.json` remembers, per source,
//! size, mtime (ns), inode and BLAKE3, so that gen re-hashes only what changed. Size, mtime
//! and inode are hints; the hash is the authority. A file whose mtime is not safely older
//! than the moment its fingerprint was taken is "racily clean" (git's rule) and re-hashed.
//! Only gen writes the file; a missing or corrupt one is rebuilt silently.

use crate::fsutil;
use crate::stat::{self, mtime_ns, now_ns};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Where the fingerprints live, relative to the project directory.
pub const FILE: &str = "assets/.prometeu/cache/fingerprints.json";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub size: u64,
    pub mtime_ns: i128,
    pub inode: u64,
    pub blake3: String,
    /// When this fingerprint was taken (ns since the epoch).
    pub taken_ns: i128,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct FileFormat {
    version: u32,
    files: BTreeMap<String, Fingerprint>,
}

/// The fingerprints file as it is on disk, for a run that needs the entries of a few paths
/// (gen's state check, then its edit or touched path): at 10,000 assets the file is 6 MB,
/// parsing it whole took 21 ms and writing it from the map 11 ms, where finding a few
/// entries and patching them in place costs well under a millisecond each. The bytes are
/// what [`Fingerprints::save`] writes (`{"version":1,"files":{"<path>":{…},…}}`, the map in
/// order), so an entry's object is replaced by exactly the bytes a full save would give it.
pub struct Raw {
    bytes: Vec<u8>,
    /// Lookups so far: past [`FEW`], the file is parsed once and asked instead (a touch of
    /// everything or a branch switch asks for thousands of entries, and each search reads
    /// the whole file).
    lookups: AtomicUsize,
    parsed: std::sync::OnceLock<Fingerprints>,
}

/// How many entries are searched for in the bytes before the file is parsed instead.
const FEW: usize = 8;

const RAW_HEAD: &[u8] = b"{\"version\":1,\"files\":{";

impl Raw {
    /// The file, if it reads and starts as version 1 does (anything else: no fingerprints).
    pub fn load(project: &Path) -> Option<Raw> {
        let bytes = fsutil::read_regular(&project.join(FILE)).ok()?;
        bytes.starts_with(RAW_HEAD).then(|| Raw { bytes, lookups: AtomicUsize::new(0), parsed: Default::default() })
    }

    /// The file parsed (once).
    fn parsed(&self) -> &Fingerprints {
        self.parsed.get_or_init(|| Fingerprints::from_bytes(&self.bytes))
    }

    /// Where the object of `path`'s entry is: `None` if the path has none, or if its key is
    /// found more than once or not after `{` or `,` (never, in a file gen wrote).
    fn span(&self, path: &str) -> Option<std::ops::Range<usize>> {
        let mut needle = serde_json::to_vec(path).ok()?;
        needle.extend_from_slice(b":{");
        let mut found = memchr::memmem::find_iter(&self.bytes, &needle);
        let at = found.next()?;
        if found.next().is_some() || at < RAW_HEAD.len() || !matches!(self.bytes[at - 1], b'{' | b',') {
            return None;
        }
        let start = at + needle.len() - 1;
        // The object holds numbers and a hex string: it ends at the first `}`.
        let end = start + memchr::memchr(b'}', &self.bytes[start..])? + 1;
        Some(start..end)
    }

    /// The fingerprint of a project-relative path.
    pub fn get(&self, path: &str) -> Option<Fingerprint> {
        if self.lookups.fetch_add(1, Ordering::Relaxed) >= FEW {
            return self.parsed().files.get(path).cloned();
        }
        serde_json::from_slice(&self.bytes[self.span(path)?]).ok()
    }

    /// Replaces the fingerprints of paths that have one; `false` (and nothing changed) if one
    /// has none, or if they are more than a few, which the caller then writes through a full
    /// load.
    pub fn update(&mut self, changes: &[(&str, Fingerprint)]) -> anyhow::Result<bool> {
        if changes.len() > FEW {
            return Ok(false);
        }
        let mut spans = Vec::with_capacity(changes.len());
        for (path, fp) in changes {
            let Some(span) = self.span(path) else { return Ok(false) };
            spans.push((span, serde_json::to_vec(fp)?));
        }
        spans.sort_by_key(|(span, _)| span.start);
        if spans.windows(2).any(|w| w[0].0.end > w[1].0.start) {
            return Ok(false);
        }
        let mut out = Vec::with_capacity(self.bytes.len() + 64 * spans.len());
        let mut at = 0;
        for (span, bytes) in spans {
            out.extend_from_slice(&self.bytes[at..span.start]);
            out.extend_from_slice(&bytes);
            at = span.end;
        }
        out.extend_from_slice(&self.bytes[at..]);
        self.bytes = out;
        Ok(true)
    }

    /// Writes the file (only when it changed).
    pub fn save(&self, project: &Path) -> anyhow::Result<()> {
        fsutil::write_if_changed(&project.join(FILE), &self.bytes)?;
        Ok(())
    }
}

/// Takes new fingerprints of a few files (gen's edit and touched paths): `refreshed`, files
/// re-hashed and found to hold the same bytes (only those that have a fingerprint are
/// updated, as [`Fingerprints::refresh`] does), and `edited`, files with new bytes. Patched
/// into the file as loaded (`raw`) when it has an entry for each, else through a full load.
pub fn update_few(
    project: &Path,
    mut raw: Option<Raw>,
    refreshed: &[(&str, (u64, i128, u64), i128)],
    edited: Vec<(String, Fingerprint)>,
) -> anyhow::Result<()> {
    if let Some(raw) = raw.as_mut().filter(|_| refreshed.len() + edited.len() <= FEW) {
        let mut changes: Vec<(&str, Fingerprint)> = Vec::new();
        for &(path, (size, mtime_ns, inode), taken_ns) in refreshed {
            if let Some(old) = raw.get(path) {
                changes.push((path, Fingerprint { size, mtime_ns, inode, blake3: old.blake3, taken_ns }));
            }
        }
        changes.extend(edited.iter().map(|(p, f)| (p.as_str(), f.clone())));
        if raw.update(&changes)? {
            return raw.save(project);
        }
    }
    let mut fp = match raw {
        Some(raw) => raw.parsed.into_inner().unwrap_or_else(|| Fingerprints::from_bytes(&raw.bytes)),
        None => Fingerprints::load(project),
    };
    for &(path, stat, taken) in refreshed {
        fp.refresh(path, stat, taken);
    }
    fp.extend(edited);
    fp.save(project)
}

/// The fingerprints of one project, keyed by project-relative path.
#[derive(Debug, Default)]
pub struct Fingerprints {
    files: BTreeMap<String, Fingerprint>,
    /// How many files the last `hash_all` actually read.
    pub hashed: usize,
    /// Show a progress line on stderr while hashing many files (a terminal only).
    pub progress: bool,
    /// Time spent and bytes read by the last `hash_all`'s stat-and-hash work (for timings).
    pub hash_time: std::time::Duration,
    pub hashed_bytes: u64,
}

impl Fingerprints {
    /// Loads the fingerprints; anything unreadable means "none".
    pub fn load(project: &Path) -> Fingerprints {
        Fingerprints::from_bytes(&fsutil::read_regular(&project.join(FILE)).unwrap_or_default())
    }

    /// The fingerprints in the bytes of the file; anything unreadable means "none".
    fn from_bytes(bytes: &[u8]) -> Fingerprints {
        let files = serde_json::from_slice::<FileFormat>(bytes)
            .ok()
            .filter(|f| f.version == 1)
            .map(|f| f.files)
            .unwrap_or_default();
        Fingerprints { files, ..Fingerprints::default() }
    }

    /// Writes the fingerprints (only when they changed). Not canonical JSON, only
    /// deterministic (the map is sorted): it is never hashed, and serializing straight from
    /// the map saves a copy of it.
    pub fn save(&self, project: &Path) -> anyhow::Result<()> {
        #[derive(Serialize)]
        struct Borrowed<'a> {
            version: u32,
            files: &'a BTreeMap<String, Fingerprint>,
        }
        let bytes = serde_json::to_vec(&Borrowed { version: 1, files: &self.files })?;
        fsutil::write_if_changed(&project.join(FILE), &bytes)?;
        Ok(())
    }

    /// The BLAKE3 a fingerprint holds for a project-relative path.
    pub fn hash_of(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(|f| f.blake3.as_str())
    }

    /// Takes a new fingerprint of a file re-hashed by the caller at `taken_ns` and found to
    /// hold the same bytes (gen's state check, after a touch). Only paths that already have a
    /// fingerprint are updated.
    pub fn refresh(&mut self, path: &str, (size, mtime_ns, inode): (u64, i128, u64), taken_ns: i128) {
        if let Some(f) = self.files.get_mut(path) {
            *f = Fingerprint { size, mtime_ns, inode, blake3: std::mem::take(&mut f.blake3), taken_ns };
        }
    }

    /// Adds fingerprints of files read elsewhere (the registry and the declarations, which
    /// gen parses anyway), so that a later touch of them is told from an edit by content.
    pub fn extend(&mut self, read: impl IntoIterator<Item = (String, Fingerprint)>) {
        self.files.extend(read);
    }

    /// The BLAKE3 of each project-relative path, re-hashing only files whose stat changed or
    /// which were racily clean, on every core. Forgets files not asked about.
    pub fn hash_all(&mut self, project: &Path, paths: &[String]) -> anyhow::Result<Vec<String>> {
        let started = std::time::Instant::now();
        let mut out: Vec<Option<String>> = vec![None; paths.len()];
        let mut todo: Vec<usize> = Vec::new();
        // Stat (on every core) only what a fingerprint may vouch for; a file without one is
        // stat'ed through the handle it is hashed from, one path lookup instead of two.
        let mut stats: Vec<Option<std::fs::Metadata>> = crate::par::parallel_map(paths, |p| {
            Ok(self.files.contains_key(p).then(|| std::fs::metadata(project.join(p)).ok()).flatten())
        })?;
        for (i, (p, meta)) in paths.iter().zip(&stats).enumerate() {
            match (self.files.get(p), meta) {
                (Some(f), Some(m)) if fresh(f, m) => out[i] = Some(f.blake3.clone()),
                _ => todo.push(i),
            }
        }
        let taken = now_ns();
        let done = AtomicUsize::new(0);
        let finished = AtomicBool::new(false);
        let hashed = std::thread::scope(|s| {
            if self.progress && todo.len() >= PROGRESS_FROM {
                s.spawn(|| show_progress(&done, todo.len(), &finished));
            }
            let r = hash_parallel(project, paths, &todo, &done);
            finished.store(true, Ordering::Relaxed);
            r
        })?;
        self.hashed = todo.len();
        self.hash_time = started.elapsed();
        self.hashed_bytes = hashed.iter().map(|(_, m)| m.len()).sum();
        for (i, (h, m)) in todo.into_iter().zip(hashed) {
            out[i] = Some(h);
            stats[i] = Some(m);
        }
        let mut files = BTreeMap::new();
        for (i, p) in paths.iter().enumerate() {
            let hash = out[i].clone().unwrap_or_default();
            let Some(m) = &stats[i] else { continue };
            let old = self.files.get(p).filter(|f| fresh(f, m) && f.blake3 == hash);
            let fp = old.cloned().unwrap_or(Fingerprint {
                size: m.len(),
                mtime_ns: mtime_ns(m),
                inode: m.ino(),
                blake3: hash,
                taken_ns: taken,
            });
            files.insert(p.clone(), fp);
        }
        self.files = files;
        Ok(out.into_iter().map(Option::unwrap_or_default).collect())
    }
}

/// Reads a whole file and fingerprints the bytes read: the stat comes from the open handle
/// before reading, and the moment is taken before opening, as for every fingerprint.
pub fn read_fingerprinted(path: &Path) -> std::io::Result<(Vec<u8>, Fingerprint)> {
    use std::io::Read;
    let taken_ns = now_ns();
    let mut f = fsutil::open_input(path)?;
    let m = f.metadata()?;
    let mut bytes = Vec::with_capacity(m.len() as usize);
    f.read_to_end(&mut bytes)?;
    let print = Fingerprint {
        size: m.len(),
        mtime_ns: mtime_ns(&m),
        inode: m.ino(),
        blake3: crate::hash::hash_bytes(&bytes),
        taken_ns,
    };
    Ok((bytes, print))
}

/// Whether a fingerprint still describes the file: same size, mtime and inode, and the mtime
/// was safely older than the moment the fingerprint was taken.
fn fresh(f: &Fingerprint, m: &std::fs::Metadata) -> bool {
    f.size == m.len() && f.mtime_ns == mtime_ns(m) && f.inode == m.ino() && stat::settled(f.mtime_ns, f.taken_ns)
}

/// Below this many files to hash, no progress line.
const PROGRESS_FROM: usize = 2000;

/// Rewrites one stderr line with the count every 100 ms until `finished`, then clears it.
fn show_progress(done: &AtomicUsize, total: usize, finished: &AtomicBool) {
    use std::io::Write;
    while !finished.load(Ordering::Relaxed) {
        eprint!("\rpacker gen: hashing {}/{total}", done.load(Ordering::Relaxed));
        let _ = std::io::stderr().flush();
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    eprint!("\r\x1b[K");
}

/// Hashes `paths[i]` for each i in `which` on every core, counting in `done`. Each file's
/// stat is taken from its open handle before it is read, so a write during the read leaves
/// an mtime that is not older than the fingerprint, and the racy-clean rule re-hashes it.
fn hash_parallel(
    project: &Path,
    paths: &[String],
    which: &[usize],
    done: &AtomicUsize,
) -> anyhow::Result<Vec<(String, std::fs::Metadata)>> {
    crate::par::parallel_map(which, |&i| {
        let p = project.join(&paths[i]);
        let hashed = (|| {
            let f = fsutil::open_input(&p)?;
            let meta = f.metadata()?;
            let mut h = blake3::Hasher::new();
            h.update_reader(f)?;
            std::io::Result::Ok((h.finalize().to_hex().to_string(), meta))
        })();
        done.fetch_add(1, Ordering::Relaxed);
        hashed.map_err(|e| anyhow::anyhow!("hashing {}: {e}", p.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_fingerprints_patched_in_place_are_the_file_a_full_save_writes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(FILE).parent().unwrap()).unwrap();
        let print = |n: u64| Fingerprint {
            size: n,
            mtime_ns: 1_700_000_000_000_000_000 + n as i128,
            inode: n * 7,
            blake3: crate::hash::hash_bytes(&n.to_le_bytes()),
            taken_ns: 1_800_000_000_000_000_000,
        };
        // A path that ends another one, and paths JSON must escape.
        let paths = ["assets/a/b.png", "assets/xa/b.png", "assets/q\"uote/\\x.wav", "assets/é/ü.bin"];
        let mut full = Fingerprints::default();
        full.extend(paths.iter().enumerate().map(|(i, p)| (p.to_string(), print(i as u64))));
        full.save(dir.path()).unwrap();
        let mut raw = Raw::load(dir.path()).unwrap();
        for (i, p) in paths.iter().enumerate() {
            assert_eq!(raw.get(p), Some(print(i as u64)), "{p}");
        }
        assert_eq!(raw.get("assets/b.png"), None);
        assert_eq!(raw.get("b.png"), None);
        let changes = [(paths[2], print(40)), (paths[0], print(1_000_000))];
        assert!(raw.update(&changes).unwrap());
        full.extend(changes.iter().map(|(p, f)| (p.to_string(), f.clone())));
        full.save(dir.path()).unwrap();
        assert_eq!(raw.bytes, std::fs::read(dir.path().join(FILE)).unwrap());
        // A path without an entry changes nothing: the caller loads in full.
        let before = raw.bytes.clone();
        assert!(!raw.update(&[(paths[1], print(2)), ("assets/new.png", print(3))]).unwrap());
        assert_eq!(raw.bytes, before);

        // update_few: refreshed files keep their hash, edited ones take the new one, and a
        // new path goes through a full load.
        let refreshed = [(paths[1], (9, 9, 9), 5), ("assets/unknown.png", (1, 1, 1), 5)];
        update_few(dir.path(), Raw::load(dir.path()), &refreshed, vec![("assets/new.png".into(), print(3))]).unwrap();
        let back = Fingerprints::load(dir.path());
        let f = &back.files[paths[1]];
        assert_eq!((f.size, f.mtime_ns, f.inode, f.taken_ns, &f.blake3), (9, 9, 9, 5, &print(1).blake3));
        assert_eq!(back.files["assets/new.png"], print(3));
        assert!(!back.files.contains_key("assets/unknown.png"));

        // Past a few lookups the file is parsed once and asked instead; more than a few
        // changes go through the full save.
        let raw = Raw::load(dir.path()).unwrap();
        for _ in 0..3 * FEW {
            assert_eq!(raw.get(paths[3]), Some(print(3)));
            assert_eq!(raw.get("assets/none"), None);
        }
        let many: Vec<(String, Fingerprint)> = (0..FEW as u64 + 1).map(|n| (format!("m/{n}"), print(n))).collect();
        let as_changes: Vec<(&str, Fingerprint)> = many.iter().map(|(p, f)| (p.as_str(), f.clone())).collect();
        assert!(!Raw::load(dir.path()).unwrap().update(&as_changes).unwrap());
        update_few(dir.path(), Raw::load(dir.path()), &[], many.clone()).unwrap();
        let back = Fingerprints::load(dir.path());
        assert!(many.iter().all(|(p, f)| back.files.get(p) == Some(f)));
        assert_eq!(back.files["assets/new.png"], print(3));
    }

    #[test]
    fn racily_clean_files_are_rehashed_and_old_ones_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("a"), b"one").unwrap();
        let paths = vec!["a".to_string()];
        let mut fp = Fingerprints::default();
        assert_eq!(fp.hash_all(p, &paths).unwrap()[0], crate::hash::hash_bytes(b"one"));
        assert_eq!(fp.hashed, 1);
        // Same size, same mtime (set back), new content, just after the fingerprint: racy.
        let m = std::fs::metadata(p.join("a")).unwrap().modified().unwrap();
        std::fs::write(p.join("a"), b"two").unwrap();
        std::fs::File::options().write(true).open(p.join("a")).unwrap().set_modified(m).unwrap();
        assert_eq!(fp.hash_all(p, &paths).unwrap()[0], crate::hash::hash_bytes(b"two"));
        assert_eq!(fp.hashed, 1, "racily clean: re-hashed although stat matches");
        // An old file whose fingerprint was taken long after its mtime is trusted.
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options().write(true).open(p.join("a")).unwrap().set_modified(old).unwrap();
        fp.hash_all(p, &paths).unwrap();
        fp.hash_all(p, &paths).unwrap();
        assert_eq!(fp.hashed, 0);
    }

    #[test]
    fn corrupt_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("assets/.prometeu/cache")).unwrap();
        std::fs::write(dir.path().join(FILE), b"{garbage").unwrap();
        assert!(Fingerprints::load(dir.path()).files.is_empty());
    }
}
