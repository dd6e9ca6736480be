//! Real asset formats end to end (SPEC §3): tile banks from PNGs, sound banks from WAVs, tile
//! maps from Tiled files, with per-input incrementality and discovered dependencies.

use crate::harness::{tick, Pa, Space};

use serde_json::Value;

/// A `w`×`h` 4-bit indexed PNG with an 8-colour palette; `px(x, y)` gives the index.
pub fn png4(w: u32, h: u32, px: impl Fn(u32, u32) -> u8) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Indexed);
        enc.set_depth(png::BitDepth::Four);
        let plte: Vec<u8> = (0..8u8).flat_map(|i| [i * 32, 255 - i * 32, i * 16]).collect();
        enc.set_palette(plte);
        let mut wr = enc.write_header().unwrap();
        let mut data = Vec::new();
        for y in 0..h {
            for x in (0..w).step_by(2) {
                data.push((px(x, y) << 4) | px(x + 1, y));
            }
        }
        wr.write_image_data(&data).unwrap();
    }
    out
}

/// A mono 16-bit WAV at `rate` with the given samples.
pub fn wav(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
        for s in samples {
            w.write_sample(*s).unwrap();
        }
        w.finalize().unwrap();
    }
    cursor.into_inner()
}

const TSX: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<tileset version="1.10" name="ground" tilewidth="8" tileheight="8" tilecount="4" columns="2">
 <image source="../bank/b.png" width="16" height="16"/>
</tileset>
"#;

pub fn tmx(csv: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<map version="1.10" orientation="orthogonal" renderorder="right-down" width="3" height="2" tilewidth="8" tileheight="8" infinite="0">
 <tileset firstgid="1" name="a" tilewidth="8" tileheight="8" tilecount="2" columns="2">
  <image source="../bank/a.png" width="16" height="8"/>
 </tileset>
 <tileset firstgid="3" source="ground.tsx"/>
 <layer id="1" name="floor" width="3" height="2">
  <data encoding="csv">{csv}</data>
 </layer>
</map>
"#
    )
}

/// A bank `bank` (a.png 16×8 → tiles 0–1, b.png 16×16 → tiles 2–5), a sound bank and a map.
pub fn workspace() -> Space {
    let s = Space::new();
    s.write("assets/bank/a.png", &png4(16, 8, |x, _| (x / 8) as u8 + 1));
    s.write("assets/bank/b.png", &png4(16, 16, |x, y| ((x / 8) + 2 * (y / 8)) as u8 + 3));
    s.packer(&["add", "assets/bank", "--type", "tile_bank", "--name", "bank"]).ok();
    set_metadata(&s, "assets/bank/asset.json", serde_json::json!({"tile_size": 8}));
    s.write("assets/sfx/one.wav", &wav(22050, 1, &[0, 100, -100, 32767]));
    s.write("assets/sfx/two.wav", &wav(22050, 2, &[-3, 0, 3, 0]));
    s.packer(&["add", "assets/sfx", "--type", "sound_bank"]).ok();
    s.write("assets/map/ground.tsx", TSX.as_bytes());
    s.write("assets/map/level.tmx", tmx("1,2,0,\n3,2147483652,6").as_bytes());
    s.packer(&["add", "assets/map", "--type", "tilemap", "--tiles", "bank"]).ok();
    s
}

/// Sets `output.metadata` of a declaration.
pub fn set_metadata(s: &Space, decl: &str, metadata: Value) {
    let mut d: Value = serde_json::from_slice(&s.read(decl)).unwrap();
    d["output"]["metadata"] = metadata;
    s.write(decl, serde_json::to_string_pretty(&d).unwrap().as_bytes());
}

fn entry<'a>(pa: &'a Pa, name: &str) -> &'a Value {
    pa.table().iter().find(|e| e["asset_name"] == name).unwrap()
}

