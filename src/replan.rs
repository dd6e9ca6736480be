//! gen's edit path: re-keying only the assets whose sources were edited, from the key files
//! gen wrote last time, when the structure (registry, declarations, walked directories, key
//! directory) is as gen recorded it (`genstate.rs` tells).
//!
//! An action's key document is its step, step version and step key (all from its
//! declaration), its sources' hashes, and (strict mode) its dependencies' strong keys. With
//! the declaration unchanged, an edit of a source changes exactly one `sources` entry of each
//! asset that reads it, then, in strict mode, one `dependencies-strong` entry of each of
//! their dependants, transitively, and of the pack. So the new keys follow from the old key
//! files and the new hashes, without loading the workspace: for one edited file that is a
//! few files read instead of every declaration parsed and every key computed.
//!
//! What the key files do not say is kept by gen's full run in the plan index
//! (`<build>/.packer-plan`, one of the files its state vouches for): the assets in
//! dependency order, each with its dependants and its sources' project paths in key order.
//! Assets of a type that discovers inputs inside its files (a Tiled map's tilesets) are
//! marked: an edit of their files may change the graph, so those files are structure and
//! never reach this path. A key file is used only when it holds the very bytes gen's ledger
//! says it wrote (their BLAKE3) with the key it recorded; anything unexpected returns `None`
//! and gen plans in full.

use crate::fsutil;
use crate::gates::Ledger;
use crate::keys::{action_name, ActionKey, KeyDoc, KeyFile, Mode};
use crate::plan::PackStepKey;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const MAGIC: &str = "packer-plan-2";

/// Where the plan index lives.
pub fn index_file(build_dir: &Path) -> PathBuf {
    build_dir.join(".packer-plan")
}

/// One asset of the plan index.
pub struct IndexEntry {
    pub id: u64,
    /// The assets whose keys hold this one's strong key.
    pub dependents: Vec<u64>,
    /// Project paths of the sources, in the order of the key document's `sources`; `None`
    /// for a type that discovers inputs (its files are structure).
    pub sources: Option<Vec<String>>,
}

/// The text of the plan index: `entries` in dependency order, after a line with the BLAKE3
/// of the rest (a damaged index is no index). Paths hold no tab or newline (gen refuses
/// control characters in paths before it gets here).
pub fn render_index(entries: &[IndexEntry]) -> String {
    let body = render_entries(entries);
    format!("{MAGIC} {}\n{body}", crate::hash::hash_bytes(body.as_bytes()))
}

fn render_entries(entries: &[IndexEntry]) -> String {
    let mut text = String::new();
    for e in entries {
        let deps: Vec<String> = e.dependents.iter().map(u64::to_string).collect();
        let kind = if e.sources.is_some() { "s" } else { "d" };
        text.push_str(&format!("{}\t{kind}\t{}", e.id, deps.join(",")));
        for p in e.sources.iter().flatten() {
            text.push('\t');
            text.push_str(p);
        }
        text.push('\n');
    }
    text
}

fn parse_index(text: &str) -> Option<Vec<IndexEntry>> {
    let (head, body) = text.split_once('\n')?;
    if head != format!("{MAGIC} {}", crate::hash::hash_bytes(body.as_bytes())) {
        return None;
    }
    body.lines()
        .map(|line| {
            let mut f = line.split('\t');
            let id = f.next()?.parse().ok()?;
            let kind = f.next()?;
            let deps = f.next()?;
            let dependents = if deps.is_empty() {
                Vec::new()
            } else {
                deps.split(',').map(|d| d.parse().ok()).collect::<Option<Vec<u64>>>()?
            };
            let sources = match kind {
                "s" => Some(f.map(str::to_string).collect()),
                "d" => None,
                _ => return None,
            };
            Some(IndexEntry { id, dependents, sources })
        })
        .collect()
}

/// What [`rekey`] computed: the new key of every asset it re-planned (in dependency order,
/// each with whether it has dependencies), and the pack's key file (strict mode).
pub struct Rekeyed {
    pub assets: Vec<(u64, ActionKey, bool)>,
    pub pack: Option<PackKeyFile>,
    /// Every asset of the plan, by id.
    pub all: Vec<u64>,
}

