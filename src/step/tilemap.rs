//! `packer step tilemap`: a Tiled map → `TILEMAP/u16_v1` (SPEC §3.3), resolved against the
//! tile bank it references: each tileset image must be one of the bank's PNGs, and local tile
//! `k` becomes the id that PNG received plus `k`.

use super::{AssetStepOptions, Converted, Ctx, Outcome};
use crate::decl::AssetType;
use crate::diag::{fail, Blocked, Code, Diagnostic};
use crate::formats::tiled::{self, TiledError};
use crate::keys::KeyFile;
use serde_json::{json, Value};

pub const STEP: &str = AssetType::TILEMAP.step().0;
/// Changes whenever the payload's bytes could change.
pub const VERSION: &str = AssetType::TILEMAP.step().1;

/// A relative path with `.` and inner `..` resolved; `..` that climbs above the start is kept
/// (`../x/../y` → `../y`).
fn resolve(p: &str) -> String {
    crate::relpath::lexical(p).to_string()
}

pub fn run(o: &AssetStepOptions) -> anyhow::Result<Outcome> {
    super::run_asset_step(o, own_key, convert)
}

/// For a run by hand: the workspace knows the roots and the discovered tilesets.
fn own_key(o: &AssetStepOptions) -> anyhow::Result<KeyFile> {
    let decl = super::read_declaration(&o.root)?;
    let ws = crate::workspace::Workspace::load(&o.project)?;
    let Some(a) = ws.assets.iter().find(|a| a.decl.asset_uuid == decl.asset_uuid && a.decl.ty == AssetType::TILEMAP)
    else {
        return fail(
            Diagnostic::error(
                Code::PK020,
                "this tilemap is not a registered asset of the project",
                "run the step from the project directory (-C), on a registered tilemap",
            )
            .file(o.root.display()),
        );
    };
    // Only this map and its bank are hashed and keyed, not the project.
    let mut fp = crate::fingerprint::Fingerprints::load(&o.project);
    let Some(key) = crate::plan::plan_one(&o.project, &mut fp, a.id)? else {
        return fail(
            Diagnostic::error(
                Code::PK020,
                "this tilemap left the build while its key was planned (the registry changed)",
                "run the step again",
            )
            .file(o.root.display())
            .asset(&a.decl.name),
        );
    };
    Ok(KeyFile::new(crate::keys::Mode::resolve(false, false), &key))
}

fn convert(ctx: &Ctx) -> anyhow::Result<Converted> {
    let params = &ctx.key.doc.step_key;
    let damaged = |what: &str| anyhow::anyhow!("the key document has no {what}: a damaged key file (`packer gen` rewrites it)");
    let map_name = params["inputs"]["map"][0].as_str().ok_or_else(|| damaged("inputs.map"))?.to_string();
    let bank_from_root = params["bank_from_root"].as_str().ok_or_else(|| damaged("bank_from_root"))?;
    let map_dir = map_name.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
    // Every source (the map and its discovered tilesets) is read, and checked against the key,
    // before the parser sees any of them: its reader can only say "not found".
    for name in ctx.source_names() {
        ctx.source(name)?;
    }
    let bytes = ctx.source(&map_name)?;
    // External tilesets are discovered sources: read them from what was hashed.
    let mut read = |rel: &str| -> Result<Vec<u8>, String> {
        let name = crate::relpath::lexical(&join(&map_dir, rel)).inside().ok_or_else(|| format!("{rel} is outside the asset root"))?;
        ctx.source(&name).map(<[u8]>::to_vec).map_err(|_| format!("{name} was not discovered by gen; run `packer gen`"))
    };
    let map = tiled::parse_map(bytes, &map_name, &mut read).map_err(|e| diagnose(ctx, &map_name, &e))?;
    let dep = ctx.key.doc.dependencies_weak.first().cloned().unwrap_or_default();
    let published = ctx.dependency_meta(&dep)?;
    let bank: Vec<(String, u32, u32)> = published["publish"]["tiles"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| {
                    Some((resolve(&join(bank_from_root, e[0].as_str()?)), e[1].as_u64()? as u32, e[2].as_u64()? as u32))
                })
                .collect()
        })
        .unwrap_or_default();
    // A tileset image path is relative to the map's directory; compare as seen from the
    // map's root.
    let lookup = |image: &str| {
        let full = resolve(&join(&map_dir, image));
        bank.iter().find(|(p, _, _)| *p == full).map(|(_, b, c)| (*b, *c))
    };
    let (payload, layers) = tiled::encode(&map, &lookup).map_err(|e| diagnose(ctx, &map_name, &e))?;
    let layers: Vec<Value> = layers
        .into_iter()
        .map(|(name, w, h, off)| json!({"name": name, "width": w, "height": h, "offset": off}))
        .collect();
    Ok(Converted { decoded_size: payload.len() as u64, payload, metadata: json!({"layers": layers}), publish: None })
}

fn join(dir: &str, rel: &str) -> String {
    if dir.is_empty() {
        rel.to_string()
    } else {
        format!("{dir}/{rel}")
    }
}

fn diagnose(ctx: &Ctx, map: &str, e: &TiledError) -> anyhow::Error {
    let (code, file, fix) = match e {
        TiledError::Syntax { .. } => (Code::PK039, map.to_string(), "fix the map in Tiled and save it again"),
        TiledError::Unsupported { .. } => {
            (Code::PK040, map.to_string(), "use an orthogonal, finite map with CSV or base64 (zlib/gzip) layer data")
        }
        TiledError::BadData { .. } => {
            (Code::PK041, map.to_string(), "save the map again from Tiled; its layer data is damaged")
        }
        TiledError::ExternalTileset { path, .. } => {
            (Code::PK042, path.clone(), "restore the .tsx, or embed the tileset in the map")
        }
        _ => (
            Code::PK043,
            map.to_string(),
            "use tilesets whose image is one of the bank's PNGs, and tiles that exist in them",
        ),
    };
    Blocked::from(Diagnostic::error(code, e.to_string(), fix).file(ctx.root.join(file).display())).into()
}

#[cfg(test)]
mod tests {
    use super::resolve;
    use crate::types::relative;

    #[test]
    fn the_bank_as_seen_from_the_map() {
        assert_eq!(relative("maps/level1", "sprites"), "../../sprites");
        assert_eq!(relative("game/map", "game/bank"), "../bank");
        assert_eq!(relative("a", "a"), ".");
        assert_eq!(relative("a", "a/b"), "b");
        // Moving both under a new parent keeps the relation: the key does not change.
        assert_eq!(relative("x/game/map", "x/game/bank"), relative("game/map", "game/bank"));
        assert_eq!(resolve("../bank/./p.png"), "../bank/p.png");
        assert_eq!(resolve("tiles/../../bank/p.png"), "../bank/p.png");
        assert_eq!(resolve("../x/../y"), "../y");
        assert_eq!(resolve(&format!("{}/{}", relative("m", "b"), "p.png")), resolve("../b/p.png"));
    }
}
