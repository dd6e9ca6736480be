//! Workspace commands over the registry and declarations (SPEC §2, §8): init, add, adopt,
//! forget, mv, list, show, and inspect of a built `assets.pa`.

use crate::decl::{self, AssetType, Declaration};
use crate::diag::{fail, Code, Diagnostic};
use crate::fsutil;
use crate::pa;
use crate::registry::{self, Entry, Registry};
use crate::relpath::RelPath;
use crate::workspace::ASSETS;
use anyhow::Context;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `packer init`: creates `assets/.prometeu/index.json` unless it exists. Inside another
/// workspace it refuses (a nested workspace is almost always a mistake: the user meant the
/// enclosing one) unless `force`.
pub fn init(dir: &Path, force: bool) -> anyhow::Result<()> {
    let assets = dir.join(ASSETS);
    if registry::path(&assets).exists() {
        crate::out::outln!("already a packer workspace: {}", registry::path(&assets).display())?;
        return Ok(());
    }
    let here = std::fs::canonicalize(dir)?;
    if let (Some(outer), false) = (here.parent().and_then(crate::workspace::find_enclosing), force) {
        return fail(
            Diagnostic::error(
                Code::PK020,
                format!("{} is inside the packer workspace {}", here.display(), outer.display()),
                format!(
                    "run packer commands from anywhere inside it (they find {}); `packer init --force` creates a separate, nested workspace",
                    outer.display()
                ),
            )
            .file(registry::path(&outer.join(ASSETS)).display()),
        );
    }
    Registry::default().save(&assets)?;
    crate::out::outln!("initialized {}", registry::path(&assets).display())?;
    Ok(())
}

/// Turns a directory argument (relative to the project directory, or absolute inside it) into
/// a root relative to `assets/`.
fn asset_root(dir: &Path, arg: &Path) -> anyhow::Result<RelPath> {
    let assets =
        std::fs::canonicalize(dir.join(ASSETS)).context("the assets directory is missing: run `packer init`")?;
    let abs = if arg.is_absolute() { arg.to_path_buf() } else { dir.join(arg) };
    // Canonicalize the deepest existing ancestor, so that a directory yet to be created works.
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        rest.push(existing.file_name().context("bad directory")?.to_owned());
        existing = existing.parent().context("bad directory")?;
    }
    let mut full = std::fs::canonicalize(existing)?;
    full.extend(rest.iter().rev());
    match full.strip_prefix(&assets).ok().and_then(RelPath::from_path) {
        Some(r) if !r.as_str().starts_with(".prometeu") => Ok(r),
        _ => fail(
            Diagnostic::error(
                Code::PK020,
                format!("`{}` is not a directory inside {ASSETS}/", arg.display()),
                format!("asset roots live below {ASSETS}/, e.g. {ASSETS}/sprites/hero"),
            )
            .file(arg.display()),
        ),
    }
}

fn root_dir(dir: &Path, root: &RelPath) -> PathBuf {
    dir.join(ASSETS).join(root.as_str())
}

/// Options of `packer add`.
pub struct AddOptions {
    pub dir: PathBuf,
    pub ty: AssetType,
    pub name: Option<String>,
    pub sources: Vec<String>,
    /// For a tilemap: the name of its tile_bank.
    pub tiles: Option<String>,
    /// `output.metadata` parameters (`--set KEY=VALUE`).
    pub set: Vec<(String, Value)>,
}

