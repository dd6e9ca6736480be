//! The artifact cache (SPEC §7): a CAS of output blobs by BLAKE3, and an action cache from
//! strong key (and, first writer wins, from weak key) to a step record. Entries are immutable,
//! written atomically, and verified when read; a corrupt entry is removed and reported as a
//! miss, so the step rebuilds. Last use is an action entry's mtime (set on a hit, to the
//! minute); a blob's is that of the newest action entry naming it. Blobs keep their mtime, so
//! an output restored as a hard link of its blob never sees its mtime move. `gc` evicts by
//! last use.
//!
//! Layout (bazel-remote's, sharded by the first two hex digits):
//! `cas/<aa>/<digest>`, `ac/<aa>/<strong key>`, `ac-weak/<aa>/<weak key>`.

use crate::canon;
use crate::fsutil;
use crate::record::Record;
use anyhow::Context;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Default location, relative to the project directory.
pub const DEFAULT_DIR: &str = "assets/.prometeu/cache";
/// Environment variable that overrides the location (shared by worktrees, CI, …).
pub const ENV: &str = "PACKER_CACHE_DIR";

/// A cache directory.
#[derive(Clone, Debug)]
pub struct Cache {
    pub dir: PathBuf,
}

/// The kinds of entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Cas,
    Ac,
    AcWeak,
    /// The pack's: the digests of outputs that are assembled from other actions' objects
    /// rather than stored (design.md, "The pack in the cache").
    Asm,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Cas, Kind::Ac, Kind::AcWeak, Kind::Asm];

    fn dir(self) -> &'static str {
        match self {
            Kind::Cas => "cas",
            Kind::Ac => "ac",
            Kind::AcWeak => "ac-weak",
            Kind::Asm => "asm",
        }
    }
}

/// An assembled action's entry: its strong key and its outputs' digests, no document and
/// no objects of its own.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct Assembled {
    pub strong: String,
    pub outputs: std::collections::BTreeMap<String, crate::record::Digest>,
}

impl Cache {
    pub fn new(dir: impl Into<PathBuf>) -> Cache {
        Cache { dir: dir.into() }
    }

    fn path(&self, kind: Kind, key: &str) -> PathBuf {
        // A hand-edited key may be anything: shard by its first two characters, never by a
        // byte index that could fall inside one.
        let shard: String = key.chars().take(2).collect();
        self.dir.join(kind.dir()).join(shard).join(key)
    }

    /// Stores an output blob under its digest. Returns the digest.
    pub fn put_blob(&self, bytes: &[u8]) -> anyhow::Result<String> {
        let digest = crate::hash::hash_bytes(bytes);
        fsutil::write_once(&self.path(Kind::Cas, &digest), bytes)?;
        Ok(digest)
    }

    /// Reads a blob and checks it against its digest; a corrupt one is removed. Blobs up to
    /// [`KEEP_BYTES`] come back with their bytes; larger ones are hashed as they stream by
    /// and come back as a path, to be copied or linked from.
    pub fn get_blob(&self, digest: &str) -> Option<Blob> {
        use std::io::Read;
        let path = self.path(Kind::Cas, digest);
        let mut f = fsutil::open_regular(&path).ok()?;
        let size = f.metadata().ok()?.len();
        let mut h = blake3::Hasher::new();
        let bytes = if size <= KEEP_BYTES {
            let mut b = Vec::with_capacity(size as usize);
            f.read_to_end(&mut b).ok()?;
            h.update(&b);
            Some(b)
        } else {
            h.update_reader(&mut f).ok()?;
            None
        };
        if h.finalize().to_hex().as_str() != digest {
            let _ = std::fs::remove_file(&path);
            return None;
        }
        Some(Blob { path, bytes })
    }

    /// Stores a record and its output blobs: under its strong key, and under its weak key
    /// unless some artifact already holds that weak key.
    pub fn put(&self, rec: &Record, outputs: &[Vec<u8>]) -> anyhow::Result<()> {
        let digests: Vec<String> = outputs.iter().map(|b| crate::hash::hash_bytes(b)).collect();
        self.put_hashed(rec, digests.iter().zip(outputs).map(|(d, b)| NewBlob { digest: d, bytes: b }))
    }

