//! PALETTE/rgb565_v1: one palette file → 16 colours as RGB565, 32 bytes (SPEC §3).
//!
//! **Inputs**, told apart by extension (case-insensitive), each holding 1 to 16 colours:
//! * `.json`: `{"colors": ["#rrggbb", …]}`, the tile bank's palette file (SPEC §3.1).
//! * `.hex` (Lospec): one `rrggbb` per line, an optional leading `#`; blank lines skipped.
//! * `.gpl` (GIMP, also written by Aseprite and Lospec): the line `GIMP Palette`, then header
//!   lines (`Name: …`, `Columns: …`) and `#` comments, then one colour per line: three
//!   decimal numbers 0–255 separated by whitespace, optionally followed by a name.
//! * `.pal`: JASC-PAL (Paint Shop Pro, written by Aseprite and Lospec): the lines `JASC-PAL`,
//!   `0100`, the colour count, then that many lines `R G B`. Or a Microsoft RIFF palette:
//!   `RIFF`, u32 size, `PAL `, then chunks; the `data` chunk holds u16 version (0x0300), u16
//!   count, then `count` entries of (r, g, b, flags) bytes.
//!
//! Lines may end in CRLF; a UTF-8 byte-order mark at the start is skipped.
//!
//! **Payload**: 16 little-endian u16, colour *i* at offset 2*i*, each
//! `(r >> 3) << 11 | (g >> 2) << 5 | b >> 3` (the tile bank's palette packing); entries past
//! the file's colours are 0. Always 32 bytes. More than 16 colours, none, or a malformed line
//! is an error naming the line (a palette is what 4-bit pixels index: nothing is dropped).

use super::tiles::{rgb565, Rgb};

/// Colours in one palette.
pub const COLOURS: usize = 16;
/// The payload's size: 16 colours × 2 bytes.
pub const PAYLOAD_SIZE: usize = COLOURS * 2;

/// The syntax of a palette file, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    Json,
    Hex,
    Gpl,
    Pal,
}

impl Syntax {
    /// The syntax a path's extension names, `None` for any other file.
    pub fn of_path(path: &str) -> Option<Syntax> {
        let (_, ext) = path.rsplit_once('.')?;
        match ext.to_ascii_lowercase().as_str() {
            "json" => Some(Syntax::Json),
            "hex" => Some(Syntax::Hex),
            "gpl" => Some(Syntax::Gpl),
            "pal" => Some(Syntax::Pal),
            _ => None,
        }
    }
}

/// Why a palette file was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum PaletteError {
    /// A line (1-based; 0 for the file as a whole) that is not what the syntax allows.
    Syntax { line: usize, message: String },
    /// No colours, or more than 16.
    Count { found: usize },
}

impl std::fmt::Display for PaletteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PaletteError::Syntax { line: 0, message } => write!(f, "{message}"),
            PaletteError::Syntax { line, message } => write!(f, "line {line}: {message}"),
            PaletteError::Count { found } => {
                write!(f, "{found} colours; a palette has 1 to {COLOURS} (4-bit pixels index 16)")
            }
        }
    }
}

fn syntax(line: usize, message: impl Into<String>) -> PaletteError {
    PaletteError::Syntax { line, message: message.into() }
}

/// Parses a palette file of the given syntax into its colours (1 to 16).
pub fn parse(syntax_of: Syntax, bytes: &[u8]) -> Result<Vec<Rgb>, PaletteError> {
    let colours = match syntax_of {
        Syntax::Json => super::tiles::parse_palette(bytes).map_err(|e| syntax(0, e.to_string()))?,
        Syntax::Pal if bytes.starts_with(b"RIFF") => riff(bytes)?,
        text => {
            let utf8 = std::str::from_utf8(bytes).map_err(|_| syntax(0, "not UTF-8 text"))?;
            let utf8 = utf8.strip_prefix('\u{feff}').unwrap_or(utf8);
            let lines: Vec<(usize, &str)> = utf8.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).collect();
            match text {
                Syntax::Gpl => gpl(&lines)?,
                Syntax::Pal => jasc(&lines)?,
                Syntax::Hex | Syntax::Json => hex(&lines)?,
            }
        }
    };
    if colours.is_empty() || colours.len() > COLOURS {
        return Err(PaletteError::Count { found: colours.len() });
    }
    Ok(colours)
}

/// The 32-byte payload of 1 to 16 colours.
pub fn encode(colours: &[Rgb]) -> [u8; PAYLOAD_SIZE] {
    let mut out = [0u8; PAYLOAD_SIZE];
    for (slot, c) in out.chunks_exact_mut(2).zip(colours) {
        slot.copy_from_slice(&rgb565(*c).to_le_bytes());
    }
    out
}

