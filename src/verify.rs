//! `packer verify`: rebuild everything clean, without the cache, in a temporary build
//! directory, and compare every artifact and output byte for byte with the current build.

use crate::gen;
use crate::keys::Mode;
use crate::runner;
use crate::workspace::Workspace;
use anyhow::Context;
use serde::Serialize;
use std::path::Path;

/// One compared file.
#[derive(Serialize)]
pub struct Difference {
    pub asset: String,
    pub file: String,
    pub problem: String,
}

/// Builds clean and returns every difference (empty: the current build is exact).
pub fn verify(dir: &Path, build_dir: &str) -> anyhow::Result<(usize, Vec<Difference>)> {
    let tmp = tempfile::Builder::new().prefix("packer-verify").tempdir().context("creating a temp dir")?;
    let clean = tmp.path().join("build");
    let clean_str = clean.to_str().context("temp dir is not UTF-8")?.to_string();
    let opts = gen::Options {
        build_dir: clean_str.clone(),
        ninja_file: format!("{clean_str}/build.ninja"),
        cache_dir: None,
        mode: Mode::Strict,
        ..gen::Options::default()
    };
    gen::run(dir, &opts)?;
    runner::run_ninja(dir, &opts.ninja_file, &[], true)?;
    let ws = Workspace::load(dir)?;
    let cur = dir.join(build_dir);
    let mut diffs = Vec::new();
    let mut compared = 0;
    let mut compare = |asset: &str, rel: &str| {
        compared += 1;
        let (a, b) = (std::fs::read(cur.join(rel)), std::fs::read(clean.join(rel)));
        let problem = match (a, b) {
            (Ok(a), Ok(b)) if a == b => return,
            (Err(_), _) => "missing in the current build".to_string(),
            (_, Err(_)) => "missing in the clean build".to_string(),
            (Ok(a), Ok(b)) => format!("differs ({} bytes now, {} bytes clean)", a.len(), b.len()),
        };
        diffs.push(Difference { asset: asset.into(), file: format!("{build_dir}/{rel}"), problem });
    };
    for a in &ws.assets {
        for ext in ["bin", "json"] {
            compare(&a.decl.name, &format!("obj/{}.{ext}", a.id));
        }
    }
    for (_, f) in crate::layout::PACK_OUTPUTS {
        compare("(pack)", f);
    }
    Ok((compared, diffs))
}

/// `packer verify`: prints the differences (text or JSON); PK023 when there are any.
pub fn run(dir: &std::path::Path, build_dir: &str, json: bool) -> anyhow::Result<()> {
    let (compared, diffs) = verify(dir, build_dir)?;
    if json {
        let v = serde_json::json!({"compared": compared, "differences": diffs});
        crate::out::outln!("{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        for d in &diffs {
            crate::out::outln!("{}: {} ({})", d.file, d.problem, d.asset)?;
        }
        crate::out::outln!("{compared} files compared, {} differ", diffs.len())?;
    }
    if diffs.is_empty() {
        return Ok(());
    }
    crate::diag::fail(crate::diag::Diagnostic::error(
        crate::diag::Code::PK023,
        format!("{} files differ from a clean build", diffs.len()),
        "`packer explain <asset>` shows how each was obtained; a clean rebuild (`rm -r build`) repairs it",
    ))
}
