//! Seeded random edit sequences: after every step of the sequence, the incremental build
//! equals a clean build (SPEC §6 determinism), in strict and non-strict mode.

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

fn run(seed: u64, non_strict: bool) {
    let mut rng = Rng(seed);
    let s = Space::new();
    let mut blobs: Vec<Blob> = Vec::new();
    let add = |s: &Space, blobs: &mut Vec<Blob>, rng: &mut Rng| {
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
    };
    for _ in 0..5 {
        add(&s, &mut blobs, &mut rng);
    }
    // Two aliases of b0 and b1: the cross-asset dependencies non-strict mode is about.
    s.packer(&["add", "assets/alias0", "--type", "blob", "--source", "@asset:b0"]).ok();
    s.packer(&["add", "assets/alias1", "--type", "blob", "--source", "@asset:b1"]).ok();
    let mode = if non_strict { "--non-strict" } else { "--strict" };
    s.packer(&["gen", mode]).ok();
    s.ninja(&[]).ok();

    let mut moves = 0;
    for edit in 0..60 {
        tick();
        let b = rng.below(blobs.len());
        let what = match rng.below(10) {
            0 | 1 => {
                s.touch(&format!("{}/{}", blobs[b].dir, blobs[b].file));
                "touch"
            }
            2..=4 => {
                s.write(&format!("{}/{}", blobs[b].dir, blobs[b].file), CONTENTS[rng.below(CONTENTS.len())]);
                "edit"
            }
            5 => {
                let c = rng.below(blobs.len());
                let (pb, pc) =
                    (format!("{}/{}", blobs[b].dir, blobs[b].file), format!("{}/{}", blobs[c].dir, blobs[c].file));
                let (xb, xc) = (s.read(&pb), s.read(&pc));
                s.write(&pb, &xc);
                s.write(&pc, &xb);
                "swap"
            }
            6 => {
                add(&s, &mut blobs, &mut rng);
                "add"
            }
            7 if b >= 2 && blobs[b].registered => {
                s.packer(&["forget", &blobs[b].name]).ok();
                blobs[b].registered = false;
                "forget"
            }
            7 if !blobs[b].registered => {
                s.packer(&["adopt", &blobs[b].dir]).ok();
                blobs[b].registered = true;
                "adopt"
            }
            8 if blobs[b].registered => {
                moves += 1;
                let to = format!("assets/moved{moves}/{}", blobs[b].name);
                s.packer(&["mv", &blobs[b].name, &to]).ok();
                blobs[b].dir = to;
                "mv"
            }
            _ => {
                let stray = format!("{}/stray.txt", blobs[b].dir);
                if s.exists(&stray) {
                    std::fs::remove_file(s.path(&stray)).unwrap();
                } else {
                    s.write(&stray, b"not an input");
                }
                "stray"
            }
        };
        let r = s.ninja(&[]);
        assert_eq!(r.code, 0, "seed {seed} edit {edit} ({what}): {}{}", r.stdout, r.stderr);
        if edit % 6 == 5 || edit == 59 {
            compare_with_clean(&s, non_strict, &format!("seed {seed} edit {edit} ({what})"));
        }
    }
    assert!(s.ninja(&[]).ok().edges().is_empty(), "seed {seed}: settles");
}

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
