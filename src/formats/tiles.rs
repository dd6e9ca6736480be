//! TILES/indexed_v1: reduces PNG inputs to 4-bit palette indices and packs them, with up to 64 palettes, into one 256×256 tile-sheet payload.

use std::fmt;
use std::io::Cursor;

use serde_json::Value;

/// One colour as red, green, blue.
pub type Rgb = [u8; 3];

/// Width and height of the sheet in pixels.
const SHEET_SIDE: usize = 256;
/// Size of the pixel block: 256×256 pixels, two per byte.
const PIXEL_BLOCK_LEN: usize = SHEET_SIDE * SHEET_SIDE / 2;
/// Most palettes a sheet holds.
const MAX_PALETTES: usize = 64;
/// Most colours in one palette (4-bit indices).
const MAX_COLOURS: usize = 16;
/// Size of the palette block: 64 palettes × 16 colours × 2 bytes.
const PALETTE_BLOCK_LEN: usize = MAX_PALETTES * MAX_COLOURS * 2;
/// Largest width or height `decode_png` accepts.
const MAX_DIMENSION: u32 = 4096;
/// How many offending pixels `ColourNotInPalette` lists.
const MAX_REPORTED_PIXELS: usize = 4;

/// Cheap header read: size, whether it is an indexed (palette) PNG, and its PLTE if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PngInfo {
    pub width: u32,
    pub height: u32,
    pub indexed: bool,
    pub plte: Option<Vec<Rgb>>,
}

/// One input reduced to 4-bit indices, row-major, every value < 16.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedImage {
    pub width: u32,
    pub height: u32,
    pub indices: Vec<u8>,
}

/// The assembled payload (pixel block then palette block).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sheet {
    pub payload: Vec<u8>,
    pub tile_count: u32,
    /// per input: (first tile id, number of tiles)
    pub ranges: Vec<(u32, u32)>,
}

/// Everything that can go wrong while decoding or packing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TilesError {
    /// Not a PNG, truncated, bad chunk, too large, …
    Corrupt { message: String },
    /// An indexed pixel whose index does not fit in 4 bits.
    IndexOutOfRange { x: u32, y: u32, index: u8 },
    /// The first (up to 4) pixels whose colour is not in the palette.
    ColourNotInPalette { pixels: Vec<(u32, u32, Rgb)> },
    /// An input whose size is not a (non-zero) multiple of the tile size.
    BadSize { input: String, width: u32, height: u32, tile_size: u32 },
    /// A tile size other than 8, 16 or 32.
    BadTileSize { tile_size: u32 },
    /// The input whose tiles no longer fit on the sheet.
    OverCapacity { input: String, capacity: u32 },
    /// A palette file (or palette) that breaks the rules.
    BadPalette { message: String },
    /// More than 64 palettes.
    TooManyPalettes { count: usize },
}

impl fmt::Display for TilesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Corrupt { message } => write!(f, "corrupt or unsupported PNG: {message}"),
            Self::IndexOutOfRange { x, y, index } => {
                write!(f, "pixel ({x}, {y}) has palette index {index}; indices must be below 16")
            }
            Self::ColourNotInPalette { pixels } => {
                write!(f, "colours not in the palette:")?;
                for (i, (x, y, [r, g, b])) in pixels.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "," };
                    write!(f, "{sep} pixel ({x}, {y}) is #{r:02x}{g:02x}{b:02x}")?;
                }
                Ok(())
            }
            Self::BadSize { input, width, height, tile_size } => {
                write!(f, "{input}: size {width}x{height} is not a non-zero multiple of the tile size {tile_size}")
            }
            Self::BadTileSize { tile_size } => {
                write!(f, "tile size {tile_size} is not supported; use 8, 16 or 32")
            }
            Self::OverCapacity { input, capacity } => {
                write!(f, "{input}: its tiles do not fit; the sheet holds {capacity} tiles")
            }
            Self::BadPalette { message } => write!(f, "bad palette: {message}"),
            Self::TooManyPalettes { count } => {
                write!(f, "{count} palettes given; at most {MAX_PALETTES} are allowed")
            }
        }
    }
}

impl std::error::Error for TilesError {}

fn corrupt(message: impl Into<String>) -> TilesError {
    TilesError::Corrupt { message: message.into() }
}

fn png_error(error: png::DecodingError) -> TilesError {
    corrupt(error.to_string())
}

fn bad_palette(message: impl Into<String>) -> TilesError {
    TilesError::BadPalette { message: message.into() }
}

/// Cheap header read: reads the chunks up to the first IDAT, decodes no pixel data.
pub fn png_info(bytes: &[u8]) -> Result<PngInfo, TilesError> {
    let reader = png::Decoder::new(Cursor::new(bytes)).read_info().map_err(png_error)?;
    let info = reader.info();
    Ok(PngInfo {
        width: info.width,
        height: info.height,
        indexed: info.color_type == png::ColorType::Indexed,
        plte: info.palette.as_deref().map(split_rgb),
    })
}

fn split_rgb(bytes: &[u8]) -> Vec<Rgb> {
    bytes.chunks_exact(3).filter_map(|c| c.try_into().ok()).collect()
}

/// The raw (untransformed) samples of a decoded PNG.
struct Frame {
    width: u32,
    height: u32,
    colour: png::ColorType,
    depth: u8,
    trns: Option<Vec<u8>>,
    line_size: usize,
    data: Vec<u8>,
}

impl Frame {
    fn rows(&self) -> impl Iterator<Item = (u32, &[u8])> {
        (0..self.height).zip(self.data.chunks(self.line_size.max(1)))
    }
}

/// Decodes a PNG. `palette` is used only for non-indexed PNGs (exact RGB match
/// against its first 16 entries, first match wins).
pub fn decode_png(bytes: &[u8], palette: &[Rgb]) -> Result<IndexedImage, TilesError> {
    let frame = read_frame(bytes)?;
    let indices =
        if frame.colour == png::ColorType::Indexed { indexed_pixels(&frame)? } else { colour_pixels(&frame, palette)? };
    Ok(IndexedImage { width: frame.width, height: frame.height, indices })
}

fn check_dimensions(width: u32, height: u32) -> Result<(), TilesError> {
    if width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(corrupt(format!("image is {width}x{height}; at most {MAX_DIMENSION}x{MAX_DIMENSION} is accepted")));
    }
    Ok(())
}

