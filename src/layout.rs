//! Names of the files packer reads and writes in a workspace and its build directory, for
//! every module that names them (a pattern's walk must know an asset root when it sees one;
//! build.ninja, the pack step and `verify` must agree on the pack's outputs).

/// The file that marks an asset root: its declaration.
pub const DECLARATION: &str = "asset.json";

/// The pack's outputs in the build directory, in a fixed order: (label in its record, file).
pub const PACK_OUTPUTS: [(&str, &str); 4] = [
    ("assets.pa", "assets.pa"),
    ("asset_table", "asset_table.json"),
    ("preload", "preload.json"),
    ("asset_table_metadata", "asset_table_metadata.json"),
];

/// The stamp of key edge `k` in the build directory: rewritten by a gen run from that edge
/// when it rewrote the pack's key file, so that Ninja (which sees only that edge's outputs
/// change) runs the pack.
pub fn key_stamp(k: u32) -> String {
    format!("keys-{k}.stamp")
}

/// The phony alias through which the pack edge lists key edge `k`'s stamp first (ninja.rs
/// says why); no file.
pub fn key_ready(k: u32) -> String {
    format!("keys-{k}.ready")
}
