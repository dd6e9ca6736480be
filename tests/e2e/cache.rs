//! Keys and the artifact cache (SPEC §6, §7): stable keys, restore on switch, shared caches,
//! corruption, gc, status, explain, verify.

use crate::harness::{tick, Pa, Space, OUTPUTS};
use serde_json::Value;

fn three() -> Space {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha"), ("b", "b.bin", b"beta"), ("c", "c.bin", b"gamma")]);
    s.build();
    s.take_log();
    s
}

fn key_files(s: &Space) -> Vec<Vec<u8>> {
    ["1", "2", "3", "pack"].iter().map(|k| s.read(&format!("build/keys/{k}.key"))).collect()
}

#[test]
fn keys_do_not_depend_on_runs_locations_or_registry_order() {
    let s = three();
    let keys = key_files(&s);
    s.packer(&["gen"]).ok();
    assert_eq!(key_files(&s), keys, "second run");
    // Another absolute location (a clone elsewhere).
    let other = s.clone_assets();
    other.packer(&["gen"]).ok();
    assert_eq!(key_files(&other), keys, "another directory");
    // Registry entries in another order (a hand edit or a merge).
    let mut reg: Value = serde_json::from_slice(&other.read("assets/.prometeu/index.json")).unwrap();
    reg["assets"].as_array_mut().unwrap().reverse();
    other.write("assets/.prometeu/index.json", serde_json::to_string(&reg).unwrap().as_bytes());
    other.packer(&["gen"]).ok();
    assert_eq!(key_files(&other), keys, "registry order");
    // No path or time inside.
    for k in &keys {
        let text = String::from_utf8(k.clone()).unwrap();
        assert!(!text.contains(s.dir.to_str().unwrap()) && !text.contains("build"), "{text}");
    }
}

#[test]
fn switching_a_b_a_restores_without_any_conversion() {
    let s = three();
    let first: Vec<Vec<u8>> = OUTPUTS.iter().map(|f| s.read(f)).collect();
    // A built output and its cache object are files of their own: no path from one to the other.
    let d = blake3::hash(b"alpha").to_hex().to_string();
    let object = format!("assets/.prometeu/cache/cas/{}/{d}", &d[..2]);
    let ino = |p: &str| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(s.path(p)).unwrap());
    assert_ne!(ino("build/obj/1.bin"), ino(&object));
    tick();
    s.write("assets/a/a.bin", b"ALPHA version B");
    s.write("assets/b/b.bin", b"BETA version B");
    s.ninja(&[]).ok();
    assert_eq!(s.conversions(), 3, "B: two blobs and the pack are new");
    tick();
    s.write("assets/a/a.bin", b"alpha");
    s.write("assets/b/b.bin", b"beta");
    let run = s.ninja(&[]).ok();
    let log = s.take_log();
    assert!(!log.is_empty(), "{}", run.stdout);
    assert!(log.iter().all(|(_, o)| o == "restored"), "third build restores, converts nothing: {log:?}");
    // gen restored both blobs and then the pack itself and left their gates shut: Ninja ran
    // no step at all, only gen.
    assert!(log.contains(&("asset/1".to_string(), "restored".to_string())), "{log:?}");
    assert!(log.contains(&("pack".to_string(), "restored".to_string())), "{log:?}");
    assert_eq!(run.edges(), ["packer gen"], "{}", run.stdout);
    for (f, bytes) in OUTPUTS.iter().zip(&first) {
        assert_eq!(&s.read(f), bytes, "{f} equals the first build");
    }
    // Restored by assembly from the artifacts: no copy of the container is in the cache.
    let pa = blake3::hash(&first[0]).to_hex().to_string();
    assert!(!s.exists(&format!("assets/.prometeu/cache/cas/{}/{pa}", &pa[..2])), "no full copy of the pack stored");
    let again = s.ninja(&[]).ok();
    assert!(again.stdout.contains("no work to do"), "{}", again.stdout);
    assert!(s.take_log().is_empty());
    // Restored as a copy of the cache object (a reflink where the filesystem has them), with
    // the object's mtime; writing into it in place cannot reach the object.
    assert_ne!(ino("build/obj/1.bin"), ino(&object));
    assert_eq!(s.mtime("build/obj/1.bin"), s.mtime(&object));
    let e = s.json(&["explain", "a", "--json"]);
    assert_eq!(e["how"], "restored");
    assert_eq!(e["changes"][0]["field"], "sources[a.bin]");
    // A shut gate opens again at the next real change.
    tick();
    s.write("assets/a/a.bin", b"alpha, edited");
    let edit = s.ninja(&[]).ok();
    assert!(edit.stdout.contains("BLOB a"), "{}", edit.stdout);
    assert_eq!(Pa::parse(s.read("build/assets.pa")).payload("a"), b"alpha, edited");
    // Rebuilding the output replaced it; the object it was restored from is untouched.
    assert_eq!(s.read(&object), b"alpha");
    let verify = s.packer(&["cache", "verify"]).ok();
    assert!(!verify.stdout.contains("cas/"), "{}", verify.stdout);
}

