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
    /// The file as read; `old` points into it.
    bytes: Vec<u8>,
    old: HashMap<MemoKey, std::ops::Range<usize>>,
    used: Mutex<Used>,
}

#[derive(Default)]
struct Used {
    /// Entries of the old memo used again.
    kept: Vec<MemoKey>,
    /// Entries this build made or took from the cache.
    added: Vec<(MemoKey, Vec<u8>)>,
}

impl Memo {
    /// Loads a memo; anything unreadable or damaged is an empty one.
    pub fn load(path: &Path) -> Memo {
        let bytes = crate::fsutil::read_regular(path).unwrap_or_default();
        match parse(&bytes) {
            Some(old) => Memo { bytes, old, used: Mutex::default() },
            None => Memo::default(),
        }
    }

    /// The remembered result for `key`, noted as used.
    pub fn get(&self, key: &MemoKey) -> Option<Vec<u8>> {
        let range = self.old.get(key)?.clone();
        if let Ok(mut u) = self.used.lock() {
            u.kept.push(*key);
        }
        Some(self.bytes[range].to_vec())
    }

    /// Notes a result of this build.
    pub fn put(&self, key: MemoKey, bytes: Vec<u8>) {
        if let Ok(mut u) = self.used.lock() {
            u.added.push((key, bytes));
        }
    }

    /// Writes what this build used (and nothing else, so the memo never outgrows the asset);
    /// nothing when that is exactly the old memo. Best effort: without it the next build
    /// reads the cache.
    pub fn save(self, path: &Path) {
        let Used { mut kept, added } = self.used.into_inner().unwrap_or_default();
        kept.sort_unstable();
        kept.dedup();
        if added.is_empty() && kept.len() == self.old.len() {
            return;
        }
        let mut entries: Vec<(MemoKey, &[u8])> = kept.iter().map(|k| (*k, &self.bytes[self.old[k].clone()])).collect();
        entries.extend(added.iter().map(|(k, b)| (*k, b.as_slice())));
        entries.sort_by_key(|e| e.0);
        entries.dedup_by_key(|e| e.0);
        let mut out = Vec::with_capacity(MAGIC.len() + entries.iter().map(|e| 40 + e.1.len()).sum::<usize>() + 32);
        out.extend_from_slice(MAGIC);
        for (k, b) in &entries {
            out.extend_from_slice(k);
            out.extend_from_slice(&(b.len() as u64).to_le_bytes());
            out.extend_from_slice(b);
        }
        let sum = blake3::hash(&out);
        out.extend_from_slice(sum.as_bytes());
        // The bytes differ from the file's whenever an entry was added or dropped: no
        // reading back to compare.
        let _ = fsutil::replace(path, &out);
    }
}

fn parse(b: &[u8]) -> Option<HashMap<MemoKey, std::ops::Range<usize>>> {
    let body = b.len().checked_sub(32)?;
    if blake3::hash(&b[..body]).as_bytes() != &b[body..] || !b.starts_with(MAGIC) {
        return None;
    }
    let mut at = MAGIC.len();
    let mut out = HashMap::new();
    while at < body {
        let key: MemoKey = b.get(at..at + 32)?.try_into().ok()?;
        let n = usize::try_from(u64::from_le_bytes(b.get(at + 32..at + 40)?.try_into().ok()?)).ok()?;
        let start = at + 40;
        let end = start.checked_add(n).filter(|&e| e <= body)?;
        out.insert(key, start..end);
        at = end;
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
