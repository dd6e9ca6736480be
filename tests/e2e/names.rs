//! Nasty file and directory names end to end (SPEC §5: Ninja escaping and shell quoting).

use crate::harness::{tick, Pa, Space};

const NASTY: &[&str] = &[
    "with space.bin",
    "dollar$sign.bin",
    "co:lon.bin",
    "hash#tag.bin",
    "quote'single.bin",
    "quote\"double.bin",
    "ünïcødé ✓.bin",
    "-leading-dash.bin",
    "$(touch pwned).bin",
];

#[test]
fn nasty_names_build_end_to_end() {
    let s = Space::new();
    for (i, name) in NASTY.iter().enumerate() {
        let dir = format!("assets/dir {i} $:#'\"é/-sub");
        s.write(&format!("{dir}/{name}"), name.as_bytes());
        s.packer(&["add", &dir, "--type", "blob", "--name", &format!("n{i}")]).ok();
    }
    s.build();
    let pa = Pa::parse(s.read("build/assets.pa"));
    for (i, name) in NASTY.iter().enumerate() {
        assert_eq!(pa.payload(&format!("n{i}")), name.as_bytes());
    }
    assert!(!s.exists("pwned"), "no shell injection");
    assert!(s.ninja(&[]).ok().edges().is_empty());

    // Touch and edit work through the escaped paths too.
    tick();
    for (i, name) in NASTY.iter().enumerate() {
        s.touch(&format!("assets/dir {i} $:#'\"é/-sub/{name}"));
    }
    assert_eq!(s.ninja(&[]).ok().edges(), ["packer gen"]);
    tick();
    s.write(&format!("assets/dir 2 $:#'\"é/-sub/{}", NASTY[2]), b"edited");
    let run = s.ninja(&[]).ok();
    assert_eq!(run.edges(), ["BLOB n2", "PACK 9 assets", "packer gen"]);
    assert_eq!(Pa::parse(s.read("build/assets.pa")).payload("n2"), b"edited");
}

#[test]
fn a_build_directory_with_spaces_and_dollars_works() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha")]);
    s.packer(&["gen", "--build-dir=my $build dir", "--ninja-file=sub dir/b.ninja"]).ok();
    s.ninja(&["-f", "sub dir/b.ninja"]).ok();
    assert_eq!(Pa::parse(s.read("my $build dir/assets.pa")).payload("a"), b"alpha");
    assert!(s.ninja(&["-f", "sub dir/b.ninja"]).ok().edges().is_empty());
}

#[test]
fn a_newline_in_a_file_name_is_a_diagnostic() {
    let s = Space::new();
    s.write("assets/nl/bad\nname.bin", b"x");
    s.write("assets/nl/asset.json", br#"{"schema_version":1,"asset_uuid":"u1","name":"nl","type":"blob","inputs":{"source":["bad\nname.bin"]},"output":{"format":"BLOB/raw_v1","codec":"NONE"},"preload":{"enabled":false}}"#);
    s.packer(&["adopt", "assets/nl"]).ok();
    let r = s.packer(&["gen"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("PK016"), "{}", r.stderr);
    assert!(!s.exists("build.ninja"));
}

/// What a depfile escapes: space, `#`, `$`, and a backslash (before a space, doubled).
const DEPFILE_NASTY: &[&str] =
    &["with space.bin", "hash#tag.bin", "dollar$sign.bin", "back\\slash.bin", "back\\ space.bin"];

#[test]
fn the_depfile_reads_back_through_ninjas_depfile_parser() {
    // `packer gen --depfile` lists every generator input; a Ninja edge with `deps = gcc` reads
    // it with Ninja's own depfile parser, and `ninja -t deps` shows what it understood.
    let s = Space::new();
    for (i, name) in DEPFILE_NASTY.iter().enumerate() {
        s.write(&format!("assets/d{i}/{name}"), b"x");
        s.packer(&["add", &format!("assets/d{i}"), "--type", "blob"]).ok();
    }
    s.packer(&["gen", "--depfile=dep.d", "--depfile-target=out"]).ok();
    s.write(
        "dep.ninja",
        b"rule make_out\n  command = touch out\n  depfile = dep.d\n  deps = gcc\nbuild out: make_out\n",
    );
    s.ninja(&["-f", "dep.ninja"]).ok();
    let deps = s.ninja(&["-f", "dep.ninja", "-t", "deps", "out"]).ok().stdout;
    let base = std::fs::canonicalize(&s.dir).unwrap();
    for (i, name) in DEPFILE_NASTY.iter().enumerate() {
        let want = format!("    {}/assets/d{i}/{name}", base.display());
        assert!(deps.lines().any(|l| l == want), "{want:?} not in Ninja's reading of the depfile:\n{deps}");
    }
}
