//! Input patterns: an `asset.json` input entry such as `*.png`, `**/*.wav` or `sfx/?.wav`,
//! expanded below the asset root into the files it matches, in byte order of their
//! `/`-separated relative paths.
//!
//! The trap this module exists for: a pattern's result depends on directory *listings*, not
//! only on files. Ninja re-runs gen when an input's mtime changes, and a directory's mtime
//! changes when an entry is added, removed or renamed in it — so [`Expansion::walked`] lists
//! every directory whose listing was read, and gen makes each one an input of the generator
//! edge (and of its own fast path). A directory the walk did not need (a sibling of `sfx/`
//! for `sfx/*.wav`) is not listed: a file dropped there cannot change the result.
//!
//! Rules, the ones a shell user expects: `*`, `?`, `[…]` and `{a,b}` match within one path
//! component (globset, with `/` never matched by a wildcard); a component `**` matches any
//! number of directories, zero included; a name starting with `.` is matched only by a
//! pattern component that starts with `.` (hidden files and directories stay out of `*` and
//! `**`); `asset.json` at the root is never an input, and a directory holding its own
//! `asset.json` (another asset's root) is not entered; symbolic links to directories are not
//! followed (a link to a file is matched, and gen's input checks decide whether it escapes).

use crate::relpath::RelPath;
use std::path::Path;

/// The characters that make an input entry a pattern.
const META: &[char] = &['*', '?', '[', '{'];

/// Whether an input entry is a pattern rather than a file path.
pub fn is_pattern(s: &str) -> bool {
    s.contains(META)
}

/// A parsed pattern: its components.
#[derive(Clone, Debug)]
pub struct Pattern {
    text: String,
    parts: Vec<Part>,
}

#[derive(Clone, Debug)]
enum Part {
    /// `**`: any number of directories.
    AnyDirs,
    /// One component; `hidden` when it starts with `.` (may match hidden names).
    Name { matcher: globset::GlobMatcher, hidden: bool },
}

/// What a pattern matched.
#[derive(Debug, Default, PartialEq)]
pub struct Expansion {
    /// Matched files, relative to the root, in byte order.
    pub files: Vec<RelPath>,
    /// Directories whose listing decided the result, relative to the root (`None`: the root).
    pub walked: Vec<Option<RelPath>>,
}

