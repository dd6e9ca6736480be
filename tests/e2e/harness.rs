//! `Space`: a temporary packer project driven through the real binaries.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Space {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

/// The Ninja binary under test. Missing is a failure, never a skip.
pub fn ninja_bin() -> String {
    let bin = std::env::var("PACKER_TEST_NINJA").unwrap_or_else(|_| "ninja".into());
    let ok = Command::new(&bin).arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(ok, "ninja `{bin}` is not runnable: install it (scripts/test.sh does) or set PACKER_TEST_NINJA");
    bin
}

pub fn packer_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin!("packer").to_path_buf()
}

/// A finished command: status, stdout, stderr as text.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from_output(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "command failed\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// The edges Ninja ran, by description (NINJA_STATUS is set to a marker).
    pub fn edges(&self) -> Vec<String> {
        let mut v: Vec<String> =
            self.stdout.lines().filter_map(|l| l.strip_prefix("@@ ")).map(str::to_string).collect();
        v.sort();
        v
    }
}

impl Space {
    /// An empty directory.
    pub fn empty() -> Space {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("project");
        std::fs::create_dir(&dir).expect("project dir");
        Space { _tmp: tmp, dir }
    }

    /// A project after `packer init`.
    pub fn new() -> Space {
        let s = Space::empty();
        s.packer(&["init"]).ok();
        s
    }

    /// A project with blob assets `name` → (directory, file name, contents), all added.
    pub fn with_blobs(blobs: &[(&str, &str, &[u8])]) -> Space {
        let s = Space::new();
        for (name, file, bytes) in blobs {
            s.add_blob(name, file, bytes);
        }
        s
    }

    pub fn add_blob(&self, name: &str, file: &str, bytes: &[u8]) {
        let dir = format!("assets/{name}");
        self.write(&format!("{dir}/{file}"), bytes);
        self.packer(&["add", &dir, "--type", "blob"]).ok();
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn write(&self, rel: &str, bytes: &[u8]) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, bytes).expect("write");
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    pub fn packer(&self, args: &[&str]) -> Run {
        Run::from_output(Command::new(packer_bin()).args(args).current_dir(&self.dir).output().expect("run packer"))
    }

    /// Runs packer under an address-space limit of `limit_mib` and returns the run with its
    /// peak resident set size in KiB and its wall time: python's `getrusage(RUSAGE_CHILDREN)`
    /// sees only this one child, whatever else the test process runs meanwhile.
    pub fn packer_measured(&self, args: &[&str], limit_mib: u64) -> (Run, u64, std::time::Duration) {
        const MEASURE: &str = "import resource, subprocess, sys\n\
            lim = int(sys.argv[1]) << 20\n\
            resource.setrlimit(resource.RLIMIT_AS, (lim, lim))\n\
            r = subprocess.run(sys.argv[2:])\n\
            sys.stderr.write('@@maxrss %d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n\
            sys.exit(r.returncode if r.returncode >= 0 else 128 - r.returncode)\n";
        let start = std::time::Instant::now();
        let out = Command::new("python3")
            .args(["-c", MEASURE, &limit_mib.to_string()])
            .arg(packer_bin())
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("run python3 (the peak-memory wrapper)");
        let elapsed = start.elapsed();
        let mut run = Run::from_output(out);
        let (rest, rss) = run.stderr.rsplit_once("@@maxrss ").expect("the wrapper reports maxrss");
        let rss = rss.trim().parse().expect("maxrss is a number");
        run.stderr = rest.to_string();
        (run, rss, elapsed)
    }

    pub fn ninja(&self, args: &[&str]) -> Run {
        self.ninja_env(args, &[])
    }

