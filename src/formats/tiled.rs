//! Tiled map reader (TMX / TMJ, with TSX / TSJ external tilesets) and TILEMAP/u16_v1 encoder.
//!
//! # Output cell format (TILEMAP/u16_v1)
//!
//! The payload is every tile layer of the map, in document order, one after the
//! other; each layer is `width × height` cells, row-major, each cell a
//! little-endian `u16`:
//!
//! | bits  | meaning                                   |
//! |-------|-------------------------------------------|
//! | 0–9   | bank tile id (0..=1023)                   |
//! | 10–12 | zero                                      |
//! | 13    | anti-diagonal flip (Tiled bit 29)         |
//! | 14    | vertical flip (Tiled bit 30)              |
//! | 15    | horizontal flip (Tiled bit 31)            |
//!
//! An empty cell is `0xFFFF` (never a valid tile cell, since bits 10–12 of a
//! tile are zero). Local tile `k` of a tileset whose image the bank gave
//! `(base, count)` becomes bank id `base + k`; `k >= count` and ids above 1023
//! are errors.
//!
//! # Decisions
//!
//! * **Groups**: tile layers inside `<group>` (TMJ `"type": "group"`) are
//!   included, depth-first in document order, as if the groups were flattened;
//!   a layer keeps its own name (no group prefix). Object layers and image
//!   layers are skipped, also inside groups. Hidden layers are included.
//! * **Bit 28** (hexagonal 120° rotation): rejected with
//!   [`TiledError::Unsupported`] naming the layer and cell, because only
//!   orthogonal maps are accepted and silently dropping a rotation would draw
//!   the wrong picture. A cell whose gid is 0 once the four flag bits are
//!   cleared is empty, whatever its flag bits.
//! * **`<tile gid=…>` elements** (TMX `<data>` without `encoding`) are
//!   supported; a `<tile/>` without `gid` is an empty cell.
//! * **CSV**: whitespace around values is ignored, one trailing comma is
//!   tolerated; values are decimal `u32` (flags included).
//! * **base64**: ASCII whitespace is ignored, padding is optional.
//! * **Paths**: `\` is treated as `/`; the path is joined to the directory of
//!   the file that declares it (the map for embedded tilesets and for `.tsx`
//!   references, the `.tsx` for its image), then `.` and empty components are
//!   dropped and `..` removes the previous component lexically. Leading `..`
//!   that climb above the map's directory are kept (`../common/a.png`).
//!   Absolute paths (leading `/`, or a first component with `:` such as
//!   `C:` or `file:`) are rejected as unsupported.
//! * **External tilesets**: `.tsj` / `.json` are read as JSON tilesets,
//!   anything else as TSX (XML).
//! * **Bank lookups** happen only for tilesets that a tile layer cell uses,
//!   so a tileset used only by tile objects need not be in the bank.
//! * **Limits**: a map or layer side is 1..=4096 cells, all tile layers
//!   together hold at most 4096 × 4096 cells, groups nest at most 64 deep;
//!   compressed data is inflated to at most the layer's size (+1 byte, to
//!   detect excess).
//! * `TiledError::UnknownGid::gid` is the gid with its flag bits cleared.
//! * XML with a `<!DOCTYPE>` (only very old Tiled wrote one) is refused as a
//!   syntax error: DTDs are not processed, so no entity expansion can blow up.

use std::fmt;
use std::io::Read;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde_json::Value;

/// A parsed map, before it is resolved against a tile bank.
#[derive(Clone, Debug, PartialEq)]
pub struct Map {
    pub width: u32,
    pub height: u32,
    pub tilesets: Vec<Tileset>,
    pub layers: Vec<Layer>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tileset {
    pub firstgid: u32,
    /// image path as written, resolved relative to the map's directory ('/'-separated, `..` and `.` normalized lexically), e.g. "tiles/ground.png"
    pub image: String,
    /// the external .tsx path relative to the map's directory, if external
    pub source: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub name: String,
    pub width: u32,
    pub height: u32,
    /// raw gids including flip bits, row-major
    pub gids: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TiledError {
    /// XML/JSON syntax, missing attributes.
    Syntax {
        message: String,
    },
    /// Orientation, infinite, zstd, collection tilesets, encodings.
    Unsupported {
        message: String,
    },
    /// Wrong cell count, bad base64, bad compression.
    BadData {
        layer: String,
        message: String,
    },
    /// .tsx unreadable or invalid.
    ExternalTileset {
        path: String,
        message: String,
    },
    /// No tileset covers the gid (`gid` has its flag bits cleared).
    UnknownGid {
        layer: String,
        x: u32,
        y: u32,
        gid: u32,
    },
    ImageNotInBank {
        image: String,
    },
    TilePastBank {
        layer: String,
        x: u32,
        y: u32,
        image: String,
        local: u32,
        count: u32,
    },
    IdTooLarge {
        layer: String,
        x: u32,
        y: u32,
        id: u32,
    },
}

impl fmt::Display for TiledError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TiledError::Syntax { message } => write!(f, "syntax error: {}", one_line(message)),
            TiledError::Unsupported { message } => write!(f, "unsupported: {}", one_line(message)),
            TiledError::BadData { layer, message } => {
                write!(f, "layer {layer:?}: bad data: {}", one_line(message))
            }
            TiledError::ExternalTileset { path, message } => {
                write!(f, "external tileset {path:?}: {}", one_line(message))
            }
            TiledError::UnknownGid { layer, x, y, gid } => {
                write!(f, "layer {layer:?} cell ({x}, {y}): gid {gid} is not covered by any tileset")
            }
            TiledError::ImageNotInBank { image } => {
                write!(f, "tileset image {image:?} is not in the tile bank")
            }
            TiledError::TilePastBank { layer, x, y, image, local, count } => write!(
                f,
                "layer {layer:?} cell ({x}, {y}): tile id past the bank: tile {local} of {image:?}, \
                 but the bank has only {count} tiles for that image"
            ),
            TiledError::IdTooLarge { layer, x, y, id } => write!(
                f,
                "layer {layer:?} cell ({x}, {y}): bank tile id {id} does not fit in 10 bits (max {MAX_BANK_ID})"
            ),
        }
    }
}

impl std::error::Error for TiledError {}

const FLIP_H: u32 = 0x8000_0000;
const FLIP_V: u32 = 0x4000_0000;
const FLIP_D: u32 = 0x2000_0000;
const ROTATE_HEX_120: u32 = 0x1000_0000;
const GID_MASK: u32 = 0x0FFF_FFFF;
const CELL_FLIP_H: u16 = 1 << 15;
const CELL_FLIP_V: u16 = 1 << 14;
const CELL_FLIP_D: u16 = 1 << 13;
const EMPTY_CELL: u16 = 0xFFFF;
const MAX_BANK_ID: u32 = 1023;
const MAX_SIDE: u32 = 4096;
const MAX_TOTAL_CELLS: u64 = 4096 * 4096;
const MAX_GROUP_DEPTH: usize = 64;

const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

type ReadFn<'a> = &'a mut dyn FnMut(&str) -> Result<Vec<u8>, String>;

// ---------------------------------------------------------------------------
// Public entry points
// ---------------------------------------------------------------------------

/// Which files a map needs besides itself (external tilesets), relative to the map's directory.
/// Needs only the map's own bytes.
///
/// Paths are normalized like [`Tileset::source`], listed once each in document order.
/// Only the syntax of the map and the tileset references are checked here.
pub fn external_tilesets(map_bytes: &[u8], map_name: &str) -> Result<Vec<String>, TiledError> {
    let text = utf8(map_bytes)?;
    let mut raw: Vec<String> = Vec::new();
    match syntax_of(map_name)? {
        MapSyntax::Xml => {
            let doc = parse_xml(text)?;
            let root = map_root(&doc)?;
            for ts in elements(root, "tileset") {
                if let Some(src) = ts.attribute("source") {
                    raw.push(src.to_string());
                }
            }
        }
        MapSyntax::Json => {
            let value = parse_json(map_bytes)?;
            let obj = value.as_object().ok_or_else(|| syntax("the map is not a JSON object"))?;
            if let Some(list) = obj.get("tilesets") {
                let list = list.as_array().ok_or_else(|| syntax("map \"tilesets\" is not an array"))?;
                for ts in list {
                    let ts = ts.as_object().ok_or_else(|| syntax("a tileset is not a JSON object"))?;
                    if let Some(src) = ts.get("source") {
                        let src = src.as_str().ok_or_else(|| syntax("tileset \"source\" is not a string"))?;
                        raw.push(src.to_string());
                    }
                }
            }
        }
    }
    let mut out: Vec<String> = Vec::new();
    for src in raw {
        let path = join_normalize("", &src)?;
        if !out.contains(&path) {
            out.push(path);
        }
    }
    Ok(out)
}

