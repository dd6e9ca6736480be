//! Seeded random edit sequences over every asset type: blobs (with aliases), a tile bank fed by
//! a pattern, a tilemap on it, a sound bank; edits, touches, swaps, files dropped into and
//! taken out of folders, parameter changes, adds, moves, forgets and adoptions, and damaged
//! state under build/ and in the cache mixed in. After every few steps the incremental build
//! equals a clean build (SPEC §6 determinism), in strict and non-strict mode.

use crate::formats::{png4, set_metadata, tmx, wav};
use crate::harness::{tick, Rng, Space, OUTPUTS};

struct Blob {
    name: String,
    dir: String,
    file: String,
    registered: bool,
}

/// Contents drawn from a small set, so that edits often return to earlier states (cache hits);
/// most have the same size, so that only the hash can tell them apart.
const CONTENTS: &[&[u8]] = &[b"red.", b"gren", b"blue", b"\x00\x01\x02\x03", b"a longer payload of bytes\n", b""];

/// Map cells: empty, each of the bank's six tiles, one flipped.
const CELLS: &[u32] = &[0, 1, 2, 3, 4, 5, 6, 0x8000_0004];

/// The banks beside the blobs: the tile bank `bank` (a.png, b.png, sometimes c.png; a
/// pattern), the map `map` on it (level.tmx + ground.tsx), the sound bank `sfx`.
struct Banks {
    sfx_dir: String,
    sfx_registered: bool,
    moves: usize,
    non_strict: bool,
    /// What was damaged, for the failure message.
    damaged: Vec<String>,
}

fn add_blob(s: &Space, blobs: &mut Vec<Blob>, rng: &mut Rng) {
    let i = blobs.len();
    let b = Blob {
        name: format!("b{i}"),
        dir: format!("assets/set{}/b{i}", i % 3),
        file: format!("f {i}.bin"),
        registered: true,
    };
    s.write(&format!("{}/{}", b.dir, b.file), CONTENTS[rng.below(CONTENTS.len())]);
    s.packer(&["add", &b.dir, "--type", "blob", "--name", &b.name]).ok();
    blobs.push(b);
}

/// Adds `rel` if it is not there, else removes it (a file dropped into or taken out of a
/// pattern's folder).
fn toggle(s: &Space, rel: &str, bytes: &[u8]) {
    if s.exists(rel) {
        std::fs::remove_file(s.path(rel)).unwrap();
    } else {
        s.write(rel, bytes);
    }
}

/// One random change of a bank, the map, or the state under build/ and the cache.
fn edit_banks(s: &Space, banks: &mut Banks, rng: &mut Rng) -> &'static str {
    let k = rng.below(8) as u8;
    match rng.below(9) {
        0 => {
            s.write("assets/bank/a.png", &png4(16, 8, |x, _| ((x / 8) as u8 + k) % 8));
            "png"
        }
        1 => {
            s.write("assets/bank/b.png", &png4(16, 16, |x, y| ((x / 8 + 2 * (y / 8)) as u8 + k) % 8));
            "png"
        }
        2 => {
            toggle(s, "assets/bank/c.png", &png4(8, 8, |_, _| k));
            "png in/out"
        }
        3 => {
            let cells: Vec<String> = (0..6).map(|_| CELLS[rng.below(CELLS.len())].to_string()).collect();
            s.write(
                "assets/map/level.tmx",
                tmx(&format!("{},\n{}", cells[..3].join(","), cells[3..].join(","))).as_bytes(),
            );
            "map"
        }
        4 => {
            let dir = &banks.sfx_dir;
            s.write(&format!("{dir}/one.wav"), &wav(22050, 1, &[0, 100 * i16::from(k), -100, 32767]));
            toggle(s, &format!("{dir}/sub/three.wav"), &wav(22050, 2, &[i16::from(k); 6]));
            "wav"
        }
        5 if banks.sfx_registered => {
            let decl = format!("{}/asset.json", banks.sfx_dir);
            let rate = [22050, 44100, 48000][rng.below(3)];
            set_metadata(s, &decl, serde_json::json!({"sample_rate": rate, "resample": "linear"}));
            "sample rate"
        }
        6 if banks.sfx_registered => {
            banks.moves += 1;
            let to = format!("assets/moved{}/sfx", banks.moves);
            s.packer(&["mv", "sfx", &to]).ok();
            banks.sfx_dir = to;
            "mv sfx"
        }
        5 | 6 => {
            s.packer(&["adopt", &banks.sfx_dir]).ok();
            banks.sfx_registered = true;
            "adopt sfx"
        }
        7 if banks.sfx_registered => {
            s.packer(&["forget", "sfx"]).ok();
            banks.sfx_registered = false;
            "forget sfx"
        }
        _ => {
            let files = state_files(s, !banks.non_strict);
            let f = &files[rng.below(files.len())];
            let how = crate::damage::ALL[rng.below(crate::damage::ALL.len())];
            crate::damage::damage(f, how);
            banks.damaged.push(format!("{how:?} {}", f.strip_prefix(&s.dir).unwrap_or(f).display()));
            "damage"
        }
    }
}

