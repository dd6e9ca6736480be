//! `packer gen`: the hashing front. Loads the workspace, builds the graph, hashes every
//! source, computes every action's key, rewrites the key files (the gates) whose content
//! changed, removes outputs of assets that left the build, and writes build.ninja when its
//! bytes change.

use crate::diag::{Blocked, Code, Diagnostic};
use crate::fingerprint::Fingerprints;
use crate::fsutil;
use crate::gates;
use crate::genstate;
use crate::graph;
use crate::keys::{ActionKey, Mode};
use crate::ninja::{self, AssetEdge, Manifest};
use crate::plan;
use crate::registry;
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
    /// Run by Ninja's generator edge (quiet; under a prefix, a changed graph fails the run).
    pub regen: bool,
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
            regen: false,
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
    let state_options = state_options(opts);
    // The fingerprints are read only if an input's stat changed: they hold the hash of the
    // bytes gen last used.
    let prints = std::sync::OnceLock::new();
    let used = |p: &str| prints.get_or_init(|| Fingerprints::load(dir)).hash_of(p).map(str::to_string);
    match genstate::check(dir, &opts.build_dir, &state_options, &used) {
        genstate::Check::Unchanged => return Ok(Report { unchanged: true, ..Report::default() }),
        genstate::Check::Touched(touched) => {
            // Same bytes everywhere: only the fingerprints and the state learn the new stat
            // data. Nothing is planned, no key file or build.ninja is looked at.
            let mut fp = prints.into_inner().unwrap_or_else(|| Fingerprints::load(dir));
            for f in &touched.refreshed {
                fp.refresh(&f.path, f.stat, f.taken);
            }
            fp.save(dir)?;
            let hashed = touched.refreshed.len();
            touched.record(dir, &opts.build_dir);
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
    let keys_dir = dir.join(opts.keys_dir());
    let mut key_files: Vec<(PathBuf, &ActionKey)> =
        p.ws.assets.iter().zip(&p.keys).map(|(a, k)| (keys_dir.join(format!("{}.key", a.id)), k)).collect();
    key_files.push((keys_dir.join("pack.key"), &p.pack));
    // In strict mode, an action whose new key the cache holds is restored here, in bulk; its
    // gate then stays shut (see `gates::write`). Actions with dependencies are left to their
    // steps, which record the dependency keys they actually read. The pack comes last: when
    // every asset's artifact is then recorded under its planned key (nothing left for a step
    // to build), its planned key is the one its step would compute, and it is restored too.
    let obj_dir = dir.join(opts.obj_dir());
    let cache = opts.cache_dir.as_ref().map(|c| crate::cache::Cache::new(dir.join(c)));
    // Set when a rewritten gate is left to its step: then the pack waits for that step too,
    // and the records need not even be read.
    let left_to_a_step = std::sync::atomic::AtomicBool::new(false);
    let restore = |i: usize| {
        let Some(cache) = &cache else { return false };
        if opts.mode != Mode::Strict {
            return false;
        }
        let Some(a) = p.ws.assets.get(i) else {
            return !left_to_a_step.load(std::sync::atomic::Ordering::Relaxed)
                && restore_pack(&p, &obj_dir, &dir.join(&opts.build_dir), cache);
        };
        let gate = step::artifact_gate(&obj_dir.join(a.id.to_string()), Some(cache.clone()), opts.mode);
        let restored = p.graph.deps[i].is_empty() && matches!(gate.restore(&p.keys[i]), Ok(Some(_)));
        if !restored {
            left_to_a_step.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        restored
    };
    let written = gates::write(&dir.join(&opts.build_dir), opts.mode, &key_files, 1, restore)?;
    report.keys_rewritten = written.keys;
    report.restored = written.restored;
    report.removed = remove_stale(dir, opts, &p.ws.assets)?;
    let keys_written = started.elapsed();
    report.ninja_written = fsutil::write_if_changed(&dir.join(&opts.ninja_file), text.as_bytes())?;
    if let Some(d) = &opts.depfile {
        fsutil::write_if_changed(&dir.join(d), &depfile(dir, opts, &manifest)?)?;
    }
    let ninja_written = started.elapsed();
    record_state(dir, opts, state_options, &manifest, &p.ws.assets);
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
            fp.hash_time.as_secs_f64(),
            fp.hashed,
            fp.hashed_bytes,
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
        std::mem::forget(key_files);
        std::mem::forget((p, manifest, text, fp));
    }
    Ok(report)
}

/// gen's restore of the pack: only when every asset's record holds its planned strong key
/// (each was up to date, or has just been restored), so that the pack's planned key is the
/// one its step would compute from the records.
fn restore_pack(p: &plan::Plan, obj_dir: &Path, build_dir: &Path, cache: &crate::cache::Cache) -> bool {
    let settled = crate::par::parallel_map(&p.ws.assets, |a| {
        let rec = step::with_ext(&obj_dir.join(a.id.to_string()), "rec");
        Ok(step::read_record_keys(&rec).map(|r| r.strong))
    });
    let Ok(recorded) = settled else { return false };
    if recorded.iter().zip(&p.keys).any(|(r, k)| r.as_deref() != Some(k.strong.as_str())) {
        return false;
    }
    matches!(step::pack::restore(obj_dir, build_dir, cache, &p.pack), Ok(Some(_)))
}

fn manifest(ws: &Workspace, g: &graph::Graph, opts: &Options) -> anyhow::Result<Manifest> {
    let packer = std::env::current_exe().context("locating the packer binary")?;
    let packer = packer.to_str().context("the packer binary's path is not UTF-8")?.to_string();
    let mut gen_inputs = vec![format!("{ASSETS}/{}", registry::INDEX)];
    let mut edges = Vec::with_capacity(ws.assets.len());
    for (i, a) in ws.assets.iter().enumerate() {
        let root = a.root_in_project();
        let sources: Vec<String> = a.files().map(|f| root.join(f).to_string()).collect();
        gen_inputs.push(format!("{root}/{}", crate::decl::FILE));
        gen_inputs.push(root.to_string());
        // Every directory an input pattern listed: a file added there changes the inputs.
        gen_inputs.extend(a.walked.iter().map(|d| d.to_string()));
        gen_inputs.extend(sources.iter().cloned());
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
    gen_inputs.push(packer.clone());
    let mut seen = BTreeSet::new();
    gen_inputs.retain(|p| seen.insert(p.clone()));
    Ok(Manifest {
        packer,
        prefix: opts.prefix.clone(),
        cache: opts.cache_dir.clone(),
        non_strict: opts.mode == Mode::NonStrict,
        gen_args: opts.args(),
        build_dir: opts.build_dir.clone(),
        ninja_file: opts.ninja_file.clone(),
        assets: edges,
        gen_inputs,
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
/// build.ninja, depfile) for the next run's fast path.
fn record_state(dir: &Path, opts: &Options, options: String, manifest: &Manifest, assets: &[Asset]) {
    // Root directories are generator inputs for Ninja but decide nothing in gen's output,
    // unless an input pattern listed them; the packer binary is covered by the options' stamp.
    let walked: std::collections::HashSet<String> =
        assets.iter().flat_map(|a| a.walked.iter().map(|d| d.to_string())).collect();
    let roots: std::collections::HashSet<String> =
        assets.iter().map(|a| a.root_in_project().to_string()).filter(|r| !walked.contains(r)).collect();
    let mut inputs: Vec<String> =
        manifest.gen_inputs.iter().filter(|p| !roots.contains(*p) && !Path::new(p).is_absolute()).cloned().collect();
    // The key files are covered by their directory, one stat instead of one per asset: only
    // gen writes them, always by rename, so a key file deleted or replaced changes the
    // directory's mtime. It counts as an input for the racy-clean rule (and has no hash to
    // compare), so a key file removed within the same clock tick as gen's last write still
    // forces a full run.
    inputs.push(opts.keys_dir());
    let mut outputs = vec![opts.ninja_file.clone()];
    // A missing or damaged fingerprints file is rebuilt by a full run.
    outputs.push(crate::fingerprint::FILE.to_string());
    outputs.extend(opts.depfile.clone());
    genstate::record(dir, &opts.build_dir, &genstate::GenState { options, inputs, outputs });
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
    for i in &manifest.gen_inputs {
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