fn read_frame(bytes: &[u8]) -> Result<Frame, TilesError> {
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let header = decoder.read_header_info().map_err(png_error)?;
    check_dimensions(header.width, header.height)?;
    let mut reader = decoder.read_info().map_err(png_error)?;
    let size = reader.output_buffer_size().ok_or_else(|| corrupt("image buffer size overflows"))?;
    let mut data = vec![0; size];
    let output = reader.next_frame(&mut data).map_err(png_error)?;
    reader.finish().map_err(png_error)?;
    let info = reader.info();
    Ok(Frame {
        width: info.width,
        height: info.height,
        colour: info.color_type,
        depth: info.bit_depth as u8,
        trns: info.trns.as_deref().map(<[u8]>::to_vec),
        line_size: output.line_size,
        data,
    })
}

/// Reads sample number `i` of a row (big-endian for 16 bits, MSB-first below 8).
fn sample(row: &[u8], i: usize, depth: u8) -> Option<u16> {
    match depth {
        16 => {
            let pair = row.get(i * 2..i * 2 + 2)?;
            pair.try_into().ok().map(u16::from_be_bytes)
        }
        8 => row.get(i).map(|&v| u16::from(v)),
        1 | 2 | 4 => {
            let bit = i * usize::from(depth);
            let byte = row.get(bit / 8)?;
            let shift = 8 - usize::from(depth) - bit % 8;
            Some(u16::from(byte >> shift) & ((1 << depth) - 1))
        }
        _ => None,
    }
}

fn missing_sample() -> TilesError {
    corrupt("decoded image data is shorter than its header says")
}

fn indexed_pixels(frame: &Frame) -> Result<Vec<u8>, TilesError> {
    let mut indices = Vec::with_capacity(pixel_count(frame));
    for (y, row) in frame.rows() {
        for x in 0..frame.width {
            let value = sample(row, x as usize, frame.depth).ok_or_else(missing_sample)?;
            let index = u8::try_from(value).map_err(|_| missing_sample())?;
            if usize::from(index) >= MAX_COLOURS {
                return Err(TilesError::IndexOutOfRange { x, y, index });
            }
            indices.push(index);
        }
    }
    check_complete(frame, indices)
}

fn pixel_count(frame: &Frame) -> usize {
    (frame.width as usize).saturating_mul(frame.height as usize)
}

fn check_complete(frame: &Frame, indices: Vec<u8>) -> Result<Vec<u8>, TilesError> {
    if indices.len() == pixel_count(frame) {
        Ok(indices)
    } else {
        Err(missing_sample())
    }
}

/// A truecolour/greyscale pixel after alpha and tRNS are applied.
enum Pixel {
    Clear,
    Colour(Rgb),
}

/// Scales a sample to 8 bits: the high byte of 16-bit samples, the full range below 8.
fn to_8bit(value: u16, depth: u8) -> u8 {
    match depth {
        16 => (value >> 8) as u8,
        8 => value as u8,
        _ => {
            let max = (1u16 << depth) - 1;
            (value * 255 / max.max(1)) as u8
        }
    }
}

/// The tRNS key colour of a greyscale (1 sample) or RGB (3 samples) image.
/// The png crate keeps 2 bytes per sample at depth 16 and 1 byte below.
fn trns_key(trns: Option<&[u8]>, samples: usize, depth: u8) -> Option<Vec<u16>> {
    let trns = trns?;
    if depth == 16 {
        let pairs = trns.get(..samples * 2)?.chunks_exact(2);
        Some(pairs.filter_map(|p| p.try_into().ok().map(u16::from_be_bytes)).collect())
    } else {
        Some(trns.get(..samples)?.iter().map(|&b| u16::from(b)).collect())
    }
}

fn pixel_at(frame: &Frame, row: &[u8], x: usize, key: Option<&[u16]>) -> Option<Pixel> {
    let channels = frame.colour.samples();
    let mut raw = [0u16; 4];
    for (c, slot) in raw.iter_mut().enumerate().take(channels) {
        *slot = sample(row, x * channels + c, frame.depth)?;
    }
    let colour_samples = if channels >= 3 { 3 } else { 1 };
    let has_alpha = channels == 2 || channels == 4;
    let alpha = *raw.get(channels.checked_sub(1)?)?;
    let alpha_zero = has_alpha && to_8bit(alpha, frame.depth) == 0;
    if alpha_zero || (key.is_some() && key == raw.get(..colour_samples)) {
        return Some(Pixel::Clear);
    }
    let rgb = match colour_samples {
        3 => [raw.first()?, raw.get(1)?, raw.get(2)?].map(|&v| to_8bit(v, frame.depth)),
        _ => [to_8bit(*raw.first()?, frame.depth); 3],
    };
    Some(Pixel::Colour(rgb))
}

fn colour_pixels(frame: &Frame, palette: &[Rgb]) -> Result<Vec<u8>, TilesError> {
    let samples = if frame.colour.samples() >= 3 { 3 } else { 1 };
    let has_alpha = matches!(frame.colour, png::ColorType::GrayscaleAlpha | png::ColorType::Rgba);
    let key = if has_alpha { None } else { trns_key(frame.trns.as_deref(), samples, frame.depth) };
    let palette = palette.get(..MAX_COLOURS).unwrap_or(palette);
    let mut indices = Vec::with_capacity(pixel_count(frame));
    let mut misses = Vec::new();
    for (y, row) in frame.rows() {
        for x in 0..frame.width {
            let pixel = pixel_at(frame, row, x as usize, key.as_deref()).ok_or_else(missing_sample)?;
            match pixel {
                Pixel::Clear => indices.push(0),
                Pixel::Colour(c) => match palette.iter().position(|p| *p == c) {
                    Some(i) => indices.push(i as u8),
                    None => misses.push((x, y, c)),
                },
            }
            if misses.len() == MAX_REPORTED_PIXELS {
                return Err(TilesError::ColourNotInPalette { pixels: misses });
            }
        }
    }
    if !misses.is_empty() {
        return Err(TilesError::ColourNotInPalette { pixels: misses });
    }
    check_complete(frame, indices)
}

