//! The workspace stage: registry + every registered declaration → validated `Asset`s, with
//! every identity and input problem reported as a diagnostic (SPEC §2, §9).

use crate::decl::{self, Declaration, InputRef};
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::fingerprint::Fingerprint;
use crate::registry::Registry;
use crate::relpath::RelPath;
use crate::types::Discover;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The assets directory of a project.
pub const ASSETS: &str = "assets";

/// One registered asset included in the build, validated.
#[derive(Clone, Debug)]
pub struct Asset {
    pub id: u64,
    /// Root relative to the assets directory.
    pub root: RelPath,
    pub decl: Declaration,
    /// Files found while reading the declared inputs (a map's external tilesets), relative
    /// to the root: sources like the declared ones, but not listed in asset.json.
    pub discovered: Vec<RelPath>,
    /// Directories whose listing decided what the input patterns matched, relative to the
    /// project directory (the root itself among them): inputs of the generator edge, so that
    /// a file added to or removed from them re-runs gen.
    pub walked: Vec<RelPath>,
}

impl Asset {
    /// Every input file, in role order then declared order, relative to the asset root.
    pub fn files(&self) -> impl Iterator<Item = &RelPath> {
        self.declared_files().chain(&self.discovered)
    }

    /// The input files asset.json lists, in role order then declared order.
    pub fn declared_files(&self) -> impl Iterator<Item = &RelPath> {
        self.decl.inputs.values().flatten().filter_map(|i| match i {
            InputRef::File(p) => Some(p),
            InputRef::Pattern(_) | InputRef::Asset(_) => None,
        })
    }

    /// Names of the assets this one references with `@asset:`.
    pub fn asset_refs(&self) -> impl Iterator<Item = &str> {
        self.decl.inputs.values().flatten().filter_map(|i| match i {
            InputRef::Asset(n) => Some(n.as_str()),
            InputRef::File(_) | InputRef::Pattern(_) => None,
        })
    }

    /// The root relative to the project directory (`assets/<root>`).
    pub fn root_in_project(&self) -> RelPath {
        project_path(&self.root)
    }
}

/// The workspace that `start` is in, as git and cargo find theirs: `start` or the nearest
/// directory above it that holds `assets/.prometeu/index.json`.
pub fn find_enclosing(start: &Path) -> Option<PathBuf> {
    start.ancestors().find(|d| crate::registry::path(&d.join(ASSETS)).is_file()).map(Path::to_path_buf)
}

/// `assets/<p>`: a path below the assets directory, relative to the project directory.
pub fn project_path(p: &RelPath) -> RelPath {
    RelPath::parse(ASSETS).map(|a| a.join(p)).unwrap_or_else(|_| p.clone())
}

/// A loaded workspace: what `gen` plans from.
#[derive(Debug)]
pub struct Workspace {
    pub dir: PathBuf,
    pub registry: Registry,
    /// Included assets, increasing `asset_id`.
    pub assets: Vec<Asset>,
    pub diags: Diagnostics,
    /// Fingerprints of the registry and of every declaration read, by project-relative path,
    /// for gen's fingerprints: a later touch of them is then told from an edit by content.
    pub read: Vec<(String, Fingerprint)>,
}

impl Workspace {
    pub fn assets_dir(&self) -> PathBuf {
        self.dir.join(ASSETS)
    }

