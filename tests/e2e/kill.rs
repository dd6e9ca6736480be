//! SIGKILL at seeded random moments: Ninja, `packer build`, `packer gen` and single steps are
//! killed mid-run — the process alone (its children run on, as a killed Ninja's do), or every
//! process working in the workspace at once (a crash) — after random edits of every asset
//! type. Whatever was cut short, the next `packer gen && ninja` gives the clean build's
//! container, the one after has nothing to do, and `packer verify` agrees.

use crate::formats::{png4, tmx, wav};
use crate::harness::{ninja_bin, packer_bin, Rng, Space};
use std::process::{Command, Stdio};
use std::time::Duration;

const BLOBS: usize = 12;
const TRIALS: usize = 20;

fn workspace() -> Space {
    let s = crate::formats::workspace();
    for i in 0..BLOBS {
        s.write(&format!("assets/b{i}/b{i}.bin"), format!("blob {i}").as_bytes());
        s.packer(&["add", &format!("assets/b{i}"), "--type", "blob"]).ok();
    }
    s.build();
    s
}

/// Edits a few sources of every kind: blobs, a PNG of the bank, a WAV, the map.
fn edit(s: &Space, rng: &mut Rng, t: usize) {
    for _ in 0..1 + rng.below(5) {
        let i = rng.below(BLOBS);
        s.write(&format!("assets/b{i}/b{i}.bin"), format!("blob {i} v{t}{}", "+".repeat(rng.below(9))).as_bytes());
    }
    let k = rng.below(8) as u8;
    match rng.below(4) {
        0 => s.write("assets/bank/a.png", &png4(16, 8, |x, _| ((x / 8) as u8 + k) % 8)),
        1 => s.write("assets/sfx/one.wav", &wav(22050, 1, &[0, 100 * i16::from(k), -100, 32767])),
        2 => s.write("assets/map/level.tmx", tmx(&format!("1,2,{},\n3,{},6", k % 6, 1 + k % 5)).as_bytes()),
        _ => {}
    }
}

/// The step commands of the build, as build.ninja runs them.
fn step_commands(s: &Space) -> Vec<String> {
    let out = Command::new(ninja_bin()).args(["-t", "commands"]).current_dir(&s.dir).output().unwrap();
    String::from_utf8(out.stdout).unwrap().lines().filter(|l| l.contains(" step ")).map(str::to_string).collect()
}

/// Every process whose working directory is the workspace: Ninja, its shells and steps.
fn workspace_processes(s: &Space) -> Vec<String> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if pid.bytes().all(|b| b.is_ascii_digit())
            && std::fs::read_link(e.path().join("cwd")).ok() == Some(s.dir.clone())
        {
            pids.push(pid);
        }
    }
    pids
}

fn kill_everything(s: &Space) {
    for _ in 0..50 {
        let pids = workspace_processes(s);
        if pids.is_empty() {
            return;
        }
        let _ = Command::new("kill").arg("-KILL").args(&pids).stderr(Stdio::null()).status();
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until nothing runs in the workspace any more (orphans of a killed Ninja finish).
fn settle(s: &Space) {
    for _ in 0..1000 {
        if workspace_processes(s).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("processes still running in the workspace");
}

/// The command of one trial of `what`.
fn command(s: &Space, what: &str, rng: &mut Rng) -> Command {
    match what {
        "ninja" => Command::new(ninja_bin()),
        "step" => {
            // A single step as Ninja runs it, after a gen has planned the edits.
            s.packer(&["gen"]).ok();
            let cmds = step_commands(s);
            let mut c = Command::new("sh");
            c.args(["-c", &format!("exec {}", cmds[rng.below(cmds.len())])]);
            c
        }
        sub => {
            let mut c = Command::new(packer_bin());
            c.arg(sub);
            c
        }
    }
}

/// How long `what` takes after an edit here, uncut (the shortest of three runs): kills are
/// drawn below it, so that they land inside the runs on a fast machine or a slow one.
fn calibrate(s: &Space, what: &str, rng: &mut Rng) -> Duration {
    let mut shortest = Duration::MAX;
    for t in 0..3 {
        edit(s, rng, 1000 + t);
        let mut c = command(s, what, rng);
        let start = std::time::Instant::now();
        c.current_dir(&s.dir).stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
        shortest = shortest.min(start.elapsed());
        s.build();
    }
    shortest
}

/// `TRIALS` trials of killing `what` at a random moment of its run.
fn trials(what: &str, seed: u64) {
    let mut rng = Rng(seed);
    let s = workspace();
    let span = calibrate(&s, what, &mut rng);
    let mut mid_run = 0;
    for t in 1..=TRIALS {
        edit(&s, &mut rng, t);
        let everything = rng.below(2) == 0;
        let mut c = command(&s, what, &mut rng);
        let delay = span.mul_f64(rng.below(1000) as f64 / 1000.0);
        let mut child = c.current_dir(&s.dir).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            mid_run += 1;
        }
        if everything {
            kill_everything(&s);
        }
        let _ = child.kill();
        let _ = child.wait();
        settle(&s);
        let when = format!("{what} trial {t} (seed {seed:#x}, killed after {delay:?}, everything: {everything})");
        let r = s.packer(&["gen"]);
        assert_eq!(r.code, 0, "{when}: gen after the kill:\n{}", r.stderr);
        let r = s.ninja(&[]);
        assert_eq!(r.code, 0, "{when}: ninja after the kill:\n{}{}", r.stdout, r.stderr);
        crate::random::compare_with_clean(&s, false, &when);
        assert!(s.ninja(&[]).ok().edges().is_empty(), "{when}: the build after the repair has nothing to do");
        if t % 10 == 0 {
            let v = s.packer(&["verify"]);
            assert_eq!(v.code, 0, "{when}: verify:\n{}{}", v.stdout, v.stderr);
        }
    }
    eprintln!("{what}: {mid_run} of {TRIALS} kills landed mid-run (runs take {span:?})");
    // The moments are meant to fall inside the runs; a suite whose kills all come too late
    // tests nothing.
    assert!(mid_run >= TRIALS / 2, "{what}: only {mid_run} of {TRIALS} kills landed mid-run (runs take {span:?})");
}

#[test]
fn ninja_killed_at_random_moments() {
    trials("ninja", 0x5EED_0001);
}

#[test]
fn packer_build_killed_at_random_moments() {
    trials("build", 0x5EED_0002);
}

#[test]
fn gen_killed_at_random_moments() {
    trials("gen", 0x5EED_0003);
}

#[test]
fn single_steps_killed_at_random_moments() {
    trials("step", 0x5EED_0004);
}
