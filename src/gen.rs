//! `packer gen`: the hashing front. Loads the workspace, builds the graph, hashes every
//! source, computes every action's key, rewrites the key files (the gates) whose content
//! changed, removes outputs of assets that left the build, and writes build.ninja when its
//! bytes change.

use crate::diag::{Blocked, Code, Diagnostic};
use crate::fingerprint::{self, Fingerprints, Raw};
use crate::fsutil;
use crate::gates::{self, KeyContent};
use crate::genstate;
use crate::graph;
use crate::keys::{ActionKey, KeyFile, Mode};
use crate::ninja::{self, AssetEdge, KeyShard, Manifest};
use crate::plan::{self, PackStepKey};
use crate::registry;
use crate::replan;
use crate::step;
use crate::workspace::{Asset, Workspace, ASSETS};
use anyhow::Context;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Options of `packer gen`, as resolved from the command line and environment.
#[derive(Clone, Debug)]
pub struct Options {
    /// Build directory, relative to the project directory (Ninja's working directory).
    pub build_dir: String,
    /// Where build.ninja goes, relative to the project directory.
    pub ninja_file: String,
    /// The artifact cache the steps use (`None`: no cache).
    pub cache_dir: Option<String>,
    pub mode: Mode,
    /// The project directory as seen from the parent build's directory (`subninja`).
    pub prefix: Option<String>,
    /// Also write a Make-style depfile of every input here.
    pub depfile: Option<String>,
    /// The depfile's target (default `<build_dir>/assets.pa`).
    pub depfile_target: Option<String>,
    /// How many key edges (`None`: by the number of assets, see [`key_shards`]).
    pub key_shards: Option<u32>,
    /// Run by Ninja's generator edge or a key edge (quiet; under a prefix, a changed graph
    /// fails the run).
    pub regen: bool,
    /// Run by this key edge of build.ninja (its stamp is this gen's to write).
    pub key_shard: Option<u32>,
    /// Show a progress line while hashing (only ever on a terminal).
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            build_dir: "build".into(),
            ninja_file: "build.ninja".into(),
            cache_dir: Some(crate::cache::DEFAULT_DIR.into()),
            mode: Mode::Strict,
            prefix: None,
            depfile: None,
            depfile_target: None,
            key_shards: None,
            regen: false,
            key_shard: None,
            progress: false,
        }
    }
}

impl Options {
    fn keys_dir(&self) -> String {
        format!("{}/keys", self.build_dir)
    }

    pub fn obj_dir(&self) -> String {
        format!("{}/obj", self.build_dir)
    }

    /// The arguments that make gen re-run itself with the same options.
    fn args(&self) -> Vec<String> {
        let mut a = vec![format!("--build-dir={}", self.build_dir), format!("--ninja-file={}", self.ninja_file)];
        match &self.cache_dir {
            Some(c) => a.push(format!("--cache-dir={c}")),
            None => a.push("--no-cache".into()),
        }
        a.push(match self.mode {
            Mode::Strict => "--strict".into(),
            Mode::NonStrict => "--non-strict".into(),
        });
        if let Some(p) = &self.prefix {
            a.push(format!("--prefix={p}"));
        }
        if let Some(d) = &self.depfile {
            a.push(format!("--depfile={d}"));
        }
        if let Some(t) = &self.depfile_target {
            a.push(format!("--depfile-target={t}"));
        }
        if let Some(k) = self.key_shards {
            a.push(format!("--key-shards={k}"));
        }
        a.push("--regen".into());
        a
    }
}

/// What one gen run did.
#[derive(Debug, Default)]
pub struct Report {
    /// The fast path: nothing gen depends on changed since its last run.
    pub unchanged: bool,
    pub assets: usize,
    pub hashed: usize,
    pub keys_rewritten: usize,
    /// Actions gen restored from the cache itself (their gates stay shut).
    pub restored: usize,
    /// The pack's key file was rewritten and its gate left open (the pack must run).
    pub pack_key_opened: bool,
    pub removed: usize,
    pub ninja_written: bool,
}