    /// `ninja` with more environment variables (they reach the packer commands it runs).
    pub fn ninja_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        Run::from_output(
            Command::new(ninja_bin())
                .args(args)
                .envs(env.iter().copied())
                .env("NINJA_STATUS", "@@ ")
                .current_dir(&self.dir)
                .output()
                .expect("run ninja"),
        )
    }

    /// `packer gen && ninja`.
    pub fn build(&self) -> Run {
        self.packer(&["gen"]).ok();
        self.ninja(&[]).ok()
    }

    pub fn mtime(&self, rel: &str) -> std::time::SystemTime {
        std::fs::metadata(self.path(rel)).and_then(|m| m.modified()).expect("mtime")
    }

    /// Sets a file's mtime to now (same bytes) with the real `touch`, as a user would.
    ///
    /// Not `File::set_modified(SystemTime::now())`: that stamps the fine-grained clock, while
    /// the kernel stamps writes (and `touch`, through `UTIME_NOW`) with its coarse clock, which
    /// lags by up to a tick. Ninja 1.12+ records a restat edge's start as the coarse mtime of a
    /// file it writes, so a fine-grained stamp taken just before could look newer than the
    /// command that already read it, and the generator would run twice — in tests only.
    pub fn touch(&self, rel: &str) {
        self.touch_all(&[rel]);
    }

    /// `touch` on many files in one process.
    pub fn touch_all<S: AsRef<str>>(&self, rels: &[S]) {
        let status = Command::new("touch")
            .arg("-c")
            .arg("--")
            .args(rels.iter().map(|r| self.path(r.as_ref())))
            .status()
            .expect("run touch");
        assert!(status.success(), "touch failed");
    }

    /// Copies the assets directory into a fresh space (a clean checkout elsewhere).
    pub fn clone_assets(&self) -> Space {
        let s = Space::empty();
        copy_dir(&self.path("assets"), &s.path("assets"));
        s
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let t = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            if e.file_name() != "cache" {
                copy_dir(&e.path(), &t);
            }
        } else {
            std::fs::copy(e.path(), t).expect("copy");
        }
    }
}

/// Waits long enough that a new mtime is distinguishable from the last build's.
pub fn tick() {
    std::thread::sleep(std::time::Duration::from_millis(20));
}

/// An independent reader of SPEC §4.1, written from the spec, not from packer's code.
pub struct Pa {
    pub header_bytes: Vec<u8>,
    pub header: serde_json::Value,
    pub payload_offset: usize,
    pub bytes: Vec<u8>,
}

impl Pa {
    pub fn parse(bytes: Vec<u8>) -> Pa {
        assert_eq!(&bytes[0..4], b"PMPA", "magic");
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes")) as usize;
        assert_eq!(u32_at(4), 1, "schema_version");
        let header_len = u32_at(8);
        let payload_offset = u32_at(12);
        assert_eq!(u32_at(16), 0, "flags");
        assert_eq!(u32_at(20), 0, "reserved");
        let header_end = 24 + header_len;
        assert_eq!(payload_offset, header_end.div_ceil(16) * 16, "payload_offset = header end rounded up to 16");
        assert!(bytes[header_end..payload_offset].iter().all(|&b| b == 0), "zero padding after header");
        let header_bytes = bytes[24..header_end].to_vec();
        let header = serde_json::from_slice(&header_bytes).expect("header JSON");
        Pa { header_bytes, header, payload_offset, bytes }
    }

    pub fn table(&self) -> &Vec<serde_json::Value> {
        self.header["asset_table"].as_array().expect("asset_table")
    }

    /// The payload of the table entry with this name.
    pub fn payload(&self, name: &str) -> &[u8] {
        let e = self.table().iter().find(|e| e["asset_name"] == name).unwrap_or_else(|| panic!("no asset {name}"));
        let off = e["offset"].as_u64().expect("offset") as usize;
        let size = e["size"].as_u64().expect("size") as usize;
        &self.bytes[self.payload_offset + off..self.payload_offset + off + size]
    }
}

/// Canonical JSON per SPEC §4.1, from the spec: compact, keys sorted by bytes.
pub fn canonical(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", serde_json::Value::String((*k).clone()), canonical(&m[*k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        serde_json::Value::Array(a) => format!("[{}]", a.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// Every output file of a build, for byte comparison between builds.
pub const OUTPUTS: &[&str] =
    &["build/assets.pa", "build/asset_table.json", "build/preload.json", "build/asset_table_metadata.json"];

impl Space {
    /// The (action, outcome) lines the steps logged since the last call, and clears the log.
    /// Per-input conversions appear as `asset/<id> <input>`.
    pub fn take_log(&self) -> Vec<(String, String)> {
        let p = self.path("build/obj/steps.log");
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let _ = std::fs::remove_file(&p);
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("log line is JSON");
                let action = v["action"].as_str().unwrap_or("").to_string();
                let action = match v["input"].as_str() {
                    Some(input) => format!("{action} {input}"),
                    None => action,
                };
                (action, v["outcome"].as_str().unwrap_or("").to_string())
            })
            .collect()
    }

    /// How many conversions (outcome `built`) the log holds, clearing it.
    pub fn conversions(&self) -> usize {
        self.take_log().iter().filter(|(_, o)| o == "built").count()
    }

    /// Runs packer with extra environment variables.
    pub fn packer_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = Command::new(packer_bin());
        c.args(args).current_dir(&self.dir);
        for (k, v) in env {
            c.env(k, v);
        }
        Run::from_output(c.output().expect("run packer"))
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.packer(args).ok().stdout;
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}):\n{out}"))
    }
}

/// xorshift64*: a tiny deterministic generator, so a failure replays from its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
