//! The layering of `src/`, enforced: reads every `src/**/*.rs`, builds the graph of the
//! module paths it names (`crate::…`, `super::…`, a `mod.rs` naming its children) and fails on
//! a cycle between top-level modules, on a cycle between the files of one directory, on an
//! import that goes up a layer, and on a module that no layer lists. The same list is in
//! `doc/design.md` ("Layers"), and this test checks that the two agree.
//!
//! A module may use modules of its own layer or of any layer below. Within a layer the
//! graph must still be acyclic, so "same layer" never hides a knot.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lowest first. Each line: the layer's name and its top-level modules.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "leaves",
        &[
            "canon", "diag", "escape", "formats", "fsutil", "hash", "layout", "lock", "out", "pa", "par", "relpath",
            "runner", "stat", "suggest",
        ],
    ),
    ("workspace", &["pattern", "types", "fingerprint", "decl", "registry", "workspace"]),
    ("plan", &["graph", "keys", "plan", "ninja"]),
    ("state", &["record", "cache", "gates", "genstate", "replan"]),
    ("steps", &["step"]),
    ("commands", &["cache_commands", "commands", "gen", "status", "verify"]),
    ("cli", &["cli"]),
];

/// A module's path below the crate root: `["step", "tiles"]` for `src/step/tiles.rs`.
type ModPath = Vec<String>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn mod_path(file: &Path) -> ModPath {
    let rel = file.strip_prefix(src_dir()).unwrap();
    let mut parts: Vec<String> = rel.iter().map(|c| c.to_str().unwrap().to_string()).collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

/// The text without comments and string literals (doc links name modules without using them).
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b[i] == b'"' && !(i > 0 && b[i - 1] == b'\'') {
            // A plain or raw string: skipped to its end (a raw string's hashes included).
            let hashes = b[..i].iter().rev().take_while(|&&c| c == b'#').count();
            let raw = i > hashes && b[i - hashes - 1] == b'r';
            i += 1;
            while i < b.len() {
                if !raw && b[i] == b'\\' {
                    i += 2;
                    continue;
                }
                if b[i] == b'"' && b[i + 1..].iter().take(hashes).filter(|&&c| c == b'#').count() == hashes {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
            out.push_str("\"\"");
        } else {
            // Copy one whole character.
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Parses a path at `s` (after `crate::`, `super::` or a child's name): identifiers
/// separated by `::`, a `{…}` group expanding to several paths. Returns the paths.
fn paths_at(s: &str) -> Vec<Vec<String>> {
    fn ident(s: &str) -> (&str, &str) {
        let s = s.trim_start();
        let n = s.find(|c: char| !is_ident(c)).unwrap_or(s.len());
        (&s[..n], &s[n..])
    }
    fn tree(s: &str) -> (Vec<Vec<String>>, &str) {
        let t = s.trim_start();
        if let Some(rest) = t.strip_prefix('{') {
            let mut all = Vec::new();
            let mut rest = rest;
            loop {
                let r = rest.trim_start();
                if let Some(r) = r.strip_prefix('}') {
                    return (all, r);
                }
                if let Some(r) = r.strip_prefix(',') {
                    rest = r;
                    continue;
                }
                let (mut paths, r) = tree(r);
                if r.len() == rest.len() {
                    return (all, r); // not a use tree after all
                }
                all.append(&mut paths);
                rest = r;
            }
        }
        let (name, rest) = ident(t);
        if name.is_empty() {
            return (vec![vec![]], rest);
        }
        if let Some(r) = rest.strip_prefix("::") {
            let (subs, r) = tree(r);
            return (
                subs.into_iter()
                    .map(|mut p| {
                        p.insert(0, name.to_string());
                        p
                    })
                    .collect(),
                r,
            );
        }
        (vec![vec![name.to_string()]], rest)
    }
    tree(s).0
}

/// The longest prefix of `path` that is a module, or `None`.
fn resolve(path: &[String], modules: &BTreeSet<ModPath>) -> Option<ModPath> {
    (1..=path.len()).rev().map(|n| path[..n].to_vec()).find(|p| modules.contains(p))
}

struct Graph {
    /// File-level edges: module → modules it names.
    edges: BTreeMap<ModPath, BTreeSet<ModPath>>,
}

fn graph() -> Graph {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let modules: BTreeSet<ModPath> = files.iter().map(|f| mod_path(f)).collect();
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for f in &files {
        let me = mod_path(f);
        let code = code_only(&std::fs::read_to_string(f).unwrap());
        let children: Vec<&ModPath> =
            modules.iter().filter(|m| m.len() == me.len() + 1 && m.starts_with(&me)).collect();
        let mut named = Vec::new();
        for (at, _) in code.match_indices("::") {
            // The identifier before `::`, and the text after it.
            let before = &code[..at];
            let start = before.rfind(|c: char| !is_ident(c)).map_or(0, |i| i + 1);
            let word = &before[start..];
            if start >= 2 && &code[start - 2..start] == "::" {
                continue; // the middle of a path, handled from its start
            }
            let rest = &code[at + 2..];
            let base: Option<ModPath> = match word {
                "crate" => Some(vec![]),
                "super" => Some(me[..me.len().saturating_sub(1)].to_vec()),
                "self" => Some(me.clone()),
                w => children
                    .iter()
                    .find(|c| c.last().map(String::as_str) == Some(w))
                    .map(|c| c[..c.len() - 1].to_vec())
                    .map(|mut p| {
                        p.push(w.to_string());
                        p
                    }),
            };
            let Some(base) = base else { continue };
            let tail_paths = if matches!(word, "crate" | "super" | "self") { paths_at(rest) } else { vec![vec![]] };
            for tail in tail_paths {
                let mut full = base.clone();
                full.extend(tail);
                named.push(full);
            }
        }
        for p in named {
            if let Some(target) = resolve(&p, &modules) {
                // A module naming its own ancestors' items (`super::Options`) is not an edge
                // between files of one directory; it is checked at the top level.
                if target != me && !target.is_empty() {
                    edges.entry(me.clone()).or_default().insert(target);
                }
            }
        }
        edges.entry(me).or_default();
    }
    Graph { edges }
}

/// A cycle in `edges`, if any, as the list of its nodes.
fn find_cycle<N: Ord + Clone>(edges: &BTreeMap<N, BTreeSet<N>>) -> Option<Vec<N>> {
    fn visit<N: Ord + Clone>(
        n: &N,
        edges: &BTreeMap<N, BTreeSet<N>>,
        state: &mut BTreeMap<N, u8>,
        stack: &mut Vec<N>,
    ) -> Option<Vec<N>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let from = stack.iter().position(|m| m == n).unwrap();
                return Some(stack[from..].to_vec());
            }
            _ => {}
        }
        state.insert(n.clone(), 1);
        stack.push(n.clone());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(n.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    edges.keys().find_map(|n| visit(n, edges, &mut state, &mut Vec::new()))
}

fn layer_of(top: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, mods)| mods.contains(&top))
}

fn top_level(g: &Graph) -> BTreeMap<String, BTreeSet<String>> {
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in &g.edges {
        let Some(f) = from.first() else { continue };
        let entry = top.entry(f.clone()).or_default();
        for t in tos {
            if t[0] != *f {
                entry.insert(t[0].clone());
            }
        }
    }
    top
}

#[test]
fn every_module_is_in_exactly_one_layer() {
    let g = graph();
    let tops: BTreeSet<String> = g.edges.keys().filter_map(|m| m.first().cloned()).collect();
    let unlisted: Vec<&String> = tops.iter().filter(|t| layer_of(t).is_none()).collect();
    assert!(unlisted.is_empty(), "modules in no layer (add them to LAYERS here and in doc/design.md): {unlisted:?}");
    let listed: Vec<&str> = LAYERS.iter().flat_map(|(_, m)| m.iter().copied()).collect();
    let gone: Vec<&&str> = listed.iter().filter(|m| !tops.contains(**m)).collect();
    assert!(gone.is_empty(), "layers list modules that do not exist: {gone:?}");
    let unique: BTreeSet<&&str> = listed.iter().collect();
    assert_eq!(unique.len(), listed.len(), "a module is listed twice");
}

#[test]
fn no_import_goes_up_a_layer() {
    let g = graph();
    let mut up = Vec::new();
    for (from, tos) in top_level(&g) {
        for to in tos {
            if let (Some(a), Some(b)) = (layer_of(&from), layer_of(&to)) {
                if b > a {
                    up.push(format!("{from} ({}) uses {to} ({})", LAYERS[a].0, LAYERS[b].0));
                }
            }
        }
    }
    assert!(up.is_empty(), "imports that go up a layer:\n  {}", up.join("\n  "));
}

#[test]
fn no_cycle_between_top_level_modules() {
    let top = top_level(&graph());
    assert_eq!(find_cycle(&top), None, "an import cycle between top-level modules");
}

#[test]
fn no_cycle_between_the_files_of_one_directory() {
    let g = graph();
    // Siblings only: a child naming its parent's items (`super::Options`) is the parent's
    // interface, not a knot.
    let mut sib: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (from, tos) in &g.edges {
        let e = sib.entry(from.clone()).or_default();
        for t in tos {
            let parent_of_from = &from[..from.len().saturating_sub(1)];
            if t.len() == from.len() && t.starts_with(parent_of_from) {
                e.insert(t.clone());
            }
        }
    }
    assert_eq!(find_cycle(&sib), None, "an import cycle between the files of one directory");
}

#[test]
fn the_design_document_lists_the_same_layers() {
    let design = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("doc/design.md")).unwrap();
    for (i, (name, mods)) in LAYERS.iter().enumerate() {
        let line =
            format!("{}. **{name}**: {}", i + 1, mods.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "));
        assert!(design.contains(&line), "doc/design.md lacks the layer line:\n{line}");
    }
}

#[test]
fn the_parser_sees_what_it_must() {
    assert_eq!(paths_at("{a::{b, c}, d}"), vec![vec!["a", "b"], vec!["a", "c"], vec!["d"]]);
    assert_eq!(paths_at("keys::hash(x)"), vec![vec!["keys", "hash"]]);
    assert_eq!(code_only("a // crate::x\nb \"crate::y\" c /* crate::z */ d"), "a \nb \"\" c  d");
    assert_eq!(code_only("let r = r#\"crate::q\"#; e"), "let r = r#\"\"; e");
    // A cycle is found, a chain is not.
    let mut e: BTreeMap<u8, BTreeSet<u8>> = BTreeMap::new();
    e.insert(1, [2].into());
    e.insert(2, [3].into());
    e.insert(3, BTreeSet::new());
    assert_eq!(find_cycle(&e), None);
    e.insert(3, [1].into());
    assert!(find_cycle(&e).is_some());
}
