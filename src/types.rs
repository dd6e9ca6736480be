//! The asset types (SPEC §3), one table entry each: everything packer knows about a type
//! outside its conversion. decl (parsing, defaults, validation), commands (`packer add`), cli
//! (`--type` values, `packer step` subcommands), plan (keys that read other assets), workspace
//! (discovered inputs) and ninja (one rule per step) all iterate over [`AssetType::ALL`]; none
//! of them names a type. A type's conversion is its `formats/` module (pure bytes) and its
//! `step/` module (the step Ninja runs, named like the entry's step).
//!
//! Adding a type is one entry here plus those two modules; CONTRIBUTING.md says how.

use crate::diag::{Code, Diagnostic};
use crate::relpath::RelPath;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The payload limit of blobs and sound banks unless `output.metadata.max_bytes` says otherwise.
pub const DEFAULT_MAX_BYTES: u64 = 16 << 20;
/// The largest `output.metadata.max_bytes` accepted: container offsets are 32-bit.
pub const MAX_MAX_BYTES: u64 = 1 << 30;
/// The largest input file of any asset (a blob's source: its `max_bytes`; a sound bank's
/// WAVs: this or its `max_bytes`, whichever is larger).
pub const MAX_INPUT_BYTES: u64 = 64 << 20;

/// How big an asset may get (doc/reference.md, "Limits"): checked before anything is
/// allocated for it, so that a step's memory is bounded by these, not by what an input claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The payload, in bytes (a tile bank's is always 34,816; a tilemap's is bounded by its
    /// 4096×4096 cells).
    pub payload: u64,
    /// Each input file, in bytes.
    pub input: u64,
}

impl Limits {
    /// The limits of an asset of type `ty` whose effective `output.metadata` is `metadata`.
    pub fn of(ty: AssetType, metadata: &Map<String, Value>) -> Limits {
        let max_bytes = metadata.get("max_bytes").and_then(Value::as_u64).unwrap_or(DEFAULT_MAX_BYTES);
        (ty.0.limits)(max_bytes)
    }

    /// The limits of the asset a key document's `step_key` describes (an unknown format gets
    /// the fixed-size limits: nothing raised).
    pub fn of_step_key(step_key: &Value) -> Limits {
        let empty = Map::new();
        let metadata = step_key.get("metadata").and_then(Value::as_object).unwrap_or(&empty);
        match step_key.get("format").and_then(Value::as_str).and_then(AssetType::of_format) {
            Some(ty) => Limits::of(ty, metadata),
            None => fixed_size(DEFAULT_MAX_BYTES),
        }
    }

    /// Whether the type takes `output.metadata.max_bytes`.
    pub fn raisable(ty: AssetType) -> bool {
        ty.0.max_bytes
    }
}

/// The limits of a type whose payload size follows from its format (tiles, maps, palettes).
fn fixed_size(_: u64) -> Limits {
    Limits { payload: u64::MAX, input: MAX_INPUT_BYTES }
}

/// One entry of an input role: a file below the asset root, a pattern that gen expands into
/// files, or another asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputRef {
    File(RelPath),
    Pattern(String),
    Asset(String),
}

impl InputRef {
    /// The form written in `asset.json`.
    pub fn declared(&self) -> String {
        match self {
            InputRef::File(p) => p.to_string(),
            InputRef::Pattern(p) => p.clone(),
            InputRef::Asset(n) => format!("@asset:{n}"),
        }
    }
}

/// An input role of a type and what its entries may be.
pub struct Role {
    pub name: &'static str,
    /// `Some(type name)`: an `@asset:` reference in this role must name an asset of that type
    /// (PK025).
    pub asset_of: Option<&'static str>,
}

const fn role(name: &'static str) -> Role {
    Role { name, asset_of: None }
}

/// What a type's checks see of a declaration: its inputs and effective metadata.
pub struct Shape<'a> {
    pub inputs: &'a BTreeMap<String, Vec<InputRef>>,
    pub metadata: &'a Map<String, Value>,
}