/// Runs gen in project directory `dir`.
pub fn run(dir: &Path, opts: &Options) -> anyhow::Result<Report> {
    // Everything below reads and writes the build directory's state as one: no step and no
    // other gen may run meanwhile (lock.rs).
    let build_dir = dir.join(&opts.build_dir);
    let _lock = crate::lock::acquire(
        &crate::lock::build_lock_path(&build_dir),
        crate::lock::Mode::Exclusive,
        "the build directory",
    )?;
    // Several of gen's edges may be out of date in one Ninja run (a touch of every source
    // dirties every key edge): each checks everything again, because an input may have
    // changed since the one before (Ninja 1.12 and later record a restat edge's start time,
    // so an edit it did not see would stay unseen).
    let report = plan_and_write(dir, opts, &build_dir)?;
    if let Some(k) = opts.key_shard {
        // Ninja re-stats only this key edge's outputs: the pack must learn of a new pack key
        // through this edge's stamp (unless gen restored the pack itself).
        stamp(&build_dir, k, report.pack_key_opened)?;
    }
    Ok(report)
}

/// Makes sure key edge `k`'s stamp exists; with `bump`, rewrites it with new bytes (a clock
/// reading: the same bytes as some earlier build would leave its mtime alone).
fn stamp(build_dir: &Path, k: u32, bump: bool) -> anyhow::Result<()> {
    let path = build_dir.join(crate::layout::key_stamp(k));
    if bump {
        fsutil::write_if_changed(&path, crate::stat::now_ns().to_string().as_bytes())?;
    } else if !path.exists() {
        fsutil::write_if_changed(&path, b"")?;
    }
    Ok(())
}

