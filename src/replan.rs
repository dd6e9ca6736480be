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
use crate::keys::{action_name, ActionKey, KeyFile, Mode};
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
/// each with whether it has dependencies), and the pack's (strict mode).
pub struct Rekeyed {
    pub assets: Vec<(u64, ActionKey, bool)>,
    pub pack: Option<ActionKey>,
    /// Every asset of the plan, by id.
    pub all: Vec<u64>,
}

/// A key file, if it holds the very bytes gen last wrote there (the ledger's digest) and
/// the key the ledger records for it.
fn trusted_key_file(path: &Path, mode: Mode, ledger: &Ledger) -> Option<KeyFile> {
    let bytes = fsutil::read_regular(path).ok()?;
    let name = path.file_name()?.to_str()?;
    if ledger.digest(name) != Some(crate::hash::hash_bytes(&bytes).as_str()) {
        return None;
    }
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
            let kf = trusted_key_file(&keys_dir.join("pack.key"), mode, ledger)?;
            let mut doc = kf.keyed.doc;
            update_dependencies(&mut doc, &strong)?;
            Some(doc.keyed())
        }
    };
    Some(Rekeyed { assets, pack, all: index.iter().map(|e| e.id).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

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
