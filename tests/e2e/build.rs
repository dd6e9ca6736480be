//! A fresh workspace builds, and `assets.pa` is exactly what SPEC §4 says.

use crate::harness::{canonical, Pa, Space};

#[test]
fn fresh_workspace_builds_a_container_that_parses_per_spec() {
    let s = Space::with_blobs(&[
        ("data/level1", "level1.bin", b"\x00\x01\x02LEVEL\xff"),
        ("text/intro", "intro.txt", b"Once upon a time"),
        ("empty", "empty.bin", b""),
    ]);
    // Preload the second asset to see the preload section.
    let decl = s.path("assets/text/intro/asset.json");
    let text = std::fs::read_to_string(&decl).unwrap().replace("\"enabled\": false", "\"enabled\": true");
    std::fs::write(&decl, text).unwrap();
    let run = s.build();
    assert_eq!(run.edges().len(), 4, "three assets and the pack: {}", run.stdout);

    let pa = Pa::parse(s.read("build/assets.pa"));
    assert_eq!(pa.payload("level1"), b"\x00\x01\x02LEVEL\xff");
    assert_eq!(pa.payload("intro"), b"Once upon a time");
    assert_eq!(pa.payload("empty"), b"");
    let table = pa.table();
    let ids: Vec<u64> = table.iter().map(|e| e["asset_id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3], "increasing asset_id");
    for e in table {
        assert_eq!(e["offset"].as_u64().unwrap() % 16, 0, "payloads 16-aligned: {e}");
        assert_eq!(e["bank_type"], "BLOB");
        assert_eq!(e["codec"], "NONE");
        assert_eq!(e["decoded_size"], e["size"]);
        let mut keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            ["asset_id", "asset_name", "bank_type", "codec", "decoded_size", "metadata", "offset", "size"]
        );
    }
    assert_eq!(pa.header["preload"], serde_json::json!([{"asset_id": 2, "slot": 0}]));
    // The header is canonical JSON, and the mirrors are its sections byte for byte.
    assert_eq!(String::from_utf8(pa.header_bytes.clone()).unwrap(), canonical(&pa.header));
    assert_eq!(s.read("build/asset_table.json"), canonical(&pa.header["asset_table"]).as_bytes());
    assert_eq!(s.read("build/preload.json"), canonical(&pa.header["preload"]).as_bytes());
    // Zero padding between payloads; nothing after the last one.
    let last = table.last().unwrap();
    let end = pa.payload_offset + (last["offset"].as_u64().unwrap() + last["size"].as_u64().unwrap()) as usize;
    assert_eq!(pa.bytes.len(), end);
    let first_end = pa.payload_offset + table[0]["size"].as_u64().unwrap() as usize;
    let second = pa.payload_offset + table[1]["offset"].as_u64().unwrap() as usize;
    assert!(pa.bytes[first_end..second].iter().all(|&b| b == 0));
    // The tooling mirror names roots, uuids, inputs and keys.
    let meta: serde_json::Value = serde_json::from_slice(&s.read("build/asset_table_metadata.json")).unwrap();
    assert_eq!(meta[0]["root"], "data/level1");
    assert_eq!(meta[0]["inputs"]["source"][0], "level1.bin");
    assert_eq!(meta[0]["strong_key"].as_str().unwrap().len(), 64);
}

#[test]
fn an_empty_registry_builds_an_empty_container() {
    let s = Space::new();
    s.build();
    let pa = Pa::parse(s.read("build/assets.pa"));
    assert_eq!(pa.header_bytes, br#"{"asset_table":[],"preload":[]}"#);
    assert_eq!(pa.bytes.len(), 64);
}

#[test]
fn demo_fixture_builds() {
    let s = demo();
    let pa = Pa::parse(s.read("build/assets.pa"));
    assert_eq!(pa.table().len(), 6);
    let out = s.packer(&["inspect", "build/assets.pa"]).ok();
    // The rows the README's tour shows are the rows `packer inspect` prints.
    for row in crate::integrate::readme_block("demo/table").lines() {
        assert!(out.stdout.lines().any(|l| l == row), "README row not in the table:\n{row}\n{}", out.stdout);
    }
}

fn demo() -> Space {
    let s = Space::empty();
    crate::harness::copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo/assets"),
        &s.path("assets"),
    );
    s.build();
    s
}

/// The versions the bytes of a step's output depend on: its own, and those of the per-input
/// work it uses.
fn versions(step: &str, version: &str) -> String {
    use packer::step::{sounds, tiles};
    match step {
        "tiles" => format!("{version}+{}", tiles::DECODE_VERSION),
        "sounds" => format!("{version}+{}", sounds::CONVERT_VERSION),
        _ => version.to_string(),
    }
}

#[test]
fn step_outputs_change_only_with_their_step_version() {
    // Golden digests of every step's outputs on fixtures/demo, filed under the versions those
    // bytes depend on. Bytes that change under the same versions would be served stale from
    // every cache: the version must be bumped. Re-bless (after a bump, or a change to the
    // fixture) with `PACKER_BLESS=1 cargo test --test e2e step_outputs`.
    let s = demo();
    let golden_path = crate::integrate::repo("tests/golden/step-outputs.json");
    let digest = |p: &str| blake3::hash(&s.read(p)).to_hex().to_string();
    let mut now: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> = Default::default();
    let mut all = Vec::new();
    for e in Pa::parse(s.read("build/assets.pa")).table() {
        let id = e["asset_id"].as_u64().unwrap();
        let rec: serde_json::Value = serde_json::from_slice(&s.read(&format!("build/obj/{id}.rec"))).unwrap();
        let doc = &rec["key"]["doc"];
        let key = format!(
            "{} {}",
            doc["step"].as_str().unwrap(),
            versions(doc["step"].as_str().unwrap(), doc["step-version"].as_str().unwrap())
        );
        let out = format!("{} {}", digest(&format!("build/obj/{id}.bin")), digest(&format!("build/obj/{id}.json")));
        now.entry(key.clone()).or_default().insert(e["asset_name"].as_str().unwrap().to_string(), out);
        all.push(key);
    }
    all.sort();
    all.dedup();
    let pack = format!("pack {} over {}", packer::step::pack::VERSION, all.join(", "));
    now.entry(pack).or_default().insert("assets.pa".into(), digest("build/assets.pa"));
    if std::env::var_os("PACKER_BLESS").is_some() {
        std::fs::create_dir_all(golden_path.parent().unwrap()).unwrap();
        std::fs::write(&golden_path, serde_json::to_string_pretty(&now).unwrap() + "\n").unwrap();
        return;
    }
    let golden: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> =
        serde_json::from_slice(&std::fs::read(&golden_path).expect("tests/golden/step-outputs.json")).unwrap();
    for (key, outputs) in &now {
        let Some(known) = golden.get(key) else {
            panic!("no golden outputs for `{key}` (a new version?): re-bless with PACKER_BLESS=1 cargo test --test e2e step_outputs");
        };
        for (asset, out) in outputs {
            assert_eq!(
                known.get(asset),
                Some(out),
                "the output of {asset} changed under `{key}`: bump the step's VERSION (src/step/), or the version of \
                 its per-input work, then re-bless with PACKER_BLESS=1 cargo test --test e2e step_outputs"
            );
        }
    }
}