#[test]
fn each_type_builds_with_the_table_entries_of_the_spec() {
    let s = workspace();
    s.build();
    let pa = Pa::parse(s.read("build/assets.pa"));

    let bank = entry(&pa, "bank");
    assert_eq!(bank["bank_type"], "TILES");
    assert_eq!(bank["size"], 34816);
    assert_eq!(bank["decoded_size"], 65536 + 2048);
    assert_eq!(
        bank["metadata"],
        serde_json::json!({"tile_size": 8, "width": 256, "height": 256, "tile_count": 6, "palette_count": 64, "palette_authored": 0})
    );
    // Sheet row 0: tiles 0–5 side by side, two pixels a byte, left pixel in the low nibble.
    let sheet = pa.payload("bank");
    let row0: Vec<u8> = [0x11u8, 0x22, 0x33, 0x44, 0x55, 0x66].iter().flat_map(|b| [*b; 4]).collect();
    assert_eq!(&sheet[..24], row0.as_slice());
    assert!(sheet[24..128].iter().all(|&b| b == 0), "the rest of the sheet row is empty");
    // Palette 0 is the first PNG's PLTE: entry 0 #00ff00 → RGB565 0x07E0; entry 1 #20df10 →
    // (0x20>>3)<<11 | (0xdf>>2)<<5 | 0x10>>3 = 0x2000 | 0x06E0 | 0x2 = 0x26E2; little-endian.
    assert_eq!(&sheet[32768..32772], &[0xE0, 0x07, 0xE2, 0x26]);

    let map = entry(&pa, "map");
    assert_eq!(map["bank_type"], "TILEMAP");
    assert_eq!(map["metadata"]["layers"], serde_json::json!([{"name": "floor", "width": 3, "height": 2, "offset": 0}]));
    assert_eq!(pa.payload("map"), &[0x00, 0x00, 0x01, 0x00, 0xFF, 0xFF, 0x02, 0x00, 0x03, 0x80, 0x05, 0x00]);

    let sfx = entry(&pa, "sfx");
    assert_eq!(sfx["bank_type"], "SOUNDS");
    assert_eq!(sfx["metadata"]["sample_rate"], 22050);
    assert_eq!(sfx["metadata"]["channels"], 1);
    assert_eq!(sfx["metadata"]["samples"]["0"], serde_json::json!({"name": "one.wav", "offset": 0, "frames": 4}));
    assert_eq!(sfx["metadata"]["samples"]["1"], serde_json::json!({"name": "two.wav", "offset": 8, "frames": 2}));
    let expect: Vec<u8> = [0i16, 100, -100, 32767, -2, 1].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(pa.payload("sfx"), expect.as_slice());
}

/// A tile bank of 50 PNGs and a map that uses it.
fn big_bank() -> Space {
    let s = Space::new();
    for i in 0..50u32 {
        s.write(&format!("assets/bank/p{i:02}.png"), &png4(16, 16, |x, y| ((x + y + i) % 8) as u8));
    }
    s.packer(&["add", "assets/bank", "--type", "tile_bank", "--name", "bank"]).ok();
    set_metadata(&s, "assets/bank/asset.json", serde_json::json!({"tile_size": 16}));
    let map = r#"<?xml version="1.0" encoding="UTF-8"?>
<map version="1.10" orientation="orthogonal" width="2" height="1" tilewidth="16" tileheight="16" infinite="0">
 <tileset firstgid="1" name="p07" tilewidth="16" tileheight="16" tilecount="1" columns="1"><image source="../bank/p07.png" width="16" height="16"/></tileset>
 <layer id="1" name="l" width="2" height="1"><data encoding="csv">1,0</data></layer>
</map>"#;
    s.write("assets/map/m.tmx", map.as_bytes());
    s.packer(&["add", "assets/map", "--type", "tilemap", "--tiles", "bank"]).ok();
    s.add_blob("other", "o.bin", b"unrelated");
    s.build();
    s.take_log();
    s
}

#[test]
fn editing_one_png_of_fifty_decodes_that_png_only() {
    let s = big_bank();
    tick();
    s.write("assets/bank/p13.png", &png4(16, 16, |x, _| (x % 4) as u8));
    let run = s.ninja(&[]).ok();
    let edges = run.edges();
    assert!(edges.contains(&"TILES bank (50 inputs)".to_string()), "readable descriptions: {edges:?}");
    let mut log = s.take_log();
    log.sort();
    let built = |a: &str| (a.to_string(), "built".to_string());
    assert_eq!(
        log,
        [built("asset/1"), built("asset/1 p13.png"), built("asset/2"), built("pack")],
        "one decode, the bank's assembly, the map and the pack; nothing else"
    );
    assert_eq!(Pa::parse(s.read("build/assets.pa")).table().len(), 3);
}