/// Parses a map. `map_name` is its file name (extension .tmx or .tmj decides the syntax).
/// `read` is called with a path relative to the map's directory to load external .tsx files.
pub fn parse_map(
    map_bytes: &[u8],
    map_name: &str,
    read: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
) -> Result<Map, TiledError> {
    let text = utf8(map_bytes)?;
    let map = match syntax_of(map_name)? {
        MapSyntax::Xml => parse_tmx(text, read)?,
        MapSyntax::Json => parse_tmj(map_bytes, read)?,
    };
    check_firstgids(&map.tilesets)?;
    Ok(map)
}

/// Resolves against a tile bank: `bank` maps image path (same normalization as Tileset::image) → (base id, count).
/// Returns (payload, layers metadata as (name, width, height, byte offset)).
#[allow(clippy::type_complexity)]
pub fn encode(
    map: &Map,
    bank: &dyn Fn(&str) -> Option<(u32, u32)>,
) -> Result<(Vec<u8>, Vec<(String, u32, u32, u64)>), TiledError> {
    let mut total_cells: u64 = 0;
    for layer in &map.layers {
        let cells = u64::from(layer.width) * u64::from(layer.height);
        if layer.gids.len() as u64 != cells {
            return Err(bad(
                &layer.name,
                format!("layer has {} cells, expected {}×{} = {cells}", layer.gids.len(), layer.width, layer.height),
            ));
        }
        total_cells = total_cells.saturating_add(cells);
    }
    if total_cells > MAX_TOTAL_CELLS {
        return Err(unsupported(format!(
            "the map's tile layers hold {total_cells} cells, more than the limit of {MAX_TOTAL_CELLS}"
        )));
    }

    let mut sorted: Vec<&Tileset> = map.tilesets.iter().collect();
    sorted.sort_by_key(|t| t.firstgid);
    let mut resolver = Resolver { tilesets: sorted, cache: Vec::new(), bank };
    resolver.cache = vec![None; resolver.tilesets.len()];

    let payload_len = usize::try_from(total_cells.saturating_mul(2)).unwrap_or(usize::MAX);
    let mut payload: Vec<u8> = Vec::with_capacity(payload_len);
    let mut meta = Vec::with_capacity(map.layers.len());
    for layer in &map.layers {
        let offset = payload.len() as u64;
        let (mut x, mut y) = (0u32, 0u32);
        for &gid in &layer.gids {
            let cell = resolver.cell(&layer.name, x, y, gid)?;
            payload.extend_from_slice(&cell.to_le_bytes());
            x += 1;
            if x >= layer.width {
                x = 0;
                y += 1;
            }
        }
        meta.push((layer.name.clone(), layer.width, layer.height, offset));
    }
    Ok((payload, meta))
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

struct Resolver<'a> {
    /// Sorted by firstgid.
    tilesets: Vec<&'a Tileset>,
    /// Bank answer per tileset (same index), looked up on first use.
    cache: Vec<Option<(u32, u32)>>,
    bank: &'a dyn Fn(&str) -> Option<(u32, u32)>,
}

impl Resolver<'_> {
    fn cell(&mut self, layer: &str, x: u32, y: u32, gid: u32) -> Result<u16, TiledError> {
        let id = gid & GID_MASK;
        if id == 0 {
            return Ok(EMPTY_CELL);
        }
        if gid & ROTATE_HEX_120 != 0 {
            return Err(unsupported(format!(
                "layer {layer:?} cell ({x}, {y}): gid {gid:#010x} has the hexagonal 120° rotation \
                 flag (bit 28) set, which orthogonal maps do not use"
            )));
        }
        let index = self.tilesets.iter().rposition(|t| t.firstgid <= id).ok_or_else(|| TiledError::UnknownGid {
            layer: layer.to_string(),
            x,
            y,
            gid: id,
        })?;
        let tileset = *self.tilesets.get(index).ok_or_else(|| TiledError::UnknownGid {
            layer: layer.to_string(),
            x,
            y,
            gid: id,
        })?;
        let cached = self.cache.get(index).copied().flatten();
        let (base, count) = match cached {
            Some(range) => range,
            None => {
                let range = (self.bank)(&tileset.image)
                    .ok_or_else(|| TiledError::ImageNotInBank { image: tileset.image.clone() })?;
                if let Some(slot) = self.cache.get_mut(index) {
                    *slot = Some(range);
                }
                range
            }
        };
        let local = id - tileset.firstgid;
        if local >= count {
            return Err(TiledError::TilePastBank {
                layer: layer.to_string(),
                x,
                y,
                image: tileset.image.clone(),
                local,
                count,
            });
        }
        let bank_id = u64::from(base) + u64::from(local);
        let bank_id = match u16::try_from(bank_id) {
            Ok(v) if u32::from(v) <= MAX_BANK_ID => v,
            _ => {
                return Err(TiledError::IdTooLarge {
                    layer: layer.to_string(),
                    x,
                    y,
                    id: u32::try_from(bank_id).unwrap_or(u32::MAX),
                })
            }
        };
        let mut cell = bank_id;
        if gid & FLIP_H != 0 {
            cell |= CELL_FLIP_H;
        }
        if gid & FLIP_V != 0 {
            cell |= CELL_FLIP_V;
        }
        if gid & FLIP_D != 0 {
            cell |= CELL_FLIP_D;
        }
        Ok(cell)
    }
}

// ---------------------------------------------------------------------------
// Common helpers
// ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum MapSyntax {
    Xml,
    Json,
}

#[derive(Clone, Copy)]
enum Compression {
    None,
    Zlib,
    Gzip,
}

fn syntax(message: impl Into<String>) -> TiledError {
    TiledError::Syntax { message: message.into() }
}

fn unsupported(message: impl Into<String>) -> TiledError {
    TiledError::Unsupported { message: message.into() }
}

fn bad(layer: &str, message: impl Into<String>) -> TiledError {
    TiledError::BadData { layer: layer.to_string(), message: message.into() }
}

/// Control characters (newlines…) become spaces so that messages stay on one line.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// A short excerpt of input text for error messages.
fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(24).collect();
    if s.chars().nth(24).is_some() {
        out.push('…');
    }
    out
}

fn utf8(bytes: &[u8]) -> Result<&str, TiledError> {
    std::str::from_utf8(bytes).map_err(|e| syntax(format!("not UTF-8: {e}")))
}

fn extension(name: &str) -> String {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    match file.rsplit_once('.') {
        Some((_, ext)) => ext.to_ascii_lowercase(),
        None => String::new(),
    }
}

fn syntax_of(map_name: &str) -> Result<MapSyntax, TiledError> {
    match extension(map_name).as_str() {
        "tmx" => Ok(MapSyntax::Xml),
        "tmj" | "json" => Ok(MapSyntax::Json),
        _ => Err(unsupported(format!("map file {map_name:?} is neither .tmx nor .tmj"))),
    }
}

/// Directory part of a normalized relative path ("" for the map's own directory).
fn dir_of(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some((dir, _)) => dir,
        None => "",
    }
}

/// Joins `rel` to `base_dir` and normalizes lexically (see the module docs).
fn join_normalize(base_dir: &str, rel: &str) -> Result<String, TiledError> {
    let rel = rel.trim().replace('\\', "/");
    if rel.is_empty() {
        return Err(syntax("empty file path"));
    }
    let first = rel.split('/').next().unwrap_or("");
    if rel.starts_with('/') || first.contains(':') {
        return Err(unsupported(format!("absolute path {rel:?}: paths must be relative to the file that names them")));
    }
    let full = format!("{base_dir}/{rel}");
    let joined = crate::relpath::lexical(&full);
    if joined.parts.is_empty() {
        return Err(syntax(format!("path {rel:?} does not name a file")));
    }
    Ok(joined.to_string())
}

fn check_side(what: &str, width: u32, height: u32) -> Result<(), TiledError> {
    if width == 0 || height == 0 {
        return Err(syntax(format!("{what} has size {width}×{height}")));
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(unsupported(format!(
            "{what} is {width}×{height} cells; at most {MAX_SIDE}×{MAX_SIDE} is supported"
        )));
    }
    Ok(())
}

/// Takes a layer's cells from the remaining budget of the whole map.
fn take_budget(budget: &mut u64, width: u32, height: u32) -> Result<usize, TiledError> {
    let cells = u64::from(width) * u64::from(height);
    if cells > *budget {
        return Err(unsupported(format!("the map's tile layers hold more than {MAX_TOTAL_CELLS} cells")));
    }
    *budget -= cells;
    usize::try_from(cells).map_err(|_| unsupported("layer too large for this machine"))
}