/// Parses a palette file: JSON `{"colors": ["#rrggbb", …]}` with 1..=16 entries.
pub fn parse_palette(bytes: &[u8]) -> Result<Vec<Rgb>, TilesError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| bad_palette(format!("not valid JSON: {e}")))?;
    let colours = value
        .get("colors")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_palette("expected an object with a \"colors\" array"))?;
    if colours.is_empty() || colours.len() > MAX_COLOURS {
        return Err(bad_palette(format!("{} colours given; a palette has 1 to {MAX_COLOURS}", colours.len())));
    }
    colours
        .iter()
        .enumerate()
        .map(|(i, c)| {
            parse_hex(c).ok_or_else(|| bad_palette(format!("colour {i} ({c}) is not of the form \"#rrggbb\"")))
        })
        .collect()
}

fn parse_hex(value: &Value) -> Option<Rgb> {
    let digits = value.as_str()?.strip_prefix('#')?;
    if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let n = u32::from_str_radix(digits, 16).ok()?;
    Some([(n >> 16) as u8, (n >> 8) as u8, n as u8])
}

/// Packs a colour as RGB565: `(r>>3) << 11 | (g>>2) << 5 | (b>>3)`.
pub fn rgb565(c: Rgb) -> u16 {
    let [r, g, b] = c.map(u16::from);
    ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3)
}

/// Tiles per sheet row for a supported tile size.
fn tiles_per_row(tile_size: u32) -> Result<u32, TilesError> {
    match tile_size {
        8 | 16 | 32 => Ok(SHEET_SIDE as u32 / tile_size),
        _ => Err(TilesError::BadTileSize { tile_size }),
    }
}

fn check_palettes(palettes: &[Vec<Rgb>]) -> Result<(), TilesError> {
    if palettes.len() > MAX_PALETTES {
        return Err(TilesError::TooManyPalettes { count: palettes.len() });
    }
    match palettes.iter().position(|p| p.len() > MAX_COLOURS) {
        Some(i) => Err(bad_palette(format!(
            "palette {i} has {} colours; at most {MAX_COLOURS} are allowed",
            palettes.get(i).map_or(0, Vec::len)
        ))),
        None => Ok(()),
    }
}

/// Checks one input and returns its number of tiles.
fn input_tiles(name: &str, image: &IndexedImage, tile_size: u32) -> Result<u32, TilesError> {
    let (w, h) = (image.width, image.height);
    if w == 0 || h == 0 || !w.is_multiple_of(tile_size) || !h.is_multiple_of(tile_size) {
        return Err(TilesError::BadSize { input: name.to_string(), width: w, height: h, tile_size });
    }
    if (w as usize).checked_mul(h as usize) != Some(image.indices.len()) {
        return Err(corrupt(format!("{name}: {} indices for a {w}x{h} image", image.indices.len())));
    }
    if let Some(i) = image.indices.iter().position(|&v| usize::from(v) >= MAX_COLOURS) {
        let index = image.indices.get(i).copied().unwrap_or_default();
        let (x, y) = ((i % w as usize) as u32, (i / w as usize) as u32);
        return Err(TilesError::IndexOutOfRange { x, y, index });
    }
    (w / tile_size).checked_mul(h / tile_size).ok_or_else(|| corrupt("tile count overflows"))
}

fn set_pixel(payload: &mut [u8], x: usize, y: usize, value: u8) {
    let Some(byte) = payload.get_mut((y * SHEET_SIDE + x) / 2) else {
        return;
    };
    *byte = if x.is_multiple_of(2) { (*byte & 0xF0) | (value & 0x0F) } else { (*byte & 0x0F) | (value << 4) };
}

/// Copies an already checked image's tiles to the sheet, starting at tile id `first`.
fn place(payload: &mut [u8], image: &IndexedImage, tile_size: u32, first: u32) {
    let (ts, w) = (tile_size as usize, image.width as usize);
    let per_row = SHEET_SIDE / ts;
    let (tiles_across, first) = (w / ts, first as usize);
    for (i, &value) in image.indices.iter().enumerate() {
        let (x, y) = (i % w, i / w);
        let id = first + (y / ts) * tiles_across + x / ts;
        let sheet_x = (id % per_row) * ts + x % ts;
        let sheet_y = (id / per_row) * ts + y % ts;
        set_pixel(payload, sheet_x, sheet_y, value);
    }
}

fn write_palettes(payload: &mut [u8], palettes: &[Vec<Rgb>]) {
    for (p, palette) in palettes.iter().enumerate() {
        for (i, &colour) in palette.iter().enumerate() {
            let offset = PIXEL_BLOCK_LEN + (p * MAX_COLOURS + i) * 2;
            if let Some(slot) = payload.get_mut(offset..offset + 2) {
                slot.copy_from_slice(&rgb565(colour).to_le_bytes());
            }
        }
    }
}

/// Cuts and places the inputs (name, image) and writes the palette block. `palettes.len()` ≤ 64.
pub fn assemble(tile_size: u32, inputs: &[(&str, &IndexedImage)], palettes: &[Vec<Rgb>]) -> Result<Sheet, TilesError> {
    let per_row = tiles_per_row(tile_size)?;
    check_palettes(palettes)?;
    let capacity = per_row * per_row;
    let mut payload = vec![0; PIXEL_BLOCK_LEN + PALETTE_BLOCK_LEN];
    let mut ranges = Vec::with_capacity(inputs.len());
    let mut next = 0u32;
    for &(name, image) in inputs {
        let count = input_tiles(name, image, tile_size)?;
        let end = next
            .checked_add(count)
            .filter(|&end| end <= capacity)
            .ok_or_else(|| TilesError::OverCapacity { input: name.to_string(), capacity })?;
        place(&mut payload, image, tile_size, next);
        ranges.push((next, count));
        next = end;
    }
    write_palettes(&mut payload, palettes);
    Ok(Sheet { payload, tile_count: next, ranges })
}

#[cfg(test)]
mod tests {
    use super::*;
    use png::{BitDepth, ColorType};
    use std::path::{Path, PathBuf};

