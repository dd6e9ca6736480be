//! The workspace the way people work in it: banks whose inputs are patterns follow their
//! folder through plain `ninja`, commands find the workspace from any directory inside it,
//! and `init` inside a workspace refuses.

use crate::formats::{png4, wav};
use crate::harness::{tick, Pa, Run, Space};
use serde_json::Value;

fn tile_count(s: &Space, name: &str) -> u64 {
    let pa = Pa::parse(s.read("build/assets.pa"));
    let e = pa.table().iter().find(|e| e["asset_name"] == name).cloned().expect("asset in the table");
    e["metadata"]["tile_count"].as_u64().expect("tile_count")
}

/// A tile bank added with `packer add` (so with a pattern) holding `a.png`, built.
fn sprite_bank() -> Space {
    let s = Space::new();
    s.write("assets/sprites/a.png", &png4(16, 16, |x, _| (x % 4) as u8));
    s.packer(&["add", "assets/sprites", "--type", "tile_bank"]).ok();
    s.build();
    s
}

#[test]
fn add_writes_a_pattern_for_a_bank() {
    let s = sprite_bank();
    let decl: Value = serde_json::from_slice(&s.read("assets/sprites/asset.json")).unwrap();
    assert_eq!(decl["inputs"], serde_json::json!({"tiles": ["**/*.png"]}));
    assert_eq!(tile_count(&s, "sprites"), 1);
}

#[test]
fn add_spells_the_extensions_as_the_files_do() {
    let s = Space::new();
    s.write("assets/art/A.PNG", &png4(16, 16, |_, _| 1));
    s.write("assets/art/b.png", &png4(16, 16, |_, _| 2));
    s.packer(&["add", "assets/art", "--type", "tile_bank"]).ok();
    let decl: Value = serde_json::from_slice(&s.read("assets/art/asset.json")).unwrap();
    assert_eq!(decl["inputs"]["tiles"], serde_json::json!(["**/*.{PNG,png}"]));
    s.build();
    assert_eq!(tile_count(&s, "art"), 2);
}

#[test]
fn a_png_dropped_into_a_globbed_bank_is_picked_up_by_plain_ninja() {
    let s = sprite_bank();
    tick();
    s.write("assets/sprites/boss.png", &png4(32, 16, |x, y| ((x + y) % 8) as u8));
    s.ninja(&[]).ok();
    assert_eq!(tile_count(&s, "sprites"), 3, "one tile of a.png and two of boss.png");
    let text = s.packer(&["explain", "sprites"]).ok().stdout;
    assert!(text.contains("sources[boss.png]: (none) → "), "explain names the new file:\n{text}");
    assert!(s.ninja(&[]).ok().stdout.contains("no work to do"));

    // And deleted again: the bank shrinks.
    tick();
    std::fs::remove_file(s.path("assets/sprites/boss.png")).unwrap();
    s.ninja(&[]).ok();
    assert_eq!(tile_count(&s, "sprites"), 1);
    let text = s.packer(&["explain", "sprites"]).ok().stdout;
    assert!(text.contains("sources[boss.png]: ") && text.contains(" → (none)"), "explain names the gone file:\n{text}");
}

#[test]
fn a_png_in_a_new_or_an_existing_subdirectory_is_picked_up() {
    let s = Space::new();
    s.write("assets/sprites/hero/a.png", &png4(16, 16, |_, _| 1));
    s.packer(&["add", "assets/sprites", "--type", "tile_bank"]).ok();
    s.build();
    tick();
    // Only hero/'s listing changes: it must be an input of the generator edge.
    s.write("assets/sprites/hero/b.png", &png4(16, 16, |_, _| 2));
    s.ninja(&[]).ok();
    assert_eq!(tile_count(&s, "sprites"), 2);
    tick();
    s.write("assets/sprites/enemies/deep/c.png", &png4(16, 16, |_, _| 3));
    s.ninja(&[]).ok();
    assert_eq!(tile_count(&s, "sprites"), 3);
    // Byte order of the relative paths: enemies/deep/c.png, hero/a.png, hero/b.png.
    let publish: Value = serde_json::from_slice(&s.read("build/obj/1.json")).unwrap();
    let order: Vec<&str> =
        publish["publish"]["tiles"].as_array().unwrap().iter().map(|t| t[0].as_str().unwrap()).collect();
    assert_eq!(order, ["enemies/deep/c.png", "hero/a.png", "hero/b.png"]);
}

#[test]
fn a_wav_added_in_a_subdirectory_under_double_star_is_picked_up() {
    let s = Space::new();
    s.write("assets/sfx/jump.wav", &wav(22050, 1, &[1, 2, 3]));
    s.packer(&["add", "assets/sfx", "--type", "sound_bank"]).ok();
    s.build();
    tick();
    s.write("assets/sfx/ui/click.wav", &wav(22050, 1, &[9, 9]));
    s.ninja(&[]).ok();
    let pa = Pa::parse(s.read("build/assets.pa"));
    let e = pa.table().iter().find(|e| e["asset_name"] == "sfx").cloned().unwrap();
    assert_eq!(e["metadata"]["samples"]["1"]["name"], "ui/click.wav", "{e}");
    assert_eq!(e["metadata"]["samples"]["0"]["name"], "jump.wav");
    assert_eq!(pa.payload("sfx"), [1i16, 2, 3, 9, 9].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>());
}

