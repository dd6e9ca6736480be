//! `packer step tiles`: a `tile_bank` → `TILES/indexed_v1` (SPEC §3.1). Each PNG is decoded
//! to 4-bit indices as its own cached per-input entry, in parallel; then the sheet is
//! assembled. The bank publishes which tile ids each PNG received, for tilemaps.

use super::{AssetStepOptions, Converted, Ctx, Outcome};
use crate::decl::AssetType;
use crate::diag::{Blocked, Code, Diagnostic};
use crate::formats::tiles::{self, IndexedImage, Rgb, TilesError};
use serde_json::{json, Value};

pub const STEP: &str = AssetType::TILE_BANK.step().0;
/// Changes whenever the sheet's bytes could change.
pub const VERSION: &str = AssetType::TILE_BANK.step().1;
/// Changes whenever a PNG's decoded indices could change.
pub const DECODE_VERSION: &str = "tiles.decode-1";

pub fn run(o: &AssetStepOptions) -> anyhow::Result<Outcome> {
    super::run_asset_step(o, |o| super::own_key(o, AssetType::TILE_BANK, STEP, VERSION), convert)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect()).unwrap_or_default()
}

fn convert(ctx: &Ctx) -> anyhow::Result<Converted> {
    let params = &ctx.key.doc.step_key;
    let tile_size = ctx.param("tile_size")?.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
    let inputs = strings(&params["inputs"]["tiles"]);
    let palette_files = strings(&params["inputs"]["palettes"]);
    let mut palettes = Vec::with_capacity(palette_files.len());
    for name in &palette_files {
        palettes.push(tiles::parse_palette(ctx.source(name)?).map_err(|e| diagnose(ctx, name, &e))?);
    }
    let authored = palettes.len();
    if palettes.is_empty() {
        palettes.push(first_plte(ctx, &inputs)?);
    }
    let palette_of = |name: &str| params["metadata"]["palette_of"][name].as_u64().unwrap_or(0) as usize;
    let images = decode_all(ctx, &inputs, &palettes, palette_of)?;
    let named: Vec<(&str, &IndexedImage)> = inputs.iter().map(String::as_str).zip(images.iter()).collect();
    let sheet =
        tiles::assemble(tile_size, &named, &palettes).map_err(|e| diagnose(ctx, &bank_error_file(&e, &inputs), &e))?;
    let publish: Vec<Value> =
        inputs.iter().zip(&sheet.ranges).map(|(n, (base, count))| json!([n, base, count])).collect();
    Ok(Converted {
        decoded_size: 65536 + 2048,
        payload: sheet.payload,
        metadata: json!({
            "tile_size": tile_size,
            "width": 256,
            "height": 256,
            "tile_count": sheet.tile_count,
            "palette_count": 64,
            "palette_authored": authored,
        }),
        publish: Some(json!({"tiles": publish})),
    })
}

/// With no palette files, palette 0 is the PLTE of the first indexed PNG (first 16 entries).
fn first_plte(ctx: &Ctx, inputs: &[String]) -> anyhow::Result<Vec<Rgb>> {
    for name in inputs {
        let (indexed, plte) = probe(ctx, name)?;
        if indexed && !plte.is_empty() {
            return Ok(plte);
        }
    }
    Ok(Vec::new())
}

/// Whether a PNG is indexed, and the first 16 entries of its PLTE: from the memo, or from
/// the PNG's header. Memo entry: one byte (1 = indexed), then 3 bytes per colour.
fn probe(ctx: &Ctx, name: &str) -> anyhow::Result<(bool, Vec<Rgb>)> {
    let doc = ctx.input_doc("tiles.probe", DECODE_VERSION, name, json!({}))?;
    let b = ctx.probe(doc, || {
        let info = tiles::png_info(ctx.source(name)?).map_err(|e| diagnose(ctx, name, &e))?;
        let mut out = vec![u8::from(info.indexed)];
        out.extend(info.plte.unwrap_or_default().into_iter().take(16).flatten());
        Ok(out)
    })?;
    match b.split_first() {
        Some((&flag, rest)) if flag <= 1 && rest.len() % 3 == 0 => {
            Ok((flag == 1, rest.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect()))
        }
        _ => anyhow::bail!("remembered facts about {name} are malformed"),
    }
}