    /// Loads and validates the workspace at project directory `dir`. Fails only when the
    /// registry itself is unusable; every other problem is in `diags`.
    pub fn load(dir: &Path) -> anyhow::Result<Workspace> {
        let assets_dir = dir.join(ASSETS);
        let (registry, print) = Registry::load_fingerprinted(&assets_dir)?;
        let mut read = vec![(format!("{ASSETS}/{}", crate::registry::INDEX), print)];
        let mut diags = Diagnostics::default();
        check_registry_identity(&registry, &mut diags);
        let mut assets = Vec::new();
        // Reading and parsing the declarations is the bulk of the work: spread it over the cores.
        let parsed = crate::par::parallel_map(&registry.assets, |entry| {
            let decl_rel = project_path(&entry.root).join(&rel(decl::FILE));
            let bytes = crate::fingerprint::read_fingerprinted(&decl_rel.under(dir));
            let parsed =
                bytes.as_ref().ok().map(|(bytes, print)| (decl::parse(bytes, decl_rel.as_str()), print.clone()));
            Ok((decl_rel, bytes.err(), parsed))
        })?;
        for (entry, (decl_rel, read_error, parsed)) in registry.assets.iter().zip(parsed) {
            let parsed = parsed.map(|(p, print)| {
                read.push((decl_rel.to_string(), print));
                p
            });
            let (decl, found) = match (read_error, parsed) {
                (None, Some(p)) => p,
                (e, _) => {
                    let e = e.map(|e| e.to_string()).unwrap_or_default();
                    diags.push(
                        Diagnostic::error(
                            Code::PK002,
                            format!("registered asset {} has no readable asset.json: {e}", entry.asset_id),
                            "restore the directory, `packer mv` it to where it went, or `packer forget` it",
                        )
                        .file(&decl_rel),
                    );
                    continue;
                }
            };
            let name = decl.as_ref().map(|d| d.name.clone());
            for d in found {
                diags.push(match &name {
                    Some(n) => d.asset(n),
                    None => d,
                });
            }
            let Some(decl) = decl else { continue };
            if decl.asset_uuid != entry.asset_uuid {
                diags.push(Diagnostic::error(Code::PK007,
                    format!("asset.json has asset_uuid {} but the registry has {}", decl.asset_uuid, entry.asset_uuid),
                    "restore the uuid in asset.json; a copied directory must be registered with `packer adopt` after giving it a new uuid")
                    .file(&decl_rel).asset(&decl.name));
                continue;
            }
            // Excluded assets still take part in name uniqueness, so keep them until then.
            assets.push((
                Asset {
                    id: entry.asset_id,
                    root: entry.root.clone(),
                    decl,
                    discovered: Vec::new(),
                    walked: Vec::new(),
                },
                entry.included_in_build,
            ));
        }
        check_names(assets.iter().map(|(a, _)| a), &mut diags);
        let mut assets: Vec<Asset> = assets.into_iter().filter_map(|(a, inc)| inc.then_some(a)).collect();
        assets.sort_by_key(|a| a.id);
        // Patterns expanded, then one lstat or more per input: on every core too, each asset
        // changed in place (a copy of each was 7.7 MB of a cold gen's peak at 10,000 assets).
        let mut checked: Vec<(Asset, Diagnostics)> = assets.into_iter().map(|a| (a, Diagnostics::default())).collect();
        crate::par::parallel_for_each_mut(&mut checked, |(a, found)| {
            if !expand(dir, a, found) || !root_inside(dir, a, found) {
                return Ok(());
            }
            // Discovered files (a map's tilesets) are checked like declared ones.
            if let Some(hook) = &a.decl.ty.info().discover {
                a.discovered = discover(dir, a, hook, found);
            }
            check_inputs(dir, a, found);
            Ok(())
        })?;
        let assets: Vec<Asset> = checked
            .into_iter()
            .map(|(a, found)| {
                diags.0.extend(found.0);
                a
            })
            .collect();
        check_refs(&assets, &mut diags);
        Ok(Workspace { dir: dir.to_path_buf(), registry, assets, diags, read })
    }
}

fn rel(s: &str) -> RelPath {
    RelPath::parse(s).unwrap_or_else(|_| unreachable!("constant path {s}"))
}

fn check_registry_identity(reg: &Registry, diags: &mut Diagnostics) {
    let file = format!("{ASSETS}/{}", crate::registry::INDEX);
    let mut ids = HashMap::new();
    let mut uuids = HashMap::new();
    let mut roots = HashMap::new();
    for e in &reg.assets {
        // SPEC §2.1: ids start at 1; no registration allocates 0. The registry still loads,
        // so that `forget` can take the entry out.
        if e.asset_id == 0 {
            diags.push(
                Diagnostic::error(
                    Code::PK001,
                    format!("the registry entry for `{}` has asset_id 0; asset ids start at 1", e.root),
                    "restore index.json from version control, or `packer forget` the asset and `packer adopt` it again for a fresh id",
                )
                .file(&file),
            );
        }
        if let Some(other) = ids.insert(e.asset_id, &e.root) {
            diags.push(
                Diagnostic::error(
                    Code::PK006,
                    format!("asset_id {} is used by both `{other}` and `{}`", e.asset_id, e.root),
                    "`packer forget` one of them and `packer adopt` it again to get a fresh id",
                )
                .file(&file),
            );
        }
        if let Some(other) = uuids.insert(&e.asset_uuid, &e.root) {
            diags.push(
                Diagnostic::error(
                    Code::PK007,
                    format!("asset_uuid {} is used by both `{other}` and `{}`", e.asset_uuid, e.root),
                    "give the copy a new asset_uuid in its asset.json and `packer adopt` it",
                )
                .file(&file),
            );
        }
        if let Some(other) = roots.insert(&e.root, e.asset_id) {
            diags.push(
                Diagnostic::error(
                    Code::PK009,
                    format!("root `{}` is registered twice (ids {other} and {})", e.root, e.asset_id),
                    "`packer forget` the duplicate entry",
                )
                .file(&file),
            );
        }
    }
}