#[test]
fn after_one_png_edit_the_bank_step_reads_only_that_png() {
    // The other 49 come from the bank's memo of its last build, by the hashes gen gave them:
    // removing them after gen shows that the step never opens them.
    let s = big_bank();
    tick();
    s.write("assets/bank/p13.png", &png4(16, 16, |x, _| (x % 4) as u8));
    s.packer(&["gen"]).ok();
    let saved: Vec<(String, Vec<u8>)> = (0..50)
        .filter(|&i| i != 13)
        .map(|i| format!("assets/bank/p{i:02}.png"))
        .map(|p| {
            let b = s.read(&p);
            std::fs::remove_file(s.path(&p)).unwrap();
            (p, b)
        })
        .collect();
    let step = ["step", "tiles", "--id=1", "--root=assets/bank", "--build-dir=build", "--cache=assets/.prometeu/cache"];
    s.packer(&step).ok();
    assert_eq!(
        s.take_log(),
        [("asset/1 p13.png".to_string(), "built".to_string()), ("asset/1".into(), "built".into())]
    );
    for (p, b) in &saved {
        s.write(p, b);
    }
    let clean = s.clone_assets();
    clean.build();
    assert_eq!(s.read("build/obj/1.bin"), clean.read("build/obj/1.bin"), "the same sheet as a clean build");
}

#[test]
fn a_png_edited_after_gen_is_decoded_and_recorded_under_its_real_hash() {
    let s = big_bank();
    tick();
    s.write("assets/bank/p13.png", &png4(16, 16, |x, _| (x % 4) as u8));
    s.packer(&["gen"]).ok();
    let planned: Value = serde_json::from_slice(&s.read("build/keys/1.key")).unwrap();
    // Edited again between gen and the step, and a memo damaged on top: neither may leak in.
    let later = png4(16, 16, |_, y| (y % 8) as u8);
    s.write("assets/bank/p13.png", &later);
    let mut memo = s.read("build/obj/1.memo");
    let mid = memo.len() / 2;
    memo[mid] ^= 0xff;
    s.write("build/obj/1.memo", &memo);
    let step = ["step", "tiles", "--id=1", "--root=assets/bank", "--build-dir=build", "--cache=assets/.prometeu/cache"];
    s.packer(&step).ok();
    let rec: Value = serde_json::from_slice(&s.read("build/obj/1.rec")).unwrap();
    let source = |doc: &Value| {
        doc["sources"].as_array().unwrap().iter().find(|x| x["name"] == "p13.png").unwrap()["key"].clone()
    };
    assert_eq!(source(&rec["key"]["doc"]), serde_json::json!(blake3::hash(&later).to_hex().to_string()));
    assert_ne!(rec["key"]["strong"], planned["strong"], "recorded under the key of what was read");
    let clean = s.clone_assets();
    clean.build();
    assert_eq!(s.read("build/obj/1.bin"), clean.read("build/obj/1.bin"));
    // The next ninja re-plans (the source is newer than gen's run) and settles.
    s.ninja(&[]).ok();
    assert_eq!(s.read("build/assets.pa"), clean.read("build/assets.pa"));
}

#[test]
fn editing_one_wav_of_a_sound_bank_converts_that_wav_only() {
    let s = workspace();
    s.write("assets/sfx/three.wav", &wav(22050, 1, &[5, 6, 7]));
    let mut d: Value = serde_json::from_slice(&s.read("assets/sfx/asset.json")).unwrap();
    d["inputs"]["samples"].as_array_mut().unwrap().push("three.wav".into());
    s.write("assets/sfx/asset.json", d.to_string().as_bytes());
    s.build();
    let mut log = s.take_log();
    log.retain(|(a, o)| a.starts_with("asset/2 ") && o == "built");
    assert_eq!(log.len(), 3, "a clean build converts each WAV once: {log:?}");
    tick();
    s.write("assets/sfx/two.wav", &wav(22050, 2, &[9, 9, -9, -9]));
    s.ninja(&[]).ok();
    let mut log = s.take_log();
    log.sort();
    let built = |a: &str| (a.to_string(), "built".to_string());
    assert_eq!(log, [built("asset/2"), built("asset/2 two.wav"), built("pack")]);
    let clean = s.clone_assets();
    clean.build();
    assert_eq!(s.read("build/assets.pa"), clean.read("build/assets.pa"));
}