/// Decodes every PNG through its per-input cache entry, spread over the available cores.
fn decode_all(
    ctx: &Ctx,
    inputs: &[String],
    palettes: &[Vec<Rgb>],
    palette_of: impl Fn(&str) -> usize + Sync,
) -> anyhow::Result<Vec<IndexedImage>> {
    crate::par::parallel_map(inputs, |name| {
        decode_one(ctx, name, palettes.get(palette_of(name)).map(Vec::as_slice).unwrap_or(&[]))
    })
}

fn decode_one(ctx: &Ctx, name: &str, palette: &[Rgb]) -> anyhow::Result<IndexedImage> {
    let (indexed, _) = probe(ctx, name)?;
    // An indexed PNG does not depend on the palette: editing a palette file must not redo it.
    let params = if indexed { json!({}) } else { json!({"palette": palette.iter().map(hex).collect::<Vec<_>>()}) };
    let doc = ctx.input_doc("tiles.decode", DECODE_VERSION, name, params)?;
    let encoded = ctx.per_input(name, doc, || {
        let img = tiles::decode_png(ctx.source(name)?, palette).map_err(|e| match e {
            // Nothing to match against: not a wrong colour, a missing palette file.
            TilesError::ColourNotInPalette { .. } if palette.is_empty() => no_palette(ctx, name),
            e => diagnose(ctx, name, &e),
        })?;
        Ok(encode_image(&img))
    })?;
    decode_image(&encoded).ok_or_else(|| anyhow::anyhow!("cached decode of {name} is malformed"))
}

fn hex(c: &Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// Per-input entry format: width u32 LE, height u32 LE, one index per byte.
fn encode_image(img: &IndexedImage) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + img.indices.len());
    out.extend_from_slice(&img.width.to_le_bytes());
    out.extend_from_slice(&img.height.to_le_bytes());
    out.extend_from_slice(&img.indices);
    out
}

fn decode_image(b: &[u8]) -> Option<IndexedImage> {
    let width = u32::from_le_bytes(b.get(0..4)?.try_into().ok()?);
    let height = u32::from_le_bytes(b.get(4..8)?.try_into().ok()?);
    let indices = b.get(8..)?.to_vec();
    (indices.len() as u64 == width as u64 * height as u64).then_some(IndexedImage { width, height, indices })
}

/// The input a sheet-level error is about.
fn bank_error_file(e: &TilesError, inputs: &[String]) -> String {
    match e {
        TilesError::BadSize { input, .. } | TilesError::OverCapacity { input, .. } => input.clone(),
        _ => inputs.first().cloned().unwrap_or_default(),
    }
}

/// A truecolour PNG in a bank with no palette file (and no indexed PNG to take palette 0 from).
fn no_palette(ctx: &Ctx, name: &str) -> anyhow::Error {
    let example = ctx.root.join("palette.json");
    Blocked::from(
        Diagnostic::error(
            Code::PK044,
            "a truecolour PNG needs a palette file to be matched against, and the bank has none",
            format!(
                "create {} holding {{\"colors\": [\"#rrggbb\", …]}} (up to 16 colours) and list it in inputs.palettes \
                 (\"**/*.json\" picks up every palette file), or export the PNG as indexed (16 colours at most)",
                example.display()
            ),
        )
        .file(ctx.root.join(name).display()),
    )
    .into()
}

/// A format error as a blocking diagnostic naming the file.
fn diagnose(ctx: &Ctx, name: &str, e: &TilesError) -> anyhow::Error {
    let (code, fix) = match e {
        TilesError::Corrupt { .. } => (Code::PK030, "re-export the PNG; the file is damaged or not a PNG"),
        TilesError::IndexOutOfRange { .. } => (Code::PK031, "use at most 16 colours per image (palette indices 0–15)"),
        TilesError::ColourNotInPalette { .. } => {
            (Code::PK032, "use only the palette's colours, or add them to the palette file")
        }
        TilesError::BadSize { .. } | TilesError::BadTileSize { .. } => {
            (Code::PK033, "make the image's width and height multiples of tile_size")
        }
        TilesError::OverCapacity { .. } => (Code::PK034, "use fewer or smaller images, or a smaller tile_size"),
        TilesError::BadPalette { .. } | TilesError::TooManyPalettes { .. } => {
            (Code::PK035, "a palette file is {\"colors\": [\"#rrggbb\", …]} with 1–16 colours; at most 64 palettes")
        }
    };
    Blocked::from(Diagnostic::error(code, e.to_string(), fix).file(ctx.root.join(name).display())).into()
}