/// `packer add`: writes an asset.json when none exists, then registers the directory. What
/// it would write is checked first (the name is free, `--source` files exist, `--tiles` names
/// a registered tile bank), so a mistake leaves neither a declaration nor a registry entry.
pub fn add(dir: &Path, o: &AddOptions) -> anyhow::Result<()> {
    let _lock = lock_registry(dir)?;
    let root = asset_root(dir, &o.dir)?;
    let rdir = root_dir(dir, &root);
    let decl_file = rdir.join(decl::FILE);
    if decl_file.exists() {
        return adopt_locked(dir, &o.dir);
    }
    let reg = Registry::load(&dir.join(ASSETS))?;
    let known = listed(dir, &reg);
    let shown = format!("{ASSETS}/{root}");
    let name = o.name.clone().unwrap_or_else(|| root.file_name().to_string());
    if let Some(other) = known.iter().find(|l| l.decl.as_ref().is_some_and(|d| d.name == name)) {
        let free = free_name(&name, o.ty, &known);
        return fail(
            Diagnostic::error(
                Code::PK008,
                format!("name `{name}` is already used by `{}`", other.entry.root),
                format!("pass --name {free} (free), or another name"),
            )
            .file(&shown),
        );
    }
    for s in &o.sources {
        if let Some(other) = s.strip_prefix("@asset:") {
            check_asset_ref(other, &known, &shown)?;
            continue;
        }
        let ok = RelPath::parse(s).is_ok_and(|r| r.under(&rdir).is_file());
        if !ok {
            return fail(
                Diagnostic::error(
                    Code::PK005,
                    format!("--source `{s}` is not a file in {shown}"),
                    "give a path relative to the asset directory of a file that exists",
                )
                .file(format!("{shown}/{s}")),
            );
        }
    }
    if let Some(bank) = &o.tiles {
        check_bank_ref(bank, &known, &shown)?;
    }
    let inputs = default_inputs(&rdir, &shown, o)?;
    let uuid = uuid::Uuid::new_v4().to_string();
    let metadata: serde_json::Map<String, Value> = o.set.iter().cloned().collect();
    let bytes = decl::render_new(&uuid, &name, o.ty, &inputs, &metadata);
    let (decl, diags) = decl::parse(&bytes, &format!("{shown}/{}", decl::FILE));
    // A parameter the type does not know would be written and then ignored: refuse it here.
    if let Some(d) = diags.iter().find(|d| d.code == Code::PK004) {
        return fail(Diagnostic::error(Code::PK024, format!("--set: {}", d.message), d.fix.clone()).file(&shown));
    }
    let Some(mut decl) = decl else { return Err(crate::diag::Blocked(diags).into()) };
    check_inputs_exist(&rdir, &shown, &mut decl)?;
    fsutil::write_if_changed(&decl_file, &bytes)?;
    crate::out::outln!("wrote {}", decl_file.display())?;
    adopt_locked(dir, &o.dir)
}

/// The registry lock (lock.rs): one registry edit at a time, so that two never allocate the
/// same id or lose each other's entry.
fn lock_registry(dir: &Path) -> anyhow::Result<Option<crate::lock::Held>> {
    let assets = dir.join(ASSETS);
    if !registry::path(&assets).exists() {
        // Registry::load reports the missing registry.
        return Ok(None);
    }
    crate::lock::acquire(&crate::lock::registry_lock_path(&assets), crate::lock::Mode::Exclusive, "the registry")
        .map(Some)
}

/// A name like `base` that no registered asset has: `base_<kind>` (`level1_map`), then with
/// a number.
fn free_name(base: &str, ty: AssetType, known: &[Listed]) -> String {
    let taken = |n: &str| known.iter().any(|l| l.decl.as_ref().is_some_and(|d| d.name == n));
    let kind = ty.info().short;
    let first = format!("{base}_{kind}");
    if !taken(&first) {
        return first;
    }
    (2..).map(|i| format!("{first}{i}")).find(|n| !taken(n)).unwrap_or(first)
}

/// `name` (an `@asset:` reference) must name a registered asset.
fn check_asset_ref(name: &str, known: &[Listed], shown: &str) -> anyhow::Result<()> {
    let names: Vec<&str> = known.iter().filter_map(|l| l.decl.as_ref().map(|d| d.name.as_str())).collect();
    if names.contains(&name) {
        return Ok(());
    }
    fail(
        Diagnostic::error(
            Code::PK017,
            format!(
                "`@asset:{name}` names no registered asset{}",
                crate::suggest::did_you_mean(name, names.iter().copied())
            ),
            "register that asset first, or fix the name (`packer list` shows them)",
        )
        .file(shown),
    )
}

/// `bank` must name a registered tile bank (with a suggestion when it does not).
fn check_bank_ref(bank: &str, known: &[Listed], shown: &str) -> anyhow::Result<()> {
    let decls = || known.iter().filter_map(|l| l.decl.as_ref());
    let is_bank = |ty: AssetType| ty == AssetType::TILE_BANK;
    match decls().find(|d| d.name == bank) {
        Some(d) if is_bank(d.ty) => Ok(()),
        Some(d) => fail(
            Diagnostic::error(
                Code::PK025,
                format!("--tiles `{bank}` is a {}, not a tile_bank", d.ty.name()),
                "name the tile_bank whose PNGs the map's tilesets use (`packer list` shows the types)",
            )
            .file(shown),
        ),
        None => {
            let banks: Vec<&str> = decls().filter(|d| is_bank(d.ty)).map(|d| d.name.as_str()).collect();
            fail(
                Diagnostic::error(
                    Code::PK017,
                    format!(
                        "--tiles `{bank}` names no registered asset{}",
                        crate::suggest::did_you_mean(bank, banks.iter().copied())
                    ),
                    if banks.is_empty() {
                        "add the tile bank first: `packer add <dir> --type tile_bank`".to_string()
                    } else {
                        format!("registered tile banks: {}", banks.join(", "))
                    },
                )
                .file(shown),
            )
        }
    }
}