fn check_names<'a>(assets: impl Iterator<Item = &'a Asset>, diags: &mut Diagnostics) {
    let mut seen: HashMap<&str, &Asset> = HashMap::new();
    for a in assets {
        if let Some(first) = seen.insert(&a.decl.name, a) {
            diags.push(
                Diagnostic::error(
                    Code::PK008,
                    format!("name `{}` is declared by both `{}` and `{}`", a.decl.name, first.root, a.root),
                    "rename one of them in its asset.json (names are the labels game code uses)",
                )
                .file(a.root_in_project().join(&rel(decl::FILE)))
                .asset(&a.decl.name),
            );
        }
    }
}

/// Whether the asset's root is a directory inside `assets/`: a root reached through a
/// symbolic link that leads elsewhere would bring outside files into the build.
fn root_inside(dir: &Path, a: &Asset, diags: &mut Diagnostics) -> bool {
    let assets = dir.join(ASSETS);
    let (through_link, _) = walk(&assets, &a.root);
    if !through_link {
        return true;
    }
    let inside = match (std::fs::canonicalize(&assets), std::fs::canonicalize(a.root.under(&assets))) {
        (Ok(top), Ok(root)) => root.starts_with(top),
        _ => false,
    };
    if !inside {
        diags.push(
            Diagnostic::error(
                Code::PK013,
                format!("the asset root resolves outside {ASSETS}/ (through a symbolic link)"),
                format!("move the files into {ASSETS}/ instead of linking to them"),
            )
            .file(a.root_in_project())
            .asset(&a.decl.name),
        );
    }
    inside
}

/// Expands the asset's input patterns (recording the directories walked); false when a
/// pattern matched nothing or the expanded inputs do not fit the type.
fn expand(dir: &Path, a: &mut Asset, diags: &mut Diagnostics) -> bool {
    if !a.decl.has_patterns() {
        return true;
    }
    let root = a.root_in_project();
    let file = root.join(&rel(decl::FILE));
    let (walked, found) = a.decl.expand(&root.under(dir), file.as_str());
    a.walked = walked.into_iter().map(|d| d.map(|d| root.join(&d)).unwrap_or_else(|| root.clone())).collect();
    let ok = !found.iter().any(|d| d.blocking);
    diags.0.extend(found.into_iter().map(|d| d.asset(&a.decl.name)));
    ok
}

fn check_inputs(dir: &Path, a: &Asset, diags: &mut Diagnostics) {
    let decl_file = a.root_in_project().join(&rel(decl::FILE));
    let name = &a.decl.name;
    let root = a.root_in_project().under(dir);
    let mut canon_root = None;
    for f in a.files() {
        let shown = a.root_in_project().join(f);
        if let Some(c) = shown.as_str().chars().find(|c| c.is_control()) {
            diags.push(
                Diagnostic::error(
                    Code::PK016,
                    format!("path contains the control character {c:?}, which build.ninja cannot represent"),
                    "rename the file without newlines or control characters",
                )
                .file(shown.as_str().escape_debug())
                .asset(name),
            );
            continue;
        }
        let path = f.under(&root);
        // One lstat per path component finds both a symlink on the way (the only way out of
        // the root) and, for the common plain file, its type: no second lookup.
        let (through_link, last) = walk(&root, f);
        let meta =
            if through_link { std::fs::metadata(&path) } else { last.ok_or(std::io::ErrorKind::NotFound.into()) };
        match meta {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                diags.push(
                    Diagnostic::error(Code::PK005, "input is not a regular file", "list files, not directories")
                        .file(&shown)
                        .asset(name),
                );
                continue;
            }
            Err(_) => {
                diags.push(
                    Diagnostic::error(
                        Code::PK005,
                        "input file does not exist",
                        format!("create it, or remove `{f}` from {decl_file}"),
                    )
                    .file(&shown)
                    .asset(name),
                );
                continue;
            }
        }
        // Only a symlink (the file or a directory between it and the root) can lead outside;
        // an lstat per component finds one without resolving every path.
        let inside = !through_link || {
            let r = canon_root.get_or_insert_with(|| std::fs::canonicalize(&root).ok());
            match (r, std::fs::canonicalize(&path)) {
                (Some(r), Ok(p)) => p.starts_with(r),
                _ => false,
            }
        };
        if !inside {
            diags.push(
                Diagnostic::error(
                    Code::PK013,
                    "input resolves outside its asset root (through a symlink)",
                    "copy the file into the asset directory, or reference another asset with \"@asset:<name>\"",
                )
                .file(&shown)
                .asset(name),
            );
        }
    }
}