#[test]
fn a_b_a_with_a_dependant_map_leaves_the_map_and_the_pack_to_their_steps() {
    // gen restores the bank (no dependencies) itself; the map depends on it, so its step
    // restores it, and the pack, whose key waits on the map's record, is restored by its step.
    let s = big_bank();
    let first = s.read("build/assets.pa");
    let a = s.read("assets/bank/p07.png");
    tick();
    s.write("assets/bank/p07.png", &png4(16, 16, |x, y| ((x * y) % 8) as u8));
    s.ninja(&[]).ok();
    s.take_log();
    tick();
    s.write("assets/bank/p07.png", &a);
    let run = s.ninja(&[]).ok();
    let mut edges = run.edges();
    edges.sort();
    assert_eq!(edges, ["PACK 3 assets", "TILEMAP map", "packer gen"], "{}", run.stdout);
    let log = s.take_log();
    assert!(log.iter().all(|(_, o)| o == "restored"), "nothing converted: {log:?}");
    assert_eq!(s.read("build/assets.pa"), first);
    let again = s.ninja(&["-d", "explain"]).ok();
    assert!(again.edges().is_empty(), "{}{}", again.stdout, again.stderr);
}

#[test]
fn moving_a_map_and_its_bank_together_converts_neither() {
    // The map's key holds where the bank is as seen from the map, not where both are.
    let s = big_bank();
    let before = s.read("build/obj/2.bin");
    s.packer(&["mv", "bank", "assets/game/bank"]).ok();
    s.packer(&["mv", "map", "assets/game/map"]).ok();
    s.ninja(&[]).ok();
    let converted: Vec<_> = s.take_log().into_iter().filter(|(a, o)| o == "built" && a.starts_with("asset/")).collect();
    assert!(converted.is_empty(), "{converted:?}");
    assert_eq!(s.read("build/obj/2.bin"), before);
    // Moving only the map changes what its tileset paths point at: a diagnostic, not a
    // stale payload.
    s.packer(&["mv", "map", "assets/elsewhere/map"]).ok();
    let r = s.ninja(&[]);
    assert_ne!(r.code, 0);
    assert!(format!("{}{}", r.stdout, r.stderr).contains("error[PK0"), "{}{}", r.stdout, r.stderr);
}

#[test]
fn a_clean_build_of_a_large_bank_decodes_on_every_core() {
    // Each per-input conversion is logged with the worker that ran it.
    let s = Space::new();
    for i in 0..200u32 {
        s.write(&format!("assets/bank/p{i:03}.png"), &png4(16, 16, |x, y| ((x * 3 + y + i) % 16) as u8));
    }
    s.packer(&["add", "assets/bank", "--type", "tile_bank", "--name", "bank"]).ok();
    s.build();
    let log = std::fs::read_to_string(s.path("build/obj/steps.log")).unwrap();
    let mut workers: Vec<u64> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["input"].is_string())
        .map(|v| v["worker"].as_u64().unwrap())
        .collect();
    assert_eq!(workers.len(), 200, "each PNG decoded once");
    workers.sort();
    workers.dedup();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    assert_eq!(workers.len(), cores.min(200), "decodes ran on {workers:?} of {cores} cores");
}

#[test]
fn touching_all_fifty_pngs_runs_gen_and_no_step() {
    let s = big_bank();
    tick();
    s.touch_all(&(0..50).map(|i| format!("assets/bank/p{i:02}.png")).collect::<Vec<_>>());
    assert_eq!(s.ninja(&[]).ok().edges(), ["packer gen"]);
    assert!(s.take_log().is_empty());
}

#[test]
fn a_clean_bank_build_decodes_every_png_once_and_a_cached_one_none() {
    let s = big_bank();
    let other = s.clone_assets();
    other.build();
    let log = other.take_log();
    assert_eq!(log.iter().filter(|(a, _)| a.starts_with("asset/1 ")).count(), 50);
    // A worktree sharing the cache decodes nothing.
    let third = s.clone_assets();
    let shared = format!("--cache-dir={}", s.path("assets/.prometeu/cache").display());
    third.packer(&["gen", &shared]).ok();
    third.ninja(&[]).ok();
    assert_eq!(third.conversions(), 0);
}

#[test]
fn editing_an_external_tileset_rebuilds_the_map_by_ninja_alone() {
    let s = workspace();
    s.build();
    s.take_log();
    let before = Pa::parse(s.read("build/assets.pa")).payload("map").to_vec();
    tick();
    // Point the ground tileset at a.png instead: gid 3 becomes a.png's tile 0.
    s.write(
        "assets/map/ground.tsx",
        TSX.replace("../bank/b.png", "../bank/a.png").replace("tilecount=\"4\"", "tilecount=\"2\"").as_bytes(),
    );
    let r = s.ninja(&[]);
    // gid 6 is now past a.png's two tiles: the step names the map and the cell.
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("assets/map/level.tmx: error[PK043]"), "{}", r.stdout);
    tick();
    s.write("assets/map/level.tmx", tmx("1,2,0,\n3,2147483652,4").as_bytes());
    s.ninja(&[]).ok();
    let after = Pa::parse(s.read("build/assets.pa")).payload("map").to_vec();
    assert_ne!(before, after);
    assert_eq!(&after[6..], &[0x00, 0x00, 0x01, 0x80, 0x01, 0x00]);
    let e = s.json(&["explain", "map", "--json"]);
    let fields: Vec<&str> = e["changes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"sources[ground.tsx]"), "{fields:?}");
}

