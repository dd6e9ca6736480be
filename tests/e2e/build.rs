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
    let s = Space::empty();
    crate::harness::copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo/assets"),
        &s.path("assets"),
    );
    s.build();
    let pa = Pa::parse(s.read("build/assets.pa"));
    assert!(pa.table().len() >= 3);
    let out = s.packer(&["inspect", "build/assets.pa"]).ok();
    assert!(out.stdout.contains("level1"), "{}", out.stdout);
}