fn hex(lines: &[(usize, &str)]) -> Result<Vec<Rgb>, PaletteError> {
    lines
        .iter()
        .filter(|(_, l)| !l.is_empty())
        .map(|&(n, l)| {
            let digits = l.strip_prefix('#').unwrap_or(l);
            if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(syntax(n, format!("`{l}` is not a colour of the form rrggbb")));
            }
            let v = u32::from_str_radix(digits, 16).map_err(|_| syntax(n, "not hexadecimal"))?;
            Ok([(v >> 16) as u8, (v >> 8) as u8, v as u8])
        })
        .collect()
}

/// Three decimal components 0–255 at the start of `line`; the rest (a name) is ignored.
fn rgb_decimal(n: usize, line: &str, named: bool) -> Result<Rgb, PaletteError> {
    let mut parts = line.split_whitespace();
    let mut c = [0u8; 3];
    for slot in &mut c {
        let p = parts.next().ok_or_else(|| syntax(n, format!("`{line}` is not three numbers R G B")))?;
        *slot = p.parse().map_err(|_| syntax(n, format!("`{p}` is not a number from 0 to 255")))?;
    }
    if !named && parts.next().is_some() {
        return Err(syntax(n, format!("`{line}` has more than three numbers")));
    }
    Ok(c)
}

fn gpl(lines: &[(usize, &str)]) -> Result<Vec<Rgb>, PaletteError> {
    let Some(((_, first), rest)) = lines.split_first() else { return Err(syntax(0, "the file is empty")) };
    if *first != "GIMP Palette" {
        return Err(syntax(1, "a .gpl file starts with the line `GIMP Palette`"));
    }
    rest.iter()
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .filter(|(_, l)| !(l.starts_with("Name:") || l.starts_with("Columns:") || l.starts_with("Channels:")))
        .map(|&(n, l)| rgb_decimal(n, l, true))
        .collect()
}

fn jasc(lines: &[(usize, &str)]) -> Result<Vec<Rgb>, PaletteError> {
    let line = |i: usize| lines.get(i).map(|(_, l)| *l).unwrap_or("");
    if line(0) != "JASC-PAL" {
        return Err(syntax(1, "a text .pal file starts with the line `JASC-PAL` (or is a binary RIFF palette)"));
    }
    if line(1) != "0100" {
        return Err(syntax(2, format!("JASC-PAL version `{}` is not supported (expected 0100)", line(1))));
    }
    let count: usize = line(2).parse().map_err(|_| syntax(3, format!("`{}` is not a colour count", line(2))))?;
    if count > COLOURS {
        return Err(PaletteError::Count { found: count });
    }
    let colours: Vec<&(usize, &str)> = lines[3.min(lines.len())..].iter().filter(|(_, l)| !l.is_empty()).collect();
    if colours.len() != count {
        return Err(syntax(3, format!("the count says {count} colours, the file lists {}", colours.len())));
    }
    colours.into_iter().map(|&(n, l)| rgb_decimal(n, l, false)).collect()
}

