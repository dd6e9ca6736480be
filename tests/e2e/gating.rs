//! Hash gating with a real Ninja (SPEC §5, §6): what runs, what does not, what is touched.

use crate::harness::{tick, Pa, Space, OUTPUTS};

fn three() -> Space {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha"), ("b", "b.bin", b"beta"), ("c", "c.bin", b"gamma")]);
    s.build();
    s
}

#[test]
fn second_ninja_has_no_work_to_do() {
    let s = three();
    let run = s.ninja(&[]).ok();
    assert!(run.stdout.contains("no work to do"), "{}", run.stdout);
    assert!(run.edges().is_empty());
}

#[test]
fn touching_every_source_runs_gen_once_and_no_step() {
    let s = three();
    let before = s.mtime("build/assets.pa");
    tick();
    s.touch_all(&["assets/a/a.bin", "assets/b/b.bin", "assets/c/c.bin"]);
    let run = s.ninja(&[]).ok();
    assert_eq!(run.edges(), ["packer gen"], "{}", run.stdout);
    assert_eq!(s.mtime("build/assets.pa"), before, "assets.pa untouched");
    let again = s.ninja(&[]).ok();
    assert!(again.edges().is_empty(), "settled after one gen: {}", again.stdout);
}

#[test]
fn a_source_replaced_by_an_older_file_is_seen_through_its_directory() {
    // `mv` keeps the old mtime: only the asset root's listing changed. The root directory is
    // an input of the generator edge, so Ninja still re-runs gen, which sees the new bytes.
    let s = three();
    let staged = s.path("staged.bin");
    std::fs::write(&staged, b"ALPHA from elsewhere").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&staged).unwrap().set_modified(old).unwrap();
    tick();
    std::fs::rename(&staged, s.path("assets/a/a.bin")).unwrap();
    let run = s.ninja(&[]).ok();
    assert!(run.edges().contains(&"BLOB a".to_string()), "{}", run.stdout);
    assert_eq!(Pa::parse(s.read("build/assets.pa")).payload("a"), b"ALPHA from elsewhere");
}

#[test]
fn a_new_packer_binary_reruns_gen() {
    // The binary is an input of the generator edge: after an upgrade, build.ninja and every
    // gate are re-planned by the new one.
    let s = three();
    s.take_log();
    let bin = s.path("packer-copy");
    std::fs::copy(crate::harness::packer_bin(), &bin).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&bin).args(args).current_dir(&s.dir).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["gen"]);
    let manifest = String::from_utf8(s.read("build.ninja")).unwrap();
    let gen_edge = manifest.lines().find(|l| l.contains(": packer_gen ")).unwrap();
    assert!(gen_edge.contains(bin.to_str().unwrap()), "{gen_edge}");
    s.ninja(&[]).ok(); // new command lines: each step runs once and finds itself up to date
    assert_eq!(s.conversions(), 0);
    assert!(s.ninja(&[]).ok().edges().is_empty());
    tick();
    std::fs::copy(crate::harness::packer_bin(), &bin).unwrap(); // a new mtime: an upgrade
    assert_eq!(s.ninja(&[]).ok().edges(), ["packer gen"]);
}

#[test]
fn touching_asset_json_and_registry_runs_gen_only() {
    let s = three();
    tick();
    s.touch("assets/a/asset.json");
    s.touch("assets/.prometeu/index.json");
    assert_eq!(s.ninja(&[]).ok().edges(), ["packer gen"]);
}

