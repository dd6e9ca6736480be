//! The `assets.pa` container (SPEC §4.1): a 24-byte prelude, the canonical JSON header, and
//! the payloads, each 16-aligned relative to `payload_offset`.

use crate::canon;
use anyhow::{bail, Context};
use serde_json::Value;

pub const MAGIC: &[u8; 4] = b"PMPA";
pub const SCHEMA_VERSION: u32 = 1;
pub const PRELUDE_LEN: usize = 24;
pub const ALIGN: usize = 16;

/// Rounds `n` up to the next multiple of [`ALIGN`].
pub fn align(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// Offsets of payloads of the given sizes, relative to `payload_offset`.
pub fn layout(sizes: impl IntoIterator<Item = usize>) -> Vec<usize> {
    let mut at = 0;
    sizes
        .into_iter()
        .map(|s| {
            let here = at;
            at = align(at + s);
            here
        })
        .collect()
}

/// Assembles the file from a header value (`{"asset_table", "preload"}`) and the payloads at
/// the offsets [`layout`] gave.
pub fn write(header: &Value, payloads: &[&[u8]]) -> anyhow::Result<Vec<u8>> {
    let sizes: Vec<usize> = payloads.iter().map(|p| p.len()).collect();
    write_with(header, &sizes, |slots| {
        for (slot, p) in slots.into_iter().zip(payloads) {
            slot.copy_from_slice(p);
        }
        Ok(())
    })
}

/// [`write`] for payloads of known sizes that `fill` writes in place: it gets one slice per
/// payload, each exactly its size, so a large container is assembled without a second copy
/// of every payload in memory.
pub fn write_with(
    header: &Value,
    sizes: &[usize],
    fill: impl FnOnce(Vec<&mut [u8]>) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<u8>> {
    let (mut out, payload_offset) = head(header)?;
    let offsets = layout(sizes.iter().copied());
    let end = payload_offset + end_of(&offsets, sizes);
    out.reserve(end - out.len());
    out.resize(end, 0);
    let mut slots = Vec::with_capacity(sizes.len());
    let mut rest = &mut out[payload_offset..];
    let mut at = 0;
    for (&off, &size) in offsets.iter().zip(sizes) {
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(off - at);
        let (slot, tail) = tail.split_at_mut(size);
        slots.push(slot);
        rest = tail;
        at = off + size;
    }
    fill(slots)?;
    Ok(out)
}

/// The prelude and the canonical header, and `payload_offset` (where the payloads start: the
/// header's end rounded up to 16). The bytes between the two are zero.
pub fn head<T: serde::Serialize + ?Sized>(header: &T) -> anyhow::Result<(Vec<u8>, usize)> {
    let header = canon::to_vec(header)?;
    let payload_offset = align(PRELUDE_LEN + header.len());
    let mut out = Vec::with_capacity(PRELUDE_LEN + header.len());
    out.extend_from_slice(MAGIC);
    for word in [SCHEMA_VERSION, u32::try_from(header.len())?, u32::try_from(payload_offset)?, 0, 0] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(&header);
    Ok((out, payload_offset))
}

/// The length of the payload region for payloads of `sizes` at `offsets` ([`layout`]).
pub fn end_of(offsets: &[usize], sizes: &[usize]) -> usize {
    offsets.last().zip(sizes.last()).map(|(o, s)| o + s).unwrap_or(0)
}

/// A parsed container: the header and the payload region.
pub struct Parsed<'a> {
    pub header: Value,
    pub payload: &'a [u8],
}

/// Parses and checks a container.
pub fn read(bytes: &[u8]) -> anyhow::Result<Parsed<'_>> {
    if bytes.len() < PRELUDE_LEN || &bytes[..4] != MAGIC {
        bail!("not an assets.pa file (bad magic)");
    }
    let word =
        |i: usize| u32::from_le_bytes([bytes[4 * i], bytes[4 * i + 1], bytes[4 * i + 2], bytes[4 * i + 3]]) as usize;
    if word(1) != SCHEMA_VERSION as usize {
        bail!("unsupported schema_version {}", word(1));
    }
    let (header_len, payload_offset) = (word(2), word(3));
    let header_end =
        PRELUDE_LEN.checked_add(header_len).filter(|&e| e <= bytes.len()).context("header runs past the end")?;
    if payload_offset != align(header_end) || payload_offset > bytes.len() {
        bail!("payload_offset {payload_offset} is not the header end rounded up to 16");
    }
    let header = serde_json::from_slice(&bytes[PRELUDE_LEN..header_end]).context("header is not JSON")?;
    Ok(Parsed { header, payload: &bytes[payload_offset..] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hand_computed_layout() {
        let header = json!({"asset_table": [], "preload": []});
        let bytes = write(&header, &[b"abc", b"0123456789abcdefX"]).unwrap();
        let h = br#"{"asset_table":[],"preload":[]}"#;
        assert_eq!(&bytes[0..4], b"PMPA");
        assert_eq!(&bytes[4..24], &[1, 0, 0, 0, h.len() as u8, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&bytes[24..24 + h.len()], h);
        assert!(bytes[24 + h.len()..64].iter().all(|&b| b == 0));
        assert_eq!(&bytes[64..67], b"abc");
        assert!(bytes[67..80].iter().all(|&b| b == 0));
        assert_eq!(&bytes[80..97], b"0123456789abcdefX");
        assert_eq!(bytes.len(), 97);
        assert_eq!(read(&bytes).unwrap().payload.len(), 33);
    }
}