    /// [`Cache::put`] with each blob's digest already known (a step's outputs are hashed once,
    /// for its record). Objects are files of their own, never links of build outputs: a tool
    /// that rewrites an output in place cannot reach the cache (design.md).
    pub fn put_hashed<'a>(&self, rec: &Record, blobs: impl IntoIterator<Item = NewBlob<'a>>) -> anyhow::Result<()> {
        for b in blobs {
            fsutil::write_once(&self.path(Kind::Cas, b.digest), b.bytes)?;
        }
        let bytes = rec.entry_bytes()?;
        fsutil::write_once(&self.path(Kind::Ac, &rec.key.strong), &bytes)?;
        fsutil::write_once(&self.path(Kind::AcWeak, &rec.key.weak), &bytes)?;
        Ok(())
    }

    /// Looks up an action by strong (`Kind::Ac`) or weak (`Kind::AcWeak`) key and returns its
    /// record and output blobs, verified, in the record's label order. Any inconsistency (unparsable
    /// entry, key mismatch, missing or corrupt blob) removes the entry and is a miss.
    pub fn get(&self, kind: Kind, key: &str) -> Option<(Record, Vec<Blob>)> {
        let p = self.path(kind, key);
        let (f, bytes) = read_entry(&p)?;
        let found = parse_entry(&bytes).filter(|r| match kind {
            Kind::Ac => r.key.strong == key,
            _ => r.key.weak == key,
        });
        let Some(rec) = found else {
            let _ = std::fs::remove_file(&p);
            return None;
        };
        let mut blobs = Vec::with_capacity(rec.outputs.len());
        for d in rec.outputs.values() {
            match self.get_blob(&d.blake3) {
                Some(b) => blobs.push(b),
                None => {
                    let _ = std::fs::remove_file(&p);
                    return None;
                }
            }
        }
        touch(&f);
        Some((rec, blobs))
    }

    /// Stores an assembled action's entry (the pack's): a few hundred bytes, where storing
    /// its outputs would copy the whole game into the cache on every edit.
    pub fn put_assembled(&self, entry: &Assembled) -> anyhow::Result<()> {
        fsutil::write_once(&self.path(Kind::Asm, &entry.strong), &canon::to_vec(entry)?)?;
        Ok(())
    }

    /// The assembled entry of a strong key, if there is a valid one (a damaged one is
    /// removed: a miss). A hit counts as a use.
    pub fn get_assembled(&self, strong: &str) -> Option<Assembled> {
        let p = self.path(Kind::Asm, strong);
        let (f, bytes) = read_entry(&p)?;
        match serde_json::from_slice::<Assembled>(&bytes) {
            Ok(e) if e.strong == strong => {
                touch(&f);
                Some(e)
            }
            _ => {
                let _ = std::fs::remove_file(&p);
                None
            }
        }
    }

    /// Removes an assembled entry that turned out not to describe what its key assembles.
    pub fn drop_assembled(&self, strong: &str) {
        if crate::hash::is_hex_key(strong.as_bytes()) {
            let _ = std::fs::remove_file(self.path(Kind::Asm, strong));
        }
    }

    /// Removes temp files older than `age` (left by a killed process; the cache may be shared
    /// by builds running now, whose temp files are younger).
    pub fn sweep_temp_files(&self, age: Duration) {
        let now = SystemTime::now();
        for kind in Kind::ALL {
            let Ok(shards) = std::fs::read_dir(self.dir.join(kind.dir())) else { continue };
            for shard in shards.flatten() {
                let Ok(files) = std::fs::read_dir(shard.path()) else { continue };
                for f in files.flatten() {
                    let old = f.metadata().and_then(|m| m.modified()).is_ok_and(|t| t + age < now);
                    if old && f.file_name().to_string_lossy().starts_with(fsutil::TEMP_PREFIX) {
                        let _ = std::fs::remove_file(f.path());
                    }
                }
            }
        }
    }

    /// Whether an action entry exists (for `status`; not verified, not touched).
    pub fn has(&self, kind: Kind, key: &str) -> bool {
        crate::hash::is_hex_key(key.as_bytes()) && self.path(kind, key).is_file()
    }

    /// Every entry: kind, key, path, size, last use.
    pub fn entries(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        for kind in Kind::ALL {
            let Ok(shards) = std::fs::read_dir(self.dir.join(kind.dir())) else {
                continue;
            };
            for shard in shards.flatten() {
                let Ok(files) = std::fs::read_dir(shard.path()) else {
                    continue;
                };
                for f in files.flatten() {
                    let name = f.file_name().to_string_lossy().into_owned();
                    let Ok(meta) = f.metadata() else { continue };
                    if !crate::hash::is_hex_key(name.as_bytes()) || !meta.is_file() {
                        continue;
                    }
                    out.push(Entry {
                        kind,
                        key: name,
                        path: f.path(),
                        size: meta.len(),
                        used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    });
                }
            }
        }
        out
    }

    /// Counts and sizes per kind.
    pub fn stats(&self) -> Stats {
        let mut s = Stats { dir: self.dir.display().to_string(), ..Stats::default() };
        for e in self.entries() {
            let (n, b) = match e.kind {
                Kind::Cas => (&mut s.cas_objects, &mut s.cas_bytes),
                Kind::Ac => (&mut s.ac_entries, &mut s.ac_bytes),
                Kind::AcWeak => (&mut s.weak_entries, &mut s.weak_bytes),
                Kind::Asm => (&mut s.assembled_entries, &mut s.assembled_bytes),
            };
            *n += 1;
            *b += e.size;
        }
        s.total_bytes = s.cas_bytes + s.ac_bytes + s.weak_bytes + s.assembled_bytes;
        s
    }

    /// Checks every entry; removes and returns the corrupt ones.
    pub fn verify(&self) -> anyhow::Result<Vec<String>> {
        let mut bad = Vec::new();
        let entries = self.entries();
        for e in entries.iter().filter(|e| e.kind == Kind::Cas) {
            let ok = std::fs::read(&e.path).map(|b| crate::hash::hash_bytes(&b) == e.key).unwrap_or(false);
            if !ok {
                bad.push(format!("cas/{}: content does not match its digest", e.key));
                fsutil::remove_if_exists(&e.path)?;
            }
        }
        for e in entries.iter().filter(|e| e.kind == Kind::Asm) {
            let ok = std::fs::read(&e.path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Assembled>(&b).ok())
                .is_some_and(|a| a.strong == e.key);
            if !ok {
                bad.push(format!("asm/{}: not a valid assembled entry", e.key));
                fsutil::remove_if_exists(&e.path)?;
            }
        }
        for e in entries.iter().filter(|e| matches!(e.kind, Kind::Ac | Kind::AcWeak)) {
            let rec = std::fs::read(&e.path).ok().and_then(|b| parse_entry(&b));
            let problem = match rec {
                None => Some("not a valid action entry".to_string()),
                Some(r)
                    if (e.kind == Kind::Ac && r.key.strong != e.key)
                        || (e.kind == Kind::AcWeak && r.key.weak != e.key) =>
                {
                    Some("its key document does not hash to its name".to_string())
                }
                Some(r) => r
                    .outputs
                    .values()
                    .find(|d| !self.path(Kind::Cas, &d.blake3).is_file())
                    .map(|d| format!("references missing blob {}", d.blake3)),
            };
            if let Some(p) = problem {
                bad.push(format!("{}/{}: {p}", e.kind.dir(), e.key));
                fsutil::remove_if_exists(&e.path)?;
            }
        }
        Ok(bad)
    }

    /// Least-recently-used eviction: everything unused for longer than `max_age`, then the
    /// oldest until the total is at most `max_size`. Returns (entries, bytes) removed. A blob
    /// was last used when the newest action entry naming it was, so it goes with (or after)
    /// the last of them; a blob no entry names goes by its own mtime.
    pub fn gc(&self, max_age: Option<Duration>, max_size: Option<u64>) -> anyhow::Result<(usize, u64)> {
        self.sweep_temp_files(Duration::from_secs(3600));
        let mut entries = self.entries();
        let mut blob_use: std::collections::HashMap<String, SystemTime> = std::collections::HashMap::new();
        for e in entries.iter().filter(|e| matches!(e.kind, Kind::Ac | Kind::AcWeak)) {
            let Some(rec) = std::fs::read(&e.path).ok().and_then(|b| serde_json::from_slice::<Record>(&b).ok()) else {
                continue;
            };
            for d in rec.outputs.values() {
                let t = blob_use.entry(d.blake3.clone()).or_insert(e.used);
                *t = (*t).max(e.used);
            }
        }
        for e in entries.iter_mut().filter(|e| e.kind == Kind::Cas) {
            if let Some(t) = blob_use.get(&e.key) {
                e.used = *t;
            }
        }
        // Blobs after the entries of the same moment, so no entry outlives its blobs.
        entries.sort_by_key(|e| (e.used, e.kind == Kind::Cas));
        let now = SystemTime::now();
        let mut total: u64 = entries.iter().map(|e| e.size).sum();
        let (mut n, mut bytes) = (0, 0);
        for e in &entries {
            let too_old = max_age.is_some_and(|age| now.duration_since(e.used).unwrap_or_default() >= age);
            let too_big = max_size.is_some_and(|max| total > max);
            if too_old || too_big {
                fsutil::remove_if_exists(&e.path).with_context(|| format!("evicting {}", e.path.display()))?;
                total -= e.size;
                n += 1;
                bytes += e.size;
            }
        }
        Ok((n, bytes))
    }
}

