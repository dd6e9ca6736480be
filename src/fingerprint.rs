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
        let files = fsutil::read_regular(&project.join(FILE))
            .ok()
            .and_then(|b| serde_json::from_slice::<FileFormat>(&b).ok())
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
