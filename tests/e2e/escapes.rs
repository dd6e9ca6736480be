//! No reads outside the workspace, and no read that blocks: every route out (a source swapped
//! for a link after gen, an external tileset linked outside, a registered root that is a link
//! out of assets/) is refused where the file is opened, and a FIFO in place of a source, a
//! declaration or the registry is a diagnostic within seconds, never a hang.

use crate::harness::{packer_bin, Space};
use std::process::Command;
use std::time::{Duration, Instant};

/// A file outside the workspace whose bytes must never reach build/.
fn secret(s: &Space) -> std::path::PathBuf {
    let p = s.dir.parent().unwrap().join("outside-secret.txt");
    std::fs::write(&p, b"TOP SECRET, NOT AN ASSET").unwrap();
    p
}

fn nothing_leaked(s: &Space) {
    for dir in ["build", "assets/.prometeu/cache"] {
        let out = Command::new("grep").args(["-rl", "TOP SECRET"]).arg(s.path(dir)).output().unwrap();
        assert!(out.stdout.is_empty(), "leaked into {dir}: {}", String::from_utf8_lossy(&out.stdout));
    }
}

#[test]
fn a_source_swapped_for_a_link_after_gen_is_not_read_by_the_step() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha")]);
    s.packer(&["gen"]).ok();
    let outside = secret(&s);
    std::fs::remove_file(s.path("assets/a/a.bin")).unwrap();
    std::os::unix::fs::symlink(&outside, s.path("assets/a/a.bin")).unwrap();
    // The step, as build.ninja runs it, before any gen could object.
    let r = s.packer(&["step", "blob", "--id=1", "--root=assets/a", "--build-dir=build"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("assets/a/a.bin: error[PK013]: input resolves outside its asset root"), "{}", r.stderr);
    nothing_leaked(&s);
    // And gen refuses it too.
    let r = s.packer(&["gen"]);
    assert!(r.stderr.contains("error[PK013]"), "{}", r.stderr);
}

#[test]
fn an_external_tileset_linked_outside_is_refused() {
    let s = Space::new();
    s.write("assets/bank/a.png", &crate::formats::png4(16, 16, |_, _| 1));
    s.packer(&["add", "assets/bank", "--type", "tile_bank"]).ok();
    s.write(
        "assets/map/m.tmx",
        br#"<?xml version="1.0"?><map version="1.10" orientation="orthogonal" width="1" height="1" tilewidth="16" tileheight="16" infinite="0"><tileset firstgid="1" source="t.tsx"/><layer name="l" width="1" height="1"><data encoding="csv">1</data></layer></map>"#,
    );
    let outside = s.dir.parent().unwrap().join("outside.tsx");
    std::fs::write(&outside, br#"<tileset name="TOP SECRET" tilewidth="16" tileheight="16" tilecount="1" columns="1"><image source="../project/assets/bank/a.png" width="16" height="16"/></tileset>"#).unwrap();
    std::os::unix::fs::symlink(&outside, s.path("assets/map/t.tsx")).unwrap();
    s.packer(&["add", "assets/map", "--type", "tilemap", "--tiles", "bank"]).ok();
    let r = s.packer(&["gen"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("assets/map/t.tsx: error[PK013]"), "{}", r.stderr);
    nothing_leaked(&s);
}

#[test]
fn a_registered_root_that_links_out_of_assets_is_refused_by_gen() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha")]);
    s.build();
    let outside = s.dir.parent().unwrap().join("elsewhere");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("a.bin"), b"TOP SECRET, NOT AN ASSET").unwrap();
    std::fs::copy(s.path("assets/a/asset.json"), outside.join("asset.json")).unwrap();
    std::fs::remove_dir_all(s.path("assets/a")).unwrap();
    std::os::unix::fs::symlink(&outside, s.path("assets/a")).unwrap();
    let r = s.ninja(&[]);
    assert_eq!(r.code, 1);
    let out = format!("{}{}", r.stdout, r.stderr);
    assert!(
        out.contains("assets/a: error[PK013]: the asset root resolves outside assets/ (through a symbolic link)"),
        "{out}"
    );
    nothing_leaked(&s);
}

fn mkfifo(p: &std::path::Path) {
    let _ = std::fs::remove_file(p);
    assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
}

/// `packer gen` in `s` ends within seconds (a blocking open would hang it) with `code`.
#[track_caller]
fn gen_ends_with(s: &Space, code: &str) {
    let started = Instant::now();
    let out = Command::new("timeout").arg("20").arg(packer_bin()).arg("gen").current_dir(&s.dir).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(started.elapsed() < Duration::from_secs(15), "gen hung: {err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("error[{code}]")), "{err}");
}

#[test]
fn fifos_in_place_of_a_source_a_declaration_or_the_registry_are_diagnostics_not_hangs() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha")]);
    mkfifo(&s.path("assets/a/a.bin"));
    gen_ends_with(&s, "PK005");
    // The step too, run as build.ninja would (its key file from an earlier gen).
    let t = Space::with_blobs(&[("a", "a.bin", b"alpha")]);
    t.packer(&["gen"]).ok();
    mkfifo(&t.path("assets/a/a.bin"));
    let out = Command::new("timeout")
        .args(["20"])
        .arg(packer_bin())
        .args(["step", "blob", "--id=1", "--root=assets/a", "--build-dir=build"])
        .current_dir(&t.dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha")]);
    mkfifo(&s.path("assets/a/asset.json"));
    gen_ends_with(&s, "PK002");
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha")]);
    mkfifo(&s.path("assets/.prometeu/index.json"));
    gen_ends_with(&s, "PK001");
}
