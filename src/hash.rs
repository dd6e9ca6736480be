//! BLAKE3 as packer spells it everywhere (keys, fingerprints, digests): lowercase hex.

/// BLAKE3 of bytes, lowercase hex (64 characters).
pub fn hash_bytes(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Whether `b` has the shape of a key or digest: 64 hex digits.
pub fn is_hex_key(b: &[u8]) -> bool {
    b.len() == 64 && b.iter().all(u8::is_ascii_hexdigit)
}

/// BLAKE3 of everything a reader yields (a file, streamed), lowercase hex.
pub fn hash_reader(mut r: impl std::io::Read) -> std::io::Result<String> {
    let mut h = blake3::Hasher::new();
    h.update_reader(&mut r)?;
    Ok(h.finalize().to_hex().to_string())
}
