//! `packer step pack`: every asset artifact → `assets.pa` and its JSON companions (SPEC §4).
//!
//! Its key document lists each asset's table fields in `step-key` and each asset action's
//! strong key in `dependencies-strong` — the keys recorded beside the artifacts it reads, so
//! it is always strict. Its inputs arrive through a Ninja response file.

use super::gate::Content;
use super::{Digest, Gate, How, Outcome, Output, RecordKeys};
use crate::cache::Cache;
use crate::canon;
use crate::diag::{fail, Blocked, Code, Diagnostic};
use crate::escape;
use crate::keys::{ActionKey, KeyDoc, Mode};
use crate::pa;
use crate::plan::{pack_key_doc, PackEntry, PackStepKey, PackStepKeyRef};
use crate::stat::Stat;
use crate::workspace::Workspace;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub const STEP: &str = crate::plan::PACK_STEP;
/// Changes whenever the container or companion bytes could change.
pub const VERSION: &str = crate::plan::PACK_VERSION;

/// Arguments of `packer step pack`.
#[derive(Clone, Debug)]
pub struct Options {
    pub key: Option<PathBuf>,
    pub rsp: Option<PathBuf>,
    pub obj_dir: PathBuf,
    pub out_dir: PathBuf,
    pub cache: Option<PathBuf>,
    /// Project directory, used only without a key file.
    pub project: PathBuf,
}

/// The four outputs, in a fixed order.
pub fn outputs(out_dir: &Path) -> Vec<Output> {
    crate::layout::PACK_OUTPUTS.into_iter().map(|(label, file)| Output { label, path: out_dir.join(file) }).collect()
}

pub fn run(o: &Options) -> anyhow::Result<Outcome> {
    let _locks = super::lock_action(&o.obj_dir, "pack", o.key.is_some())?;
    // The document read typed, not as a JSON tree: at 10,000 assets the tree (and serde's
    // buffer for a flattened struct) took 27 MB of the pack's peak memory.
    #[derive(Deserialize)]
    struct PackKey {
        doc: KeyDoc<PackStepKey>,
    }
    let doc = match o.key.as_deref().map(super::read_key_file_as::<PackKey>) {
        Some(Ok(k)) => k.doc,
        Some(Err(e)) => {
            eprintln!("{e:#}\npacker: computing the key from the workspace instead");
            own_doc(o)?
        }
        None => own_doc(o)?,
    };
    let (doc, step_key) = doc.swap_step_key(());
    let prefixes = artifact_prefixes(o, &step_key.assets);
    let cache = o.cache.as_ref().map(Cache::new);
    let packing = Packing { obj_dir: &o.obj_dir, out_dir: &o.out_dir, cache: cache.as_ref(), repair: true };
    Ok(packing.run(doc, &step_key.assets, &prefixes)?.expect("a pack that may build always has an outcome"))
}

/// gen's bulk restore of the pack, for `key` (the planned one, every asset's record holding
/// its planned strong key): up to date, or assembled from the artifacts when the cache has
/// an assembled entry for the key (nothing is converted, and the result is checked against
/// the entry). `None` leaves the pack to its step: no entry, or an artifact needing repair.
pub fn restore(
    obj_dir: &Path,
    out_dir: &Path,
    cache: &Cache,
    key: &ActionKey<PackStepKey>,
) -> anyhow::Result<Option<Outcome>> {
    let assets = &key.doc.step_key.assets;
    let prefixes: Vec<PathBuf> = assets.iter().map(|e| obj_dir.join(e.asset_id.to_string())).collect();
    let packing = Packing { obj_dir, out_dir, cache: Some(cache), repair: false };
    packing.run(key.doc.cloned_around(()), assets, &prefixes)
}

/// One run of the pack: where, with which cache, and whether it may build (and repair).
struct Packing<'a> {
    obj_dir: &'a Path,
    out_dir: &'a Path,
    cache: Option<&'a Cache>,
    /// A step may repair artifacts and build; gen's restore only assembles what an entry
    /// vouches for, with every artifact intact.
    repair: bool,
}

/// What one pack did, for the step log (`records_read`: the records and metadata files it
/// had to read, the others known from its index; payloads read from `<id>.bin` or copied
/// from the previous container).
#[derive(Default)]
struct Counts {
    records_read: usize,
    payloads_read: usize,
    payloads_copied: usize,
}