/// The files packer keeps under build/ and, with `cache`, in the cache (the pack's outputs
/// aside: damaged in place they are repaired by the next gen, not by Ninja, which sees them
/// up to date). Non-strict runs leave the cache alone: there an artifact found by weak key is
/// as right as a rebuilt one, and which one a clean build gets is fixed by the cache — damage
/// the entry a weak key resolved to, and a clean build rightly resolves to another.
fn state_files(s: &Space, cache: bool) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                walk(&e.path(), out);
            } else if t.is_file() {
                out.push(e.path());
            }
        }
    }
    let mut out = Vec::new();
    for d in ["build/obj", "build/keys", "assets/.prometeu/cache"] {
        if cache || !d.contains("cache") {
            walk(&s.path(d), &mut out);
        }
    }
    out.extend(
        ["build/.packer-gen-state", "build/.packer-gates", "build/.packer-plan"]
            .map(|f| s.path(f))
            .into_iter()
            .filter(|p| p.is_file()),
    );
    out.sort();
    out
}

fn run(seed: u64, non_strict: bool) {
    let mut rng = Rng(seed);
    let s = crate::formats::workspace();
    let mut banks =
        Banks { sfx_dir: "assets/sfx".into(), sfx_registered: true, moves: 0, non_strict, damaged: Vec::new() };
    let mut blobs: Vec<Blob> = Vec::new();
    for _ in 0..5 {
        add_blob(&s, &mut blobs, &mut rng);
    }
    // Two aliases of b0 and b1 and the map on the bank: the cross-asset dependencies
    // non-strict mode is about.
    s.packer(&["add", "assets/alias0", "--type", "blob", "--source", "@asset:b0"]).ok();
    s.packer(&["add", "assets/alias1", "--type", "blob", "--source", "@asset:b1"]).ok();
    let mode = if non_strict { "--non-strict" } else { "--strict" };
    s.packer(&["gen", mode]).ok();
    s.ninja(&[]).ok();

    let mut done: std::collections::BTreeMap<&str, usize> = Default::default();
    for edit in 0..EDITS {
        tick();
        let b = rng.below(blobs.len());
        let what = match rng.below(12) {
            0 | 1 => {
                s.touch(&format!("{}/{}", blobs[b].dir, blobs[b].file));
                "touch"
            }
            2 | 3 => {
                s.write(&format!("{}/{}", blobs[b].dir, blobs[b].file), CONTENTS[rng.below(CONTENTS.len())]);
                "edit"
            }
            4 => {
                let c = rng.below(blobs.len());
                let (pb, pc) =
                    (format!("{}/{}", blobs[b].dir, blobs[b].file), format!("{}/{}", blobs[c].dir, blobs[c].file));
                let (xb, xc) = (s.read(&pb), s.read(&pc));
                s.write(&pb, &xc);
                s.write(&pc, &xb);
                "swap"
            }
            5 => {
                add_blob(&s, &mut blobs, &mut rng);
                "add"
            }
            6 if b >= 2 && blobs[b].registered => {
                s.packer(&["forget", &blobs[b].name]).ok();
                blobs[b].registered = false;
                "forget"
            }
            6 if !blobs[b].registered => {
                s.packer(&["adopt", &blobs[b].dir]).ok();
                blobs[b].registered = true;
                "adopt"
            }
            7 if blobs[b].registered => {
                banks.moves += 1;
                let to = format!("assets/moved{}/{}", banks.moves, blobs[b].name);
                s.packer(&["mv", &blobs[b].name, &to]).ok();
                blobs[b].dir = to;
                "mv"
            }
            8 => {
                let stray = format!("{}/stray.txt", blobs[b].dir);
                toggle(&s, &stray, b"not an input");
                "stray"
            }
            _ => edit_banks(&s, &mut banks, &mut rng),
        };
        *done.entry(what).or_default() += 1;
        let r = s.ninja(&[]);
        assert_eq!(r.code, 0, "seed {seed:#x} edit {edit} ({what}): {}{}", r.stdout, r.stderr);
        if edit % 6 == 5 || edit == EDITS - 1 {
            let damaged = banks.damaged.join(", ");
            compare_with_clean(&s, non_strict, &format!("seed {seed:#x} edit {edit} ({what}; damaged: {damaged})"));
        }
    }
    assert!(s.ninja(&[]).ok().edges().is_empty(), "seed {seed:#x}: settles");
    eprintln!("seed {seed:#x}: {done:?}");
}

