//! `packer step` run by hand (SPEC §6): with the key file from gen, without one, and with a
//! source edited between gen and the step.

use crate::harness::{tick, Space};
use serde_json::Value;

fn record(s: &Space, rel: &str) -> Value {
    serde_json::from_slice(&s.read(rel)).unwrap()
}

fn key(s: &Space, rel: &str) -> Value {
    serde_json::from_slice(&s.read(rel)).unwrap()
}

#[test]
fn the_command_lines_in_build_ninja_run_by_hand() {
    let s = Space::with_blobs(&[("a b", "x y.bin", b"payload")]);
    s.packer(&["gen"]).ok();
    // Exactly the command Ninja would run, through /bin/sh, from the file itself.
    let cmds = s.ninja(&["-t", "commands"]).ok().stdout;
    for line in cmds.lines() {
        let out = std::process::Command::new("/bin/sh").arg("-c").arg(line).current_dir(&s.dir).output().unwrap();
        assert!(out.status.success(), "{line}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(crate::harness::Pa::parse(s.read("build/assets.pa")).payload("a b"), b"payload");
}

#[test]
fn a_step_without_a_key_file_computes_the_same_key_as_gen() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha"), ("b", "b.bin", b"beta")]);
    s.packer(&["gen"]).ok();
    s.packer(&["step", "blob", "--root=assets/a", "--out=hand/1"]).ok();
    assert_eq!(s.read("hand/1.bin"), b"alpha");
    assert_eq!(record(&s, "hand/1.rec")["key"]["strong"], key(&s, "build/keys/1.key")["strong"]);
    s.packer(&["step", "blob", "--root=assets/b", "--out=hand/2"]).ok();
    s.packer(&["step", "pack", "--obj-dir=hand", "--out-dir=hand"]).ok();
    s.ninja(&[]).ok();
    assert_eq!(s.read("hand/assets.pa"), s.read("build/assets.pa"));
    assert_eq!(record(&s, "hand/pack.rec")["key"]["strong"], key(&s, "build/keys/pack.key")["strong"]);
}

#[test]
fn an_up_to_date_step_touches_nothing() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha")]);
    s.build();
    let (bin, rec) = (s.mtime("build/obj/1.bin"), s.mtime("build/obj/1.rec"));
    tick();
    s.packer(&["step", "blob", "--key=build/keys/1.key", "--root=assets/a", "--out=build/obj/1"]).ok();
    assert_eq!((s.mtime("build/obj/1.bin"), s.mtime("build/obj/1.rec")), (bin, rec));
}

#[test]
fn a_source_edited_after_gen_is_never_recorded_under_the_old_key() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha")]);
    s.packer(&["gen"]).ok();
    let gen_key = key(&s, "build/keys/1.key");
    s.write("assets/a/a.bin", b"edited after gen");
    s.packer(&["step", "blob", "--key=build/keys/1.key", "--root=assets/a", "--out=build/obj/1"]).ok();
    let rec = record(&s, "build/obj/1.rec");
    assert_ne!(rec["key"]["strong"], gen_key["strong"]);
    assert_eq!(rec["key"]["doc"]["sources"][0]["key"], blake3::hash(b"edited after gen").to_hex().as_str());
    // The next ninja re-runs gen, which gates the step again; then everything settles.
    s.ninja(&[]).ok();
    assert_eq!(crate::harness::Pa::parse(s.read("build/assets.pa")).payload("a"), b"edited after gen");
    assert!(s.ninja(&[]).ok().edges().is_empty());
}

#[test]
fn step_help_documents_each_step() {
    let s = Space::empty();
    let help = s.packer(&["step", "--help"]).ok().stdout;
    assert!(help.contains("blob") && help.contains("pack"), "{help}");
    for kind in ["blob", "pack"] {
        let h = s.packer(&["step", kind, "--help"]).ok().stdout;
        assert!(h.contains("--key"), "{h}");
    }
}

#[test]
fn a_corrupt_key_file_is_reported_and_the_step_still_builds_right() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha")]);
    s.packer(&["gen"]).ok();
    let good = s.read("build/keys/1.key");
    s.write("build/keys/1.key", b"{ nope");
    let r = s.packer(&["step", "blob", "--key=build/keys/1.key", "--root=assets/a", "--out=build/obj/1"]).ok();
    assert!(r.stderr.contains("build/keys/1.key: error[PK021]"), "{}", r.stderr);
    assert_eq!(s.read("build/obj/1.bin"), b"alpha");
    assert_eq!(
        record(&s, "build/obj/1.rec")["key"]["strong"],
        serde_json::from_slice::<Value>(&good).unwrap()["strong"]
    );
    // gen heals the gate: the key file's bytes differ from what it computes.
    s.packer(&["gen"]).ok();
    assert_eq!(s.read("build/keys/1.key"), good);
    s.ninja(&[]).ok();
}

#[test]
fn a_corrupt_record_means_rebuild_not_crash() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha")]);
    s.build();
    s.write("build/obj/1.rec", b"\x00garbage");
    s.packer(&["step", "blob", "--key=build/keys/1.key", "--root=assets/a", "--out=build/obj/1"]).ok();
    assert_eq!(record(&s, "build/obj/1.rec")["key"]["strong"], key(&s, "build/keys/1.key")["strong"]);
}

#[test]
fn a_tilemap_left_out_of_the_build_is_refused_by_hand_not_keyed_as_another_asset() {
    // Excluded, the map has no key; the step refuses rather than key it as another asset.
    let s = crate::formats::workspace();
    let mut reg: Value = serde_json::from_slice(&s.read("assets/.prometeu/index.json")).unwrap();
    let map = reg["assets"].as_array_mut().unwrap().iter_mut().find(|a| a["root"] == "map").unwrap();
    map["included_in_build"] = false.into();
    let id = map["asset_id"].to_string();
    s.write("assets/.prometeu/index.json", serde_json::to_string_pretty(&reg).unwrap().as_bytes());
    s.build();
    let r = s.packer(&["step", "tilemap", &format!("--id={id}"), "--root=assets/map", "--build-dir=build"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("assets/map: error[PK020]: this tilemap is not a registered asset"), "{}", r.stderr);
    assert!(!s.exists(&format!("build/obj/{id}.rec")));
}

#[test]
fn a_tilemap_step_by_hand_takes_its_banks_key_from_the_plan_and_agrees_with_gen() {
    // No key file: the step plans the map and its bank (not the project: the sound bank
    // edited meanwhile is neither hashed nor needed) and keys the map exactly as gen did.
    let s = crate::formats::workspace();
    s.build();
    let reg: Value = serde_json::from_slice(&s.read("assets/.prometeu/index.json")).unwrap();
    let id = reg["assets"].as_array().unwrap().iter().find(|a| a["root"] == "map").unwrap()["asset_id"].to_string();
    let gen_key = key(&s, &format!("build/keys/{id}.key"));
    let built = s.read(&format!("build/obj/{id}.bin"));
    std::fs::remove_file(s.dir.join(format!("build/keys/{id}.key"))).unwrap();
    std::fs::remove_file(s.dir.join(format!("build/obj/{id}.bin"))).unwrap();
    s.write("assets/sfx/one.wav", &crate::formats::wav(22050, 1, &[1, 2, 3]));
    s.packer(&["step", "tilemap", &format!("--id={id}"), "--root=assets/map", "--build-dir=build"]).ok();
    assert_eq!(record(&s, &format!("build/obj/{id}.rec"))["key"]["strong"], gen_key["strong"]);
    assert_eq!(s.read(&format!("build/obj/{id}.bin")), built);
}
