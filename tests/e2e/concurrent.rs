//! Two builds of one workspace at once (a second terminal, build-on-save beside a manual
//! build): whatever the interleaving, the container afterwards is the clean build's, the next
//! `ninja` has nothing to do, and `packer verify` agrees. Seeded, bounded trials.

use crate::harness::{ninja_bin, packer_bin, Pa, Space};
use std::process::{Command, Stdio};

const BLOBS: usize = 40;
const TRIALS: usize = 20;

fn workspace() -> Space {
    let s = Space::new();
    for i in 0..BLOBS {
        s.write(&format!("assets/b{i}/b{i}.bin"), format!("blob {i} v0").as_bytes());
        s.packer(&["add", &format!("assets/b{i}"), "--type", "blob"]).ok();
    }
    s.build();
    s
}

fn spawn(s: &Space, what: &str) -> std::process::Child {
    let mut c = match what {
        "ninja" => Command::new(ninja_bin()),
        "gen" => {
            let mut c = Command::new(packer_bin());
            c.arg("gen");
            c
        }
        "build" => {
            let mut c = Command::new(packer_bin());
            c.arg("build");
            c
        }
        other => panic!("{other}"),
    };
    c.current_dir(&s.dir).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn")
}

/// Runs `a` and `b` at once after editing every source, `TRIALS` times.
fn trials(a: &str, b: &str) {
    let s = workspace();
    for t in 1..=TRIALS {
        for i in 0..BLOBS {
            // Sizes change too, so that a torn or stale payload cannot hide.
            s.write(&format!("assets/b{i}/b{i}.bin"), format!("blob {i} v{t}{}", "+".repeat((i + t) % 7)).as_bytes());
        }
        let (pa, pb) = (spawn(&s, a), spawn(&s, b));
        for (name, p) in [(a, pa), (b, pb)] {
            let out = p.wait_with_output().unwrap();
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success(), "trial {t}: {name} failed:\n{text}");
        }
        let check = |when: &str| {
            let pa = Pa::parse(s.read("build/assets.pa"));
            for i in 0..BLOBS {
                assert_eq!(
                    pa.payload(&format!("b{i}")),
                    s.read(&format!("assets/b{i}/b{i}.bin")),
                    "trial {t}: b{i} is stale {when}"
                );
            }
        };
        // `packer gen` builds nothing by itself: with it, the ninja beside it is the build.
        check(&format!("right after `{a}` and `{b}` at once"));
        s.ninja(&[]).ok();
        check("after one more ninja");
        if t % 10 == 0 {
            let v = s.packer(&["verify"]);
            assert_eq!(v.code, 0, "trial {t}: verify:\n{}{}", v.stdout, v.stderr);
        }
    }
}

#[test]
fn two_ninjas_at_once() {
    trials("ninja", "ninja");
}

#[test]
fn ninja_and_gen_at_once() {
    trials("ninja", "gen");
}

#[test]
fn two_packer_builds_at_once() {
    trials("build", "build");
}