const EDITS: usize = 60;

/// A clean build of the same assets elsewhere. Non-strict results depend on the cache (which
/// artifact a weak key resolved to first), so that clean build shares the cache; strict ones
/// must not depend on it, so that one starts from an empty cache.
pub fn compare_with_clean(s: &Space, non_strict: bool, what: &str) {
    let clean = s.clone_assets();
    if non_strict {
        let shared = s.path("assets/.prometeu/cache");
        clean.packer(&["gen", "--non-strict", &format!("--cache-dir={}", shared.display())]).ok();
    } else {
        clean.packer(&["gen", "--no-cache"]).ok();
    }
    clean.ninja(&[]).ok();
    for f in OUTPUTS {
        if s.read(f) != clean.read(f) && f.ends_with(".pa") {
            let (a, b) = (crate::harness::Pa::parse(s.read(f)), crate::harness::Pa::parse(clean.read(f)));
            for (x, y) in a.table().iter().zip(b.table()) {
                if x != y {
                    eprintln!("incremental {x}\nclean       {y}");
                }
            }
        }
        assert!(s.read(f) == clean.read(f), "{what}: {f} differs from a clean build");
    }
    if !non_strict {
        for k in std::fs::read_dir(clean.path("build/keys")).unwrap() {
            let name = k.unwrap().file_name().to_string_lossy().into_owned();
            assert_eq!(
                s.read(&format!("build/keys/{name}")),
                clean.read(&format!("build/keys/{name}")),
                "{what}: key {name}"
            );
        }
    }
}

#[test]
fn random_edits_strict_seed_1() {
    run(0x9E37_79B9_7F4A_7C15, false);
}

#[test]
fn random_edits_strict_seed_2() {
    run(0xD1B5_4A32_D192_ED03, false);
}

#[test]
fn random_edits_non_strict_seed_1() {
    run(0x8CB9_2BA7_2F3D_8DD7, true);
}

#[test]
fn random_edits_non_strict_seed_2() {
    run(0x2545_F491_4F6C_DD1D, true);
}

#[test]
fn random_edits_strict_seed_3() {
    run(0x6A09_E667_F3BC_C908, false);
}

#[test]
fn random_edits_non_strict_seed_3() {
    run(0xBB67_AE85_84CA_A73B, true);
}
