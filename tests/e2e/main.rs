//! End-to-end tests: the real `packer` binary and a real `ninja` in temporary workspaces.
//!
//! Contents:
//! - `harness`   — `Space`, a temp project with helpers to run packer and ninja, and an
//!   independent `assets.pa` reader (not packer's own code).
//! - `build`     — a fresh workspace builds; the container and mirrors are exact.
//! - `gating`    — no-op, touch, edit, deleted key files: what Ninja runs and what it leaves.
//! - `workspace` — init/add/adopt/forget/mv/list/show and regeneration by plain `ninja`.
//! - `names`     — nasty file names end to end.
//! - `diagnostics` — bad input: exit 1, a PKnnn code naming the file, nothing half-written.
//! - `steps`     — steps run by hand, with and without key files.
//! - `kill`      — SIGKILL of ninja, build, gen and single steps at seeded random moments.
//! - `limits`    — size limits (PK047): peak memory and time of refused and raised assets.
//! - `pack`      — the incremental pack: records read, payloads copied, cache growth, equal to clean.
//! - `palette`   — the palette type: every palette syntax to hand-computed RGB565 bytes.
//!
//! The Ninja used is `$PACKER_TEST_NINJA` (default `ninja`); `scripts/test.sh` runs the suite
//! once with Debian's ninja 1.11 and once with PyPI's ninja 1.13. A missing ninja fails.

mod build;
mod cache;
mod concurrent;
mod damage;
mod diagnostics;
mod escapes;
mod folders;
mod formats;
mod gating;
mod harness;
mod integrate;
mod kill;
mod limits;
mod mistakes;
mod names;
mod nonstrict;
mod pack;
mod palette;
mod random;
mod readme;
mod replan;
mod steps;
mod workspace;