/// Every input of a declaration about to be registered exists: patterns match something and
/// listed files are regular files below the root.
fn check_inputs_exist(rdir: &Path, shown: &str, decl: &mut Declaration) -> anyhow::Result<()> {
    let (_, diags) = decl.expand(rdir, &format!("{shown}/{}", decl::FILE));
    if diags.iter().any(|d| d.blocking) {
        return Err(crate::diag::Blocked(diags).into());
    }
    for input in decl.inputs.values().flatten() {
        if let decl::InputRef::File(f) = input {
            if !f.under(rdir).is_file() {
                return fail(
                    Diagnostic::error(
                        Code::PK005,
                        "input file does not exist",
                        format!("create it, or remove `{f}` from {shown}/{}", decl::FILE),
                    )
                    .file(format!("{shown}/{f}"))
                    .asset(&decl.name),
                );
            }
        }
    }
    Ok(())
}

/// The inputs a new declaration lists (the type's `add_inputs`): `--source` files as given;
/// else, for a bank, a pattern that follows the folder (`**/*.png`), and for a blob or map the
/// one file found.
fn default_inputs(rdir: &Path, shown: &str, o: &AddOptions) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let files = if o.sources.is_empty() { files_below(rdir, rdir) } else { o.sources.clone() };
    let c = crate::types::AddContext { files: &files, given: !o.sources.is_empty(), tiles: o.tiles.as_deref(), shown };
    (o.ty.info().add_inputs)(&c).or_else(|d| fail(d.file(shown)))
}

/// Every regular, non-hidden file below `dir` except asset.json, relative to `base`, sorted.
fn files_below(base: &Path, dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let path = e.path();
        if name.starts_with('.') || name == decl::FILE {
            continue;
        }
        if path.is_dir() {
            out.extend(files_below(base, &path));
        } else if path.is_file() {
            if let Some(r) = path.strip_prefix(base).ok().and_then(RelPath::from_path) {
                out.push(r.to_string());
            }
        }
    }
    out.sort();
    out
}

/// `packer adopt`: registers an existing asset.json, allocating the next id.
pub fn adopt(dir: &Path, arg: &Path) -> anyhow::Result<()> {
    let _lock = lock_registry(dir)?;
    adopt_locked(dir, arg)
}

fn adopt_locked(dir: &Path, arg: &Path) -> anyhow::Result<()> {
    let assets = dir.join(ASSETS);
    let mut reg = Registry::load(&assets)?;
    let root = asset_root(dir, arg)?;
    let decl_file = root_dir(dir, &root).join(decl::FILE);
    let decl = read_decl(&decl_file)?;
    if let Some(e) = reg.by_root(&root) {
        return fail(
            Diagnostic::error(
                Code::PK009,
                format!("`{root}` is already registered as asset {}", e.asset_id),
                "nothing to do; `packer show` it",
            )
            .file(decl_file.display()),
        );
    }
    if let Some(e) = reg.assets.iter().find(|e| e.asset_uuid == decl.asset_uuid) {
        return fail(
            Diagnostic::error(
                Code::PK007,
                format!("asset_uuid {} is already registered for `{}`", decl.asset_uuid, e.root),
                "a copied directory needs a new asset_uuid in its asset.json",
            )
            .file(decl_file.display()),
        );
    }
    let known = listed(dir, &reg);
    if let Some(other) = known.iter().find(|l| l.decl.as_ref().is_some_and(|d| d.name == decl.name)) {
        return fail(
            Diagnostic::error(
                Code::PK008,
                format!("name `{}` is already used by `{}`", decl.name, other.entry.root),
                format!("rename the asset in its asset.json (`{}` is free)", free_name(&decl.name, decl.ty, &known)),
            )
            .file(decl_file.display()),
        );
    }
    let shown = format!("{ASSETS}/{root}");
    // `@asset:` references are left to gen: declarations that reference each other are
    // adopted one at a time.
    let mut expanded = decl.clone();
    check_inputs_exist(&root_dir(dir, &root), &shown, &mut expanded)?;
    let Some(id) = reg.allocate_id() else {
        return fail(
            Diagnostic::error(
                Code::PK006,
                "no asset id is left: an id in the registry is at the largest value",
                "give that entry a smaller id by hand (ids are never reused, so pick one above every other)",
            )
            .file(registry::path(&assets).display()),
        );
    };
    reg.assets.push(Entry {
        asset_id: id,
        asset_uuid: decl.asset_uuid.clone(),
        root: root.clone(),
        included_in_build: true,
    });
    reg.save(&assets)?;
    crate::out::outln!("registered `{}` as asset {id} ({root})", decl.name)?;
    Ok(())
}

