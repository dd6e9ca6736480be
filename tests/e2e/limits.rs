//! Bounded resources (doc/reference.md, "Limits"): an input or a payload over its asset's
//! limit is PK047 before anything is allocated for it, so that a step's peak memory follows
//! from the limits and not from what an input claims; `output.metadata.max_bytes` raises them.
//! Each case runs the step under an address-space limit and asserts its peak RSS and time.

use crate::formats::wav;
use crate::harness::Space;
use std::time::Duration;

/// Peak RSS (KiB) of a step that refuses its input: the binary, its maps and a few buffers.
const SMALL_KIB: u64 = 64 * 1024;
/// Address space a measured run may use: a regression fails on allocation, not by swapping.
const AS_LIMIT_MIB: u64 = 2048;

fn step(s: &Space, kind: &str, id: &str, root: &str) -> (crate::harness::Run, u64, Duration) {
    let args = ["step", kind, &format!("--id={id}"), &format!("--root={root}"), "--build-dir=build"];
    s.packer_measured(&args, AS_LIMIT_MIB)
}

#[track_caller]
fn refused_small_and_fast(r: &(crate::harness::Run, u64, Duration), code: &str) {
    let (run, rss, took) = r;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains(&format!("error[{code}]")), "{}", run.stderr);
    assert!(*rss < SMALL_KIB, "peak RSS {rss} KiB");
    assert!(*took < Duration::from_secs(10), "took {took:?}");
}

/// A sound bank at 48 kHz with linear resampling, of `wavs` (file name, WAV bytes).
fn sound_bank(s: &Space, wavs: &[(&str, Vec<u8>)], extra: &[&str]) {
    for (name, bytes) in wavs {
        s.write(&format!("assets/sfx/{name}"), bytes);
    }
    let mut args = vec!["add", "assets/sfx", "--type", "sound_bank", "--set", "sample_rate=48000"];
    args.extend(["--set", "resample=linear"]);
    args.extend(extra);
    s.packer(&args).ok();
    s.packer(&["gen"]).ok();
}

#[test]
fn one_hertz_wavs_resampled_to_48_khz_are_refused_from_their_headers() {
    // The case of the issue: three 1 Hz WAVs (17 KB in all) would resample to 805 MB.
    let s = Space::new();
    let one_hz: Vec<i16> = (0..2790).map(|i| (i % 200) as i16).collect();
    sound_bank(&s, &[("a.wav", wav(1, 1, &one_hz)), ("b.wav", wav(1, 1, &one_hz)), ("c.wav", wav(1, 1, &one_hz))], &[]);
    let r = step(&s, "sounds", "1", "assets/sfx");
    refused_small_and_fast(&r, "PK047");
    assert!(r.0.stderr.contains("more than its limit of 16777216"), "{}", r.0.stderr);
    assert!(r.0.stderr.contains("raise output.metadata.max_bytes"), "{}", r.0.stderr);
    assert!(!s.exists("build/obj/1.bin"), "nothing is written");
    // Ninja reports the same and stops.
    let r = s.ninja(&[]);
    assert_ne!(r.code, 0);
    assert!(r.stdout.contains("error[PK047]"), "{}", r.stdout);
}

#[test]
fn a_raised_max_bytes_lets_a_bank_grow_and_memory_follows_the_payload() {
    // 100 samples at 1 Hz → 4,800,000 frames at 48 kHz: 9.6 MB, under the default limit.
    let s = Space::new();
    let samples: Vec<i16> = (0..100).map(|i| (i * 300) as i16).collect();
    sound_bank(&s, &[("a.wav", wav(1, 1, &samples))], &["--set", "max_bytes=8000000"]);
    let r = step(&s, "sounds", "1", "assets/sfx");
    refused_small_and_fast(&r, "PK047");
    // Raised: it builds, and the step's peak memory is a small multiple of the payload.
    let decl = String::from_utf8(s.read("assets/sfx/asset.json")).unwrap().replace("8000000", "10000000");
    s.write("assets/sfx/asset.json", decl.as_bytes());
    s.packer(&["gen"]).ok();
    let (run, rss, _) = step(&s, "sounds", "1", "assets/sfx");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let payload = std::fs::metadata(s.path("build/obj/1.bin")).unwrap().len();
    assert_eq!(payload, 9_600_000);
    assert!(rss < SMALL_KIB + 6 * payload / 1024, "peak RSS {rss} KiB for a {payload}-byte payload");
}