#[test]
fn a_second_worktree_sharing_the_cache_converts_nothing() {
    let s = three();
    let shared = s.path("assets/.prometeu/cache").to_str().unwrap().to_string();
    let other = s.clone_assets();
    other.packer(&["gen", &format!("--cache-dir={shared}")]).ok();
    other.ninja(&[]).ok();
    assert_eq!(other.conversions(), 0);
    for f in OUTPUTS {
        assert_eq!(other.read(f), s.read(f), "{f}");
    }
    // The same through the environment variable.
    let third = s.clone_assets();
    third.packer_env(&["gen"], &[("PACKER_CACHE_DIR", &shared)]).ok();
    third.ninja(&[]).ok();
    assert_eq!(third.conversions(), 0);
}

#[test]
fn a_flipped_byte_in_a_cas_object_is_detected_and_rebuilt() {
    let s = three();
    tick();
    s.write("assets/a/a.bin", b"ALPHA");
    s.ninja(&[]).ok();
    s.take_log();
    // Corrupt the cached payload of the original `a`.
    let digest = blake3::hash(b"alpha").to_hex().to_string();
    let obj = s.path(&format!("assets/.prometeu/cache/cas/{}/{digest}", &digest[..2]));
    let mut bytes = std::fs::read(&obj).unwrap();
    bytes[0] ^= 0x01;
    std::fs::write(&obj, bytes).unwrap();
    tick();
    s.write("assets/a/a.bin", b"alpha");
    s.ninja(&[]).ok();
    let log = s.take_log();
    assert!(log.contains(&("asset/1".to_string(), "built".to_string())), "corrupt entry is a miss: {log:?}");
    assert_eq!(Pa::parse(s.read("build/assets.pa")).payload("a"), b"alpha");
    assert_eq!(std::fs::read(&obj).unwrap(), b"alpha", "rebuilt and stored again");
}