impl Packing<'_> {
    /// `doc` is the pack's key document without its step key: that is `entries`, borrowed.
    fn run(&self, doc: KeyDoc<()>, entries: &[PackEntry], prefixes: &[PathBuf]) -> anyhow::Result<Option<Outcome>> {
        let (mut doc, ()) = doc.swap_step_key(PackStepKeyRef { assets: entries });
        let gate = gate(self.obj_dir, self.out_dir, self.cache.cloned());
        let mut index = Index::load(self.obj_dir);
        // Where the previous container holds each payload; the artifacts themselves move
        // out of the index (one copy of each in memory, not two).
        let placed = index.placed();
        let known = std::mem::take(&mut index.assets).into_iter().map(|e| (e.id, e.art)).collect();
        let taken_ns = crate::stat::now_ns();
        let mut counts = Counts::default();
        let Some(mut arts) = self.gather(entries, prefixes, known, index.taken_ns, &mut counts)? else {
            return Ok(None);
        };
        doc.dependencies_strong = arts.iter().map(|a| a.strong.clone()).collect();
        let mut key = doc.keyed();
        if let Some(o) = gate.up_to_date(&key) {
            // What was read is kept for the next pack, when the index still describes this
            // container.
            if counts.records_read > 0 && index.describes(&gate) {
                let offsets = pa::layout(arts.iter().map(|a| a.size as usize));
                Index::save(self.obj_dir, taken_ns, &index.container, index.payload_offset, entries, &arts, &offsets)?;
            }
            // gen's restore logs only what it restored, as every gate does.
            if self.repair {
                gate.log_with(o, &key.strong, counts.json());
            }
            return Ok(Some(o));
        }
        let entry = self.cache.and_then(|c| c.get_assembled(&key.strong));
        if !self.repair && entry.is_none() {
            return Ok(None);
        }
        // The previous container, when it is still the file the record describes: unchanged
        // payloads are copied from it, in the kernel, instead of read from their artifacts.
        let previous =
            index.describes(&gate).then(|| crate::fsutil::open_regular(&gate.outputs[0].path).ok()).flatten();
        let previous = previous.as_ref().map(|f| (f, &placed));
        // Nothing unverified is packed: every payload read from an artifact is checked
        // against its record's digest (those copied were checked when the previous container
        // was made, and it is intact by stat). A damaged one is reported, rebuilt, and the
        // container made again (once: a second mismatch fails the step).
        for attempt in 0..2 {
            let made = assemble(entries, prefixes, &arts, previous, &gate.outputs[0].path, &mut counts)?;
            if made.damaged.is_empty() {
                let how = match &entry {
                    Some(e) if e.outputs == made.digests() => How::Restored,
                    Some(_) => {
                        eprintln!("packer: warning: the cache's entry for the pack does not match what it assembles; replaced");
                        if let Some(c) = self.cache {
                            c.drop_assembled(&key.strong);
                        }
                        How::Built
                    }
                    None => How::Built,
                };
                let contents: Vec<Content> = std::iter::once(Content::Staged(made.container))
                    .chain(made.companions.iter().map(|b| Content::Bytes(b)))
                    .collect();
                let strong = key.strong.clone();
                // The key moves into the record and is freed with it: the pack's document is
                // megabytes at 10,000 assets, and no second copy of it is made.
                let outputs = gate.commit_made(key, contents, &made.outputs_digests, how)?.entry_outputs();
                drop(made.companions);
                if let (Some(c), How::Built) = (self.cache, how) {
                    if let Err(e) = c.put_assembled(&crate::cache::Assembled { strong: strong.clone(), outputs }) {
                        eprintln!("packer: warning: could not store the pack in the cache: {e:#}");
                    }
                }
                let container = &made.outputs_digests[0].blake3;
                Index::save(
                    self.obj_dir,
                    taken_ns,
                    container,
                    made.payload_offset as u64,
                    entries,
                    &arts,
                    &made.offsets,
                )?;
                let outcome = if how == How::Restored { Outcome::Restored } else { Outcome::Built };
                gate.log_with(outcome, &strong, counts.json());
                return Ok(Some(outcome));
            }
            if !self.repair {
                return Ok(None);
            }
            if attempt == 1 {
                let i = made.damaged[0];
                return fail(
                    Diagnostic::error(
                        Code::PK021,
                        "the asset's artifact still does not match its record after a rebuild",
                        "is another tool writing into the build directory? Remove it and build again",
                    )
                    .file(super::with_ext(&prefixes[i], "bin").display())
                    .asset(&entries[i].asset_name),
                );
            }
            for &i in &made.damaged {
                let id = entries[i].asset_id.to_string();
                super::repair_artifact(
                    self.obj_dir,
                    &id,
                    self.cache_dir(),
                    "the artifact does not match its record (damaged)",
                )?;
                arts[i] = self.read_or_repair(&entries[i], &prefixes[i], &mut counts)?;
            }
            let strong: Vec<String> = arts.iter().map(|a| a.strong.clone()).collect();
            if strong != key.doc.dependencies_strong {
                key = KeyDoc { dependencies_strong: strong, ..key.doc }.keyed();
            }
        }
        unreachable!("the loop returns")
    }

    fn cache_dir(&self) -> Option<&Path> {
        self.cache.map(|c| c.dir.as_path())
    }

    /// Every asset's artifact, in table order: the one the index knew (`known`, taken when
    /// the index was, at `taken_ns`) when its record and metadata file are still the files
    /// the index read (by stat, and older than the index by the racy-clean window), else read
    /// (and counted). `None` when one needs repair and this run may not repair.
    fn gather(
        &self,
        entries: &[PackEntry],
        prefixes: &[PathBuf],
        mut known: std::collections::HashMap<u64, Art>,
        taken_ns: i128,
        counts: &mut Counts,
    ) -> anyhow::Result<Option<Vec<Art>>> {
        let jobs: Vec<(&PackEntry, &PathBuf)> = entries.iter().zip(prefixes).collect();
        // Per asset: `None` when the index's artifact still holds, else what reading gave.
        let found = crate::par::parallel_map(&jobs, |(e, prefix)| {
            if known.get(&e.asset_id).is_some_and(|a| a.still(prefix, taken_ns)) {
                return Ok(None);
            }
            Ok(Some(read_art(prefix)))
        })?;
        let mut arts = Vec::with_capacity(found.len());
        for ((e, prefix), f) in jobs.into_iter().zip(found) {
            match f {
                None => arts.push(known.remove(&e.asset_id).expect("checked above")),
                Some(Some(a)) => {
                    counts.records_read += 1;
                    arts.push(a);
                }
                Some(None) if !self.repair => return Ok(None),
                Some(None) => arts.push(self.read_or_repair(e, prefix, counts)?),
            }
        }
        Ok(Some(arts))
    }

    /// An asset's artifact read from its record and metadata file. One whose record is
    /// missing or unreadable (deleted, damaged, foreign), or whose metadata file does not
    /// match it, would wedge every later build — Ninja sees the artifact in place and never
    /// runs its step — so it is rebuilt here first.
    fn read_or_repair(&self, e: &PackEntry, prefix: &Path, counts: &mut Counts) -> anyhow::Result<Art> {
        counts.records_read += 1;
        if let Some(a) = read_art(prefix) {
            return Ok(a);
        }
        let id = e.asset_id.to_string();
        super::repair_artifact(
            self.obj_dir,
            &id,
            self.cache_dir(),
            "its build record or metadata is missing, unreadable or damaged",
        )?;
        let rec_path = super::with_ext(prefix, "rec");
        read_art(prefix).ok_or_else(|| Blocked::from(missing_artifact(&rec_path, &e.asset_name)).into())
    }
}

