//! Damaged state never ships and never wedges: each kind of file packer keeps under build/
//! and in the cache is truncated, flipped (mtime kept, as disk damage would), deleted, or
//! replaced by a directory, a symbolic link or a FIFO; the next plain `ninja` succeeds and
//! its outputs equal a clean build's, and so does the build after an edit.

use crate::harness::{copy_dir, ninja_bin, Space, OUTPUTS};
use crate::integrate::repo;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The demo workspace, built twice (so that `.prev` files exist), with the cache inside.
fn template() -> Space {
    let s = Space::empty();
    copy_dir(&repo("fixtures/demo/assets"), &s.path("assets"));
    s.build();
    s.write("assets/data/level1/level1.bin", b"LEVEL DATA, second build");
    s.ninja(&[]).ok();
    s
}

/// The outputs of a clean build of `s`'s assets, elsewhere, without its cache.
fn clean_outputs(s: &Space) -> Vec<Vec<u8>> {
    let c = s.clone_assets();
    c.packer(&["gen", "--no-cache"]).ok();
    c.ninja(&[]).ok();
    OUTPUTS.iter().map(|f| c.read(f)).collect()
}

/// `cp -a`: the copy keeps mtimes, so Ninja's log still describes it.
fn copy_space(from: &Space) -> Space {
    let s = Space::empty();
    std::fs::remove_dir(&s.dir).unwrap();
    let ok = Command::new("cp").arg("-a").arg(&from.dir).arg(&s.dir).status().unwrap().success();
    assert!(ok, "cp -a");
    s
}

#[derive(Clone, Copy, Debug)]
pub enum Damage {
    Truncate,
    Flip,
    Delete,
    Directory,
    Symlink,
    Fifo,
}

pub const ALL: [Damage; 6] =
    [Damage::Truncate, Damage::Flip, Damage::Delete, Damage::Directory, Damage::Symlink, Damage::Fifo];

pub fn damage(path: &Path, how: Damage) {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match how {
        Damage::Truncate => {
            let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            f.set_len(meta.len() / 2).unwrap();
        }
        Damage::Flip => {
            use std::os::unix::fs::FileExt;
            let f = std::fs::OpenOptions::new().read(true).write(true).open(path).unwrap();
            let at = meta.len() / 2;
            let mut b = [0u8; 1];
            // An empty file (the lock) gets a byte instead.
            let _ = f.read_exact_at(&mut b, at);
            f.write_all_at(&[b[0] ^ 0x5a], at).unwrap();
            f.set_modified(meta.modified().unwrap()).unwrap();
        }
        Damage::Delete => std::fs::remove_file(path).unwrap(),
        Damage::Directory => {
            std::fs::remove_file(path).unwrap();
            std::fs::create_dir(path).unwrap();
            std::fs::write(path.join("inside"), b"x").unwrap();
        }
        Damage::Symlink => {
            std::fs::remove_file(path).unwrap();
            std::os::unix::fs::symlink("/etc/passwd", path).unwrap();
        }
        Damage::Fifo => {
            std::fs::remove_file(path).unwrap();
            let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
            assert!(ok, "mkfifo");
        }
    }
}

/// One representative of each kind of file, relative to the project.
fn targets(s: &Space) -> Vec<String> {
    // The tile bank (asset 4, with a memo, a dependency of the map) and the pack.
    let rec: serde_json::Value = serde_json::from_slice(&s.read("build/obj/4.rec")).unwrap();
    let payload = rec["outputs"]["payload"]["blake3"].as_str().unwrap().to_string();
    let strong = rec["key"]["strong"].as_str().unwrap().to_string();
    let weak = rec["key"]["weak"].as_str().unwrap().to_string();
    let cache = "assets/.prometeu/cache";
    let mut t: Vec<String> = [
        "build/keys/4.key",
        "build/keys/1.prev",
        "build/keys/pack.key",
        "build/obj/4.bin",
        "build/obj/4.json",
        "build/obj/4.rec",
        "build/obj/4.memo",
        "build/obj/1.prev",
        "build/obj/pack.rec",
        "build/obj/steps.log",
        "build/.packer-gen-state",
        "build/.packer-gates",
        "build/.packer-lock",
    ]
    .map(String::from)
    .to_vec();
    t.push(format!("{cache}/fingerprints.json"));
    t.push(format!("{cache}/cas/{}/{payload}", &payload[..2]));
    t.push(format!("{cache}/ac/{}/{strong}", &strong[..2]));
    t.push(format!("{cache}/ac-weak/{}/{weak}", &weak[..2]));
    for f in &t {
        assert!(s.path(f).exists() || std::fs::symlink_metadata(s.path(f)).is_ok(), "{f} exists in the template");
    }
    t
}

