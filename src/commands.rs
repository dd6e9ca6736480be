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

/// `packer init`: creates `assets/.prometeu/index.json` unless it exists.
pub fn init(dir: &Path) -> anyhow::Result<()> {
    let assets = dir.join(ASSETS);
    if registry::path(&assets).exists() {
        println!("already a packer workspace: {}", registry::path(&assets).display());
        return Ok(());
    }
    Registry::default().save(&assets)?;
    println!("initialized {}", registry::path(&assets).display());
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
        _ => fail(Diagnostic::error(
            Code::PK020,
            format!("`{}` is not a directory inside {ASSETS}/", arg.display()),
            format!("asset roots live below {ASSETS}/, e.g. {ASSETS}/sprites/hero"),
        )),
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
}

/// `packer add`: writes an asset.json when none exists, then registers the directory.
pub fn add(dir: &Path, o: &AddOptions) -> anyhow::Result<()> {
    let root = asset_root(dir, &o.dir)?;
    let rdir = root_dir(dir, &root);
    let decl_file = rdir.join(decl::FILE);
    if !decl_file.exists() {
        let reg = Registry::load(&dir.join(ASSETS))?;
        let name = o.name.clone().unwrap_or_else(|| root.file_name().to_string());
        if let Some(other) = declared_names(dir, &reg).into_iter().find(|(n, _)| *n == name) {
            return fail(Diagnostic::error(
                Code::PK008,
                format!("name `{name}` is already used by `{}`", other.1),
                "pass --name with another name",
            ));
        }
        let inputs = default_inputs(&rdir, o)?;
        let uuid = uuid::Uuid::new_v4().to_string();
        fsutil::write_if_changed(&decl_file, &decl::render_new(&uuid, &name, o.ty, &inputs))?;
        println!("wrote {}", decl_file.display());
    }
    adopt(dir, &o.dir)
}

/// The inputs a new declaration lists: `--source` files, else every file of the directory.
fn default_inputs(rdir: &Path, o: &AddOptions) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let files = if o.sources.is_empty() { files_below(rdir, rdir) } else { o.sources.clone() };
    let with_ext = |exts: &[&str]| -> Vec<String> {
        files.iter().filter(|f| exts.iter().any(|e| f.to_ascii_lowercase().ends_with(e))).cloned().collect()
    };
    let need = |role: &str, list: &Vec<String>, what: &str| -> anyhow::Result<()> {
        if list.is_empty() {
            return fail(Diagnostic::error(
                Code::PK015,
                format!("no {what} found for inputs.{role} in {}", rdir.display()),
                format!("put the {what} in the directory, or pass --source <file>"),
            ));
        }
        Ok(())
    };
    let mut inputs = BTreeMap::new();
    match o.ty {
        AssetType::Blob => {
            if files.len() != 1 {
                return fail(Diagnostic::error(
                    Code::PK015,
                    format!("a blob needs exactly one source file, found {} in {}", files.len(), rdir.display()),
                    "put one file in the directory, or pass --source <file>",
                ));
            }
            inputs.insert("source".to_string(), files);
        }
        AssetType::TileBank => {
            let pngs = with_ext(&[".png"]);
            need("tiles", &pngs, "PNG files")?;
            inputs.insert("tiles".to_string(), pngs);
            let palettes = with_ext(&[".json"]);
            if !palettes.is_empty() {
                inputs.insert("palettes".to_string(), palettes);
            }
        }
        AssetType::SoundBank => {
            let wavs = with_ext(&[".wav"]);
            need("samples", &wavs, "WAV files")?;
            inputs.insert("samples".to_string(), wavs);
        }
        AssetType::Tilemap => {
            let maps = with_ext(&[".tmx", ".tmj"]);
            if maps.len() != 1 {
                return fail(Diagnostic::error(
                    Code::PK015,
                    format!("a tilemap needs exactly one .tmx or .tmj map, found {} in {}", maps.len(), rdir.display()),
                    "put one map in the directory, or pass --source <map>",
                ));
            }
            let Some(bank) = &o.tiles else {
                return fail(Diagnostic::error(
                    Code::PK015,
                    "a tilemap needs the tile_bank its tilesets use",
                    "pass --tiles <tile_bank name>",
                ));
            };
            inputs.insert("map".to_string(), maps);
            inputs.insert("tiles".to_string(), vec![format!("@asset:{bank}")]);
        }
    }
    Ok(inputs)
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
    let assets = dir.join(ASSETS);
    let mut reg = Registry::load(&assets)?;
    let root = asset_root(dir, arg)?;
    let decl_file = root_dir(dir, &root).join(decl::FILE);
    let decl = read_decl(&decl_file)?;
    if let Some(e) = reg.by_root(&root) {
        return fail(Diagnostic::error(
            Code::PK009,
            format!("`{root}` is already registered as asset {}", e.asset_id),
            "nothing to do; `packer show` it",
        ));
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
    if let Some((_, other)) = declared_names(dir, &reg).into_iter().find(|(n, _)| *n == decl.name) {
        return fail(
            Diagnostic::error(
                Code::PK008,
                format!("name `{}` is already used by `{other}`", decl.name),
                "rename the asset in its asset.json",
            )
            .file(decl_file.display()),
        );
    }
    let id = reg.allocate_id();
    reg.assets.push(Entry {
        asset_id: id,
        asset_uuid: decl.asset_uuid.clone(),
        root: root.clone(),
        included_in_build: true,
    });
    reg.save(&assets)?;
    println!("registered `{}` as asset {id} ({root})", decl.name);
    Ok(())
}