fn check_firstgids(tilesets: &[Tileset]) -> Result<(), TiledError> {
    let mut seen: Vec<u32> = Vec::with_capacity(tilesets.len());
    for t in tilesets {
        if t.firstgid == 0 || t.firstgid > GID_MASK {
            return Err(syntax(format!("tileset firstgid {} is out of range", t.firstgid)));
        }
        if seen.contains(&t.firstgid) {
            return Err(syntax(format!("two tilesets have firstgid {}", t.firstgid)));
        }
        seen.push(t.firstgid);
    }
    Ok(())
}

fn parse_compression(value: Option<&str>) -> Result<Compression, TiledError> {
    match value.map(str::trim) {
        None | Some("") => Ok(Compression::None),
        Some("zlib") => Ok(Compression::Zlib),
        Some("gzip") => Ok(Compression::Gzip),
        Some("zstd") => Err(unsupported("zstd compression is not supported")),
        Some(other) => Err(unsupported(format!("compression {:?} is not supported", excerpt(other)))),
    }
}

fn decode_csv(layer: &str, text: &str, cells: usize) -> Result<Vec<u32>, TiledError> {
    let mut out: Vec<u32> = Vec::new();
    let mut tokens = text.split(',').peekable();
    while let Some(token) = tokens.next() {
        let token = token.trim();
        if token.is_empty() && tokens.peek().is_none() {
            break; // trailing comma, or no data at all
        }
        if out.len() >= cells {
            return Err(bad(layer, format!("CSV data has more than {cells} cells")));
        }
        let gid = token
            .parse::<u32>()
            .map_err(|_| bad(layer, format!("CSV cell {} is not a gid: {:?}", out.len(), excerpt(token))))?;
        out.push(gid);
    }
    if out.len() != cells {
        return Err(bad(layer, format!("CSV data has {} cells, expected {cells}", out.len())));
    }
    Ok(out)
}

fn decode_base64(layer: &str, text: &str, compression: Compression, cells: usize) -> Result<Vec<u32>, TiledError> {
    let expected = cells.checked_mul(4).ok_or_else(|| unsupported("layer too large for this machine"))?;
    let cleaned: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let raw = BASE64.decode(&cleaned).map_err(|e| bad(layer, format!("bad base64: {e}")))?;
    let bytes = match compression {
        Compression::None => raw,
        Compression::Zlib => inflate(layer, flate2::read::ZlibDecoder::new(raw.as_slice()), expected, "zlib")?,
        Compression::Gzip => inflate(layer, flate2::read::GzDecoder::new(raw.as_slice()), expected, "gzip")?,
    };
    if bytes.len() != expected {
        return Err(bad(
            layer,
            format!("layer data is {} bytes, expected {expected} ({cells} cells of 4 bytes)", bytes.len()),
        ));
    }
    let (words, _rest) = bytes.as_chunks::<4>();
    Ok(words.iter().map(|w| u32::from_le_bytes(*w)).collect())
}

/// Inflates at most `expected + 1` bytes, so excess data is detected without inflating it all.
fn inflate(layer: &str, reader: impl Read, expected: usize, what: &str) -> Result<Vec<u8>, TiledError> {
    let mut out = Vec::new();
    let limit = (expected as u64).saturating_add(1);
    reader.take(limit).read_to_end(&mut out).map_err(|e| bad(layer, format!("bad {what} data: {e}")))?;
    if out.len() > expected {
        return Err(bad(layer, format!("{what} data inflates to more than the layer's {expected} bytes")));
    }
    Ok(out)
}

/// Image path of an external tileset file (relative to that file) after checks.
fn external_tileset_image(path: &str, bytes: &[u8]) -> Result<String, TiledError> {
    let ext_err = |message: String| TiledError::ExternalTileset { path: path.to_string(), message };
    let text = std::str::from_utf8(bytes).map_err(|e| ext_err(format!("not UTF-8: {e}")))?;
    match extension(path).as_str() {
        "tsj" | "json" => {
            let value: Value = serde_json::from_str(text).map_err(|e| ext_err(format!("JSON: {e}")))?;
            let obj = value.as_object().ok_or_else(|| ext_err("the tileset is not a JSON object".to_string()))?;
            json_tileset_image(obj, path).map_err(|e| match e {
                TiledError::Syntax { message } => ext_err(message),
                other => other,
            })
        }
        _ => {
            let doc = roxmltree::Document::parse(text).map_err(|e| ext_err(format!("XML: {e}")))?;
            let root = doc.root_element();
            if root.tag_name().name() != "tileset" {
                return Err(ext_err(format!(
                    "root element is <{}>, expected <tileset>",
                    excerpt(root.tag_name().name())
                )));
            }
            xml_tileset_image(root, path).map_err(|e| match e {
                TiledError::Syntax { message } => ext_err(message),
                other => other,
            })
        }
    }
}

// ---------------------------------------------------------------------------
// TMX (XML)
// ---------------------------------------------------------------------------

fn parse_xml(text: &str) -> Result<roxmltree::Document<'_>, TiledError> {
    roxmltree::Document::parse(text).map_err(|e| syntax(format!("XML: {e}")))
}

fn map_root<'a, 'i>(doc: &'a roxmltree::Document<'i>) -> Result<roxmltree::Node<'a, 'i>, TiledError> {
    let root = doc.root_element();
    if root.tag_name().name() != "map" {
        return Err(syntax(format!("root element is <{}>, expected <map>", excerpt(root.tag_name().name()))));
    }
    Ok(root)
}

/// Child elements of `node` named `name`.
fn elements<'a, 'i: 'a>(
    node: roxmltree::Node<'a, 'i>,
    name: &'static str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    node.children().filter(move |n| n.is_element() && n.tag_name().name() == name)
}

fn attr<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> Result<&'a str, TiledError> {
    node.attribute(name).ok_or_else(|| syntax(format!("<{}> is missing attribute {name:?}", node.tag_name().name())))
}

fn parse_u32_attr(node: roxmltree::Node<'_, '_>, name: &str, value: &str) -> Result<u32, TiledError> {
    value.trim().parse::<u32>().map_err(|_| {
        syntax(format!("<{}> attribute {name:?} is not a number: {:?}", node.tag_name().name(), excerpt(value)))
    })
}

fn attr_u32(node: roxmltree::Node<'_, '_>, name: &str) -> Result<u32, TiledError> {
    parse_u32_attr(node, name, attr(node, name)?)
}

fn attr_u32_or(node: roxmltree::Node<'_, '_>, name: &str, default: u32) -> Result<u32, TiledError> {
    match node.attribute(name) {
        Some(v) => parse_u32_attr(node, name, v),
        None => Ok(default),
    }
}

fn parse_tmx(text: &str, read: ReadFn<'_>) -> Result<Map, TiledError> {
    let doc = parse_xml(text)?;
    let root = map_root(&doc)?;
    let orientation = attr(root, "orientation")?;
    if orientation != "orthogonal" {
        return Err(unsupported(format!(
            "{:?} orientation is not supported, only orthogonal maps",
            excerpt(orientation)
        )));
    }
    match root.attribute("infinite").map(str::trim) {
        None | Some("0") | Some("") => {}
        Some("1") => return Err(unsupported("infinite maps are not supported; make the map fixed-size")),
        Some(other) => return Err(syntax(format!("<map> attribute \"infinite\" is {:?}", excerpt(other)))),
    }
    let width = attr_u32(root, "width")?;
    let height = attr_u32(root, "height")?;
    check_side("map", width, height)?;

    let mut tilesets = Vec::new();
    for node in elements(root, "tileset") {
        tilesets.push(tmx_tileset(node, read)?);
    }
    let mut nodes = Vec::new();
    tmx_layer_nodes(root, &mut nodes, 0)?;
    // Sizes of all layers are checked before any data is decoded.
    let mut budget = MAX_TOTAL_CELLS;
    let mut sizes = Vec::with_capacity(nodes.len());
    for node in &nodes {
        sizes.push(tmx_layer_size(*node, width, height, &mut budget)?);
    }
    let mut layers = Vec::with_capacity(nodes.len());
    for (node, size) in nodes.into_iter().zip(sizes) {
        layers.push(tmx_layer(node, size)?);
    }
    Ok(Map { width, height, tilesets, layers })
}

