//! Bad input (SPEC §9): exit 1, a `PKnnn` diagnostic naming the file, never a panic, and
//! nothing written under build/ (nor build.ninja).

use crate::harness::Space;

const GOOD: &str = r#"{"schema_version":1,"asset_uuid":"UUID","name":"NAME","type":"blob","inputs":{"source":["SRC"]},"output":{"format":"BLOB/raw_v1","codec":"NONE"},"preload":{"enabled":false}}"#;

fn decl(uuid: &str, name: &str, src: &str) -> String {
    GOOD.replace("UUID", uuid).replace("NAME", name).replace("SRC", src)
}

/// A workspace with one good asset `ok` and one asset `bad` whose declaration is `bad_decl`.
fn space_with(bad_decl: &str) -> Space {
    let s = Space::with_blobs(&[("ok", "ok.bin", b"fine")]);
    s.write("assets/bad/data.bin", b"data");
    s.write("assets/bad/asset.json", bad_decl.as_bytes());
    // Register by hand, so that even a declaration adopt would refuse is in the registry.
    let reg = String::from_utf8(s.read("assets/.prometeu/index.json")).unwrap();
    let uuid = serde_json::from_str::<serde_json::Value>(bad_decl)
        .ok()
        .and_then(|v| v["asset_uuid"].as_str().map(str::to_string))
        .unwrap_or_else(|| "u-bad".into());
    let entry = format!(r#"{{"asset_id": 2, "asset_uuid": "{uuid}", "root": "bad", "included_in_build": true}}"#);
    let reg = reg.replace("\"next_asset_id\": 2", "\"next_asset_id\": 3").replacen(
        "}\n  ]",
        &format!("}},\n    {entry}\n  ]"),
        1,
    );
    s.write("assets/.prometeu/index.json", reg.as_bytes());
    s
}

#[track_caller]
fn assert_blocked(s: &Space, code: &str, file: &str) {
    let r = s.packer(&["gen"]);
    assert_eq!(r.code, 1, "exit 1\n{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains(&format!("error[{code}]")))
        .unwrap_or_else(|| panic!("no {code} in:\n{}", r.stderr));
    assert!(line.starts_with(&format!("{file}: error[{code}]: ")), "names the file first: {line}");
    assert!(r.stderr.contains("fix: "), "suggests a fix: {}", r.stderr);
    // The build directory's lock file may be there (gen takes the lock first); nothing else.
    let under_build: Vec<String> = std::fs::read_dir(s.path("build"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert!(under_build.iter().all(|n| n == ".packer-lock"), "nothing under build/: {under_build:?}");
    assert!(!s.exists("build.ninja"), "no build.ninja");
}

#[test]
fn malformed_asset_json() {
    assert_blocked(&space_with("{\"schema_version\": 1, \"name\": "), "PK003", "assets/bad/asset.json");
}

#[test]
fn missing_required_field() {
    let d = decl("u-bad", "bad", "data.bin").replace("\"preload\":{\"enabled\":false}", "\"x\":1");
    assert_blocked(&space_with(&d), "PK003", "assets/bad/asset.json");
}

#[test]
fn missing_input() {
    assert_blocked(&space_with(&decl("u-bad", "bad", "nope.bin")), "PK005", "assets/bad/nope.bin");
}

#[test]
fn duplicate_name() {
    assert_blocked(&space_with(&decl("u-bad", "ok", "data.bin")), "PK008", "assets/bad/asset.json");
}

#[test]
fn duplicate_uuid() {
    let s = Space::with_blobs(&[("ok", "ok.bin", b"fine")]);
    let reg: serde_json::Value = serde_json::from_slice(&s.read("assets/.prometeu/index.json")).unwrap();
    let uuid = reg["assets"][0]["asset_uuid"].as_str().unwrap().to_string();
    let s = space_with(&decl(&uuid, "bad", "data.bin"));
    // space_with made a new workspace; give its `ok` asset the same uuid as `bad`.
    let ok_uuid = serde_json::from_slice::<serde_json::Value>(&s.read("assets/ok/asset.json")).unwrap()["asset_uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let bad = decl(&ok_uuid, "bad", "data.bin");
    s.write("assets/bad/asset.json", bad.as_bytes());
    let reg = String::from_utf8(s.read("assets/.prometeu/index.json")).unwrap().replace(&uuid, &ok_uuid);
    s.write("assets/.prometeu/index.json", reg.as_bytes());
    assert_blocked(&s, "PK007", "assets/.prometeu/index.json");
}

#[test]
fn uuid_disagreeing_with_the_registry() {
    let s = space_with(&decl("u-bad", "bad", "data.bin"));
    s.write("assets/bad/asset.json", decl("u-other", "bad", "data.bin").as_bytes());
    assert_blocked(&s, "PK007", "assets/bad/asset.json");
}

#[test]
fn input_escaping_with_dotdot() {
    assert_blocked(&space_with(&decl("u-bad", "bad", "../ok/ok.bin")), "PK013", "assets/bad/asset.json");
}

#[test]
fn input_escaping_with_an_absolute_path() {
    assert_blocked(&space_with(&decl("u-bad", "bad", "/etc/hostname")), "PK013", "assets/bad/asset.json");
}

#[test]
fn input_escaping_through_a_symlink() {
    let s = space_with(&decl("u-bad", "bad", "link.bin"));
    std::os::unix::fs::symlink(s.path("assets/ok/ok.bin"), s.path("assets/bad/link.bin")).unwrap();
    assert_blocked(&s, "PK013", "assets/bad/link.bin");
}

#[test]
fn unknown_type() {
    let d = decl("u-bad", "bad", "data.bin").replace("\"blob\"", "\"hologram\"");
    assert_blocked(&space_with(&d), "PK010", "assets/bad/asset.json");
}

#[test]
fn unknown_codec() {
    let d = decl("u-bad", "bad", "data.bin").replace("\"NONE\"", "\"ZSTD\"");
    assert_blocked(&space_with(&d), "PK012", "assets/bad/asset.json");
}

#[test]
fn wrong_format_for_the_type() {
    let d = decl("u-bad", "bad", "data.bin").replace("BLOB/raw_v1", "TILES/indexed_v1");
    assert_blocked(&space_with(&d), "PK011", "assets/bad/asset.json");
}

#[test]
fn registered_root_without_asset_json() {
    let s = space_with(&decl("u-bad", "bad", "data.bin"));
    std::fs::remove_file(s.path("assets/bad/asset.json")).unwrap();
    assert_blocked(&s, "PK002", "assets/bad/asset.json");
}

#[test]
fn corrupt_registry() {
    let s = Space::with_blobs(&[("ok", "ok.bin", b"fine")]);
    s.write("assets/.prometeu/index.json", b"{\"schema_version\": 1, \"assets\": [");
    assert_blocked(&s, "PK001", "./assets/.prometeu/index.json");
}

#[test]
fn a_registry_entry_with_asset_id_0_is_refused() {
    let s = Space::with_blobs(&[("ok", "ok.bin", b"fine")]);
    let reg = s.read("assets/.prometeu/index.json");
    let edited = String::from_utf8(reg).unwrap().replace("\"asset_id\": 1,", "\"asset_id\": 0,");
    assert!(edited.contains("\"asset_id\": 0,"), "{edited}");
    s.write("assets/.prometeu/index.json", edited.as_bytes());
    assert_blocked(&s, "PK001", "assets/.prometeu/index.json");
    let r = s.packer(&["gen"]);
    assert!(r.stderr.contains("`ok` has asset_id 0"), "{}", r.stderr);
    // The fix it suggests works: the registry still loads for `forget`, and `adopt` gives a
    // fresh id.
    s.packer(&["forget", "assets/ok"]).ok();
    s.packer(&["adopt", "assets/ok"]).ok();
    let reg = String::from_utf8(s.read("assets/.prometeu/index.json")).unwrap();
    assert!(reg.contains("\"asset_id\": 2,") && !reg.contains("\"asset_id\": 0,"), "{reg}");
    s.build();
}

#[test]
fn unknown_fields_warn_but_build() {
    let s = space_with(&decl("u-bad", "bad", "data.bin").replace("\"name\"", "\"colour\":\"red\",\"name\""));
    let r = s.packer(&["gen"]).ok();
    assert!(r.stderr.contains("warning[PK004]"), "{}", r.stderr);
}

#[test]
fn a_bad_asset_added_after_a_good_build_keeps_the_old_outputs_and_fails_ninja() {
    let s = Space::with_blobs(&[("ok", "ok.bin", b"fine")]);
    s.build();
    let before = s.read("build/assets.pa");
    s.write("assets/ok/asset.json", b"{ broken");
    let r = s.ninja(&[]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("PK003") || r.stderr.contains("PK003"), "{}{}", r.stdout, r.stderr);
    assert_eq!(s.read("build/assets.pa"), before, "the last good container stays whole");
}

#[test]
fn usage_errors_exit_2() {
    let s = Space::new();
    assert_eq!(s.packer(&["frobnicate"]).code, 2);
    assert_eq!(s.packer(&["add"]).code, 2);
}