impl Shape<'_> {
    /// Files (and, before expansion, patterns standing for files) in `role`.
    pub fn files(&self, role: &str) -> usize {
        self.list(role).iter().filter(|i| matches!(i, InputRef::File(_) | InputRef::Pattern(_))).count()
    }

    /// `@asset:` references in `role`.
    pub fn refs(&self, role: &str) -> usize {
        self.list(role).len() - self.files(role)
    }

    fn list(&self, role: &str) -> &[InputRef] {
        self.inputs.get(role).map(Vec::as_slice).unwrap_or_default()
    }

    fn declared(&self, role: &str) -> Vec<String> {
        self.list(role).iter().map(InputRef::declared).collect()
    }

    fn has_patterns(&self) -> bool {
        self.inputs.values().flatten().any(|i| matches!(i, InputRef::Pattern(_)))
    }
}

/// Where a type's checks report: PK015 for the inputs' shape, PK024 for a parameter.
#[derive(Default)]
pub struct Findings {
    pub diags: Vec<Diagnostic>,
}

impl Findings {
    pub fn inputs(&mut self, msg: impl Into<String>, fix: impl Into<String>) {
        self.diags.push(Diagnostic::error(Code::PK015, msg, fix));
    }

    pub fn param(&mut self, msg: impl Into<String>, fix: impl Into<String>) {
        self.diags.push(Diagnostic::error(Code::PK024, msg, fix));
    }
}

/// What `packer add` knows when it writes a new declaration's inputs.
pub struct AddContext<'a> {
    /// The files `--source` named, or else every file in the directory (relative, sorted).
    pub files: &'a [String],
    /// Whether the files came from `--source` (written as given) or from the directory
    /// (banks then follow the folder with a pattern).
    pub given: bool,
    /// `--tiles`: the asset a tilemap's tiles come from.
    pub tiles: Option<&'a str>,
    /// The directory as the user named it, for messages.
    pub shown: &'a str,
}

impl AddContext<'_> {
    fn with_ext(&self, exts: &[&str]) -> Vec<String> {
        self.files.iter().filter(|f| exts.iter().any(|e| f.to_ascii_lowercase().ends_with(e))).cloned().collect()
    }

    /// At least one file of `what` for `role`, else PK015.
    fn need(&self, role: &str, list: &[String], what: &str) -> Result<(), Diagnostic> {
        if list.is_empty() {
            return Err(Diagnostic::error(
                Code::PK015,
                format!("no {what} found for inputs.{role} in {}", self.shown),
                format!("put the {what} in the directory, or pass --source <file>"),
            ));
        }
        Ok(())
    }

    /// Exactly one file, else PK015: "a `what`, found N in DIR", and `fix`.
    fn one(&self, list: Vec<String>, what: &str, fix: &str) -> Result<Vec<String>, Diagnostic> {
        if list.len() != 1 {
            return Err(Diagnostic::error(
                Code::PK015,
                format!("a {what}, found {} in {}", list.len(), self.shown),
                fix,
            ));
        }
        Ok(list)
    }

    /// Banks follow their folder: a file added later is picked up by plain `ninja`. Patterns
    /// are case-sensitive, so the extensions are written as the files spell them (`*.PNG`).
    fn follow(&self, list: Vec<String>) -> Vec<String> {
        if self.given {
            return list;
        }
        let mut exts: Vec<&str> = list.iter().filter_map(|f| f.rsplit_once('.').map(|(_, e)| e)).collect();
        exts.sort();
        exts.dedup();
        match exts.as_slice() {
            [one] => vec![format!("**/*.{one}")],
            many => vec![format!("**/*.{{{}}}", many.join(","))],
        }
    }
}

/// Inputs a type finds inside its declared files (a Tiled map's external tilesets): they are
/// checked, hashed and keyed like declared ones.
pub struct Discover {
    /// What a found file is, for messages ("external tileset").
    pub what: &'static str,
    /// The paths one declared file references, relative to its directory (`Err`: the file does
    /// not parse; its step reports that).
    pub find: fn(bytes: &[u8], file_name: &str) -> Result<Vec<String>, ()>,
    /// The fix for a referenced file that is missing.
    pub fix_missing: &'static str,
    /// The fix for a referenced file outside the asset root.
    pub fix_outside: &'static str,
}

/// Role → the inputs as `asset.json` lists them.
pub type Inputs = BTreeMap<String, Vec<String>>;

