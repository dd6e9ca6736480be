//! An asset step's memo of its per-input work (`<out>.memo` beside the artifact): every
//! per-input result the last build used, in one file, keyed by the per-input key document.
//! With it, a bank of a thousand sprites whose one sprite changed reads one file instead of
//! a thousand sources and two thousand cache entries. It is only a faster path to what the
//! action cache holds: a missing or damaged memo (it carries its own BLAKE3) is an empty one.

use crate::fsutil;
use crate::keys::KeyDoc;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

const MAGIC: &[u8; 8] = b"pkmemo01";

/// The key of one per-input result: BLAKE3 over every field of its key document.
pub type MemoKey = [u8; 32];

/// What a per-input key document names, hashed: cheaper than the canonical serialization,
/// and as exact (every field, each length-prefixed).
pub fn key_of(doc: &KeyDoc) -> MemoKey {
    let mut h = blake3::Hasher::new();
    let mut field = |b: &[u8]| {
        h.update(&(b.len() as u64).to_le_bytes());
        h.update(b);
    };
    field(&doc.core_version.to_le_bytes());
    field(doc.step.as_bytes());
    field(doc.step_version.as_bytes());
    field(&crate::canon::to_vec(&doc.step_key).unwrap_or_default());
    field(&(doc.sources.len() as u64).to_le_bytes());
    for s in &doc.sources {
        field(s.name.as_bytes());
        field(s.key.as_bytes());
    }
    for list in [&doc.dependencies_strong, &doc.dependencies_weak] {
        field(&(list.len() as u64).to_le_bytes());
        for d in list {
            field(d.as_bytes());
        }
    }
    *h.finalize().as_bytes()
}

/// The memo of the last build, and what this build used of it or added.
#[derive(Default)]
pub struct Memo {
    old: HashMap<MemoKey, Vec<u8>>,
    used: Mutex<Vec<(MemoKey, Vec<u8>)>>,
}

impl Memo {
    /// Loads a memo; anything unreadable or damaged is an empty one.
    pub fn load(path: &Path) -> Memo {
        let old = std::fs::read(path).ok().and_then(|b| parse(&b)).unwrap_or_default();
        Memo { old, used: Mutex::default() }
    }

    /// The remembered result for `key`, noted as used.
    pub fn get(&self, key: &MemoKey) -> Option<Vec<u8>> {
        let bytes = self.old.get(key)?.clone();
        self.put(*key, bytes.clone());
        Some(bytes)
    }

    /// Notes a result of this build.
    pub fn put(&self, key: MemoKey, bytes: Vec<u8>) {
        if let Ok(mut u) = self.used.lock() {
            u.push((key, bytes));
        }
    }

    /// Writes what this build used (and nothing else, so the memo never outgrows the asset).
    /// Best effort: without it the next build reads the cache.
    pub fn save(self, path: &Path) {
        let mut used = self.used.into_inner().unwrap_or_default();
        used.sort_by_key(|e| e.0);
        used.dedup_by(|a, b| a.0 == b.0);
        let mut out = MAGIC.to_vec();
        for (k, b) in &used {
            out.extend_from_slice(k);
            out.extend_from_slice(&(b.len() as u64).to_le_bytes());
            out.extend_from_slice(b);
        }
        let sum = blake3::hash(&out);
        out.extend_from_slice(sum.as_bytes());
        let _ = fsutil::write_if_changed(path, &out);
    }
}

fn parse(b: &[u8]) -> Option<HashMap<MemoKey, Vec<u8>>> {
    let (body, sum) = b.split_at_checked(b.len().checked_sub(32)?)?;
    if blake3::hash(body).as_bytes() != sum || !body.starts_with(MAGIC) {
        return None;
    }
    let mut rest = &body[MAGIC.len()..];
    let mut out = HashMap::new();
    while !rest.is_empty() {
        let (k, r) = rest.split_at_checked(32)?;
        let (n, r) = r.split_at_checked(8)?;
        let n = usize::try_from(u64::from_le_bytes(n.try_into().ok()?)).ok()?;
        let (v, r) = r.split_at_checked(n)?;
        out.insert(k.try_into().ok()?, v.to_vec());
        rest = r;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(source_key: &str) -> KeyDoc {
        KeyDoc {
            core_version: 1,
            step: "tiles.decode".into(),
            step_version: "1".into(),
            step_key: serde_json::json!({}),
            sources: vec![crate::keys::SourceKey { name: "a.png".into(), key: source_key.into() }],
            dependencies_strong: Vec::new(),
            dependencies_weak: Vec::new(),
        }
    }

    #[test]
    fn keeps_what_was_used_and_survives_nothing_damaged() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("1.memo");
        let (a, b) = (key_of(&doc("aa")), key_of(&doc("bb")));
        assert_ne!(a, b);
        let m = Memo::load(&p);
        assert!(m.get(&a).is_none());
        m.put(a, b"one".to_vec());
        m.put(b, b"two".to_vec());
        m.save(&p);
        let m = Memo::load(&p);
        assert_eq!(m.get(&a).as_deref(), Some(&b"one"[..]));
        m.save(&p); // only `a` was used this time
        let m = Memo::load(&p);
        assert!(m.get(&b).is_none(), "unused entries are dropped");
        let mut bytes = std::fs::read(&p).unwrap();
        let last = bytes.len() - 40;
        bytes[last] ^= 1;
        std::fs::write(&p, &bytes).unwrap();
        assert!(Memo::load(&p).get(&a).is_none(), "a damaged memo is an empty one");
    }
}