/// A blob to store: its digest and bytes.
pub struct NewBlob<'a> {
    pub digest: &'a str,
    pub bytes: &'a [u8],
}

/// Blobs up to this size are returned with their bytes; larger ones only as a path.
pub const KEEP_BYTES: u64 = 1 << 20;

/// A verified blob: where it is, and its bytes unless it is large.
pub struct Blob {
    pub path: PathBuf,
    pub bytes: Option<Vec<u8>>,
}

impl Blob {
    /// The bytes, read again from the object when they were not kept.
    pub fn into_bytes(self) -> std::io::Result<Vec<u8>> {
        match self.bytes {
            Some(b) => Ok(b),
            None => std::fs::read(&self.path),
        }
    }
}

/// One cache file.
pub struct Entry {
    pub kind: Kind,
    pub key: String,
    pub path: PathBuf,
    pub size: u64,
    pub used: SystemTime,
}

#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub dir: String,
    pub cas_objects: u64,
    pub cas_bytes: u64,
    pub ac_entries: u64,
    pub ac_bytes: u64,
    pub weak_entries: u64,
    pub weak_bytes: u64,
    pub assembled_entries: u64,
    pub assembled_bytes: u64,
    pub total_bytes: u64,
}

/// Parses an action entry and checks that its document hashes to its keys.
fn parse_entry(bytes: &[u8]) -> Option<Record> {
    let rec: Record = serde_json::from_slice(bytes).ok()?;
    (rec.key.doc.keys() == (rec.key.strong.clone(), rec.key.weak.clone())).then_some(rec)
}