#[test]
fn format_errors_are_diagnostics_naming_the_file_through_ninja() {
    let s = workspace();
    s.build();
    let before = s.read("build/assets.pa");
    tick();
    s.write("assets/bank/a.png", b"\x89PNG\r\n\x1a\ntruncated");
    let r = s.ninja(&[]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("assets/bank/a.png: error[PK030]"), "{}", r.stdout);
    assert!(!r.stdout.contains("panicked") && !r.stderr.contains("panicked"));
    assert_eq!(s.read("build/assets.pa"), before, "nothing half-written");

    s.write("assets/bank/a.png", &png4(16, 8, |x, _| if x == 5 { 15 } else { 1 }));
    s.write("assets/sfx/two.wav", &wav(44100, 1, &[1, 2, 3]));
    let r = s.ninja(&["-k", "0"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("assets/sfx/two.wav: error[PK038]"), "{}", r.stdout);
}

#[test]
fn index_16_names_the_first_offending_pixel() {
    let s = Space::new();
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, 8, 8);
        enc.set_color(png::ColorType::Indexed);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_palette(vec![0u8; 3 * 32]);
        let mut w = enc.write_header().unwrap();
        let mut data = vec![0u8; 64];
        data[2 * 8 + 5] = 17;
        data[7 * 8] = 20;
        w.write_image_data(&data).unwrap();
    }
    s.write("assets/b/x.png", &out);
    s.packer(&["add", "assets/b", "--type", "tile_bank"]).ok();
    set_metadata(&s, "assets/b/asset.json", serde_json::json!({"tile_size": 8}));
    s.packer(&["gen"]).ok();
    let r = s.ninja(&[]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("assets/b/x.png: error[PK031]: pixel (5, 2) has palette index 17"), "{}", r.stdout);
}