/// gen's work once it holds the lock: the fast paths, else a full plan.
fn plan_and_write(dir: &Path, opts: &Options, build_dir: &Path) -> anyhow::Result<Report> {
    let state_options = state_options(opts);
    let began = std::time::Instant::now();
    // The fingerprints are read only if an input's stat changed: they hold the hash of the
    // bytes gen last used.
    // (as bytes: the few entries the check asks for are found without parsing the file).
    let prints = std::sync::OnceLock::new();
    let used = |p: &str| prints.get_or_init(|| Raw::load(dir)).as_ref().and_then(|r| r.get(p)).map(|f| f.blake3);
    // The key directory, just written by gen's last run, is racily clean for a moment: the
    // ledger's stat of every key file then tells whether one was deleted or changed.
    let keys_rel = opts.keys_dir();
    let ledger = std::sync::OnceLock::new();
    let ledger_of = || ledger.get_or_init(|| gates::Ledger::load(build_dir, opts.mode));
    let vouch = |p: &str| p == keys_rel && ledger_of().as_ref().is_some_and(|l| l.files_match(&dir.join(&keys_rel)));
    match genstate::check(dir, &opts.build_dir, &state_options, &used, &vouch) {
        genstate::Check::Unchanged => {
            trace(&Trace { run: "unchanged", ..Trace::default() });
            return Ok(Report { unchanged: true, ..Report::default() });
        }
        genstate::Check::Touched(touched) if !touched.edited.is_empty() => {
            let checked = began.elapsed();
            let fp = prints.into_inner().unwrap_or_else(|| Raw::load(dir));
            if let Some(ledger) = ledger_of() {
                if let Some(report) = edit(dir, opts, fp, ledger, touched, (began, checked))? {
                    return Ok(report);
                }
            }
        }
        genstate::Check::Touched(touched) => {
            // Same bytes everywhere: only the fingerprints and the state learn the new stat
            // data. Nothing is planned, no key file or build.ninja is looked at. Nothing
            // re-hashed: only the state is recorded again, now that the key directory its
            // last record vouched for (racily clean then) has settled; without that, every
            // later run would vouch for it again (the ledger and 10,000 stats at 10,000
            // assets: 40 ms instead of 20 ms).
            if !touched.refreshed.is_empty() {
                let raw = prints.into_inner().unwrap_or_else(|| Raw::load(dir));
                let refreshed: Vec<_> = touched.refreshed.iter().map(|f| (f.path.as_str(), f.stat, f.taken)).collect();
                fingerprint::update_few(dir, raw, &refreshed, Vec::new())?;
            }
            let hashed = touched.refreshed.len();
            trace(&Trace {
                run: if hashed == 0 { "unchanged" } else { "touched" },
                rehashed: touched.refreshed.iter().map(|f| f.path.clone()).collect(),
                ..Trace::default()
            });
            touched.record(dir, &opts.build_dir, &[]);
            return Ok(Report { unchanged: true, hashed, ..Report::default() });
        }
        genstate::Check::Changed => {}
    }
    let mut fp = Fingerprints::load(dir);
    fp.progress = opts.progress && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let started = std::time::Instant::now();
    let mut p = plan::plan_keys(dir, &mut fp)?;
    fp.extend(std::mem::take(&mut p.ws.read));
    let planned = started.elapsed();
    p.ws.diags.print();
    let manifest = manifest(&p.ws, &p.graph, opts)?;
    let text = ninja::render(&manifest).map_err(|ninja::Unrepresentable(path, c)| {
        Blocked::from(
            Diagnostic::error(
                Code::PK016,
                format!("path contains {c:?}, which build.ninja cannot represent"),
                "rename the file or directory",
            )
            .file(path.escape_debug()),
        )
    })?;

    let rendered = started.elapsed();
    let mut report = Report { assets: p.ws.assets.len(), hashed: fp.hashed, ..Report::default() };
    fp.save(dir)?;
    let fp_saved = started.elapsed();
    // What is no longer needed is freed as soon as it is done with, so that the state's
    // record, gen's last allocation, does not stack on it (peak memory).
    let hashing = (fp.hash_time, fp.hashed, fp.hashed_bytes);
    drop(fp);
    let keys_dir = dir.join(opts.keys_dir());
    let mut key_files: Vec<(PathBuf, KeyContent)> =
        p.ws.assets
            .iter()
            .zip(&p.keys)
            .map(|(a, k)| (keys_dir.join(format!("{}.key", a.id)), KeyContent::Key(k)))
            .collect();
    // The pack's key file is serialized here, from its typed document.
    let pack_bytes = KeyFile::bytes(opts.mode, &p.pack)?;
    key_files.push((
        keys_dir.join("pack.key"),
        KeyContent::Bytes { bytes: &pack_bytes, strong: &p.pack.strong, weak: &p.pack.weak },
    ));
    // In strict mode, an action whose new key the cache holds is restored here, in bulk; its
    // gate then stays shut (see `gates::write`). Actions with dependencies are left to their
    // steps, which record the dependency keys they actually read. The pack comes last: when
    // every asset's artifact is then recorded under its planned key (nothing left for a step
    // to build), its planned key is the one its step would compute, and it is restored too.
    let restorer = Restorer::new(dir, opts);
    let restore = |i: usize| match p.ws.assets.get(i) {
        Some(a) => restorer.asset(a.id, &p.keys[i], !p.graph.deps[i].is_empty()),
        None if restorer.left_to_a_step() => false,
        None => {
            let planned: Vec<(u64, &str)> =
                p.ws.assets.iter().zip(&p.keys).map(|(a, k)| (a.id, k.strong.as_str())).collect();
            restorer.pack(&planned, &p.pack)
        }
    };
    // The one the check may have loaded already (gen holds the lock: it is as it was).
    let written = gates::write(build_dir, opts.mode, gates::Scope::All, ledger_of().as_ref(), &key_files, 1, restore)?;
    report.pack_key_opened = written.opened.contains(&(key_files.len() - 1));
    drop(key_files);
    drop(pack_bytes);
    for k in 0..manifest.shards.len() as u32 {
        stamp(build_dir, k, false)?;
    }
    report.keys_rewritten = written.keys;
    report.restored = written.restored;
    report.removed = remove_stale(dir, opts, &p.ws.assets)?;
    let keys_written = started.elapsed();
    report.ninja_written = fsutil::write_if_changed(&dir.join(&opts.ninja_file), text.as_bytes())?;
    drop(text);
    if let Some(d) = &opts.depfile {
        fsutil::write_if_changed(&dir.join(d), &depfile(dir, opts, &manifest)?)?;
    }
    let ninja_written = started.elapsed();
    record_state(dir, opts, state_options, &manifest, &p)?;
    trace(&Trace {
        run: "full",
        planned: p.ws.assets.iter().map(|a| a.id.to_string()).chain(["pack".to_string()]).collect(),
        ..Trace::default()
    });
    if std::env::var_os("PACKER_TIMINGS").is_some() {
        eprintln!(
            "packer gen phases: rendered {:.3}, fingerprints saved {:.3}, keys {:.3}, build.ninja {:.3}, state {:.3}",
            rendered.as_secs_f64(),
            fp_saved.as_secs_f64(),
            keys_written.as_secs_f64(),
            ninja_written.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
        // For the benchmark: the stat-and-hash phase against the hashing floor.
        eprintln!(
            "packer gen timings: plan {:.6} s (hash {:.6} s, {} files, {} bytes), total {:.6} s",
            planned.as_secs_f64(),
            hashing.0.as_secs_f64(),
            hashing.1,
            hashing.2,
            started.elapsed().as_secs_f64()
        );
    }
    if opts.regen && opts.prefix.is_some() && report.ninja_written {
        // Ninja reloads only the top-level manifest: a file pulled in with subninja keeps its
        // old graph for the rest of this run, which would build the wrong set of assets.
        return crate::diag::fail(
            Diagnostic::error(
                Code::PK029,
                "changed (assets were added, removed or moved) after Ninja loaded it through subninja",
                "run ninja again: it reloads the new graph",
            )
            // As the parent build sees it (Ninja runs there).
            .file(format!("{}/{}", opts.prefix.as_deref().unwrap_or("."), opts.ninja_file)),
        );
    }
    if opts.regen {
        // Run by Ninja's generator edge, the process exits right after: freeing hundreds of
        // thousands of small allocations one by one would only keep Ninja waiting (~25 ms at
        // 10,000 assets). The operating system takes the memory back at once.
        std::mem::forget((p, manifest));
    }
    Ok(report)
}

/// gen's bulk restores from the cache (strict mode only).
struct Restorer {
    obj_dir: PathBuf,
    build_dir: PathBuf,
    cache: Option<crate::cache::Cache>,
    mode: Mode,
    /// Set when a rewritten gate is left to its step: then the pack waits for that step too,
    /// and the records need not even be read.
    left_to_a_step: std::sync::atomic::AtomicBool,
}

impl Restorer {
    fn new(dir: &Path, opts: &Options) -> Restorer {
        Restorer {
            obj_dir: dir.join(opts.obj_dir()),
            build_dir: dir.join(&opts.build_dir),
            cache: opts.cache_dir.as_ref().map(|c| crate::cache::Cache::new(dir.join(c))),
            mode: opts.mode,
            left_to_a_step: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn left_to_a_step(&self) -> bool {
        self.left_to_a_step.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Restores an asset's artifact for its new key, if it has no dependencies and the cache
    /// holds it.
    fn asset(&self, id: u64, key: &ActionKey, has_deps: bool) -> bool {
        let Some(cache) = self.cache.as_ref().filter(|_| self.mode == Mode::Strict) else { return false };
        let gate = step::artifact_gate(&self.obj_dir.join(id.to_string()), Some(cache.clone()), self.mode);
        let restored = !has_deps && matches!(gate.restore(key), Ok(Some(_)));
        if !restored {
            self.left_to_a_step.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        restored
    }

    /// Restores the pack, only when nothing was left to a step and every asset's record
    /// holds its planned strong key (`planned`: id and strong key of every asset), so that
    /// the pack's planned key is the one its step would compute from the records.
    fn pack(&self, planned: &[(u64, &str)], pack: &ActionKey<PackStepKey>) -> bool {
        let Some(cache) = self.cache.as_ref().filter(|_| self.mode == Mode::Strict) else { return false };
        if self.left_to_a_step() {
            return false;
        }
        let settled = crate::par::parallel_map(planned, |(id, _)| {
            let rec = step::with_ext(&self.obj_dir.join(id.to_string()), "rec");
            Ok(step::read_record_keys(&rec).map(|r| r.strong))
        });
        let Ok(recorded) = settled else { return false };
        if recorded.iter().zip(planned).any(|(r, (_, k))| r.as_deref() != Some(*k)) {
            return false;
        }
        matches!(step::pack::restore(&self.obj_dir, &self.build_dir, cache, pack), Ok(Some(_)))
    }
}

/// One line of `PACKER_GEN_TRACE`: which of gen's paths ran, the files its fast paths
/// re-hashed (`edited`: new bytes; `rehashed`: the same bytes, a touch or a racily clean
/// stat), and the actions it planned, by asset id and `pack`.
#[derive(Default, serde::Serialize)]
struct Trace {
    run: &'static str,
    edited: Vec<String>,
    rehashed: Vec<String>,
    planned: Vec<String>,
}

/// Appends a trace line to the file `PACKER_GEN_TRACE` names (for tests and for finding out
/// why gen took the path it took). Best effort.
fn trace(t: &Trace) {
    let Some(path) = std::env::var_os("PACKER_GEN_TRACE") else { return };
    let Ok(mut line) = serde_json::to_string(t) else { return };
    line.push('\n');
    let f = std::fs::OpenOptions::new().create(true).append(true).open(path);
    let _ = f.and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
}

/// gen's edit path: only content sources changed (`touched.edited`), the structure is as
/// recorded. Re-keys the assets that read them (and, in strict mode, their dependants and
/// the pack) from the key files (`replan.rs`), writes those key files with the same bulk
/// restores as a full run, and records the fingerprints and the state. `None` when the key
/// files or the plan index cannot vouch for the result: the caller plans in full.
fn edit(
    dir: &Path,
    opts: &Options,
    fp: Option<Raw>,
    ledger: &gates::Ledger,
    touched: genstate::Touched,
    (began, checked): (std::time::Instant, std::time::Duration),
) -> anyhow::Result<Option<Report>> {
    let mut phases = vec![("checked", checked), ("fingerprints loaded", began.elapsed())];
    let build_dir = dir.join(&opts.build_dir);
    let keys_dir = dir.join(opts.keys_dir());
    let edited: std::collections::HashMap<&str, &str> =
        touched.edited.iter().map(|e| (e.path.as_str(), e.hash.as_str())).collect();
    let Some(rekeyed) = replan::rekey(&build_dir, &keys_dir, opts.mode, ledger, &edited) else { return Ok(None) };
    phases.push(("re-keyed", began.elapsed()));
    let mut key_files: Vec<(PathBuf, KeyContent)> =
        rekeyed.assets.iter().map(|(id, k, _)| (keys_dir.join(format!("{id}.key")), KeyContent::Key(k))).collect();
    key_files.extend(rekeyed.pack.iter().map(|k| {
        let content = KeyContent::Bytes { bytes: k.bytes(), strong: k.strong(), weak: k.weak() };
        (keys_dir.join("pack.key"), content)
    }));
    let n = rekeyed.assets.len();
    let restorer = Restorer::new(dir, opts);
    let restore = |i: usize| match (rekeyed.assets.get(i), &rekeyed.pack) {
        (Some((id, k, has_deps)), _) => restorer.asset(*id, k, *has_deps),
        (None, Some(pack)) => {
            // Only when nothing was left to a step: every asset's planned strong key, the new
            // ones and the ledger's for the others (no restore when the ledger lacks one).
            if restorer.left_to_a_step() {
                return false;
            }
            let new: std::collections::HashMap<u64, &str> =
                rekeyed.assets.iter().map(|(id, k, _)| (*id, k.strong.as_str())).collect();
            let names: Vec<String> = rekeyed.all.iter().map(|id| format!("{id}.key")).collect();
            let planned: Option<Vec<(u64, &str)>> = rekeyed
                .all
                .iter()
                .zip(&names)
                .map(|(id, name)| Some((*id, new.get(id).copied().or_else(|| ledger.key(name))?)))
                .collect();
            // The document is parsed only here, for the restore that needs it.
            planned.is_some_and(|planned| pack.key().is_some_and(|key| restorer.pack(&planned, &key)))
        }
        (None, None) => false,
    };
    let late = key_files.len() - n;
    let written = gates::write(&build_dir, opts.mode, gates::Scope::Some, Some(ledger), &key_files, late, restore)?;
    let pack_key_opened = late > 0 && written.opened.contains(&(key_files.len() - 1));
    phases.push(("keys", began.elapsed()));
    let refreshed: Vec<_> = touched.refreshed.iter().map(|f| (f.path.as_str(), f.stat, f.taken)).collect();
    let edited = touched.edited.iter().map(|e| {
        let (size, mtime_ns, inode) = e.stat;
        let print = fingerprint::Fingerprint { size, mtime_ns, inode, blake3: e.hash.clone(), taken_ns: e.taken };
        (e.path.clone(), print)
    });
    fingerprint::update_few(dir, fp, &refreshed, edited.collect())?;
    trace(&Trace {
        run: "edit",
        edited: touched.edited.iter().map(|e| e.path.clone()).collect(),
        rehashed: touched.refreshed.iter().map(|f| f.path.clone()).collect(),
        planned: rekeyed
            .assets
            .iter()
            .map(|(id, _, _)| id.to_string())
            .chain(rekeyed.pack.iter().map(|_| "pack".to_string()))
            .collect(),
    });
    let report = Report {
        assets: rekeyed.all.len(),
        hashed: touched.refreshed.len() + touched.edited.len(),
        keys_rewritten: written.keys,
        restored: written.restored,
        pack_key_opened,
        ..Report::default()
    };
    phases.push(("fingerprints saved", began.elapsed()));
    touched.record(dir, &opts.build_dir, &[opts.keys_dir().as_str()]);
    phases.push(("state", began.elapsed()));
    if std::env::var_os("PACKER_TIMINGS").is_some() {
        let text: Vec<String> = phases.iter().map(|(what, t)| format!("{what} {:.3}", t.as_secs_f64())).collect();
        eprintln!("packer gen edit phases: {}", text.join(", "));
    }
    Ok(Some(report))
}

/// Whether an asset's files decide the graph (its type discovers inputs inside them: a map's
/// tilesets), so that an edit of one must be planned in full.
fn structural_sources(a: &Asset) -> bool {
    a.decl.ty.info().discover.is_some() || !a.discovered.is_empty()
}

/// How many key edges for `n` assets by default: one per this many assets, at most
/// [`MAX_KEY_SHARDS`]. A key edge that runs costs Ninja a restat of its key files (and of
/// what depends on them); one that need not run costs nothing.
const ASSETS_PER_KEY_SHARD: usize = 2500;
const MAX_KEY_SHARDS: usize = 16;

/// The key edge of each asset: whole dependency components (a dependant's key holds its
/// dependency's strong key, so both must be re-stat'ed by the same edge), dealt in turn by
/// the smallest asset id of each component.
fn key_shards(ws: &Workspace, g: &graph::Graph, wanted: Option<u32>) -> Vec<usize> {
    let n = ws.assets.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for (i, deps) in g.deps.iter().enumerate() {
        for &d in deps {
            let (a, b) = (find(&mut parent, i), find(&mut parent, d));
            parent[a.max(b)] = a.min(b);
        }
    }
    let roots: Vec<usize> = (0..n).map(|i| find(&mut parent, i)).collect();
    let mut first_id: std::collections::BTreeMap<usize, u64> = std::collections::BTreeMap::new();
    for (i, r) in roots.iter().enumerate() {
        let id = first_id.entry(*r).or_insert(ws.assets[i].id);
        *id = (*id).min(ws.assets[i].id);
    }
    let mut order: Vec<(u64, usize)> = first_id.iter().map(|(r, id)| (*id, *r)).collect();
    order.sort_unstable();
    let k = wanted.map_or(n.div_ceil(ASSETS_PER_KEY_SHARD).clamp(1, MAX_KEY_SHARDS), |w| w as usize);
    let k = k.min(order.len()).max(1);
    let rank: std::collections::HashMap<usize, usize> =
        order.iter().enumerate().map(|(rank, (_, r))| (*r, rank % k)).collect();
    roots.iter().map(|r| rank[r]).collect()
}

fn manifest(ws: &Workspace, g: &graph::Graph, opts: &Options) -> anyhow::Result<Manifest> {
    let packer = std::env::current_exe().context("locating the packer binary")?;
    let packer = packer.to_str().context("the packer binary's path is not UTF-8")?.to_string();
    let mut structure = vec![format!("{ASSETS}/{}", registry::INDEX)];
    let shard_of = key_shards(ws, g, opts.key_shards);
    let mut shards: Vec<KeyShard> = Vec::new();
    shards.resize_with(shard_of.iter().max().map_or(1, |m| m + 1), || KeyShard {
        assets: Vec::new(),
        content: Vec::new(),
    });
    let mut edges = Vec::with_capacity(ws.assets.len());
    for (i, a) in ws.assets.iter().enumerate() {
        let root = a.root_in_project();
        let sources: Vec<String> = a.files().map(|f| root.join(f).to_string()).collect();
        structure.push(format!("{root}/{}", crate::decl::FILE));
        // Every directory an input pattern listed: a file added there changes the inputs.
        structure.extend(a.walked.iter().map(|d| d.to_string()));
        let shard = &mut shards[shard_of[i]];
        shard.assets.push(a.id);
        if structural_sources(a) {
            structure.extend(sources.iter().cloned());
        } else {
            shard.content.extend(sources.iter().cloned());
        }
        // The root's listing shows a source replaced by an older file (`mv` keeps its mtime).
        shard.content.push(root.to_string());
        let n = sources.len();
        edges.push(AssetEdge {
            kind: a.decl.ty.step().0,
            id: a.id,
            name: a.decl.name.clone(),
            // The rule's description adds the kind (`TILES hero (12 inputs)`); the count is
            // left out for the common single-input asset (`BLOB intro`).
            desc: if n == 1 { a.decl.name.clone() } else { format!("{} ({n} inputs)", a.decl.name) },
            root: root.to_string(),
            deps: g.deps[i].iter().map(|&d| ws.assets[d].id).collect(),
            sources,
        });
    }
    structure.push(packer.clone());
    let mut seen = BTreeSet::new();
    structure.retain(|p| seen.insert(p.clone()));
    for shard in &mut shards {
        shard.content.retain(|p| seen.insert(p.clone()));
    }
    Ok(Manifest {
        packer,
        prefix: opts.prefix.clone(),
        cache: opts.cache_dir.clone(),
        non_strict: opts.mode == Mode::NonStrict,
        gen_args: opts.args(),
        build_dir: opts.build_dir.clone(),
        ninja_file: opts.ninja_file.clone(),
        assets: edges,
        structure,
        shards,
    })
}

/// Everything besides the files that decides gen's output: its options and the packer binary.
fn state_options(opts: &Options) -> String {
    let exe = std::env::current_exe().ok();
    let stamp = exe.as_ref().and_then(|e| std::fs::metadata(e).ok()).map(|m| {
        use std::os::unix::fs::MetadataExt;
        format!("{}:{}:{}", m.len(), m.mtime(), m.mtime_nsec())
    });
    let env: Vec<String> =
        [crate::cache::ENV, Mode::ENV].iter().map(|k| std::env::var(k).unwrap_or_default()).collect();
    format!("{:?} {:?} {:?} {:?} {}", opts.args(), opts.prefix, exe, stamp, env.join(" "))
}

/// Records what this run read (registry, declarations, sources) and wrote (key files,
/// build.ninja, depfile, the plan index) for the next run's fast paths: the structure first,
/// then the content sources, which an edit may change without a full run (`replan.rs`).
fn record_state(
    dir: &Path,
    opts: &Options,
    options: String,
    manifest: &Manifest,
    p: &plan::Plan,
) -> anyhow::Result<()> {
    // Root directories are inputs for Ninja but decide nothing in gen's output, unless an
    // input pattern listed them (then they are structure); the packer binary is covered by
    // the options' stamp.
    let walked: std::collections::HashSet<String> =
        p.ws.assets.iter().flat_map(|a| a.walked.iter().map(|d| d.to_string())).collect();
    let roots: std::collections::HashSet<String> =
        p.ws.assets.iter().map(|a| a.root_in_project().to_string()).filter(|r| !walked.contains(r)).collect();
    let keep = |p: &&String| !roots.contains(*p) && !Path::new(p).is_absolute();
    let mut inputs: Vec<String> = manifest.structure.iter().filter(keep).cloned().collect();
    // The key files are covered by their directory, one stat instead of one per asset: only
    // gen writes them, always by rename, so a key file deleted or replaced changes the
    // directory's mtime. It counts as an input for the racy-clean rule (and has no hash to
    // compare); while racily clean it is vouched for by a listing against the ledger.
    inputs.push(opts.keys_dir());
    let structure = inputs.len();
    inputs.extend(manifest.shards.iter().flat_map(|s| &s.content).filter(keep).cloned());
    let build_dir = dir.join(&opts.build_dir);
    let index = replan::index_file(&build_dir);
    fsutil::write_if_changed(&index, plan_index(p).as_bytes())?;
    let mut outputs = vec![opts.ninja_file.clone()];
    // A missing or damaged fingerprints file is rebuilt by a full run.
    outputs.push(crate::fingerprint::FILE.to_string());
    outputs.push(format!("{}/{}", opts.build_dir, index.file_name().and_then(|n| n.to_str()).unwrap_or_default()));
    outputs.extend(opts.depfile.clone());
    genstate::record(dir, &opts.build_dir, &genstate::GenState { options, inputs, structure, outputs });
    Ok(())
}

/// What gen's edit path needs of this plan beyond the key files: the assets in dependency
/// order, their dependants, and their sources' project paths in key order.
fn plan_index(p: &plan::Plan) -> String {
    let mut dependents = vec![Vec::new(); p.ws.assets.len()];
    for (i, deps) in p.graph.deps.iter().enumerate() {
        for &d in deps {
            dependents[d].push(p.ws.assets[i].id);
        }
    }
    let entries: Vec<replan::IndexEntry> = p
        .graph
        .order
        .iter()
        .map(|&i| {
            let a = &p.ws.assets[i];
            let root = a.root_in_project();
            replan::IndexEntry {
                id: a.id,
                dependents: std::mem::take(&mut dependents[i]),
                sources: (!structural_sources(a)).then(|| a.files().map(|f| root.join(f).to_string()).collect()),
            }
        })
        .collect();
    replan::render_index(&entries)
}

/// A Make-style depfile: `<build>/assets.pa: <every generator input>` (or another target),
/// absolute paths, for builds that run `packer build` as one command (CMake's `DEPFILE`).
fn depfile(dir: &Path, opts: &Options, manifest: &Manifest) -> anyhow::Result<Vec<u8>> {
    let base = std::fs::canonicalize(dir)?;
    let abs = |p: &str| {
        let p = Path::new(p);
        let full = if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
        crate::escape::depfile(&full.to_string_lossy())
    };
    let target = opts.depfile_target.clone().unwrap_or_else(|| format!("{}/assets.pa", opts.build_dir));
    let mut out = format!("{}:", abs(&target));
    for i in manifest.inputs() {
        out.push_str(" \\\n  ");
        out.push_str(&abs(i));
    }
    out.push('\n');
    Ok(out.into_bytes())
}

/// Removes key files and artifacts of assets no longer in the build, and temp files a killed
/// process left (gen holds the build directory's lock: nothing else is writing one now).
/// Returns how many files.
fn remove_stale(dir: &Path, opts: &Options, assets: &[Asset]) -> anyhow::Result<usize> {
    let live: BTreeSet<String> = assets.iter().map(|a| a.id.to_string()).chain(["pack".to_string()]).collect();
    let mut removed = 0;
    if let Ok(entries) = std::fs::read_dir(dir.join(&opts.build_dir)) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(fsutil::TEMP_PREFIX) && fsutil::remove_if_exists(&e.path())?
            {
                removed += 1;
            }
        }
    }
    for sub in [opts.keys_dir(), opts.obj_dir()] {
        let d: PathBuf = dir.join(sub);
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            let stem = name.split('.').next().unwrap_or("");
            let ours = stem == "pack" || stem.parse::<u64>().is_ok();
            let temp = name.starts_with(fsutil::TEMP_PREFIX);
            if (temp || (ours && !live.contains(stem))) && fsutil::remove_if_exists(&e.path())? {
                removed += 1;
            }
        }
    }
    Ok(removed)
}