/// Opens and reads an entry, keeping the handle for [`touch`].
fn read_entry(p: &Path) -> Option<(std::fs::File, Vec<u8>)> {
    use std::io::Read;
    let mut f = fsutil::open_regular(p).ok()?;
    let mut bytes = Vec::with_capacity(f.metadata().map(|m| m.len() as usize).unwrap_or(0));
    f.read_to_end(&mut bytes).ok()?;
    Some((f, bytes))
}

/// Use younger than this is not recorded again: last use is kept to the minute, which is
/// all `gc` needs, and a burst of hits (a branch switch) costs no writes to the cache.
const TOUCH_RESOLUTION: Duration = Duration::from_secs(60);

/// Marks an entry as just used, through the handle it was read from (best effort: a
/// read-only cache still works).
fn touch(f: &std::fs::File) {
    let now = SystemTime::now();
    let recent = f.metadata().and_then(|m| m.modified()).is_ok_and(|t| t + TOUCH_RESOLUTION > now);
    if !recent {
        let _ = f.set_modified(now);
    }
}

/// Parses `30s`, `15m`, `2h`, `7d`, `0` (seconds when no unit).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("`{s}` is not a duration like 30s, 15m, 2h or 7d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        "w" => n * 7 * 86400,
        _ => return Err(format!("unknown unit in `{s}`: use s, m, h, d or w")),
    };
    Ok(Duration::from_secs(secs))
}

/// Parses `1000`, `64K`, `10M`, `2G` (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("`{s}` is not a size like 500M"))?;
    let mul = match unit.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(format!("unknown unit in `{s}`: use K, M, G or T")),
    };
    n.checked_mul(mul).ok_or_else(|| format!("`{s}` is larger than packer can count (2^64 bytes)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert!(parse_duration("7y").is_err());
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        // Regression: a huge size overflowed to a limit of 0, which would empty the cache.
        assert!(parse_size("99999999999T").is_err());
        // Regression: a non-ASCII hand-edited key panicked when sharded.
        let c = Cache::new("/nonexistent");
        assert!(c.get(Kind::Ac, "é€x").is_none());
    }

    #[test]
    fn a_flipped_byte_in_a_blob_is_a_miss_and_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::new(dir.path());
        let d = c.put_blob(b"hello").unwrap();
        assert_eq!(c.get_blob(&d).unwrap().bytes.unwrap(), b"hello");
        let p = c.path(Kind::Cas, &d);
        std::fs::write(&p, b"hellp").unwrap();
        assert!(c.get_blob(&d).is_none());
        assert!(!p.exists());
    }
}