/// Completes a key document's `step_key` from the roots of the assets it references; the
/// error completes "<type> <name> …".
pub type CompleteKey = fn(step_key: &mut Value, own_root: &str, dep_roots: &[&str]) -> Result<(), String>;

/// Everything packer knows about one asset type outside its conversion.
pub struct TypeInfo {
    /// The `type` of `asset.json`.
    pub name: &'static str,
    /// The one `output.format` it produces in v1 (`BANK_TYPE/encoding_vN`).
    pub format: &'static str,
    /// What `packer add` appends to a name that is taken (`level1_map`).
    pub short: &'static str,
    /// The step that converts it (`packer step <name>`, module `step/<name>.rs`) and its
    /// version, which changes whenever the step's output bytes could change.
    pub step: (&'static str, &'static str),
    /// The step's help (`packer step <name> --help`).
    pub about: &'static str,
    /// The input roles it accepts.
    pub roles: &'static [Role],
    /// `output.metadata` defaults, as a JSON object (materialized so that an omitted
    /// parameter and its explicit default give one key).
    pub defaults: &'static str,
    /// Whether it takes `output.metadata.max_bytes`.
    pub max_bytes: bool,
    /// Its limits given the effective `max_bytes`.
    pub limits: fn(max_bytes: u64) -> Limits,
    /// The inputs' counts and kinds and the parameters' ranges (SPEC §3).
    pub check: fn(&Shape, &mut Findings),
    /// The inputs `packer add` writes.
    pub add_inputs: fn(&AddContext) -> Result<Inputs, Diagnostic>,
    /// Inputs found inside declared files, if the type has any.
    pub discover: Option<Discover>,
    /// Completes the key document's `step_key` with what depends on other assets
    /// (`dep_roots`: the roots of the assets it references, in declared order).
    pub complete_key: Option<CompleteKey>,
}

/// An asset type: a handle on its table entry.
#[derive(Clone, Copy)]
pub struct AssetType(&'static TypeInfo);

impl PartialEq for AssetType {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}
impl Eq for AssetType {}
impl std::hash::Hash for AssetType {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.name.hash(h)
    }
}
impl PartialOrd for AssetType {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for AssetType {
    /// Table order.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.index().cmp(&other.index())
    }
}
impl std::fmt::Debug for AssetType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name)
    }
}

impl AssetType {
    /// Every type, in the order `--type` and `packer step --help` list them.
    pub const ALL: &'static [AssetType] =
        &[AssetType::BLOB, AssetType::TILE_BANK, AssetType::SOUND_BANK, AssetType::TILEMAP, AssetType::PALETTE];

    pub fn info(self) -> &'static TypeInfo {
        self.0
    }

    fn index(self) -> usize {
        AssetType::ALL.iter().position(|t| *t == self).unwrap_or(usize::MAX)
    }

    /// The `type` string of `asset.json`.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    pub fn parse(s: &str) -> Option<AssetType> {
        AssetType::ALL.iter().copied().find(|t| t.name() == s)
    }

    /// The type whose `output.format` is `format`.
    pub fn of_format(format: &str) -> Option<AssetType> {
        AssetType::ALL.iter().copied().find(|t| t.format() == format)
    }

    /// The type converted by step `step`.
    pub fn of_step(step: &str) -> Option<AssetType> {
        AssetType::ALL.iter().copied().find(|t| t.step().0 == step)
    }

    /// The one `output.format` each type produces in v1.
    pub fn format(self) -> &'static str {
        self.0.format
    }

    /// The step that converts this type (`packer step <name>`) and its version.
    pub const fn step(self) -> (&'static str, &'static str) {
        self.0.step
    }

    /// The `bank_type` of the asset table.
    pub fn bank_type(self) -> &'static str {
        self.format().split('/').next().unwrap_or("")
    }

    /// The input roles the type accepts.
    pub fn roles(self) -> impl Iterator<Item = &'static str> {
        self.0.roles.iter().map(|r| r.name)
    }

    /// The role `name`, if the type has it.
    pub fn role(self, name: &str) -> Option<&'static Role> {
        self.0.roles.iter().find(|r| r.name == name)
    }

    /// `output.metadata` defaults.
    pub fn defaults(self) -> Map<String, Value> {
        serde_json::from_str(self.0.defaults).unwrap_or_default()
    }
}