#[test]
fn a_blob_over_its_limit_is_refused_before_it_is_read() {
    // A sparse 200 MB source: gen hashes it as a stream; the step refuses it from its size.
    let s = Space::with_blobs(&[("big", "big.bin", b"small for now")]);
    let f = std::fs::File::options().write(true).open(s.path("assets/big/big.bin")).unwrap();
    f.set_len(200 << 20).unwrap();
    s.packer(&["gen"]).ok();
    let r = step(&s, "blob", "1", "assets/big");
    refused_small_and_fast(&r, "PK047");
    assert!(
        r.0.stderr.contains("assets/big/big.bin: error[PK047]: too large: ")
            && r.0.stderr.contains("is 209715200 bytes, more than the limit of 16777216"),
        "{}",
        r.0.stderr
    );
    // Raised in asset.json, the same file builds.
    let decl = serde_json::from_slice::<serde_json::Value>(&s.read("assets/big/asset.json")).unwrap();
    let mut decl = decl;
    decl["output"]["metadata"] = serde_json::json!({"max_bytes": 300 << 20});
    s.write("assets/big/asset.json", serde_json::to_string(&decl).unwrap().as_bytes());
    s.build();
    assert_eq!(std::fs::metadata(s.path("build/obj/1.bin")).unwrap().len(), 200 << 20);
}

#[test]
fn a_source_swapped_for_dev_zero_is_refused_at_once() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha")]);
    s.packer(&["gen"]).ok();
    std::fs::remove_file(s.path("assets/a/a.bin")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", s.path("assets/a/a.bin")).unwrap();
    let r = step(&s, "blob", "1", "assets/a");
    refused_small_and_fast(&r, "PK013");
    // gen does not read it either.
    let (run, rss, took) = s.packer_measured(&["gen"], AS_LIMIT_MIB);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("assets/a/a.bin: error[PK0"), "{}", run.stderr);
    assert!(rss < SMALL_KIB && took < Duration::from_secs(10), "{rss} KiB, {took:?}");
}

#[test]
fn a_wav_whose_header_claims_gigabytes_is_corrupt_not_allocated() {
    let s = Space::new();
    let mut bytes = wav(48000, 1, &[1, 2, 3, 4]);
    // The data chunk's length field: 2 GiB of samples claimed, 8 bytes present.
    let at = bytes.windows(4).position(|w| w == b"data").unwrap() + 4;
    bytes[at..at + 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    sound_bank(&s, &[("claims.wav", bytes)], &["--set", "max_bytes=1073741824"]);
    let r = step(&s, "sounds", "1", "assets/sfx");
    refused_small_and_fast(&r, "PK036");
}

#[test]
fn max_bytes_is_checked_and_its_default_changes_no_key() {
    let s = Space::with_blobs(&[("a", "a.bin", b"alpha")]);
    s.packer(&["gen"]).ok();
    let key = s.read("build/keys/1.key");
    let decl = String::from_utf8(s.read("assets/a/asset.json")).unwrap();
    let with = |metadata: &str| {
        let mut d: serde_json::Value = serde_json::from_str(&decl).unwrap();
        d["output"]["metadata"] = serde_json::from_str(metadata).unwrap();
        s.write("assets/a/asset.json", serde_json::to_string(&d).unwrap().as_bytes());
        s.packer(&["gen"])
    };
    with(r#"{"max_bytes": 16777216}"#).ok();
    assert_eq!(s.read("build/keys/1.key"), key, "the default spelled out is the same key");
    with(r#"{"max_bytes": 1000}"#).ok();
    assert_ne!(s.read("build/keys/1.key"), key, "another limit is another key");
    for bad in [r#"{"max_bytes": 0}"#, r#"{"max_bytes": "big"}"#, r#"{"max_bytes": 2147483648}"#] {
        let r = with(bad);
        assert_eq!(r.code, 1, "{bad}");
        assert!(
            r.stderr.contains("error[PK024]: max_bytes must be a whole number of bytes from 1 to 1073741824"),
            "{}",
            r.stderr
        );
    }
    // A type without the parameter says so.
    s.write("assets/bank/a.png", &crate::formats::png4(16, 16, |_, _| 1));
    let r = s.packer(&["add", "assets/bank", "--type", "tile_bank", "--set", "max_bytes=5"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("max_bytes"), "{}", r.stderr);
}
