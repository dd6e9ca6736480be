//! packer: turns an asset workspace into a hash-gated `build.ninja` and, through `packer step`
//! commands that Ninja runs, into one runtime file `build/assets.pa`.
//!
//! The pipeline, one module per stage:
//! `workspace` (registry + declarations) → `graph` (petgraph, cycles) → `keys` (key documents)
//! → `ninja` (emit build.ninja) — driven by `gen`; the edges run `step::*`, which write through
//! `fsutil`; `pa` is the container format.

/// The artifact cache: CAS objects by BLAKE3, action entries by strong and weak key, gc.
pub mod cache;
/// `packer gc`, `packer cache stats` and `packer cache verify`.
pub mod cache_commands;
/// The one canonical-JSON writer (sorted keys, compact, integers only).
pub mod canon;
/// The command line (clap) and the dispatch to the modules that do the work.
pub mod cli;
/// Registry commands: init, add, adopt, forget, mv, list, show.
pub mod commands;
/// `asset.json`: parsing, validation, effective defaults, size limits.
pub mod decl;
/// Diagnostics: `PKnnn` codes, severity, file and asset, the one printed form.
pub mod diag;
/// Ninja's and the shell's escaping, the only two.
pub mod escape;
/// Source fingerprints (stat → BLAKE3) so that unchanged files are not re-hashed.
pub mod fingerprint;
/// The asset formats as pure bytes-in, bytes-out functions (tiles, sounds, Tiled).
pub mod formats;
/// Atomic writes skipped when unchanged, copies and reflinks, reads that refuse non-files.
pub mod fsutil;
/// The key files (Ninja's gates) and gen's ledger of them.
pub mod gates;
/// `packer gen`: workspace → graph → keys → build.ninja, bulk restores from the cache.
pub mod gen;
/// gen's fast path: the stat state that proves nothing changed.
pub mod genstate;
/// `@asset:` references as a graph: cycles, dependency order.
pub mod graph;
/// BLAKE3 as packer spells it: lowercase hex.
pub mod hash;
/// Key documents and their strong and weak BLAKE3 keys.
pub mod keys;
/// File names of the workspace layout that low modules need.
pub mod layout;
/// flock locks on the build directory, each action and the registry.
pub mod lock;
/// The text of build.ninja from a plan of edges (pure).
pub mod ninja;
/// stdout writes that return a closed pipe as an error (`outln!`), never panic.
pub mod out;
/// The `assets.pa` container: prelude, canonical JSON header, aligned payloads.
pub mod pa;
/// `parallel_map`: work spread over the cores, order kept.
pub mod par;
/// Input patterns (`*.png`, `**/*.wav`) and the directories their walk lists.
pub mod pattern;
/// The plan stage: workspace → graph → keys, for gen, status and steps.
pub mod plan;
/// Build records: the key an action was built from and its outputs' digests.
pub mod record;
/// `assets/.prometeu/index.json`: registered assets, ids, uuids, roots.
pub mod registry;
/// `RelPath`: workspace-relative, normalized, `/`-separated paths.
pub mod relpath;
/// gen's edit path: re-keys only the assets whose sources were edited, from the key files.
pub mod replan;
/// Finding and running the external Ninja.
pub mod runner;
/// The stat tuple, the clock and the racy-clean rule behind every skipped read.
pub mod stat;
/// `packer status` and `packer explain`: what will run and why, what changed.
pub mod status;
/// `packer step <kind>`: the gated steps Ninja runs, one module per asset type, and the pack.
pub mod step;
/// "Did you mean …?" by edit distance.
pub mod suggest;
/// The asset types: one table entry each (name, format, roles, defaults, checks, hooks).
pub mod types;
/// `packer verify`: a clean strict rebuild compared with the build directory.
pub mod verify;
/// The workspace stage: registry + declarations → validated assets, discovered inputs.
pub mod workspace;