#[test]
fn a_pattern_matching_nothing_is_a_diagnostic() {
    let s = sprite_bank();
    std::fs::remove_file(s.path("assets/sprites/a.png")).unwrap();
    let r = s.ninja(&[]);
    assert_eq!(r.code, 1);
    let out = format!("{}{}", r.stdout, r.stderr);
    assert!(
        out.contains("assets/sprites/asset.json: error[PK027]: pattern `**/*.png` in inputs.tiles matches no file (asset `sprites`)"),
        "{out}"
    );
}

#[test]
fn explicit_lists_and_palette_of_keep_working_with_patterns() {
    let s = Space::new();
    let rgb = |c: [u8; 3]| {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, 16, 16);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&c.repeat(256)).unwrap();
        drop(w);
        out
    };
    s.write("assets/bank/red.png", &rgb([255, 0, 0]));
    s.write("assets/bank/green.png", &rgb([0, 255, 0]));
    s.write("assets/bank/pal/0.json", br##"{"colors": ["#000000", "#ff0000"]}"##);
    s.write("assets/bank/pal/1.json", br##"{"colors": ["#000000", "#00ff00"]}"##);
    s.packer(&["add", "assets/bank", "--type", "tile_bank"]).ok();
    let mut d: Value = serde_json::from_slice(&s.read("assets/bank/asset.json")).unwrap();
    assert_eq!(d["inputs"]["palettes"], serde_json::json!(["**/*.json"]));
    d["output"]["metadata"] = serde_json::json!({"palette_of": {"green.png": 1}});
    s.write("assets/bank/asset.json", serde_json::to_string(&d).unwrap().as_bytes());
    s.build();
    let pa = Pa::parse(s.read("build/assets.pa"));
    // green.png (first in byte order) is tile 0, all index 1 of palette 1.
    assert_eq!(pa.payload("bank")[0], 0x11);
    // A palette_of naming a file no pattern matches is still caught.
    d["output"]["metadata"] = serde_json::json!({"palette_of": {"blue.png": 1}});
    s.write("assets/bank/asset.json", serde_json::to_string(&d).unwrap().as_bytes());
    let r = s.packer(&["gen"]);
    assert!(
        r.stderr.contains("error[PK024]: palette_of names `blue.png`, which is not in inputs.tiles"),
        "{}",
        r.stderr
    );
}

fn packer_in(s: &Space, sub: &str, args: &[&str]) -> Run {
    crate::harness::Run::from_output(
        std::process::Command::new(crate::harness::packer_bin())
            .args(args)
            .current_dir(s.path(sub))
            .output()
            .expect("run packer"),
    )
}

#[test]
fn commands_run_from_a_subdirectory_find_the_workspace() {
    let s = sprite_bank();
    let list = packer_in(&s, "assets/sprites", &["list"]).ok();
    assert!(list.stdout.contains("sprites"), "{}", list.stdout);
    let status = packer_in(&s, "assets", &["status"]).ok();
    assert!(status.stdout.contains("0 of 2 actions will run"), "{}", status.stdout);
    // A path typed in a subdirectory is relative to it.
    s.write("assets/data/level.bin", b"LEVEL");
    packer_in(&s, "assets/data", &["add", ".", "--type", "blob", "--name", "level"]).ok();
    let shown = packer_in(&s, "assets", &["show", "data", "--json"]).ok();
    assert!(shown.stdout.contains("\"name\": \"level\""), "{}", shown.stdout);
    packer_in(&s, "assets/sprites", &["build"]).ok();
    assert_eq!(Pa::parse(s.read("build/assets.pa")).payload("level"), b"LEVEL");
    assert!(!s.exists("assets/sprites/build"), "built in the project, not where it ran");
    // inspect's default is the workspace's container.
    assert!(packer_in(&s, "assets/data", &["inspect"]).ok().stdout.contains("level"));
}

#[test]
fn init_inside_a_workspace_refuses_unless_forced() {
    let s = sprite_bank();
    let r = packer_in(&s, "assets/sprites", &["init"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let outer = std::fs::canonicalize(&s.dir).unwrap();
    assert!(
        r.stderr.starts_with(&format!("{}/assets/.prometeu/index.json: error[PK020]: ", outer.display())),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("is inside the packer workspace") && r.stderr.contains("fix: "), "{}", r.stderr);
    assert!(!s.exists("assets/sprites/assets"), "no nested workspace");
    packer_in(&s, "assets/sprites", &["init", "--force"]).ok();
    assert!(s.exists("assets/sprites/assets/.prometeu/index.json"));
}