fn read_decl(file: &Path) -> anyhow::Result<Declaration> {
    decl::read(file, "create it with `packer add <dir> --type <type>`")
}

/// A registered asset as `list` and `show` describe it.
struct Listed {
    entry: Entry,
    decl: Option<Declaration>,
}

fn listed(dir: &Path, reg: &Registry) -> Vec<Listed> {
    reg.assets
        .iter()
        .map(|e| {
            let decl = std::fs::read(root_dir(dir, &e.root).join(decl::FILE)).ok().and_then(|b| decl::parse(&b, "").0);
            Listed { entry: e.clone(), decl }
        })
        .collect()
}

/// Finds an asset by id, name or path (the root, relative to the project or to `assets/`).
fn resolve(dir: &Path, reg: &Registry, query: &str) -> anyhow::Result<Entry> {
    let all = listed(dir, reg);
    let by_id = query.parse::<u64>().ok().and_then(|id| reg.by_id(id).cloned());
    let by_name = || all.iter().find(|l| l.decl.as_ref().is_some_and(|d| d.name == query)).map(|l| l.entry.clone());
    let by_path = || {
        let p = Path::new(query);
        asset_root(dir, p).ok().or_else(|| RelPath::parse(query).ok()).and_then(|r| reg.by_root(&r).cloned())
    };
    match by_id.or_else(by_name).or_else(by_path) {
        Some(e) => Ok(e),
        None => {
            let names: Vec<&str> = all.iter().filter_map(|l| l.decl.as_ref().map(|d| d.name.as_str())).collect();
            fail(
                Diagnostic::error(
                    Code::PK020,
                    format!(
                        "no registered asset matches `{query}`{}",
                        crate::suggest::did_you_mean(query, names.iter().copied())
                    ),
                    "give an asset id, name or root path; `packer list` shows them",
                )
                .file(format!("{ASSETS}/{}", registry::INDEX)),
            )
        }
    }
}

/// Resolves an asset query to (asset_id, name) for other commands.
pub fn resolve_asset(dir: &Path, query: &str) -> anyhow::Result<(u64, String)> {
    let reg = Registry::load(&dir.join(ASSETS))?;
    let e = resolve(dir, &reg, query)?;
    let name = listed(dir, &reg)
        .into_iter()
        .find(|l| l.entry.asset_id == e.asset_id)
        .and_then(|l| l.decl.map(|d| d.name))
        .unwrap_or_else(|| e.root.to_string());
    Ok((e.asset_id, name))
}

/// `packer forget`: unregisters, keeping the files. The id is never reused.
pub fn forget(dir: &Path, query: &str) -> anyhow::Result<()> {
    let _lock = lock_registry(dir)?;
    let assets = dir.join(ASSETS);
    let mut reg = Registry::load(&assets)?;
    let e = resolve(dir, &reg, query)?;
    reg.assets.retain(|x| x.asset_id != e.asset_id);
    reg.save(&assets)?;
    crate::out::outln!("forgot asset {} ({}); its files are kept", e.asset_id, e.root)?;
    Ok(())
}

/// `packer mv`: moves the asset root; id and uuid stay.
pub fn mv(dir: &Path, query: &str, to: &Path) -> anyhow::Result<()> {
    let _lock = lock_registry(dir)?;
    let assets = dir.join(ASSETS);
    let mut reg = Registry::load(&assets)?;
    let e = resolve(dir, &reg, query)?;
    let new_root = asset_root(dir, to)?;
    let (from_dir, to_dir) = (root_dir(dir, &e.root), root_dir(dir, &new_root));
    if to_dir.exists() {
        return fail(
            Diagnostic::error(
                Code::PK020,
                format!("`{}` already exists", to.display()),
                "choose a directory that does not exist yet",
            )
            .file(to.display()),
        );
    }
    if new_root.as_str().starts_with(&format!("{}/", e.root)) {
        return fail(
            Diagnostic::error(Code::PK020, "cannot move an asset root inside itself", "choose another directory")
                .file(to.display()),
        );
    }
    if let Some(parent) = to_dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(&from_dir, &to_dir)
        .with_context(|| format!("moving {} to {}", from_dir.display(), to_dir.display()))?;
    for x in reg.assets.iter_mut().filter(|x| x.asset_id == e.asset_id) {
        x.root = new_root.clone();
    }
    reg.save(&assets)?;
    crate::out::outln!("moved asset {} from {} to {new_root}", e.asset_id, e.root)?;
    Ok(())
}