#[test]
fn gen_after_a_touch_of_everything_it_reads_rehashes_and_plans_nothing() {
    // Regression: a touch of every file (or a checkout of the same content) used to re-plan
    // every asset. gen re-hashes what was touched, finds the same bytes, and stops there.
    let s = three();
    // A key directory written just now is racily clean and means one full run to be sure.
    age(&s, "build/keys");
    s.packer(&["gen"]).ok();
    let (key, ninja_file) = (s.mtime("build/keys/1.key"), s.mtime("build.ninja"));
    tick();
    let all =
        ["assets/a/a.bin", "assets/b/b.bin", "assets/c/c.bin", "assets/a/asset.json", "assets/.prometeu/index.json"];
    s.touch_all(&all);
    let run = s.packer(&["gen"]).ok();
    assert!(run.stderr.contains("touched files re-hashed: same bytes)"), "{}", run.stderr);
    assert_eq!((s.mtime("build/keys/1.key"), s.mtime("build.ninja")), (key, ninja_file));
    // The same touch with new bytes is an edit, whichever file it is.
    tick();
    s.write("assets/c/asset.json", &s.read("assets/c/asset.json").iter().copied().chain(*b" ").collect::<Vec<u8>>());
    s.write("assets/b/b.bin", b"BETA");
    let run = s.packer(&["gen"]).ok();
    assert!(run.stderr.contains("2 key files rewritten"), "b's and the pack's: {}", run.stderr);
    // Both gen edges are out of date (a declaration and a source are newer than what they
    // wrote); gen already did the work, so each finds nothing to do.
    assert_eq!(s.ninja(&[]).ok().edges(), ["BLOB b", "PACK 3 assets", "packer gen", "packer gen"]);
}

#[test]
fn editing_one_blob_reruns_its_edge_and_pack_only_and_matches_a_clean_build() {
    let s = three();
    let b_bin = s.mtime("build/obj/2.bin");
    tick();
    s.write("assets/a/a.bin", b"ALPHA, edited");
    let run = s.ninja(&[]).ok();
    assert_eq!(run.edges(), ["BLOB a", "PACK 3 assets", "packer gen"], "{}", run.stdout);
    assert_eq!(s.mtime("build/obj/2.bin"), b_bin);

    let clean = s.clone_assets();
    clean.build();
    for f in OUTPUTS {
        assert_eq!(s.read(f), clean.read(f), "{f} differs from a clean build");
    }
}

#[test]
fn edit_then_revert_leaves_the_pack_bytes_and_reruns_nothing_after() {
    let s = three();
    let original = s.read("build/assets.pa");
    tick();
    s.write("assets/b/b.bin", b"BETA");
    s.ninja(&[]).ok();
    tick();
    s.write("assets/b/b.bin", b"beta");
    s.ninja(&[]).ok();
    assert_eq!(s.read("build/assets.pa"), original);
    assert!(s.ninja(&[]).ok().edges().is_empty());
}

#[test]
fn a_deleted_key_file_reruns_gen_and_the_step_finds_itself_up_to_date() {
    let s = three();
    let before = s.mtime("build/assets.pa");
    std::fs::remove_file(s.path("build/keys/2.key")).unwrap();
    let run = s.ninja(&[]).ok();
    assert!(run.edges().contains(&"packer gen".to_string()), "{}", run.stdout);
    assert!(
        !run.edges().iter().any(|e| e.starts_with("PACK")),
        "restat stops at the unchanged artifact: {}",
        run.stdout
    );
    assert_eq!(s.mtime("build/assets.pa"), before);
    assert!(s.ninja(&[]).ok().edges().is_empty());
}

#[test]
fn a_deleted_output_is_rebuilt_and_pack_is_not_rewritten() {
    let s = three();
    let before = s.read("build/assets.pa");
    std::fs::remove_file(s.path("build/obj/3.bin")).unwrap();
    let run = s.ninja(&[]).ok();
    assert!(run.edges().contains(&"BLOB c".to_string()), "{}", run.stdout);
    assert_eq!(s.read("build/assets.pa"), before);
}

#[test]
fn a_corrupted_output_is_rebuilt_by_its_step() {
    let s = three();
    s.write("build/obj/1.bin", b"garbage");
    // Ninja alone cannot see this (the output is newer); the step's intact check can.
    s.packer(&["step", "blob", "--key=build/keys/1.key", "--root=assets/a", "--out=build/obj/1"]).ok();
    assert_eq!(s.read("build/obj/1.bin"), b"alpha");
}

#[test]
fn gen_with_nothing_changed_rewrites_nothing() {
    let s = three();
    let ninja = s.mtime("build.ninja");
    let key = s.mtime("build/keys/1.key");
    tick();
    s.packer(&["gen"]).ok();
    assert_eq!(s.mtime("build.ninja"), ninja);
    assert_eq!(s.mtime("build/keys/1.key"), key);
}

