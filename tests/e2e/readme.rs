//! The README is executable: every shell block of its tour ("A tour" up to "For Ninja
//! users") runs, copy-pasted, in order, in one shell, in a directory that has the repository's
//! `fixtures/` beside it, as in a checkout; the `text` block after a shell block is what it
//! prints. Each shown line must appear in that output, in order; `…` in a shown line stands
//! for any text (a uuid, a hash's tail, a path).

use crate::harness::Space;
use crate::integrate::{bin_dir, repo};

/// One shell block of the tour and the output shown after it, if any.
struct Block {
    commands: String,
    shown: Vec<String>,
}

/// The tour's blocks, in order.
fn tour() -> Vec<Block> {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let start = readme.find("\n## A tour").expect("README has a tour");
    let end = readme[start..].find("\n## For Ninja users").expect("the tour ends before the Ninja section") + start;
    let mut blocks: Vec<Block> = Vec::new();
    let mut lines = readme[start..end].lines();
    while let Some(line) = lines.next() {
        let Some(lang) = line.strip_prefix("```") else { continue };
        let body: Vec<String> = lines.by_ref().take_while(|l| !l.starts_with("```")).map(String::from).collect();
        match lang {
            "sh" => blocks.push(Block { commands: body.join("\n"), shown: Vec::new() }),
            "text" => blocks.last_mut().expect("an output block follows a shell block").shown = body,
            _ => {}
        }
    }
    blocks
}

/// Whether `actual` is `shown`, reading `…` in `shown` as any text.
fn line_matches(shown: &str, actual: &str) -> bool {
    let parts: Vec<&str> = shown.split('…').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return shown == actual;
    }
    if !actual.starts_with(first) || !actual[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &actual[first.len()..actual.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

#[test]
fn the_tour_runs_as_written() {
    let blocks = tour();
    assert!(blocks.len() >= 8, "the tour has its blocks");
    assert!(blocks.iter().filter(|b| !b.shown.is_empty()).count() >= 6, "and shows their output");
    let s = Space::empty();
    let top = s.dir.parent().unwrap().to_path_buf();
    std::os::unix::fs::symlink(repo("fixtures"), top.join("fixtures")).unwrap();
    let bin = bin_dir(&s);
    let mut script = String::from("exec 2>&1\nset -e\n");
    for (i, b) in blocks.iter().enumerate() {
        script.push_str(&format!("echo '@@@ block {i}'\n{}\n", b.commands));
    }
    script.push_str("echo '@@@ end'\n");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&top)
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()))
        .env("NO_COLOR", "1")
        .env_remove("PACKER_CACHE_DIR")
        .env_remove("PACKER_NON_STRICT")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success() && text.ends_with("@@@ end\n"), "the tour stopped:\n{text}");
    assert!(!text.contains("error["), "no diagnostic on the way:\n{text}");
    for (i, b) in blocks.iter().enumerate() {
        let from = text.find(&format!("@@@ block {i}\n")).unwrap();
        let printed = &text[from..text[from + 1..].find("@@@ ").map(|n| n + from + 1).unwrap_or(text.len())];
        let mut actual = printed.lines().skip(1);
        for shown in &b.shown {
            assert!(
                actual.any(|a| line_matches(shown, a)),
                "block {i}:\n{}\nshows the line\n{shown}\nwhich is not in what it printed (in order):\n{printed}",
                b.commands
            );
        }
    }
    assert!(top.join("mygame/build/assets.pa").is_file());
}

#[test]
fn shown_lines_match_with_ellipses_as_wildcards() {
    assert!(line_matches("a … b", "a xyz b"));
    assert!(line_matches("sources[x]: 9f58… → ae4e…", "sources[x]: 9f58… → ae4e…"));
    assert!(!line_matches("sources[x]: 9f58… → ae4e…", "sources[x]: 1234… → ae4e…"));
    assert!(line_matches("exact", "exact") && !line_matches("exact", "exactly"));
    assert!(!line_matches("a…b…c", "a-c-b"));
}