fn read_decl(file: &Path) -> anyhow::Result<Declaration> {
    decl::read(file, "create it with `packer add <dir> --type <type>`")
}

/// (name, root) of every registered asset whose declaration parses.
fn declared_names(dir: &Path, reg: &Registry) -> Vec<(String, RelPath)> {
    reg.assets
        .iter()
        .filter_map(|e| {
            let bytes = std::fs::read(root_dir(dir, &e.root).join(decl::FILE)).ok()?;
            let d = decl::parse(&bytes, "").0?;
            Some((d.name, e.root.clone()))
        })
        .collect()
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
        None => fail(Diagnostic::error(
            Code::PK020,
            format!("no registered asset matches `{query}`"),
            "give an asset id, name or root path; `packer list` shows them",
        )),
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
    let assets = dir.join(ASSETS);
    let mut reg = Registry::load(&assets)?;
    let e = resolve(dir, &reg, query)?;
    reg.assets.retain(|x| x.asset_id != e.asset_id);
    reg.save(&assets)?;
    println!("forgot asset {} ({}); its files are kept", e.asset_id, e.root);
    Ok(())
}

/// `packer mv`: moves the asset root; id and uuid stay.
pub fn mv(dir: &Path, query: &str, to: &Path) -> anyhow::Result<()> {
    let assets = dir.join(ASSETS);
    let mut reg = Registry::load(&assets)?;
    let e = resolve(dir, &reg, query)?;
    let new_root = asset_root(dir, to)?;
    let (from_dir, to_dir) = (root_dir(dir, &e.root), root_dir(dir, &new_root));
    if to_dir.exists() {
        return fail(Diagnostic::error(
            Code::PK020,
            format!("`{}` already exists", to.display()),
            "choose a directory that does not exist yet",
        ));
    }
    if new_root.as_str().starts_with(&format!("{}/", e.root)) {
        return fail(Diagnostic::error(
            Code::PK020,
            "cannot move an asset root inside itself",
            "choose another directory",
        ));
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
    println!("moved asset {} from {} to {new_root}", e.asset_id, e.root);
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
        println!("{}", serde_json::to_string_pretty(&json!({"schema_version": 1, "assets": v}))?);
        return Ok(());
    }
    println!("{:>4}  {:<20} {:<11} {:<8} root", "id", "name", "type", "build");
    for l in &all {
        let (name, ty) = l.decl.as_ref().map(|d| (d.name.as_str(), d.ty.name())).unwrap_or(("<invalid>", "?"));
        let inc = if l.entry.included_in_build { "yes" } else { "excluded" };
        println!("{:>4}  {:<20} {:<11} {:<8} {}", l.entry.asset_id, name, ty, inc, l.entry.root);
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
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if let Value::Object(m) = v {
        for (k, v) in m {
            println!("{k:<18} {}", if let Value::String(s) = &v { s.clone() } else { v.to_string() });
        }
    }
    Ok(())
}

/// `packer inspect`: prints the asset table of a built `assets.pa`.
pub fn inspect(file: &Path, as_json: bool) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let parsed = pa::read(&bytes).with_context(|| format!("parsing {}", file.display()))?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&parsed.header)?);
        return Ok(());
    }
    let empty = Vec::new();
    let table = parsed.header["asset_table"].as_array().unwrap_or(&empty);
    let preloaded: Vec<u64> =
        parsed.header["preload"].as_array().unwrap_or(&empty).iter().filter_map(|p| p["asset_id"].as_u64()).collect();
    println!("{}: {} assets, {} bytes", file.display(), table.len(), bytes.len());
    println!("{:>4}  {:<20} {:<8} {:>8} {:>8}  preload  metadata", "id", "name", "bank", "offset", "size");
    for e in table {
        let id = e["asset_id"].as_u64().unwrap_or(0);
        println!(
            "{:>4}  {:<20} {:<8} {:>8} {:>8}  {:<7}  {}",
            id,
            e["asset_name"].as_str().unwrap_or(""),
            e["bank_type"].as_str().unwrap_or(""),
            e["offset"].as_u64().unwrap_or(0),
            e["size"].as_u64().unwrap_or(0),
            if preloaded.contains(&id) { "yes" } else { "no" },
            e["metadata"]
        );
    }
    Ok(())
}
