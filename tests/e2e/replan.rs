//! gen's edit path (issue 14): an edit of sources re-hashes those files and re-plans only the
//! assets that read them, their dependants and the pack, from the key files; the keys it
//! writes are the ones a full plan writes; and Ninja runs gen from the key edge, not from the
//! generator edge, so it stats the graph once.

use crate::harness::{tick, Rng, Space};
use serde_json::Value;

/// Runs `ninja` with gen's trace on; returns the edges that ran and gen's trace lines.
fn traced(s: &Space) -> (Vec<String>, Vec<Value>) {
    let trace = s.path("trace.jsonl");
    let _ = std::fs::remove_file(&trace);
    let run = s.ninja_env(&[], &[("PACKER_GEN_TRACE", trace.to_str().unwrap())]).ok();
    let lines = std::fs::read_to_string(&trace).unwrap_or_default();
    (run.edges(), lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect())
}

/// Past the racy-clean window of the directories the patterns walked, which the test just
/// created: gen trusts their listing only once they are safely older than its record, so
/// one more gen records them as settled.
fn settle(s: &Space, args: &[&str]) {
    std::thread::sleep(std::time::Duration::from_millis(2100));
    s.packer(args).ok();
}

fn id_of(s: &Space, root: &str) -> String {
    let reg: Value = serde_json::from_slice(&s.read("assets/.prometeu/index.json")).unwrap();
    reg["assets"].as_array().unwrap().iter().find(|a| a["root"] == root).unwrap()["asset_id"].to_string()
}

#[test]
fn an_edit_rehashes_and_replans_only_what_it_must() {
    let s = crate::formats::workspace();
    s.build();
    settle(&s, &["gen"]);
    let (bank, map, sfx) = (id_of(&s, "bank"), id_of(&s, "map"), id_of(&s, "sfx"));
    // A sound of the sound bank: that bank and the pack, nothing else.
    tick();
    s.write("assets/sfx/one.wav", &crate::formats::wav(22050, 1, &[5, 6, 7]));
    let (edges, trace) = traced(&s);
    assert_eq!(trace.len(), 1, "gen ran once: {trace:?}");
    assert_eq!(trace[0]["run"], "edit");
    assert_eq!(trace[0]["edited"], serde_json::json!(["assets/sfx/one.wav"]));
    assert_eq!(trace[0]["planned"], serde_json::json!([sfx, "pack"]));
    assert!(
        edges.iter().any(|e| e.starts_with("SOUNDS")) && !edges.iter().any(|e| e.starts_with("TILES")),
        "{edges:?}"
    );
    // A tile of the bank: the bank, the map that holds the bank's key, and the pack.
    tick();
    s.write("assets/bank/a.png", &crate::formats::png4(16, 8, |x, _| (x / 8) as u8 + 2));
    let (_, trace) = traced(&s);
    assert_eq!(trace[0]["run"], "edit");
    assert_eq!(trace[0]["edited"], serde_json::json!(["assets/bank/a.png"]));
    assert_eq!(trace[0]["planned"], serde_json::json!([bank, map, "pack"]));
    // The map's own file may name other tilesets: structure, so a full plan.
    tick();
    let tmx = String::from_utf8(s.read("assets/map/level.tmx")).unwrap();
    s.write("assets/map/level.tmx", tmx.replace("1,2,0", "2,2,0").as_bytes());
    let (_, trace) = traced(&s);
    assert_eq!(trace[0]["run"], "full");
    // A touch with the same bytes plans nothing.
    tick();
    s.touch("assets/sfx/two.wav");
    let (edges, trace) = traced(&s);
    assert_eq!((trace[0]["run"].as_str(), trace[0]["planned"].as_array().map(Vec::len)), (Some("touched"), Some(0)));
    assert!(trace[0]["rehashed"].as_array().unwrap().contains(&"assets/sfx/two.wav".into()), "{trace:?}");
    assert_eq!(edges, ["packer gen"]);
    crate::random::compare_with_clean(&s, false, "after the edits");
}

#[test]
fn an_edit_does_not_run_the_generator_edge() {
    // The generator edge lists only what decides the graph; a source is an input of the key
    // edge. So an edit leaves build.ninja alone and Ninja does not reload it.
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha"), ("b", "b.bin", b"beta")]);
    s.build();
    let manifest = String::from_utf8(s.read("build.ninja")).unwrap();
    let generator = manifest.lines().find(|l| l.contains(": packer_gen ")).unwrap();
    let keys = manifest.lines().find(|l| l.contains(": packer_keys ")).unwrap();
    assert!(!generator.contains("a.bin") && generator.contains("assets/a/asset.json"), "{generator}");
    assert!(keys.contains("assets/a/a.bin") && keys.contains("build/keys/1.key"), "{keys}");
    tick();
    s.write("assets/a/a.bin", b"ALPHA");
    let run = s.ninja(&["-d", "explain"]).ok();
    assert!(!run.stderr.contains("build.ninja is dirty"), "{}", run.stderr);
    assert_eq!(run.edges(), ["BLOB a", "PACK 2 assets", "packer gen"]);
}