// ---- The table ---------------------------------------------------------------------------

impl AssetType {
    /// BLOB/raw_v1 (SPEC §3): the one source file's bytes.
    pub const BLOB: AssetType = AssetType(&TypeInfo {
        name: "blob",
        format: "BLOB/raw_v1",
        short: "data",
        step: ("blob", "blob-1"),
        about: "BLOB/raw_v1: copy the one source file. Writes OUT.bin (payload), OUT.json (table \
                metadata) and OUT.rec (the key it was built from). Without --key, computes the key \
                from ROOT/asset.json. Exits at once when the outputs are intact and match the key.",
        roles: &[role("source")],
        defaults: "{}",
        max_bytes: true,
        limits: |max| Limits { payload: max, input: max },
        check: |s, f| {
            let n = s.list("source").len();
            if n != 1 {
                let listed = s.declared("source");
                let listed = if listed.is_empty() { String::new() } else { format!(" ({})", listed.join(", ")) };
                f.inputs(
                    format!("a blob takes exactly one file in inputs.source, found {n}{listed}"),
                    "list exactly one file: \"inputs\": {\"source\": [\"data.bin\"]} (or one \"@asset:<name>\")",
                );
            }
        },
        add_inputs: |c| {
            let what = "blob needs exactly one source file";
            let source = c.one(c.files.to_vec(), what, "put one file in the directory, or pass --source <file>")?;
            Ok(BTreeMap::from([("source".to_string(), source)]))
        },
        discover: None,
        complete_key: None,
    });

    /// TILES/indexed_v1 (SPEC §3.1): PNGs to a 256×256 4-bit sheet and 64 palettes.
    pub const TILE_BANK: AssetType = AssetType(&TypeInfo {
        name: "tile_bank",
        format: "TILES/indexed_v1",
        short: "tiles",
        step: ("tiles", "tiles-1"),
        about: "TILES/indexed_v1: decode each PNG of a tile_bank to 4-bit indices (cached per PNG, \
                in parallel) and assemble the 256×256 sheet and 64 palettes. Same outputs as blob; the \
                .json also publishes which tile ids each PNG received.",
        roles: &[role("tiles"), role("palettes")],
        defaults: r#"{"tile_size": 16, "palette_of": {}}"#,
        max_bytes: false,
        limits: fixed_size,
        check: |s, f| {
            if s.files("tiles") == 0 || s.refs("tiles") + s.refs("palettes") > 0 {
                f.inputs(
                    "a tile_bank takes one or more PNG files in inputs.tiles (and palette files in inputs.palettes)",
                    "list the PNGs: \"inputs\": {\"tiles\": [\"hero.png\"]}",
                );
            }
            if !matches!(s.metadata.get("tile_size").and_then(Value::as_u64), Some(8 | 16 | 32)) {
                f.param("tile_size must be 8, 16 or 32", "set output.metadata.tile_size to 8, 16 or 32 (default 16)");
            }
            // palette_of names files: checked once patterns are expanded.
            if !s.has_patterns() {
                palette_of(s, f);
            }
        },
        add_inputs: |c| {
            let pngs = c.with_ext(&[".png"]);
            c.need("tiles", &pngs, "PNG files")?;
            let mut inputs = BTreeMap::from([("tiles".to_string(), c.follow(pngs))]);
            let palettes = c.with_ext(&[".json"]);
            if !palettes.is_empty() {
                inputs.insert("palettes".to_string(), c.follow(palettes));
            }
            Ok(inputs)
        },
        discover: None,
        complete_key: None,
    });