/// Whether `root/f` passes through a symlink below `root` (the file itself included), and
/// the lstat of `root/f` when it does not (`None` if a component is missing).
fn walk(root: &Path, f: &RelPath) -> (bool, Option<std::fs::Metadata>) {
    let mut p = root.to_path_buf();
    let mut last = None;
    for c in f.as_str().split('/') {
        p.push(c);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => return (true, None),
            Ok(m) => last = Some(m),
            Err(_) => return (false, None),
        }
    }
    (false, last)
}

fn check_refs(assets: &[Asset], diags: &mut Diagnostics) {
    for a in assets {
        for (role, list) in &a.decl.inputs {
            for r in list.iter().filter_map(|i| if let InputRef::Asset(n) = i { Some(n) } else { None }) {
                let target = assets.iter().find(|b| &b.decl.name == r);
                let file = a.root_in_project().join(&rel(decl::FILE));
                match target {
                    None => diags.push(
                        Diagnostic::error(
                            Code::PK017,
                            format!(
                                "`@asset:{r}` names no registered asset included in the build{}",
                                crate::suggest::did_you_mean(r, assets.iter().map(|b| b.decl.name.as_str()))
                            ),
                            "register that asset, or fix the name",
                        )
                        .file(file)
                        .asset(&a.decl.name),
                    ),
                    Some(t) => {
                        let wanted = a.decl.ty.role(role).and_then(|r| r.asset_of);
                        if let Some(wanted) = wanted.filter(|w| *w != t.decl.ty.name()) {
                            diags.push(
                                Diagnostic::error(
                                    Code::PK025,
                                    format!(
                                        "`@asset:{r}` is a {}, but a {}'s {role} must be a {wanted}",
                                        t.decl.ty.name(),
                                        a.decl.ty.name()
                                    ),
                                    format!("reference a {wanted} in inputs.{role}"),
                                )
                                .file(file)
                                .asset(&a.decl.name),
                            )
                        }
                    }
                }
            }
        }
    }
}

/// The files an asset's declared files reference (its type's [`Discover`] hook: a tilemap's
/// external tilesets), resolved against the referencing file's directory; they must exist
/// inside the asset root. Problems reading the declared file itself are left to the step,
/// which reports them with the file and line.
fn discover(dir: &Path, a: &Asset, hook: &Discover, diags: &mut Diagnostics) -> Vec<RelPath> {
    let root = a.root_in_project();
    let mut found = Vec::new();
    for map in a.declared_files() {
        let Ok(bytes) = crate::fsutil::read_beneath(&root.under(dir), map.as_str(), crate::decl::MAX_INPUT_BYTES)
        else {
            continue;
        };
        let Ok(list) = (hook.find)(&bytes, map.file_name()) else { continue };
        let map_dir = map.as_str().rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        for tsx in list {
            let joined = if map_dir.is_empty() { tsx.clone() } else { format!("{map_dir}/{tsx}") };
            let resolved = crate::relpath::lexical(&joined).inside().and_then(|p| RelPath::parse(&p).ok());
            let shown = format!("{root}/{joined}");
            match resolved {
                Some(p) if p.under(&root.under(dir)).is_file() => {
                    if !found.contains(&p) {
                        found.push(p);
                    }
                }
                Some(_) => diags.push(
                    Diagnostic::error(
                        Code::PK026,
                        format!("{} `{tsx}` referenced by {map} does not exist", hook.what),
                        hook.fix_missing,
                    )
                    .file(shown)
                    .asset(&a.decl.name),
                ),
                None => diags.push(
                    Diagnostic::error(
                        Code::PK026,
                        format!("{} `{tsx}` referenced by {map} is outside the asset root", hook.what),
                        hook.fix_outside,
                    )
                    .file(shown)
                    .asset(&a.decl.name),
                ),
            }
        }
    }
    found
}