#[test]
fn the_edit_path_writes_the_keys_a_full_plan_writes() {
    // Seeded edits of sources (banks, sounds, blobs, several files at once), each followed by
    // gen's edit path; after each, a full plan from scratch must find every key file as it is.
    for (seed, non_strict) in [(21, false), (22, true)] {
        let s = crate::formats::workspace();
        s.add_blob("blob", "b.bin", b"blob");
        let mode = if non_strict { "--non-strict" } else { "--strict" };
        s.packer(&["gen", mode]).ok();
        settle(&s, &["gen", mode]);
        let mut rng = Rng(seed);
        let files =
            ["assets/bank/a.png", "assets/bank/b.png", "assets/sfx/one.wav", "assets/sfx/two.wav", "assets/blob/b.bin"];
        for step in 0..8 {
            tick();
            for _ in 0..=rng.below(2) {
                let f = files[rng.below(files.len())];
                let v = rng.next() as u8;
                let bytes = match f {
                    f if f.ends_with(".png") => crate::formats::png4(16, 8, move |x, y| ((x + y) as u8 ^ v) % 15 + 1),
                    f if f.ends_with(".wav") => crate::formats::wav(22050, 1, &[v as i16, -(v as i16), 3]),
                    _ => vec![v; 10 + v as usize],
                };
                s.write(f, &bytes);
            }
            let trace = s.path("trace.jsonl");
            let _ = std::fs::remove_file(&trace);
            s.packer_env(&["gen", mode], &[("PACKER_GEN_TRACE", trace.to_str().unwrap())]).ok();
            let line: Value = serde_json::from_str(std::fs::read_to_string(&trace).unwrap().trim()).unwrap();
            assert_eq!(line["run"], "edit", "seed {seed} step {step}: {line}");
            let keys = |s: &Space| {
                let mut all: Vec<(String, Vec<u8>)> = std::fs::read_dir(s.path("build/keys"))
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".key"))
                    .map(|n| (n.clone(), s.read(&format!("build/keys/{n}"))))
                    .collect();
                all.sort();
                all
            };
            let edited = keys(&s);
            std::fs::remove_file(s.path("build/.packer-gen-state")).unwrap();
            std::fs::remove_file(s.path("build/.packer-gates")).unwrap();
            let r = s.packer(&["gen", mode]).ok();
            assert!(r.stderr.contains(" 0 key files rewritten"), "seed {seed} step {step}: {}", r.stderr);
            assert_eq!(keys(&s), edited, "seed {seed} step {step}");
        }
    }
}

#[test]
fn with_several_key_edges_an_edit_runs_only_its_own_and_the_pack_always_follows() {
    // Three key edges over six blobs and a bank with its map (one component: one edge).
    let s = crate::formats::workspace();
    for i in 0..6 {
        s.add_blob(&format!("b{i}"), "b.bin", format!("blob {i}").as_bytes());
    }
    s.packer(&["gen", "--key-shards=3"]).ok();
    s.ninja(&[]).ok();
    let manifest = String::from_utf8(s.read("build.ninja")).unwrap();
    let edges: Vec<&str> = manifest.lines().filter(|l| l.contains(": packer_keys ")).collect();
    assert_eq!(edges.len(), 3, "{manifest}");
    let (bank, map) = (id_of(&s, "bank"), id_of(&s, "map"));
    let holds = |id: &str| edges.iter().position(|e| e.contains(&format!("build/keys/{id}.key "))).unwrap();
    assert_eq!(holds(&bank), holds(&map), "a map's key holds its bank's: one edge re-stats both");
    settle(&s, &["gen", "--key-shards=3"]);
    // Edits in different edges, one after the other, the last one back to an earlier pack
    // key: each time one gen, and the pack runs (through the edge's stamp) and is right.
    let mut rng = Rng(5);
    for step in 0..6 {
        tick();
        let i = rng.below(6);
        s.write(&format!("assets/b{i}/b.bin"), format!("blob {i} v{}", step % 2).as_bytes());
        let (ran, trace) = traced(&s);
        assert_eq!(trace.len(), 1, "step {step}: {trace:?}");
        assert!(ran.iter().any(|e| e.starts_with("PACK")), "step {step}: {ran:?}");
        crate::random::compare_with_clean(&s, false, &format!("step {step}"));
    }
    // A touch of everything runs every key edge; each re-hashes (the touch is within the
    // racy window of the record before it) and none plans anything.
    tick();
    let all: Vec<String> = (0..6).map(|i| format!("assets/b{i}/b.bin")).collect();
    s.touch_all(&all);
    let (ran, trace) = traced(&s);
    assert_eq!(ran.iter().filter(|e| *e == "packer gen").count(), trace.len());
    assert!(trace.iter().all(|t| t["run"] == "touched" || t["run"] == "unchanged"), "{trace:?}");
    assert!(!ran.iter().any(|e| e.starts_with("BLOB") || e.starts_with("PACK")), "{ran:?}");
}

#[test]
fn a_gen_with_nothing_changed_records_the_state_again_once_the_key_directory_has_settled() {
    // gen records its state right after writing the key files, so the key directory is
    // racily clean in that record, and a later gen must vouch for it (the ledger's stat of
    // every key file). The first gen that finds it settled records the state again, so
    // that the ones after it compare stats alone and write nothing.
    let s = Space::with_blobs(&[("a", "a.bin", b"a"), ("b", "b.bin", b"b")]);
    let wait = || std::thread::sleep(std::time::Duration::from_millis(2100));
    wait();
    s.packer(&["gen"]).ok();
    wait();
    let state = s.path("build/.packer-gen-state");
    let seen = || (s.read("build/.packer-gen-state"), std::fs::metadata(&state).unwrap().modified().unwrap());
    let trace = s.path("trace.jsonl");
    let gen = || {
        let _ = std::fs::remove_file(&trace);
        s.packer_env(&["gen"], &[("PACKER_GEN_TRACE", trace.to_str().unwrap())]).ok();
        let line: Value = serde_json::from_str(std::fs::read_to_string(&trace).unwrap().trim()).unwrap();
        assert_eq!(line["run"], "unchanged", "{line}");
    };
    let recorded = seen();
    gen();
    let again = seen();
    assert_ne!(recorded.0, again.0, "the state is recorded again, the key directory settled");
    gen();
    assert_eq!(again, seen(), "then a gen with nothing changed writes nothing");
}