impl Counts {
    fn json(&self) -> Value {
        json!({
            "records_read": self.records_read,
            "payloads_read": self.payloads_read,
            "payloads_copied": self.payloads_copied,
        })
    }
}

/// What the pack needs of one artifact: its record's keys and digests, and its metadata
/// file's content, with the stat of both files when they were read (what lets the next pack
/// skip reading them).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Art {
    strong: String,
    weak: String,
    /// The payload's size and BLAKE3, as recorded.
    size: u64,
    payload: String,
    decoded_size: u64,
    metadata: Value,
    rec_stat: Stat,
}

impl Art {
    /// Whether the record is still the file this was read from (by stat, and older than the
    /// index by the racy-clean window). The metadata file is not stat'ed: a step writes it
    /// before the record that holds its digest, so a new one comes with a new record, and
    /// what the index holds is what that record vouches for.
    fn still(&self, prefix: &Path, taken_ns: i128) -> bool {
        crate::stat::of_path(&super::with_ext(prefix, "rec")).is_some_and(|now| now == self.rec_stat)
            && crate::stat::settled(self.rec_stat.1, taken_ns)
    }
}

/// What the pack reads of a record: its keys and its outputs' digests.
#[derive(Debug, Deserialize)]
struct Recorded {
    key: RecordKeys,
    outputs: std::collections::BTreeMap<String, super::Digest>,
}

