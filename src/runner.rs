//! Finding and running the external Ninja (for `verify`, and `build` later).

use crate::diag::{fail, Code, Diagnostic};
use std::path::Path;
use std::process::Command;

/// The Ninja to run: `$NINJA`, else the first of `ninja`, `ninja-build`, `samu` that runs.
pub fn find_ninja() -> anyhow::Result<String> {
    let candidates: Vec<String> =
        std::env::var("NINJA").ok().into_iter().chain(["ninja", "ninja-build", "samu"].map(String::from)).collect();
    for c in &candidates {
        if Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return Ok(c.clone());
        }
    }
    fail(Diagnostic::error(
        Code::PK022,
        "no Ninja found (tried $NINJA, ninja, ninja-build, samu)",
        "install one: `apt-get install ninja-build`, `pip install ninja`, or set NINJA=/path/to/ninja",
    ))
}

/// Runs `ninja -f <file> <args>` in `dir`, inheriting the terminal. Fails when Ninja fails.
/// With `quiet_stdout`, Ninja's progress goes to stderr so a caller's `--json` stays clean.
pub fn run_ninja(dir: &Path, file: &str, args: &[String], quiet_stdout: bool) -> anyhow::Result<()> {
    let ninja = find_ninja()?;
    let mut c = Command::new(&ninja);
    c.arg("-f").arg(file).args(args).current_dir(dir);
    if quiet_stdout {
        c.stdout(std::process::Stdio::from(std::io::stderr()));
    }
    let status = c.status().map_err(|e| anyhow::anyhow!("cannot run {ninja}: {e}"))?;
    if !status.success() {
        return fail(
            Diagnostic::error(
                Code::PK045,
                format!("{ninja} failed ({status})"),
                "the messages above name the asset and file; fix them and build again",
            )
            .file(file),
        );
    }
    Ok(())
}
