//! Mistakes caught where they are made, each with its exact diagnostic in the one form
//! `path: error[PKnnn]: message` plus a `fix:` line: nothing is written when a command
//! refuses.

use crate::formats::png4;
use crate::harness::{Run, Space};

/// A workspace with a tile bank `sprites`, a blob `level1` and a map directory not yet added.
fn game() -> Space {
    let s = Space::new();
    s.write("assets/sprites/a.png", &png4(16, 16, |_, _| 1));
    s.packer(&["add", "assets/sprites", "--type", "tile_bank"]).ok();
    s.write("assets/data/level1/level1.bin", b"L1");
    s.packer(&["add", "assets/data/level1", "--type", "blob"]).ok();
    s.write("assets/maps/level1/level1.tmx", b"<map/>");
    s
}

/// The run failed with `code`, its first line is exactly `first`, and a fix follows.
#[track_caller]
fn refused(r: &Run, exit: i32, first: &str) -> String {
    assert_eq!(r.code, exit, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    let mut lines = r.stderr.lines();
    assert_eq!(lines.next(), Some(first), "{}", r.stderr);
    let fix = lines.next().unwrap_or_default();
    assert!(fix.starts_with("  fix: "), "a fix line follows: {}", r.stderr);
    fix.to_string()
}

#[track_caller]
fn nothing_written(s: &Space, before: &[u8], dir: &str) {
    assert_eq!(s.read("assets/.prometeu/index.json"), before, "registry untouched");
    assert!(!s.exists(&format!("{dir}/asset.json")), "no asset.json written");
}

#[test]
fn a_misspelt_tile_bank_is_refused_with_a_suggestion() {
    let s = game();
    let before = s.read("assets/.prometeu/index.json");
    let r = s.packer(&["add", "assets/maps/level1", "--type", "tilemap", "--tiles", "sprits", "--name", "level1_map"]);
    let fix = refused(
        &r,
        1,
        "assets/maps/level1: error[PK017]: --tiles `sprits` names no registered asset; did you mean `sprites`?",
    );
    assert_eq!(fix, "  fix: registered tile banks: sprites");
    nothing_written(&s, &before, "assets/maps/level1");
    // A registered asset of another type.
    let r = s.packer(&["add", "assets/maps/level1", "--type", "tilemap", "--tiles", "level1", "--name", "m"]);
    refused(&r, 1, "assets/maps/level1: error[PK025]: --tiles `level1` is a blob, not a tile_bank");
}

#[test]
fn a_missing_source_is_refused() {
    let s = game();
    s.write("assets/data/level2/level2.bin", b"L2");
    let before = s.read("assets/.prometeu/index.json");
    let r = s.packer(&["add", "assets/data/level2", "--type", "blob", "--source", "levle2.bin"]);
    refused(
        &r,
        1,
        "assets/data/level2/levle2.bin: error[PK005]: --source `levle2.bin` is not a file in assets/data/level2",
    );
    nothing_written(&s, &before, "assets/data/level2");
}

#[test]
fn a_taken_name_is_refused_with_a_free_one_proposed() {
    let s = game();
    let before = s.read("assets/.prometeu/index.json");
    let r = s.packer(&["add", "assets/maps/level1", "--type", "tilemap", "--tiles", "sprites"]);
    let fix = refused(&r, 1, "assets/maps/level1: error[PK008]: name `level1` is already used by `data/level1`");
    assert_eq!(fix, "  fix: pass --name level1_map (free), or another name");
    nothing_written(&s, &before, "assets/maps/level1");
}

#[test]
fn unknown_assets_and_types_get_the_closest_match() {
    let s = game();
    let r = s.packer(&["show", "sprits"]);
    refused(
        &r,
        1,
        "assets/.prometeu/index.json: error[PK020]: no registered asset matches `sprits`; did you mean `sprites`?",
    );
    let r = s.packer(&["add", "assets/maps/level1", "--type", "tilebank"]);
    let first = r.stderr.lines().next().unwrap_or_default().to_string();
    assert_eq!(r.code, 2, "a usage error");
    assert!(first.starts_with(".: error[PK028]: invalid value 'tilebank' for '--type <TY>'"), "{first}");
    assert!(first.contains("did you mean `tile_bank`?"), "{first}");
    let r = s.packer(&["stauts"]);
    let fix = refused(&r, 2, ".: error[PK028]: unrecognized subcommand 'stauts'");
    assert!(fix.contains("a similar subcommand exists: 'status'"), "{fix}");
    let r = s.packer(&["step", "tile", "--root", "x", "--out", "y"]);
    let fix = refused(&r, 2, ".: error[PK028]: unrecognized subcommand 'tile'");
    assert!(fix.contains("'tiles'"), "{fix}");
}

#[test]
fn a_truecolour_png_without_a_palette_file_says_a_palette_file_is_needed() {
    let s = Space::new();
    let mut png = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png, 16, 16);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&[200, 10, 10, 255].repeat(256)).unwrap();
    }
    s.write("assets/art/hero.png", &png);
    s.packer(&["add", "assets/art", "--type", "tile_bank"]).ok();
    s.packer(&["gen"]).ok();
    let r = s.ninja(&[]);
    assert_eq!(r.code, 1);
    let out = format!("{}{}", r.stdout, r.stderr);
    assert!(
        out.contains("assets/art/hero.png: error[PK044]: a truecolour PNG needs a palette file to be matched against, and the bank has none"),
        "{out}"
    );
    assert!(out.contains("fix: create assets/art/palette.json"), "{out}");
}

#[test]
fn io_errors_and_usage_errors_take_the_one_form() {
    let s = Space::new();
    let r = s.packer(&["inspect"]);
    let first = r.stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("build/assets.pa: error[PK019]: cannot read the container: "), "{}", r.stderr);
    assert_eq!(r.code, 1);
    let r = s.packer(&["add"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.starts_with(".: error[PK028]: the following required arguments were not provided"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("fix: usage: packer add"), "{}", r.stderr);
    // No workspace above: PK001 naming where it looked.
    let bare = Space::empty();
    let r = bare.packer(&["list"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with("./assets/.prometeu/index.json: error[PK001]: cannot read the registry"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_misspelt_reference_in_a_hand_written_declaration_gets_the_closest_match_at_gen() {
    let s = game();
    s.write("assets/data/alias/asset.json", br#"{"schema_version":1,"asset_uuid":"u-alias","name":"alias","type":"blob","inputs":{"source":["@asset:levle1"]},"output":{"format":"BLOB/raw_v1","codec":"NONE"},"preload":{"enabled":false}}"#);
    s.packer(&["adopt", "assets/data/alias"]).ok();
    let r = s.packer(&["gen"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("assets/data/alias/asset.json: error[PK017]: `@asset:levle1` names no registered asset included in the build; did you mean `level1`? (asset `alias`)"),
        "{}",
        r.stderr
    );
}