fn tmx_tileset(node: roxmltree::Node<'_, '_>, read: ReadFn<'_>) -> Result<Tileset, TiledError> {
    let firstgid = attr_u32(node, "firstgid")?;
    if let Some(src) = node.attribute("source") {
        let path = join_normalize("", src)?;
        let bytes = read(&path).map_err(|message| TiledError::ExternalTileset { path: path.clone(), message })?;
        let image_rel = external_tileset_image(&path, &bytes)?;
        let image = join_normalize(dir_of(&path), &image_rel)?;
        return Ok(Tileset { firstgid, image, source: Some(path) });
    }
    let name = node.attribute("name").unwrap_or("");
    let image_rel = xml_tileset_image(node, name)?;
    Ok(Tileset { firstgid, image: join_normalize("", &image_rel)?, source: None })
}

/// The `<image source>` of a `<tileset>` element (embedded or TSX root).
fn xml_tileset_image(node: roxmltree::Node<'_, '_>, what: &str) -> Result<String, TiledError> {
    let Some(image) = elements(node, "image").next() else {
        return Err(unsupported(format!(
            "tileset {:?} is a collection of images (no single tileset image)",
            excerpt(what)
        )));
    };
    match image.attribute("source") {
        Some(src) => Ok(src.to_string()),
        None => Err(unsupported(format!("tileset {:?} embeds its image data instead of naming a PNG", excerpt(what)))),
    }
}

/// A tile layer's name, width, height and cell count.
type LayerSize = (String, u32, u32, usize);

/// Tile layer elements under `parent`, depth-first through groups, in document order.
fn tmx_layer_nodes<'a, 'i>(
    parent: roxmltree::Node<'a, 'i>,
    out: &mut Vec<roxmltree::Node<'a, 'i>>,
    depth: usize,
) -> Result<(), TiledError> {
    if depth > MAX_GROUP_DEPTH {
        return Err(unsupported(format!("groups nested more than {MAX_GROUP_DEPTH} deep")));
    }
    for child in parent.children().filter(|n| n.is_element()) {
        match child.tag_name().name() {
            "layer" => out.push(child),
            "group" => tmx_layer_nodes(child, out, depth + 1)?,
            _ => {} // objectgroup, imagelayer, tileset, properties, …
        }
    }
    Ok(())
}

fn tmx_layer_size(
    node: roxmltree::Node<'_, '_>,
    map_width: u32,
    map_height: u32,
    budget: &mut u64,
) -> Result<LayerSize, TiledError> {
    let name = node.attribute("name").unwrap_or("").to_string();
    let width = attr_u32_or(node, "width", map_width)?;
    let height = attr_u32_or(node, "height", map_height)?;
    check_side(&format!("layer {name:?}"), width, height)?;
    let cells = take_budget(budget, width, height)?;
    Ok((name, width, height, cells))
}

fn tmx_layer(node: roxmltree::Node<'_, '_>, size: LayerSize) -> Result<Layer, TiledError> {
    let (name, width, height, cells) = size;
    let data = elements(node, "data").next().ok_or_else(|| syntax(format!("layer {name:?} has no <data>")))?;
    if elements(data, "chunk").next().is_some() {
        return Err(unsupported("infinite maps (layer data in chunks) are not supported"));
    }
    let compression = parse_compression(data.attribute("compression"))?;
    let text = || -> String { data.children().filter(|n| n.is_text()).filter_map(|n| n.text()).collect() };
    let gids = match data.attribute("encoding").map(str::trim) {
        None | Some("") => {
            if !matches!(compression, Compression::None) {
                return Err(unsupported("compression without base64 encoding"));
            }
            tmx_tile_elements(&name, data, cells)?
        }
        Some("csv") => {
            if !matches!(compression, Compression::None) {
                return Err(unsupported("compressed CSV data"));
            }
            decode_csv(&name, &text(), cells)?
        }
        Some("base64") => decode_base64(&name, &text(), compression, cells)?,
        Some(other) => return Err(unsupported(format!("data encoding {:?} is not supported", excerpt(other)))),
    };
    Ok(Layer { name, width, height, gids })
}

fn tmx_tile_elements(layer: &str, data: roxmltree::Node<'_, '_>, cells: usize) -> Result<Vec<u32>, TiledError> {
    let mut out = Vec::new();
    for tile in data.children().filter(|n| n.is_element()) {
        if tile.tag_name().name() != "tile" {
            return Err(bad(layer, format!("unexpected <{}> in <data>", excerpt(tile.tag_name().name()))));
        }
        if out.len() >= cells {
            return Err(bad(layer, format!("more than {cells} <tile> elements")));
        }
        let gid = match tile.attribute("gid") {
            None => 0,
            Some(v) => v
                .trim()
                .parse::<u32>()
                .map_err(|_| bad(layer, format!("<tile> {} has gid {:?}", out.len(), excerpt(v))))?,
        };
        out.push(gid);
    }
    if out.len() != cells {
        return Err(bad(layer, format!("{} <tile> elements, expected {cells}", out.len())));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// TMJ (JSON)
// ---------------------------------------------------------------------------

type JsonObject = serde_json::Map<String, Value>;

fn parse_json(bytes: &[u8]) -> Result<Value, TiledError> {
    serde_json::from_slice(bytes).map_err(|e| syntax(format!("JSON: {e}")))
}

fn json_u32(obj: &JsonObject, key: &str, what: &str) -> Result<Option<u32>, TiledError> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| syntax(format!("{what} {key:?} is not an unsigned 32-bit number"))),
    }
}

fn json_req_u32(obj: &JsonObject, key: &str, what: &str) -> Result<u32, TiledError> {
    json_u32(obj, key, what)?.ok_or_else(|| syntax(format!("{what} is missing {key:?}")))
}

fn json_str<'a>(obj: &'a JsonObject, key: &str, what: &str) -> Result<Option<&'a str>, TiledError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(syntax(format!("{what} {key:?} is not a string"))),
    }
}

fn parse_tmj(bytes: &[u8], read: ReadFn<'_>) -> Result<Map, TiledError> {
    let value = parse_json(bytes)?;
    let obj = value.as_object().ok_or_else(|| syntax("the map is not a JSON object"))?;
    if let Some(kind) = json_str(obj, "type", "map")? {
        if kind != "map" {
            return Err(syntax(format!("JSON \"type\" is {:?}, expected \"map\"", excerpt(kind))));
        }
    }
    let orientation = json_str(obj, "orientation", "map")?.ok_or_else(|| syntax("map is missing \"orientation\""))?;
    if orientation != "orthogonal" {
        return Err(unsupported(format!(
            "{:?} orientation is not supported, only orthogonal maps",
            excerpt(orientation)
        )));
    }
    let infinite = match obj.get("infinite") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_u64() != Some(0),
        Some(_) => return Err(syntax("map \"infinite\" is not a boolean")),
    };
    if infinite {
        return Err(unsupported("infinite maps are not supported; make the map fixed-size"));
    }
    let width = json_req_u32(obj, "width", "map")?;
    let height = json_req_u32(obj, "height", "map")?;
    check_side("map", width, height)?;

    let mut tilesets = Vec::new();
    match obj.get("tilesets") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for ts in list {
                let ts = ts.as_object().ok_or_else(|| syntax("a tileset is not a JSON object"))?;
                tilesets.push(tmj_tileset(ts, read)?);
            }
        }
        Some(_) => return Err(syntax("map \"tilesets\" is not an array")),
    }
    let list = match obj.get("layers") {
        Some(Value::Array(list)) => list,
        Some(_) => return Err(syntax("map \"layers\" is not an array")),
        None => return Err(syntax("map is missing \"layers\"")),
    };
    let mut objects = Vec::new();
    tmj_layer_objects(list, &mut objects, 0)?;
    // Sizes of all layers are checked before any data is decoded.
    let mut budget = MAX_TOTAL_CELLS;
    let mut sizes = Vec::with_capacity(objects.len());
    for layer in &objects {
        sizes.push(tmj_layer_size(layer, width, height, &mut budget)?);
    }
    let mut layers = Vec::with_capacity(objects.len());
    for (layer, size) in objects.into_iter().zip(sizes) {
        layers.push(tmj_layer(layer, size)?);
    }
    Ok(Map { width, height, tilesets, layers })
}

fn tmj_tileset(ts: &JsonObject, read: ReadFn<'_>) -> Result<Tileset, TiledError> {
    let firstgid = json_req_u32(ts, "firstgid", "tileset")?;
    if let Some(src) = json_str(ts, "source", "tileset")? {
        let path = join_normalize("", src)?;
        let bytes = read(&path).map_err(|message| TiledError::ExternalTileset { path: path.clone(), message })?;
        let image_rel = external_tileset_image(&path, &bytes)?;
        let image = join_normalize(dir_of(&path), &image_rel)?;
        return Ok(Tileset { firstgid, image, source: Some(path) });
    }
    let name = json_str(ts, "name", "tileset")?.unwrap_or("");
    let image_rel = json_tileset_image(ts, name)?;
    Ok(Tileset { firstgid, image: join_normalize("", &image_rel)?, source: None })
}

