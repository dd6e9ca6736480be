//! The registry `assets/.prometeu/index.json`: the authoritative list of registered assets
//! (SPEC §2.1). Ids are allocated here, strictly increasing and never reused.

use crate::diag::{fail, Code, Diagnostic};
use crate::fingerprint::Fingerprint;
use crate::fsutil;
use crate::relpath::RelPath;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where the registry lives, relative to the assets directory.
pub const INDEX: &str = ".prometeu/index.json";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub asset_id: u64,
    pub asset_uuid: String,
    pub root: RelPath,
    pub included_in_build: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    pub schema_version: u32,
    pub next_asset_id: u64,
    pub assets: Vec<Entry>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry { schema_version: 1, next_asset_id: 1, assets: Vec::new() }
    }
}

/// The registry file of an assets directory.
pub fn path(assets_dir: &Path) -> PathBuf {
    assets_dir.join(INDEX)
}

impl Registry {
    /// Reads the registry; a missing or invalid file is a blocking PK001.
    pub fn load(assets_dir: &Path) -> anyhow::Result<Registry> {
        Ok(Self::load_fingerprinted(assets_dir)?.0)
    }

    /// Reads the registry, with the fingerprint of the bytes it was parsed from.
    pub fn load_fingerprinted(assets_dir: &Path) -> anyhow::Result<(Registry, Fingerprint)> {
        let p = path(assets_dir);
        let (bytes, print) = match crate::fingerprint::read_fingerprinted(&p) {
            Ok(b) => b,
            Err(e) => {
                return fail(
                    Diagnostic::error(
                        Code::PK001,
                        format!("cannot read the registry: {e}"),
                        "run packer inside a workspace (any directory below the one holding assets/), pass -C <project>, or create one with `packer init` in the project directory",
                    )
                    .file(p.display()),
                )
            }
        };
        let reg: Registry = match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(e) => {
                return fail(
                    Diagnostic::error(
                        Code::PK001,
                        format!("the registry is not valid: {e}"),
                        "restore index.json from version control",
                    )
                    .file(p.display()),
                )
            }
        };
        if reg.schema_version != 1 {
            return fail(
                Diagnostic::error(
                    Code::PK001,
                    format!("registry schema_version {} is not supported (expected 1)", reg.schema_version),
                    "use the packer version that wrote this registry",
                )
                .file(p.display()),
            );
        }
        Ok((reg, print))
    }

    /// Writes the registry atomically, entries sorted by `asset_id`.
    pub fn save(&mut self, assets_dir: &Path) -> anyhow::Result<()> {
        self.assets.sort_by_key(|e| e.asset_id);
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        fsutil::write_if_changed(&path(assets_dir), &bytes)?;
        Ok(())
    }

    /// Allocates the next id: strictly increasing, never reused, also past ids already present.
    /// `None` when ids are exhausted (a hand-edited id at `u64::MAX`): wrapping would reuse one.
    pub fn allocate_id(&mut self) -> Option<u64> {
        let max_seen = self.assets.iter().map(|e| e.asset_id).max().unwrap_or(0);
        let id = self.next_asset_id.max(max_seen.checked_add(1)?).max(1);
        self.next_asset_id = id.checked_add(1)?;
        Some(id)
    }

    pub fn by_root(&self, root: &RelPath) -> Option<&Entry> {
        self.assets.iter().find(|e| &e.root == root)
    }

    pub fn by_id(&self, id: u64) -> Option<&Entry> {
        self.assets.iter().find(|e| e.asset_id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_never_reused_after_removal() {
        let mut r = Registry::default();
        let a = r.allocate_id();
        let b = r.allocate_id();
        r.assets.retain(|e| Some(e.asset_id) != b);
        let c = r.allocate_id();
        assert_eq!((a, b, c), (Some(1), Some(2), Some(3)));
        // Regression: an id at u64::MAX wrapped next_asset_id to 0 and reused ids.
        r.assets.push(Entry {
            asset_id: u64::MAX,
            asset_uuid: "u".into(),
            root: RelPath::parse("x").unwrap(),
            included_in_build: true,
        });
        assert_eq!(r.allocate_id(), None);
    }
}