/// The bytes of a key file, if they are the very bytes gen last wrote there (the ledger's
/// digest).
fn trusted_bytes(path: &Path, ledger: &Ledger) -> Option<Vec<u8>> {
    let bytes = fsutil::read_regular(path).ok()?;
    let name = path.file_name()?.to_str()?;
    (ledger.digest(name) == Some(crate::hash::hash_bytes(&bytes).as_str())).then_some(bytes)
}

/// A key file, if it holds the very bytes gen last wrote there (the ledger's digest) and
/// the key the ledger records for it.
fn trusted_key_file(path: &Path, mode: Mode, ledger: &Ledger) -> Option<KeyFile> {
    let bytes = trusted_bytes(path, ledger)?;
    let name = path.file_name()?.to_str()?;
    let kf: KeyFile = serde_json::from_slice(&bytes).ok()?;
    let deciding = match mode {
        Mode::Strict => &kf.keyed.strong,
        Mode::NonStrict => &kf.keyed.weak,
    };
    (kf.mode == mode && ledger.key(name) == Some(deciding.as_str())).then_some(kf)
}

/// Sets the strong key of each re-keyed dependency in a document's `dependencies-strong`.
fn update_dependencies(doc: &mut crate::keys::KeyDoc, strong: &HashMap<String, String>) -> Option<()> {
    if doc.dependencies_strong.len() != doc.dependencies_weak.len() {
        return None;
    }
    for (s, w) in doc.dependencies_strong.iter_mut().zip(&doc.dependencies_weak) {
        if let Some(new) = strong.get(w) {
            s.clone_from(new);
        }
    }
    Some(())
}

/// The new keys after `edited` (project path → new BLAKE3) changed, from the key files in
/// `keys_dir` and the plan index in `build_dir`; `None` when this path cannot vouch for the
/// result (no index, a path it does not know, a key file not as gen wrote it).
pub fn rekey(
    build_dir: &Path,
    keys_dir: &Path,
    mode: Mode,
    ledger: &Ledger,
    edited: &HashMap<&str, &str>,
) -> Option<Rekeyed> {
    let text = String::from_utf8(fsutil::read_regular(&index_file(build_dir)).ok()?).ok()?;
    let index = parse_index(&text)?;
    let at: HashMap<u64, usize> = index.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
    let mut dirty: Vec<bool> =
        index.iter().map(|e| e.sources.iter().flatten().any(|p| edited.contains_key(p.as_str()))).collect();
    // Every edited path must be a source the index knows.
    let known: std::collections::HashSet<&str> = index
        .iter()
        .flat_map(|e| e.sources.iter().flatten())
        .map(String::as_str)
        .filter(|p| edited.contains_key(p))
        .collect();
    if edited.is_empty() || known.len() != edited.len() {
        return None;
    }
    // In strict mode a dependant's key holds its dependency's strong key: it changes too.
    // The index is in dependency order, so one forward pass reaches every dependant.
    if mode == Mode::Strict {
        for i in 0..index.len() {
            if dirty[i] {
                for d in &index[i].dependents {
                    dirty[*at.get(d)?] = true;
                }
            }
        }
    }
    let mut strong: HashMap<String, String> = HashMap::new();
    let mut assets = Vec::new();
    for e in index.iter().zip(&dirty).filter(|(_, d)| **d).map(|(e, _)| e) {
        let kf = trusted_key_file(&keys_dir.join(format!("{}.key", e.id)), mode, ledger)?;
        let mut doc = kf.keyed.doc;
        if let Some(paths) = &e.sources {
            if paths.len() != doc.sources.len() {
                return None;
            }
            for (s, p) in doc.sources.iter_mut().zip(paths) {
                if let Some(h) = edited.get(p.as_str()) {
                    s.key = h.to_string();
                }
            }
        }
        if mode == Mode::Strict {
            update_dependencies(&mut doc, &strong)?;
        }
        let has_deps = !doc.dependencies_weak.is_empty();
        let keyed = doc.keyed();
        strong.insert(action_name(e.id), keyed.strong.clone());
        assets.push((e.id, keyed, has_deps));
    }
    // In non-strict mode the pack's key file holds no dependency keys: it stays as it is.
    let pack = match mode {
        Mode::NonStrict => None,
        Mode::Strict => {
            let path = keys_dir.join("pack.key");
            let bytes = trusted_bytes(&path, ledger)?;
            let old = PackKeyFile::parse(bytes)?;
            if ledger.key("pack.key") != Some(old.strong()) {
                return None;
            }
            Some(old.with_dependencies(&strong)?)
        }
    };
    Some(Rekeyed { assets, pack, all: index.iter().map(|e| e.id).collect() })
}

