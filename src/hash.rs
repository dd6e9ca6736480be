//! BLAKE3 as packer spells it everywhere (keys, fingerprints, digests): lowercase hex.

/// BLAKE3 of bytes, lowercase hex (64 characters).
pub fn hash_bytes(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}