/// The `"image"` of a JSON tileset (embedded or TSJ).
fn json_tileset_image(ts: &JsonObject, what: &str) -> Result<String, TiledError> {
    match json_str(ts, "image", "tileset")? {
        Some(image) => Ok(image.to_string()),
        None => {
            Err(unsupported(format!("tileset {:?} is a collection of images (no single tileset image)", excerpt(what))))
        }
    }
}

/// Tile layer objects in `list`, depth-first through groups, in document order.
fn tmj_layer_objects<'a>(list: &'a [Value], out: &mut Vec<&'a JsonObject>, depth: usize) -> Result<(), TiledError> {
    if depth > MAX_GROUP_DEPTH {
        return Err(unsupported(format!("groups nested more than {MAX_GROUP_DEPTH} deep")));
    }
    for layer in list {
        let layer = layer.as_object().ok_or_else(|| syntax("a layer is not a JSON object"))?;
        let kind = json_str(layer, "type", "layer")?.ok_or_else(|| syntax("layer is missing \"type\""))?;
        match kind {
            "tilelayer" => out.push(layer),
            "group" => match layer.get("layers") {
                Some(Value::Array(children)) => tmj_layer_objects(children, out, depth + 1)?,
                None | Some(Value::Null) => {}
                Some(_) => return Err(syntax("group \"layers\" is not an array")),
            },
            _ => {} // objectgroup, imagelayer
        }
    }
    Ok(())
}

fn tmj_layer_size(
    layer: &JsonObject,
    map_width: u32,
    map_height: u32,
    budget: &mut u64,
) -> Result<LayerSize, TiledError> {
    let name = json_str(layer, "name", "layer")?.unwrap_or("").to_string();
    let what = format!("layer {name:?}");
    let width = json_u32(layer, "width", &what)?.unwrap_or(map_width);
    let height = json_u32(layer, "height", &what)?.unwrap_or(map_height);
    check_side(&what, width, height)?;
    let cells = take_budget(budget, width, height)?;
    Ok((name, width, height, cells))
}