/// Reads an artifact's record and metadata file (each stat'ed through the handle it is read
/// from); `None` when either is missing or unreadable, or the metadata does not hash to the
/// record's digest of it.
fn read_art(prefix: &Path) -> Option<Art> {
    let read = |ext: &str| -> Option<(Vec<u8>, Stat)> {
        use std::io::Read;
        let mut f = crate::fsutil::open_regular(&super::with_ext(prefix, ext)).ok()?;
        let stat = crate::stat::of(&f.metadata().ok()?);
        let mut bytes = Vec::with_capacity(stat.0 as usize);
        f.read_to_end(&mut bytes).ok()?;
        Some((bytes, stat))
    };
    let (rec_bytes, rec_stat) = read("rec")?;
    let rec: Recorded = serde_json::from_slice(&rec_bytes).ok()?;
    let (meta_bytes, _) = read("json")?;
    let payload = rec.outputs.get("payload")?;
    if rec.outputs.get("meta").map(|d| d.blake3.as_str()) != Some(crate::hash::hash_bytes(&meta_bytes).as_str()) {
        return None;
    }
    let meta: Value = serde_json::from_slice(&meta_bytes).ok()?;
    Some(Art {
        strong: rec.key.strong,
        weak: rec.key.weak,
        size: payload.size,
        payload: payload.blake3.clone(),
        decoded_size: meta["decoded_size"].as_u64().unwrap_or(0),
        metadata: meta["metadata"].clone(),
        rec_stat,
    })
}

/// `obj/pack.idx`: what the last pack knew of each artifact and where each payload sits in
/// the container it made. Not a Ninja output; missing or damaged means empty (the next pack
/// reads every record, as a first one does). Its first line is the BLAKE3 of the rest: a
/// damaged index that still parsed would name wrong offsets or metadata.
#[derive(Debug, Serialize, Deserialize)]
struct Index<A = Art> {
    /// When the artifacts' stats were taken (before the first was): the racy-clean rule's
    /// reference.
    taken_ns: i128,
    /// BLAKE3 of the container it describes (the pack record's `payload` digest).
    container: String,
    payload_offset: u64,
    assets: Vec<IndexEntry<A>>,
}

/// One artifact in the index (written from borrowed artifacts, `A = &Art`: no copies).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct IndexEntry<A = Art> {
    id: u64,
    /// Offset of the payload, relative to `payload_offset`.
    offset: u64,
    art: A,
}

/// Payload digest → its offset in a container.
type PayloadsAt = std::collections::HashMap<String, u64>;

const INDEX_FILE: &str = "pack.idx";
/// The container's label among the outputs.
const CONTAINER: &str = crate::layout::PACK_OUTPUTS[0].0;

impl Default for Index {
    fn default() -> Index {
        Index { taken_ns: 0, container: String::new(), payload_offset: 0, assets: Vec::new() }
    }
}

impl Index {
    fn load(obj_dir: &Path) -> Index {
        let bytes = crate::fsutil::read_regular(&obj_dir.join(INDEX_FILE)).unwrap_or_default();
        let Some(split) = bytes.iter().position(|&b| b == b'\n') else { return Index::default() };
        let (sum, json) = (&bytes[..split], &bytes[split + 1..]);
        if sum != crate::hash::hash_bytes(json).as_bytes() {
            return Index::default();
        }
        serde_json::from_slice(json).unwrap_or_default()
    }

    /// Where each payload digest sits in the container this index describes (from its
    /// start).
    fn placed(&self) -> PayloadsAt {
        self.assets.iter().map(|e| (e.art.payload.clone(), self.payload_offset + e.offset)).collect()
    }

    /// Whether this index describes the container in place: the one the pack's record
    /// holds, still intact by stat.
    fn describes(&self, gate: &Gate) -> bool {
        gate.recorded_by_stat().and_then(|d| d.get(CONTAINER).map(|d| d.blake3 == self.container)) == Some(true)
    }

    /// Writes the index of `container`: each artifact at its payload's offset.
    fn save(
        obj_dir: &Path,
        taken_ns: i128,
        container: &str,
        payload_offset: u64,
        entries: &[PackEntry],
        arts: &[Art],
        offsets: &[usize],
    ) -> anyhow::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::FileExt;
        let assets = index_entries(entries, arts, offsets);
        let index = Index { taken_ns, container: container.to_string(), payload_offset, assets };
        // Streamed into the staged file (at 10,000 assets the text is 4 MB, which the pack
        // held twice at its peak), hashed on the way, the sum written into the first line
        // at the end; the file is left alone when its sum and size are already those.
        let path = obj_dir.join(INDEX_FILE);
        let staged = crate::fsutil::stage(&path)?;
        let mut out = Hashing { out: std::io::BufWriter::new(staged.file()), hash: blake3::Hasher::new(), len: 0 };
        out.out.write_all(&[b'0'; 65])?;
        serde_json::to_writer(&mut out, &index)?;
        out.out.flush()?;
        let sum = out.hash.finalize().to_hex();
        let len = 65 + out.len;
        drop(out);
        staged.file().write_all_at(format!("{sum}\n").as_bytes(), 0)?;
        // The same bytes when the old file is as long and its sum line and its body (hashed
        // as it streams by) both are the new sum: a body damaged under an intact sum line is
        // replaced.
        let mut old = [0u8; 65];
        let same = crate::fsutil::open_regular(&path).is_ok_and(|mut f| {
            f.metadata().is_ok_and(|m| m.len() == len)
                && std::io::Read::read_exact(&mut f, &mut old).is_ok()
                && old[..64] == *sum.as_bytes()
                && crate::hash::hash_reader(&f).is_ok_and(|body| body == sum.as_str())
        });
        if !same {
            staged.commit()?;
        }
        Ok(())
    }
}