/// The pack's key file in strict mode, as bytes. Its document lists every asset's strong key
/// (`dependencies-strong`), so it is megabytes at 10,000 assets, and an edit changes one
/// entry of it: parsing it into a tree and serializing it back took most of the edit path's
/// re-keying (~35 ms at 10,000 assets). The file is canonical JSON, so its layout is fixed:
///
/// ```text
/// {"doc":{"core-version":N,"dependencies-strong":["<64 hex>",…],"dependencies-weak":["asset/<id>",…],…},"mode":"strict","strong":"<64 hex>","weak":"<64 hex>"}
/// ```
///
/// and the document's canonical bytes (what the strong key hashes) are the bytes between
/// `{"doc":` and `,"mode"`. A dependency's new strong key is written over its old one in
/// place (same length), and the strong key is the hash of the patched document; the weak
/// key leaves `dependencies-strong` out, so it stays. Anything that does not have exactly
/// this layout is refused (`None`), and gen plans in full.
pub struct PackKeyFile {
    bytes: Vec<u8>,
    /// Where the document's bytes end (they start at `DOC.len()`).
    doc_end: usize,
    /// Each asset's id and where its strong key starts, in `dependencies-weak` order.
    entries: Vec<(u64, usize)>,
}

const DOC: &[u8] = b"{\"doc\":";
const HEAD: &[u8] = b"{\"doc\":{\"core-version\":";
const STRONG_AT: &[u8] = b",\"dependencies-strong\":[";
const WEAK_AT: &[u8] = b"],\"dependencies-weak\":[";
const TAIL_STRONG: &[u8] = b",\"mode\":\"strict\",\"strong\":\"";
const TAIL_WEAK: &[u8] = b"\",\"weak\":\"";
const HEX: usize = 64;

impl PackKeyFile {
    /// Reads the layout of a strict pack key file; `None` if it is not exactly that.
    fn parse(bytes: Vec<u8>) -> Option<PackKeyFile> {
        let tail = TAIL_STRONG.len() + HEX + TAIL_WEAK.len() + HEX + 2;
        let doc_end = bytes.len().checked_sub(tail)?;
        let t = &bytes[doc_end..];
        let weak_at = TAIL_STRONG.len() + HEX;
        if !t.starts_with(TAIL_STRONG)
            || !crate::hash::is_hex_key(&t[TAIL_STRONG.len()..weak_at])
            || &t[weak_at..weak_at + TAIL_WEAK.len()] != TAIL_WEAK
            || !crate::hash::is_hex_key(&t[weak_at + TAIL_WEAK.len()..t.len() - 2])
            || &t[t.len() - 2..] != b"\"}"
            || !bytes.starts_with(HEAD)
        {
            return None;
        }
        let mut at = HEAD.len();
        while bytes.get(at)?.is_ascii_digit() {
            at += 1;
        }
        if !bytes[at..].starts_with(STRONG_AT) {
            return None;
        }
        at += STRONG_AT.len();
        // `"<64 hex>"` entries, comma-separated, up to the `]` that WEAK_AT begins with.
        let mut strong = Vec::new();
        if bytes.get(at) == Some(&b'"') {
            loop {
                if bytes.get(at) != Some(&b'"') || !crate::hash::is_hex_key(bytes.get(at + 1..at + 1 + HEX)?) {
                    return None;
                }
                strong.push(at + 1);
                at += HEX + 2;
                match bytes.get(at)? {
                    b',' => at += 1,
                    _ => break,
                }
            }
        }
        if !bytes[at..].starts_with(WEAK_AT) {
            return None;
        }
        at += WEAK_AT.len();
        // `"asset/<id>"` entries, one per strong key.
        let mut entries = Vec::with_capacity(strong.len());
        for (i, &key_at) in strong.iter().enumerate() {
            let sep: &[u8] = if i == 0 { b"\"asset/" } else { b",\"asset/" };
            if !bytes[at..].starts_with(sep) {
                return None;
            }
            at += sep.len();
            let digits = bytes[at..].iter().take_while(|c| c.is_ascii_digit()).count();
            let id: u64 = std::str::from_utf8(&bytes[at..at + digits]).ok()?.parse().ok()?;
            at += digits;
            if bytes.get(at) != Some(&b'"') {
                return None;
            }
            at += 1;
            entries.push((id, key_at));
        }
        if bytes.get(at) != Some(&b']') || at >= doc_end {
            return None;
        }
        Some(PackKeyFile { bytes, doc_end, entries })
    }