#[test]
fn truecolour_pngs_map_through_palette_files_and_palette_of() {
    let s = Space::new();
    let rgb = |w: u32, h: u32, px: &dyn Fn(u32, u32) -> [u8; 4]| {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().unwrap();
        let data: Vec<u8> = (0..h).flat_map(|y| (0..w).flat_map(move |x| px(x, y))).collect();
        wr.write_image_data(&data).unwrap();
        drop(wr);
        out
    };
    s.write("assets/t/a.png", &rgb(8, 8, &|x, _| if x < 4 { [255, 0, 0, 255] } else { [0, 0, 0, 0] }));
    s.write("assets/t/b.png", &rgb(8, 8, &|_, _| [0, 0, 255, 255]));
    s.write("assets/t/warm.json", br##"{"colors": ["#000000", "#ff0000"]}"##);
    s.write("assets/t/cold.json", br##"{"colors": ["#000000", "#00ff00", "#0000ff"]}"##);
    s.packer(&["add", "assets/t", "--type", "tile_bank"]).ok();
    let mut d: Value = serde_json::from_slice(&s.read("assets/t/asset.json")).unwrap();
    d["inputs"]["palettes"] = serde_json::json!(["warm.json", "cold.json"]);
    d["output"]["metadata"] = serde_json::json!({"tile_size": 8, "palette_of": {"b.png": 1}});
    s.write("assets/t/asset.json", serde_json::to_string(&d).unwrap().as_bytes());
    s.build();
    let pa = Pa::parse(s.read("build/assets.pa"));
    let sheet = pa.payload("t");
    assert_eq!(&sheet[0..4], &[0x11, 0x11, 0x00, 0x00], "red → 1, transparent → 0");
    assert_eq!(&sheet[4..8], &[0x22, 0x22, 0x22, 0x22], "blue → index 2 of palette 1");
    assert_eq!(entry(&pa, "t")["metadata"]["palette_authored"], 2);
    // Palette 1 (cold) starts at 32768 + 16 × 2; its entry 2 is #0000ff → 0x001F.
    assert_eq!(&sheet[32768 + 32 + 4..32768 + 32 + 6], &[0x1F, 0x00]);
}

#[test]
fn sound_banks_resample_linearly_when_asked() {
    let s = Space::new();
    s.write("assets/s/hi.wav", &wav(44100, 1, &[0, 100, 200, 300]));
    s.packer(&["add", "assets/s", "--type", "sound_bank"]).ok();
    s.packer(&["gen"]).ok();
    let r = s.ninja(&[]);
    assert!(r.stdout.contains("error[PK038]"), "{}", r.stdout);
    set_metadata(&s, "assets/s/asset.json", serde_json::json!({"resample": "linear"}));
    s.ninja(&[]).ok();
    let pa = Pa::parse(s.read("build/assets.pa"));
    let expect: Vec<u8> = [0i16, 200].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(pa.payload("s"), expect.as_slice());
}

#[test]
fn declaration_problems_of_the_new_types_block_gen() {
    let s = workspace();
    set_metadata(&s, "assets/bank/asset.json", serde_json::json!({"tile_size": 12}));
    let r = s.packer(&["gen"]);
    assert!(r.stderr.contains("assets/bank/asset.json: error[PK024]: tile_size must be 8, 16 or 32"), "{}", r.stderr);
    set_metadata(&s, "assets/bank/asset.json", serde_json::json!({"tile_size": 8}));
    let mut d: Value = serde_json::from_slice(&s.read("assets/map/asset.json")).unwrap();
    d["inputs"]["tiles"] = serde_json::json!(["@asset:sfx"]);
    s.write("assets/map/asset.json", serde_json::to_string(&d).unwrap().as_bytes());
    let r = s.packer(&["gen"]);
    assert!(r.stderr.contains("error[PK025]"), "{}", r.stderr);
    set_metadata(&s, "assets/sfx/asset.json", serde_json::json!({"sample_rate": 8000}));
    let r = s.packer(&["gen"]);
    assert!(r.stderr.contains("assets/sfx/asset.json: error[PK024]"), "{}", r.stderr);
    std::fs::remove_file(s.path("assets/map/ground.tsx")).unwrap();
    let r = s.packer(&["gen"]);
    assert!(r.stderr.contains("assets/map/ground.tsx: error[PK026]"), "{}", r.stderr);
}

#[test]
fn malformed_maps_and_palettes_are_diagnostics_not_panics() {
    let s = workspace();
    s.build();
    for (file, bytes, code) in [
        ("assets/map/level.tmx", &b"<map orientation=\"orthogonal\" width=\"3\""[..], "PK039"),
        ("assets/map/level.tmx", &tmx("1,2").into_bytes()[..], "PK041"),
        ("assets/map/level.tmx", &tmx("1,2,0,\n3,4,6").replace("orthogonal", "isometric").into_bytes()[..], "PK040"),
        ("assets/map/level.tmx", &tmx("1,2,0,\n3,4,99").into_bytes()[..], "PK043"),
    ] {
        tick();
        s.write(file, bytes);
        let r = s.ninja(&[]);
        assert_eq!(r.code, 1, "{file}");
        assert!(r.stdout.contains(&format!("{file}: error[{code}]")), "{code}: {}", r.stdout);
        assert!(!r.stdout.contains("panicked"));
    }
    // A .tmj map, truncated.
    s.write("assets/map/level.tmx", tmx("1,2,0,\n3,4,6").as_bytes());
    s.ninja(&[]).ok();
    s.write("assets/pal/a.png", &png4(8, 8, |_, _| 1));
    s.write("assets/pal/p.json", br##"{"colors": ["#12345"]}"##);
    s.packer(&["add", "assets/pal", "--type", "tile_bank"]).ok();
    set_metadata(&s, "assets/pal/asset.json", serde_json::json!({"tile_size": 8}));
    let r = s.ninja(&[]);
    assert!(r.stdout.contains("assets/pal/p.json: error[PK035]"), "{}", r.stdout);
    s.write("assets/pal/p.json", br##"{"colors": ["#123456"]}"##);
    std::fs::remove_file(s.path("assets/map/level.tmx")).unwrap();
    s.write("assets/map/level.tmj", br#"{"orientation": "orthogonal", "width": 3, "he"#);
    let mut d: Value = serde_json::from_slice(&s.read("assets/map/asset.json")).unwrap();
    d["inputs"]["map"] = serde_json::json!(["level.tmj"]);
    s.write("assets/map/asset.json", serde_json::to_string(&d).unwrap().as_bytes());
    let r = s.ninja(&[]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("assets/map/level.tmj: error[PK039]"), "{}", r.stdout);
}