#[track_caller]
fn assert_outputs(s: &Space, expected: &[Vec<u8>], what: &str) {
    for (f, bytes) in OUTPUTS.iter().zip(expected) {
        assert!(&s.read(f) == bytes, "{what}: {f} differs from a clean build");
    }
}

fn ninja_in(dir: &PathBuf) -> (bool, String) {
    // Bounded: a blocking read (a FIFO) is a failure, not a hung suite.
    let out = Command::new("timeout").arg("20").arg(ninja_bin()).current_dir(dir).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn every_kind_of_damaged_state_is_repaired_by_the_next_build() {
    let template = template();
    let before = clean_outputs(&template);
    let edited_level = b"LEVEL DATA, edited after the damage";
    let after = {
        let e = copy_space(&template);
        e.write("assets/data/level1/level1.bin", edited_level);
        clean_outputs(&e)
    };
    let mut failures = Vec::new();
    for target in targets(&template) {
        for how in ALL {
            let s = copy_space(&template);
            damage(&s.path(&target), how);
            let what = format!("{target} {how:?}");
            let (ok, out) = ninja_in(&s.dir);
            if !ok {
                failures.push(format!("{what}: ninja failed:\n{out}"));
                continue;
            }
            let read = |f: &str| std::fs::read(s.path(f)).unwrap_or_default();
            if OUTPUTS.iter().zip(&before).any(|(f, b)| &read(f) != b) {
                failures.push(format!("{what}: outputs differ from a clean build after ninja:\n{out}"));
                continue;
            }
            s.write("assets/data/level1/level1.bin", edited_level);
            let (ok, out) = ninja_in(&s.dir);
            if !ok || OUTPUTS.iter().zip(&after).any(|(f, b)| &read(f) != b) {
                failures.push(format!("{what}: the build after an edit is wrong (ok: {ok}):\n{out}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} cases failed:\n{}", failures.len(), failures.join("\n---\n"));
    assert_outputs(&template, &before, "the template");
}

#[test]
fn temp_files_left_by_a_killed_process_are_swept_by_the_next_gen_and_by_gc() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha")]);
    s.build();
    for f in ["build/.packer-tmpAAAA", "build/obj/.packer-tmpBBBB", "build/keys/.packer-tmpCCCC"] {
        s.write(f, b"half written");
    }
    let shard = std::fs::read_dir(s.path("assets/.prometeu/cache/cas")).unwrap().next().unwrap().unwrap().path();
    let cached_tmp = shard.join(".packer-tmpDDDD");
    std::fs::write(&cached_tmp, b"half written").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options().write(true).open(&cached_tmp).unwrap().set_modified(old).unwrap();
    s.write("assets/a/a.bin", b"alpha, edited");
    s.ninja(&[]).ok();
    for f in ["build/.packer-tmpAAAA", "build/obj/.packer-tmpBBBB", "build/keys/.packer-tmpCCCC"] {
        assert!(!s.exists(f), "{f} swept by gen");
    }
    assert!(cached_tmp.exists(), "a shared cache's temp files are left to gc");
    s.packer(&["gc", "--max-age", "30d"]).ok();
    assert!(!cached_tmp.exists(), "swept by gc");
}