    /// SOUNDS/pcm16le_v1 (SPEC §3.2): WAVs to mono i16 at one rate, concatenated.
    pub const SOUND_BANK: AssetType = AssetType(&TypeInfo {
        name: "sound_bank",
        format: "SOUNDS/pcm16le_v1",
        short: "sounds",
        step: ("sounds", "sounds-1"),
        about: "SOUNDS/pcm16le_v1: convert each WAV of a sound_bank to mono signed 16-bit at the \
                bank's sample_rate (cached per WAV, in parallel) and concatenate them.",
        roles: &[role("samples")],
        defaults: r#"{"sample_rate": 22050, "resample": "none"}"#,
        max_bytes: true,
        limits: |max| Limits { payload: max, input: max.max(MAX_INPUT_BYTES) },
        check: |s, f| {
            if s.files("samples") == 0 || s.refs("samples") > 0 {
                f.inputs(
                    "a sound_bank takes one or more WAV files in inputs.samples",
                    "list the WAVs: \"inputs\": {\"samples\": [\"jump.wav\"]}",
                );
            }
            if !matches!(s.metadata.get("sample_rate").and_then(Value::as_u64), Some(22050 | 44100 | 48000)) {
                f.param("sample_rate must be 22050, 44100 or 48000", "set output.metadata.sample_rate (default 22050)");
            }
            if !matches!(s.metadata.get("resample").and_then(Value::as_str), Some("none" | "linear")) {
                f.param(
                    "resample must be \"linear\" or \"none\"",
                    "set output.metadata.resample to \"linear\" to convert other rates",
                );
            }
        },
        add_inputs: |c| {
            let wavs = c.with_ext(&[".wav"]);
            c.need("samples", &wavs, "WAV files")?;
            Ok(BTreeMap::from([("samples".to_string(), c.follow(wavs))]))
        },
        discover: None,
        complete_key: None,
    });

    /// TILEMAP/u16_v1 (SPEC §3.3): a Tiled map's layers as u16 cells of its tile bank.
    pub const TILEMAP: AssetType = AssetType(&TypeInfo {
        name: "tilemap",
        format: "TILEMAP/u16_v1",
        short: "map",
        step: ("tilemap", "tilemap-1"),
        about: "TILEMAP/u16_v1: encode every tile layer of a Tiled map (.tmx/.tmj) against the tile \
                bank it references (whose artifact must be built). Without --key, run it from the \
                project directory.",
        roles: &[role("map"), Role { name: "tiles", asset_of: Some("tile_bank") }],
        defaults: "{}",
        max_bytes: false,
        limits: fixed_size,
        check: |s, f| {
            let fix = "\"inputs\": {\"map\": [\"level1.tmx\"], \"tiles\": [\"@asset:<tile_bank name>\"]}";
            let map_ok = s.files("map") == 1
                && s.refs("map") == 0
                && s.declared("map").iter().all(|m| m.ends_with(".tmx") || m.ends_with(".tmj"));
            if !map_ok {
                f.inputs("a tilemap takes exactly one Tiled map (.tmx or .tmj) in inputs.map", fix);
            }
            if s.refs("tiles") != 1 || s.files("tiles") != 0 {
                f.inputs("a tilemap takes exactly one \"@asset:<tile_bank name>\" in inputs.tiles", fix);
            }
        },
        add_inputs: |c| {
            let maps = c.one(
                c.with_ext(&[".tmx", ".tmj"]),
                "tilemap needs exactly one .tmx or .tmj map",
                "put one map in the directory, or pass --source <map>",
            )?;
            let Some(bank) = c.tiles else {
                return Err(Diagnostic::error(
                    Code::PK015,
                    "a tilemap needs the tile_bank its tilesets use",
                    "pass --tiles <tile_bank name>",
                ));
            };
            Ok(BTreeMap::from([("map".to_string(), maps), ("tiles".to_string(), vec![format!("@asset:{bank}")])]))
        },
        discover: Some(Discover {
            what: "external tileset",
            find: |bytes, name| crate::formats::tiled::external_tilesets(bytes, name).map_err(drop),
            fix_missing: "restore the .tsx file, or embed the tileset in the map",
            fix_outside: "move the .tsx into the tilemap's directory, or embed the tileset in the map",
        }),
        // Tileset images are matched to the bank's PNGs by path, so where the bank's root is
        // as seen from the map's root (`../sprites`) is an input of the map's bytes; where the
        // two sit in the workspace is not (moving both keeps the key, moving one changes it).
        complete_key: Some(|step_key, own_root, deps| {
            let [bank, ..] = deps else { return Err("has no tile bank in the graph".to_string()) };
            step_key["bank_from_root"] = json!(relative(own_root, bank));
            Ok(())
        }),
    });

