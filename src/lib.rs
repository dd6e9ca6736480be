//! packer: turns an asset workspace into a hash-gated `build.ninja` and, through `packer step`
//! commands that Ninja runs, into one runtime file `build/assets.pa`.
//!
//! The pipeline, one module per stage:
//! `workspace` (registry + declarations) → `graph` (petgraph, cycles) → `keys` (key documents)
//! → `ninja` (emit build.ninja) — driven by `gen`; the edges run `step::*`, which write through
//! `fsutil`; `pa` is the container format.

pub mod cache;
pub mod canon;
pub mod cli;
pub mod commands;
pub mod decl;
pub mod diag;
pub mod escape;
pub mod fingerprint;
pub mod formats;
pub mod fsutil;
pub mod gates;
pub mod gen;
pub mod genstate;
pub mod graph;
pub mod keys;
pub mod lock;
pub mod ninja;
pub mod pa;
pub mod par;
pub mod pattern;
pub mod record;
pub mod registry;
pub mod relpath;
pub mod runner;
pub mod status;
pub mod step;
pub mod suggest;
pub mod verify;
pub mod workspace;