#[test]
fn build_ninja_does_not_depend_on_file_contents() {
    let s = three();
    let before = s.read("build.ninja");
    s.write("assets/a/a.bin", b"completely different bytes");
    s.packer(&["gen"]).ok();
    assert_eq!(s.read("build.ninja"), before);
}

#[test]
fn outputs_do_not_depend_on_the_build_directory() {
    let s = three();
    s.packer(&["gen", "--build-dir=other out", "--ninja-file=other.ninja"]).ok();
    s.ninja(&["-f", "other.ninja"]).ok();
    for f in ["assets.pa", "asset_table.json", "preload.json", "asset_table_metadata.json"] {
        assert_eq!(s.read(&format!("build/{f}")), s.read(&format!("other out/{f}")), "{f}");
    }
    assert_eq!(s.read("build/keys/1.key"), s.read("other out/keys/1.key"), "keys hold no paths");
}

#[test]
fn every_action_edge_is_restat_and_gated_by_its_key_file() {
    let s = three();
    let text = String::from_utf8(s.read("build.ninja")).unwrap();
    assert!(
        text.contains("build build/obj/1.bin build/obj/1.json: packer_blob build/keys/1.key || assets/a/a.bin\n"),
        "{text}"
    );
    for rule in text.split("\nrule ").skip(1) {
        assert!(rule.contains("restat = 1"), "{rule}");
    }
    assert!(text.contains("rspfile_content = $in_newline"));
    assert!(text.contains("generator = 1"));
}

#[test]
fn the_pack_lists_each_key_edge_through_an_alias_before_the_artifacts_and_its_stamp_after() {
    // After a key edge runs, Ninja re-checks whether the pack's inputs are all ready once per
    // asset edge it found clean, scanning up to the first input that is not: the alias of
    // the key edge that ran is such an input, so it must come before the artifacts. The
    // stamp itself must stay an input file (Ninja 1.11 records a restat output's mtime from
    // its input files, which a phony alias is not).
    let s = three();
    s.packer(&["gen", "--key-shards=2"]).ok();
    let text = String::from_utf8(s.read("build.ninja")).unwrap();
    let pack = text.lines().find(|l| l.contains(": packer_pack ")).unwrap();
    let (_, inputs) = pack.split_once(": packer_pack ").unwrap();
    let (explicit, implicit) = inputs.split_once(" | ").unwrap();
    let explicit: Vec<&str> = explicit.split(' ').collect();
    assert_eq!(explicit[..3], ["build/keys/pack.key", "build/keys-0.ready", "build/keys-1.ready"], "{pack}");
    assert!(explicit[3..].iter().all(|p| p.ends_with(".bin")), "{pack}");
    assert!(implicit.ends_with("build/keys-0.stamp build/keys-1.stamp"), "{pack}");
    for k in 0..2 {
        assert!(text.contains(&format!("\nbuild build/keys-{k}.ready: phony build/keys-{k}.stamp\n")), "{text}");
    }
    // And the graph builds and settles with it.
    s.ninja(&[]).ok();
    assert!(s.ninja(&[]).ok().edges().is_empty());
}

/// Sets a file's (or directory's) mtime a minute back (out of the racy-clean window).
fn age(s: &Space, rel: &str) {
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    std::fs::File::open(s.path(rel)).unwrap().set_modified(old).unwrap();
}