fn describe(l: &Listed, full: bool) -> Value {
    let mut v = json!({
        "asset_id": l.entry.asset_id,
        "asset_uuid": l.entry.asset_uuid,
        "root": l.entry.root,
        "included_in_build": l.entry.included_in_build,
        "name": l.decl.as_ref().map(|d| d.name.clone()),
        "type": l.decl.as_ref().map(|d| d.ty.name()),
    });
    if let (true, Some(d)) = (full, &l.decl) {
        v["inputs"] = d.inputs_json();
        v["output"] = json!({"format": d.ty.format(), "codec": d.codec, "metadata": d.metadata});
        v["preload"] = json!({"enabled": d.preload});
    }
    v
}

/// `packer list`.
pub fn list(dir: &Path, as_json: bool) -> anyhow::Result<()> {
    let reg = Registry::load(&dir.join(ASSETS))?;
    let all = listed(dir, &reg);
    if as_json {
        let v: Vec<Value> = all.iter().map(|l| describe(l, false)).collect();
        crate::out::outln!("{}", serde_json::to_string_pretty(&json!({"schema_version": 1, "assets": v}))?)?;
        return Ok(());
    }
    crate::out::outln!("{:>4}  {:<20} {:<11} {:<8} root", "id", "name", "type", "build")?;
    for l in &all {
        let (name, ty) = l.decl.as_ref().map(|d| (d.name.as_str(), d.ty.name())).unwrap_or(("<invalid>", "?"));
        let inc = if l.entry.included_in_build { "yes" } else { "excluded" };
        crate::out::outln!("{:>4}  {:<20} {:<11} {:<8} {}", l.entry.asset_id, name, ty, inc, l.entry.root)?;
    }
    Ok(())
}

/// `packer show`.
pub fn show(dir: &Path, query: &str, as_json: bool) -> anyhow::Result<()> {
    let reg = Registry::load(&dir.join(ASSETS))?;
    let e = resolve(dir, &reg, query)?;
    let l = listed(dir, &reg).into_iter().find(|l| l.entry.asset_id == e.asset_id).context("asset vanished")?;
    let v = describe(&l, true);
    if as_json {
        crate::out::outln!("{}", serde_json::to_string_pretty(&v)?)?;
    } else if let Value::Object(m) = v {
        for (k, v) in m {
            crate::out::outln!("{k:<18} {}", if let Value::String(s) = &v { s.clone() } else { v.to_string() })?;
        }
    }
    Ok(())
}

/// `packer inspect`: prints the asset table of a built `assets.pa`.
pub fn inspect(file: &Path, as_json: bool) -> anyhow::Result<()> {
    let unreadable = |why: String| {
        fail(
            Diagnostic::error(
                Code::PK019,
                format!("cannot read the container: {why}"),
                "build it first (`packer build`, or `packer gen && ninja`), or name an assets.pa file",
            )
            .file(file.display()),
        )
    };
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => return unreadable(e.to_string()),
    };
    let parsed = match pa::read(&bytes) {
        Ok(p) => p,
        Err(e) => return unreadable(format!("{e:#}")),
    };
    if as_json {
        crate::out::outln!("{}", serde_json::to_string_pretty(&parsed.header)?)?;
        return Ok(());
    }
    let empty = Vec::new();
    let table = parsed.header["asset_table"].as_array().unwrap_or(&empty);
    let preloaded: Vec<u64> =
        parsed.header["preload"].as_array().unwrap_or(&empty).iter().filter_map(|p| p["asset_id"].as_u64()).collect();
    crate::out::outln!("{}: {} assets, {} bytes", file.display(), table.len(), bytes.len())?;
    crate::out::outln!("{:>4}  {:<20} {:<8} {:>8} {:>8}  preload  metadata", "id", "name", "bank", "offset", "size")?;
    for e in table {
        let id = e["asset_id"].as_u64().unwrap_or(0);
        crate::out::outln!(
            "{:>4}  {:<20} {:<8} {:>8} {:>8}  {:<7}  {}",
            id,
            e["asset_name"].as_str().unwrap_or(""),
            e["bank_type"].as_str().unwrap_or(""),
            e["offset"].as_u64().unwrap_or(0),
            e["size"].as_u64().unwrap_or(0),
            if preloaded.contains(&id) { "yes" } else { "no" },
            e["metadata"]
        )?;
    }
    Ok(())
}