#[test]
fn cache_verify_removes_corrupt_entries() {
    let s = three();
    assert!(s.packer(&["cache", "verify"]).ok().stdout.contains("cache ok"));
    let digest = blake3::hash(b"beta").to_hex().to_string();
    let obj = s.path(&format!("assets/.prometeu/cache/cas/{}/{digest}", &digest[..2]));
    std::fs::write(&obj, b"betA").unwrap();
    let r = s.packer(&["cache", "verify"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains(&digest), "{}", r.stdout);
    assert!(!obj.exists());
    // Its action entry referenced the blob: removed in the same pass, so the next is clean.
    assert!(r.stdout.contains(&format!("references missing blob {digest}")), "{}", r.stdout);
    let again = s.packer(&["cache", "verify"]).ok();
    assert!(again.stdout.contains("cache ok"), "{}", again.stdout);
}

#[test]
fn gc_and_stats() {
    let s = three();
    let stats = s.json(&["cache", "stats", "--json"]);
    assert_eq!(stats["ac_entries"], 3, "three blobs: {stats}");
    // The pack's entry holds digests only: its outputs are assembled from the blobs'.
    assert_eq!(stats["assembled_entries"], 1, "the pack: {stats}");
    assert!(stats["assembled_bytes"].as_u64().unwrap() < 1000, "{stats}");
    assert!(stats["cas_objects"].as_u64().unwrap() >= 3);
    let pa = blake3::hash(&s.read("build/assets.pa")).to_hex().to_string();
    assert!(
        !s.exists(&format!("assets/.prometeu/cache/cas/{}/{pa}", &pa[..2])),
        "the container is not copied into the cache"
    );
    let total = stats["total_bytes"].as_u64().unwrap();
    s.packer(&["gc", "--max-size", &(total / 2).to_string()]).ok();
    let after = s.json(&["cache", "stats", "--json"]);
    assert!(after["total_bytes"].as_u64().unwrap() <= total / 2, "{after}");
    s.packer(&["gc", "--max-age", "1h"]).ok();
    assert!(s.json(&["cache", "stats", "--json"])["total_bytes"].as_u64().unwrap() > 0, "recent entries stay");
    s.packer(&["gc", "--max-age", "0"]).ok();
    assert_eq!(s.json(&["cache", "stats", "--json"])["total_bytes"], 0);
    let usage = s.packer(&["gc"]);
    assert_eq!(usage.code, 2, "gc needs a limit: a usage error");
    assert!(
        usage.stderr.starts_with(".: error[PK028]: packer gc needs --max-age and/or --max-size"),
        "{}",
        usage.stderr
    );
}

#[test]
fn gc_evicts_least_recently_used_first() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha")]);
    s.build();
    tick();
    s.write("assets/a/a.bin", b"second");
    s.ninja(&[]).ok();
    // Make every entry old, then use the first version again (restored: its entries are touched).
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for kind in ["cas", "ac", "ac-weak"] {
        for shard in std::fs::read_dir(s.path(&format!("assets/.prometeu/cache/{kind}"))).unwrap() {
            for f in std::fs::read_dir(shard.unwrap().path()).unwrap() {
                std::fs::File::options().append(true).open(f.unwrap().path()).unwrap().set_modified(old).unwrap();
            }
        }
    }
    tick();
    s.write("assets/a/a.bin", b"alpha");
    s.ninja(&[]).ok();
    s.packer(&["gc", "--max-age", "30m"]).ok();
    let d = blake3::hash(b"alpha").to_hex().to_string();
    let d2 = blake3::hash(b"second").to_hex().to_string();
    assert!(s.exists(&format!("assets/.prometeu/cache/cas/{}/{d}", &d[..2])), "recently used stays");
    assert!(!s.exists(&format!("assets/.prometeu/cache/cas/{}/{d2}", &d2[..2])), "unused is evicted");
}

#[test]
fn gc_max_size_evicts_the_least_recently_used_first() {
    // Versions 1, 2, 3 built one after the other, each made older than the next; then 1 is
    // used again (restored). Least recently used is now 2.
    let s = Space::with_blobs(&[("a", "a.bin", &[1u8; 3000])]);
    let age_new = |secs: u64| {
        let now = std::time::SystemTime::now();
        for kind in ["cas", "ac", "ac-weak", "asm"] {
            for shard in std::fs::read_dir(s.path(&format!("assets/.prometeu/cache/{kind}"))).unwrap() {
                for f in std::fs::read_dir(shard.unwrap().path()).unwrap() {
                    let f = std::fs::File::options().append(true).open(f.unwrap().path()).unwrap();
                    let recent = now.duration_since(f.metadata().unwrap().modified().unwrap()).unwrap_or_default();
                    if recent.as_secs() < 600 {
                        f.set_modified(now - std::time::Duration::from_secs(secs)).unwrap();
                    }
                }
            }
        }
    };
    s.build();
    let mut containers = vec![s.read("build/assets.pa")];
    age_new(3 * 3600);
    for (v, age) in [(2u8, 2 * 3600), (3, 3600)] {
        tick();
        s.write("assets/a/a.bin", &[v; 3000]);
        s.ninja(&[]).ok();
        containers.push(s.read("build/assets.pa"));
        age_new(age);
    }
    tick();
    s.write("assets/a/a.bin", &[1u8; 3000]);
    s.ninja(&[]).ok();
    let total = s.json(&["cache", "stats", "--json"])["total_bytes"].as_u64().unwrap();
    s.packer(&["gc", "--max-size", &(total - 3000).to_string()]).ok();
    assert!(s.json(&["cache", "stats", "--json"])["total_bytes"].as_u64().unwrap() <= total - 3000);
    s.take_log();
    // Version 3 (used more recently) still restores; version 2 (least recently used) lost
    // its entries first and converts again.
    for (v, conversions) in [(3u8, 0), (2, 2)] {
        tick();
        s.write("assets/a/a.bin", &[v; 3000]);
        s.ninja(&[]).ok();
        assert_eq!(s.conversions(), conversions, "version {v}");
        assert_eq!(s.read("build/assets.pa"), containers[v as usize - 1]);
    }
}

