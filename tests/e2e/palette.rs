//! The `palette` type (PALETTE/rgb565_v1), end to end: one palette file of each syntax → 32
//! bytes of RGB565, hand-computed here; bad files are PK035 naming the file; an edit rebuilds
//! only the palette.

use crate::harness::{Pa, Space};

/// PICO-8's first three colours, and their RGB565 packing computed by hand:
/// 000000 → 0x0000; 1d2b53 → 3<<11 | 10<<5 | 10 = 0x194A; 7e2553 → 15<<11 | 9<<5 | 10 = 0x792A.
const PICO3_PAYLOAD: [u8; 6] = [0x00, 0x00, 0x4A, 0x19, 0x2A, 0x79];

fn files() -> [(&'static str, &'static [u8]); 5] {
    [
        ("p.json", br##"{"colors": ["#000000", "#1d2b53", "#7e2553"]}"##),
        ("p.hex", b"000000\n1d2b53\n7e2553\n"),
        ("p.gpl", b"GIMP Palette\nName: pico\nColumns: 3\n#\n  0   0   0\tblack\n 29  43  83\tdark-blue\n126  37  83\tdark-purple\n"),
        ("p.pal", b"JASC-PAL\r\n0100\r\n3\r\n0 0 0\r\n29 43 83\r\n126 37 83\r\n"),
        ("riff.pal", b"RIFF\x18\x00\x00\x00PAL data\x10\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x1d\x2b\x53\x00\x7e\x25\x53\x00"),
    ]
}

/// gen, then a Ninja run that must fail: what it and the step printed.
fn failing_build(s: &Space) -> String {
    s.packer(&["gen"]).ok();
    let r = s.ninja(&[]);
    assert_ne!(r.code, 0, "the build should fail:\n{}", r.stdout);
    format!("{}{}", r.stdout, r.stderr)
}

#[test]
fn each_syntax_packs_to_the_hand_computed_32_bytes() {
    let s = Space::new();
    for (i, (file, bytes)) in files().iter().enumerate() {
        s.write(&format!("assets/pal{i}/{file}"), bytes);
        s.packer(&["add", &format!("assets/pal{i}"), "--type", "palette"]).ok();
    }
    s.build();
    let pa = Pa::parse(s.read("build/assets.pa"));
    for i in 0..files().len() {
        let name = format!("pal{i}");
        let payload = pa.payload(&name);
        assert_eq!(payload.len(), 32, "{name}");
        assert_eq!(&payload[..6], &PICO3_PAYLOAD, "{name}");
        assert_eq!(&payload[6..], &[0u8; 26], "{name}: unused entries are 0");
        let e = pa.table().iter().find(|e| e["asset_name"] == name.as_str()).unwrap();
        assert_eq!(e["bank_type"], "PALETTE");
        assert_eq!(e["decoded_size"], 32);
        assert_eq!(e["metadata"], serde_json::json!({"color_count": 3}));
    }
    // Nothing to do; an edit rebuilds the one palette and the pack.
    assert!(s.ninja(&[]).ok().edges().is_empty());
    s.write("assets/pal1/p.hex", b"ffffff\n");
    let edges = s.ninja(&[]).ok().edges();
    assert_eq!(edges.iter().filter(|e| e.starts_with("PALETTE")).count(), 1, "{edges:?}");
    assert_eq!(&Pa::parse(s.read("build/assets.pa")).payload("pal1")[..4], &[0xFF, 0xFF, 0, 0]);
    s.packer(&["verify"]).ok();
}

#[test]
fn a_bad_palette_is_pk035_naming_the_file_and_the_line() {
    let s = Space::new();
    s.write("assets/pal/p.gpl", b"GIMP Palette\n0 0 0\n1 2 300\n");
    s.packer(&["add", "assets/pal", "--type", "palette"]).ok();
    let r = failing_build(&s);
    assert!(
        r.contains("assets/pal/p.gpl: error[PK035]: bad palette: line 3: `300` is not a number from 0 to 255"),
        "{r}"
    );
    assert!(!s.exists("build/assets.pa"));
    // Seventeen colours: refused, not truncated.
    let seventeen: String = (0..17).map(|i| format!("{i:02x}0000\n")).collect();
    std::fs::remove_file(s.path("assets/pal/p.gpl")).unwrap();
    s.write("assets/pal/p.hex", seventeen.as_bytes());
    let mut d: serde_json::Value = serde_json::from_slice(&s.read("assets/pal/asset.json")).unwrap();
    d["inputs"]["source"] = serde_json::json!(["p.hex"]);
    s.write("assets/pal/asset.json", serde_json::to_string_pretty(&d).unwrap().as_bytes());
    let r = failing_build(&s);
    assert!(r.contains("assets/pal/p.hex: error[PK035]: bad palette: 17 colours; a palette has 1 to 16"), "{r}");
}

#[test]
fn a_palette_takes_one_palette_file() {
    let s = Space::new();
    s.write("assets/pal/a.hex", b"000000\n");
    s.write("assets/pal/b.hex", b"ffffff\n");
    let r = s.packer(&["add", "assets/pal", "--type", "palette"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("error[PK015]: a palette needs exactly one .json, .hex, .gpl or .pal file, found 2"),
        "{}",
        r.stderr
    );
    s.packer(&["add", "assets/pal", "--type", "palette", "--source", "b.hex"]).ok();
    s.build();
    assert_eq!(&Pa::parse(s.read("build/assets.pa")).payload("pal")[..2], &[0xFF, 0xFF]);
    // Not a palette file: refused by the declaration's check.
    s.write("assets/pal/c.png", b"x");
    let mut d: serde_json::Value = serde_json::from_slice(&s.read("assets/pal/asset.json")).unwrap();
    d["inputs"]["source"] = serde_json::json!(["c.png"]);
    s.write("assets/pal/asset.json", serde_json::to_string_pretty(&d).unwrap().as_bytes());
    let r = s.packer(&["gen"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("assets/pal/asset.json: error[PK015]: a palette takes exactly one palette file"),
        "{}",
        r.stderr
    );
}

/// The real palette files in `fixtures/palettes` (origins and licences in its SOURCES.md) and
/// their colours as the files list them, read independently of packer.
const REAL: &[(&str, &[u32])] = &[
    (
        "pico-8.hex",
        &[
            0x000000, 0x1d2b53, 0x7e2553, 0x008751, 0xab5236, 0x5f574f, 0xc2c3c7, 0xfff1e8, 0xff004d, 0xffa300,
            0xffec27, 0x00e436, 0x29adff, 0x83769c, 0xff77a8, 0xffccaa,
        ],
    ),
    ("gameboy.hex", &[0x9bbc0f, 0x8bac0f, 0x306230, 0x0f380f]),
    ("slso8.gpl", &[0x0d2b45, 0x203c56, 0x544e68, 0x8d697a, 0xd08159, 0xffaa5e, 0xffd4a3, 0xffecd6]),
    ("equinox-8.pal", &[0x0c0727, 0x2c1c82, 0x6d58e1, 0xd4cbff, 0x491d14, 0x8f3b1d, 0xcb8232, 0xffde67]),
    (
        "DB16.pal",
        &[
            0xd04648, 0x442434, 0xc7c2ca, 0x4e4a4e, 0x140c1c, 0x30346d, 0x597dce, 0x8595a1, 0x346524, 0xdeeed6,
            0x6daa2c, 0xdad45e, 0x757161, 0xd27d2c, 0x854c30, 0xd2aa99,
        ],
    ),
];

#[test]
fn real_lospec_gimp_and_jasc_files_pack_to_their_colours() {
    let s = Space::new();
    let fixtures = crate::integrate::repo("fixtures/palettes");
    for (i, (file, _)) in REAL.iter().enumerate() {
        s.write(&format!("assets/real{i}/{file}"), &std::fs::read(fixtures.join(file)).unwrap());
        s.packer(&["add", &format!("assets/real{i}"), "--type", "palette"]).ok();
    }
    s.build();
    let pa = Pa::parse(s.read("build/assets.pa"));
    for (i, (file, colours)) in REAL.iter().enumerate() {
        let mut want = [0u8; 32];
        for (slot, c) in want.chunks_exact_mut(2).zip(colours.iter()) {
            let (r, g, b) = (c >> 16, (c >> 8) & 0xff, c & 0xff);
            slot.copy_from_slice(&(((r >> 3) << 11 | (g >> 2) << 5 | (b >> 3)) as u16).to_le_bytes());
        }
        assert_eq!(pa.payload(&format!("real{i}")), &want, "{file}");
    }
}