#[test]
fn gen_with_nothing_changed_takes_the_fast_path_and_notices_every_change() {
    let s = three();
    let inputs = [
        "assets/.prometeu/index.json",
        "assets/a/asset.json",
        "assets/b/asset.json",
        "assets/c/asset.json",
        "assets/a/a.bin",
        "assets/b/b.bin",
        "assets/c/c.bin",
    ];
    for f in inputs.iter().chain(&["build/keys"]) {
        age(&s, f);
    }
    s.packer(&["gen"]).ok();
    assert!(s.packer(&["gen"]).ok().stderr.contains("nothing changed"));
    // A changed source with an old mtime (size differs): the full path runs and re-keys it.
    let key = s.read("build/keys/1.key");
    s.write("assets/a/a.bin", b"alpha, longer");
    age(&s, "assets/a/a.bin");
    assert!(!s.packer(&["gen"]).ok().stderr.contains("nothing changed"));
    assert_ne!(s.read("build/keys/1.key"), key);
    // The key directory changed just now (racily clean): the ledger's stat of every key file
    // vouches for it, so the fast path holds; a key file deleted meanwhile is seen and
    // written back.
    assert!(s.packer(&["gen"]).ok().stderr.contains("nothing changed"));
    std::fs::remove_file(s.path("build/keys/2.key")).unwrap();
    assert!(!s.packer(&["gen"]).ok().stderr.contains("nothing changed"));
    assert!(s.path("build/keys/2.key").exists());
    age(&s, "build/keys");
    s.packer(&["gen"]).ok();
    assert!(s.packer(&["gen"]).ok().stderr.contains("nothing changed"));
    // A deleted key file, other options, another mode: all full runs.
    let key_b = s.read("build/keys/2.key");
    std::fs::remove_file(s.path("build/keys/2.key")).unwrap();
    assert!(!s.packer(&["gen"]).ok().stderr.contains("nothing changed"));
    assert!(s.exists("build/keys/2.key"));
    assert!(!s.packer(&["gen", "--no-cache"]).ok().stderr.contains("nothing changed"));
    assert!(!s
        .packer_env(&["gen", "--no-cache"], &[("PACKER_NON_STRICT", "1")])
        .ok()
        .stderr
        .contains("nothing changed"));
    // A racily clean input (modified just now) is never trusted: it is re-hashed, every time
    // until it is safely old, and an edit within the same clock tick is seen.
    s.packer(&["gen"]).ok();
    age(&s, "build/keys");
    s.packer(&["gen"]).ok();
    // An mtime on a whole second, as a filesystem with coarse timestamps keeps it: the wide
    // window (2 s) applies, so the record cannot vouch for the file until then.
    let second = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let coarse = std::time::UNIX_EPOCH + std::time::Duration::from_secs(second);
    std::fs::File::options().write(true).open(s.path("assets/b/b.bin")).unwrap().set_modified(coarse).unwrap();
    assert!(s.packer(&["gen"]).ok().stderr.contains("1 touched files re-hashed"));
    assert!(s.packer(&["gen"]).ok().stderr.contains("1 touched files re-hashed"), "still within the racy window");
    let m = s.mtime("assets/b/b.bin");
    s.write("assets/b/b.bin", b"BETA");
    std::fs::File::options().write(true).open(s.path("assets/b/b.bin")).unwrap().set_modified(m).unwrap();
    assert!(s.packer(&["gen"]).ok().stderr.contains("2 key files rewritten"), "same size and mtime, other bytes");
    assert_ne!(s.read("build/keys/2.key"), key_b);
}

#[test]
fn the_shell_model_of_the_protocol_behaves_as_documented() {
    // scripts/gating-demo.sh is the 60-line model doc/design.md points at: it must keep
    // telling the truth with the Ninja under test.
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gating-demo.sh");
    let out = std::process::Command::new("bash").arg(script).arg(crate::harness::ninja_bin()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let log = String::from_utf8_lossy(&out.stdout);
    // Ninja runs the two steps in parallel: within a line, the order of what ran is free.
    let normalized = |line: &str| {
        let (label, ran) = line.split_once(':').unwrap_or((line, ""));
        let mut items: Vec<String> = Vec::new();
        let mut words = ran.split_whitespace();
        while let Some(w) = words.next() {
            items.push(if w == "step" { format!("step {}", words.next().unwrap_or("")) } else { w.to_string() });
        }
        items.sort();
        format!("{label}: {}", items.join(" "))
    };
    let lines: Vec<String> = log.lines().map(normalized).collect();
    let expected: Vec<String> = [
        "first build: step build/a.out step build/b.out pack",
        "no-op:",
        "touch all: gen",
        "edit a: gen step build/a.out pack",
        "deleted key file: gen step build/b.out",
    ]
    .into_iter()
    .map(normalized)
    .collect();
    assert_eq!(lines, expected);
}
