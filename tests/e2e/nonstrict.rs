//! Non-strict mode (SPEC §6) on a cross-asset dependency the tests set up: a blob whose
//! source is `@asset:<name>` (an alias of another asset's payload).

use crate::harness::{tick, Pa, Space};
use serde_json::Value;

/// `y` is a blob; `x` is an alias of `y`.
fn alias_space() -> Space {
    let s = Space::with_blobs(&[("y", "y.bin", b"first y")]);
    s.packer(&["add", "assets/x", "--type", "blob", "--source", "@asset:y"]).ok();
    s
}

#[test]
fn strict_mode_rebuilds_dependants_when_a_dependency_changes() {
    let s = alias_space();
    s.build();
    assert_eq!(Pa::parse(s.read("build/assets.pa")).payload("x"), b"first y");
    let text = String::from_utf8(s.read("build.ninja")).unwrap();
    assert!(text.contains("packer_blob build/keys/2.key | build/obj/1.bin build/obj/1.json\n"), "{text}");
    s.take_log();
    tick();
    s.write("assets/y/y.bin", b"second y");
    let run = s.ninja(&[]).ok();
    assert!(run.edges().contains(&"BLOB x (0 inputs)".to_string()), "{}", run.stdout);
    assert_eq!(Pa::parse(s.read("build/assets.pa")).payload("x"), b"second y");
    let e = s.json(&["explain", "x", "--json"]);
    assert_eq!(e["changes"][0]["field"], "dependencies-strong[asset/1]");
}

#[test]
fn non_strict_mode_keeps_the_weak_artifact_and_says_so() {
    let s = alias_space();
    s.packer(&["gen", "--non-strict"]).ok();
    s.ninja(&[]).ok();
    let text = String::from_utf8(s.read("build.ninja")).unwrap();
    assert!(text.contains("packer_blob build/keys/2.key || build/obj/1.bin build/obj/1.json\n"), "order-only: {text}");
    assert!(text.contains("--non-strict"), "plain ninja regenerates in the same mode");
    let y_first: Value = serde_json::from_slice(&s.read("build/obj/1.rec")).unwrap();
    s.take_log();

    tick();
    s.write("assets/y/y.bin", b"second y");
    let run = s.ninja(&[]).ok();
    assert!(!run.edges().iter().any(|e| e.starts_with("BLOB x")), "x is gated by its weak key: {}", run.stdout);
    let pa = Pa::parse(s.read("build/assets.pa"));
    assert_eq!(pa.payload("y"), b"second y");
    assert_eq!(pa.payload("x"), b"first y", "the weak artifact stays in use");
    // The artifact records the dependency it was built against.
    let x: Value = serde_json::from_slice(&s.read("build/obj/2.rec")).unwrap();
    assert_eq!(x["key"]["doc"]["dependencies-strong"][0], y_first["key"]["strong"]);
    // status says a weak artifact is in use, and strict status says x would rebuild.
    let st = s.json(&["status", "--non-strict", "--json"]);
    assert_eq!(st["actions"][1]["will_run"], false);
    assert_eq!(st["actions"][1]["reasons"][0]["kind"], "weak", "{st}");
    let strict = s.json(&["status", "--strict", "--json"]);
    assert_eq!(strict["actions"][1]["will_run"], true);
    // A step run anyway finds its weak artifact up to date, not a strict hit.
    s.take_log();
    s.packer(&["step", "blob", "--key=build/keys/2.key", "--root=assets/x", "--out=build/obj/2"]).ok();
    assert_eq!(s.take_log(), [("asset/2".to_string(), "up-to-date-weak".to_string())]);
}

#[test]
fn non_strict_reuses_an_artifact_found_by_weak_key_and_reports_it() {
    let s = alias_space();
    s.packer(&["gen", "--non-strict"]).ok();
    s.ninja(&[]).ok();
    let shared = s.path("assets/.prometeu/cache").to_str().unwrap().to_string();
    // A second worktree where y has moved on.
    let other = s.clone_assets();
    other.write("assets/y/y.bin", b"second y");
    other.packer_env(&["gen", &format!("--cache-dir={shared}")], &[("PACKER_NON_STRICT", "1")]).ok();
    other.ninja(&[]).ok();
    let log = other.take_log();
    assert!(log.contains(&("asset/2".to_string(), "restored-weak".to_string())), "{log:?}");
    assert_eq!(Pa::parse(other.read("build/assets.pa")).payload("x"), b"first y");
    let e = other.json(&["explain", "x", "--json"]);
    assert_eq!(e["how"], "restored-weak", "a weak reuse is never reported as a strict hit");
    let text = other.packer(&["explain", "x"]).ok().stdout;
    assert!(text.contains("weak key"), "{text}");
    // Strict mode in the same worktree rebuilds x against the new y.
    other.packer(&["gen", "--strict", &format!("--cache-dir={shared}")]).ok();
    other.ninja(&[]).ok();
    assert_eq!(Pa::parse(other.read("build/assets.pa")).payload("x"), b"second y");
}

#[test]
fn a_cycle_of_references_is_a_diagnostic_naming_it() {
    let s = Space::new();
    for (n, r) in [("p", "q"), ("q", "r"), ("r", "p")] {
        s.write(&format!("assets/{n}/asset.json"), format!(r#"{{"schema_version":1,"asset_uuid":"u-{n}","name":"{n}","type":"blob","inputs":{{"source":["@asset:{r}"]}},"output":{{"format":"BLOB/raw_v1","codec":"NONE"}},"preload":{{"enabled":false}}}}"#).as_bytes());
        s.packer(&["adopt", &format!("assets/{n}")]).ok();
    }
    let r = s.packer(&["gen"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("error[PK014]: assets reference each other in a cycle: p → q → r → p"), "{}", r.stderr);
    // Regression: the cycle used to be printed in name order, not in the order it is walked,
    // and named another asset's file. p → r → q → p now reads as such, at p's asset.json.
    for (n, r) in [("p", "r"), ("r", "q"), ("q", "p")] {
        s.write(&format!("assets/{n}/asset.json"), format!(r#"{{"schema_version":1,"asset_uuid":"u-{n}","name":"{n}","type":"blob","inputs":{{"source":["@asset:{r}"]}},"output":{{"format":"BLOB/raw_v1","codec":"NONE"}},"preload":{{"enabled":false}}}}"#).as_bytes());
    }
    let r = s.packer(&["gen"]);
    assert!(
        r.stderr.contains("assets/p/asset.json: error[PK014]: assets reference each other in a cycle: p → r → q → p"),
        "{}",
        r.stderr
    );
}
