//! Workspace commands over the registry (SPEC §2, §8) and regeneration by plain `ninja`.

use crate::harness::{tick, Pa, Space};
use serde_json::Value;

fn registry(s: &Space) -> Value {
    serde_json::from_slice(&s.read("assets/.prometeu/index.json")).unwrap()
}

#[test]
fn add_writes_a_declaration_and_allocates_increasing_ids() {
    let s = Space::with_blobs(&[("one", "1.bin", b"1"), ("two", "2.bin", b"2")]);
    let reg = registry(&s);
    assert_eq!(reg["next_asset_id"], 3);
    assert_eq!(reg["assets"][1]["asset_id"], 2);
    assert_eq!(reg["assets"][1]["root"], "two");
    assert_eq!(reg["assets"][1]["included_in_build"], true);
    let decl: Value = serde_json::from_slice(&s.read("assets/two/asset.json")).unwrap();
    assert_eq!(decl["asset_uuid"], reg["assets"][1]["asset_uuid"]);
    assert_eq!(decl["name"], "two");
    assert_eq!(decl["inputs"]["source"][0], "2.bin");
    assert_eq!(decl["output"]["format"], "BLOB/raw_v1");
}

#[test]
fn ids_are_never_reused_after_forget() {
    let s = Space::with_blobs(&[("one", "1.bin", b"1"), ("two", "2.bin", b"2")]);
    s.packer(&["forget", "two"]).ok();
    assert!(s.exists("assets/two/asset.json"), "forget keeps files");
    s.packer(&["adopt", "assets/two"]).ok();
    s.add_blob("three", "3.bin", b"3");
    let ids: Vec<u64> =
        registry(&s)["assets"].as_array().unwrap().iter().map(|e| e["asset_id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1, 3, 4]);
}

#[test]
fn adopt_refuses_a_copied_directory_with_the_same_uuid() {
    let s = Space::with_blobs(&[("one", "1.bin", b"1")]);
    crate::harness::copy_dir(&s.path("assets/one"), &s.path("assets/copy"));
    let r = s.packer(&["adopt", "assets/copy"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("PK007"), "{}", r.stderr);
}

#[test]
fn add_refuses_a_taken_name() {
    let s = Space::with_blobs(&[("one", "1.bin", b"1")]);
    s.write("assets/other/x.bin", b"x");
    let r = s.packer(&["add", "assets/other", "--type", "blob", "--name", "one"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("PK008"), "{}", r.stderr);
}

#[test]
fn list_and_show_in_text_and_json() {
    let s = Space::with_blobs(&[("sprites/hero", "hero.bin", b"h")]);
    let list: Value = serde_json::from_str(&s.packer(&["list", "--json"]).ok().stdout).unwrap();
    assert_eq!(list["assets"][0]["name"], "hero");
    assert_eq!(list["assets"][0]["type"], "blob");
    assert!(s.packer(&["list"]).ok().stdout.contains("sprites/hero"));
    for query in ["hero", "1", "assets/sprites/hero", "sprites/hero"] {
        let show: Value = serde_json::from_str(&s.packer(&["show", query, "--json"]).ok().stdout).unwrap();
        assert_eq!(show["asset_id"], 1, "{query}");
        assert_eq!(show["inputs"]["source"][0], "hero.bin");
    }
    assert!(s.packer(&["show", "hero"]).ok().stdout.contains("BLOB/raw_v1"));
    assert_eq!(s.packer(&["show", "nobody"]).code, 1);
}

#[test]
fn mv_keeps_id_and_uuid_and_the_payload() {
    let s = Space::with_blobs(&[("old/place", "x.bin", b"xyz")]);
    s.build();
    let uuid = registry(&s)["assets"][0]["asset_uuid"].clone();
    s.packer(&["mv", "old/place", "assets/new/home"]).ok();
    assert!(!s.exists("assets/old/place"));
    let reg = registry(&s);
    assert_eq!(reg["assets"][0]["root"], "new/home");
    assert_eq!(reg["assets"][0]["asset_id"], 1);
    assert_eq!(reg["assets"][0]["asset_uuid"], uuid);
    let bin = s.mtime("build/obj/1.bin");
    tick();
    // The step's command line names the new root, so Ninja runs it; the step finds its
    // output built from the same key and rewrites nothing.
    s.ninja(&[]).ok();
    assert_eq!(s.mtime("build/obj/1.bin"), bin, "moving is not a content change");
    let meta: Value = serde_json::from_slice(&s.read("build/asset_table_metadata.json")).unwrap();
    assert_eq!(meta[0]["root"], "new/home");
    assert_eq!(Pa::parse(s.read("build/assets.pa")).payload("place"), b"xyz");
}

#[test]
fn add_and_forget_then_plain_ninja_regenerates_and_removes_stale_outputs() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha"), ("b", "b.bin", b"beta")]);
    s.build();
    tick();
    s.add_blob("c", "c.bin", b"gamma");
    let run = s.ninja(&[]).ok();
    assert!(run.edges().contains(&"BLOB c".to_string()), "{}", run.stdout);
    let pa = Pa::parse(s.read("build/assets.pa"));
    assert_eq!(pa.payload("c"), b"gamma");

    tick();
    s.packer(&["forget", "a"]).ok();
    let run = s.ninja(&[]).ok();
    assert!(run.edges().iter().any(|e| e.starts_with("PACK")), "{}", run.stdout);
    let pa = Pa::parse(s.read("build/assets.pa"));
    let names: Vec<&str> = pa.table().iter().map(|e| e["asset_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["b", "c"]);
    for gone in ["build/obj/1.bin", "build/obj/1.json", "build/obj/1.rec", "build/keys/1.key"] {
        assert!(!s.exists(gone), "{gone} should be removed");
    }
    assert!(!String::from_utf8(s.read("build.ninja")).unwrap().contains("assets/a/"));
    assert!(s.ninja(&[]).ok().edges().is_empty());
}

#[test]
fn excluded_assets_are_not_built() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha"), ("b", "b.bin", b"beta")]);
    let text = String::from_utf8(s.read("assets/.prometeu/index.json")).unwrap();
    let text = text.replacen("\"included_in_build\": true", "\"included_in_build\": false", 1);
    s.write("assets/.prometeu/index.json", text.as_bytes());
    s.build();
    let pa = Pa::parse(s.read("build/assets.pa"));
    assert_eq!(pa.table().len(), 1);
    assert_eq!(pa.table()[0]["asset_id"], 2);
}

#[test]
fn an_unregistered_asset_json_never_enters_the_build() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha")]);
    s.write("assets/stray/x.bin", b"x");
    s.write("assets/stray/asset.json", br#"{"schema_version":1,"asset_uuid":"u-stray","name":"stray","type":"blob","inputs":{"source":["x.bin"]},"output":{"format":"BLOB/raw_v1","codec":"NONE"},"preload":{"enabled":false}}"#);
    s.build();
    assert_eq!(Pa::parse(s.read("build/assets.pa")).table().len(), 1);
    s.packer(&["adopt", "assets/stray"]).ok();
    s.ninja(&[]).ok();
    assert_eq!(Pa::parse(s.read("build/assets.pa")).payload("stray"), b"x");
}