impl Pattern {
    /// Parses a pattern; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        if text.starts_with('/') {
            return Err("a pattern is relative to the asset root; it cannot start with `/`".into());
        }
        let mut parts = Vec::new();
        for c in text.split('/') {
            match c {
                "" | "." => {}
                ".." => return Err("a pattern cannot leave the asset root through `..`".into()),
                "**" if matches!(parts.last(), Some(Part::AnyDirs)) => {}
                "**" => parts.push(Part::AnyDirs),
                c if c.contains("**") => {
                    return Err(format!("`**` must be a whole path component (`**/{}`)", c.replace("**", "*")))
                }
                c => {
                    let glob = globset::GlobBuilder::new(c)
                        .literal_separator(true)
                        .backslash_escape(false)
                        .build()
                        .map_err(|e| e.kind().to_string())?;
                    parts.push(Part::Name { matcher: glob.compile_matcher(), hidden: c.starts_with('.') });
                }
            }
        }
        match parts.last() {
            None => Err("the pattern is empty".into()),
            Some(Part::AnyDirs) => Err("a pattern must end with a file name component (`**/*.png`)".into()),
            Some(_) => Ok(Pattern { text: text.to_string(), parts }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether a root-relative file path matches (for `palette_of` keys and similar).
    pub fn matches(&self, path: &str) -> bool {
        let names: Vec<&str> = path.split('/').collect();
        matches_from(&self.parts, &names)
    }

    /// Lists the matching files below `root`. A directory that cannot be read counts as empty
    /// (and as walked, so that its appearance re-runs gen).
    pub fn expand(&self, root: &Path) -> Expansion {
        let mut found = Expansion::default();
        let mut files = Vec::new();
        walk(root, None, &self.parts, &mut files, &mut found.walked);
        files.retain(|f: &RelPath| f.as_str() != crate::layout::DECLARATION);
        files.sort_by(|a, b| a.as_str().as_bytes().cmp(b.as_str().as_bytes()));
        files.dedup();
        found.walked.sort();
        found.walked.dedup();
        found.files = files;
        found
    }
}

fn name_matches(part: &Part, name: &str) -> bool {
    match part {
        Part::AnyDirs => !name.starts_with('.'),
        Part::Name { matcher, hidden } => (*hidden || !name.starts_with('.')) && matcher.is_match(name),
    }
}

fn matches_from(parts: &[Part], names: &[&str]) -> bool {
    match (parts.first(), names.first()) {
        (None, None) => true,
        (None, Some(_)) => false,
        (Some(Part::AnyDirs), _) => {
            matches_from(&parts[1..], names)
                || (names.len() > 1 && name_matches(&parts[0], names[0]) && matches_from(parts, &names[1..]))
        }
        (Some(p), Some(n)) => name_matches(p, n) && matches_from(&parts[1..], &names[1..]),
        (Some(_), None) => false,
    }
}

fn child(dir: &Option<RelPath>, name: &str) -> Option<RelPath> {
    let rel = RelPath::parse(name).ok()?;
    Some(match dir {
        Some(d) => d.join(&rel),
        None => rel,
    })
}

/// Matches `parts` against the entries of `root/dir`, recording the directory as walked.
fn walk(
    root: &Path,
    dir: Option<RelPath>,
    parts: &[Part],
    files: &mut Vec<RelPath>,
    walked: &mut Vec<Option<RelPath>>,
) {
    let Some(first) = parts.first() else { return };
    let on_disk = match &dir {
        Some(d) => d.under(root),
        None => root.to_path_buf(),
    };
    walked.push(dir.clone());
    let Ok(entries) = std::fs::read_dir(&on_disk) else { return };
    let mut entries: Vec<(String, std::fs::FileType)> =
        entries.flatten().filter_map(|e| Some((e.file_name().into_string().ok()?, e.file_type().ok()?))).collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    // A directory below the root that holds an asset.json is another asset's root: its files
    // are that asset's, never this one's.
    if dir.is_some() && entries.iter().any(|(n, ty)| n == crate::layout::DECLARATION && !ty.is_dir()) {
        return;
    }
    if let Part::AnyDirs = first {
        // Zero directories: the rest of the pattern right here (this listing, already read).
        walk_entries(root, &dir, &entries, &parts[1..], files, walked);
        for (name, ty) in &entries {
            if ty.is_dir() && name_matches(first, name) {
                if let Some(sub) = child(&dir, name) {
                    walk(root, Some(sub), parts, files, walked);
                }
            }
        }
        return;
    }
    walk_entries(root, &dir, &entries, parts, files, walked);
}

/// Matches the first of `parts` (a name component) against the listed `entries` of `dir`.
fn walk_entries(
    root: &Path,
    dir: &Option<RelPath>,
    entries: &[(String, std::fs::FileType)],
    parts: &[Part],
    files: &mut Vec<RelPath>,
    walked: &mut Vec<Option<RelPath>>,
) {
    let Some(first) = parts.first() else { return };
    if let Part::AnyDirs = first {
        // Not reached: parse folds `**/**` into one.
        walk(root, dir.clone(), parts, files, walked);
        return;
    }
    for (name, ty) in entries {
        if !name_matches(first, name) {
            continue;
        }
        let Some(path) = child(dir, name) else { continue };
        if parts.len() == 1 {
            if !ty.is_dir() {
                files.push(path);
            }
        } else if ty.is_dir() {
            walk(root, Some(path), &parts[1..], files, walked);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        for f in files {
            let p = t.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"x").unwrap();
        }
        t
    }

    fn expand(t: &tempfile::TempDir, pattern: &str) -> (Vec<String>, Vec<String>) {
        let e = Pattern::parse(pattern).unwrap().expand(t.path());
        (
            e.files.iter().map(|f| f.to_string()).collect(),
            e.walked.iter().map(|d| d.as_ref().map(|d| d.to_string()).unwrap_or_default()).collect(),
        )
    }

    const FILES: &[&str] = &[
        "asset.json",
        "b.png",
        "a.png",
        "B.png",
        "notes.txt",
        ".hidden.png",
        "sub/c.png",
        "sub/deeper/d.png",
        ".git/x.png",
        "nested/asset.json",
        "nested/n.png",
        "sfx/1.wav",
        "sfx/22.wav",
        "other/3.wav",
    ];

    #[test]
    fn star_matches_one_component_in_byte_order() {
        let t = tree(FILES);
        let (files, walked) = expand(&t, "*.png");
        assert_eq!(files, ["B.png", "a.png", "b.png"], "byte order, hidden files left out");
        assert_eq!(walked, [""], "only the root was listed");
    }

    #[test]
    fn double_star_walks_every_visible_directory() {
        let t = tree(FILES);
        let (files, walked) = expand(&t, "**/*.png");
        assert_eq!(files, ["B.png", "a.png", "b.png", "sub/c.png", "sub/deeper/d.png"]);
        assert_eq!(walked, ["", "nested", "other", "sfx", "sub", "sub/deeper"], "not .git");
        assert!(!files.contains(&"nested/n.png".to_string()), "another asset's root is not entered");
    }

    #[test]
    fn a_literal_directory_bounds_the_walk() {
        let t = tree(FILES);
        let (files, walked) = expand(&t, "sfx/?.wav");
        assert_eq!(files, ["sfx/1.wav"]);
        assert_eq!(walked, ["", "sfx"]);
        assert_eq!(expand(&t, "sfx/*.wav").0, ["sfx/1.wav", "sfx/22.wav"]);
        assert_eq!(expand(&t, "{sfx,other}/*.wav").0, ["other/3.wav", "sfx/1.wav", "sfx/22.wav"]);
        assert_eq!(expand(&t, "[ab].png").0, ["a.png", "b.png"]);
        assert_eq!(expand(&t, ".*.png").0, [".hidden.png"], "a dotted component matches dotted names");
    }

    #[test]
    fn the_declaration_is_never_an_input_and_nothing_matches_in_a_missing_directory() {
        let t = tree(FILES);
        assert!(!expand(&t, "*").0.contains(&"asset.json".to_string()));
        assert_eq!(expand(&t, "sub/asset.json").0, Vec::<String>::new(), "no such file");
        let (files, walked) = expand(&t, "missing/*.wav");
        assert!(files.is_empty());
        assert_eq!(walked, [""], "the root, where `missing` would appear");
    }

    #[test]
    fn matching_a_path_follows_the_same_rules() {
        let p = Pattern::parse("**/*.png").unwrap();
        assert!(p.matches("a.png") && p.matches("x/y/a.png"));
        assert!(!p.matches(".git/a.png") && !p.matches("a.wav"));
        assert!(Pattern::parse("*.png").unwrap().matches("a.png"));
        assert!(!Pattern::parse("*.png").unwrap().matches("x/a.png"), "`*` never crosses `/`");
    }

    #[test]
    fn malformed_patterns_say_why() {
        assert!(Pattern::parse("../*.png").unwrap_err().contains(".."));
        assert!(Pattern::parse("/abs/*.png").unwrap_err().contains("relative"));
        assert!(Pattern::parse("a**.png").unwrap_err().contains("whole path component"));
        assert!(Pattern::parse("sprites/**").unwrap_err().contains("file name"));
        assert!(Pattern::parse("[a.png").is_err());
        assert!(is_pattern("*.png") && is_pattern("a[1].png") && !is_pattern("plain name.png"));
    }
}
