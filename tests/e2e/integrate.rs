//! Fitting into existing builds (SPEC §5, §8): subninja from a parent build, the CMake module
//! with both generators, `packer build`, Ninja's tools, and command-line conventions. The
//! README's snippets are read from README.md and run as they are written.

use crate::harness::{copy_dir, ninja_bin, packer_bin, tick, Pa, Space};
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// The fenced block after `<!-- test: NAME -->` in README.md.
pub fn readme_block(name: &str) -> String {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let marker = format!("<!-- test: {name} -->");
    let after = &readme[readme.find(&marker).unwrap_or_else(|| panic!("README has no {marker}")) + marker.len()..];
    let start = after.find("```").unwrap();
    let body = &after[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_string()
}

/// A directory with `packer` and the `ninja` under test, to put first on PATH.
pub fn bin_dir(s: &Space) -> PathBuf {
    let bin = s.dir.parent().unwrap().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let ninja = which(&ninja_bin());
    for (name, target) in [("packer", packer_bin()), ("ninja", ninja)] {
        let _ = std::os::unix::fs::symlink(target, bin.join(name));
    }
    bin
}

fn which(cmd: &str) -> PathBuf {
    if cmd.contains('/') {
        return PathBuf::from(cmd);
    }
    let out = Command::new("sh").arg("-c").arg(format!("command -v {cmd}")).output().unwrap();
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Runs one shell line in `dir` with the test's tools first on PATH; returns stdout+stderr.
fn sh(s: &Space, dir: &Path, line: &str) -> (bool, String) {
    let path = format!("{}:{}", bin_dir(s).display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(dir)
        .env("PATH", path)
        .env("NINJA_STATUS", "@@ ")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[track_caller]
fn sh_ok(s: &Space, dir: &Path, line: &str) -> String {
    let (ok, text) = sh(s, dir, line);
    assert!(ok, "`{line}` failed:\n{text}");
    text
}

fn demo_into(dir: &Path) {
    copy_dir(&repo("fixtures/demo/assets"), &dir.join("assets"));
}

fn edges(text: &str) -> Vec<&str> {
    text.lines().filter_map(|l| l.strip_prefix("@@ ")).collect()
}

#[test]
fn a_parent_build_ninja_from_the_readme_embeds_assets_pa_and_rebuilds_exactly_when_an_asset_changes() {
    let parent_file = readme_block("ninja-parent/build.ninja");
    assert_eq!(parent_file, std::fs::read_to_string(repo("fixtures/ninja-parent/build.ninja")).unwrap());
    let s = Space::empty();
    s.write("build.ninja", parent_file.as_bytes());
    s.write("main.c", &std::fs::read(repo("fixtures/ninja-parent/main.c")).unwrap());
    demo_into(&s.path("game-assets"));
    let mut last = String::new();
    for line in readme_block("ninja-parent/commands").lines() {
        last = sh_ok(&s, &s.dir, line);
    }
    assert!(last.contains("\"asset_name\":\"credits\""), "{last}");

    let game = s.mtime("game");
    tick();
    s.touch("game-assets/assets/data/credits/credits.txt");
    let out = sh_ok(&s, &s.dir, "ninja");
    assert_eq!(edges(&out), ["packer gen"], "{out}");
    assert_eq!(s.mtime("game"), game, "same bytes: nothing downstream runs");

    tick();
    s.write("game-assets/assets/data/credits/credits.txt", b"new credits, longer than before");
    let out = sh_ok(&s, &s.dir, "ninja");
    let ran = edges(&out);
    for want in ["BLOB credits", "PACK 6 assets", "EMBED game-assets/build/assets.pa", "CC game"] {
        assert!(ran.contains(&want), "{want} in {ran:?}");
    }
    assert!(!ran.iter().any(|e| e.starts_with("TILES") || e.starts_with("BLOB level1")), "{ran:?}");
    let table = sh_ok(&s, &s.dir, "./game");
    assert!(
        table.contains("\"asset_name\":\"credits\",\"bank_type\":\"BLOB\",\"codec\":\"NONE\",\"decoded_size\":31"),
        "{table}"
    );

    // A new asset: the first run stops (Ninja loaded the old subninja), the second builds it.
    s.write("game-assets/assets/data/extra/extra.bin", b"extra");
    sh_ok(&s, &s.path("game-assets"), "packer add assets/data/extra --type blob");
    let (ok, out) = sh(&s, &s.dir, "ninja");
    assert!(
        !ok && out.contains("game-assets/build.ninja: error[PK029]: changed (assets were added, removed or moved) after Ninja loaded it through subninja\n  fix: run ninja again: it reloads the new graph"),
        "{out}"
    );
    sh_ok(&s, &s.dir, "ninja");
    assert!(sh_ok(&s, &s.dir, "./game").contains("\"asset_name\":\"extra\""));
    let out = sh_ok(&s, &s.dir, "ninja");
    assert!(out.contains("no work to do"), "{out}");
    // Per-asset targets carry the prefix.
    sh_ok(&s, &s.dir, "ninja game-assets/sprites");
}

fn cmake_project(s: &Space) -> PathBuf {
    let dir = s.dir.clone();
    let lists = readme_block("cmake-game/CMakeLists.txt");
    assert_eq!(lists, std::fs::read_to_string(repo("fixtures/cmake-game/CMakeLists.txt")).unwrap());
    s.write("CMakeLists.txt", lists.as_bytes());
    s.write("main.c", &std::fs::read(repo("fixtures/cmake-game/main.c")).unwrap());
    demo_into(&s.path("assets-project"));
    dir
}

fn cmake_round_trip(generator: &str, out_dir: &str) {
    let s = Space::empty();
    let dir = cmake_project(&s);
    let mut last = String::new();
    for line in readme_block("cmake-game/commands").lines() {
        let line = line.replace("-G Ninja", &format!("-G '{generator}'")).replace("out", out_dir);
        last = sh_ok(&s, &dir, &line);
    }
    assert!(last.contains("\"asset_name\":\"level1\""), "{last}");
    let again = sh_ok(&s, &dir, &format!("cmake --build {out_dir}"));
    assert!(!again.contains("packer: game_assets") && !again.contains("Building C"), "a no-op: {again}");

    tick();
    s.write("assets-project/assets/data/level1/level1.bin", b"LEVEL 1, REMADE");
    let out = sh_ok(&s, &dir, &format!("cmake --build {out_dir}"));
    assert!(out.contains("packer: game_assets") && out.contains("BLOB level1"), "{out}");
    assert!(!out.contains("Building C") && !out.contains("TILES"), "only the asset work: {out}");
    let table = sh_ok(&s, &dir, &format!("./{out_dir}/game"));
    assert!(
        table.contains("\"asset_name\":\"level1\",\"bank_type\":\"BLOB\",\"codec\":\"NONE\",\"decoded_size\":15"),
        "{table}"
    );
    // Regression (Makefiles): a touch, or an edit that leaves assets.pa as it was, ran packer
    // at every later build, since Make has no restat and assets.pa kept its old mtime.
    tick();
    s.touch("assets-project/assets/data/level1/level1.bin");
    sh_ok(&s, &dir, &format!("cmake --build {out_dir}"));
    let settled = sh_ok(&s, &dir, &format!("cmake --build {out_dir}"));
    assert!(!settled.contains("packer: game_assets"), "settled after one run: {settled}");
}

#[test]
fn the_cmake_module_from_the_readme_works_with_the_ninja_generator() {
    cmake_round_trip("Ninja", "out");
}

#[test]
fn the_cmake_module_from_the_readme_works_with_the_makefile_generator() {
    cmake_round_trip("Unix Makefiles", "out-make");
}

#[test]
fn packer_build_runs_gen_and_the_ninja_it_finds() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha"), ("b", "b.bin", b"beta")]);
    let ninja = ninja_bin();
    let r = s.packer_env(&["build", "-j", "2", "a"], &[("NINJA", &ninja)]).ok();
    assert!(r.stdout.contains("BLOB a"), "{}", r.stdout);
    assert!(!s.exists("build/assets.pa"), "only the target asked for");
    s.packer_env(&["build"], &[("NINJA", &ninja)]).ok();
    assert_eq!(Pa::parse(s.read("build/assets.pa")).payload("b"), b"beta");
    let r = s.packer_env(&["build"], &[("NINJA", "/nonexistent/ninja"), ("PATH", "/nonexistent")]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("error[PK022]") && r.stderr.contains("apt-get install ninja-build"), "{}", r.stderr);
}

/// A directory of stand-ins named like the Ninjas `packer build` looks for, each noting its
/// name in `ran` and then running the real Ninja (by absolute path).
fn fake_ninjas(s: &Space, names: &[&str]) -> String {
    let real = Command::new("sh").arg("-c").arg(format!("command -v '{}'", ninja_bin())).output().unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_string();
    let bin = s.path("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for n in names {
        let p = bin.join(n);
        std::fs::write(&p, format!("#!/bin/sh\necho {n} >> '{}'\nexec '{real}' \"$@\"\n", s.path("ran").display()))
            .unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    bin.display().to_string()
}

#[test]
fn packer_build_falls_back_to_ninja_build_then_samu_and_passes_k() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha")]);
    // No $NINJA and no `ninja` on PATH: `ninja-build` first, then `samu`.
    let path = fake_ninjas(&s, &["ninja-build", "samu"]);
    let build = || {
        let out =
            Command::new(packer_bin()).arg("build").current_dir(&s.dir).env_remove("NINJA").env("PATH", &path).output();
        let out = out.unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        std::fs::read_to_string(s.path("ran")).unwrap().lines().last().unwrap_or("").to_string()
    };
    assert_eq!(build(), "ninja-build");
    assert_eq!(Pa::parse(s.read("build/assets.pa")).payload("a"), b"alpha");
    std::fs::remove_file(s.path("fake-bin/ninja-build")).unwrap();
    tick();
    s.write("assets/a/a.bin", b"ALPHA");
    assert_eq!(build(), "samu");
    assert_eq!(Pa::parse(s.read("build/assets.pa")).payload("a"), b"ALPHA");
    // -k goes to Ninja: with -k 0 and one job, a failing asset does not stop the others.
    s.write("assets/bad/bad.png", b"\x89PNG\r\n\x1a\n not really");
    s.packer(&["add", "assets/bad", "--type", "tile_bank"]).ok();
    s.add_blob("z", "z.bin", b"zulu");
    let ninja = ninja_bin();
    let r = s.packer_env(&["build", "-j", "1", "-k", "0"], &[("NINJA", &ninja)]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(format!("{}{}", r.stdout, r.stderr).contains("error[PK030]"));
    assert_eq!(s.read("build/obj/3.bin"), b"zulu", "built although an earlier edge failed");
}

#[test]
fn ninja_tools_give_meaningful_results() {
    let s = Space::with_blobs(&[("hero", "h.bin", b"hero"), ("assets", "x.bin", b"named like the phony")]);
    s.build();
    s.take_log();
    // One phony target per asset name (unless the name is taken), and `assets`.
    let targets = s.ninja(&["-t", "targets", "all"]).ok().stdout;
    assert!(targets.contains("hero: phony") && targets.contains("assets: phony"), "{targets}");
    assert_eq!(targets.matches("\nassets: ").count() + targets.starts_with("assets: ") as usize, 1, "{targets}");
    let q = s.ninja(&["-t", "query", "build/assets.pa"]).ok().stdout;
    assert!(q.contains("build/keys/pack.key") && q.contains("build/obj/1.bin"), "{q}");
    let q = s.ninja(&["-t", "query", "build/obj/1.bin"]).ok().stdout;
    assert!(q.contains("build/keys/1.key") && q.contains("assets/hero/h.bin"), "{q}");
    let m = s.ninja(&["-t", "missingdeps"]).ok().stdout;
    assert!(m.contains("No missing dependencies"), "{m}");
    // -t clean removes outputs; the next build restores them from the cache, converting nothing.
    s.ninja(&["-t", "clean"]).ok();
    assert!(!s.exists("build/assets.pa"));
    s.ninja(&[]).ok();
    assert_eq!(s.conversions(), 0);
    assert_eq!(Pa::parse(s.read("build/assets.pa")).payload("hero"), b"hero");
    // The generator edge talks to the terminal directly (it may show progress).
    let manifest = String::from_utf8(s.read("build.ninja")).unwrap();
    let gen_rule = manifest.split("rule packer_gen").nth(1).and_then(|r| r.split("\n\n").next()).unwrap_or("");
    assert!(gen_rule.contains("pool = console") && gen_rule.contains("generator = 1"), "{gen_rule}");
    // -t cleandead removes what left the graph (the forgotten asset's artifacts, if gen had
    // not already) and nothing that is still in it.
    s.packer(&["forget", "assets"]).ok();
    s.ninja(&[]).ok();
    let dead = s.ninja(&["-t", "cleandead"]).ok().stdout;
    assert!(!s.exists("build/obj/2.bin") && s.exists("build/obj/1.bin") && s.exists("build/assets.pa"), "{dead}");
    assert!(s.ninja(&[]).ok().edges().is_empty(), "nothing live was removed");
    tick();
    s.touch("assets/hero/h.bin");
    let e = s.ninja(&["-d", "explain", "-n"]).ok();
    assert!(format!("{}{}", e.stdout, e.stderr).contains("assets/hero/h.bin"), "{}{}", e.stdout, e.stderr);
}

#[test]
fn version_completions_and_man_page() {
    let s = Space::empty();
    assert_eq!(s.packer(&["--version"]).ok().stdout.trim(), format!("packer {}", env!("CARGO_PKG_VERSION")));
    assert!(s.packer(&["completions", "bash"]).ok().stdout.contains("_packer()"));
    assert!(s.packer(&["completions", "zsh"]).ok().stdout.contains("#compdef packer"));
    assert!(s.packer(&["completions", "fish"]).ok().stdout.contains("complete -c packer"));
    assert!(s.packer(&["man"]).ok().stdout.contains(".TH packer 1"));
    assert!(s.packer(&["cmake-module"]).ok().stdout.contains("function(packer_add_assets target)"));
}

#[test]
fn a_reader_that_stops_early_ends_the_output_quietly() {
    // Regression: `packer completions fish | head -2` panicked on the broken pipe. The
    // workspace commands write through the same path (`out::outln!`).
    let ws = tempfile::tempdir().unwrap();
    demo_into(ws.path());
    for cmd in ["completions fish", "man", "cmake-module", "list", "list --json", "status", "show level1"] {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("set -o pipefail; '{}' {cmd} | (exec 0<&-; sleep 0.2)", packer_bin().display()))
            .current_dir(ws.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked") && !stderr.contains("error"), "{cmd}: {stderr}");
        assert!(out.status.success(), "{cmd}: {:?}", out.status);
    }
}

/// Runs packer under a pseudo-terminal (`script`), returning what the terminal showed.
fn on_tty(s: &Space, args: &str, env: &[(&str, &str)]) -> String {
    let mut c = Command::new("script");
    c.arg("-qec")
        .arg(format!("{} {args}", packer_bin().display()))
        .arg("/dev/null")
        .current_dir(&s.dir)
        .env_remove("NO_COLOR");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("script(1) from util-linux");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn colour_and_progress_only_on_a_terminal() {
    let s = Space::new();
    // Enough sources for a progress line: 2100 blobs written straight into the registry.
    let mut entries = Vec::new();
    for i in 1..=2100u32 {
        s.write(&format!("assets/m/{i}/x.bin"), format!("{i}").as_bytes());
        s.write(&format!("assets/m/{i}/asset.json"), format!(r#"{{"schema_version":1,"asset_uuid":"u{i}","name":"n{i}","type":"blob","inputs":{{"source":["x.bin"]}},"output":{{"format":"BLOB/raw_v1","codec":"NONE"}},"preload":{{"enabled":false}}}}"#).as_bytes());
        entries.push(format!(r#"{{"asset_id":{i},"asset_uuid":"u{i}","root":"m/{i}","included_in_build":true}}"#));
    }
    s.write(
        "assets/.prometeu/index.json",
        format!(r#"{{"schema_version":1,"next_asset_id":2101,"assets":[{}]}}"#, entries.join(",")).as_bytes(),
    );
    let piped = s.packer(&["gen"]).ok();
    assert!(!piped.stderr.contains('\r') && !piped.stderr.contains('\x1b'), "{}", piped.stderr);
    let tty = on_tty(&s, "gen --build-dir=b2 --ninja-file=b2.ninja", &[]);
    assert!(tty.contains("packer gen: 2100 assets"), "{tty}");
    std::fs::remove_file(s.path("assets/.prometeu/cache/fingerprints.json")).unwrap();
    let tty = on_tty(&s, "gen", &[]);
    assert!(tty.contains("\rpacker gen: hashing"), "a progress line on a terminal: {tty:?}");
    assert!(!on_tty(&s, "gen --quiet", &[]).contains("hashing"));
    // Under Ninja (the generator edge passes --regen, in the console pool): silent too.
    std::fs::remove_file(s.path("assets/.prometeu/cache/fingerprints.json")).unwrap();
    let regen = on_tty(&s, "gen --regen", &[]);
    assert!(!regen.contains("hashing") && !regen.contains("packer gen:"), "{regen:?}");

    s.write("assets/m/1/asset.json", b"{");
    let tty = on_tty(&s, "gen", &[]);
    assert!(tty.contains("\x1b[1;31merror[PK003]\x1b[0m"), "{tty:?}");
    let tty = on_tty(&s, "gen", &[("NO_COLOR", "1")]);
    assert!(tty.contains("assets/m/1/asset.json: error[PK003]") && !tty.contains('\x1b'), "{tty:?}");
    let piped = s.packer(&["gen"]);
    assert!(piped.stderr.contains("assets/m/1/asset.json: error[PK003]: ") && !piped.stderr.contains('\x1b'));
}
