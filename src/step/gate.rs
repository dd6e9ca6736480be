//! The gate of every step: decide up to date / restore / build, commit outputs atomically,
//! keep the record beside them, store in the cache, and log the outcome.

use crate::cache::{self, Cache};
use crate::canon;
use crate::fsutil;
use crate::keys::{ActionKey, Mode};
use crate::record::{previous_path, Digest, How, Record, RecordKeys};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What the gate needs of the local record: its keys and outputs, not its document (the
/// pack's is megabytes at 10,000 assets; serde skips it without building it).
#[derive(Debug, Deserialize)]
struct LocalRecord {
    key: RecordKeys,
    outputs: BTreeMap<String, Digest>,
}

fn read_local(path: &Path) -> Option<LocalRecord> {
    serde_json::from_slice(&fsutil::read_regular(path).ok()?).ok()
}

/// What an output is written from: bytes a step made, a verified cache object (copied, with
/// the object's mtime when the flag is set), or a file the step wrote in place (the pack's
/// container), put where it belongs by a rename.
pub enum Content<'a> {
    Bytes(&'a [u8]),
    Blob(&'a cache::Blob, bool),
    Staged(fsutil::Staged),
}

/// One output of a step: a label used in the record and its path.
pub struct Output {
    pub label: &'static str,
    pub path: PathBuf,
}

/// What one step run did; appended to `<obj-dir>/steps.log` as a JSON line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    UpToDate,
    /// Non-strict: the local artifact matches the weak key.
    UpToDateWeak,
    Restored,
    RestoredWeak,
    Built,
}

/// The log of step runs in an object directory.
pub fn log_path(obj_dir: &Path) -> PathBuf {
    obj_dir.join("steps.log")
}

/// One action's gate: where its record and outputs are, which cache and mode apply.
pub struct Gate {
    /// Stable action name (`asset/<id>` or `pack`), for the log.
    pub action: String,
    pub record: PathBuf,
    pub outputs: Vec<Output>,
    pub cache: Option<Cache>,
    pub mode: Mode,
    pub obj_dir: PathBuf,
    /// Whether gen's bulk restore gives outputs their cache object's mtime (the time they
    /// were built), as a hard link would: build/obj's artifacts, which only packer reads; not
    /// the pack's outputs, which users' builds consume by mtime.
    pub restore_keeps_mtime: bool,
}

impl Gate {
    /// Runs the gate for `key`. `build` gets the key and returns the key it actually built
    /// from (re-keyed if a source changed since gen) and the output bytes in `outputs` order.
    pub fn run(
        &self,
        key: ActionKey,
        build: impl FnOnce(ActionKey) -> anyhow::Result<(ActionKey, Vec<Vec<u8>>)>,
    ) -> anyhow::Result<Outcome> {
        let local = read_local(&self.record);
        let strong = key.strong.clone();
        // A step's own restore gives fresh mtimes, as Ninja 1.11 needs to record the edge as
        // done.
        let outcome = self.decide(&key, local.as_ref(), false)?;
        let outcome = match outcome {
            Some(o) => o,
            None => {
                let (key, bytes) = build(key)?;
                let rec = self.commit(key, &bytes, How::Built, local.as_ref())?;
                if let Some(c) = &self.cache {
                    let blobs = self.outputs.iter().zip(&bytes).filter_map(|(o, b)| {
                        let d = rec.outputs.get(o.label)?;
                        Some(cache::NewBlob { digest: d.blake3.as_str(), bytes: b.as_slice() })
                    });
                    if let Err(e) = c.put_hashed(&rec, blobs) {
                        eprintln!("packer: warning: could not store {} in the cache: {e:#}", self.action);
                    }
                }
                Outcome::Built
            }
        };
        self.log(outcome, &strong);
        Ok(outcome)
    }

    /// The gate without the build: up to date, or restored from the cache (and logged as
    /// the step would log it); `None` when only a build would do. gen uses it to restore
    /// artifacts in bulk, in one process, before Ninja looks at the edges.
    pub fn restore(&self, key: &ActionKey) -> anyhow::Result<Option<Outcome>> {
        let local = read_local(&self.record);
        let outcome = self.decide(key, local.as_ref(), self.restore_keeps_mtime)?;
        if let Some(o @ (Outcome::Restored | Outcome::RestoredWeak)) = outcome {
            self.log(o, &key.strong);
        }
        Ok(outcome)
    }

    /// Whether the outputs are up to date for `key`: recorded under it (or, non-strict, under
    /// its weak key) and intact — by stat, else by their bytes' digest. The one rule the step
    /// and `packer status` both decide by.
    pub fn up_to_date<S>(&self, key: &ActionKey<S>) -> Option<Outcome> {
        Self::up_to_date_with(self, key, read_local(&self.record).as_ref())
    }

    /// The record's keys when the outputs are intact against it (whatever the key now):
    /// what a dependant checks before reading a dependency's artifact.
    pub fn recorded_intact(&self) -> Option<RecordKeys> {
        let r = read_local(&self.record)?;
        self.intact(&r).then_some(r.key)
    }

    fn up_to_date_with<S>(&self, key: &ActionKey<S>, local: Option<&LocalRecord>) -> Option<Outcome> {
        let r = local?;
        if r.key.strong == key.strong && self.intact(r) {
            return Some(Outcome::UpToDate);
        }
        if self.mode == Mode::NonStrict && r.key.weak == key.weak && self.intact(r) {
            return Some(Outcome::UpToDateWeak);
        }
        None
    }

    /// Up to date, or restored from the cache; `None` means it must build.
    fn decide(
        &self,
        key: &ActionKey,
        local: Option<&LocalRecord>,
        keep_mtime: bool,
    ) -> anyhow::Result<Option<Outcome>> {
        if let Some(o) = self.up_to_date_with(key, local) {
            return Ok(Some(o));
        }
        let Some(c) = &self.cache else {
            return Ok(None);
        };
        let mut lookups = vec![(cache::Kind::Ac, key.strong.as_str(), How::Restored, Outcome::Restored)];
        if self.mode == Mode::NonStrict {
            lookups.push((cache::Kind::AcWeak, key.weak.as_str(), How::RestoredWeak, Outcome::RestoredWeak));
        }
        for (kind, k, how, outcome) in lookups {
            let Some((rec, blobs)) = c.get(kind, k) else {
                continue;
            };
            let labels: Vec<&str> = rec.outputs.keys().map(String::as_str).collect();
            let mut want: Vec<&str> = self.outputs.iter().map(|o| o.label).collect();
            want.sort();
            if labels != want {
                continue;
            }
            // Blobs come in label order; put them in output order.
            let contents: Vec<Content> = self
                .outputs
                .iter()
                .filter_map(|o| labels.iter().position(|l| *l == o.label).map(|i| Content::Blob(&blobs[i], keep_mtime)))
                .collect();
            // The cache verified every blob against these digests: no second hashing.
            let digests: Vec<Digest> = self.outputs.iter().filter_map(|o| rec.outputs.get(o.label).cloned()).collect();
            self.commit_hashed(rec.key, contents, &digests, how, local)?;
            return Ok(Some(outcome));
        }
        Ok(None)
    }

    fn intact(&self, r: &LocalRecord) -> bool {
        r.outputs.len() == self.outputs.len()
            && self.outputs.iter().all(|o| r.outputs.get(o.label).is_some_and(|d| intact(&o.path, d)))
    }

    /// Writes each output whose bytes changed, then the record.
    fn commit(
        &self,
        key: ActionKey,
        bytes: &[Vec<u8>],
        how: How,
        local: Option<&LocalRecord>,
    ) -> anyhow::Result<Record> {
        let digests: Vec<Digest> = bytes.iter().map(|b| Digest::of(b)).collect();
        let contents: Vec<Content> = bytes.iter().map(|b| Content::Bytes(b)).collect();
        self.commit_hashed(key, contents, &digests, how, local)
    }

    /// Commits outputs a step made itself, with their digests (the pack: its container
    /// staged as a file, its companions as bytes), recording them as `how`.
    pub fn commit_made<S: serde::Serialize>(
        &self,
        key: ActionKey<S>,
        contents: Vec<Content>,
        digests: &[Digest],
        how: How,
    ) -> anyhow::Result<Record<S>> {
        let local = read_local(&self.record);
        self.commit_hashed(key, contents, digests, how, local.as_ref())
    }

    /// The outputs' digests as the local record holds them, when each output is still the
    /// file it describes (by stat): what the pack may copy unchanged ranges from.
    pub fn recorded_by_stat(&self) -> Option<BTreeMap<String, Digest>> {
        let r = read_local(&self.record)?;
        let ok = self.outputs.iter().all(|o| r.outputs.get(o.label).is_some_and(|d| intact_by_stat(&o.path, d)));
        ok.then_some(r.outputs)
    }

    /// Appends the outcome to the step log with extra fields (the pack's counts).
    pub fn log_with(&self, outcome: Outcome, strong: &str, extra: serde_json::Value) {
        let mut line = serde_json::json!({"action": self.action, "outcome": outcome, "strong": strong});
        if let (Some(l), serde_json::Value::Object(e)) = (line.as_object_mut(), extra) {
            l.extend(e);
        }
        append_log(&self.obj_dir, &line);
    }

    /// [`Gate::commit`] with the outputs' digests already known.
    fn commit_hashed<S: serde::Serialize>(
        &self,
        key: ActionKey<S>,
        contents: Vec<Content>,
        known: &[Digest],
        how: How,
        local: Option<&LocalRecord>,
    ) -> anyhow::Result<Record<S>> {
        let mut digests = BTreeMap::new();
        for ((o, content), digest) in self.outputs.iter().zip(contents).zip(known) {
            let digest = Digest { stat: None, ..digest.clone() };
            // When the file is still what the last record says (by stat), the digests tell
            // whether the bytes changed: a large output (assets.pa) is not read back to compare.
            let recorded = local.and_then(|l| l.outputs.get(o.label)).filter(|d| intact_by_stat(&o.path, d));
            match (recorded, content) {
                (Some(d), _) if d.blake3 == digest.blake3 => {}
                (Some(_), Content::Bytes(b)) => {
                    fsutil::replace(&o.path, b)?;
                }
                (None, Content::Bytes(b)) => {
                    fsutil::write_if_changed(&o.path, b)?;
                }
                // No record vouches for the file there: compare by digest, not by reading
                // both into memory.
                (None, Content::Staged(_)) if file_digest(&o.path, digest.size).as_deref() == Some(&digest.blake3) => {}
                (_, Content::Staged(staged)) => staged.commit()?,
                (None, Content::Blob(cache::Blob { bytes: Some(b), .. }, _)) if fsutil::holds(&o.path, b) => {}
                (_, Content::Blob(blob, keep)) => fsutil::replace_from(&blob.path, &o.path, keep)?,
            }
            let stat = crate::stat::of_path(&o.path).map(|(_, mtime, ino)| (mtime, ino));
            digests.insert(o.label.to_string(), Digest { stat, ..digest });
        }
        // A new key: the record so far becomes the previous one (moved, nothing parsed).
        let new_key = local.is_some_and(|l| l.key.strong != key.strong);
        let rec = Record { key, outputs: digests, how: Some(how) };
        let bytes = canon::to_vec(&rec)?;
        if new_key {
            fsutil::replace_keeping_previous(&self.record, &previous_path(&self.record), &bytes)?;
        } else {
            fsutil::write_if_changed(&self.record, &bytes)?;
        }
        Ok(rec)
    }

    fn log(&self, outcome: Outcome, strong: &str) {
        self.log_with(outcome, strong, serde_json::Value::Null);
    }
}

/// Appends one JSON line to the step log (a single write on an O_APPEND file, so parallel
/// steps never interleave within a line). Best effort: logging never fails a step.
pub(crate) fn append_log(obj_dir: &Path, line: &serde_json::Value) {
    let mut text = line.to_string();
    text.push('\n');
    let path = log_path(obj_dir);
    let open = || {
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::File::options()
            .create(true)
            .append(true)
            .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
            .open(&path);
        match f {
            Ok(f) if f.metadata().is_ok_and(|m| m.is_file()) => Ok(f),
            // Not a regular file (a FIFO, a directory, a link): replaced by a new log.
            _ if std::fs::symlink_metadata(&path).is_ok() => {
                fsutil::remove_if_exists(&path).map_err(std::io::Error::other)?;
                std::fs::File::options().create(true).append(true).open(&path)
            }
            Ok(f) => Ok(f),
            Err(e) => Err(e),
        }
    };
    let log = open().or_else(|_| {
        std::fs::create_dir_all(obj_dir)?;
        open()
    });
    if let Ok(mut f) = log {
        let _ = f.write_all(text.as_bytes());
    }
}

/// BLAKE3 of a regular file of `size` bytes, streamed; `None` for anything else.
fn file_digest(path: &Path, size: u64) -> Option<String> {
    let f = fsutil::open_regular(path).ok()?;
    (f.metadata().ok()?.len() == size).then(|| crate::hash::hash_reader(&f).ok()).flatten()
}

/// Whether the file at `path` has the size, mtime and inode recorded when it was written.
fn intact_by_stat(path: &Path, d: &Digest) -> bool {
    matches!((d.stat, crate::stat::of_path(path)), (Some((mtime, ino)), Some((size, m, i))) if size == d.size && m == mtime && i == ino)
}

/// Whether the file at `path` has the recorded size and BLAKE3.
pub(crate) fn intact(path: &Path, d: &Digest) -> bool {
    if intact_by_stat(path, d) {
        return true;
    }
    match fsutil::read_regular(path) {
        Ok(bytes) => bytes.len() as u64 == d.size && crate::hash::hash_bytes(&bytes) == d.blake3,
        Err(_) => false,
    }
}