#[test]
fn status_says_what_will_run_and_why_before_building() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha"), ("b", "b.bin", b"beta")]);
    let st = s.json(&["status", "--json"]);
    assert!(st["actions"].as_array().unwrap().iter().all(|a| a["reasons"][0]["kind"] == "first-build"), "{st}");
    s.build();
    let st = s.json(&["status", "--json"]);
    assert!(st["actions"].as_array().unwrap().iter().all(|a| a["will_run"] == false), "{st}");
    s.take_log();

    s.write("assets/a/a.bin", b"ALPHA");
    let decl =
        String::from_utf8(s.read("assets/b/asset.json")).unwrap().replace("\"enabled\": false", "\"enabled\": true");
    s.write("assets/b/asset.json", decl.as_bytes());
    let st = s.json(&["status", "--json"]);
    let acts = st["actions"].as_array().unwrap();
    assert_eq!(acts[0]["will_run"], true);
    assert_eq!(acts[0]["expect"], "build");
    assert_eq!(acts[0]["reasons"][0]["message"], "source a.bin changed");
    assert_eq!(acts[1]["will_run"], false, "preload is not in the blob's key");
    let pack: Vec<&str> =
        acts[2]["reasons"].as_array().unwrap().iter().map(|r| r["message"].as_str().unwrap()).collect();
    assert!(pack.contains(&"parameter assets[1].preload changed"), "{pack:?}");
    assert!(pack.contains(&"dependency a changed"), "{pack:?}");
    // Status wrote nothing: building afterwards still does the work.
    s.ninja(&[]).ok();
    assert_eq!(s.conversions(), 2);

    // Back to the old content: available in the cache.
    s.write("assets/a/a.bin", b"alpha");
    let st = s.json(&["status", "--json"]);
    assert_eq!(st["actions"][0]["expect"], "restore", "{st}");
    let text = s.packer(&["status"]).ok().stdout;
    assert!(text.contains("available in the cache"), "{text}");
}

#[test]
fn status_reports_a_step_upgrade() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha")]);
    s.build();
    // Pretend the artifact was built by an older converter.
    let mut rec: Value = serde_json::from_slice(&s.read("build/obj/1.rec")).unwrap();
    rec["key"]["doc"]["step-version"] = "blob-0".into();
    s.write("build/obj/1.rec", serde_json::to_string(&rec).unwrap().as_bytes());
    rec["key"]["strong"] = "0".repeat(64).into();
    s.write("build/obj/1.rec", serde_json::to_string(&rec).unwrap().as_bytes());
    let st = s.json(&["status", "--json"]);
    let msg = st["actions"][0]["reasons"][0]["message"].as_str().unwrap();
    assert!(msg.starts_with("step upgraded"), "{msg}");
}

#[test]
fn explain_shows_each_changed_field_and_how_the_output_was_obtained() {
    let s = three();
    let old = blake3::hash(b"beta").to_hex().to_string();
    tick();
    s.write("assets/b/b.bin", b"BETA!");
    s.ninja(&[]).ok();
    let e = s.json(&["explain", "b", "--json"]);
    assert_eq!(e["how"], "built");
    assert_eq!(e["last_run"], "built");
    assert_eq!(e["changes"][0]["field"], "sources[b.bin]");
    assert_eq!(e["changes"][0]["old"], old);
    let text = s.packer(&["explain", "2"]).ok().stdout;
    assert!(text.contains(&format!("sources[b.bin]: {}… → ", &old[..8])), "{text}");
    assert!(text.contains("rebuilt"), "{text}");
    let p = s.json(&["explain", "pack", "--json"]);
    assert_eq!(p["changes"][0]["field"], "dependencies-strong[asset/2]");
    let r = s.packer(&["explain", "nobody"]);
    assert_eq!(r.code, 1);
}