/// A writer that hashes and counts what goes through it.
struct Hashing<W> {
    out: W,
    hash: blake3::Hasher,
    len: u64,
}

impl<W: std::io::Write> std::io::Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The index's entries, borrowing the artifacts.
fn index_entries<'a>(entries: &[PackEntry], arts: &'a [Art], offsets: &[usize]) -> Vec<IndexEntry<&'a Art>> {
    entries
        .iter()
        .zip(arts)
        .zip(offsets)
        .map(|((e, a), &offset)| IndexEntry { id: e.asset_id, offset: offset as u64, art: a })
        .collect()
}

/// A container assembled in a staged file, and its companions.
struct Made {
    container: crate::fsutil::Staged,
    companions: Vec<Vec<u8>>,
    outputs_digests: Vec<Digest>,
    offsets: Vec<usize>,
    payload_offset: usize,
    /// Assets whose payload did not match its record.
    damaged: Vec<usize>,
}

impl Made {
    fn digests(&self) -> std::collections::BTreeMap<String, Digest> {
        outputs(Path::new(""))
            .into_iter()
            .zip(&self.outputs_digests)
            .map(|(o, d)| (o.label.to_string(), d.clone()))
            .collect()
    }
}

/// Assembles the container into a temp file beside `out`: the header, then each payload
/// at its offset, copied in the kernel from the previous container when it holds the same
/// bytes (by digest) and read from its artifact otherwise (and checked); the gaps are holes
/// that read as zeros. The container is never held in memory. Then its companions.
fn assemble(
    entries: &[PackEntry],
    prefixes: &[PathBuf],
    arts: &[Art],
    previous: Option<(&std::fs::File, &PayloadsAt)>,
    out: &Path,
    counts: &mut Counts,
) -> anyhow::Result<Made> {
    use std::os::unix::fs::FileExt;
    let sizes: Vec<usize> = arts.iter().map(|a| usize::try_from(a.size)).collect::<Result<_, _>>()?;
    let offsets = pa::layout(sizes.iter().copied());
    let (table, preload, tooling) = tables(entries, arts, &offsets);
    let (head, payload_offset) = pa::head(&Header { asset_table: &table, preload: &preload })?;
    let end = payload_offset + pa::end_of(&offsets, &sizes);
    let staged = crate::fsutil::stage(out)?;
    let f = staged.file();
    f.set_len(end as u64).with_context(|| format!("writing {}", out.display()))?;
    f.write_all_at(&head, 0).with_context(|| format!("writing {}", out.display()))?;
    // Runs of payloads that keep their distance from each other (everything before an
    // edited payload, everything after it) are one copy each: the gaps between them are the
    // same zero padding in both containers.
    let mut jobs: Vec<Job> = Vec::new();
    for i in 0..arts.len() {
        let at = (payload_offset + offsets[i]) as u64;
        let len = sizes[i] as u64;
        match (previous.and_then(|(_, placed)| placed.get(&arts[i].payload)), jobs.last_mut()) {
            _ if len == 0 => {}
            (Some(&from), Some(Job::Copy { from: f0, at: a0, len: l0, count }))
                if from >= *f0 + *l0 && at >= *a0 && from - *f0 == at - *a0 =>
            {
                *l0 = from + len - *f0;
                *count += 1;
            }
            (Some(&from), _) => jobs.push(Job::Copy { from, at, len, count: 1 }),
            (None, _) => jobs.push(Job::Read { i, at }),
        }
    }
    let results = crate::par::parallel_map(&jobs, |job| match *job {
        Job::Copy { from, at, len, count } => {
            let (old_file, _) = previous.expect("copies come from a previous container");
            copy_range(old_file, from, f, at, len).with_context(|| format!("writing {}", out.display()))?;
            Ok(Placed::Copied(count))
        }
        Job::Read { i, at } => {
            let bin = super::with_ext(&prefixes[i], "bin");
            let bytes = crate::fsutil::read_regular(&bin).unwrap_or_default();
            if bytes.len() != sizes[i] || crate::hash::hash_bytes(&bytes) != arts[i].payload {
                return Ok(Placed::Damaged(i));
            }
            f.write_all_at(&bytes, at).with_context(|| format!("writing {}", out.display()))?;
            Ok(Placed::Read)
        }
    })?;
    let mut damaged = Vec::new();
    for r in results {
        match r {
            Placed::Copied(n) => counts.payloads_copied += n,
            Placed::Read => counts.payloads_read += 1,
            Placed::Damaged(i) => damaged.push(i),
        }
    }
    // The staged file was written only at explicit offsets: its cursor is still at 0.
    let container = Digest { size: end as u64, blake3: crate::hash::hash_reader(f)?, stat: None };
    let companions = vec![canon::to_vec(&table)?, canon::to_vec(&preload)?, canon::to_vec(&tooling)?];
    let mut outputs_digests = vec![container];
    outputs_digests.extend(companions.iter().map(|b| Digest::of(b)));
    Ok(Made { container: staged, companions, outputs_digests, offsets, payload_offset, damaged })
}