    /// PALETTE/rgb565_v1 (SPEC §3): one palette file to 16 RGB565 colours.
    pub const PALETTE: AssetType = AssetType(&TypeInfo {
        name: "palette",
        format: "PALETTE/rgb565_v1",
        short: "palette",
        step: ("palette", "palette-1"),
        about: "PALETTE/rgb565_v1: read one palette file (JSON {\"colors\": [...]}, Lospec .hex, GIMP \
                .gpl, JASC or RIFF .pal) and write its 1 to 16 colours as RGB565 little-endian, unused \
                entries 0: 32 bytes. Same outputs as blob.",
        roles: &[role("source")],
        defaults: "{}",
        max_bytes: false,
        limits: fixed_size,
        check: |s, f| {
            let source = s.declared("source");
            let ok = s.files("source") == 1
                && s.refs("source") == 0
                && source.iter().all(|p| crate::formats::palette::Syntax::of_path(p).is_some());
            if !ok {
                f.inputs(
                    "a palette takes exactly one palette file (.json, .hex, .gpl or .pal) in inputs.source",
                    "\"inputs\": {\"source\": [\"pico8.hex\"]}",
                );
            }
        },
        add_inputs: |c| {
            let files = c.with_ext(&[".json", ".hex", ".gpl", ".pal"]);
            let what = "palette needs exactly one .json, .hex, .gpl or .pal file";
            let source = c.one(files, what, "put one palette file in the directory, or pass --source <file>")?;
            Ok(BTreeMap::from([("source".to_string(), source)]))
        },
        discover: None,
        complete_key: None,
    });
}

/// `palette_of` maps a `tiles` input to a palette id that exists.
fn palette_of(s: &Shape, f: &mut Findings) {
    let Some(map) = s.metadata.get("palette_of").and_then(Value::as_object) else {
        f.param(
            "palette_of must be an object mapping a tiles input to a palette id",
            "e.g. \"palette_of\": {\"hero.png\": 1}",
        );
        return;
    };
    let palettes = s.list("palettes").len().max(1) as u64;
    let tiles = s.declared("tiles");
    for (input, id) in map {
        if !tiles.contains(input) {
            f.param(
                format!("palette_of names `{input}`, which is not in inputs.tiles"),
                "use the path exactly as listed in inputs.tiles",
            );
        }
        if id.as_u64().is_none_or(|i| i >= palettes) {
            f.param(
                format!("palette_of[{input}] = {id} is not a palette id (0..{palettes})"),
                "palette ids follow inputs.palettes order, from 0",
            );
        }
    }
}

/// The path from directory `from` to `to`, both relative to the same base (`a/b`, `c` →
/// `../../c`); `.` when they are the same.
pub fn relative(from: &str, to: &str) -> String {
    let parts = |p: &str| p.split('/').filter(|c| !c.is_empty() && *c != ".").map(String::from).collect::<Vec<_>>();
    let (from, to) = (parts(from), parts(to));
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out: Vec<String> = vec!["..".to_string(); from.len() - common];
    out.extend(to[common..].iter().cloned());
    if out.is_empty() {
        ".".to_string()
    } else {
        out.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_formats_and_steps_are_unique() {
        for (i, a) in AssetType::ALL.iter().enumerate() {
            for b in &AssetType::ALL[i + 1..] {
                assert_ne!(a.name(), b.name());
                assert_ne!(a.format(), b.format());
                assert_ne!(a.step().0, b.step().0);
                assert_ne!(a.step().0, "pack", "the pack's step name is taken");
            }
            assert!(serde_json::from_str::<Map<String, Value>>(a.0.defaults).is_ok(), "{a:?}: defaults");
            assert_eq!(AssetType::parse(a.name()), Some(*a));
            assert_eq!(AssetType::of_step(a.step().0), Some(*a));
            assert!(a.format().starts_with(a.bank_type()) && a.format().contains('/'));
            for r in a.0.roles {
                assert!(r.asset_of.is_none_or(|t| AssetType::parse(t).is_some()), "{a:?}.{}: unknown type", r.name);
            }
        }
    }

    #[test]
    fn the_bank_as_seen_from_the_map() {
        assert_eq!(relative("game/map", "game/bank"), "../bank");
        assert_eq!(relative("a/b", "c"), "../../c");
        assert_eq!(relative("x", "x"), ".");
    }
}