    fn key_at(&self, at: usize) -> &str {
        std::str::from_utf8(&self.bytes[at..at + HEX]).expect("checked hex")
    }

    /// The strong key the file records.
    pub fn strong(&self) -> &str {
        self.key_at(self.doc_end + TAIL_STRONG.len())
    }

    /// The weak key the file records.
    pub fn weak(&self) -> &str {
        self.key_at(self.bytes.len() - 2 - HEX)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The file with the strong keys of the assets in `strong` (by action name) replaced and
    /// its strong key recomputed.
    fn with_dependencies(mut self, strong: &HashMap<String, String>) -> Option<PackKeyFile> {
        let by_id: HashMap<u64, &[u8]> = strong
            .iter()
            .map(|(name, key)| {
                let id: u64 = name.strip_prefix("asset/")?.parse().ok()?;
                (action_name(id) == *name && crate::hash::is_hex_key(key.as_bytes())).then_some((id, key.as_bytes()))
            })
            .collect::<Option<_>>()?;
        for (id, at) in &self.entries {
            if let Some(new) = by_id.get(id) {
                self.bytes[*at..*at + HEX].copy_from_slice(new);
            }
        }
        let key = crate::hash::hash_bytes(&self.bytes[DOC.len()..self.doc_end]);
        let at = self.doc_end + TAIL_STRONG.len();
        self.bytes[at..at + HEX].copy_from_slice(key.as_bytes());
        Some(self)
    }

    /// The key, parsed (for the pack's restore, which needs the document).
    pub fn key(&self) -> Option<ActionKey<PackStepKey>> {
        // Not through `KeyFile`, whose flattened fields serde buffers as a whole tree first.
        #[derive(serde::Deserialize)]
        struct Typed {
            doc: KeyDoc<PackStepKey>,
            strong: String,
            weak: String,
        }
        let t: Typed = serde_json::from_slice(&self.bytes).ok()?;
        Some(ActionKey { doc: t.doc, strong: t.strong, weak: t.weak })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyDoc;

    fn pack_doc(strong: &[&str], ids: &[u64]) -> KeyDoc {
        let h = |c: &str| crate::hash::hash_bytes(c.as_bytes());
        KeyDoc {
            core_version: crate::keys::CORE_VERSION,
            step: "pack".into(),
            step_version: "pack-1".into(),
            // A name that looks like the layout changes nothing: it comes after the arrays.
            step_key: serde_json::to_value(PackStepKey {
                assets: vec![crate::plan::PackEntry {
                    asset_id: 3,
                    asset_name: "],\"dependencies-weak\":[\"asset/9\"".into(),
                    asset_uuid: String::new(),
                    bank_type: "BLOB".into(),
                    codec: "NONE".into(),
                    preload: false,
                    root: "r".into(),
                    inputs: crate::plan::Roles(vec![("source".into(), vec!["x".into()])]),
                }],
            })
            .unwrap(),
            sources: Vec::new(),
            dependencies_strong: strong.iter().map(|c| h(c)).collect(),
            dependencies_weak: ids.iter().map(|&id| action_name(id)).collect(),
        }
    }

    fn file(key: &ActionKey, mode: Mode) -> Vec<u8> {
        KeyFile::bytes(mode, key).unwrap()
    }

    #[test]
    fn the_pack_key_file_patched_in_place_is_the_file_its_new_document_serializes_to() {
        let before = pack_doc(&["a", "b", "c"], &[3, 12, 7]).keyed();
        let parsed = PackKeyFile::parse(file(&before, Mode::Strict)).unwrap();
        assert_eq!((parsed.strong(), parsed.weak()), (before.strong.as_str(), before.weak.as_str()));
        let new = |c: &str| crate::hash::hash_bytes(c.as_bytes());
        let edits = HashMap::from([(action_name(12), new("B")), (action_name(7), new("C"))]);
        let after = pack_doc(&["a", "B", "C"], &[3, 12, 7]).keyed();
        let patched = parsed.with_dependencies(&edits).unwrap();
        assert_eq!(patched.bytes(), file(&after, Mode::Strict));
        assert_eq!((patched.strong(), patched.weak()), (after.strong.as_str(), after.weak.as_str()));
        assert_ne!(after.strong, before.strong);
        assert_eq!(after.weak, before.weak, "the weak key leaves dependency keys out");
        assert_eq!(patched.key().unwrap().to_json().unwrap(), after);

        // A pack of no assets.
        let empty = pack_doc(&[], &[]).keyed();
        let patched = PackKeyFile::parse(file(&empty, Mode::Strict)).unwrap().with_dependencies(&HashMap::new());
        assert_eq!(patched.unwrap().bytes(), file(&empty, Mode::Strict));

        // Anything but that exact layout is refused, and so is a key that is not a strong key.
        let good = file(&before, Mode::Strict);
        assert!(PackKeyFile::parse(file(&before, Mode::NonStrict)).is_none());
        let text = String::from_utf8(good.clone()).unwrap();
        for damaged in [
            text.replacen("\"asset/12\"", "\"asset/x\"", 1),
            text.replacen("\"core-version\":1", "\"core-version\":\"1\"", 1),
            text.replacen(&before.doc.dependencies_strong[1], "z", 1),
            text.replacen(",\"asset/7\"", "", 1),
            text[..text.len() - 1].to_string(),
            format!("{text}\n"),
        ] {
            assert!(PackKeyFile::parse(damaged.clone().into_bytes()).is_none(), "{damaged}");
        }
        let bad = HashMap::from([(action_name(12), "not a key".to_string())]);
        assert!(PackKeyFile::parse(good.clone()).unwrap().with_dependencies(&bad).is_none());
        let odd = HashMap::from([("asset/012".to_string(), new("B"))]);
        assert!(PackKeyFile::parse(good).unwrap().with_dependencies(&odd).is_none());
    }

    #[test]
    fn the_index_reads_back_what_it_wrote_and_refuses_anything_else() {
        let entries = vec![
            IndexEntry {
                id: 3,
                dependents: vec![7, 9],
                sources: Some(vec!["assets/a/x.png".into(), "assets/a/y.png".into()]),
            },
            IndexEntry { id: 7, dependents: Vec::new(), sources: None },
            IndexEntry { id: 9, dependents: Vec::new(), sources: Some(Vec::new()) },
        ];
        let text = render_index(&entries);
        let body = "3\ts\t7,9\tassets/a/x.png\tassets/a/y.png\n7\td\t\n9\ts\t\n";
        assert_eq!(text, format!("packer-plan-2 {}\n{body}", crate::hash::hash_bytes(body.as_bytes())));
        let back = parse_index(&text).unwrap();
        assert_eq!(render_index(&back), text);
        assert!(parse_index(&text.replace("packer-plan-2", "packer-plan-1")).is_none());
        assert!(parse_index(&text.replace("assets/a/x", "assets/a/z")).is_none(), "damaged");
        let sealed = |body: &str| format!("packer-plan-2 {}\n{body}", crate::hash::hash_bytes(body.as_bytes()));
        assert!(parse_index(&sealed(&body.replace("\td\t", "\tq\t"))).is_none());
        assert!(parse_index(&sealed(&body.replace("7,9", "7,x"))).is_none());
    }
}
