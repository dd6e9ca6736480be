//! `packer gc`, `packer cache stats` and `packer cache verify`: the artifact cache's commands
//! (the cache itself is `cache.rs`). `cache` is the cache directory relative to the project,
//! `None` when caching is off (`--no-cache`): then there is nothing to do.

use crate::cache::Cache;
use crate::diag::{fail, Code, Diagnostic};
use std::path::Path;
use std::time::Duration;

/// `packer gc`: evicts entries unused for `max_age`, then the oldest down to `max_size`.
pub fn gc(dir: &Path, cache: Option<String>, max_age: Option<Duration>, max_size: Option<u64>) -> anyhow::Result<()> {
    if max_age.is_none() && max_size.is_none() {
        return fail(
            Diagnostic::error(
                Code::PK028,
                "packer gc needs --max-age and/or --max-size",
                "e.g. `packer gc --max-age 30d --max-size 2G` (`--max-age 0` empties the cache)",
            )
            .file("."),
        );
    }
    let Some(c) = cache else { return Ok(()) };
    let (n, bytes) = Cache::new(dir.join(c)).gc(max_age, max_size)?;
    crate::out::outln!("evicted {n} entries ({bytes} bytes)")?;
    Ok(())
}

/// `packer cache stats`: objects, entries and bytes, as text or JSON.
pub fn stats(dir: &Path, cache: Option<String>, json: bool) -> anyhow::Result<()> {
    let Some(c) = cache else { return Ok(()) };
    let s = Cache::new(dir.join(c)).stats();
    if json {
        crate::out::outln!("{}", serde_json::to_string_pretty(&s)?)?;
    } else {
        crate::out::outln!(
            "cache {}\n  cas objects    {:>8}  {:>12} bytes\n  action entries {:>8}  {:>12} bytes\n  weak entries   {:>8}  {:>12} bytes\n  pack entries   {:>8}  {:>12} bytes\n  total                    {:>12} bytes",
            s.dir,
            s.cas_objects,
            s.cas_bytes,
            s.ac_entries,
            s.ac_bytes,
            s.weak_entries,
            s.weak_bytes,
            s.assembled_entries,
            s.assembled_bytes,
            s.total_bytes
        )?;
    }
    Ok(())
}

/// `packer cache verify`: removes corrupt entries; PK023 when there were any.
pub fn verify(dir: &Path, cache: Option<String>) -> anyhow::Result<()> {
    let Some(c) = cache else { return Ok(()) };
    let bad = Cache::new(dir.join(&c)).verify()?;
    for b in &bad {
        crate::out::outln!("removed corrupt entry {b}")?;
    }
    if bad.is_empty() {
        crate::out::outln!("cache ok")?;
        return Ok(());
    }
    fail(
        Diagnostic::error(
            Code::PK023,
            format!("{} corrupt cache entries removed", bad.len()),
            "nothing to do: the next build rebuilds whatever needed them",
        )
        .file(c),
    )
}