fn riff(b: &[u8]) -> Result<Vec<Rgb>, PaletteError> {
    let u16_at = |i: usize| b.get(i..i + 2).map(|s| u16::from_le_bytes([s[0], s[1]]));
    let u32_at = |i: usize| b.get(i..i + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]));
    if b.get(8..12) != Some(b"PAL ") {
        return Err(syntax(0, "a RIFF file that is not a palette (no `PAL ` form)"));
    }
    let mut at = 12;
    while let (Some(id), Some(size)) = (b.get(at..at + 4), u32_at(at + 4)) {
        let body = at + 8;
        let end = body.checked_add(size as usize).filter(|&e| e <= b.len());
        let Some(end) = end else { return Err(syntax(0, "a RIFF chunk runs past the end of the file")) };
        if id == b"data" {
            let count = u16_at(body + 2).ok_or_else(|| syntax(0, "the RIFF data chunk is too short"))? as usize;
            if count > COLOURS {
                return Err(PaletteError::Count { found: count });
            }
            let entries = b.get(body + 4..end).unwrap_or_default();
            if entries.len() < count * 4 {
                return Err(syntax(0, format!("the RIFF data chunk holds fewer than its {count} colours")));
            }
            return Ok(entries.chunks_exact(4).take(count).map(|e| [e[0], e[1], e[2]]).collect());
        }
        at = end + (size as usize & 1);
    }
    Err(syntax(0, "a RIFF palette without a `data` chunk"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PICO8_HEX: &str = "000000\n1d2b53\n7e2553\n008751\nab5236\n5f574f\nc2c3c7\nfff1e8\n\
                             ff004d\nffa300\nffec27\n00e436\n29adff\n83769c\nff77a8\nffccaa\n";

    #[test]
    fn the_payload_is_sixteen_rgb565_little_endian_unused_zero() {
        let p = encode(&[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]);
        assert_eq!(&p[..8], &[0x00, 0xF8, 0xE0, 0x07, 0x1F, 0x00, 0xFF, 0xFF]);
        assert_eq!(&p[8..], &[0u8; 24]);
        // (0x1d >> 3) << 11 | (0x2b >> 2) << 5 | 0x53 >> 3 = 3 << 11 | 10 << 5 | 10 = 0x194A
        assert_eq!(encode(&[[0x1d, 0x2b, 0x53]])[..2], [0x4A, 0x19]);
    }

    #[test]
    fn every_syntax_reads_the_same_colours() {
        let want = vec![[0, 0, 0], [0x1d, 0x2b, 0x53], [255, 241, 232]];
        let files: [(Syntax, &[u8]); 5] = [
            (Syntax::Json, br##"{"colors": ["#000000", "#1d2b53", "#fff1e8"]}"##),
            (Syntax::Hex, b"\xEF\xBB\xBF000000\r\n#1D2B53\r\n\r\nfff1e8\r\n"),
            (
                Syntax::Gpl,
                b"GIMP Palette\nName: p\nColumns: 4\n#\n  0   0   0\tBlack\n 29  43  83 Dark blue\n255 241 232\n",
            ),
            (Syntax::Pal, b"JASC-PAL\r\n0100\r\n3\r\n0 0 0\r\n29 43 83\r\n255 241 232\r\n"),
            (Syntax::Pal, &riff_of(&want)),
        ];
        for (s, bytes) in files {
            assert_eq!(parse(s, bytes), Ok(want.clone()), "{s:?}");
        }
        assert_eq!(parse(Syntax::Hex, PICO8_HEX.as_bytes()).unwrap().len(), 16);
    }

    fn riff_of(colours: &[Rgb]) -> Vec<u8> {
        let mut data = vec![0x00, 0x03];
        data.extend((colours.len() as u16).to_le_bytes());
        for c in colours {
            data.extend([c[0], c[1], c[2], 0]);
        }
        let mut out = b"RIFF".to_vec();
        out.extend(((4 + 8 + data.len()) as u32).to_le_bytes());
        out.extend(b"PAL data");
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn bad_files_name_the_line_and_never_panic() {
        assert_eq!(parse(Syntax::Hex, b"000000\nxyz\n"), Err(syntax(2, "`xyz` is not a colour of the form rrggbb")));
        let seventeen = format!("{PICO8_HEX}000000\n");
        assert_eq!(parse(Syntax::Hex, seventeen.as_bytes()), Err(PaletteError::Count { found: 17 }));
        assert_eq!(parse(Syntax::Hex, b"\n\n"), Err(PaletteError::Count { found: 0 }));
        assert!(matches!(parse(Syntax::Gpl, b"GIMP Palette\n1 2 300\n"), Err(PaletteError::Syntax { line: 2, .. })));
        assert!(matches!(parse(Syntax::Gpl, b"not gimp\n"), Err(PaletteError::Syntax { line: 1, .. })));
        assert!(matches!(parse(Syntax::Pal, b"JASC-PAL\n0100\n2\n1 2 3\n"), Err(PaletteError::Syntax { line: 3, .. })));
        assert_eq!(parse(Syntax::Pal, b"JASC-PAL\n0100\n256\n"), Err(PaletteError::Count { found: 256 }));
        assert!(parse(Syntax::Json, b"{").is_err());
        assert!(parse(Syntax::Hex, b"\xff\xfe").is_err());
        // Truncated and lying RIFF files.
        let good = riff_of(&[[1, 2, 3]]);
        for n in 0..good.len() {
            let _ = parse(Syntax::Pal, &good[..n]);
        }
        let mut lying = good.clone();
        lying[16] = 0xFF;
        assert!(parse(Syntax::Pal, &lying).is_err());
    }

    #[test]
    fn the_extension_names_the_syntax() {
        assert_eq!(Syntax::of_path("a/pico-8.HEX"), Some(Syntax::Hex));
        assert_eq!(Syntax::of_path("x.gpl"), Some(Syntax::Gpl));
        assert_eq!(Syntax::of_path("x.pal"), Some(Syntax::Pal));
        assert_eq!(Syntax::of_path("x.json"), Some(Syntax::Json));
        assert_eq!(Syntax::of_path("x.png"), None);
        assert_eq!(Syntax::of_path("pal"), None);
    }
}
