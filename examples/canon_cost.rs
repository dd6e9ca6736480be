//! The canonical-JSON question of issue 13, measured: packer's direct serializer
//! (`canon::to_vec`, straight from `Serialize`, only each object's entries buffered to be
//! sorted) against the plain route (`serde_json::to_value`, whose map is sorted, then the
//! integer check and `serde_json::to_vec`), on what gen and the pack serialize at N assets:
//! N asset key documents (strong and weak keys) and the pack's asset table.
//!
//! `cargo run --release --example canon_cost [N]` (default 10000). Both routes must give the
//! same bytes; the example checks that before timing. It also measures the peak memory each
//! route allocates beyond its output for the table written from structs (as the pack's
//! header is): `canon_cost N mem direct|plain` serializes it once in a process of its own and
//! prints how far the peak resident memory rose (the plain route builds a `Value` tree).

use packer::canon;
use packer::keys::{KeyDoc, SourceKey};
use serde::Serialize;
use serde_json::{json, Value};
use std::time::Instant;

/// The process's peak resident memory so far (VmHWM), in KiB.
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or("VmHWM: 0 kB");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// One row of the asset table, as a struct (the pack writes its header from structs).
#[derive(Serialize)]
struct Row {
    asset_id: usize,
    asset_name: String,
    bank_type: &'static str,
    codec: &'static str,
    offset: usize,
    size: usize,
    decoded_size: usize,
    metadata: Value,
}

#[derive(Serialize)]
struct Header {
    asset_table: Vec<Row>,
    preload: Vec<Value>,
}

fn plain<T: Serialize>(v: &T) -> Vec<u8> {
    let value = serde_json::to_value(v).unwrap();
    canon::check(&value).unwrap();
    serde_json::to_vec(&value).unwrap()
}

fn docs(n: usize) -> Vec<KeyDoc> {
    (0..n)
        .map(|i| KeyDoc {
            core_version: 1,
            step: "tiles".into(),
            step_version: "tiles-1".into(),
            step_key: json!({"codec": "NONE", "format": "TILES/indexed_v1",
                "inputs": {"tiles": [format!("hero_{i}.png"), "walk.png"]},
                "metadata": {"tile_size": 16, "palette_of": {}}}),
            sources: (0..2)
                .map(|s| SourceKey {
                    name: format!("src_{i}_{s}.png"),
                    key: blake3::hash(&[s as u8]).to_hex().to_string(),
                })
                .collect(),
            dependencies_strong: vec![],
            dependencies_weak: vec![],
        })
        .collect()
}

fn table(n: usize) -> Value {
    let rows: Vec<Value> = (0..n)
        .map(|i| {
            json!({"asset_id": i + 1, "asset_name": format!("asset_{i}"), "bank_type": "BLOB", "codec": "NONE",
                "offset": i * 4096, "size": 4000, "decoded_size": 4000, "metadata": {}})
        })
        .collect();
    json!({"asset_table": rows, "preload": []})
}

fn best_of<F: FnMut()>(mut f: F) -> f64 {
    (0..7)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let header = Header {
        asset_table: (0..n)
            .map(|i| Row {
                asset_id: i + 1,
                asset_name: format!("asset_{i}"),
                bank_type: "BLOB",
                codec: "NONE",
                offset: i * 4096,
                size: 4000,
                decoded_size: 4000,
                metadata: json!({}),
            })
            .collect(),
        preload: vec![],
    };
    if let Some(route) = std::env::args().nth(3) {
        let before = peak_kib();
        let out = if route == "direct" { canon::to_vec(&header).unwrap() } else { plain(&header) };
        println!("{route}: peak rose {} KiB serializing a {} KiB header", peak_kib() - before, out.len() / 1024);
        return;
    }
    let docs = docs(n);
    let table = table(n);
    for d in docs.iter().take(50) {
        assert_eq!(canon::to_vec(d).unwrap(), plain(d), "the two routes differ");
    }
    assert_eq!(canon::to_vec(&table).unwrap(), plain(&table));
    let direct_docs = best_of(|| {
        for d in &docs {
            std::hint::black_box(canon::to_vec(d).unwrap());
        }
    });
    let plain_docs = best_of(|| {
        for d in &docs {
            std::hint::black_box(plain(d));
        }
    });
    let keys = best_of(|| {
        for d in &docs {
            std::hint::black_box(d.keys());
        }
    });
    let plain_keys = best_of(|| {
        for d in &docs {
            let mut v = serde_json::to_value(d).unwrap();
            canon::check(&v).unwrap();
            let strong = blake3::hash(&serde_json::to_vec(&v).unwrap());
            v.as_object_mut().unwrap().remove("dependencies-strong");
            std::hint::black_box((strong, blake3::hash(&serde_json::to_vec(&v).unwrap())));
        }
    });
    let direct_table = best_of(|| {
        std::hint::black_box(canon::to_vec(&table).unwrap());
    });
    let plain_table = best_of(|| {
        std::hint::black_box(plain(&table));
    });
    assert_eq!(canon::to_vec(&header).unwrap(), plain(&header));
    let direct_header = best_of(|| {
        std::hint::black_box(canon::to_vec(&header).unwrap());
    });
    let plain_header = best_of(|| {
        std::hint::black_box(plain(&header));
    });
    println!("N = {n}, best of 7, ms");
    println!("{n} key documents   direct {direct_docs:8.2}   serde_json sorted {plain_docs:8.2}");
    println!("strong+weak keys     direct {keys:8.2}   serde_json sorted {plain_keys:8.2}");
    println!("asset table (Value)  direct {direct_table:8.2}   serde_json sorted {plain_table:8.2}");
    println!("header (structs)     direct {direct_header:8.2}   serde_json sorted {plain_header:8.2}");
}
