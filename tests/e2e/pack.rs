//! The incremental pack (issue 14): what it reads, what it copies, what it stores, and that
//! it always equals a clean pack.

use crate::harness::{tick, Pa, Rng, Space, OUTPUTS};
use crate::random::compare_with_clean;

/// The pack's last line in the step log, as JSON, clearing the log.
fn last_pack(s: &Space) -> serde_json::Value {
    let p = s.path("build/obj/steps.log");
    let text = std::fs::read_to_string(&p).unwrap_or_default();
    let _ = std::fs::remove_file(&p);
    let line = text.lines().rev().find(|l| l.contains(r#""action":"pack""#)).expect("the pack ran");
    serde_json::from_str(line).unwrap()
}

fn blobs(n: usize) -> Space {
    let s = Space::new();
    for i in 0..n {
        s.add_blob(&format!("b{i}"), "b.bin", &vec![i as u8; 3000 + i]);
    }
    s.build();
    s
}

/// Past the racy-clean window: records written just before a pack are read again by the next
/// one, as git re-reads a file modified in the second its index was written.
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(2100));
}

#[test]
fn an_edit_makes_the_pack_read_one_record_and_copy_every_other_payload() {
    let s = blobs(20);
    settle();
    s.write("assets/b3/b.bin", &[7u8; 100]);
    s.ninja(&[]).ok();
    settle();
    s.take_log();
    // Same size, then another size: the payloads after it move, and are still copied.
    for (bytes, what) in [(vec![8u8; 100], "same size"), (vec![9u8; 5000], "larger")] {
        s.write("assets/b3/b.bin", &bytes);
        s.ninja(&[]).ok();
        let log = last_pack(&s);
        assert_eq!(log["outcome"], "built", "{what}: {log}");
        assert_eq!(log["records_read"], 1, "{what}: only the edited asset's record is read: {log}");
        assert_eq!(log["payloads_read"], 1, "{what}: {log}");
        assert_eq!(log["payloads_copied"], 19, "{what}: {log}");
        assert_eq!(Pa::parse(s.read("build/assets.pa")).payload("b3"), &bytes[..]);
        compare_with_clean(&s, false, what);
        settle();
    }
    // The index is only a hint: deleted, the next pack reads everything and is the same.
    let before: Vec<Vec<u8>> = OUTPUTS.iter().map(|f| s.read(f)).collect();
    std::fs::remove_file(s.path("build/obj/pack.idx")).unwrap();
    s.write("assets/b3/b.bin", &[1u8; 10]);
    s.ninja(&[]).ok();
    let log = last_pack(&s);
    assert_eq!(log["records_read"], 20, "{log}");
    assert_eq!(log["payloads_copied"], 0, "{log}");
    compare_with_clean(&s, false, "without an index");
    s.write("assets/b3/b.bin", &[9u8; 5000]);
    s.ninja(&[]).ok();
    for (f, b) in OUTPUTS.iter().zip(&before) {
        assert_eq!(&s.read(f), b, "{f}");
    }
}

#[test]
fn a_previous_container_changed_in_place_is_not_copied_from() {
    let s = blobs(6);
    // Someone writes into assets.pa: its stat no longer matches the record, so nothing is
    // copied from it, and the pack is rebuilt from the artifacts.
    let mut pa = s.read("build/assets.pa");
    let n = pa.len();
    pa[n - 1] ^= 0xff;
    std::fs::write(s.path("build/assets.pa"), &pa).unwrap();
    tick();
    s.write("assets/b2/b.bin", b"edited");
    s.ninja(&[]).ok();
    let log = last_pack(&s);
    assert_eq!(log["payloads_copied"], 0, "{log}");
    compare_with_clean(&s, false, "after damage in place");
}

#[test]
fn an_incremental_pack_equals_a_clean_one_across_seeded_edits_additions_and_removals() {
    for seed in [11u64, 12] {
        let s = blobs(8);
        let mut rng = Rng(seed);
        let mut live: Vec<usize> = (0..8).collect();
        let mut next = 8;
        let mut copied = 0;
        for step in 0..14 {
            tick();
            let what = match rng.below(4) {
                0 if live.len() > 2 => {
                    let i = live.remove(rng.below(live.len()));
                    s.packer(&["forget", &format!("b{i}")]).ok();
                    std::fs::remove_dir_all(s.path(&format!("assets/b{i}"))).unwrap();
                    "remove"
                }
                1 => {
                    s.add_blob(&format!("b{next}"), "b.bin", &vec![next as u8; 1 + rng.below(9000)]);
                    live.push(next);
                    next += 1;
                    "add"
                }
                2 => {
                    let i = live[rng.below(live.len())];
                    let len = std::fs::metadata(s.path(&format!("assets/b{i}/b.bin"))).unwrap().len() as usize;
                    s.write(&format!("assets/b{i}/b.bin"), &vec![rng.below(256) as u8; len]);
                    "same-size edit"
                }
                _ => {
                    let i = live[rng.below(live.len())];
                    s.write(&format!("assets/b{i}/b.bin"), &vec![rng.below(256) as u8; rng.below(9000)]);
                    "resize"
                }
            };
            s.ninja(&[]).ok();
            copied += last_pack(&s)["payloads_copied"].as_u64().unwrap();
            compare_with_clean(&s, false, &format!("seed {seed} step {step} ({what})"));
        }
        assert!(copied > 0, "seed {seed}: the incremental path was taken");
    }
}

#[test]
fn an_edit_grows_the_cache_by_the_artifact_not_by_the_pack() {
    let s = blobs(20);
    let total = || s.json(&["cache", "stats", "--json"])["total_bytes"].as_u64().unwrap();
    let artifact = |id: &str| {
        ["bin", "json"]
            .iter()
            .map(|e| std::fs::metadata(s.path(&format!("build/obj/{id}.{e}"))).unwrap().len())
            .sum::<u64>()
    };
    for v in 0..3u8 {
        let before = total();
        tick();
        s.write("assets/b5/b.bin", &[v; 3005]);
        s.ninja(&[]).ok();
        let grown = total() - before;
        let changed = artifact("6");
        assert!(grown <= 2 * changed, "edit {v}: the cache grew by {grown} bytes for a {changed}-byte artifact");
    }
    // The container is in no cache object.
    let pa = blake3::hash(&s.read("build/assets.pa")).to_hex().to_string();
    assert!(!s.exists(&format!("assets/.prometeu/cache/cas/{}/{pa}", &pa[..2])));
}