/// One piece of the container's payload region: a run of payloads copied from the previous
/// container, or one payload read from its artifact.
enum Job {
    Copy { from: u64, at: u64, len: u64, count: usize },
    Read { i: usize, at: u64 },
}

enum Placed {
    Copied(usize),
    Read,
    Damaged(usize),
}

/// Copies `len` bytes from `from` at `src` to `to` at `dst`, in the kernel.
fn copy_range(from: &std::fs::File, src: u64, to: &std::fs::File, dst: u64, len: u64) -> std::io::Result<()> {
    let (mut src, mut dst, mut left) = (src, dst, len as usize);
    while left > 0 {
        let n = rustix::fs::copy_file_range(from, Some(&mut src), to, Some(&mut dst), left)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the previous container is shorter than its index",
            ));
        }
        left -= n;
    }
    Ok(())
}

/// One row of the asset table (the header's and `asset_table.json`), borrowed from the
/// entry and the artifact: the tables are serialized straight from these rows, never built
/// up as `Value` trees (at 100,000 assets those were ~3 KiB per asset of the pack's peak
/// memory). The fields of these rows are declared in the byte order of their names, the
/// order the canonical writer puts them in, so that it writes them straight through instead
/// of buffering each row to sort it (~10 MB of the pack's peak at 10,000 assets).
#[derive(Serialize)]
struct TableRow<'a> {
    asset_id: u64,
    asset_name: &'a str,
    bank_type: &'a str,
    codec: &'a str,
    decoded_size: u64,
    metadata: &'a Value,
    offset: usize,
    size: u64,
}

/// One entry of `preload.json` and of the header's preload list.
#[derive(Serialize)]
struct PreloadRow {
    asset_id: u64,
    slot: usize,
}

/// One row of the tooling metadata (`asset_table_metadata.json`).
#[derive(Serialize)]
struct ToolingRow<'a> {
    asset_id: u64,
    asset_name: &'a str,
    asset_uuid: &'a str,
    inputs: &'a crate::plan::Roles,
    root: &'a str,
    strong_key: &'a str,
    weak_key: &'a str,
}

/// The container's header.
#[derive(Serialize)]
struct Header<'a> {
    asset_table: &'a [TableRow<'a>],
    preload: &'a [PreloadRow],
}

/// The asset table, the preload list and the tooling metadata.
fn tables<'a>(
    entries: &'a [PackEntry],
    arts: &'a [Art],
    offsets: &[usize],
) -> (Vec<TableRow<'a>>, Vec<PreloadRow>, Vec<ToolingRow<'a>>) {
    let table = entries
        .iter()
        .zip(arts)
        .zip(offsets)
        .map(|((e, a), &offset)| TableRow {
            asset_id: e.asset_id,
            asset_name: &e.asset_name,
            bank_type: &e.bank_type,
            offset,
            size: a.size,
            decoded_size: a.decoded_size,
            codec: &e.codec,
            metadata: &a.metadata,
        })
        .collect();
    let preload = entries
        .iter()
        .filter(|e| e.preload)
        .enumerate()
        .map(|(slot, e)| PreloadRow { asset_id: e.asset_id, slot })
        .collect();
    let tooling = entries
        .iter()
        .zip(arts)
        .map(|(e, a)| ToolingRow {
            asset_id: e.asset_id,
            asset_name: &e.asset_name,
            asset_uuid: &e.asset_uuid,
            root: &e.root,
            inputs: &e.inputs,
            strong_key: &a.strong,
            weak_key: &a.weak,
        })
        .collect();
    (table, preload, tooling)
}

/// The pack's gate. The pack is always strict (design.md).
pub fn gate(obj_dir: &Path, out_dir: &Path, cache: Option<Cache>) -> Gate {
    Gate {
        action: "pack".into(),
        record: obj_dir.join("pack.rec"),
        outputs: outputs(out_dir),
        cache,
        mode: Mode::Strict,
        obj_dir: obj_dir.to_path_buf(),
        restore_keeps_mtime: false,
    }
}