#[test]
fn verify_passes_on_a_good_build_and_reports_a_tampered_one() {
    let s = three();
    let ok = s.json(&["verify", "--json"]);
    assert_eq!(ok["differences"], Value::Array(vec![]));
    assert!(ok["compared"].as_u64().unwrap() >= 10);
    s.write("build/obj/2.bin", b"tampered");
    let r = s.packer(&["verify"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("build/obj/2.bin: differs") && r.stdout.contains("(b)"), "{}", r.stdout);
    assert!(r.stderr.contains("PK023"), "{}", r.stderr);
}

#[test]
fn corrupt_fingerprints_are_rebuilt_silently() {
    let s = three();
    s.write("assets/.prometeu/cache/fingerprints.json", b"\x00not json");
    let r = s.packer(&["gen"]).ok();
    assert!(!r.stderr.contains("error"), "{}", r.stderr);
    let fp: Value = serde_json::from_slice(&s.read("assets/.prometeu/cache/fingerprints.json")).unwrap();
    assert_eq!(fp["files"]["assets/a/a.bin"]["blake3"], blake3::hash(b"alpha").to_hex().as_str());
    std::fs::remove_file(s.path("assets/.prometeu/cache/fingerprints.json")).unwrap();
    s.packer(&["gen"]).ok();
    assert!(s.exists("assets/.prometeu/cache/fingerprints.json"));
}

#[test]
fn fingerprints_skip_rehashing_unchanged_old_files() {
    let s = three();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    for f in ["assets/a/a.bin", "assets/b/b.bin", "assets/c/c.bin"] {
        std::fs::File::options().write(true).open(s.path(f)).unwrap().set_modified(old).unwrap();
    }
    s.packer(&["gen"]).ok();
    // Past gen's own fast path (which would skip the whole run), to the fingerprints.
    std::fs::remove_file(s.path("build/.packer-gen-state")).unwrap();
    let r = s.packer(&["gen"]).ok();
    assert!(r.stderr.contains("0 files hashed"), "{}", r.stderr);
    s.write("assets/b/b.bin", b"new");
    std::fs::remove_file(s.path("build/.packer-gen-state")).unwrap();
    let r = s.packer(&["gen"]).ok();
    assert!(r.stderr.contains("1 files hashed"), "{}", r.stderr);
}

#[test]
fn two_worktrees_building_at_once_share_one_cache_safely() {
    let blobs: Vec<(String, String, Vec<u8>)> = (0..40)
        .map(|i| (format!("set/a{i}"), format!("f{i}.bin"), format!("payload {}", i % 7).into_bytes()))
        .collect();
    let refs: Vec<(&str, &str, &[u8])> = blobs.iter().map(|(d, f, b)| (d.as_str(), f.as_str(), b.as_slice())).collect();
    let a = Space::with_blobs(&refs);
    let b = a.clone_assets();
    let shared = a.path("shared cache");
    let flag = format!("--cache-dir={}", shared.display());
    a.packer(&["gen", &flag]).ok();
    b.packer(&["gen", &flag]).ok();
    let bin = crate::harness::ninja_bin();
    let spawn = |s: &Space| std::process::Command::new(&bin).args(["-j", "16"]).current_dir(&s.dir).spawn().unwrap();
    let (mut pa, mut pb) = (spawn(&a), spawn(&b));
    assert!(pa.wait().unwrap().success() && pb.wait().unwrap().success());
    for f in OUTPUTS {
        assert_eq!(a.read(f), b.read(f), "{f}");
    }
    let v = a.packer(&["cache", "verify", &flag]).ok();
    assert!(v.stdout.contains("cache ok"), "{}", v.stdout);
    // Identical payloads share one CAS object.
    let stats = a.json(&["cache", "stats", "--json", &flag]);
    assert!(stats["cas_objects"].as_u64().unwrap() < 40 + 40, "{stats}");
}