    /// PngSuite, copied into the repository with its licence (`fixtures/pngsuite`).
    fn corpus_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pngsuite")
    }

    /// Test palette: 0 black, 1 red, 2 green, 3 blue, 4 #808080, 5 white.
    const P: [Rgb; 6] = [[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 128, 128], [255, 255, 255]];

    struct Png<'a> {
        width: u32,
        height: u32,
        colour: ColorType,
        depth: BitDepth,
        data: &'a [u8],
        plte: Option<Vec<u8>>,
        trns: Option<Vec<u8>>,
    }

    fn encode(p: Png) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, p.width, p.height);
            encoder.set_color(p.colour);
            encoder.set_depth(p.depth);
            if let Some(plte) = p.plte {
                encoder.set_palette(plte);
            }
            if let Some(trns) = p.trns {
                encoder.set_trns(trns);
            }
            let mut writer = encoder.write_header().unwrap();
            writer.write_image_data(p.data).unwrap();
            writer.finish().unwrap();
        }
        out
    }

    fn simple(width: u32, height: u32, colour: ColorType, depth: BitDepth, data: &[u8]) -> Vec<u8> {
        let plte = (colour == ColorType::Indexed).then(|| grey_plte(256));
        encode(Png { width, height, colour, depth, data, plte, trns: None })
    }

    /// A PLTE of `n` entries (n ≤ 256) where entry i is grey i.
    fn grey_plte(n: usize) -> Vec<u8> {
        (0..n).flat_map(|i| [i as u8; 3]).collect()
    }

    fn indices(bytes: &[u8], palette: &[Rgb]) -> Vec<u8> {
        decode_png(bytes, palette).unwrap().indices
    }

    fn corpus(name: &str) -> Vec<u8> {
        std::fs::read(corpus_dir().join(name)).unwrap()
    }

    fn corpus_files() -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "png"))
            .collect();
        files.sort();
        files
    }

    fn file_name(path: &Path) -> String {
        path.file_name().unwrap().to_string_lossy().into_owned()
    }

    fn image(width: u32, height: u32, f: impl Fn(u32, u32) -> u8) -> IndexedImage {
        let indices = (0..height).flat_map(|y| (0..width).map(move |x| (x, y))).map(|(x, y)| f(x, y)).collect();
        IndexedImage { width, height, indices }
    }

    /// Reads sheet pixel (x, y) back from a payload.
    fn sheet_pixel(payload: &[u8], x: usize, y: usize) -> u8 {
        let byte = payload[(y * 256 + x) / 2];
        if x.is_multiple_of(2) {
            byte & 0x0F
        } else {
            byte >> 4
        }
    }

    // ---- 1. golden payload -------------------------------------------------

    #[test]
    fn golden_payload_worked_out_by_hand() {
        // 16×16, 4-bit indexed, pixel (x, y) = (x + 2y) % 5, PLTE of 5 colours.
        let data: Vec<u8> = (0..16u32)
            .flat_map(|y| {
                (0..8u32).map(move |b| {
                    let left = (2 * b + 2 * y) % 5;
                    let right = (2 * b + 1 + 2 * y) % 5;
                    ((left << 4) | right) as u8 // PNG packs the left pixel in the HIGH nibble
                })
            })
            .collect();
        let plte = vec![0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 0x12, 0x34, 0x56];
        let bytes = encode(Png {
            width: 16,
            height: 16,
            colour: ColorType::Indexed,
            depth: BitDepth::Four,
            data: &data,
            plte: Some(plte),
            trns: None,
        });
        let info = png_info(&bytes).unwrap();
        assert!(info.indexed);
        let palette0 = info.plte.unwrap();
        assert_eq!(palette0, vec![[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255], [0x12, 0x34, 0x56]]);
        let img = decode_png(&bytes, &[]).unwrap();
        let sheet = assemble(16, &[("golden.png", &img)], &[palette0]).unwrap();
        let p = &sheet.payload;
        assert_eq!(p.len(), 34816);
        assert_eq!((sheet.tile_count, sheet.ranges.clone()), (1, vec![(0, 1)]));
        // Sheet row 0: indices 0 1 2 3 4 0 1 2 3 4 0 1 2 3 4 0, left pixel in the LOW nibble.
        assert_eq!(&p[0..8], &[0x10, 0x32, 0x04, 0x21, 0x43, 0x10, 0x32, 0x04]);
        assert!(p[8..128].iter().all(|&b| b == 0), "rest of row 0 is unused");
        // Sheet row 1 starts at byte 128: indices 2 3 4 0 1 2 3 4 0 1 2 3 4 0 1 2.
        assert_eq!(&p[128..136], &[0x32, 0x04, 0x21, 0x43, 0x10, 0x32, 0x04, 0x21]);
        // Sheet row 15 (byte 1920): (x + 30) % 5 = x % 5, same as row 0.
        assert_eq!(&p[1920..1928], &[0x10, 0x32, 0x04, 0x21, 0x43, 0x10, 0x32, 0x04]);
        // Row 16 onwards is unused.
        assert!(p[2048..32768].iter().all(|&b| b == 0));
        // Palette block at 32768: RGB565 little-endian.
        assert_eq!(&p[32768..32778], &[0x00, 0x00, 0x00, 0xF8, 0xE0, 0x07, 0x1F, 0x00, 0xAA, 0x11]);
        assert_eq!(u16::from_le_bytes([p[32776], p[32777]]), 0x11AA);
        assert!(p[32778..].iter().all(|&b| b == 0), "unused palette entries are 0");
    }

    #[test]
    fn rgb565_packing() {
        assert_eq!(rgb565([0, 0, 0]), 0x0000);
        assert_eq!(rgb565([255, 255, 255]), 0xFFFF);
        assert_eq!(rgb565([255, 0, 0]), 0xF800);
        assert_eq!(rgb565([0, 255, 0]), 0x07E0);
        assert_eq!(rgb565([0, 0, 255]), 0x001F);
        assert_eq!(rgb565([0x12, 0x34, 0x56]), 0x11AA);
    }

    // ---- 2. every colour type and bit depth --------------------------------

    #[test]
    fn indexed_1_bit_with_row_padding() {
        // 3×2: rows [1,0,1] and [0,1,1], MSB first, each row padded to a byte.
        let bytes = simple(3, 2, ColorType::Indexed, BitDepth::One, &[0b1010_0000, 0b0110_0000]);
        assert_eq!(indices(&bytes, &[]), vec![1, 0, 1, 0, 1, 1]);
    }

    #[test]
    fn indexed_2_bit() {
        let bytes = simple(3, 2, ColorType::Indexed, BitDepth::Two, &[0b1110_0100, 0b0001_1000]);
        assert_eq!(indices(&bytes, &[]), vec![3, 2, 1, 0, 1, 2]);
    }

    #[test]
    fn indexed_4_bit() {
        let bytes = simple(3, 2, ColorType::Indexed, BitDepth::Four, &[0xF0, 0x70, 0x81, 0x20]);
        assert_eq!(indices(&bytes, &[]), vec![15, 0, 7, 8, 1, 2]);
    }

    #[test]
    fn indexed_8_bit() {
        let bytes = simple(2, 2, ColorType::Indexed, BitDepth::Eight, &[0, 5, 15, 3]);
        assert_eq!(indices(&bytes, &[]), vec![0, 5, 15, 3]);
    }

    #[test]
    fn indexed_ignores_palette_argument_and_trns() {
        let bytes = encode(Png {
            width: 2,
            height: 1,
            colour: ColorType::Indexed,
            depth: BitDepth::Eight,
            data: &[3, 1],
            plte: Some(grey_plte(4)),
            trns: Some(vec![255, 255, 255, 0]),
        });
        assert_eq!(indices(&bytes, &P), vec![3, 1]);
    }

    #[test]
    fn indexed_index_16_or_more_names_first_pixel() {
        let data = [1, 2, 3, 4, 5, 17, 200, 6, 7];
        let bytes = simple(3, 3, ColorType::Indexed, BitDepth::Eight, &data);
        let err = decode_png(&bytes, &[]).unwrap_err();
        assert_eq!(err, TilesError::IndexOutOfRange { x: 2, y: 1, index: 17 });
        assert_eq!(err.to_string(), "pixel (2, 1) has palette index 17; indices must be below 16");
    }

    #[test]
    fn greyscale_8_bit() {
        let bytes = simple(3, 1, ColorType::Grayscale, BitDepth::Eight, &[0x00, 0x80, 0xFF]);
        assert_eq!(indices(&bytes, &P), vec![0, 4, 5]);
    }

    #[test]
    fn greyscale_16_bit_uses_high_byte() {
        let data = [0x00, 0x00, 0x80, 0xFF, 0xFF, 0x00, 0x80, 0x00];
        let bytes = simple(4, 1, ColorType::Grayscale, BitDepth::Sixteen, &data);
        assert_eq!(indices(&bytes, &P), vec![0, 4, 5, 4]);
    }

    #[test]
    fn greyscale_low_depths_scale_to_full_range() {
        let one = simple(2, 1, ColorType::Grayscale, BitDepth::One, &[0b0100_0000]);
        assert_eq!(indices(&one, &P), vec![0, 5]);
        let greys2 = [[0x00; 3], [0x55; 3], [0xAA; 3], [0xFF; 3]];
        let two = simple(4, 1, ColorType::Grayscale, BitDepth::Two, &[0b1110_0100]);
        assert_eq!(indices(&two, &greys2), vec![3, 2, 1, 0]);
        // Entry i of this palette is grey (15 - i) * 17, so 4-bit sample v maps to 15 - v.
        let greys4: Vec<Rgb> = (0..16u8).rev().map(|v| [v * 17; 3]).collect();
        let four = simple(3, 1, ColorType::Grayscale, BitDepth::Four, &[0x0F, 0x70]);
        assert_eq!(indices(&four, &greys4), vec![15, 0, 8]);
    }

    #[test]
    fn grey_alpha_8_bit() {
        // (0x80, opaque), (0x12, alpha 0: not in palette but transparent), (0xFF, 200), (0x00, 1)
        let data = [0x80, 255, 0x12, 0, 0xFF, 200, 0x00, 1];
        let bytes = simple(2, 2, ColorType::GrayscaleAlpha, BitDepth::Eight, &data);
        assert_eq!(indices(&bytes, &P), vec![4, 0, 5, 0]);
    }

    #[test]
    fn grey_alpha_16_bit() {
        let data = [
            0x80, 0x11, 0xFF, 0xFF, // #808080 opaque
            0x12, 0x34, 0x00, 0x00, // alpha 0
            0xFF, 0x00, 0x01, 0x00, // white, alpha high byte 1
            0x00, 0x00, 0x00, 0xFF, // alpha 0x00FF: high byte 0 counts as transparent
        ];
        let bytes = simple(4, 1, ColorType::GrayscaleAlpha, BitDepth::Sixteen, &data);
        assert_eq!(indices(&bytes, &P[3..]), vec![1, 0, 2, 0]);
    }

    #[test]
    fn rgb_8_bit() {
        let data = [255, 0, 0, 0, 0, 255, 128, 128, 128];
        let bytes = simple(3, 1, ColorType::Rgb, BitDepth::Eight, &data);
        assert_eq!(indices(&bytes, &P), vec![1, 3, 4]);
    }

    #[test]
    fn rgb_16_bit_uses_high_byte() {
        let data = [
            0xFF, 0x01, 0x00, 0x02, 0x00, 0xFF, // (ff, 00, 00)
            0x00, 0xFF, 0xFF, 0xFE, 0x00, 0x00, // (00, ff, 00)
        ];
        let bytes = simple(1, 2, ColorType::Rgb, BitDepth::Sixteen, &data);
        assert_eq!(indices(&bytes, &P), vec![1, 2]);
    }

    #[test]
    fn rgba_8_bit() {
        let data = [255, 0, 0, 255, 1, 2, 3, 0, 0, 0, 255, 1, 255, 255, 255, 128];
        let bytes = simple(2, 2, ColorType::Rgba, BitDepth::Eight, &data);
        assert_eq!(indices(&bytes, &P), vec![1, 0, 3, 5]);
    }

    #[test]
    fn rgba_16_bit() {
        let data = [
            0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, // red, opaque
            0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x00, 0x00, // alpha 0
            0x00, 0xFF, 0x00, 0xFF, 0xFF, 0xFF, 0x01, 0x00, // blue (high bytes), visible
            0x80, 0x80, 0x80, 0x00, 0x80, 0xFF, 0x00, 0xFF, // alpha high byte 0
        ];
        let bytes = simple(4, 1, ColorType::Rgba, BitDepth::Sixteen, &data);
        assert_eq!(indices(&bytes, &P), vec![1, 0, 3, 0]);
    }

    #[test]
    fn trns_grey_8_bit_is_alpha() {
        let bytes = encode(Png {
            width: 3,
            height: 1,
            colour: ColorType::Grayscale,
            depth: BitDepth::Eight,
            data: &[0x80, 0xFF, 0x80],
            plte: None,
            trns: Some(vec![0x00, 0x80]),
        });
        assert_eq!(indices(&bytes, &P[1..]), vec![0, 4, 0]);
    }

    #[test]
    fn trns_grey_16_bit_compares_all_16_bits() {
        let bytes = encode(Png {
            width: 2,
            height: 1,
            colour: ColorType::Grayscale,
            depth: BitDepth::Sixteen,
            data: &[0x80, 0x01, 0x80, 0x00],
            plte: None,
            trns: Some(vec![0x80, 0x01]),
        });
        assert_eq!(indices(&bytes, &P), vec![0, 4]);
    }

    #[test]
    fn trns_rgb_is_alpha() {
        let bytes = encode(Png {
            width: 3,
            height: 1,
            colour: ColorType::Rgb,
            depth: BitDepth::Eight,
            data: &[1, 2, 3, 255, 0, 0, 1, 2, 4],
            plte: None,
            trns: Some(vec![0, 1, 0, 2, 0, 3]),
        });
        let err = decode_png(&bytes, &P).unwrap_err();
        assert_eq!(err, TilesError::ColourNotInPalette { pixels: vec![(2, 0, [1, 2, 4])] });
        assert_eq!(indices(&bytes, &[[9, 9, 9], [255, 0, 0], [1, 2, 4]]), vec![0, 1, 2]);
    }

    #[test]
    fn first_matching_palette_entry_wins_and_only_16_entries_count() {
        let bytes = simple(2, 1, ColorType::Rgb, BitDepth::Eight, &[255, 0, 0, 7, 7, 7]);
        let mut palette = vec![[0, 0, 0], [255, 0, 0], [255, 0, 0]];
        palette.extend(std::iter::repeat_n([1, 1, 1], 13));
        palette.push([7, 7, 7]); // entry 16: out of reach of a 4-bit index
        let err = decode_png(&bytes, &palette).unwrap_err();
        assert_eq!(err, TilesError::ColourNotInPalette { pixels: vec![(1, 0, [7, 7, 7])] });
        palette[15] = [7, 7, 7];
        assert_eq!(indices(&bytes, &palette), vec![1, 15]);
    }

    #[test]
    fn colour_not_in_palette_lists_first_four_row_major() {
        let mut data = vec![0u8; 3 * 3 * 3];
        for (i, px) in [1usize, 2, 4, 6, 7].iter().enumerate() {
            data[px * 3] = 10 + i as u8;
        }
        let bytes = simple(3, 3, ColorType::Rgb, BitDepth::Eight, &data);
        let err = decode_png(&bytes, &P).unwrap_err();
        let expected = vec![(1, 0, [10, 0, 0]), (2, 0, [11, 0, 0]), (1, 1, [12, 0, 0]), (0, 2, [13, 0, 0])];
        assert_eq!(err, TilesError::ColourNotInPalette { pixels: expected });
        assert!(err.to_string().contains("pixel (0, 2) is #0d0000"), "{err}");
    }

    #[test]
    fn interlaced_greyscale_matches_non_interlaced() {
        let greys2: Vec<Rgb> = [0x00, 0x55, 0xAA, 0xFF].map(|g| [g; 3]).to_vec();
        let greys4: Vec<Rgb> = (0..16u8).map(|v| [v * 17; 3]).collect();
        let cases = [("0g01", vec![[0; 3], [255; 3]], 2), ("0g02", greys2, 4), ("0g04", greys4, 15)];
        for (kind, palette, used) in cases {
            let plain = decode_png(&corpus(&format!("basn{kind}.png")), &palette).unwrap();
            let interlaced = decode_png(&corpus(&format!("basi{kind}.png")), &palette).unwrap();
            assert_eq!(plain, interlaced, "{kind}");
            assert_eq!((plain.width, plain.height), (32, 32));
            let distinct: std::collections::BTreeSet<u8> = plain.indices.iter().copied().collect();
            assert_eq!(distinct.len(), used, "{kind}");
        }
    }

    #[test]
    fn png_info_reports_header_and_plte() {
        let indexed = simple(8, 4, ColorType::Indexed, BitDepth::Four, &[0; 16]);
        let info = png_info(&indexed).unwrap();
        assert_eq!((info.width, info.height, info.indexed), (8, 4, true));
        assert_eq!(info.plte.as_ref().map(Vec::len), Some(256));
        assert_eq!(info.plte.unwrap()[7], [7, 7, 7]);
        let rgb = simple(2, 3, ColorType::Rgb, BitDepth::Eight, &[0; 18]);
        let info = png_info(&rgb).unwrap();
        assert_eq!((info.width, info.height, info.indexed, info.plte), (2, 3, false, None));
        assert!(matches!(png_info(b"not a png"), Err(TilesError::Corrupt { .. })));
    }

    // ---- 3. placement and assembly errors ----------------------------------

    #[test]
    fn placement_of_two_inputs_at_tile_size_8() {
        // Input a: 16×8 = two tiles; left tile all 1, right tile all 2, except marks.
        let a = image(16, 8, |x, y| match (x, y) {
            (0, 0) => 3,
            (15, 7) => 4,
            (x, _) if x < 8 => 1,
            _ => 2,
        });
        let b = image(8, 8, |x, y| if (x, y) == (1, 2) { 9 } else { 5 });
        let sheet = assemble(8, &[("a.png", &a), ("b.png", &b)], &[P.to_vec()]).unwrap();
        assert_eq!(sheet.ranges, vec![(0, 2), (2, 1)]);
        assert_eq!(sheet.tile_count, 3);
        let p = &sheet.payload;
        assert_eq!(sheet_pixel(p, 0, 0), 3);
        assert_eq!(sheet_pixel(p, 7, 7), 1);
        assert_eq!(sheet_pixel(p, 8, 0), 2);
        assert_eq!(sheet_pixel(p, 15, 7), 4);
        assert_eq!(sheet_pixel(p, 16, 0), 5); // tile 2 = b, sheet column 2
        assert_eq!(sheet_pixel(p, 17, 2), 9);
        assert_eq!(sheet_pixel(p, 24, 0), 0); // unused
        assert_eq!(sheet_pixel(p, 0, 8), 0); // row 8 belongs to sheet tile row 1: unused
                                             // byte view of sheet row 2: a's 1s and 2s, then b with 9 at x = 17 (high nibble of byte 8)
        assert_eq!(&p[256..268], &[0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22, 0x95, 0x55, 0x55, 0x55]);
    }

    #[test]
    fn tiles_are_row_major_inside_an_input_and_wrap_on_the_sheet() {
        // 16×16 at tile size 8: tiles (0,0), (8,0), (0,8), (8,8) get ids 0..4.
        let quad = image(16, 16, |x, y| (1 + x / 8 + 2 * (y / 8)) as u8);
        // 248×8: 31 tiles, so quad starts at id 31 and wraps: ids 31 | 32 33 34.
        let strip = image(248, 8, |_, _| 7);
        let sheet = assemble(8, &[("strip", &strip), ("quad", &quad)], &[]).unwrap();
        assert_eq!(sheet.ranges, vec![(0, 31), (31, 4)]);
        let p = &sheet.payload;
        assert_eq!(sheet_pixel(p, 247, 7), 7);
        assert_eq!(sheet_pixel(p, 248, 0), 1); // id 31: last column of row 0
        assert_eq!(sheet_pixel(p, 0, 8), 2); // id 32: first column of row 1
        assert_eq!(sheet_pixel(p, 8, 15), 3);
        assert_eq!(sheet_pixel(p, 16, 8), 4);
        assert_eq!(sheet_pixel(p, 24, 8), 0);
    }

    #[test]
    fn over_capacity_names_the_input_that_overflows() {
        let big = image(256, 128, |_, _| 1); // 128 of the 256 tiles at size 16
        let more = image(256, 128, |_, _| 2); // exactly fills the sheet
        let one = image(16, 16, |_, _| 3);
        let full = assemble(16, &[("big", &big), ("more", &more)], &[]).unwrap();
        assert_eq!(full.tile_count, 256);
        let err = assemble(16, &[("big", &big), ("more", &more), ("one.png", &one)], &[]).unwrap_err();
        assert_eq!(err, TilesError::OverCapacity { input: "one.png".into(), capacity: 256 });
        assert!(err.to_string().contains("one.png"));
        let err = assemble(32, &[("huge.png", &image(512, 256, |_, _| 0))], &[]).unwrap_err();
        assert_eq!(err, TilesError::OverCapacity { input: "huge.png".into(), capacity: 64 });
    }

    #[test]
    fn bad_size_and_bad_tile_size() {
        let odd = image(24, 16, |_, _| 0);
        let err = assemble(16, &[("odd.png", &odd)], &[]).unwrap_err();
        assert_eq!(err, TilesError::BadSize { input: "odd.png".into(), width: 24, height: 16, tile_size: 16 });
        assert!(err.to_string().contains("odd.png"));
        assert!(assemble(8, &[("odd.png", &odd)], &[]).is_ok());
        let empty = IndexedImage { width: 0, height: 8, indices: vec![] };
        assert!(matches!(assemble(8, &[("e", &empty)], &[]), Err(TilesError::BadSize { .. })));
        for tile_size in [0, 4, 12, 64, 256] {
            assert_eq!(assemble(tile_size, &[], &[]), Err(TilesError::BadTileSize { tile_size }));
        }
    }

    #[test]
    fn inconsistent_images_are_refused() {
        let short = IndexedImage { width: 8, height: 8, indices: vec![0; 63] };
        assert!(matches!(assemble(8, &[("s", &short)], &[]), Err(TilesError::Corrupt { .. })));
        let wide = image(8, 8, |x, y| if (x, y) == (3, 5) { 16 } else { 0 });
        assert_eq!(assemble(8, &[("w", &wide)], &[]), Err(TilesError::IndexOutOfRange { x: 3, y: 5, index: 16 }));
    }

    #[test]
    fn palette_limits_in_assemble() {
        let palettes = vec![vec![[1, 2, 3]]; 64];
        let sheet = assemble(8, &[], &palettes).unwrap();
        let last = 32768 + 63 * 32;
        assert_eq!(&sheet.payload[last..last + 2], &rgb565([1, 2, 3]).to_le_bytes());
        assert_eq!(sheet.payload.len(), 34816);
        let too_many = vec![vec![[0, 0, 0]]; 65];
        let err = assemble(8, &[], &too_many).unwrap_err();
        assert_eq!(err, TilesError::TooManyPalettes { count: 65 });
        assert!(err.to_string().contains("65"));
        let seventeen = vec![vec![[0, 0, 0]; 17]];
        assert!(matches!(assemble(8, &[], &seventeen), Err(TilesError::BadPalette { .. })));
    }

    #[test]
    fn palette_files_parse() {
        let json = br##"{"colors": ["#000000", "#FF8000", "#12aBcD"]}"##;
        assert_eq!(parse_palette(json).unwrap(), vec![[0, 0, 0], [255, 128, 0], [0x12, 0xAB, 0xCD]]);
        let sixteen = format!("{{\"colors\": [{}]}}", vec!["\"#ffffff\""; 16].join(","));
        assert_eq!(parse_palette(sixteen.as_bytes()).unwrap().len(), 16);
    }

    #[test]
    fn bad_palette_files() {
        let seventeen = format!("{{\"colors\": [{}]}}", vec!["\"#ffffff\""; 17].join(","));
        let cases: [&[u8]; 11] = [
            b"not json",
            seventeen.as_bytes(),
            br##"{"colors": ["#12345"]}"##,
            br#"{"colors": ["red"]}"#,
            br#"{"colors": []}"#,
            br##"{"colours": ["#000000"]}"##,
            br##"["#000000"]"##,
            br#"{"colors": ["000000"]}"#,
            br##"{"colors": ["#00000g"]}"##,
            br##"{"colors": ["#+00000"]}"##,
            b"\xff\xfe",
        ];
        for case in cases {
            let result = parse_palette(case);
            assert!(
                matches!(result, Err(TilesError::BadPalette { .. })),
                "{:?} -> {result:?}",
                String::from_utf8_lossy(case)
            );
        }
        let err = parse_palette(br##"{"colors": ["#000000", "red"]}"##).unwrap_err();
        assert!(err.to_string().contains("colour 1"), "{err}");
    }

    // ---- 4. PngSuite ---------------------------------------------------------

    #[test]
    fn pngsuite_palette_images_match_pillow() {
        // Relative to the crate root, so the test survives moving this file to src/formats/.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/formats/pngsuite_indices.json");
        let fixture = std::fs::read_to_string(&path).unwrap();
        let reference: serde_json::Map<String, Value> = serde_json::from_str(&fixture).unwrap();
        let names: Vec<String> = corpus_files().iter().map(|p| file_name(p)).filter(|n| n.contains("3p")).collect();
        assert_eq!(names, reference.keys().cloned().collect::<Vec<_>>(), "fixture covers every *3p* file");
        let mut exact = 0;
        for (name, entry) in &reference {
            let width = entry["width"].as_u64().unwrap() as u32;
            let expected: Vec<u64> = entry["indices"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
            let bytes = corpus(name);
            let info = png_info(&bytes).unwrap();
            assert!(info.indexed && info.plte.is_some(), "{name}");
            assert_eq!((info.width, info.height as u64), (width, entry["height"].as_u64().unwrap()), "{name}");
            let result = decode_png(&bytes, &[]);
            match expected.iter().position(|&v| v >= 16) {
                None => {
                    let got: Vec<u64> = result.unwrap().indices.iter().map(|&v| u64::from(v)).collect();
                    assert_eq!(got, expected, "{name}");
                    exact += 1;
                }
                Some(i) => {
                    let (x, y, index) = ((i % width as usize) as u32, (i / width as usize) as u32, expected[i] as u8);
                    assert_eq!(result, Err(TilesError::IndexOutOfRange { x, y, index }), "{name}");
                }
            }
        }
        assert_eq!((reference.len(), exact), (63, 50));
    }

    #[test]
    fn pngsuite_broken_files_are_corrupt() {
        let broken: Vec<PathBuf> = corpus_files().into_iter().filter(|p| file_name(p).starts_with('x')).collect();
        assert_eq!(broken.len(), 14);
        for path in broken {
            let bytes = std::fs::read(&path).unwrap();
            let result = decode_png(&bytes, &P);
            assert!(matches!(result, Err(TilesError::Corrupt { .. })), "{}: {result:?}", path.display());
        }
    }

    #[test]
    fn pngsuite_other_images_decode_without_corrupt_errors() {
        let greys: Vec<Rgb> = (0..16u8).map(|v| [v * 17; 3]).collect();
        let others = corpus_files().into_iter().filter(|p| {
            let name = file_name(p);
            !name.starts_with('x') && !name.contains("3p")
        });
        let mut count = 0;
        for path in others {
            let bytes = std::fs::read(&path).unwrap();
            let result = decode_png(&bytes, &greys);
            assert!(!matches!(result, Err(TilesError::Corrupt { .. })), "{}: {result:?}", path.display());
            count += 1;
        }
        assert_eq!(count, 98);
    }

    // ---- 5. truncation, corruption, huge sizes -----------------------------

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    /// Recomputes every chunk CRC so that corruption reaches past the CRC check.
    fn fix_crcs(bytes: &mut [u8]) {
        let mut pos = 8;
        while pos + 12 <= bytes.len() {
            let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
            let end = match (pos + 8).checked_add(len) {
                Some(end) if end + 4 <= bytes.len() => end,
                _ => return,
            };
            let crc = crc32(&bytes[pos + 4..end]);
            bytes[end..end + 4].copy_from_slice(&crc.to_be_bytes());
            pos = end + 4;
        }
    }

    fn valid_samples() -> Vec<(String, Vec<u8>, Vec<Rgb>)> {
        let own = simple(16, 16, ColorType::Indexed, BitDepth::Four, &[0x12; 128]);
        let mut samples = vec![("own-indexed".to_string(), own, Vec::new())];
        for name in ["basn3p04.png", "basi3p02.png", "basi0g04.png", "tbbn2c16.png", "basi6a16.png"] {
            samples.push((name.to_string(), corpus(name), (0..16u8).map(|v| [v * 17; 3]).collect()));
        }
        samples
    }

    #[test]
    fn every_prefix_of_a_valid_png_is_an_error() {
        for (name, bytes, palette) in valid_samples() {
            let _ = decode_png(&bytes, &palette); // whole file: Ok or a mapping error
            for len in 0..bytes.len() {
                let result = decode_png(&bytes[..len], &palette);
                assert!(matches!(result, Err(TilesError::Corrupt { .. })), "{name}[..{len}]: {result:?}");
            }
        }
    }

    #[test]
    fn random_byte_flips_never_panic() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let samples = valid_samples();
        for round in 0..600 {
            let (_, original, palette) = &samples[round % samples.len()];
            let mut bytes = original.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % bytes.len() as u64) as usize;
                bytes[at] ^= (1 + next() % 255) as u8;
            }
            if round % 2 == 1 {
                fix_crcs(&mut bytes);
            }
            let _ = png_info(&bytes);
            let _ = decode_png(&bytes, palette);
        }
    }

    /// IHDR, an empty IDAT and IEND: enough for `png_info`, no pixel data.
    fn header_only(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, width, height);
            encoder.set_color(ColorType::Rgba);
            encoder.set_depth(BitDepth::Sixteen);
            let mut writer = encoder.write_header().unwrap();
            writer.write_chunk(png::chunk::IDAT, &[]).unwrap(); // IEND follows on drop
        }
        out
    }

    #[test]
    fn huge_dimensions_are_refused_cleanly() {
        for (w, h) in [(100_000, 100_000), (4097, 1), (1, 4097), (u32::MAX >> 1, u32::MAX >> 1)] {
            let bytes = header_only(w, h);
            if w <= 100_000 {
                let info = png_info(&bytes).unwrap(); // the header read itself is cheap
                assert_eq!((info.width, info.height), (w, h));
            }
            let err = decode_png(&bytes, &P).unwrap_err();
            assert!(matches!(&err, TilesError::Corrupt { message } if message.contains("4096")), "{err}");
        }
    }

    #[test]
    fn display_messages_are_one_line() {
        let errors = [
            TilesError::Corrupt { message: "x".into() },
            TilesError::IndexOutOfRange { x: 3, y: 7, index: 17 },
            TilesError::ColourNotInPalette { pixels: vec![(1, 2, [255, 0, 16])] },
            TilesError::BadSize { input: "a.png".into(), width: 9, height: 8, tile_size: 8 },
            TilesError::BadTileSize { tile_size: 7 },
            TilesError::OverCapacity { input: "b.png".into(), capacity: 64 },
            TilesError::BadPalette { message: "y".into() },
            TilesError::TooManyPalettes { count: 65 },
        ];
        for e in &errors {
            let text = e.to_string();
            assert!(!text.is_empty() && !text.contains('\n'), "{text:?}");
        }
        assert_eq!(errors[1].to_string(), "pixel (3, 7) has palette index 17; indices must be below 16");
        assert!(errors[2].to_string().contains("pixel (1, 2) is #ff0010"));
    }
}