/// The pack's key document for a run by hand: the workspace's table fields (the strong keys
/// are filled in from the artifacts' records).
fn own_doc(o: &Options) -> anyhow::Result<KeyDoc<PackStepKey>> {
    let ws = Workspace::load(&o.project)?;
    if ws.diags.blocking() {
        return Err(Blocked(ws.diags.0).into());
    }
    Ok(pack_key_doc(&ws.assets, &[]))
}

fn missing_artifact(path: &Path, name: &str) -> Diagnostic {
    Diagnostic::error(
        Code::PK021,
        "the asset's artifact is missing or unreadable",
        "build the asset first (`ninja`, or its `packer step` command)",
    )
    .file(path.display())
    .asset(name)
}

/// Artifact prefixes (`<obj_dir>/<id>`) in table order: the key file's assets. The response
/// file Ninja wrote (its lines are the shell-quoted `$in_newline`: the key file, then each
/// `<id>.bin`) is only compared with it, and a difference is a warning: the key file is what
/// gen planned, and two Ninjas building one workspace at once write and delete the same
/// response file under each other (one read it empty). Only the file names are compared,
/// since its paths are relative to Ninja's directory, which differs from ours under a
/// `--prefix`. Ninja deletes it after a successful run, so a run by hand goes by the key alone.
fn artifact_prefixes(o: &Options, assets: &[PackEntry]) -> Vec<PathBuf> {
    let prefixes = assets.iter().map(|e| o.obj_dir.join(e.asset_id.to_string())).collect();
    let Some(text) = o.rsp.as_ref().and_then(|r| std::fs::read_to_string(r).ok()) else { return prefixes };
    let ids: Vec<String> = text
        .lines()
        .map(escape::unshell)
        .filter_map(|l| l.strip_suffix(".bin").map(|p| p.rsplit('/').next().unwrap_or(p).to_string()))
        .collect();
    let expected: Vec<String> = assets.iter().map(|e| e.asset_id.to_string()).collect();
    if ids != expected {
        eprintln!(
            "packer: warning: the response file lists {} artifacts, the key {} assets; going by the key (is another build running?)",
            ids.len(),
            expected.len()
        );
    }
    prefixes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyFile;

    fn entry(id: u64) -> PackEntry {
        PackEntry {
            asset_id: id,
            asset_name: format!("a{id}"),
            asset_uuid: String::new(),
            bank_type: "BLOB".into(),
            codec: "NONE".into(),
            preload: false,
            root: String::new(),
            inputs: Default::default(),
        }
    }

    fn art(dir: &Path, id: u64, bytes: &[u8]) -> (PathBuf, Art) {
        let prefix = dir.join(id.to_string());
        std::fs::write(super::super::with_ext(&prefix, "bin"), bytes).unwrap();
        let a = Art {
            strong: String::new(),
            weak: String::new(),
            size: bytes.len() as u64,
            payload: crate::hash::hash_bytes(bytes),
            decoded_size: 0,
            metadata: Value::Null,
            rec_stat: (0, 0, 0),
        };
        (prefix, a)
    }

    /// The container as `pa::write` makes it in memory, from the same table.
    fn expected(entries: &[PackEntry], arts: &[Art], payloads: &[&[u8]]) -> Vec<u8> {
        let offsets = pa::layout(payloads.iter().map(|p| p.len()));
        let (table, preload, _) = tables(entries, arts, &offsets);
        let header = serde_json::to_value(Header { asset_table: &table, preload: &preload }).unwrap();
        pa::write(&header, payloads).unwrap()
    }

    #[test]
    fn the_pack_keys_its_typed_borrowed_document_as_gen_keys_the_json_one() {
        let mut entries: Vec<PackEntry> = (1..=3).map(entry).collect();
        entries[1].inputs = crate::plan::Roles(vec![("tiles".into(), vec!["b.png".into(), "é/*.png".into()])]);
        entries[2].preload = true;
        let doc = KeyDoc {
            core_version: 1,
            dependencies_strong: vec!["s1".into(), "s2".into(), "s3".into()],
            dependencies_weak: (1..=3).map(crate::keys::action_name).collect(),
            sources: Vec::new(),
            step: "pack".into(),
            step_key: serde_json::to_value(PackStepKey { assets: entries }).unwrap(),
            step_version: "1".into(),
        };
        let key = doc.clone().keyed();
        let file = KeyFile::bytes(Mode::Strict, &key).unwrap();
        #[derive(Deserialize)]
        struct PackKey {
            doc: KeyDoc<PackStepKey>,
        }
        let typed: PackKey = serde_json::from_slice(&file).unwrap();
        let (bare, step_key) = typed.doc.swap_step_key(());
        let (borrowed, ()) = bare.swap_step_key(PackStepKeyRef { assets: &step_key.assets });
        assert_eq!(borrowed.keys(), (key.strong.clone(), key.weak.clone()));
        let restored = doc.cloned_around(PackStepKeyRef { assets: &step_key.assets });
        assert_eq!(restored.keys(), (key.strong, key.weak));
    }

    #[test]
    fn the_index_is_streamed_with_its_sum_and_a_damaged_body_is_replaced_by_the_same_save() {
        let dir = tempfile::tempdir().unwrap();
        let entries: Vec<PackEntry> = (1..=3).map(entry).collect();
        let arts: Vec<Art> = (1..=3).map(|i| art(dir.path(), i, &vec![b'x'; i as usize]).1).collect();
        let save = || Index::save(dir.path(), 42, "c0ffee", 100, &entries, &arts, &[0, 1, 3]).unwrap();
        save();
        let path = dir.path().join(INDEX_FILE);
        let bytes = std::fs::read(&path).unwrap();
        let json = &bytes[65..];
        assert_eq!(&bytes[..65], format!("{}\n", crate::hash::hash_bytes(json)).as_bytes());
        let index = Index::load(dir.path());
        assert_eq!((index.taken_ns, index.container.as_str(), index.payload_offset), (42, "c0ffee", 100));
        let offsets: Vec<(u64, u64)> = index.assets.iter().map(|e| (e.id, e.offset)).collect();
        assert_eq!(offsets, [(1, 0), (2, 1), (3, 3)]);
        // Unchanged: left alone (same inode).
        let ino = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
        let before = ino(&path);
        save();
        assert_eq!(ino(&path), before);
        // One byte of the body damaged under its intact sum line: the next save replaces it.
        let mut damaged = bytes.clone();
        let at = damaged.len() - 2;
        damaged[at] ^= 1;
        std::fs::write(&path, &damaged).unwrap();
        assert!(Index::load(dir.path()).assets.is_empty(), "a damaged index counts as none");
        save();
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn assembled_in_place_and_from_the_previous_container_equals_the_in_memory_form() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("assets.pa");
        let payloads: [&[u8]; 4] = [b"abc", b"0123456789abcdefX", b"", b"tail"];
        let entries: Vec<PackEntry> = (1..=4).map(entry).collect();
        let (prefixes, arts): (Vec<PathBuf>, Vec<Art>) =
            payloads.iter().enumerate().map(|(i, p)| art(dir.path(), i as u64 + 1, p)).unzip();
        let mut counts = Counts::default();
        let made = assemble(&entries, &prefixes, &arts, None, &out, &mut counts).unwrap();
        assert!(made.damaged.is_empty());
        assert_eq!(counts.payloads_read, 3, "the empty payload needs no read");
        made.container.commit().unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), expected(&entries, &arts, &payloads));

        // The second payload grows: the first is copied, the rest shift and are copied too.
        let index = Index {
            taken_ns: 0,
            container: String::new(),
            payload_offset: made.payload_offset as u64,
            assets: index_entries(&entries, &arts, &made.offsets)
                .into_iter()
                .map(|e| IndexEntry { id: e.id, offset: e.offset, art: e.art.clone() })
                .collect(),
        };
        let mut arts2 = arts.clone();
        let grown: &[u8] = b"0123456789abcdefXYZ";
        arts2[1] = art(dir.path(), 2, grown).1;
        let (old, placed) = (std::fs::File::open(&out).unwrap(), index.placed());
        let mut counts = Counts::default();
        let made = assemble(&entries, &prefixes, &arts2, Some((&old, &placed)), &out, &mut counts).unwrap();
        assert_eq!((counts.payloads_read, counts.payloads_copied), (1, 2));
        made.container.commit().unwrap();
        let payloads2: [&[u8]; 4] = [b"abc", grown, b"", b"tail"];
        assert_eq!(std::fs::read(&out).unwrap(), expected(&entries, &arts2, &payloads2));
    }

    #[test]
    fn a_payload_that_does_not_match_its_record_is_reported_not_packed() {
        let dir = tempfile::tempdir().unwrap();
        let (prefix, mut a) = art(dir.path(), 1, b"hero");
        a.payload = crate::hash::hash_bytes(b"other");
        let mut counts = Counts::default();
        let made = assemble(&[entry(1)], &[prefix], &[a], None, &dir.path().join("assets.pa"), &mut counts).unwrap();
        assert_eq!(made.damaged, [0]);
    }
}