fn tmj_layer(layer: &JsonObject, size: LayerSize) -> Result<Layer, TiledError> {
    let (name, width, height, cells) = size;
    let what = format!("layer {name:?}");
    if layer.contains_key("chunks") {
        return Err(unsupported("infinite maps (layer data in chunks) are not supported"));
    }
    let encoding = json_str(layer, "encoding", &what)?.map(str::trim);
    let compression = parse_compression(json_str(layer, "compression", &what)?)?;
    let gids = match layer.get("data") {
        None | Some(Value::Null) => return Err(syntax(format!("{what} has no \"data\""))),
        Some(Value::Array(values)) => {
            if !matches!(encoding, None | Some("") | Some("csv")) {
                return Err(bad(&name, "\"data\" is an array but \"encoding\" is not csv"));
            }
            if !matches!(compression, Compression::None) {
                return Err(bad(&name, "\"data\" is an array but \"compression\" is set"));
            }
            if values.len() != cells {
                return Err(bad(&name, format!("\"data\" has {} cells, expected {cells}", values.len())));
            }
            let mut gids = Vec::with_capacity(cells);
            for (i, v) in values.iter().enumerate() {
                let gid = v
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| bad(&name, format!("cell {i} is not a gid: {}", excerpt(&v.to_string()))))?;
                gids.push(gid);
            }
            gids
        }
        Some(Value::String(text)) => match encoding {
            Some("base64") => decode_base64(&name, text, compression, cells)?,
            Some(other) if other != "csv" && !other.is_empty() => {
                return Err(unsupported(format!("data encoding {:?} is not supported", excerpt(other))))
            }
            _ => return Err(bad(&name, "\"data\" is a string but \"encoding\" is not base64")),
        },
        Some(_) => return Err(syntax(format!("{what} \"data\" is neither an array nor a string"))),
    };
    Ok(Layer { name, width, height, gids })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Where the fixture files live (adjust when this file moves to another crate).
    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/formats/tiled");

    const ALL_FIXTURES: [&str; 7] = [
        "map_csv.tmx",
        "map_base64.tmx",
        "map_zlib.tmx",
        "map_gzip.tmx",
        "map_xml.tmx",
        "map_array.tmj",
        "map_zlib.tmj",
    ];

    /// The expected payload, worked out by hand from the gids in the fixtures with the
    /// bank ground.png → (0, 16), props.png → (16, 8).
    #[rustfmt::skip]
    const EXPECTED: [u8; 48] = [
        // layer "ground" (offset 0)
        0x00, 0x00, // gid 1                 → id 0
        0x01, 0x00, // gid 2                 → id 1
        0x02, 0x00, // gid 3                 → id 2
        0x03, 0x00, // gid 4                 → id 3
        0x04, 0x00, // gid 5                 → id 4
        0x05, 0x80, // gid 6  | H            → id 5  | bit 15
        0x06, 0x40, // gid 7  | V            → id 6  | bit 14
        0x07, 0x20, // gid 8  | D            → id 7  | bit 13
        0x0F, 0x00, // gid 16                → id 15
        0x00, 0xA0, // gid 1  | H | D        → id 0  | bits 15, 13
        0x01, 0xE0, // gid 2  | H | V | D    → id 1  | bits 15, 14, 13
        0x09, 0xC0, // gid 10 | H | V        → id 9  | bits 15, 14
        // layer "props" (offset 24), tileset firstgid 17, bank base 16
        0xFF, 0xFF, // empty
        0x10, 0x00, // gid 17                → id 16
        0x11, 0x00, // gid 18                → id 17
        0xFF, 0xFF, // empty
        0x12, 0x80, // gid 19 | H            → id 18 | bit 15
        0xFF, 0xFF, // empty
        0x17, 0x00, // gid 24                → id 23
        0xFF, 0xFF, // empty
        0xFF, 0xFF, // empty
        0xFF, 0xFF, // empty
        0xFF, 0xFF, // empty
        0x13, 0x60, // gid 20 | V | D        → id 19 | bits 14, 13
    ];

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{FIXTURES}/{name}");
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn fixture_text(name: &str) -> String {
        String::from_utf8(fixture(name)).unwrap()
    }

    fn read_fixtures(path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(format!("{FIXTURES}/{path}")).map_err(|e| e.to_string())
    }

    fn bank(image: &str) -> Option<(u32, u32)> {
        match image {
            "tiles/ground.png" => Some((0, 16)),
            "tiles/props.png" => Some((16, 8)),
            _ => None,
        }
    }

    fn parse(bytes: &[u8], name: &str) -> Result<Map, TiledError> {
        parse_map(bytes, name, &mut read_fixtures)
    }

    fn parse_and_encode(bytes: &[u8], name: &str) -> Result<Vec<u8>, TiledError> {
        let map = parse(bytes, name)?;
        Ok(encode(&map, &bank)?.0)
    }

    /// The error of a (modified) map text, with the standard bank.
    fn err_of(text: &str, name: &str) -> TiledError {
        parse_and_encode(text.as_bytes(), name).expect_err("expected an error")
    }

    fn replaced(fixture_name: &str, from: &str, to: &str) -> String {
        let text = fixture_text(fixture_name);
        assert!(text.contains(from), "{fixture_name} does not contain {from:?}");
        text.replacen(from, to, 1)
    }

    fn is_unsupported(e: &TiledError, needle: &str) -> bool {
        matches!(e, TiledError::Unsupported { message } if message.contains(needle))
    }

    fn is_bad_data(e: &TiledError, layer_name: &str, needle: &str) -> bool {
        matches!(e, TiledError::BadData { layer, message } if layer == layer_name && message.contains(needle))
    }

    // -----------------------------------------------------------------------
    // 1. Same map in every encoding
    // -----------------------------------------------------------------------

    #[test]
    fn every_encoding_gives_the_expected_payload() {
        for name in ALL_FIXTURES {
            let map = parse(&fixture(name), name).unwrap_or_else(|e| panic!("{name}: {e}"));
            let (payload, layers) = encode(&map, &bank).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(payload, EXPECTED, "{name}");
            assert_eq!(layers, vec![("ground".to_string(), 4, 3, 0), ("props".to_string(), 4, 3, 24)], "{name}");
        }
    }

    #[test]
    fn every_encoding_parses_to_the_same_map() {
        #[rustfmt::skip]
        let expected = Map {
            width: 4,
            height: 3,
            tilesets: vec![
                Tileset { firstgid: 1, image: "tiles/ground.png".into(), source: None },
                Tileset {
                    firstgid: 17,
                    image: "tiles/props.png".into(),
                    source: Some("tilesets/props.tsx".into()),
                },
            ],
            layers: vec![
                Layer {
                    name: "ground".into(),
                    width: 4,
                    height: 3,
                    gids: vec![
                        1, 2, 3, 4,
                        5, 0x8000_0006, 0x4000_0007, 0x2000_0008,
                        16, 0xA000_0001, 0xE000_0002, 0xC000_000A,
                    ],
                },
                Layer {
                    name: "props".into(),
                    width: 4,
                    height: 3,
                    gids: vec![0, 17, 18, 0, 0x8000_0013, 0, 24, 0, 0, 0, 0, 0x6000_0014],
                },
            ],
        };
        for name in ALL_FIXTURES {
            assert_eq!(parse(&fixture(name), name).unwrap(), expected, "{name}");
        }
    }

    #[test]
    fn read_is_called_with_the_map_relative_tsx_path() {
        let mut asked = Vec::new();
        let mut read = |p: &str| {
            asked.push(p.to_string());
            read_fixtures(p)
        };
        parse_map(&fixture("map_csv.tmx"), "levels/map_csv.tmx", &mut read).unwrap();
        assert_eq!(asked, vec!["tilesets/props.tsx".to_string()]);
    }

    #[test]
    fn bank_is_asked_once_per_used_tileset() {
        let calls = std::cell::Cell::new(0);
        let counting = |image: &str| {
            calls.set(calls.get() + 1);
            bank(image)
        };
        let map = parse(&fixture("map_csv.tmx"), "map_csv.tmx").unwrap();
        encode(&map, &counting).unwrap();
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn unused_tileset_need_not_be_in_the_bank() {
        // Only the ground layer: props.png is never used by a tile layer cell.
        let mut map = parse(&fixture("map_csv.tmx"), "map_csv.tmx").unwrap();
        map.layers.truncate(1);
        let only_ground = |image: &str| (image == "tiles/ground.png").then_some((0, 16));
        let (payload, _) = encode(&map, &only_ground).unwrap();
        assert_eq!(payload, EXPECTED[..24]);
    }

    #[test]
    fn external_json_tileset_is_supported() {
        let tmj = fixture_text("map_array.tmj").replace("tilesets\\/props.tsx", "sets/props.tsj");
        let tsj = br#"{ "columns":4, "image":"..\/tiles\/props.png", "imageheight":16, "imagewidth":32,
            "margin":0, "name":"props", "spacing":0, "tilecount":8, "tiledversion":"1.10.2",
            "tileheight":8, "tilewidth":8, "type":"tileset", "version":"1.10" }"#;
        let mut read = |p: &str| {
            if p == "sets/props.tsj" {
                Ok(tsj.to_vec())
            } else {
                Err(format!("unexpected {p}"))
            }
        };
        let map = parse_map(tmj.as_bytes(), "m.tmj", &mut read).unwrap();
        assert_eq!(map.tilesets[1].image, "tiles/props.png");
        assert_eq!(map.tilesets[1].source.as_deref(), Some("sets/props.tsj"));
        assert_eq!(encode(&map, &bank).unwrap().0, EXPECTED);
    }

    #[test]
    fn csv_tolerates_trailing_comma_and_spaces() {
        let text = replaced("map_csv.tmx", "3758096386,3221225482\n", " 3758096386 , 3221225482 ,\n");
        assert_eq!(parse_and_encode(text.as_bytes(), "m.tmx").unwrap(), EXPECTED);
    }

    #[test]
    fn flags_on_an_empty_cell_leave_it_empty() {
        let text = replaced("map_csv.tmx", "\n0,17,", &format!("\n{},17,", FLIP_H | FLIP_V));
        assert_eq!(parse_and_encode(text.as_bytes(), "m.tmx").unwrap(), EXPECTED);
    }

    #[test]
    fn path_normalization() {
        assert_eq!(join_normalize("tilesets", "../tiles/props.png").unwrap(), "tiles/props.png");
        assert_eq!(join_normalize("", "./a//b/../c.png").unwrap(), "a/c.png");
        assert_eq!(join_normalize("", "../common/a.png").unwrap(), "../common/a.png");
        assert_eq!(join_normalize("a", "..\\..\\..\\b.png").unwrap(), "../../b.png");
        assert_eq!(join_normalize("x/y", "z.png").unwrap(), "x/y/z.png");
        assert!(is_unsupported(&join_normalize("", "/abs/a.png").unwrap_err(), "absolute"));
        assert!(is_unsupported(&join_normalize("", "C:/a.png").unwrap_err(), "absolute"));
        assert!(matches!(join_normalize("", "").unwrap_err(), TiledError::Syntax { .. }));
        assert!(matches!(join_normalize("", "a/..").unwrap_err(), TiledError::Syntax { .. }));
    }

    // -----------------------------------------------------------------------
    // 2. Errors
    // -----------------------------------------------------------------------

    #[test]
    fn error_orientation() {
        let e = err_of(&replaced("map_csv.tmx", "\"orthogonal\"", "\"isometric\""), "m.tmx");
        assert!(is_unsupported(&e, "isometric"), "{e:?}");
        let e = err_of(&replaced("map_array.tmj", "\"orthogonal\"", "\"hexagonal\""), "m.tmj");
        assert!(is_unsupported(&e, "hexagonal"), "{e:?}");
    }

    #[test]
    fn error_infinite() {
        let e = err_of(&replaced("map_csv.tmx", "infinite=\"0\"", "infinite=\"1\""), "m.tmx");
        assert!(is_unsupported(&e, "infinite maps are not supported"), "{e:?}");
        let e = err_of(&replaced("map_array.tmj", "\"infinite\":false", "\"infinite\":true"), "m.tmj");
        assert!(is_unsupported(&e, "infinite maps are not supported"), "{e:?}");
        // Chunked layer data (as Tiled writes for infinite maps) is refused too.
        let chunked = replaced(
            "map_csv.tmx",
            "<data encoding=\"csv\">",
            "<data encoding=\"csv\"><chunk x=\"0\" y=\"0\" width=\"16\" height=\"16\">0</chunk>",
        );
        assert!(is_unsupported(&err_of(&chunked, "m.tmx"), "infinite"));
        let chunked = replaced(
            "map_array.tmj",
            "\"data\":[1,",
            "\"chunks\":[{\"data\":[1], \"height\":1, \"width\":1, \"x\":0, \"y\":0}], \"data\":[1,",
        );
        assert!(is_unsupported(&err_of(&chunked, "m.tmj"), "infinite"));
    }

    #[test]
    fn error_zstd() {
        let e = err_of(&replaced("map_zlib.tmx", "\"zlib\"", "\"zstd\""), "m.tmx");
        assert!(is_unsupported(&e, "zstd compression is not supported"), "{e:?}");
        let e = err_of(&replaced("map_zlib.tmj", "\"zlib\"", "\"zstd\""), "m.tmj");
        assert!(is_unsupported(&e, "zstd compression is not supported"), "{e:?}");
        assert!(e.to_string().contains("not supported"));
    }

    #[test]
    fn error_unknown_encoding_and_compression() {
        let e = err_of(&replaced("map_csv.tmx", "\"csv\"", "\"hex\""), "m.tmx");
        assert!(is_unsupported(&e, "encoding"), "{e:?}");
        let e = err_of(&replaced("map_zlib.tmx", "\"zlib\"", "\"lz4\""), "m.tmx");
        assert!(is_unsupported(&e, "compression"), "{e:?}");
    }

    #[test]
    fn error_unknown_gid() {
        // The ground tileset now starts at gid 5: gids 1–4 belong to no tileset.
        let text = replaced("map_csv.tmx", "firstgid=\"1\"", "firstgid=\"5\"").replacen(
            "\n1,2,3,4,",
            &format!("\n5,{},3,4,", FLIP_H | 3),
            1,
        );
        assert_eq!(err_of(&text, "m.tmx"), TiledError::UnknownGid { layer: "ground".into(), x: 1, y: 0, gid: 3 });
    }

    #[test]
    fn error_image_not_in_bank() {
        let map = parse(&fixture("map_csv.tmx"), "m.tmx").unwrap();
        let only_ground = |image: &str| (image == "tiles/ground.png").then_some((0, 16));
        assert_eq!(
            encode(&map, &only_ground).unwrap_err(),
            TiledError::ImageNotInBank { image: "tiles/props.png".into() }
        );
    }

    #[test]
    fn error_tile_past_bank() {
        let map = parse(&fixture("map_zlib.tmj"), "m.tmj").unwrap();
        let small = |image: &str| match image {
            "tiles/ground.png" => Some((0, 16)),
            "tiles/props.png" => Some((16, 4)),
            _ => None,
        };
        let e = encode(&map, &small).unwrap_err();
        assert_eq!(
            e,
            TiledError::TilePastBank {
                layer: "props".into(),
                x: 2,
                y: 1,
                image: "tiles/props.png".into(),
                local: 7,
                count: 4,
            }
        );
        assert!(e.to_string().contains("tile id past the bank"));
    }

    #[test]
    fn error_id_too_large() {
        let map = parse(&fixture("map_gzip.tmx"), "m.tmx").unwrap();
        let high = |image: &str| match image {
            "tiles/ground.png" => Some((0, 16)),
            "tiles/props.png" => Some((1020, 8)),
            _ => None,
        };
        assert_eq!(
            encode(&map, &high).unwrap_err(),
            TiledError::IdTooLarge { layer: "props".into(), x: 2, y: 1, id: 1027 }
        );
        // Ids that would overflow u32 are reported, not wrapped.
        let huge = |_: &str| Some((u32::MAX, 16));
        assert!(matches!(encode(&map, &huge).unwrap_err(), TiledError::IdTooLarge { x: 0, y: 0, id: u32::MAX, .. }));
    }

    #[test]
    fn error_hexagonal_rotation_bit() {
        let text = replaced("map_csv.tmx", "\n0,17,", &format!("\n0,{},", ROTATE_HEX_120 | 17));
        let e = err_of(&text, "m.tmx");
        assert!(is_unsupported(&e, "bit 28"), "{e:?}");
        assert!(e.to_string().contains("layer \"props\" cell (1, 0)"), "{e}");
    }

    #[test]
    fn error_wrong_cell_count() {
        let short = replaced("map_csv.tmx", "16,2684354561,3758096386,3221225482", "16,2684354561,3758096386");
        assert!(is_bad_data(&err_of(&short, "m.tmx"), "ground", "11 cells, expected 12"));
        let long = replaced("map_csv.tmx", "0,0,0,1610612756", "0,0,0,1610612756,0");
        assert!(is_bad_data(&err_of(&long, "m.tmx"), "props", "more than 12"));
        let not_a_number = replaced("map_csv.tmx", "\n0,17,", "\n0,x17,");
        assert!(is_bad_data(&err_of(&not_a_number, "m.tmx"), "props", "not a gid"));
        let too_big = replaced("map_csv.tmx", "\n0,17,", "\n0,4294967296,");
        assert!(is_bad_data(&err_of(&too_big, "m.tmx"), "props", "not a gid"));
        let few_tiles = replaced("map_xml.tmx", "<tile gid=\"1\"/>", "");
        assert!(is_bad_data(&err_of(&few_tiles, "m.tmx"), "ground", "11 <tile> elements"));
        let array = replaced("map_array.tmj", "[0, 17, 18, 0,", "[0, 17, 18,");
        assert!(is_bad_data(&err_of(&array, "m.tmj"), "props", "11 cells"));
        // base64 decoding to the wrong number of bytes.
        let b64 = replaced("map_base64.tmx", "AAAAABEAAAASAAAA", "AAAAABEAAAA");
        assert!(matches!(err_of(&b64, "m.tmx"), TiledError::BadData { layer, .. } if layer == "props"));
        // The layer's own width/height is what the data must match.
        let resized = replaced("map_csv.tmx", "name=\"ground\" width=\"4\"", "name=\"ground\" width=\"5\"");
        assert!(is_bad_data(&err_of(&resized, "m.tmx"), "ground", "expected 15"));
    }

    #[test]
    fn error_broken_base64() {
        let text = replaced("map_base64.tmx", "AQAAAAIA", "AQAA!AIA");
        assert!(is_bad_data(&err_of(&text, "m.tmx"), "ground", "base64"));
        let text = replaced("map_zlib.tmj", "eNpjYGBgEARi", "eNpjYGBg*ARi");
        assert!(is_bad_data(&err_of(&text, "m.tmj"), "props", "base64"));
    }

    #[test]
    fn error_broken_zlib_and_gzip() {
        let ground_zlib = "eNpjZGBgYAJiZiBmAWJWIGZjYGhgZ2Bw4GBgUBAA8hkZGBYA1TzgYmA4AAAkNANi";
        // Not a zlib stream at all.
        let garbage = BASE64.encode(b"this is not a zlib stream, honest");
        let e = err_of(&replaced("map_zlib.tmx", ground_zlib, &garbage), "m.tmx");
        assert!(is_bad_data(&e, "ground", "zlib"), "{e:?}");
        // A corrupted byte inside the stream (checksum or deflate data).
        let mut bytes = BASE64.decode(ground_zlib).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        let e = err_of(&replaced("map_zlib.tmx", ground_zlib, &BASE64.encode(&bytes)), "m.tmx");
        assert!(matches!(&e, TiledError::BadData { layer, .. } if layer == "ground"), "{e:?}");
        // A truncated stream.
        let bytes = BASE64.decode(ground_zlib).unwrap();
        let cut = BASE64.encode(&bytes[..bytes.len() - 8]);
        let e = err_of(&replaced("map_zlib.tmx", ground_zlib, &cut), "m.tmx");
        assert!(matches!(&e, TiledError::BadData { layer, .. } if layer == "ground"), "{e:?}");
        // A valid stream that inflates to more than the layer needs.
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&[0u8; 4 * 1000]).unwrap();
        let long = BASE64.encode(z.finish().unwrap());
        let e = err_of(&replaced("map_zlib.tmx", ground_zlib, &long), "m.tmx");
        assert!(is_bad_data(&e, "ground", "more than"), "{e:?}");
        // Broken gzip.
        let gz = "H4sIAAAAAAAC/2NkYGBgAmJmIGYBYlYgZmNgaGBnYHDgYGBQEADyGRkYFgDVPOBiYDgAAEprzNAwAAAA";
        let e = err_of(&replaced("map_gzip.tmx", gz, &garbage), "m.tmx");
        assert!(is_bad_data(&e, "ground", "gzip"), "{e:?}");
    }

    #[test]
    fn error_missing_tsx() {
        let mut read = |_: &str| -> Result<Vec<u8>, String> { Err("no such file".into()) };
        for name in ["map_csv.tmx", "map_array.tmj"] {
            assert_eq!(
                parse_map(&fixture(name), name, &mut read).unwrap_err(),
                TiledError::ExternalTileset { path: "tilesets/props.tsx".into(), message: "no such file".into() }
            );
        }
    }

    #[test]
    fn error_invalid_tsx() {
        for tsx in [&b"<tileset name=\"props\"><image source=\"a.png\"/>"[..], b"<map/>", b"\xff\xfe"] {
            let mut read = |_: &str| -> Result<Vec<u8>, String> { Ok(tsx.to_vec()) };
            let e = parse_map(&fixture("map_csv.tmx"), "m.tmx", &mut read).unwrap_err();
            assert!(matches!(&e, TiledError::ExternalTileset { path, .. } if path == "tilesets/props.tsx"), "{e:?}");
        }
    }

    #[test]
    fn error_malformed_xml_and_json() {
        let xml = replaced("map_csv.tmx", "</map>", "");
        assert!(matches!(err_of(&xml, "m.tmx"), TiledError::Syntax { .. }));
        let xml = replaced("map_csv.tmx", "<layer id=\"1\"", "<layer id=1");
        assert!(matches!(err_of(&xml, "m.tmx"), TiledError::Syntax { .. }));
        let json = replaced("map_array.tmj", "\"width\":4\n}", "\"width\":4\n");
        assert!(matches!(err_of(&json, "m.tmj"), TiledError::Syntax { .. }));
        let json = replaced("map_array.tmj", "\"height\":3,\n \"infinite\"", "\"height\":3\n \"infinite\"");
        assert!(matches!(err_of(&json, "m.tmj"), TiledError::Syntax { .. }));
        let missing = replaced("map_csv.tmx", " width=\"4\" height=\"3\" tilewidth", " tilewidth");
        assert!(matches!(err_of(&missing, "m.tmx"), TiledError::Syntax { message } if message.contains("width")));
        assert!(matches!(err_of("<tileset/>", "m.tmx"), TiledError::Syntax { .. }));
        assert!(matches!(err_of("[1, 2]", "m.tmj"), TiledError::Syntax { .. }));
        assert!(matches!(err_of("", "m.tmx"), TiledError::Syntax { .. }));
        assert!(matches!(err_of("", "m.tmj"), TiledError::Syntax { .. }));
        let doctype =
            replaced("map_csv.tmx", "<map ", "<!DOCTYPE map SYSTEM \"http://mapeditor.org/dtd/1.0/map.dtd\">\n<map ");
        assert!(matches!(err_of(&doctype, "m.tmx"), TiledError::Syntax { .. }));
    }

    #[test]
    fn error_collection_tileset() {
        let text = replaced(
            "map_csv.tmx",
            "<image source=\"tiles/ground.png\" width=\"32\" height=\"32\"/>",
            "<grid orientation=\"orthogonal\" width=\"1\" height=\"1\"/>\n  \
             <tile id=\"0\"><image source=\"tiles/rock.png\" width=\"8\" height=\"8\"/></tile>",
        );
        assert!(is_unsupported(&err_of(&text, "m.tmx"), "collection of images"));
        let text = replaced(
            "map_array.tmj",
            "\"image\":\"tiles\\/ground.png\",",
            "\"tiles\":[{\"id\":0, \"image\":\"tiles\\/rock.png\", \"imageheight\":8, \"imagewidth\":8}],",
        );
        assert!(is_unsupported(&err_of(&text, "m.tmj"), "collection of images"));
    }

    #[test]
    fn error_limits_and_misc() {
        let big =
            replaced("map_csv.tmx", "width=\"4\" height=\"3\" tilewidth", "width=\"5000\" height=\"3\" tilewidth");
        assert!(is_unsupported(&err_of(&big, "m.tmx"), "at most 4096"));
        let zero = replaced("map_array.tmj", "\"height\":3,\n \"infinite\"", "\"height\":0,\n \"infinite\"");
        assert!(matches!(err_of(&zero, "m.tmj"), TiledError::Syntax { .. }));
        // Many full-size layers: total cell budget.
        let mut layers = String::new();
        for i in 0..5 {
            layers.push_str(&format!(
                "<layer id=\"{i}\" name=\"l{i}\" width=\"4096\" height=\"1024\"><data encoding=\"csv\">0</data></layer>"
            ));
        }
        let text = replaced("map_csv.tmx", "<objectgroup", &format!("{layers}<objectgroup"));
        assert!(is_unsupported(&err_of(&text, "m.tmx"), "cells"));
        let dup = replaced("map_csv.tmx", "firstgid=\"17\"", "firstgid=\"1\"");
        assert!(matches!(err_of(&dup, "m.tmx"), TiledError::Syntax { message } if message.contains("firstgid")));
        assert!(is_unsupported(&err_of("<map/>", "m.txt"), "neither .tmx nor .tmj"));
        // encode() refuses a hand-built map whose gids do not match its size.
        let map = Map {
            width: 2,
            height: 2,
            tilesets: vec![],
            layers: vec![Layer { name: "x".into(), width: 2, height: 2, gids: vec![0; 3] }],
        };
        assert!(matches!(encode(&map, &bank).unwrap_err(), TiledError::BadData { .. }));
    }

    #[test]
    fn display_is_one_line_and_names_layer_and_cell() {
        let errors = [
            TiledError::Syntax { message: "a\nb".into() },
            TiledError::Unsupported { message: "zstd compression is not supported".into() },
            TiledError::BadData { layer: "l\n1".into(), message: "m\r\n".into() },
            TiledError::ExternalTileset { path: "a.tsx".into(), message: "x\ny".into() },
            TiledError::UnknownGid { layer: "ground".into(), x: 1, y: 2, gid: 3 },
            TiledError::ImageNotInBank { image: "tiles/a.png".into() },
            TiledError::TilePastBank {
                layer: "ground".into(),
                x: 1,
                y: 2,
                image: "tiles/a.png".into(),
                local: 9,
                count: 8,
            },
            TiledError::IdTooLarge { layer: "ground".into(), x: 1, y: 2, id: 1024 },
        ];
        for e in &errors {
            let s = e.to_string();
            assert!(!s.contains('\n') && !s.contains('\r'), "{s:?}");
        }
        for e in &errors[4..] {
            if !matches!(e, TiledError::ImageNotInBank { .. }) {
                assert!(e.to_string().contains("layer \"ground\" cell (1, 2)"), "{e}");
            }
        }
    }

    // -----------------------------------------------------------------------
    // 3. external_tilesets
    // -----------------------------------------------------------------------

    #[test]
    fn external_tilesets_of_the_fixtures() {
        for name in ALL_FIXTURES {
            assert_eq!(
                external_tilesets(&fixture(name), name).unwrap(),
                vec!["tilesets/props.tsx".to_string()],
                "{name}"
            );
        }
        let text = replaced("map_csv.tmx", "<layer id=\"1\"", "<tileset firstgid=\"30\" source=\"./tilesets/../tilesets/props.tsx\"/>\n <tileset firstgid=\"40\" source=\"../common/more.tsx\"/>\n <layer id=\"1\"");
        assert_eq!(
            external_tilesets(text.as_bytes(), "m.tmx").unwrap(),
            vec!["tilesets/props.tsx".to_string(), "../common/more.tsx".to_string()]
        );
        assert!(matches!(external_tilesets(b"<map", "m.tmx"), Err(TiledError::Syntax { .. })));
    }

    // -----------------------------------------------------------------------
    // 4. Robustness
    // -----------------------------------------------------------------------

    /// Parses (with the fixture .tsx served from memory) and encodes; must never panic.
    fn exercise(map: &[u8], name: &str, tsx: &[u8]) {
        let _ = external_tilesets(map, name);
        let mut read = |p: &str| -> Result<Vec<u8>, String> {
            if p == "tilesets/props.tsx" {
                Ok(tsx.to_vec())
            } else {
                Err("not found".into())
            }
        };
        if let Ok(map) = parse_map(map, name, &mut read) {
            if let Err(e) = encode(&map, &bank) {
                let _ = e.to_string();
            }
        } else if let Err(e) = parse_map(map, name, &mut read) {
            assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn every_truncation_is_handled() {
        let tsx = fixture("tilesets/props.tsx");
        for name in ALL_FIXTURES {
            let bytes = fixture(name);
            for len in 0..=bytes.len() {
                exercise(&bytes[..len], name, &tsx);
            }
            // The whole file parses; shorter prefixes never do (the root is unclosed).
            assert!(parse_and_encode(&bytes, name).is_ok());
            assert!(parse_and_encode(&bytes[..bytes.len() - 3], name).is_err(), "{name}");
        }
        let map = fixture("map_csv.tmx");
        for len in 0..=tsx.len() {
            exercise(&map, "map_csv.tmx", &tsx[..len]);
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_overflow() {
        let depth = 20_000;
        let xml = format!(
            "<map orientation=\"orthogonal\" width=\"1\" height=\"1\">{}{}</map>",
            "<group>".repeat(depth),
            "</group>".repeat(depth)
        );
        let e = err_of(&xml, "m.tmx");
        assert!(matches!(e, TiledError::Syntax { .. } | TiledError::Unsupported { .. }), "{e:?}");
        let xml = format!(
            "<map orientation=\"orthogonal\" width=\"1\" height=\"1\">{}{}</map>",
            "<group>".repeat(100),
            "</group>".repeat(100)
        );
        assert!(is_unsupported(&err_of(&xml, "m.tmx"), "nested"));
        let json = format!(
            "{{\"orientation\":\"orthogonal\",\"width\":1,\"height\":1,\"layers\":{}{}}}",
            "[{\"type\":\"group\",\"layers\":".repeat(depth),
            "}]".repeat(depth)
        );
        assert!(matches!(err_of(&json, "m.tmj"), TiledError::Syntax { .. }));
    }

    #[test]
    fn random_byte_flips_never_panic() {
        let mut state: u64 = 0x5EED_1234_ABCD_0001;
        let mut next = move || {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let tsx = fixture("tilesets/props.tsx");
        for name in ALL_FIXTURES {
            let original = fixture(name);
            for _ in 0..300 {
                let mut bytes = original.clone();
                let flips = 1 + next() % 4;
                for _ in 0..flips {
                    let at = (next() % bytes.len() as u64) as usize;
                    bytes[at] = if next() % 2 == 0 { bytes[at] ^ (1 << (next() % 8)) } else { (next() & 0xFF) as u8 };
                }
                exercise(&bytes, name, &tsx);
            }
        }
        let map = fixture("map_zlib.tmx");
        for _ in 0..300 {
            let mut bytes = tsx.clone();
            let at = (next() % bytes.len() as u64) as usize;
            bytes[at] = (next() & 0xFF) as u8;
            exercise(&map, "map_zlib.tmx", &bytes);
        }
    }
}
